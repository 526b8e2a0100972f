//! The crate's error type.

use torchlet_autograd::AutogradError;
use torchlet_tensor::TensorError;

/// What can go wrong in a process group or in data-parallel training.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// A bad argument (rank out of range, wrong shape, unsupported dtype).
    #[error("{op}: {message}")]
    Invalid {
        /// The call.
        op: &'static str,
        /// What is wrong, with the values.
        message: String,
    },
    /// The ranks did not make the same call (another collective, or
    /// tensors of other shapes or dtypes).
    #[error("{op}: the ranks disagree: {message}")]
    Mismatch {
        /// The call.
        op: &'static str,
        /// Which ranks passed what.
        message: String,
    },
    /// Another rank failed, exited or timed out, so the group stopped.
    #[error("{op}: the process group stopped: {reason}")]
    Aborted {
        /// The call that found out.
        op: &'static str,
        /// Which rank and why.
        reason: String,
    },
    /// An error from the communication library.
    #[error("{op}: {message}")]
    Backend {
        /// The call.
        op: &'static str,
        /// The library's message.
        message: String,
    },
    /// An object could not be encoded or decoded.
    #[error("{op}: {message}")]
    Object {
        /// The call.
        op: &'static str,
        /// bincode's message.
        message: String,
    },
    /// A tensor op failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An autograd op failed.
    #[error(transparent)]
    Autograd(#[from] AutogradError),
    /// A module failed.
    #[error(transparent)]
    Nn(#[from] torchlet_nn::NnError),
}

impl DistError {
    pub(crate) fn invalid(op: &'static str, message: impl Into<String>) -> DistError {
        DistError::Invalid {
            op,
            message: message.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = DistError> = std::result::Result<T, E>;
