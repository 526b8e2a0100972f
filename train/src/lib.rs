//! # torchlet-train
//!
//! A reusable training loop for torchlet, in the spirit of PyTorch
//! Lightning's `Trainer` and fast.ai's `fit`: epochs of train steps
//! (forward, loss, backward, optimizer step) and evaluation passes (eval
//! mode, `no_grad`), running loss and accuracy, [callbacks](Callback)
//! ([`EarlyStopping`], [`BestCheckpoint`], [`LrSchedulerStep`],
//! [`CsvLogger`]), an indicatif progress bar (loss, accuracy, samples/s;
//! hidden when stderr is not a terminal) and a [`History`] of per-epoch
//! [`EpochMetrics`].
//!
//! Batches come from any [`BatchSource`]: a `torchlet_data::DataLoader`
//! yielding `(inputs, targets)`, an [`IndexBatches`] closure that builds a
//! whole batch from indices (the in-memory datasets' `batch()` fast path),
//! or a [`FnSource`] closure per epoch.
//!
//! [`Trainer::distributed`] trains one rank of a data-parallel run over a
//! `torchlet_distributed::ProcessGroup`: epoch metrics are summed over the
//! ranks and only rank 0 draws the progress bar.
//!
//! Runs are reproducible: seed the weights with
//! [`torchlet_tensor::manual_seed`], the shuffling with the source's seed,
//! and the rest with [`Trainer::seed`]; the same seeds give bit-identical
//! weights.
//!
//! ```
//! use torchlet_nn::{Linear, Module, ReLU, Sequential};
//! use torchlet_optim::{Adam, AdamOptions};
//! use torchlet_tensor::{manual_seed, Tensor};
//! use torchlet_train::{EarlyStopping, IndexBatches, Metric, Progress, Trainer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A toy problem: is x0 + x1 positive?
//! manual_seed(0);
//! let x = Tensor::randn(&[256, 2]);
//! let y = x.sum_dim(1)?.gt(&Tensor::scalar(0.0f32))?.to_dtype(torchlet_tensor::DType::I64);
//! let fetch = move |idx: &[usize]| -> torchlet_tensor::Result<_> {
//!     let idx = Tensor::from_vec(idx.iter().map(|&i| i as i64).collect::<Vec<_>>(), &[idx.len()])?;
//!     Ok((x.index_select(0, &idx)?, y.index_select(0, &idx)?))
//! };
//! let data = IndexBatches::new(256, 32, fetch).shuffle(true).seed(0);
//!
//! let model = Sequential::new()
//!     .append(Linear::new(2, 16)?)
//!     .append(ReLU)
//!     .append(Linear::new(16, 2)?);
//! let mut opt = Adam::new(model.parameters(), AdamOptions { lr: 0.01, ..Default::default() })?;
//! let mut trainer = Trainer::new(20)
//!     .progress(Progress::Hidden)
//!     .callback(EarlyStopping::new(Metric::EvalAccuracy).patience(5));
//! let history = trainer.fit(&model, &mut opt, &data, Some(&data))?;
//! assert!(history.last().unwrap().eval_acc.unwrap() > 0.9);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod callback;
mod error;
pub mod metrics;
pub mod source;
mod trainer;

pub use callback::{
    BestCheckpoint, Callback, Context, Control, CsvLogger, EarlyStopping, Interval, LrSchedulerStep,
};
pub use error::{Result, TrainError};
pub use metrics::{
    correct_predictions, EpochMetrics, EvalMetrics, History, Metric, Mode, RunningMetrics,
    IGNORE_INDEX,
};
pub use source::{Batch, BatchSource, Batches, FnSource, IndexBatches, IntoBatch};
pub use trainer::{cross_entropy_loss, evaluate, evaluate_with, LossFn, Progress, Trainer};

use std::path::Path;

/// Writes `bytes` to `path` atomically: to a temporary file in the same
/// folder, synced, then renamed over `path`, so readers never see a
/// half-written file (the temporary file is removed on failure).
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    torchlet_tensor::io::write_atomic(path, bytes).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}
