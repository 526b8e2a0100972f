//! Closed-form epoch schedules: step, multi-step, exponential, cosine
//! annealing and linear warm-up.

use std::f64::consts::PI;

use super::{Core, LrScheduler};
use crate::error::{check, Result};
use crate::optimizer::Optimizer;

/// Multiplies the learning rate by `gamma` every `step_size` epochs
/// (`StepLR`): `lr = base_lr * gamma^(epoch / step_size)`.
#[derive(Clone, Debug)]
pub struct StepLr {
    core: Core,
    step_size: usize,
    gamma: f64,
}

impl StepLr {
    /// `StepLR(optimizer, step_size, gamma)`; PyTorch's default `gamma` is 0.1.
    pub fn new(optimizer: &mut dyn Optimizer, step_size: usize, gamma: f64) -> Result<Self> {
        check(
            step_size > 0,
            "StepLR",
            "step_size",
            step_size as f64,
            "must be > 0",
        )?;
        let mut s = StepLr {
            core: Core::attach(optimizer),
            step_size,
            gamma,
        };
        s.step(optimizer)?;
        Ok(s)
    }
}

impl LrScheduler for StepLr {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let (size, gamma) = (self.step_size as i64, self.gamma);
        self.core.advance(optimizer, |e, lr, _| {
            if e == 0 || e % size != 0 {
                lr
            } else {
                lr * gamma
            }
        })
    }

    common!();
}

/// Multiplies the learning rate by `gamma` at each milestone epoch
/// (`MultiStepLR`; a milestone listed twice multiplies twice).
#[derive(Clone, Debug)]
pub struct MultiStepLr {
    core: Core,
    milestones: Vec<usize>,
    gamma: f64,
}

impl MultiStepLr {
    /// `MultiStepLR(optimizer, milestones, gamma)`; PyTorch's default
    /// `gamma` is 0.1.
    pub fn new(optimizer: &mut dyn Optimizer, milestones: Vec<usize>, gamma: f64) -> Result<Self> {
        let mut s = MultiStepLr {
            core: Core::attach(optimizer),
            milestones,
            gamma,
        };
        s.step(optimizer)?;
        Ok(s)
    }
}

impl LrScheduler for MultiStepLr {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let (milestones, gamma) = (&self.milestones, self.gamma);
        self.core.advance(optimizer, |e, lr, _| {
            let hits = milestones.iter().filter(|&&m| m as i64 == e).count();
            lr * gamma.powi(hits as i32)
        })
    }

    common!();
}

/// Multiplies the learning rate by `gamma` every epoch (`ExponentialLR`).
#[derive(Clone, Debug)]
pub struct ExponentialLr {
    core: Core,
    gamma: f64,
}

impl ExponentialLr {
    /// `ExponentialLR(optimizer, gamma)`.
    pub fn new(optimizer: &mut dyn Optimizer, gamma: f64) -> Result<Self> {
        let mut s = ExponentialLr {
            core: Core::attach(optimizer),
            gamma,
        };
        s.step(optimizer)?;
        Ok(s)
    }
}

impl LrScheduler for ExponentialLr {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let gamma = self.gamma;
        self.core
            .advance(optimizer, |e, lr, _| if e == 0 { lr } else { lr * gamma })
    }

    common!();
}

/// Cosine annealing from the base learning rate to `eta_min` over `t_max`
/// epochs (`CosineAnnealingLR`), with PyTorch's recursive rule; for a plain
/// run it equals `eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2`
/// and, past `t_max`, climbs back up as PyTorch's does.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::lr_scheduler::{CosineAnnealingLr, LrScheduler};
/// use torchlet_optim::{Optimizer, Sgd, SgdOptions};
/// use torchlet_tensor::Tensor;
/// let mut opt = Sgd::new(vec![Variable::parameter(Tensor::zeros(&[1]))],
///     SgdOptions { lr: 1.0, ..Default::default() }).unwrap();
/// let mut sched = CosineAnnealingLr::new(&mut opt, 4, 0.0).unwrap();
/// for _ in 0..2 { sched.step(&mut opt).unwrap(); }
/// assert!((opt.lr(0) - 0.5).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct CosineAnnealingLr {
    core: Core,
    t_max: usize,
    eta_min: f64,
}

impl CosineAnnealingLr {
    /// `CosineAnnealingLR(optimizer, T_max, eta_min)`; PyTorch's default
    /// `eta_min` is 0.
    pub fn new(optimizer: &mut dyn Optimizer, t_max: usize, eta_min: f64) -> Result<Self> {
        check(
            t_max > 0,
            "CosineAnnealingLR",
            "T_max",
            t_max as f64,
            "must be > 0",
        )?;
        let mut s = CosineAnnealingLr {
            core: Core::attach(optimizer),
            t_max,
            eta_min,
        };
        s.step(optimizer)?;
        Ok(s)
    }
}

impl LrScheduler for CosineAnnealingLr {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let (t, eta_min) = (self.t_max as i64, self.eta_min);
        let tf = t as f64;
        self.core.advance(optimizer, |e, lr, base| {
            if e == 0 {
                lr
            } else if (e - 1 - t).rem_euclid(2 * t) == 0 {
                lr + (base - eta_min) * (1.0 - (PI / tf).cos()) / 2.0
            } else {
                let ef = e as f64;
                (1.0 + (PI * ef / tf).cos()) / (1.0 + (PI * (ef - 1.0) / tf).cos()) * (lr - eta_min)
                    + eta_min
            }
        })
    }

    common!();
}

/// Options of [`LinearLr`], with PyTorch's defaults (`start_factor = 1/3`,
/// `end_factor = 1`, `total_iters = 5`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearLrOptions {
    /// Factor applied to the base learning rate at epoch 0, in `(0, 1]`.
    pub start_factor: f64,
    /// Factor reached at `total_iters`, in `[0, 1]`.
    pub end_factor: f64,
    /// Number of epochs of the linear ramp.
    pub total_iters: usize,
}

impl Default for LinearLrOptions {
    fn default() -> Self {
        LinearLrOptions {
            start_factor: 1.0 / 3.0,
            end_factor: 1.0,
            total_iters: 5,
        }
    }
}

/// Scales the learning rate by a factor moving linearly from
/// `start_factor` to `end_factor` over `total_iters` epochs (`LinearLR`).
#[derive(Clone, Debug)]
pub struct LinearLr {
    core: Core,
    options: LinearLrOptions,
}

impl LinearLr {
    /// `LinearLR(optimizer, start_factor, end_factor, total_iters)`.
    pub fn new(optimizer: &mut dyn Optimizer, options: LinearLrOptions) -> Result<Self> {
        let o = options;
        check(
            o.start_factor > 0.0 && o.start_factor <= 1.0,
            "LinearLR",
            "start_factor",
            o.start_factor,
            "must be in (0, 1]",
        )?;
        check(
            (0.0..=1.0).contains(&o.end_factor),
            "LinearLR",
            "end_factor",
            o.end_factor,
            "must be in [0, 1]",
        )?;
        let mut s = LinearLr {
            core: Core::attach(optimizer),
            options,
        };
        s.step(optimizer)?;
        Ok(s)
    }
}

impl LrScheduler for LinearLr {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let o = self.options;
        let total = o.total_iters as i64;
        self.core.advance(optimizer, |e, lr, _| {
            if e == 0 {
                lr * o.start_factor
            } else if e > total {
                lr
            } else {
                let d = o.end_factor - o.start_factor;
                lr * (1.0 + d / (total as f64 * o.start_factor + (e - 1) as f64 * d))
            }
        })
    }

    common!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lr_scheduler::testing::{assert_close, lrs, sgd};
    use crate::Optimizer;

    #[test]
    fn step_multistep_and_exponential_follow_closed_forms() {
        let mut opt = sgd(0.1);
        let mut s = StepLr::new(&mut opt, 3, 0.5).unwrap();
        let want: Vec<f64> = (0..10).map(|e| 0.1 * 0.5f64.powi(e / 3)).collect();
        assert_close(&lrs(&mut opt, &mut s, 9), &want);
        assert_eq!(s.last_epoch(), 9);
        assert_eq!(s.base_lrs(), vec![0.1]);

        let mut opt = sgd(0.1);
        let mut s = MultiStepLr::new(&mut opt, vec![2, 5, 5], 0.1).unwrap();
        let want: Vec<f64> = (0..8)
            .map(|e| 0.1 * 0.1f64.powi([2, 5, 5].iter().filter(|&&m| m <= e).count() as i32))
            .collect();
        assert_close(&lrs(&mut opt, &mut s, 7), &want);

        let mut opt = sgd(0.1);
        let mut s = ExponentialLr::new(&mut opt, 0.9).unwrap();
        let want: Vec<f64> = (0..8).map(|e| 0.1 * 0.9f64.powi(e)).collect();
        assert_close(&lrs(&mut opt, &mut s, 7), &want);
    }

    #[test]
    fn cosine_annealing_matches_closed_form_then_climbs_back() {
        let mut opt = sgd(0.1);
        let mut s = CosineAnnealingLr::new(&mut opt, 10, 0.001).unwrap();
        let got = lrs(&mut opt, &mut s, 12);
        for (e, lr) in got.iter().enumerate().take(11) {
            let closed =
                0.001 + 0.099 * (1.0 + (std::f64::consts::PI * e as f64 / 10.0).cos()) / 2.0;
            assert!((lr - closed).abs() < 1e-12, "epoch {e}");
        }
        // PyTorch's recursive rule mirrors the schedule after T_max.
        assert!((got[11] - got[9]).abs() < 1e-12);
        assert!((got[12] - got[8]).abs() < 1e-12);
    }

    #[test]
    fn linear_lr_ramps_then_holds() {
        let mut opt = sgd(0.1);
        let o = LinearLrOptions {
            start_factor: 0.25,
            end_factor: 1.0,
            total_iters: 4,
        };
        let mut s = LinearLr::new(&mut opt, o).unwrap();
        let got = lrs(&mut opt, &mut s, 6);
        assert_close(&got, &[0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1]);
    }

    #[test]
    fn restart_goes_back_to_epoch_zero() {
        let mut opt = sgd(0.2);
        let lin = LinearLrOptions {
            start_factor: 0.5,
            end_factor: 1.0,
            total_iters: 2,
        };
        let mut s = LinearLr::new(&mut opt, lin).unwrap();
        s.step(&mut opt).unwrap();
        s.step(&mut opt).unwrap();
        assert!((opt.lr(0) - 0.2).abs() < 1e-12);
        s.restart(&mut opt).unwrap();
        assert_eq!(s.last_epoch(), 0);
        assert!((opt.lr(0) - 0.1).abs() < 1e-12);
    }
}
