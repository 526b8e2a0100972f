//! The error type of graph data sets and models.

use torchlet_nn::NnError;
use torchlet_sparse::SparseError;
use torchlet_tensor::TensorError;

/// What went wrong in a graph data set or model.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// A data file that does not parse, with where and why.
    #[error("{source_name}:{line}: {message}")]
    Parse {
        /// The file (or `embedded:...`).
        source_name: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A graph that does not fit what was asked (an edge naming a node
    /// that does not exist, a member without a faction, ...).
    #[error("{0}")]
    Invalid(String),
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A sparse op failed.
    #[error(transparent)]
    Sparse(#[from] SparseError),
    /// A module failed.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// A tensor op failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// Shorthand for `Result<T, GraphError>`.
pub type Result<T> = std::result::Result<T, GraphError>;

/// A sparse op's error inside a module's forward pass.
pub(crate) fn sparse_to_nn(e: SparseError) -> NnError {
    NnError::Autograd(e.into())
}
