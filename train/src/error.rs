//! The crate's error type.

use std::path::PathBuf;

/// What can go wrong while training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A tensor op failed.
    #[error(transparent)]
    Tensor(#[from] torchlet_tensor::TensorError),
    /// The forward or backward pass failed.
    #[error(transparent)]
    Autograd(#[from] torchlet_autograd::AutogradError),
    /// A module failed (forward, state dict, checkpoint file).
    #[error(transparent)]
    Nn(#[from] torchlet_nn::NnError),
    /// The optimizer or a learning-rate scheduler failed.
    #[error(transparent)]
    Optim(#[from] torchlet_optim::OptimError),
    /// A collective of a data-parallel run failed (another rank stopped).
    #[error(transparent)]
    Distributed(#[from] torchlet_distributed::DistError),
    /// A batch source failed to produce a batch.
    #[error("data: {0}")]
    Data(Box<dyn std::error::Error + Send + Sync>),
    /// A file could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A batch's loss was NaN or infinite: training stopped before that
    /// batch's backward pass and optimizer step
    /// ([`Trainer::allow_nan`](crate::Trainer::allow_nan) keeps going).
    #[error(
        "epoch {epoch}, step {step}: the loss is {value}; training stopped before this step \
         changed the weights (lower the learning rate, check the data for NaN or Inf, \
         or allow NaN losses to keep going)"
    )]
    NonFiniteLoss {
        /// The epoch, counting from 1.
        epoch: usize,
        /// The batch within the epoch, counting from 1.
        step: usize,
        /// The loss (NaN or ±inf).
        value: f64,
    },
    /// A batch or configuration that the trainer cannot use (wrong target
    /// dtype, empty epoch, bad option).
    #[error("{0}")]
    Invalid(String),
}

impl From<torchlet_data::DataError> for TrainError {
    fn from(e: torchlet_data::DataError) -> Self {
        TrainError::Data(Box::new(e))
    }
}

impl TrainError {
    /// Wraps any error from a batch source.
    pub fn data(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        TrainError::Data(e.into())
    }
}

/// `Result` with [`TrainError`].
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
