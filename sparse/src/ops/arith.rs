//! Elementwise arithmetic: sparse + sparse, sparse * dense, sparse * scalar.

use std::cmp::Ordering;
use std::sync::Arc;

use torchlet_autograd::{record_with_gradients, Gradient, SparseGrad, Variable};
use torchlet_tensor::Tensor;

use crate::convert::{gather_rows, scatter_add_rows};
use crate::error::{Result, SparseError};
use crate::pattern::{Indices, Pattern, SparseLayout};
use crate::tensor::SparseTensor;

impl SparseTensor {
    /// `self + other` for two sparse tensors of one shape and layout, as
    /// PyTorch computes it: one pass over both entry lists, merging entries
    /// with equal indices (their values add). Coalesced operands give the
    /// coalesced union of the patterns; an uncoalesced operand gives an
    /// uncoalesced result (repeats kept, as in PyTorch). CSR and CSC
    /// operands give a result in their layout.
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
        // PyTorch's merge (`add_out_sparse_contiguous`): walk both entry
        // lists once; the smaller index tuple goes first, equal tuples
        // share one output entry. On coalesced operands this is the sorted
        // union; otherwise repeats and disorder stay, and so does the
        // uncoalesced flag (an empty operand leaves the other as it is).
        let (mut slots_a, mut slots_b) = (Vec::with_capacity(na), Vec::with_capacity(nb));
        let mut tuples: Vec<(bool, usize)> = Vec::with_capacity(na + nb);
        let (mut i, mut j) = (0, 0);
        while i < na || j < nb {
            let order = if i >= na {
                Ordering::Greater
            } else if j >= nb {
                Ordering::Less
            } else {
                (0..sd)
                    .map(|d| ia[d * na + i].cmp(&ib[d * nb + j]))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            };
            let slot = tuples.len() as i64;
            if order.is_le() {
                tuples.push((true, i));
                slots_a.push(slot);
                i += 1;
            }
            if order.is_ge() {
                if order.is_gt() {
                    tuples.push((false, j));
                }
                slots_b.push(slot);
                j += 1;
            }
        }
        let n = tuples.len();
        let mut indices = vec![0i64; sd * n];
        for (g, &(from_a, k)) in tuples.iter().enumerate() {
            for d in 0..sd {
                indices[d * n + g] = if from_a {
                    ia[d * na + k]
                } else {
                    ib[d * nb + k]
                };
            }
        }
        let coalesced = match (na, nb) {
            (_, 0) => a.is_coalesced(),
            (0, _) => b.is_coalesced(),
            _ => a.is_coalesced() && b.is_coalesced(),
        };
        let leaf_grad = LeafGrad::new(&indices, sd, n, &size)?;
        let ea = extend(self, &a, slots_a, n, &leaf_grad)?;
        let eb = extend(other, &b, slots_b, n, &leaf_grad)?;
        let pattern = Pattern::new_unchecked(
            SparseLayout::Coo,
            size,
            sd,
            n,
            Indices::Coo(indices),
            coalesced,
        );
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

/// Where a sparse leaf operand of `add` receives the result's gradient:
/// the result's positions, sorted, once each. Where the result repeats a
/// position (uncoalesced operands), the gradient of its first entry there
/// stands for the position, as PyTorch's sparse backward formulas give a
/// gradient masked on the coalesced pattern (each repeat would otherwise
/// count it once more).
struct LeafGrad {
    /// `[sparse_dim, m]`, the positions.
    indices: Tensor,
    /// The result entry of each position, when not simply `0..n`.
    rows: Option<Tensor>,
}

impl LeafGrad {
    fn new(indices: &[i64], sd: usize, n: usize, size: &[usize]) -> Result<LeafGrad> {
        let lin: Vec<i64> = (0..n)
            .map(|k| (0..sd).fold(0i64, |acc, d| acc * size[d] as i64 + indices[d * n + k]))
            .collect();
        if lin.windows(2).all(|w| w[0] < w[1]) {
            return Ok(LeafGrad {
                indices: Tensor::from_vec(indices.to_vec(), &[sd, n])?,
                rows: None,
            });
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&k| lin[k]); // stable: the first entry leads
        order.dedup_by_key(|k| lin[*k]);
        let m = order.len();
        let mut picked = vec![0i64; sd * m];
        for d in 0..sd {
            for (g, &k) in order.iter().enumerate() {
                picked[d * m + g] = indices[d * n + k];
            }
        }
        let rows = order.iter().map(|&k| k as i64).collect();
        Ok(LeafGrad {
            indices: Tensor::from_vec(picked, &[sd, m])?,
            rows: Some(Tensor::from_vec(rows, &[m])?),
        })
    }
}

/// `x`'s values (`coo` is `x` in COO order) placed on a larger pattern of
/// `n` entries, entry `k` at `slots[k]`, zeros elsewhere. A sparse leaf
/// receives the whole gradient of the result (PyTorch's `add` passes its
/// gradient through unmasked), on the result's positions ([`LeafGrad`]);
/// other tensors receive it on their own entries, through their values.
fn extend(
    x: &SparseTensor,
    coo: &SparseTensor,
    slots: Vec<i64>,
    n: usize,
    at: &LeafGrad,
) -> Result<Variable> {
    let Some(leaf) = &x.leaf else {
        return scatter_add_rows(&coo.values, Arc::new(slots), n);
    };
    let placed = scatter_add_rows(&coo.values.detach(), Arc::new(slots), n)?.data();
    let (indices, rows, size) = (at.indices.clone(), at.rows.clone(), x.shape().to_vec());
    Ok(record_with_gradients(
        "SparseAddBackward0",
        placed,
        &[leaf],
        move |ctx| {
            let g = ctx.grad.data();
            let g = match &rows {
                Some(rows) => g.index_select(0, rows)?,
                None => g,
            };
            let g = SparseGrad::new(indices.clone(), g, &size)?;
            Ok(vec![Some(Gradient::Sparse(g))])
        },
    ))
}
