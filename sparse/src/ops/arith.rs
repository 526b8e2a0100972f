//! Elementwise arithmetic: sparse + sparse, sparse * dense, sparse * scalar.

use std::sync::Arc;

use torchlet_autograd::{record_with_gradients, Gradient, SparseGrad, Variable};
use torchlet_tensor::Tensor;

use crate::convert::{gather_rows, scatter_add_rows};
use crate::error::{Result, SparseError};
use crate::pattern::{Indices, Pattern, SparseLayout};
use crate::tensor::SparseTensor;

impl SparseTensor {
    /// `self + other` for two sparse tensors of one shape and layout: the
    /// union of the patterns, coalesced (values at shared positions add).
    /// CSR and CSC operands give a result in their layout.
    pub fn add(&self, other: &SparseTensor) -> Result<SparseTensor> {
        crate::trace::sparse_op("sparse.add", &[self, other], &[], || {
            self.add_untraced(other)
        })
    }

    fn add_untraced(&self, other: &SparseTensor) -> Result<SparseTensor> {
        let op = "sparse.add";
        if self.shape() != other.shape() || self.sparse_dim() != other.sparse_dim() {
            return Err(SparseError::invalid(
                op,
                format!(
                    "operands of size {:?} and {:?} (sparse dims {} and {}) do not match",
                    self.shape(),
                    other.shape(),
                    self.sparse_dim(),
                    other.sparse_dim()
                ),
            ));
        }
        if self.layout() != other.layout() {
            return Err(SparseError::invalid(
                op,
                format!(
                    "operands have layouts {} and {}; convert one first",
                    self.layout().torch_name(),
                    other.layout().torch_name()
                ),
            ));
        }
        if self.dtype() != other.dtype() {
            return Err(SparseError::invalid(
                op,
                format!(
                    "operands have dtypes {} and {}",
                    self.dtype(),
                    other.dtype()
                ),
            ));
        }
        let (a, b) = (self.to_sparse_coo()?, other.to_sparse_coo()?);
        let (Indices::Coo(ia), Indices::Coo(ib)) = (&a.pattern.indices, &b.pattern.indices) else {
            unreachable!("converted to COO")
        };
        let (na, nb, sd) = (a.nnz(), b.nnz(), a.sparse_dim());
        let size = a.shape().to_vec();
        let lin = |idx: &[i64], n: usize, k: usize| {
            (0..sd).fold(0i64, |acc, d| acc * size[d] as i64 + idx[d * n + k])
        };
        let la: Vec<i64> = (0..na).map(|k| lin(ia, na, k)).collect();
        let lb: Vec<i64> = (0..nb).map(|k| lin(ib, nb, k)).collect();
        let mut union: Vec<i64> = la.iter().chain(&lb).copied().collect();
        union.sort_unstable();
        union.dedup();
        let n = union.len();
        let slot = |l: &i64| union.binary_search(l).expect("in the union") as i64;
        let mut indices = vec![0i64; sd * n];
        for (g, &l) in union.iter().enumerate() {
            let mut rest = l;
            for d in (0..sd).rev() {
                indices[d * n + g] = rest % size[d] as i64;
                rest /= size[d] as i64;
            }
        }
        let index_tensor = Arc::new(Tensor::from_vec(indices.clone(), &[sd, n])?);
        let ea = extend(self, &a, la.iter().map(slot).collect(), n, &index_tensor)?;
        let eb = extend(other, &b, lb.iter().map(slot).collect(), n, &index_tensor)?;
        let pattern =
            Pattern::new_unchecked(SparseLayout::Coo, size, sd, n, Indices::Coo(indices), true);
        let sum = SparseTensor::from_parts(pattern, ea.add(&eb)?);
        match self.layout() {
            SparseLayout::Coo => Ok(sum),
            SparseLayout::Csr => sum.to_sparse_csr(),
            SparseLayout::Csc => sum.to_sparse_csc(),
        }
    }

    /// `self * other` for a dense `other` of `self`'s shape (or one that
    /// broadcasts to it): the result keeps `self`'s pattern, each value
    /// multiplied by `other` at its position (`a.mul(b)`).
    pub fn mul_dense(&self, other: &Variable) -> Result<SparseTensor> {
        crate::trace::sparse_op("sparse.mul", &[self], &[other], || {
            self.mul_dense_untraced(other)
        })
    }

    fn mul_dense_untraced(&self, other: &Variable) -> Result<SparseTensor> {
        let op = "sparse.mul";
        let shape: Vec<i64> = self.shape().iter().map(|&s| s as i64).collect();
        let b = if other.shape() == self.shape() {
            other.clone()
        } else {
            other.expand(&shape).map_err(|_| {
                SparseError::invalid(
                    op,
                    format!(
                        "dense operand of shape {:?} does not broadcast to the sparse shape {:?}",
                        other.shape(),
                        self.shape()
                    ),
                )
            })?
        };
        if b.dtype() != self.dtype() {
            return Err(SparseError::invalid(
                op,
                format!("operands have dtypes {} and {}", self.dtype(), b.dtype()),
            ));
        }
        let p = &self.pattern;
        let mut rows_shape = vec![p.size[..p.sparse_dim].iter().product::<usize>() as i64];
        rows_shape.extend(p.size[p.sparse_dim..].iter().map(|&s| s as i64));
        let flat = b.contiguous().reshape(&rows_shape)?;
        let positions: Vec<usize> = match &p.indices {
            Indices::Coo(idx) => (0..p.nnz)
                .map(|k| {
                    (0..p.sparse_dim)
                        .fold(0, |acc, d| acc * p.size[d] + idx[d * p.nnz + k] as usize)
                })
                .collect(),
            Indices::Compressed { .. } => {
                let (r, c) = p.coordinates();
                r.iter().zip(&c).map(|(&i, &j)| i * p.size[1] + j).collect()
            }
        };
        let picked = gather_rows(&flat, &positions)?;
        Ok(self.with_values(self.values.mul(&picked)?))
    }

    /// Every value multiplied by `factor` (`sparse * scalar`).
    pub fn mul_scalar(&self, factor: f64) -> Result<SparseTensor> {
        crate::trace::sparse_op("sparse.mul", &[self], &[], || {
            self.mul_scalar_untraced(factor)
        })
    }

    fn mul_scalar_untraced(&self, factor: f64) -> Result<SparseTensor> {
        Ok(self.with_values(self.values.mul_scalar(factor)))
    }
}

/// `x`'s values (`coo` is `x` in COO order) placed on a larger pattern of
/// `n` entries, entry `k` at `slots[k]`, zeros elsewhere. A sparse leaf
/// receives the whole gradient on that pattern (PyTorch's `add` passes
/// its gradient through unmasked); other tensors receive it on their own
/// entries, through their values.
fn extend(
    x: &SparseTensor,
    coo: &SparseTensor,
    slots: Vec<i64>,
    n: usize,
    indices: &Arc<Tensor>,
) -> Result<Variable> {
    let Some(leaf) = &x.leaf else {
        return scatter_add_rows(&coo.values, Arc::new(slots), n);
    };
    let placed = scatter_add_rows(&coo.values.detach(), Arc::new(slots), n)?.data();
    let (indices, size) = (Arc::clone(indices), x.shape().to_vec());
    Ok(record_with_gradients(
        "SparseAddBackward0",
        placed,
        &[leaf],
        move |ctx| {
            let g = SparseGrad::new(indices.as_ref().clone(), ctx.grad.data(), &size)?;
            Ok(vec![Some(Gradient::Sparse(g))])
        },
    ))
}
