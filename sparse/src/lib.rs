//! # torchlet-sparse
//!
//! Sparse tensors for torchlet with PyTorch's `torch.sparse` semantics:
//! COO (with dense trailing dims), CSR and CSC layouts, f32 and f64
//! values, sparse products with gradients, and kernels split across the
//! thread team by non-zeros.
//!
//! A [`SparseTensor`] is a pattern (where the specified elements are,
//! checked once when built) plus a values [`Variable`]. Ops record their
//! graph through the values, so a sparse tensor can be a leaf that
//! requires grad and its gradient keeps its pattern.
//!
//! | PyTorch | torchlet |
//! |---|---|
//! | `x.to_sparse()`, `to_sparse_csr()`, `to_sparse_csc()` | [`ToSparse`] on `Tensor` and `Variable` |
//! | `torch.sparse_coo_tensor(i, v, size)` | [`sparse_coo_tensor`] (also [`sparse_csr_tensor`], [`sparse_csc_tensor`]) |
//! | `s.to_dense()`, `coalesce()`, `is_coalesced()` | [`SparseTensor::to_dense`], [`SparseTensor::coalesce`], [`SparseTensor::is_coalesced`] |
//! | `indices()`, `values()`, `crow_indices()`, `col_indices()`, `_nnz()` | same names |
//! | `torch.sparse.mm(s, d)` / `(d, s)` / `(s, s)` | [`SparseTensor::mm`] / [`SparseTensor::rmm`] / [`SparseTensor::mm_sparse`] |
//! | `torch.sparse.addmm`, `sampled_addmm` | [`SparseTensor::addmm`], [`SparseTensor::sampled_addmm`] |
//! | `torch.sparse.sum(s)`, `sum(s, dim)` | [`SparseTensor::sum`], [`SparseTensor::sum_dims`] |
//! | `torch.sparse.softmax`, `log_softmax` | [`SparseTensor::softmax`], [`SparseTensor::log_softmax`] |
//! | `s + s`, `s * d`, `s * 2.0` | [`SparseTensor::add`], [`SparseTensor::mul_dense`], [`SparseTensor::mul_scalar`] |
//! | `t()`, `transpose`, `index_select` | same names |
//! | `narrow_copy` (PyTorch's `narrow` has no sparse form) | [`SparseTensor::narrow`] |
//!
//! ```
//! use torchlet_autograd::Variable;
//! use torchlet_sparse::ToSparse;
//! use torchlet_tensor::Tensor;
//! # fn main() -> Result<(), torchlet_sparse::SparseError> {
//! // A 3-node path graph's adjacency as a sparse leaf that requires grad.
//! let adj = Tensor::from_vec(vec![0.0f32, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0], &[3, 3])?
//!     .to_sparse_csr()?
//!     .requires_grad_();
//! let x = Variable::parameter(Tensor::ones(&[3, 2]));
//! let y = adj.mm(&x)?; // each node sums its neighbours' features
//! assert_eq!(y.to_vec::<f32>()?, [1.0, 1.0, 2.0, 2.0, 1.0, 1.0]);
//! y.sum().backward()?;
//! // The adjacency's gradient keeps its 4 specified elements.
//! assert_eq!(adj.grad().unwrap().nnz(), 4);
//! assert_eq!(x.grad().unwrap().to_vec::<f32>()?, [1.0, 1.0, 2.0, 2.0, 1.0, 1.0]);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod convert;
mod display;
mod error;
mod kernels;
mod ops;
mod pattern;
mod tensor;
mod trace;

pub use convert::ToSparse;
pub use error::{Result, SparseError};
pub use ops::Summed;
pub use pattern::SparseLayout;
pub use tensor::{sparse_coo_tensor, sparse_csc_tensor, sparse_csr_tensor, SparseTensor};
pub use torchlet_autograd::{SparseGrad, Variable};
pub use trace::SPARSE_OPS;

impl SparseTensor {
    /// A sparse gradient (what `Embedding(sparse = true)` leaves on its
    /// weight) as a COO tensor, not coalesced.
    pub fn from_grad(grad: &SparseGrad) -> Result<SparseTensor> {
        sparse_coo_tensor(grad.indices(), grad.values().clone(), grad.size())
    }

    /// This COO tensor as an autograd sparse gradient (the inverse of
    /// [`SparseTensor::from_grad`]; values without their graph).
    pub fn to_grad(&self) -> Result<SparseGrad> {
        Ok(SparseGrad::new(
            self.indices()?,
            self.values().data(),
            self.shape(),
        )?)
    }
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
