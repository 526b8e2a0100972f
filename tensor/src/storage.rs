//! Typed, shared element buffers.

use crate::dtype::DType;

/// The data behind one or more tensors: one flat vector of a single dtype.
/// Tensors hold it through an `Arc`, so views share it without copying.
#[derive(Clone, Debug, PartialEq)]
pub enum Storage {
    /// float32 data.
    F32(Vec<f32>),
    /// float64 data.
    F64(Vec<f64>),
    /// int64 data.
    I64(Vec<i64>),
    /// bool data.
    Bool(Vec<bool>),
}

impl Storage {
    /// The dtype of the elements.
    pub fn dtype(&self) -> DType {
        match self {
            Storage::F32(_) => DType::F32,
            Storage::F64(_) => DType::F64,
            Storage::I64(_) => DType::I64,
            Storage::Bool(_) => DType::Bool,
        }
    }

    /// Number of elements held (may exceed the elements a view uses).
    pub fn len(&self) -> usize {
        match self {
            Storage::F32(v) => v.len(),
            Storage::F64(v) => v.len(),
            Storage::I64(v) => v.len(),
            Storage::Bool(v) => v.len(),
        }
    }

    /// Whether the storage holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
