//! Sparse gradients: what `Embedding(sparse=True)` sends its weight.
//!
//! A [`SparseGrad`] holds the gradient of a dense tensor at a few index
//! tuples only (PyTorch's sparse COO gradient). The engine accumulates it
//! without densifying (two sparse gradients concatenate, as PyTorch's do;
//! a dense and a sparse one add densely), stores it in the leaf's `grad`,
//! and densifies it only where a dense backward has to consume it.
//! torchlet-sparse wraps it as a `SparseTensor`; optimizers that support
//! sparse gradients read it with [`Variable::sparse_grad`].

use std::sync::Arc;

use torchlet_tensor::{DType, Tensor, TensorError};

use crate::error::Result;
use crate::variable::Variable;

/// A gradient specified at `nnz` index tuples of a tensor of shape `size`:
/// `indices` `[sparse_dim, nnz]` (int64), `values` `[nnz, size[sparse_dim..]]`.
/// Index tuples may repeat (their values add up) and need not be sorted.
/// With 0 sparse dims (`indices` `[0, nnz]`) every value covers the whole
/// tensor, as for a 0-d sparse tensor in PyTorch.
///
/// ```
/// use torchlet_autograd::SparseGrad;
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_autograd::AutogradError> {
/// // Rows 2 and 0 of a [4, 2] gradient; row 2 given twice.
/// let g = SparseGrad::new(
///     Tensor::from_vec(vec![2i64, 0, 2], &[1, 3])?,
///     Tensor::from_vec(vec![1.0f32, 1.0, 2.0, 2.0, 3.0, 3.0], &[3, 2])?,
///     &[4, 2],
/// )?;
/// assert_eq!(g.to_dense()?.to_vec::<f32>()?, [2.0, 2.0, 0.0, 0.0, 4.0, 4.0, 0.0, 0.0]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SparseGrad {
    // Shared: gradients are cloned as they move through the engine.
    inner: Arc<Parts>,
}

#[derive(Debug)]
struct Parts {
    indices: Tensor,
    values: Tensor,
    size: Vec<usize>,
}

impl SparseGrad {
    /// Checks the shapes and that every index lies inside `size`.
    pub fn new(indices: Tensor, values: Tensor, size: &[usize]) -> Result<SparseGrad> {
        let op = "SparseGrad::new";
        let bad = |m: String| -> crate::AutogradError { TensorError::invalid(op, m).into() };
        if indices.dtype() != DType::I64 || indices.dim() != 2 {
            return Err(bad(format!(
                "indices must be a 2-D int64 tensor, got dtype {} shape {:?}",
                indices.dtype(),
                indices.shape()
            )));
        }
        let (sparse_dim, nnz) = (indices.shape()[0], indices.shape()[1]);
        if sparse_dim > size.len() {
            return Err(bad(format!(
                "indices have {sparse_dim} sparse dims for a tensor of size {size:?}"
            )));
        }
        let mut want = vec![nnz];
        want.extend_from_slice(&size[sparse_dim..]);
        if values.shape() != want.as_slice() || !values.dtype().is_float() {
            return Err(bad(format!(
                "values must be float of shape {want:?}, got dtype {} shape {:?}",
                values.dtype(),
                values.shape()
            )));
        }
        let idx = indices.contiguous().to_vec::<i64>()?;
        for d in 0..sparse_dim {
            for (k, &i) in idx[d * nnz..(d + 1) * nnz].iter().enumerate() {
                if i < 0 || i as usize >= size[d] {
                    return Err(bad(format!(
                        "index {i} at [{d}, {k}] is out of range for size {}",
                        size[d]
                    )));
                }
            }
        }
        Ok(SparseGrad::from_parts(indices, values, size.to_vec()))
    }

    fn from_parts(indices: Tensor, values: Tensor, size: Vec<usize>) -> SparseGrad {
        SparseGrad {
            inner: Arc::new(Parts {
                indices,
                values,
                size,
            }),
        }
    }

    /// The index tuples, `[sparse_dim, nnz]` int64.
    pub fn indices(&self) -> &Tensor {
        &self.inner.indices
    }

    /// The values, `[nnz, dense dims...]`.
    pub fn values(&self) -> &Tensor {
        &self.inner.values
    }

    /// The shape of the dense tensor this is the gradient of.
    pub fn size(&self) -> &[usize] {
        &self.inner.size
    }

    /// Number of index tuples stored (repeats counted).
    pub fn nnz(&self) -> usize {
        self.inner.indices.shape()[1]
    }

    /// The dense gradient (unspecified elements are zero; repeats add).
    pub fn to_dense(&self) -> Result<Tensor> {
        let sparse_dim = self.inner.indices.shape()[0];
        let rows: usize = self.inner.size[..sparse_dim].iter().product();
        let idx = self.inner.indices.contiguous().to_vec::<i64>()?;
        let nnz = self.nnz();
        let flat: Vec<i64> = (0..nnz)
            .map(|k| {
                (0..sparse_dim).fold(0i64, |acc, d| {
                    acc * self.inner.size[d] as i64 + idx[d * nnz + k]
                })
            })
            .collect();
        let mut row_shape = vec![rows];
        row_shape.extend_from_slice(&self.inner.size[sparse_dim..]);
        let mut vshape = vec![nnz];
        vshape.extend_from_slice(&self.inner.size[sparse_dim..]);
        let zeros = Tensor::zeros_dtype(&row_shape, self.inner.values.dtype());
        let dense = zeros.index_add(0, &Tensor::from_vec(flat, &[nnz])?, self.values())?;
        Ok(dense.reshape(&self.size().iter().map(|&s| s as i64).collect::<Vec<_>>())?)
    }

    /// The sum of two sparse gradients of one tensor: their index tuples
    /// and values concatenated (not coalesced, as in PyTorch).
    pub fn concat(&self, other: &SparseGrad) -> Result<SparseGrad> {
        if self.inner.size != other.inner.size
            || self.inner.indices.shape()[0] != other.inner.indices.shape()[0]
        {
            return Err(TensorError::invalid(
                "SparseGrad::concat",
                format!(
                    "gradients of sizes {:?} and {:?} (sparse dims {} and {}) cannot add",
                    self.size(),
                    other.size(),
                    self.inner.indices.shape()[0],
                    other.inner.indices.shape()[0]
                ),
            )
            .into());
        }
        Ok(SparseGrad::from_parts(
            Tensor::cat(&[self.indices(), other.indices()], 1)?,
            Tensor::cat(
                &[
                    self.values(),
                    &other.values().to_dtype(self.values().dtype()),
                ],
                0,
            )?,
            self.size().to_vec(),
        ))
    }

    /// The values multiplied by `factor` (gradient clipping's `mul_`).
    pub fn scaled(&self, factor: f64) -> SparseGrad {
        SparseGrad::from_parts(
            self.indices().clone(),
            self.values().mul_scalar(factor),
            self.inner.size.clone(),
        )
    }
}

/// A gradient as the engine passes and stores it: dense (a variable, with
/// a graph of its own under `create_graph`) or sparse.
#[derive(Clone, Debug)]
pub enum Gradient {
    /// A dense gradient of the input's shape.
    Dense(Variable),
    /// A sparse gradient (see [`SparseGrad`]).
    Sparse(SparseGrad),
}

impl Gradient {
    /// The shape of the tensor this is a gradient of.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Gradient::Dense(v) => v.shape(),
            Gradient::Sparse(s) => s.size().to_vec(),
        }
    }

    /// Whether this is a gradient of `input`'s shape (no allocation).
    pub(crate) fn fits(&self, input: &Variable) -> bool {
        match self {
            Gradient::Dense(v) => v.with_data(|g| input.has_shape(g.shape())),
            Gradient::Sparse(s) => input.has_shape(s.size()),
        }
    }

    /// As a dense variable (a sparse gradient is densified, no graph).
    pub fn into_dense(self) -> Result<Variable> {
        match self {
            Gradient::Dense(v) => Ok(v),
            Gradient::Sparse(s) => Ok(Variable::constant(s.to_dense()?)),
        }
    }

    /// The sum of two gradients of one tensor: sparse + sparse stays
    /// sparse, anything with a dense part is dense.
    pub fn accumulate(self, other: Gradient) -> Result<Gradient> {
        Ok(match (self, other) {
            (Gradient::Dense(a), Gradient::Dense(b)) => Gradient::Dense(a.add(&b)?),
            (Gradient::Sparse(a), Gradient::Sparse(b)) => Gradient::Sparse(a.concat(&b)?),
            (Gradient::Dense(d), Gradient::Sparse(s))
            | (Gradient::Sparse(s), Gradient::Dense(d)) => {
                Gradient::Dense(d.add(&Variable::constant(s.to_dense()?))?)
            }
        })
    }

    /// The same gradient cut from any graph.
    pub fn detach(self) -> Gradient {
        match self {
            Gradient::Dense(v) => Gradient::Dense(v.detach()),
            s => s,
        }
    }

    /// The tensor to check for NaN/inf (a sparse gradient's values).
    pub(crate) fn checked_values(&self) -> Tensor {
        match self {
            Gradient::Dense(v) => v.data(),
            Gradient::Sparse(s) => s.values().clone(),
        }
    }
}

impl From<Variable> for Gradient {
    fn from(v: Variable) -> Gradient {
        Gradient::Dense(v)
    }
}
