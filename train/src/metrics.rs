//! Per-epoch metrics, the training history and the running accumulators.

use torchlet_distributed::{ProcessGroup, ReduceOp};
use torchlet_tensor::{DType, Tensor};

use crate::Result;

/// What one epoch measured. Accuracies are `NaN` unless the batches are
/// classification batches ([`correct_predictions`]): int64 class indices
/// for `[N, C]` logits, or 0/1 targets for binary `[N, 1]` logits.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochMetrics {
    /// The epoch's number, counting from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's samples (weighted by batch size).
    pub train_loss: f64,
    /// Training accuracy (argmax of the logits equal to the target).
    pub train_acc: f64,
    /// Loss on the evaluation data, when there is some.
    pub eval_loss: Option<f64>,
    /// Accuracy on the evaluation data, when there is some.
    pub eval_acc: Option<f64>,
    /// Wall-clock seconds of the epoch (training and evaluation).
    pub seconds: f64,
    /// Training samples seen.
    pub samples: usize,
    /// Learning rate of the optimizer's first group during the epoch.
    pub lr: f64,
}

/// Loss and accuracy over a whole data set ([`Trainer::evaluate`](crate::Trainer::evaluate)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalMetrics {
    /// Mean loss per sample.
    pub loss: f64,
    /// Fraction of samples classified correctly (`NaN` if not a
    /// classification problem).
    pub accuracy: f64,
    /// Number of samples.
    pub samples: usize,
}

/// What [`fit`](crate::Trainer::fit) returns: one entry per completed epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// The epochs, in order.
    pub epochs: Vec<EpochMetrics>,
    /// Whether a callback stopped training before the last epoch.
    pub stopped_early: bool,
}

impl History {
    /// The last epoch's metrics.
    pub fn last(&self) -> Option<&EpochMetrics> {
        self.epochs.last()
    }

    /// The epoch with the best value of `metric` (lowest loss, highest
    /// accuracy).
    pub fn best(&self, metric: Metric) -> Option<&EpochMetrics> {
        let mode = metric.mode();
        self.epochs
            .iter()
            .filter(|m| metric.value(m).is_some_and(|v| !v.is_nan()))
            .fold(None, |best: Option<&EpochMetrics>, m| match best {
                Some(b) if !mode.better(metric.value(m).unwrap(), metric.value(b).unwrap()) => {
                    Some(b)
                }
                _ => Some(m),
            })
    }
}

/// A quantity callbacks can watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// [`EpochMetrics::train_loss`].
    TrainLoss,
    /// [`EpochMetrics::train_acc`].
    TrainAccuracy,
    /// [`EpochMetrics::eval_loss`].
    EvalLoss,
    /// [`EpochMetrics::eval_acc`].
    EvalAccuracy,
}

impl Metric {
    /// The metric's value in `m` (`None` for an evaluation metric without
    /// evaluation data).
    pub fn value(self, m: &EpochMetrics) -> Option<f64> {
        match self {
            Metric::TrainLoss => Some(m.train_loss),
            Metric::TrainAccuracy => Some(m.train_acc),
            Metric::EvalLoss => m.eval_loss,
            Metric::EvalAccuracy => m.eval_acc,
        }
    }

    /// Whether lower ([`Mode::Min`], losses) or higher ([`Mode::Max`],
    /// accuracies) is better.
    pub fn mode(self) -> Mode {
        match self {
            Metric::TrainLoss | Metric::EvalLoss => Mode::Min,
            Metric::TrainAccuracy | Metric::EvalAccuracy => Mode::Max,
        }
    }

    /// A short name (`train_loss`, `eval_acc`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Metric::TrainLoss => "train_loss",
            Metric::TrainAccuracy => "train_acc",
            Metric::EvalLoss => "eval_loss",
            Metric::EvalAccuracy => "eval_acc",
        }
    }
}

/// Which direction counts as an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lower is better.
    Min,
    /// Higher is better.
    Max,
}

impl Mode {
    /// Whether `value` beats `best` by more than `min_delta`.
    pub fn improves(self, value: f64, best: f64, min_delta: f64) -> bool {
        match self {
            Mode::Min => value < best - min_delta,
            Mode::Max => value > best + min_delta,
        }
    }

    /// Whether `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        self.improves(a, b, 0.0)
    }
}

/// Running sums of loss and correct predictions over batches.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunningMetrics {
    loss_sum: f64,
    correct: usize,
    counted: usize,
    samples: usize,
}

impl RunningMetrics {
    /// Adds a batch: its mean loss, its logits `[N, C]` and int64 targets
    /// `[N]`. Non-classification batches (other shapes or dtypes) count
    /// for the loss only. Targets equal to [`IGNORE_INDEX`] are left out,
    /// as cross-entropy leaves them out of its mean: the batch counts as
    /// its other rows (a graph's unlabelled nodes, padding positions).
    pub fn update(&mut self, mean_loss: f64, logits: &Tensor, targets: &Tensor) -> Result<()> {
        let rows = targets.shape().first().copied().unwrap_or(1);
        let n = rows - ignored_targets(targets)?;
        if n == 0 {
            return Ok(());
        }
        self.loss_sum += mean_loss * n as f64;
        self.samples += n;
        if let Some(correct) = correct_predictions(logits, targets)? {
            self.correct += correct;
            self.counted += n;
        }
        Ok(())
    }

    /// The means as evaluation metrics.
    pub fn into_eval(self) -> EvalMetrics {
        EvalMetrics {
            loss: self.loss(),
            accuracy: self.accuracy(),
            samples: self.samples,
        }
    }

    /// Sums the counts of every rank of `group` into each rank's (a
    /// data-parallel run's metrics over the whole batch).
    pub fn all_reduce(&mut self, group: &ProcessGroup) -> Result<()> {
        let sums = [
            self.loss_sum,
            self.correct as f64,
            self.counted as f64,
            self.samples as f64,
        ];
        let mut t = Tensor::from_vec(sums.to_vec(), &[4])?;
        group.all_reduce(&mut t, ReduceOp::Sum)?;
        let v = t.to_vec::<f64>()?;
        self.loss_sum = v[0];
        self.correct = v[1] as usize;
        self.counted = v[2] as usize;
        self.samples = v[3] as usize;
        Ok(())
    }

    /// Mean loss per sample so far (`NaN` before any batch).
    pub fn loss(&self) -> f64 {
        if self.samples == 0 {
            f64::NAN
        } else {
            self.loss_sum / self.samples as f64
        }
    }

    /// Accuracy so far (`NaN` before any classification batch).
    pub fn accuracy(&self) -> f64 {
        if self.counted == 0 {
            f64::NAN
        } else {
            self.correct as f64 / self.counted as f64
        }
    }

    /// Samples seen.
    pub fn samples(&self) -> usize {
        self.samples
    }
}

/// The target that [`RunningMetrics`] leaves out: `-100`, the default
/// `ignore_index` of PyTorch's `cross_entropy` (and of
/// [`cross_entropy_loss`](crate::cross_entropy_loss)).
pub const IGNORE_INDEX: i64 = -100;

/// How many of int64 class targets `[N]` are [`IGNORE_INDEX`] (0 for
/// other targets).
fn ignored_targets(targets: &Tensor) -> Result<usize> {
    if targets.dtype() != DType::I64 || targets.dim() != 1 {
        return Ok(0);
    }
    Ok(targets
        .to_vec::<i64>()?
        .iter()
        .filter(|&&t| t == IGNORE_INDEX)
        .count())
}

/// How many samples are classified correctly; `None` when the batch is
/// not a classification batch. Two kinds count:
/// - multi-class: `[N, C]` logits whose argmax equals int64 class targets
///   `[N]` (rows whose target is [`IGNORE_INDEX`] never count);
/// - binary: `[N, 1]` logits (as `BCEWithLogitsLoss` reads them: class 1
///   where the logit is `> 0`) against `[N, 1]` or `[N]` targets that are
///   all 0 or 1 (float or integer). The outputs must be logits: a model
///   ending in a sigmoid (for `BCELoss`) outputs probabilities, all `> 0`,
///   and would count as predicting class 1 everywhere — end it without
///   the sigmoid and train with BCE-with-logits, as PyTorch recommends.
///
/// ```
/// use torchlet_tensor::Tensor;
/// use torchlet_train::correct_predictions;
/// let logits = Tensor::from_vec(vec![1.5f32, -0.2, 0.3], &[3, 1]).unwrap();
/// let targets = Tensor::from_vec(vec![1.0f32, 0.0, 0.0], &[3, 1]).unwrap();
/// assert_eq!(correct_predictions(&logits, &targets).unwrap(), Some(2));
/// ```
pub fn correct_predictions(logits: &Tensor, targets: &Tensor) -> Result<Option<usize>> {
    let (ls, ts) = (logits.shape(), targets.shape());
    if ls.len() == 2 && ls[1] == 1 && (ts == ls || ts == [ls[0]]) {
        return correct_binary(logits, targets);
    }
    if targets.dtype() != DType::I64 || ls.len() != 2 || ts.len() != 1 || ls[0] != ts[0] {
        return Ok(None);
    }
    let pred = logits.argmax(1)?.to_vec::<i64>()?;
    let want = targets.to_vec::<i64>()?;
    Ok(Some(pred.iter().zip(&want).filter(|(p, t)| p == t).count()))
}

/// [`correct_predictions`] for `[N, 1]` logits: `None` unless every
/// target is 0 or 1.
fn correct_binary(logits: &Tensor, targets: &Tensor) -> Result<Option<usize>> {
    let want = targets.to_dtype(DType::F64).to_vec::<f64>()?;
    if want.iter().any(|&t| t != 0.0 && t != 1.0) {
        return Ok(None);
    }
    let pred = logits.gt(0.0)?.to_vec::<bool>()?;
    Ok(Some(
        pred.iter()
            .zip(&want)
            .filter(|(p, t)| **p == (**t == 1.0))
            .count(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_logits_count_by_sign() {
        let logits = Tensor::from_vec(vec![2.0f32, -1.0, 0.0, 0.5], &[4, 1]).unwrap();
        let t = Tensor::from_vec(vec![1.0f32, 0.0, 1.0, 0.0], &[4, 1]).unwrap();
        // 2 > 0 -> 1 (right), -1 -> 0 (right), 0 -> 0 (wrong), 0.5 -> 1 (wrong)
        assert_eq!(correct_predictions(&logits, &t).unwrap(), Some(2));
        let flat = Tensor::from_vec(vec![1i64, 0, 0, 1], &[4]).unwrap();
        assert_eq!(correct_predictions(&logits, &flat).unwrap(), Some(4));
        // Targets that are not 0/1 are a regression: no accuracy.
        let reg = Tensor::from_vec(vec![0.5f32, 0.0, 1.0, 2.0], &[4, 1]).unwrap();
        assert_eq!(correct_predictions(&logits, &reg).unwrap(), None);
    }

    #[test]
    fn ignored_targets_count_for_nothing() {
        let logits = Tensor::from_vec(vec![2.0f32, 0.0, 0.0, 2.0, 2.0, 0.0], &[3, 2]).unwrap();
        let targets = Tensor::from_vec(vec![0i64, IGNORE_INDEX, 1], &[3]).unwrap();
        let mut m = RunningMetrics::default();
        m.update(0.5, &logits, &targets).unwrap();
        assert_eq!((m.samples(), m.accuracy(), m.loss()), (2, 0.5, 0.5));
        // A batch with every target ignored changes nothing (its mean loss
        // would be 0 / 0).
        let none = Tensor::from_vec(vec![IGNORE_INDEX; 3], &[3]).unwrap();
        m.update(f64::NAN, &logits, &none).unwrap();
        assert_eq!((m.samples(), m.accuracy(), m.loss()), (2, 0.5, 0.5));
    }
}
