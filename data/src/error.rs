//! The crate's error type.

use torchlet_tensor::TensorError;

/// What went wrong while reading or batching data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A tensor op failed (for example stacking samples of different shapes).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An index past the end of a dataset.
    #[error("{dataset}: index {index} is out of range for a dataset of length {len}")]
    Index {
        /// The dataset type.
        dataset: &'static str,
        /// The offending index.
        index: usize,
        /// The dataset's length.
        len: usize,
    },
    /// An invalid argument (batch size 0, split lengths that do not add up, ...).
    #[error("{what}: {message}")]
    Invalid {
        /// The function or type that rejected it.
        what: &'static str,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A dataset's own failure (a file that cannot be read or decoded).
    /// A panic inside a loader worker thread also surfaces here.
    #[error("{0}")]
    Source(String),
}

impl DataError {
    /// An [`DataError::Invalid`] built from anything printable.
    pub(crate) fn invalid(what: &'static str, message: impl Into<String>) -> DataError {
        DataError::Invalid {
            what,
            message: message.into(),
        }
    }

    /// Checks `index < len`, or returns [`DataError::Index`].
    pub(crate) fn check_index(dataset: &'static str, index: usize, len: usize) -> Result<()> {
        if index < len {
            Ok(())
        } else {
            Err(DataError::Index {
                dataset,
                index,
                len,
            })
        }
    }
}

/// A `Result` with [`DataError`].
pub type Result<T> = std::result::Result<T, DataError>;
