//! Learning-rate schedulers (`torch.optim.lr_scheduler`).
//!
//! A scheduler is built from an optimizer (which sets each group's learning
//! rate for step 0, as PyTorch's constructors do) and then stepped once per
//! epoch *after* `optimizer.step()`:
//!
//! ```
//! use torchlet_autograd::Variable;
//! use torchlet_optim::lr_scheduler::{LrScheduler, StepLr};
//! use torchlet_optim::{Optimizer, Sgd, SgdOptions};
//! use torchlet_tensor::Tensor;
//! let w = Variable::parameter(Tensor::zeros(&[2]));
//! let mut opt = Sgd::new(vec![w], SgdOptions { lr: 0.1, ..Default::default() }).unwrap();
//! let mut sched = StepLr::new(&mut opt, 2, 0.5).unwrap();
//! let mut lrs = vec![];
//! for _ in 0..5 {
//!     lrs.push(sched.get_last_lr()[0]);
//!     opt.step().unwrap();
//!     sched.step(&mut opt).unwrap();
//! }
//! assert_eq!(lrs, vec![0.1, 0.1, 0.05, 0.05, 0.025]);
//! ```
//!
//! Like PyTorch's, the schedulers other than [`OneCycleLr`] use the
//! recursive ("chainable") form of their rule: each step scales the
//! learning rate the optimizer currently has, so several schedulers can act
//! on one optimizer.
//!
//! The schedulers are grouped by kind:
//!
//! - `simple`: closed-form epoch rules ([`StepLr`], [`MultiStepLr`],
//!   [`ExponentialLr`], [`CosineAnnealingLr`], [`LinearLr`]);
//! - `one_cycle`: the per-batch 1cycle policy ([`OneCycleLr`]);
//! - `chain`: schedulers made of other schedulers ([`SequentialLr`],
//!   [`ChainedScheduler`]);
//! - `plateau`: the metric-driven [`ReduceLrOnPlateau`].

use crate::error::{OptimError, Result};
use crate::optimizer::Optimizer;

/// What every epoch-based scheduler offers (`torch.optim.lr_scheduler.LRScheduler`).
pub trait LrScheduler {
    /// Advances one epoch and writes the new learning rates into
    /// `optimizer` (`scheduler.step()`), which must be the optimizer the
    /// scheduler was built with.
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> Result<()>;

    /// The learning rates the last step set, one per group (`get_last_lr()`).
    fn get_last_lr(&self) -> Vec<f64>;

    /// The number of steps taken (`last_epoch`; 0 right after construction).
    fn last_epoch(&self) -> i64;

    /// The learning rates the scheduler started from (`base_lrs`).
    fn base_lrs(&self) -> Vec<f64>;

    /// Restarts the schedule at epoch 0 from the base learning rates
    /// (PyTorch's `scheduler.step(0)`, which [`SequentialLr`] does at each
    /// milestone).
    fn restart(&mut self, optimizer: &mut dyn Optimizer) -> Result<()>;
}

/// The state every scheduler keeps.
#[derive(Clone, Debug)]
struct Core {
    base_lrs: Vec<f64>,
    last_lr: Vec<f64>,
    last_epoch: i64,
}

impl Core {
    /// Records `initial_lr` in the optimizer (first scheduler only) and
    /// reads the base learning rates from it.
    fn attach(optimizer: &mut dyn Optimizer) -> Core {
        let n = optimizer.num_param_groups();
        let base_lrs = (0..n)
            .map(|g| match optimizer.initial_lr(g) {
                Some(lr) => lr,
                None => {
                    let lr = optimizer.lr(g);
                    optimizer.set_initial_lr(g, Some(lr));
                    lr
                }
            })
            .collect();
        Core {
            base_lrs,
            last_lr: optimizer.lrs(),
            last_epoch: -1,
        }
    }

    /// One step: `last_epoch += 1`, then `rule(epoch, current_lr, base_lr)`
    /// for every group.
    fn advance(
        &mut self,
        optimizer: &mut dyn Optimizer,
        mut rule: impl FnMut(i64, f64, f64) -> f64,
    ) -> Result<()> {
        check_groups(&self.base_lrs, optimizer)?;
        self.last_epoch += 1;
        for (g, &base) in self.base_lrs.iter().enumerate() {
            let lr = rule(self.last_epoch, optimizer.lr(g), base);
            optimizer.set_lr(g, lr);
        }
        self.last_lr = optimizer.lrs();
        Ok(())
    }

    /// Back to the state before the first step, with the base learning
    /// rates in the optimizer.
    fn reset(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
        check_groups(&self.base_lrs, optimizer)?;
        for (g, &base) in self.base_lrs.iter().enumerate() {
            optimizer.set_lr(g, base);
        }
        self.last_epoch = -1;
        Ok(())
    }
}

fn check_groups(base_lrs: &[f64], optimizer: &dyn Optimizer) -> Result<()> {
    if optimizer.num_param_groups() != base_lrs.len() {
        return Err(OptimError::Usage {
            what: "lr_scheduler",
            message: format!(
                "the optimizer has {} parameter groups, the scheduler was built for {}",
                optimizer.num_param_groups(),
                base_lrs.len()
            ),
        });
    }
    Ok(())
}

macro_rules! common {
    () => {
        fn get_last_lr(&self) -> Vec<f64> {
            self.core.last_lr.clone()
        }

        fn last_epoch(&self) -> i64 {
            self.core.last_epoch
        }

        fn base_lrs(&self) -> Vec<f64> {
            self.core.base_lrs.clone()
        }

        fn restart(&mut self, optimizer: &mut dyn Optimizer) -> Result<()> {
            self.core.reset(optimizer)?;
            self.step(optimizer)
        }
    };
}

mod chain;
mod one_cycle;
mod plateau;
mod simple;

pub use chain::{ChainedScheduler, SequentialLr};
pub use one_cycle::{AnnealStrategy, OneCycleLr, OneCycleLrOptions};
pub use plateau::{PlateauMode, ReduceLrOnPlateau, ReduceLrOnPlateauOptions, ThresholdMode};
pub use simple::{
    CosineAnnealingLr, ExponentialLr, LinearLr, LinearLrOptions, MultiStepLr, StepLr,
};

/// Helpers shared by the schedulers' unit tests.
#[cfg(test)]
mod testing {
    use torchlet_autograd::Variable;
    use torchlet_tensor::Tensor;

    use super::LrScheduler;
    use crate::{Optimizer, Sgd, SgdOptions};

    /// A two-element parameter, `[1.0, -0.5]`.
    pub(super) fn param() -> Variable {
        Variable::parameter(Tensor::from_vec(vec![1.0f32, -0.5], &[2]).unwrap())
    }

    /// Steps `sched` `n` times and returns the lr before the first step and
    /// after each.
    pub(super) fn lrs(opt: &mut Sgd, sched: &mut dyn LrScheduler, n: usize) -> Vec<f64> {
        let mut out = vec![sched.get_last_lr()[0]];
        for _ in 0..n {
            opt.step().unwrap();
            sched.step(opt).unwrap();
            assert_eq!(sched.get_last_lr()[0], opt.lr(0));
            out.push(opt.lr(0));
        }
        out
    }

    /// Plain SGD with learning rate `lr` over one [`param`].
    pub(super) fn sgd(lr: f64) -> Sgd {
        Sgd::new(
            vec![param()],
            SgdOptions {
                lr,
                ..Default::default()
            },
        )
        .unwrap()
    }

    /// Element-wise equality up to 1e-12.
    pub(super) fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() < 1e-12, "[{i}]: got {g}, want {w}");
        }
    }
}
