//! The error type of an export.

use torchlet_autograd::AutogradError;
use torchlet_nn::NnError;
use torchlet_tensor::TensorError;

/// What went wrong while exporting.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The traced graph contains an op that has no ONNX mapping (at this
    /// opset, or with these attributes).
    #[error("cannot export op {op} to ONNX (opset {opset}): {reason}")]
    Unsupported {
        /// The op, with its attributes where they matter.
        op: String,
        /// The target opset.
        opset: i64,
        /// Why, with the shapes and values involved.
        reason: String,
    },
    /// The forward pass itself failed.
    #[error("forward pass failed while tracing: {0}")]
    Forward(#[from] NnError),
    /// A differentiable op failed while tracing.
    #[error(transparent)]
    Autograd(#[from] AutogradError),
    /// A tensor op failed while converting values.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// Invalid export options (opset out of range, bad axis names, ...).
    #[error("invalid export options: {0}")]
    Options(String),
    /// Writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl OnnxError {
    /// An `Unsupported` error.
    pub(crate) fn unsupported(
        op: impl Into<String>,
        opset: i64,
        reason: impl Into<String>,
    ) -> Self {
        OnnxError::Unsupported {
            op: op.into(),
            opset,
            reason: reason.into(),
        }
    }
}

/// Shorthand for `Result<T, OnnxError>`.
pub type Result<T> = std::result::Result<T, OnnxError>;
