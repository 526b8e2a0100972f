//! `torch.sparse.sum` and `torch.sparse.softmax` / `log_softmax`: both
//! work on the specified elements only, so their gradients do too.

use std::sync::Arc;

use torchlet_autograd::Variable;
use torchlet_tensor::{normalize_dim, Tensor};

use crate::convert::{gather_rows, scatter_add_rows};
use crate::error::{Result, SparseError};
use crate::pattern::{Indices, Pattern, SparseLayout};
use crate::tensor::SparseTensor;

/// What `torch.sparse.sum` over some dims gives: a dense result when every
/// sparse dim is summed, a sparse one otherwise.
#[derive(Clone)]
pub enum Summed {
    /// Every sparse dim was summed: a dense variable of the remaining
    /// dense dims.
    Dense(Variable),
    /// Some sparse dims remain: a coalesced sparse tensor.
    Sparse(SparseTensor),
}

impl Summed {
    /// The result as a dense variable (a sparse one densified).
    pub fn into_dense(self) -> Result<Variable> {
        match self {
            Summed::Dense(v) => Ok(v),
            Summed::Sparse(s) => s.to_dense_variable(),
        }
    }
}

/// The COO indices of a (converted) tensor.
fn coo_indices(s: &SparseTensor) -> &[i64] {
    match &s.pattern.indices {
        Indices::Coo(idx) => idx,
        Indices::Compressed { .. } => unreachable!("converted to COO first"),
    }
}

/// Group id of each entry: its linear index over the sparse dims other
/// than `skip` (all of them when `skip` is `None`), renumbered densely.
fn groups(p: &Pattern, idx: &[i64], keep: &[usize]) -> (Vec<i64>, usize, Vec<usize>) {
    let mut key: Vec<(i64, usize)> = (0..p.nnz)
        .map(|k| {
            let lin = keep
                .iter()
                .fold(0i64, |acc, &d| acc * p.size[d] as i64 + idx[d * p.nnz + k]);
            (lin, k)
        })
        .collect();
    key.sort();
    let mut group = vec![0i64; p.nnz];
    let mut firsts = Vec::new();
    for (pos, &(lin, k)) in key.iter().enumerate() {
        if pos == 0 || lin != key[pos - 1].0 {
            firsts.push(k);
        }
        group[k] = firsts.len() as i64 - 1;
    }
    let n = firsts.len();
    (group, n, firsts)
}

impl SparseTensor {
    /// The sum of every specified element (`torch.sparse.sum(input)`), a
    /// 0-d variable. An uncoalesced tensor is coalesced first, as PyTorch
    /// does (repeated entries add up before the total, which can round
    /// differently from summing the values as stored). Its gradient
    /// reaches the specified elements only.
    pub fn sum(&self) -> Result<Variable> {
        crate::trace::sparse_op("sparse.sum", &[self], &[], || self.sum_untraced())
    }

    fn sum_untraced(&self) -> Result<Variable> {
        if self.is_coalesced() {
            return Ok(self.values.sum());
        }
        Ok(self.coalesce()?.values.sum())
    }

    /// The sum over `dims` (`torch.sparse.sum(input, dim)`; negative dims
    /// count from the end). Summing every sparse dim gives a dense result,
    /// summing some of them a coalesced sparse tensor.
    ///
    /// ```
    /// use torchlet_sparse::{Summed, ToSparse};
    /// use torchlet_tensor::Tensor;
    /// # fn main() -> Result<(), torchlet_sparse::SparseError> {
    /// let s = Tensor::from_vec(vec![1.0f32, 0.0, 2.0, 3.0], &[2, 2])?.to_sparse()?;
    /// let cols = s.sum_dims(&[0])?.into_dense()?;
    /// assert_eq!(cols.to_vec::<f32>()?, [3.0, 3.0]);
    /// assert!(matches!(s.sum_dims(&[0, 1])?, Summed::Dense(_)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn sum_dims(&self, dims: &[i64]) -> Result<Summed> {
        crate::trace::sparse_op("sparse.sum", &[self], &[], || self.sum_dims_untraced(dims))
    }

    fn sum_dims_untraced(&self, dims: &[i64]) -> Result<Summed> {
        let op = "sparse.sum";
        let mut ds = Vec::with_capacity(dims.len());
        for &d in dims {
            let d = normalize_dim(op, d, self.dim())?;
            if ds.contains(&d) {
                return Err(SparseError::invalid(
                    op,
                    format!("dim {d} appears twice in {dims:?}"),
                ));
            }
            ds.push(d);
        }
        let s = self.to_sparse_coo()?;
        let sd = s.sparse_dim();
        // Dense dims first: they are dims of the values.
        let dense: Vec<i64> = ds
            .iter()
            .filter(|&&d| d >= sd)
            .map(|&d| (d - sd + 1) as i64)
            .collect();
        let values = if dense.is_empty() {
            s.values.clone()
        } else {
            s.values.sum_dims(&dense, false)?
        };
        let keep: Vec<usize> = (0..sd).filter(|d| !ds.contains(d)).collect();
        let kept_dense: Vec<usize> = (sd..s.dim())
            .filter(|d| !ds.contains(d))
            .map(|d| s.shape()[d])
            .collect();
        if keep.is_empty() {
            return Ok(Summed::Dense(values.sum_dim(0)?));
        }
        let p = &s.pattern;
        let idx = coo_indices(&s);
        let (group, n, firsts) = groups(p, idx, &keep);
        let mut indices = vec![0i64; keep.len() * n];
        for (g, &k) in firsts.iter().enumerate() {
            for (row, &d) in keep.iter().enumerate() {
                indices[row * n + g] = idx[d * p.nnz + k];
            }
        }
        let values = scatter_add_rows(&values, Arc::new(group), n)?;
        let mut size: Vec<usize> = keep.iter().map(|&d| p.size[d]).collect();
        size.extend(kept_dense);
        let pattern = Pattern::new_unchecked(
            SparseLayout::Coo,
            size,
            keep.len(),
            n,
            Indices::Coo(indices),
            true,
        );
        Ok(Summed::Sparse(SparseTensor::from_parts(pattern, values)))
    }

    /// `torch.sparse.softmax(input, dim)`: a softmax over the specified
    /// elements along `dim` (unspecified ones count as `-inf`, so they
    /// neither appear nor take probability), keeping the pattern.
    pub fn softmax(&self, dim: i64) -> Result<SparseTensor> {
        crate::trace::sparse_op("sparse.softmax", &[self], &[], || {
            self.softmax_untraced(dim)
        })
    }

    fn softmax_untraced(&self, dim: i64) -> Result<SparseTensor> {
        self.grouped_softmax("sparse.softmax", dim, false)
    }

    /// `torch.sparse.log_softmax(input, dim)`, like [`SparseTensor::softmax`].
    pub fn log_softmax(&self, dim: i64) -> Result<SparseTensor> {
        crate::trace::sparse_op("sparse.log_softmax", &[self], &[], || {
            self.log_softmax_untraced(dim)
        })
    }

    fn log_softmax_untraced(&self, dim: i64) -> Result<SparseTensor> {
        self.grouped_softmax("sparse.log_softmax", dim, true)
    }

    fn grouped_softmax(&self, op: &'static str, dim: i64, log: bool) -> Result<SparseTensor> {
        let d = normalize_dim(op, dim, self.dim())?;
        let s = self.coalesce()?.to_sparse_coo()?;
        let sd = s.sparse_dim();
        if d >= sd {
            let v = &s.values;
            let vd = (d - sd + 1) as i64;
            let out = if log {
                v.log_softmax(vd)?
            } else {
                v.softmax(vd)?
            };
            return Ok(s.with_values(out));
        }
        let keep: Vec<usize> = (0..sd).filter(|&k| k != d).collect();
        let (group, n, _) = groups(&s.pattern, coo_indices(&s), &keep);
        let group_rows: Vec<usize> = group.iter().map(|&g| g as usize).collect();
        let x = &s.values;
        // The group maximum, a constant: softmax does not depend on it.
        let xd = x.data();
        let max = group_max(&xd, &group_rows, n)?;
        let z = x.sub(&Variable::constant(
            max.index_select(0, &index_of(&group_rows)?)?,
        ))?;
        let e = z.exp();
        let total = scatter_add_rows(&e, Arc::new(group), n)?;
        let out = if log {
            z.sub(&gather_rows(&total.log(), &group_rows)?)?
        } else {
            e.div(&gather_rows(&total, &group_rows)?)?
        };
        Ok(s.with_values(out))
    }
}

fn index_of(rows: &[usize]) -> Result<Tensor> {
    Ok(Tensor::from_vec(
        rows.iter().map(|&r| r as i64).collect(),
        &[rows.len()],
    )?)
}

/// Per group, the maximum of each value column (`-inf` never remains: every
/// group has an entry).
fn group_max(x: &Tensor, group: &[usize], n: usize) -> Result<Tensor> {
    let mut shape = x.shape().to_vec();
    let inner: usize = shape[1..].iter().product();
    let xs = x
        .to_dtype(torchlet_tensor::DType::F64)
        .contiguous()
        .to_vec::<f64>()?;
    let mut m = vec![f64::NEG_INFINITY; n * inner];
    for (k, &g) in group.iter().enumerate() {
        for j in 0..inner {
            let v = xs[k * inner + j];
            if v > m[g * inner + j] || v.is_nan() {
                m[g * inner + j] = v;
            }
        }
    }
    shape[0] = n;
    Ok(Tensor::from_vec(m, &shape)?.to_dtype(x.dtype()))
}
