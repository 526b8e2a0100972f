//! The [`Trainer`]: the epoch loop.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use torchlet_autograd::{functional::cross_entropy, functional::Reduction, Variable};
use torchlet_distributed::{sync_buffers, ProcessGroup};
use torchlet_nn::Module;
use torchlet_optim::Optimizer;
use torchlet_tensor::{DType, Tensor};

use crate::callback::{Callback, Context, Control};
use crate::metrics::{EpochMetrics, EvalMetrics, History, RunningMetrics, IGNORE_INDEX};
use crate::source::BatchSource;
use crate::{Result, TrainError};

/// A loss: `(model output, targets) -> scalar loss` that can be
/// differentiated.
pub type LossFn = dyn Fn(&Variable, &Tensor) -> torchlet_autograd::Result<Variable>;

/// Mean cross-entropy of logits `[N, C]` against int64 classes `[N]`
/// (`F.cross_entropy`), the trainer's default loss; targets equal to
/// [`IGNORE_INDEX`] are left out of the mean.
pub fn cross_entropy_loss(
    logits: &Variable,
    targets: &Tensor,
) -> torchlet_autograd::Result<Variable> {
    cross_entropy(logits, targets, None, IGNORE_INDEX, Reduction::Mean, 0.0)
}

/// Whether to draw the progress bar (on stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// When stderr is a terminal.
    #[default]
    Auto,
    /// Always (indicatif still draws nothing where stderr is not a
    /// terminal).
    Always,
    /// Never.
    Hidden,
}

/// The training loop: `epochs` passes over the training batches (forward,
/// loss, backward, optimizer step), an evaluation pass under `no_grad`
/// after each, metrics, callbacks and a progress bar.
///
/// The trainer is generic over the model (`&dyn Module`), the optimizer
/// (`&mut dyn Optimizer`), the loss (a closure, cross-entropy by default)
/// and where batches come from (any [`BatchSource`]: a `DataLoader`, an
/// [`IndexBatches`](crate::IndexBatches) fast path, a closure).
///
/// # Reproducibility
///
/// A run is a pure function of its seeds: call
/// [`torchlet_tensor::manual_seed`] before building the model (initial
/// weights), give the batch source a seed (shuffling is a function of
/// `(seed, epoch)`), and set [`Trainer::seed`] so the default generator
/// (dropout, random augmentation drawn from it) restarts from a known
/// state when `fit` begins. The same seeds then give bit-identical
/// weights, whatever the thread count of the data loader.
pub struct Trainer {
    epochs: usize,
    loss: Box<LossFn>,
    callbacks: Vec<Box<dyn Callback>>,
    progress: Progress,
    log_epochs: bool,
    eval_name: String,
    seed: Option<u64>,
    group: Option<ProcessGroup>,
    allow_nan: bool,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("epochs", &self.epochs)
            .field("callbacks", &self.callbacks.len())
            .field("progress", &self.progress)
            .field("log_epochs", &self.log_epochs)
            .field("seed", &self.seed)
            .finish()
    }
}

impl Trainer {
    /// A trainer for `epochs` epochs with cross-entropy loss, no
    /// callbacks, an automatic progress bar and no per-epoch log lines.
    pub fn new(epochs: usize) -> Self {
        Trainer {
            epochs,
            loss: Box::new(cross_entropy_loss),
            callbacks: Vec::new(),
            progress: Progress::Auto,
            log_epochs: false,
            eval_name: "eval".into(),
            seed: None,
            group: None,
            allow_nan: false,
        }
    }

    /// Keeps training when a batch's loss is NaN or infinite. By default
    /// such a batch stops `fit` with [`TrainError::NonFiniteLoss`] naming
    /// the epoch and step, before its backward pass and optimizer step,
    /// so the weights are those of the last finite step (a run of NaN
    /// weights is never reported as a result).
    pub fn allow_nan(mut self, allow: bool) -> Self {
        self.allow_nan = allow;
        self
    }

    /// Sets the loss.
    pub fn loss(
        mut self,
        loss: impl Fn(&Variable, &Tensor) -> torchlet_autograd::Result<Variable> + 'static,
    ) -> Self {
        self.loss = Box::new(loss);
        self
    }

    /// Adds a callback (called in the order added).
    pub fn callback(mut self, callback: impl Callback + 'static) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// Whether to draw the progress bar.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Prints one summary line per epoch on stdout.
    pub fn log_epochs(mut self, log: bool) -> Self {
        self.log_epochs = log;
        self
    }

    /// What the summary lines call the evaluation data (default `eval`;
    /// e.g. `test` or `val`).
    pub fn eval_name(mut self, name: impl Into<String>) -> Self {
        self.eval_name = name.into();
        self
    }

    /// Reseeds the default generator ([`torchlet_tensor::manual_seed`]) when
    /// [`fit`](Self::fit) starts.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Trains one rank of a data-parallel run over `group` (the model
    /// wrapped in a `DistributedDataParallel`, each rank's batch source
    /// its share of the data, e.g. through a `DistributedSampler`): the
    /// epoch metrics are summed over the ranks (every rank sees the whole
    /// run's loss, accuracy and samples/s, so callbacks decide alike),
    /// every rank evaluates with rank 0's buffers (BatchNorm statistics,
    /// what rank 0 saves), and only rank 0 draws the progress bar and
    /// prints the epoch lines.
    /// Callbacks run on every rank; give file-writing ones to rank 0 only.
    pub fn distributed(mut self, group: ProcessGroup) -> Self {
        self.group = Some(group);
        self
    }

    /// Whether this rank speaks for the run (not distributed, or rank 0).
    fn is_leader(&self) -> bool {
        self.group.as_ref().is_none_or(|g| g.rank() == 0)
    }

    /// The number of epochs.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    fn show_progress(&self) -> bool {
        if !self.is_leader() {
            return false;
        }
        match self.progress {
            Progress::Auto => std::io::stderr().is_terminal(),
            Progress::Always => true,
            Progress::Hidden => false,
        }
    }

    /// Trains `model` with `optimizer` on `train` for the configured
    /// epochs, evaluating on `eval` (if given) after each. The model is left
    /// in eval mode when it returns.
    pub fn fit(
        &mut self,
        model: &dyn Module,
        optimizer: &mut dyn Optimizer,
        train: &dyn BatchSource,
        eval: Option<&dyn BatchSource>,
    ) -> Result<History> {
        if let Some(seed) = self.seed {
            torchlet_tensor::manual_seed(seed);
        }
        let mut history = History::default();
        let mut callbacks = std::mem::take(&mut self.callbacks);
        let result = self.run(model, optimizer, train, eval, &mut callbacks, &mut history);
        let mut ctx = Context {
            model,
            optimizer: &mut *optimizer,
            history: &history.epochs,
            epoch: history.epochs.len(),
            epochs: self.epochs,
        };
        let end = callbacks
            .iter_mut()
            .try_for_each(|cb| cb.on_train_end(&mut ctx));
        self.callbacks = callbacks;
        model.eval();
        result?;
        end?;
        Ok(history)
    }

    fn run(
        &self,
        model: &dyn Module,
        optimizer: &mut dyn Optimizer,
        train: &dyn BatchSource,
        eval: Option<&dyn BatchSource>,
        callbacks: &mut [Box<dyn Callback>],
        history: &mut History,
    ) -> Result<()> {
        {
            let mut ctx = Context {
                model,
                optimizer: &mut *optimizer,
                history: &history.epochs,
                epoch: 0,
                epochs: self.epochs,
            };
            for cb in callbacks.iter_mut() {
                cb.on_train_begin(&mut ctx)?;
            }
        }
        let show = self.show_progress();
        for e in 0..self.epochs {
            let epoch = e + 1;
            let start = Instant::now();
            let lr = if optimizer.num_param_groups() > 0 {
                optimizer.lr(0)
            } else {
                f64::NAN
            };
            {
                let mut ctx = Context {
                    model,
                    optimizer: &mut *optimizer,
                    history: &history.epochs,
                    epoch,
                    epochs: self.epochs,
                };
                for cb in callbacks.iter_mut() {
                    cb.on_epoch_begin(&mut ctx)?;
                }
            }
            let bar = show.then(|| self.bar(train, epoch));
            let mut running = self.train_epoch(
                model,
                optimizer,
                train,
                e as u64,
                callbacks,
                history,
                bar.as_ref(),
            )?;
            let evaluated = match eval {
                Some(data) => {
                    if let Some(bar) = &bar {
                        bar.set_message(format!("{} ...", self.eval_name));
                    }
                    if let Some(g) = &self.group {
                        // Every rank evaluates rank 0's model (its buffers).
                        sync_buffers(g, model)?;
                    }
                    let mut m = evaluate_running(model, data, &*self.loss)?;
                    if let Some(g) = &self.group {
                        m.all_reduce(g)?;
                    }
                    Some(m.into_eval())
                }
                None => None,
            };
            if let Some(g) = &self.group {
                running.all_reduce(g)?;
            }
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let metrics = EpochMetrics {
                epoch,
                train_loss: running.loss(),
                train_acc: running.accuracy(),
                eval_loss: evaluated.map(|m| m.loss),
                eval_acc: evaluated.map(|m| m.accuracy),
                seconds: start.elapsed().as_secs_f64(),
                samples: running.samples(),
                lr,
            };
            if self.log_epochs && self.is_leader() {
                println!("{}", self.summary(&metrics));
            }
            let mut stop = false;
            {
                let mut ctx = Context {
                    model,
                    optimizer: &mut *optimizer,
                    history: &history.epochs,
                    epoch,
                    epochs: self.epochs,
                };
                for cb in callbacks.iter_mut() {
                    stop |= cb.on_epoch_end(&mut ctx, &metrics)? == Control::Stop;
                }
            }
            history.epochs.push(metrics);
            if stop {
                history.stopped_early = epoch < self.epochs;
                break;
            }
        }
        Ok(())
    }

    /// The summary line of an epoch, e.g. `epoch 1/5: train loss 0.2841
    /// acc 0.9163 | test loss 0.1012 acc 0.9690 | 0.71 s, 11270 samples/s`.
    pub fn summary(&self, m: &EpochMetrics) -> String {
        let mut s = format!(
            "epoch {}/{}: train loss {:.4} acc {:.4}",
            m.epoch, self.epochs, m.train_loss, m.train_acc
        );
        if let (Some(l), Some(a)) = (m.eval_loss, m.eval_acc) {
            s.push_str(&format!(" | {} loss {l:.4} acc {a:.4}", self.eval_name));
        }
        s.push_str(&format!(
            " | {:.2} s, {:.0} samples/s",
            m.seconds,
            m.samples as f64 / m.seconds.max(1e-9)
        ));
        s
    }

    fn bar(&self, train: &dyn BatchSource, epoch: usize) -> ProgressBar {
        let target = ProgressDrawTarget::stderr_with_hz(10);
        let (len, unit) = match (train.num_samples(), train.num_batches()) {
            (Some(n), _) => (Some(n as u64), "samples"),
            (None, Some(n)) => (Some(n as u64), "batches"),
            _ => (None, "batches"),
        };
        let bar = ProgressBar::with_draw_target(len, target);
        let template = format!(
            "epoch {epoch}/{} [{{bar:30}}] {{pos}}/{{len}} {unit} {{msg}}",
            self.epochs
        );
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    }

    #[allow(clippy::too_many_arguments)]
    fn train_epoch(
        &self,
        model: &dyn Module,
        optimizer: &mut dyn Optimizer,
        train: &dyn BatchSource,
        epoch: u64,
        callbacks: &mut [Box<dyn Callback>],
        history: &History,
        bar: Option<&ProgressBar>,
    ) -> Result<RunningMetrics> {
        model.train();
        let mut running = RunningMetrics::default();
        let start = Instant::now();
        let mut last_draw = start;
        let count_samples = train.num_samples().is_some();
        for (i, batch) in train.batches(epoch)?.enumerate() {
            let (inputs, targets) = batch?;
            optimizer.zero_grad();
            let output = model.forward(&Variable::constant(inputs))?;
            let loss = (self.loss)(&output, &targets)?;
            let value = scalar(&loss.data())?;
            if !value.is_finite() && !self.allow_nan {
                return Err(TrainError::NonFiniteLoss {
                    epoch: epoch as usize + 1,
                    step: i + 1,
                    value,
                });
            }
            loss.backward()?;
            optimizer.step()?;
            running.update(value, &output.data(), &targets)?;
            if !callbacks.is_empty() {
                let mut ctx = Context {
                    model,
                    optimizer: &mut *optimizer,
                    history: &history.epochs,
                    epoch: epoch as usize + 1,
                    epochs: self.epochs,
                };
                for cb in callbacks.iter_mut() {
                    cb.on_batch_end(&mut ctx, i, value)?;
                }
            }
            if let Some(bar) = bar {
                let n = targets.shape().first().copied().unwrap_or(1) as u64;
                bar.inc(if count_samples { n } else { 1 });
                let now = Instant::now();
                if now.duration_since(last_draw) >= Duration::from_millis(100) {
                    last_draw = now;
                    let rate = running.samples() as f64 / now.duration_since(start).as_secs_f64();
                    bar.set_message(format!(
                        "loss {:.4} acc {:.4} {:.0} samples/s",
                        running.loss(),
                        running.accuracy(),
                        rate
                    ));
                }
            }
        }
        if running.samples() == 0 {
            return Err(TrainError::Invalid(format!(
                "the training data gave no batch in epoch {}",
                epoch + 1
            )));
        }
        Ok(running)
    }

    /// Loss and accuracy of `model` on `data` (eval mode, under `no_grad`,
    /// with this trainer's loss); the model's training flag is restored.
    pub fn evaluate(&self, model: &dyn Module, data: &dyn BatchSource) -> Result<EvalMetrics> {
        evaluate_with(model, data, &*self.loss)
    }
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64).item::<f64>()?)
}

/// Loss and accuracy of `model` on `data` with cross-entropy (eval mode,
/// under `no_grad`); the model's training flag is restored afterwards.
pub fn evaluate(model: &dyn Module, data: &dyn BatchSource) -> Result<EvalMetrics> {
    evaluate_with(model, data, &cross_entropy_loss)
}

/// [`evaluate`] with another loss.
pub fn evaluate_with(
    model: &dyn Module,
    data: &dyn BatchSource,
    loss: &LossFn,
) -> Result<EvalMetrics> {
    evaluate_running(model, data, loss).map(RunningMetrics::into_eval)
}

/// [`evaluate_with`]'s sums, before they are turned into means.
fn evaluate_running(
    model: &dyn Module,
    data: &dyn BatchSource,
    loss: &LossFn,
) -> Result<RunningMetrics> {
    let was_training = model.is_training();
    model.eval();
    let result = torchlet_autograd::no_grad(|| -> Result<RunningMetrics> {
        let mut running = RunningMetrics::default();
        for batch in data.batches(0)? {
            let (inputs, targets) = batch?;
            let output = model.forward(&Variable::constant(inputs))?;
            let value = scalar(&loss(&output, &targets)?.data())?;
            running.update(value, &output.data(), &targets)?;
        }
        Ok(running)
    });
    model.set_training(was_training);
    result
}
