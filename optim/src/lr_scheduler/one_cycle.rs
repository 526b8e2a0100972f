//! The 1cycle policy (`OneCycleLR`), stepped once per batch.

use std::f64::consts::PI;

use super::{Core, LrScheduler};
use crate::error::{check, OptimError, Result};
use crate::optimizer::Optimizer;

/// How [`OneCycleLr`] moves between two values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AnnealStrategy {
    /// Half a cosine (`"cos"`, the default).
    #[default]
    Cos,
    /// A straight line (`"linear"`).
    Linear,
}

impl AnnealStrategy {
    fn anneal(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            AnnealStrategy::Cos => end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0),
            AnnealStrategy::Linear => (end - start) * pct + start,
        }
    }
}

/// Options of [`OneCycleLr`], with PyTorch's defaults (besides `max_lr` and
/// `total_steps`, which must be given).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneCycleLrOptions {
    /// The peak learning rate (every group).
    pub max_lr: f64,
    /// The number of steps in the cycle.
    pub total_steps: usize,
    /// Fraction of the cycle spent increasing the learning rate (0.3).
    pub pct_start: f64,
    /// Cosine or linear annealing.
    pub anneal_strategy: AnnealStrategy,
    /// Cycle the momentum inversely to the learning rate (true); needs an
    /// optimizer with a momentum (SGD, RMSprop, Adam's beta1).
    pub cycle_momentum: bool,
    /// Lowest momentum (0.85).
    pub base_momentum: f64,
    /// Highest momentum (0.95).
    pub max_momentum: f64,
    /// `initial_lr = max_lr / div_factor` (25).
    pub div_factor: f64,
    /// `min_lr = initial_lr / final_div_factor` (1e4).
    pub final_div_factor: f64,
    /// Use three phases (up, down to `initial_lr`, down to `min_lr`) instead of two.
    pub three_phase: bool,
}

impl Default for OneCycleLrOptions {
    fn default() -> Self {
        OneCycleLrOptions {
            max_lr: 0.1,
            total_steps: 100,
            pct_start: 0.3,
            anneal_strategy: AnnealStrategy::Cos,
            cycle_momentum: true,
            base_momentum: 0.85,
            max_momentum: 0.95,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Phase {
    end_step: f64,
    lr: (f64, f64),
    momentum: (f64, f64),
}

/// The 1cycle policy (`OneCycleLR`): the learning rate rises from
/// `max_lr / div_factor` to `max_lr` over `pct_start` of the steps, then
/// falls to `max_lr / div_factor / final_div_factor`; momentum moves the
/// other way. Step it after every batch; stepping past `total_steps` is an
/// error.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::lr_scheduler::{LrScheduler, OneCycleLr, OneCycleLrOptions};
/// use torchlet_optim::{Optimizer, Sgd, SgdOptions};
/// use torchlet_tensor::Tensor;
/// let mut opt = Sgd::new(vec![Variable::parameter(Tensor::zeros(&[1]))],
///     SgdOptions { lr: 0.1, ..Default::default() }).unwrap();
/// let opts = OneCycleLrOptions { max_lr: 0.1, total_steps: 12, ..Default::default() };
/// let sched = OneCycleLr::new(&mut opt, opts).unwrap();
/// assert!((sched.get_last_lr()[0] - 0.004).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct OneCycleLr {
    core: Core,
    options: OneCycleLrOptions,
    phases: Vec<Phase>,
}

impl OneCycleLr {
    /// `OneCycleLR(optimizer, max_lr, total_steps, ...)`.
    pub fn new(optimizer: &mut dyn Optimizer, options: OneCycleLrOptions) -> Result<Self> {
        let o = options;
        let w = "OneCycleLR";
        check(
            o.total_steps > 0,
            w,
            "total_steps",
            o.total_steps as f64,
            "must be > 0",
        )?;
        check(
            (0.0..=1.0).contains(&o.pct_start),
            w,
            "pct_start",
            o.pct_start,
            "must be in [0, 1]",
        )?;
        let initial_lr = o.max_lr / o.div_factor;
        let min_lr = initial_lr / o.final_div_factor;
        let (base_m, max_m) = (o.base_momentum, o.max_momentum);
        let t = o.total_steps as f64;
        let phases = if o.three_phase {
            vec![
                Phase {
                    end_step: o.pct_start * t - 1.0,
                    lr: (initial_lr, o.max_lr),
                    momentum: (max_m, base_m),
                },
                Phase {
                    end_step: 2.0 * o.pct_start * t - 2.0,
                    lr: (o.max_lr, initial_lr),
                    momentum: (base_m, max_m),
                },
                Phase {
                    end_step: t - 1.0,
                    lr: (initial_lr, min_lr),
                    momentum: (max_m, max_m),
                },
            ]
        } else {
            vec![
                Phase {
                    end_step: o.pct_start * t - 1.0,
                    lr: (initial_lr, o.max_lr),
                    momentum: (max_m, base_m),
                },
                Phase {
                    end_step: t - 1.0,
                    lr: (o.max_lr, min_lr),
                    momentum: (base_m, max_m),
                },
            ]
        };
        let n = optimizer.num_param_groups();
        if o.cycle_momentum {
            for g in 0..n {
                if optimizer.momentum(g).is_none() {
                    return Err(OptimError::Usage {
                        what: w,
                        message:
                            "optimizer must support momentum or beta1 with `cycle_momentum` enabled"
                                .into(),
                    });
                }
                optimizer.set_momentum(g, max_m);
            }
        }
        for g in 0..n {
            optimizer.set_initial_lr(g, Some(initial_lr));
        }
        let mut s = OneCycleLr {
            core: Core::attach(optimizer),
            options,
            phases,
        };
        s.step(optimizer)?;
        Ok(s)
    }
}

impl LrScheduler for OneCycleLr {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let step = self.core.last_epoch + 1;
        let o = self.options;
        if step > o.total_steps as i64 {
            return Err(OptimError::Usage {
                what: "OneCycleLR",
                message: format!(
                    "tried to step {step} times; the specified number of total steps is {}",
                    o.total_steps
                ),
            });
        }
        let s = step as f64;
        let mut start = 0.0;
        let mut lr = 0.0;
        let mut momentum = 0.0;
        for (i, ph) in self.phases.iter().enumerate() {
            if s <= ph.end_step || i == self.phases.len() - 1 {
                let pct = (s - start) / (ph.end_step - start);
                lr = o.anneal_strategy.anneal(ph.lr.0, ph.lr.1, pct);
                momentum = o.anneal_strategy.anneal(ph.momentum.0, ph.momentum.1, pct);
                break;
            }
            start = ph.end_step;
        }
        self.core.advance(optimizer, |_, _, _| lr)?;
        if o.cycle_momentum {
            for g in 0..optimizer.num_param_groups() {
                optimizer.set_momentum(g, momentum);
            }
        }
        Ok(())
    }

    common!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lr_scheduler::testing::{lrs, param};
    use crate::{Adagrad, AdagradOptions, Optimizer, Sgd, SgdOptions};

    #[test]
    fn one_cycle_matches_pytorch_and_stops_at_total_steps() {
        let mut opt = Sgd::new(
            vec![param()],
            SgdOptions {
                lr: 0.1,
                momentum: 0.9,
                ..Default::default()
            },
        )
        .unwrap();
        let o = OneCycleLrOptions {
            max_lr: 0.1,
            total_steps: 12,
            ..Default::default()
        };
        let mut s = OneCycleLr::new(&mut opt, o).unwrap();
        assert_eq!(opt.momentum(0), Some(0.95));
        let got = lrs(&mut opt, &mut s, 11);
        let want = [
            0.004,
            0.0349789654,
            0.0879285159,
            0.0994415435,
            0.093301297,
            0.0811745654,
            0.0647378998,
            0.0462637103,
            0.0283060998,
            0.013347753,
            0.00345669874,
            4e-07,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{g} vs {w}");
        }
        // Momentum ends back at max_momentum.
        assert!((opt.momentum(0).unwrap() - 0.95).abs() < 1e-12);
        // Step 12 is allowed (PyTorch checks step_num > total_steps), 13 fails.
        s.step(&mut opt).unwrap();
        assert!(s.step(&mut opt).is_err());

        let mut ada = Adagrad::new(vec![param()], AdagradOptions::default()).unwrap();
        assert!(OneCycleLr::new(&mut ada, o).is_err());
        let no_cycle = OneCycleLrOptions {
            cycle_momentum: false,
            ..o
        };
        assert!(OneCycleLr::new(&mut ada, no_cycle).is_ok());
    }
}
