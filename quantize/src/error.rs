//! The error type of quantized tensors, observers and fake quantization.

use torchlet_autograd::AutogradError;
use torchlet_tensor::TensorError;

/// What went wrong while quantizing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuantError {
    /// A quantization parameter or input that PyTorch would refuse: a
    /// scale that is not positive and finite, a zero point outside the
    /// dtype's range, an axis out of range, an observer that saw no data.
    #[error("{op}: {message}")]
    Invalid {
        /// The op, observer or module that refused it.
        op: &'static str,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A tensor op failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// A differentiable op failed.
    #[error(transparent)]
    Autograd(#[from] AutogradError),
}

impl QuantError {
    pub(crate) fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        QuantError::Invalid {
            op,
            message: message.into(),
        }
    }
}

impl From<QuantError> for AutogradError {
    /// A quantization error inside a backward formula.
    fn from(e: QuantError) -> AutogradError {
        match e {
            QuantError::Autograd(e) => e,
            QuantError::Tensor(e) => AutogradError::Tensor(e),
            QuantError::Invalid { op, message } => {
                AutogradError::Tensor(TensorError::invalid(op, message))
            }
        }
    }
}

/// Shorthand for `Result<T, QuantError>`.
pub type Result<T> = std::result::Result<T, QuantError>;
