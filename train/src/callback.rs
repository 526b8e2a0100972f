//! Callbacks: hooks the trainer calls around epochs and batches, and the
//! stock ones (early stopping, best checkpoint, LR scheduler step, CSV log).

use std::path::{Path, PathBuf};

use torchlet_nn::Module;
use torchlet_optim::lr_scheduler::{LrScheduler, ReduceLrOnPlateau};
use torchlet_optim::Optimizer;

use crate::metrics::{EpochMetrics, Metric, Mode};
use crate::{write_atomic, Result, TrainError};

/// What a callback wants after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on training.
    Continue,
    /// Stop after this epoch.
    Stop,
}

/// What a callback sees: the model, the optimizer (mutable, e.g. for a
/// learning-rate scheduler), the epochs completed so far and where the run
/// is.
pub struct Context<'a> {
    /// The model being trained.
    pub model: &'a dyn Module,
    /// Its optimizer.
    pub optimizer: &'a mut dyn Optimizer,
    /// The epochs completed before the current one.
    pub history: &'a [EpochMetrics],
    /// The current epoch, counting from 1.
    pub epoch: usize,
    /// The number of epochs asked for.
    pub epochs: usize,
}

/// Hooks around training; every method has an empty default. Errors abort
/// [`fit`](crate::Trainer::fit).
pub trait Callback {
    /// Before the first epoch.
    fn on_train_begin(&mut self, _ctx: &mut Context<'_>) -> Result<()> {
        Ok(())
    }

    /// Before each epoch's first batch.
    fn on_epoch_begin(&mut self, _ctx: &mut Context<'_>) -> Result<()> {
        Ok(())
    }

    /// After each optimizer step, with the batch's index in the epoch and
    /// its mean loss.
    fn on_batch_end(&mut self, _ctx: &mut Context<'_>, _batch: usize, _loss: f64) -> Result<()> {
        Ok(())
    }

    /// After each epoch's training and evaluation; returning
    /// [`Control::Stop`] ends training after this epoch.
    fn on_epoch_end(&mut self, _ctx: &mut Context<'_>, _metrics: &EpochMetrics) -> Result<Control> {
        Ok(Control::Continue)
    }

    /// After the last epoch (also after an early stop).
    fn on_train_end(&mut self, _ctx: &mut Context<'_>) -> Result<()> {
        Ok(())
    }
}

fn watched(metric: Metric, m: &EpochMetrics) -> Result<f64> {
    metric.value(m).ok_or_else(|| {
        TrainError::Invalid(format!(
            "{} is monitored but fit() was given no evaluation data",
            metric.name()
        ))
    })
}

/// Stops training when a metric has not improved for `patience` epochs
/// (Keras' / Lightning's `EarlyStopping`).
///
/// ```
/// use torchlet_train::{EarlyStopping, Metric};
/// let stop = EarlyStopping::new(Metric::EvalLoss).patience(3).min_delta(1e-4);
/// assert_eq!(stop.best(), None);
/// ```
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    metric: Metric,
    mode: Mode,
    patience: usize,
    min_delta: f64,
    best: Option<f64>,
    wait: usize,
    stopped_epoch: Option<usize>,
}

impl EarlyStopping {
    /// Watches `metric` with patience 0, `min_delta` 0 and the metric's
    /// natural mode (min for losses, max for accuracies).
    pub fn new(metric: Metric) -> Self {
        EarlyStopping {
            metric,
            mode: metric.mode(),
            patience: 0,
            min_delta: 0.0,
            best: None,
            wait: 0,
            stopped_epoch: None,
        }
    }

    /// Epochs without improvement tolerated before stopping.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// The smallest change that counts as an improvement.
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta.abs();
        self
    }

    /// Overrides the direction of improvement.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The best value seen.
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// The epoch at which it stopped training, if it did.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, _ctx: &mut Context<'_>) -> Result<()> {
        self.best = None;
        self.wait = 0;
        self.stopped_epoch = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, _ctx: &mut Context<'_>, m: &EpochMetrics) -> Result<Control> {
        let value = watched(self.metric, m)?;
        match self.best {
            Some(best) if !self.mode.improves(value, best, self.min_delta) => {
                self.wait += 1;
                if self.wait > self.patience {
                    self.stopped_epoch = Some(m.epoch);
                    return Ok(Control::Stop);
                }
            }
            _ => {
                self.best = Some(value);
                self.wait = 0;
            }
        }
        Ok(Control::Continue)
    }
}

/// Saves the model's state dict (safetensors, written to a temporary file
/// then renamed) whenever the watched metric improves.
#[derive(Debug, Clone)]
pub struct BestCheckpoint {
    path: PathBuf,
    metric: Metric,
    mode: Mode,
    best: Option<f64>,
    best_epoch: Option<usize>,
}

impl BestCheckpoint {
    /// Saves to `path` when `metric` improves (min for losses, max for
    /// accuracies).
    pub fn new(path: impl Into<PathBuf>, metric: Metric) -> Self {
        BestCheckpoint {
            path: path.into(),
            metric,
            mode: metric.mode(),
            best: None,
            best_epoch: None,
        }
    }

    /// Overrides the direction of improvement.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The checkpoint's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The best value seen and its epoch.
    pub fn best(&self) -> Option<(f64, usize)> {
        self.best.zip(self.best_epoch)
    }
}

impl Callback for BestCheckpoint {
    fn on_train_begin(&mut self, _ctx: &mut Context<'_>) -> Result<()> {
        self.best = None;
        self.best_epoch = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, ctx: &mut Context<'_>, m: &EpochMetrics) -> Result<Control> {
        let value = watched(self.metric, m)?;
        if value.is_nan() {
            return Ok(Control::Continue);
        }
        if self.best.is_none_or(|best| self.mode.better(value, best)) {
            torchlet_nn::state::save_safetensors(ctx.model, &self.path)?;
            self.best = Some(value);
            self.best_epoch = Some(m.epoch);
        }
        Ok(Control::Continue)
    }
}

/// When an [`LrSchedulerStep`] steps its scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// After every epoch (StepLR, CosineAnnealingLR over epochs, ...).
    Epoch,
    /// After every optimizer step (OneCycleLR, warm-ups over steps).
    Batch,
}

enum Scheduler {
    Plain(Box<dyn LrScheduler>, Interval),
    Plateau(ReduceLrOnPlateau, Metric),
}

/// Steps a learning-rate scheduler after each epoch or each batch (the
/// scheduler was built on the same optimizer that `fit` gets).
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::{lr_scheduler::StepLr, Sgd, SgdOptions};
/// use torchlet_tensor::Tensor;
/// use torchlet_train::LrSchedulerStep;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut opt = Sgd::new(vec![Variable::parameter(Tensor::zeros(&[1]))], SgdOptions { lr: 0.1, ..Default::default() })?;
/// let step = LrSchedulerStep::per_epoch(StepLr::new(&mut opt, 2, 0.5)?);
/// # let _ = step;
/// # Ok(())
/// # }
/// ```
pub struct LrSchedulerStep {
    scheduler: Scheduler,
}

impl LrSchedulerStep {
    /// Steps `scheduler` after every epoch.
    pub fn per_epoch(scheduler: impl LrScheduler + 'static) -> Self {
        LrSchedulerStep {
            scheduler: Scheduler::Plain(Box::new(scheduler), Interval::Epoch),
        }
    }

    /// Steps `scheduler` after every optimizer step.
    pub fn per_batch(scheduler: impl LrScheduler + 'static) -> Self {
        LrSchedulerStep {
            scheduler: Scheduler::Plain(Box::new(scheduler), Interval::Batch),
        }
    }

    /// Steps a `ReduceLROnPlateau` with `metric` after every epoch.
    pub fn on_plateau(scheduler: ReduceLrOnPlateau, metric: Metric) -> Self {
        LrSchedulerStep {
            scheduler: Scheduler::Plateau(scheduler, metric),
        }
    }
}

impl Callback for LrSchedulerStep {
    fn on_batch_end(&mut self, ctx: &mut Context<'_>, _batch: usize, _loss: f64) -> Result<()> {
        if let Scheduler::Plain(s, Interval::Batch) = &mut self.scheduler {
            s.step(ctx.optimizer)?;
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, ctx: &mut Context<'_>, m: &EpochMetrics) -> Result<Control> {
        match &mut self.scheduler {
            Scheduler::Plain(s, Interval::Epoch) => s.step(ctx.optimizer)?,
            Scheduler::Plateau(s, metric) => s.step(watched(*metric, m)?, ctx.optimizer)?,
            Scheduler::Plain(_, Interval::Batch) => {}
        }
        Ok(Control::Continue)
    }
}

/// Writes the history as CSV after every epoch (the whole file, through a
/// temporary file renamed into place): columns `epoch, train_loss,
/// train_acc, <eval>_loss, <eval>_acc, seconds` where `<eval>` is `eval`
/// unless renamed (e.g. `test`).
#[derive(Debug, Clone)]
pub struct CsvLogger {
    path: PathBuf,
    eval_name: String,
}

impl CsvLogger {
    /// Logs to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CsvLogger {
            path: path.into(),
            eval_name: "eval".into(),
        }
    }

    /// Names the evaluation columns `<name>_loss`, `<name>_acc`.
    pub fn eval_name(mut self, name: impl Into<String>) -> Self {
        self.eval_name = name.into();
        self
    }

    /// The CSV text of `epochs` (empty evaluation cells when absent).
    pub fn render(&self, epochs: &[EpochMetrics]) -> String {
        let e = &self.eval_name;
        let mut s = format!("epoch,train_loss,train_acc,{e}_loss,{e}_acc,seconds\n");
        let opt = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
        for m in epochs {
            s.push_str(&format!(
                "{},{:.6},{:.6},{},{},{:.3}\n",
                m.epoch,
                m.train_loss,
                m.train_acc,
                opt(m.eval_loss),
                opt(m.eval_acc),
                m.seconds
            ));
        }
        s
    }
}

impl Callback for CsvLogger {
    fn on_epoch_end(&mut self, ctx: &mut Context<'_>, m: &EpochMetrics) -> Result<Control> {
        let mut all = ctx.history.to_vec();
        all.push(m.clone());
        write_atomic(&self.path, self.render(&all).as_bytes())?;
        Ok(Control::Continue)
    }
}
