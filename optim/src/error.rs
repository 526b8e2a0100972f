//! The error type of optimizers, schedulers and gradient clipping.

use torchlet_autograd::AutogradError;
use torchlet_tensor::TensorError;

/// What went wrong while building or stepping an optimizer or scheduler.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimError {
    /// A hyperparameter is out of range (PyTorch's `ValueError`).
    #[error("{what}: invalid {name}: {value} ({expected})")]
    InvalidArgument {
        /// The optimizer or scheduler that rejected it.
        what: &'static str,
        /// The hyperparameter's name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What it must be.
        expected: &'static str,
    },
    /// The optimizer or scheduler cannot be used as asked.
    #[error("{what}: {message}")]
    Usage {
        /// The optimizer or scheduler.
        what: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A tensor op failed (shapes, dtypes).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// Updating a variable failed (for example, it is not a leaf).
    #[error(transparent)]
    Autograd(#[from] AutogradError),
}

/// Shorthand for `Result<T, OptimError>`.
pub type Result<T> = std::result::Result<T, OptimError>;

/// Fails with [`OptimError::InvalidArgument`] unless `ok`.
pub(crate) fn check(
    ok: bool,
    what: &'static str,
    name: &'static str,
    value: f64,
    expected: &'static str,
) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(OptimError::InvalidArgument {
            what,
            name,
            value,
            expected,
        })
    }
}
