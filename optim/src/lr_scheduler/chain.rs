//! Schedulers made of other schedulers: one after another
//! (`SequentialLR`) or all together (`ChainedScheduler`).

use super::LrScheduler;
use crate::error::{OptimError, Result};
use crate::optimizer::Optimizer;

/// Runs schedulers one after another (`SequentialLR`): `schedulers[i]`
/// drives the learning rate from `milestones[i - 1]` on, restarted at that
/// epoch from the base learning rates.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::lr_scheduler::{ExponentialLr, LinearLr, LinearLrOptions, LrScheduler, SequentialLr};
/// use torchlet_optim::{Optimizer, Sgd, SgdOptions};
/// use torchlet_tensor::Tensor;
/// let mut opt = Sgd::new(vec![Variable::parameter(Tensor::zeros(&[1]))],
///     SgdOptions { lr: 1.0, ..Default::default() }).unwrap();
/// let warmup = LinearLrOptions { start_factor: 0.5, end_factor: 1.0, total_iters: 2 };
/// let schedulers: Vec<Box<dyn LrScheduler>> = vec![
///     Box::new(LinearLr::new(&mut opt, warmup).unwrap()),
///     Box::new(ExponentialLr::new(&mut opt, 0.5).unwrap()),
/// ];
/// let mut sched = SequentialLr::new(&mut opt, schedulers, vec![2]).unwrap();
/// let mut lrs = vec![opt.lr(0)];
/// for _ in 0..4 {
///     sched.step(&mut opt).unwrap();
///     lrs.push(opt.lr(0));
/// }
/// assert_eq!(lrs, vec![0.5, 0.75, 1.0, 0.5, 0.25]);
/// ```
pub struct SequentialLr {
    schedulers: Vec<Box<dyn LrScheduler>>,
    milestones: Vec<usize>,
    last_epoch: i64,
    last_lr: Vec<f64>,
}

impl SequentialLr {
    /// `SequentialLR(optimizer, schedulers, milestones)`: the schedulers must
    /// have been built on `optimizer`, and there must be one milestone fewer
    /// than schedulers, in increasing order.
    pub fn new(
        optimizer: &mut dyn Optimizer,
        mut schedulers: Vec<Box<dyn LrScheduler>>,
        milestones: Vec<usize>,
    ) -> Result<Self> {
        if schedulers.is_empty() || milestones.len() + 1 != schedulers.len() {
            return Err(OptimError::Usage {
                what: "SequentialLR",
                message: format!(
                    "expected one milestone fewer than schedulers, got {} schedulers and {} milestones",
                    schedulers.len(),
                    milestones.len()
                ),
            });
        }
        if milestones.windows(2).any(|w| w[0] > w[1]) {
            return Err(OptimError::Usage {
                what: "SequentialLR",
                message: format!("milestones must be increasing, got {milestones:?}"),
            });
        }
        schedulers[0].restart(optimizer)?;
        let last_lr = schedulers[0].get_last_lr();
        Ok(SequentialLr {
            schedulers,
            milestones,
            last_epoch: 0,
            last_lr,
        })
    }
}

impl LrScheduler for SequentialLr {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        self.last_epoch += 1;
        let e = self.last_epoch;
        let idx = self.milestones.iter().filter(|&&m| m as i64 <= e).count();
        let s = &mut self.schedulers[idx];
        if idx > 0 && self.milestones[idx - 1] as i64 == e {
            s.restart(optimizer)?;
        } else {
            s.step(optimizer)?;
        }
        self.last_lr = s.get_last_lr();
        Ok(())
    }

    fn get_last_lr(&self) -> Vec<f64> {
        self.last_lr.clone()
    }

    fn last_epoch(&self) -> i64 {
        self.last_epoch
    }

    fn base_lrs(&self) -> Vec<f64> {
        self.schedulers[0].base_lrs()
    }

    fn restart(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        self.schedulers[0].restart(optimizer)?;
        self.last_epoch = 0;
        self.last_lr = self.schedulers[0].get_last_lr();
        Ok(())
    }
}

/// Steps several schedulers together, each scaling the learning rate the
/// previous one left (`ChainedScheduler`).
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::lr_scheduler::{ChainedScheduler, ExponentialLr, LrScheduler, StepLr};
/// use torchlet_optim::{Optimizer, Sgd, SgdOptions};
/// use torchlet_tensor::Tensor;
/// let mut opt = Sgd::new(vec![Variable::parameter(Tensor::zeros(&[1]))],
///     SgdOptions { lr: 1.0, ..Default::default() }).unwrap();
/// let schedulers: Vec<Box<dyn LrScheduler>> = vec![
///     Box::new(ExponentialLr::new(&mut opt, 0.5).unwrap()),
///     Box::new(StepLr::new(&mut opt, 2, 0.1).unwrap()),
/// ];
/// let mut sched = ChainedScheduler::new(&mut opt, schedulers).unwrap();
/// sched.step(&mut opt).unwrap();
/// sched.step(&mut opt).unwrap();
/// assert!((opt.lr(0) - 0.025).abs() < 1e-12);
/// ```
pub struct ChainedScheduler {
    schedulers: Vec<Box<dyn LrScheduler>>,
    last_lr: Vec<f64>,
}

impl ChainedScheduler {
    /// `ChainedScheduler(schedulers)`: the schedulers must have been built
    /// on `optimizer`.
    pub fn new(
        optimizer: &mut dyn Optimizer,
        schedulers: Vec<Box<dyn LrScheduler>>,
    ) -> Result<Self> {
        if schedulers.is_empty() {
            return Err(OptimError::Usage {
                what: "ChainedScheduler",
                message: "needs at least one scheduler".into(),
            });
        }
        Ok(ChainedScheduler {
            schedulers,
            last_lr: optimizer.lrs(),
        })
    }
}

impl LrScheduler for ChainedScheduler {
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        for s in &mut self.schedulers {
            s.step(optimizer)?;
        }
        self.last_lr = optimizer.lrs();
        Ok(())
    }

    fn get_last_lr(&self) -> Vec<f64> {
        self.last_lr.clone()
    }

    fn last_epoch(&self) -> i64 {
        self.schedulers[0].last_epoch()
    }

    fn base_lrs(&self) -> Vec<f64> {
        self.schedulers[0].base_lrs()
    }

    /// Not supported (PyTorch's `ChainedScheduler` has no `step(0)` form):
    /// always an error.
    fn restart(&mut self, _optimizer: &mut dyn Optimizer) -> Result<()> {
        Err(OptimError::Usage {
            what: "ChainedScheduler",
            message: "a chain of schedulers cannot be restarted".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lr_scheduler::testing::{assert_close, lrs, sgd};
    use crate::lr_scheduler::{
        CosineAnnealingLr, ExponentialLr, LinearLr, LinearLrOptions, StepLr,
    };
    use crate::Optimizer;

    #[test]
    fn chained_schedulers_compose_multiplicatively() {
        let mut opt = sgd(1.0);
        let mut a = ExponentialLr::new(&mut opt, 0.5).unwrap();
        let mut b = StepLr::new(&mut opt, 2, 0.1).unwrap();
        // The second scheduler starts from the first one's initial_lr.
        assert_eq!(b.base_lrs(), vec![1.0]);
        for _ in 0..2 {
            a.step(&mut opt).unwrap();
            b.step(&mut opt).unwrap();
        }
        assert!((opt.lr(0) - 0.25 * 0.1).abs() < 1e-12);
    }

    #[test]
    fn sequential_lr_restarts_each_scheduler_at_its_milestone() {
        // PyTorch 2.x: SequentialLR([LinearLR(0.1, 1.0, 3), CosineAnnealingLR(4)], [3])
        // on lr 1.0 gives (step(0) is the closed form at epoch 0):
        let mut opt = sgd(1.0);
        let lin = LinearLrOptions {
            start_factor: 0.1,
            end_factor: 1.0,
            total_iters: 3,
        };
        let schedulers: Vec<Box<dyn LrScheduler>> = vec![
            Box::new(LinearLr::new(&mut opt, lin).unwrap()),
            Box::new(CosineAnnealingLr::new(&mut opt, 4, 0.0).unwrap()),
        ];
        let mut s = SequentialLr::new(&mut opt, schedulers, vec![3]).unwrap();
        let got = lrs(&mut opt, &mut s, 6);
        let cos = |e: f64| (1.0 + (std::f64::consts::PI * e / 4.0).cos()) / 2.0;
        assert_close(&got, &[0.1, 0.4, 0.7, 1.0, cos(1.0), cos(2.0), cos(3.0)]);
        assert_eq!(s.last_epoch(), 6);
        assert_eq!(s.base_lrs(), vec![1.0]);

        let mut opt = sgd(1.0);
        let one: Vec<Box<dyn LrScheduler>> = vec![Box::new(StepLr::new(&mut opt, 1, 0.5).unwrap())];
        assert!(SequentialLr::new(&mut opt, one, vec![1]).is_err());
    }

    #[test]
    fn chained_scheduler_steps_all() {
        let mut opt = sgd(1.0);
        let lin = LinearLrOptions {
            start_factor: 0.5,
            end_factor: 1.0,
            total_iters: 2,
        };
        let schedulers: Vec<Box<dyn LrScheduler>> = vec![
            Box::new(LinearLr::new(&mut opt, lin).unwrap()),
            Box::new(ExponentialLr::new(&mut opt, 0.9).unwrap()),
        ];
        let mut s = ChainedScheduler::new(&mut opt, schedulers).unwrap();
        let got = lrs(&mut opt, &mut s, 4);
        let want: Vec<f64> = [0.5, 0.75, 1.0, 1.0, 1.0]
            .iter()
            .enumerate()
            .map(|(e, f)| f * 0.9f64.powi(e as i32))
            .collect();
        assert_close(&got, &want);
        assert!(s.restart(&mut opt).is_err());
    }
}
