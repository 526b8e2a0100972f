//! Views and selections: `transpose`/`t`, `index_select`, `narrow`.

use torchlet_tensor::{normalize_dim, DType, Tensor};

use crate::convert::gather_rows;
use crate::error::{Result, SparseError};
use crate::pattern::{Indices, Pattern, SparseLayout};
use crate::tensor::SparseTensor;

impl SparseTensor {
    /// The transpose of a 2-D tensor (`t()`): a CSR tensor becomes the CSC
    /// tensor with the same arrays (and back), a COO tensor swaps its index
    /// rows. The values are shared.
    pub fn t(&self) -> Result<SparseTensor> {
        if self.sparse_dim() != 2 {
            return Err(SparseError::invalid(
                "t",
                format!(
                    "expects a tensor with 2 sparse dims, got size {:?} with {} sparse dims",
                    self.shape(),
                    self.sparse_dim()
                ),
            ));
        }
        self.transpose(0, 1)
    }

    /// Swaps two sparse dims (`transpose(dim0, dim1)`; negative dims count
    /// from the end). Dense dims cannot be swapped with sparse ones, as in
    /// PyTorch; compressed layouts swap rows and columns by flipping
    /// between CSR and CSC.
    pub fn transpose(&self, dim0: i64, dim1: i64) -> Result<SparseTensor> {
        let op = "transpose";
        let (d0, d1) = (
            normalize_dim(op, dim0, self.dim())?,
            normalize_dim(op, dim1, self.dim())?,
        );
        let p = &self.pattern;
        if d0 == d1 {
            return Ok(self.clone());
        }
        if d0 >= p.sparse_dim || d1 >= p.sparse_dim {
            return Err(SparseError::invalid(
                op,
                format!(
                    "can only swap two sparse dims (there are {}), got {d0} and {d1}",
                    p.sparse_dim
                ),
            ));
        }
        let mut size = p.size.clone();
        size.swap(d0, d1);
        let (indices, layout, coalesced) = match &p.indices {
            Indices::Coo(idx) => {
                let n = p.nnz;
                let mut out = idx.clone();
                out[d0 * n..(d0 + 1) * n].copy_from_slice(&idx[d1 * n..(d1 + 1) * n]);
                out[d1 * n..(d1 + 1) * n].copy_from_slice(&idx[d0 * n..(d0 + 1) * n]);
                (Indices::Coo(out), SparseLayout::Coo, n <= 1)
            }
            compressed => {
                let layout = match p.layout {
                    SparseLayout::Csr => SparseLayout::Csc,
                    _ => SparseLayout::Csr,
                };
                (compressed.clone(), layout, true)
            }
        };
        let pattern = Pattern::new_unchecked(layout, size, p.sparse_dim, p.nnz, indices, coalesced);
        Ok(SparseTensor::from_parts(pattern, self.values.clone()))
    }

    /// The slices at `index` along `dim` (`index_select`): on a sparse dim,
    /// the entries whose index is selected, renumbered in `index`'s order
    /// (repeats allowed); on a dense dim, a selection inside each value.
    /// The result has `self`'s layout.
    pub fn index_select(&self, dim: i64, index: &Tensor) -> Result<SparseTensor> {
        let op = "index_select";
        let d = normalize_dim(op, dim, self.dim())?;
        if index.dtype() != DType::I64 || index.dim() > 1 {
            return Err(SparseError::invalid(
                op,
                format!(
                    "index must be a 1-D int64 tensor, got dtype {} shape {:?}",
                    index.dtype(),
                    index.shape()
                ),
            ));
        }
        let picks = index.contiguous().to_vec::<i64>()?;
        let len = self.shape()[d];
        if let Some((k, &bad)) = picks
            .iter()
            .enumerate()
            .find(|(_, &i)| i < 0 || i as usize >= len)
        {
            return Err(SparseError::invalid(
                op,
                format!("index {bad} at position {k} is out of range for dim {d} of size {len}"),
            ));
        }
        let coo = self.to_sparse_coo()?;
        let out = if d >= coo.sparse_dim() {
            let vd = (d - coo.sparse_dim() + 1) as i64;
            let mut size = coo.shape().to_vec();
            size[d] = picks.len();
            let values = coo.values.index_select(vd, index)?;
            let p = &coo.pattern;
            let pattern = Pattern::new_unchecked(
                SparseLayout::Coo,
                size,
                p.sparse_dim,
                p.nnz,
                p.indices.clone(),
                p.coalesced,
            );
            SparseTensor::from_parts(pattern, values)
        } else {
            // Entries by their index along `d`, then one copy per pick.
            let p = &coo.pattern;
            let Indices::Coo(idx) = &p.indices else {
                unreachable!("COO")
            };
            let mut by_index: Vec<Vec<usize>> = vec![Vec::new(); len];
            for k in 0..p.nnz {
                by_index[idx[d * p.nnz + k] as usize].push(k);
            }
            let mut take = Vec::new();
            let mut new_pos = Vec::new();
            for (s, &i) in picks.iter().enumerate() {
                for &k in &by_index[i as usize] {
                    take.push(k);
                    new_pos.push(s as i64);
                }
            }
            let n = take.len();
            let mut out = vec![0i64; p.sparse_dim * n];
            for dd in 0..p.sparse_dim {
                for (j, &k) in take.iter().enumerate() {
                    out[dd * n + j] = if dd == d {
                        new_pos[j]
                    } else {
                        idx[dd * p.nnz + k]
                    };
                }
            }
            let mut size = p.size.clone();
            size[d] = picks.len();
            let sorted = is_sorted_unique(&out, p.sparse_dim, n, &size);
            let pattern = Pattern::new_unchecked(
                SparseLayout::Coo,
                size,
                p.sparse_dim,
                n,
                Indices::Coo(out),
                sorted,
            );
            SparseTensor::from_parts(pattern, gather_rows(&coo.values, &take)?)
        };
        self.back_to_layout(out)
    }

    /// `length` slices from `start` along `dim` (`narrow`); negative
    /// `start` counts from the end. Entries outside are dropped, the rest
    /// shift down by `start`.
    pub fn narrow(&self, dim: i64, start: i64, length: usize) -> Result<SparseTensor> {
        let op = "narrow";
        let d = normalize_dim(op, dim, self.dim())?;
        let size_d = self.shape()[d] as i64;
        let start = if start < 0 { start + size_d } else { start };
        if start < 0 || start + length as i64 > size_d {
            return Err(SparseError::invalid(
                op,
                format!("start ({start}) + length ({length}) exceeds dim {d} of size {size_d}"),
            ));
        }
        let index = Tensor::from_vec((start..start + length as i64).collect(), &[length])?;
        self.index_select(d as i64, &index)
    }

    /// `out` (COO) converted back to this tensor's layout.
    fn back_to_layout(&self, out: SparseTensor) -> Result<SparseTensor> {
        match self.layout() {
            SparseLayout::Coo => Ok(out),
            SparseLayout::Csr => out.to_sparse_csr(),
            SparseLayout::Csc => out.to_sparse_csc(),
        }
    }
}

/// Whether COO indices are in strictly increasing row-major order.
fn is_sorted_unique(idx: &[i64], sparse_dim: usize, n: usize, size: &[usize]) -> bool {
    let lin = |k: usize| (0..sparse_dim).fold(0i64, |acc, d| acc * size[d] as i64 + idx[d * n + k]);
    (1..n).all(|k| lin(k - 1) < lin(k))
}
