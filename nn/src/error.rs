//! The error type of module construction, forward passes and state dicts.

use torchlet_autograd::AutogradError;
use torchlet_tensor::TensorError;

use crate::state::LoadReport;

/// What went wrong in a module.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A differentiable op failed (shapes, dtypes, graph).
    #[error(transparent)]
    Autograd(#[from] AutogradError),
    /// A tensor op failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An input that does not fit the module (wrong rank, channels, ...).
    #[error("{module}: {message}")]
    Input {
        /// The module that rejected the input (`Linear`, `Conv2d`, ...).
        module: &'static str,
        /// What was expected and what was given.
        message: String,
    },
    /// An invalid constructor argument (zero channels, `p` outside `[0, 1]`, ...).
    #[error("{module}: {message}")]
    Config {
        /// The module being built.
        module: &'static str,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A strict state-dict load found missing or unexpected keys or
    /// mismatched tensors; nothing was loaded.
    #[error("error(s) in loading state_dict: {0}")]
    StateDict(LoadReport),
    /// A safetensors file could not be parsed or written.
    #[error("safetensors: {0}")]
    Safetensors(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl NnError {
    pub(crate) fn input(module: &'static str, message: impl Into<String>) -> Self {
        NnError::Input {
            module,
            message: message.into(),
        }
    }

    pub(crate) fn config(module: &'static str, message: impl Into<String>) -> Self {
        NnError::Config {
            module,
            message: message.into(),
        }
    }
}

/// Shorthand for `Result<T, NnError>`.
pub type Result<T> = std::result::Result<T, NnError>;
