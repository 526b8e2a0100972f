//! Between dense and sparse, and between layouts: `to_sparse`,
//! `to_dense`, `coalesce`, `to_sparse_csr`/`csc`/`coo`. Every conversion
//! moves values with differentiable gathers and scatters, so gradients
//! flow through it.

use std::sync::Arc;

use torchlet_autograd::{record, Variable};
use torchlet_tensor::Tensor;

use crate::error::{Result, SparseError};
use crate::pattern::{Indices, Pattern, SparseLayout};
use crate::tensor::SparseTensor;

/// `out[target[k]] += values[k]` along dim 0 into `rows` rows
/// (differentiable: the gradient gathers the output gradient back).
pub(crate) fn scatter_add_rows(
    values: &Variable,
    target: Arc<Vec<i64>>,
    rows: usize,
) -> Result<Variable> {
    let mut shape = values.shape();
    shape[0] = rows;
    let index = Tensor::from_vec(target.as_ref().clone(), &[target.len()])?;
    let out = Tensor::zeros_dtype(&shape, values.dtype()).index_add(0, &index, &values.data())?;
    Ok(record(
        "SparseScatterBackward0",
        out,
        &[values],
        move |ctx| Ok(vec![Some(ctx.grad.index_select(0, &index)?)]),
    ))
}

/// `values[take[k]]` along dim 0 (differentiable).
pub(crate) fn gather_rows(values: &Variable, take: &[usize]) -> Result<Variable> {
    let index = Tensor::from_vec(take.iter().map(|&i| i as i64).collect(), &[take.len()])?;
    Ok(values.index_select(0, &index)?)
}

/// Row-major linear index of each entry over the sparse dims.
fn linear_indices(p: &Pattern) -> Vec<i64> {
    match &p.indices {
        Indices::Coo(idx) => (0..p.nnz)
            .map(|k| {
                (0..p.sparse_dim).fold(0i64, |acc, d| acc * p.size[d] as i64 + idx[d * p.nnz + k])
            })
            .collect(),
        Indices::Compressed { .. } => {
            let (r, c) = p.coordinates();
            r.iter()
                .zip(&c)
                .map(|(&i, &j)| (i * p.size[1] + j) as i64)
                .collect()
        }
    }
}

/// Converts dense tensors (and variables, keeping their graph) to sparse.
pub trait ToSparse {
    /// A coalesced COO tensor of the non-zero elements (`to_sparse()`).
    fn to_sparse(&self) -> Result<SparseTensor>;
    /// A coalesced COO tensor whose first `sparse_dim` dims are sparse and
    /// the rest dense (`to_sparse(sparse_dim)`): an index tuple is kept
    /// when any element of its dense slice is non-zero.
    fn to_sparse_dims(&self, sparse_dim: usize) -> Result<SparseTensor>;
    /// A CSR tensor of a 2-D tensor's non-zeros (`to_sparse_csr()`).
    fn to_sparse_csr(&self) -> Result<SparseTensor> {
        self.to_sparse()?.to_sparse_csr()
    }
    /// A CSC tensor of a 2-D tensor's non-zeros (`to_sparse_csc()`).
    fn to_sparse_csc(&self) -> Result<SparseTensor> {
        self.to_sparse()?.to_sparse_csc()
    }
}

impl ToSparse for Variable {
    fn to_sparse(&self) -> Result<SparseTensor> {
        self.to_sparse_dims(self.dim())
    }

    fn to_sparse_dims(&self, sparse_dim: usize) -> Result<SparseTensor> {
        crate::trace::sparse_op("to_sparse", &[], &[self], || sparsify(self, sparse_dim))
    }
}

/// [`ToSparse::to_sparse_dims`] of a variable, without the trace record.
fn sparsify(x: &Variable, sparse_dim: usize) -> Result<SparseTensor> {
    {
        let op = "to_sparse";
        if !x.dtype().is_float() {
            return Err(SparseError::invalid(
                op,
                format!("values must be float32 or float64, got {}", x.dtype()),
            ));
        }
        let size = x.shape();
        if sparse_dim > size.len() || (sparse_dim == 0 && !size.is_empty()) {
            return Err(SparseError::invalid(
                op,
                format!(
                    "sparse_dim {sparse_dim} must be in 1..={} for size {size:?}",
                    size.len()
                ),
            ));
        }
        let outer: usize = size[..sparse_dim].iter().product();
        let inner: usize = size[sparse_dim..].iter().product();
        let data = x
            .data()
            .to_dtype(torchlet_tensor::DType::F64)
            .contiguous()
            .to_vec::<f64>()?;
        let keep: Vec<usize> = (0..outer)
            .filter(|&r| data[r * inner..(r + 1) * inner].iter().any(|&x| x != 0.0))
            .collect();
        let nnz = keep.len();
        let mut indices = vec![0i64; sparse_dim * nnz];
        for (k, &r) in keep.iter().enumerate() {
            let mut rest = r;
            for d in (0..sparse_dim).rev() {
                indices[d * nnz + k] = (rest % size[d]) as i64;
                rest /= size[d];
            }
        }
        let mut rows_shape = vec![outer as i64];
        rows_shape.extend(size[sparse_dim..].iter().map(|&s| s as i64));
        let values = gather_rows(&x.reshape(&rows_shape)?, &keep)?;
        let pattern = Pattern::coo(op, indices, sparse_dim, nnz, size, true)?;
        Ok(SparseTensor::from_parts(pattern, values))
    }
}

impl ToSparse for Tensor {
    fn to_sparse(&self) -> Result<SparseTensor> {
        Variable::constant(self.clone()).to_sparse()
    }

    fn to_sparse_dims(&self, sparse_dim: usize) -> Result<SparseTensor> {
        Variable::constant(self.clone()).to_sparse_dims(sparse_dim)
    }
}

impl SparseTensor {
    /// The dense tensor (`to_dense()`): unspecified elements are zero and
    /// repeated indices add up. Differentiable: the gradient of the values
    /// is the output gradient at their positions.
    pub fn to_dense(&self) -> Result<Tensor> {
        Ok(self.to_dense_variable()?.data())
    }

    /// [`SparseTensor::to_dense`] as a variable that keeps the graph.
    pub fn to_dense_variable(&self) -> Result<Variable> {
        crate::trace::sparse_op("to_dense", &[self], &[], || {
            self.to_dense_variable_untraced()
        })
    }

    fn to_dense_variable_untraced(&self) -> Result<Variable> {
        let p = &self.pattern;
        let rows: usize = p.size[..p.sparse_dim].iter().product();
        let dense = scatter_add_rows(&self.values, Arc::new(linear_indices(p)), rows)?;
        let shape: Vec<i64> = p.size.iter().map(|&s| s as i64).collect();
        Ok(dense.reshape(&shape)?)
    }

    /// The same tensor with sorted, unique indices, duplicates summed
    /// (`coalesce()`), in COO layout. Already coalesced tensors are
    /// returned as they are (same pattern, same values).
    pub fn coalesce(&self) -> Result<SparseTensor> {
        if self.layout() != SparseLayout::Coo {
            return self.to_sparse_coo();
        }
        if self.is_coalesced() {
            return Ok(self.clone());
        }
        let p = &self.pattern;
        let lin = linear_indices(p);
        let mut order: Vec<usize> = (0..p.nnz).collect();
        order.sort_by_key(|&k| lin[k]); // stable: duplicates keep their order
        let mut group = vec![0i64; p.nnz];
        let mut firsts: Vec<usize> = Vec::new();
        for (pos, &k) in order.iter().enumerate() {
            if pos == 0 || lin[k] != lin[order[pos - 1]] {
                firsts.push(k);
            }
            group[k] = firsts.len() as i64 - 1;
        }
        let n = firsts.len();
        let Indices::Coo(idx) = &p.indices else {
            unreachable!("a COO pattern holds COO indices")
        };
        let mut indices = vec![0i64; p.sparse_dim * n];
        for (g, &k) in firsts.iter().enumerate() {
            for d in 0..p.sparse_dim {
                indices[d * n + g] = idx[d * p.nnz + k];
            }
        }
        let values = scatter_add_rows(&self.values, Arc::new(group), n)?;
        let pattern = Pattern::new_unchecked(
            SparseLayout::Coo,
            p.size.clone(),
            p.sparse_dim,
            n,
            Indices::Coo(indices),
            true,
        );
        Ok(SparseTensor::from_parts(pattern, values))
    }

    /// The same tensor in COO layout (`to_sparse()` of a sparse tensor).
    /// A CSR or CSC tensor gives a coalesced COO tensor in row-major order.
    pub fn to_sparse_coo(&self) -> Result<SparseTensor> {
        let p = &self.pattern;
        match p.layout {
            SparseLayout::Coo => Ok(self.clone()),
            SparseLayout::Csr => {
                let (r, c) = p.coordinates();
                Ok(coo_from_rows_cols(p, &r, &c, self.values.clone()))
            }
            SparseLayout::Csc => {
                let csr = self.to_sparse_csr()?;
                csr.to_sparse_coo()
            }
        }
    }

    /// The same 2-D tensor in CSR layout (`to_sparse_csr()`); a COO tensor
    /// is coalesced first.
    pub fn to_sparse_csr(&self) -> Result<SparseTensor> {
        self.need_2d("to_sparse_csr")?;
        let src = if self.layout() == SparseLayout::Coo {
            self.coalesce()?
        } else {
            self.clone()
        };
        if src.layout() == SparseLayout::Csr {
            return Ok(src);
        }
        let rows = src.pattern.rows();
        let values = match &rows.perm {
            None => src.values.clone(),
            Some(perm) => gather_rows(&src.values, perm)?,
        };
        let compressed = rows.crow.iter().map(|&v| v as i64).collect();
        let plain = rows.col.iter().map(|&v| v as i64).collect();
        Ok(compressed_from(
            SparseLayout::Csr,
            compressed,
            plain,
            &src,
            values,
        ))
    }

    /// The same 2-D tensor in CSC layout (`to_sparse_csc()`).
    pub fn to_sparse_csc(&self) -> Result<SparseTensor> {
        self.need_2d("to_sparse_csc")?;
        let src = if self.layout() == SparseLayout::Coo {
            self.coalesce()?
        } else {
            self.clone()
        };
        if src.layout() == SparseLayout::Csc {
            return Ok(src);
        }
        let t = src.pattern.transposed_rows();
        let values = match &t.perm {
            None => src.values.clone(),
            Some(perm) => gather_rows(&src.values, perm)?,
        };
        let compressed = t.crow.iter().map(|&v| v as i64).collect();
        let plain = t.col.iter().map(|&v| v as i64).collect();
        Ok(compressed_from(
            SparseLayout::Csc,
            compressed,
            plain,
            &src,
            values,
        ))
    }

    fn need_2d(&self, op: &'static str) -> Result<()> {
        if self.dim() != 2 || self.dense_dim() != 0 {
            return Err(SparseError::invalid(
                op,
                format!(
                    "only 2-D tensors without dense dims convert to compressed layouts, got size {:?} with {} dense dims",
                    self.shape(),
                    self.dense_dim()
                ),
            ));
        }
        Ok(())
    }
}

/// A 2-D COO tensor from per-value coordinates already in row-major order.
pub(crate) fn coo_from_rows_cols(
    p: &Pattern,
    rows: &[usize],
    cols: &[usize],
    values: Variable,
) -> SparseTensor {
    let nnz = rows.len();
    let mut indices: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
    indices.extend(cols.iter().map(|&c| c as i64));
    let pattern = Pattern::new_unchecked(
        SparseLayout::Coo,
        p.size.clone(),
        2,
        nnz,
        Indices::Coo(indices),
        true,
    );
    SparseTensor::from_parts(pattern, values)
}

fn compressed_from(
    layout: SparseLayout,
    compressed: Vec<i64>,
    plain: Vec<i64>,
    like: &SparseTensor,
    values: Variable,
) -> SparseTensor {
    let pattern = Pattern::new_unchecked(
        layout,
        like.shape().to_vec(),
        2,
        like.nnz(),
        Indices::Compressed { compressed, plain },
        true,
    );
    SparseTensor::from_parts(pattern, values)
}
