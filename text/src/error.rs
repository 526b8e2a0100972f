//! The crate's error type.

use std::path::Path;

use torchlet_data::DataError;
use torchlet_tensor::TensorError;

/// What went wrong in torchlet-text. File errors name the file (and, for
/// line-oriented formats, the 1-based line); argument errors name the
/// function and the offending value.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A line of a TSV/CSV/text file that does not follow the format.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file involved (or `embedded:<name>` for built-in data).
        path: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong, with the offending values.
        message: String,
    },
    /// A whole file that does not follow its format (bad JSON, a vocabulary
    /// with duplicate tokens, a BPE merge of unknown tokens, ...).
    #[error("{path}: {message}")]
    Format {
        /// The file involved.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A token that is not in the vocabulary, which has no default index.
    #[error("Vocab: token {token:?} is not in the vocabulary and no default index is set (use set_default_index, or include \"<unk>\" in the specials)")]
    UnknownToken {
        /// The token looked up.
        token: String,
    },
    /// An index past the end of a vocabulary (or a BPE token id out of range).
    #[error("{what}: index {index} is out of range for a vocabulary of size {len}")]
    Index {
        /// The type or function that rejected it.
        what: &'static str,
        /// The offending index.
        index: usize,
        /// The vocabulary size.
        len: usize,
    },
    /// An invalid argument.
    #[error("{what}: {message}")]
    Invalid {
        /// The function or type that rejected it.
        what: &'static str,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A tensor op failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// Building a sparse matrix failed.
    #[error(transparent)]
    Sparse(#[from] torchlet_sparse::SparseError),
}

impl TextError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> TextError {
        TextError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn parse(path: &str, line: usize, message: impl Into<String>) -> TextError {
        TextError::Parse {
            path: path.to_string(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn format(path: impl Into<String>, message: impl Into<String>) -> TextError {
        TextError::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid(what: &'static str, message: impl Into<String>) -> TextError {
        TextError::Invalid {
            what,
            message: message.into(),
        }
    }
}

/// Datasets and collate functions report their failures through
/// torchlet-data's error: tensor errors keep their variant, everything else
/// becomes [`DataError::Source`] with the full message.
impl From<TextError> for DataError {
    fn from(e: TextError) -> DataError {
        match e {
            TextError::Tensor(t) => DataError::Tensor(t),
            other => DataError::Source(other.to_string()),
        }
    }
}

/// Shorthand for `Result<T, TextError>`.
pub type Result<T> = std::result::Result<T, TextError>;
