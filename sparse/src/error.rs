//! The error type of sparse tensors and their ops.

use torchlet_autograd::AutogradError;
use torchlet_tensor::TensorError;

/// What went wrong in a sparse op.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SparseError {
    /// Indices, sizes or layouts that break a sparse tensor's invariants
    /// (PyTorch's `check_invariants`), or operands that do not fit an op.
    #[error("{op}: {message}")]
    Invalid {
        /// The op or constructor that refused its input.
        op: &'static str,
        /// What is wrong, with the offending position and value.
        message: String,
    },
    /// A dense tensor op failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// A differentiable op or the backward pass failed.
    #[error(transparent)]
    Autograd(#[from] AutogradError),
}

impl SparseError {
    pub(crate) fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        SparseError::Invalid {
            op,
            message: message.into(),
        }
    }
}

/// Shorthand for `Result<T, SparseError>`.
pub type Result<T> = std::result::Result<T, SparseError>;

impl From<SparseError> for AutogradError {
    /// A sparse op's error as an autograd error (inside backward formulas).
    fn from(e: SparseError) -> AutogradError {
        match e {
            SparseError::Autograd(e) => e,
            SparseError::Tensor(e) => AutogradError::Tensor(e),
            SparseError::Invalid { op, message } => {
                AutogradError::Tensor(TensorError::invalid(op, message))
            }
        }
    }
}
