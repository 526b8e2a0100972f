//! The metric-driven `ReduceLROnPlateau`.

use crate::error::{check, Result};
use crate::optimizer::Optimizer;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lr_scheduler::testing::{assert_close, sgd};
    use crate::Optimizer;

    #[test]
    fn reduce_on_plateau_follows_pytorch() {
        let mut opt = sgd(0.1);
        let o = ReduceLrOnPlateauOptions {
            factor: 0.5,
            patience: 2,
            ..Default::default()
        };
        let mut s = ReduceLrOnPlateau::new(&mut opt, o).unwrap();
        let metrics = [
            1.0, 0.9, 0.95, 0.93, 0.92, 0.91, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7,
        ];
        let want = [
            0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.025,
        ];
        for (m, w) in metrics.iter().zip(want) {
            s.step(*m, &mut opt).unwrap();
            assert_eq!(s.get_last_lr(), vec![w]);
        }
        assert_eq!(s.best(), 0.5);

        // max mode, cooldown and min_lr.
        let mut opt = sgd(0.1);
        let o = ReduceLrOnPlateauOptions {
            mode: PlateauMode::Max,
            factor: 0.1,
            patience: 0,
            cooldown: 1,
            min_lr: 0.005,
            ..Default::default()
        };
        let mut s = ReduceLrOnPlateau::new(&mut opt, o).unwrap();
        let mut got = vec![];
        for m in [1.0, 0.5, 0.5, 0.5, 0.5] {
            s.step(m, &mut opt).unwrap();
            got.push(opt.lr(0));
        }
        assert_close(&got, &[0.1, 0.01, 0.01, 0.005, 0.005]);
    }
}
