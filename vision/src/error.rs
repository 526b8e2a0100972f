//! The error type of readers, datasets and transforms.

use std::path::Path;

use torchlet_data::DataError;
use torchlet_nn::NnError;
use torchlet_tensor::TensorError;

/// What went wrong in torchlet-vision. File errors name the file and what
/// is wrong with it; transform errors name the transform and the shapes.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// A file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file whose contents do not follow its format (wrong magic number,
    /// truncated data, a header that does not match the data, ...).
    #[error("{path}: {message}")]
    Format {
        /// The file involved (or `embedded:<name>` for built-in data).
        path: String,
        /// What is wrong, with the offending values.
        message: String,
    },
    /// An invalid argument to a transform or dataset constructor, or an
    /// input a transform cannot handle.
    #[error("{what}: {message}")]
    Invalid {
        /// The transform or function that rejected it.
        what: &'static str,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A tensor op failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// A module failed to build or run.
    #[error(transparent)]
    Nn(#[from] NnError),
}

impl VisionError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> VisionError {
        VisionError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn format(path: impl Into<String>, message: impl Into<String>) -> VisionError {
        VisionError::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid(what: &'static str, message: impl Into<String>) -> VisionError {
        VisionError::Invalid {
            what,
            message: message.into(),
        }
    }
}

/// Datasets report their failures through torchlet-data's error: tensor
/// errors keep their variant, everything else becomes
/// [`DataError::Source`] with the full message (file name included).
impl From<VisionError> for DataError {
    fn from(e: VisionError) -> DataError {
        match e {
            VisionError::Tensor(t) => DataError::Tensor(t),
            other => DataError::Source(other.to_string()),
        }
    }
}

/// Shorthand for `Result<T, VisionError>`.
pub type Result<T> = std::result::Result<T, VisionError>;
