//! The error type of every fallible tensor op.

use crate::dtype::DType;

/// What went wrong in a tensor op. Each variant names the op and the
/// shapes or values involved, in the spirit of PyTorch's messages.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TensorError {
    /// Two or more shapes that the op cannot combine.
    #[error("{op}: shapes {} are incompatible: {reason}", fmt_shapes(.shapes))]
    ShapeMismatch {
        /// The op that failed.
        op: &'static str,
        /// The shapes involved, in argument order.
        shapes: Vec<Vec<usize>>,
        /// Why they do not fit.
        reason: String,
    },
    /// A dimension index outside `[-rank, rank)`.
    #[error("{op}: dimension {dim} out of range for a tensor of rank {rank} (expected in [{}, {}])", -(*.rank as i64).max(1), (*.rank as i64).max(1) - 1)]
    DimOutOfRange {
        /// The op that failed.
        op: &'static str,
        /// The dimension asked for.
        dim: i64,
        /// The tensor's rank.
        rank: usize,
    },
    /// An element index outside its dimension.
    #[error("{op}: index {index} is out of bounds for dimension {dim} with size {size}")]
    IndexOutOfRange {
        /// The op that failed.
        op: &'static str,
        /// The offending index.
        index: i64,
        /// The dimension indexed.
        dim: usize,
        /// The size of that dimension.
        size: usize,
    },
    /// An input of a dtype the op does not accept.
    #[error("{op}: expected {expected}, got dtype {got}")]
    DTypeMismatch {
        /// The op that failed.
        op: &'static str,
        /// What the op wanted, in words.
        expected: String,
        /// The dtype it got.
        got: DType,
    },
    /// Data whose length does not match the requested shape.
    #[error("{op}: {len} elements cannot fill shape {shape:?} ({} elements)", .shape.iter().product::<usize>())]
    DataLength {
        /// The op that failed.
        op: &'static str,
        /// Number of elements given.
        len: usize,
        /// The requested shape.
        shape: Vec<usize>,
    },
    /// Any other invalid argument (a negative size, a zero step, ...).
    #[error("{op}: {message}")]
    InvalidArgument {
        /// The op that failed.
        op: &'static str,
        /// What is wrong, with the offending value.
        message: String,
    },
}

fn fmt_shapes(shapes: &[Vec<usize>]) -> String {
    shapes
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Shorthand for `Result<T, TensorError>`.
pub type Result<T> = std::result::Result<T, TensorError>;

impl TensorError {
    /// Builds a [`TensorError::ShapeMismatch`].
    pub fn shapes(op: &'static str, shapes: &[&[usize]], reason: impl Into<String>) -> Self {
        TensorError::ShapeMismatch {
            op,
            shapes: shapes.iter().map(|s| s.to_vec()).collect(),
            reason: reason.into(),
        }
    }

    /// Builds a [`TensorError::InvalidArgument`].
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        TensorError::InvalidArgument {
            op,
            message: message.into(),
        }
    }

    /// Builds a [`TensorError::DTypeMismatch`].
    pub fn dtype(op: &'static str, expected: impl Into<String>, got: DType) -> Self {
        TensorError::DTypeMismatch {
            op,
            expected: expected.into(),
            got,
        }
    }
}
