//! The error type of autograd operations.

use torchlet_tensor::TensorError;

/// What went wrong while recording or differentiating.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AutogradError {
    /// A tensor op failed (shapes, dims, dtypes, indices).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// The graph cannot be differentiated as asked.
    #[error("{op}: {message}")]
    Graph {
        /// The autograd call or op that failed.
        op: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Anomaly mode found a NaN or infinity produced by a backward formula.
    #[error(
        "anomaly: the backward of `{op}` produced {what} in the gradient of its input {input}"
    )]
    Anomaly {
        /// The op whose backward produced it.
        op: &'static str,
        /// Which input's gradient (0-based).
        input: usize,
        /// `NaN` or `inf`.
        what: &'static str,
    },
}

impl AutogradError {
    pub(crate) fn graph(op: &'static str, message: impl Into<String>) -> Self {
        AutogradError::Graph {
            op,
            message: message.into(),
        }
    }
}

/// Shorthand for `Result<T, AutogradError>`.
pub type Result<T> = std::result::Result<T, AutogradError>;
