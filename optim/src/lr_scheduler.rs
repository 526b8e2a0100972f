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

use std::f64::consts::PI;

use crate::error::{check, OptimError, Result};
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

/// Whether [`ReduceLrOnPlateau`] looks for a falling or a rising metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PlateauMode {
    /// Lower is better (a loss; the default).
    #[default]
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How [`ReduceLrOnPlateau`] measures a significant improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ThresholdMode {
    /// Relative: better than `best * (1 ∓ threshold)` (the default).
    #[default]
    Rel,
    /// Absolute: better than `best ∓ threshold`.
    Abs,
}

/// Options of [`ReduceLrOnPlateau`], with PyTorch's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReduceLrOnPlateauOptions {
    /// Minimize or maximize the metric (`Min`).
    pub mode: PlateauMode,
    /// Factor applied to the learning rate on a plateau (0.1).
    pub factor: f64,
    /// Epochs without improvement tolerated before reducing (10).
    pub patience: usize,
    /// Size of a significant improvement (1e-4).
    pub threshold: f64,
    /// Relative or absolute threshold (`Rel`).
    pub threshold_mode: ThresholdMode,
    /// Epochs to wait after a reduction before counting again (0).
    pub cooldown: usize,
    /// Lower bound on the learning rate of every group (0).
    pub min_lr: f64,
    /// Reductions smaller than this are skipped (1e-8).
    pub eps: f64,
}

impl Default for ReduceLrOnPlateauOptions {
    fn default() -> Self {
        ReduceLrOnPlateauOptions {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }
}

/// Reduces the learning rate when a metric stops improving
/// (`ReduceLROnPlateau`). It is stepped with the metric:
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::lr_scheduler::{ReduceLrOnPlateau, ReduceLrOnPlateauOptions};
/// use torchlet_optim::{Optimizer, Sgd, SgdOptions};
/// use torchlet_tensor::Tensor;
/// let mut opt = Sgd::new(vec![Variable::parameter(Tensor::zeros(&[1]))],
///     SgdOptions { lr: 0.1, ..Default::default() }).unwrap();
/// let opts = ReduceLrOnPlateauOptions { factor: 0.5, patience: 1, ..Default::default() };
/// let mut sched = ReduceLrOnPlateau::new(&mut opt, opts).unwrap();
/// for loss in [1.0, 1.0, 1.0] {
///     sched.step(loss, &mut opt).unwrap();
/// }
/// assert_eq!(opt.lr(0), 0.05);
/// ```
#[derive(Clone, Debug)]
pub struct ReduceLrOnPlateau {
    options: ReduceLrOnPlateauOptions,
    best: f64,
    num_bad_epochs: usize,
    cooldown_counter: usize,
    last_epoch: i64,
    last_lr: Vec<f64>,
}

impl ReduceLrOnPlateau {
    /// `ReduceLROnPlateau(optimizer, mode, factor, patience, ...)`.
    pub fn new(optimizer: &mut dyn Optimizer, options: ReduceLrOnPlateauOptions) -> Result<Self> {
        check(
            options.factor < 1.0,
            "ReduceLROnPlateau",
            "factor",
            options.factor,
            "must be < 1",
        )?;
        Ok(ReduceLrOnPlateau {
            options,
            best: match options.mode {
                PlateauMode::Min => f64::INFINITY,
                PlateauMode::Max => f64::NEG_INFINITY,
            },
            num_bad_epochs: 0,
            cooldown_counter: 0,
            last_epoch: 0,
            last_lr: optimizer.lrs(),
        })
    }

    fn is_better(&self, a: f64) -> bool {
        let (t, best) = (self.options.threshold, self.best);
        match (self.options.mode, self.options.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - t),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - t,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (t + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + t,
        }
    }

    /// Feeds one epoch's metric; reduces every group's learning rate by
    /// `factor` (not below `min_lr`) after more than `patience` epochs
    /// without a significant improvement.
    pub fn step(&mut self, metric: f64, optimizer: &mut dyn Optimizer) -> Result<()> {
        self.last_epoch += 1;
        if self.is_better(metric) {
            self.best = metric;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.options.patience {
            for g in 0..optimizer.num_param_groups() {
                let old = optimizer.lr(g);
                let new = (old * self.options.factor).max(self.options.min_lr);
                if old - new > self.options.eps {
                    optimizer.set_lr(g, new);
                }
            }
            self.cooldown_counter = self.options.cooldown;
            self.num_bad_epochs = 0;
        }
        self.last_lr = optimizer.lrs();
        Ok(())
    }

    /// The learning rates after the last step, one per group.
    pub fn get_last_lr(&self) -> Vec<f64> {
        self.last_lr.clone()
    }

    /// The best metric seen so far.
    pub fn best(&self) -> f64 {
        self.best
    }

    /// The number of steps taken.
    pub fn last_epoch(&self) -> i64 {
        self.last_epoch
    }
}
