//! Views and selections: `transpose`/`t`, `index_select`, `narrow`.

use torchlet_tensor::{normalize_dim, DType, Tensor};

use crate::convert::gather_rows;
use crate::error::{Result, SparseError};
use crate::pattern::{Indices, Pattern, SparseLayout};
use crate::tensor::SparseTensor;

impl SparseTensor {
    /// The transpose (`t()`): a tensor with at most 2 sparse dims and no
    /// dense dims, as in PyTorch; below 2 dims it is the tensor itself. A
    /// CSR tensor becomes the CSC tensor with the same arrays (and back),
    /// a COO tensor swaps its index rows. The values are shared.
    pub fn t(&self) -> Result<SparseTensor> {
        if self.sparse_dim() > 2 || self.dense_dim() != 0 {
            return Err(SparseError::invalid(
                "t",
                format!(
                    "expects a tensor with <= 2 sparse and 0 dense dimensions, but got {} sparse and {} dense dimensions",
                    self.sparse_dim(),
                    self.dense_dim()
                ),
            ));
        }
        if self.dim() < 2 {
            return Ok(self.clone());
        }
        self.transpose(0, 1)
    }

    /// Swaps two sparse dims (`transpose(dim0, dim1)`; negative dims count
    /// from the end). Dense dims cannot be swapped with sparse ones, as in
    /// PyTorch; compressed layouts swap rows and columns by flipping
    /// between CSR and CSC. A COO result with entries is not marked
    /// coalesced (its indices are no longer sorted), as in PyTorch.
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
                // PyTorch's sparse_transpose_ marks any tensor with entries
                // uncoalesced (even one entry); an empty one keeps its flag.
                let coalesced = if n == 0 { p.coalesced } else { false };
                (Indices::Coo(out), SparseLayout::Coo, coalesced)
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
    /// the entries whose index is selected, renumbered by their position
    /// in `index` (repeats allowed; negative indices count from the end,
    /// as PyTorch's sparse `index_select` allows); on a dense dim, a
    /// selection inside each value. The entries come in PyTorch's order
    /// (pick by pick, or entry by entry when `index` is longer than the
    /// number of entries) and a COO result with two or more entries is not
    /// marked coalesced, as in PyTorch. CSR and CSC tensors (which
    /// PyTorch does not select from) give a result in their layout.
    pub fn index_select(&self, dim: i64, index: &Tensor) -> Result<SparseTensor> {
        let op = "index_select";
        if self.dim() == 0 {
            return Err(SparseError::invalid(
                op,
                "cannot be applied to a 0-dim tensor",
            ));
        }
        let d = normalize_dim(op, dim, self.dim())?;
        if index.dtype() != DType::I64 || index.dim() != 1 {
            return Err(SparseError::invalid(
                op,
                format!(
                    "index must be a 1-D int64 tensor, got dtype {} shape {:?}",
                    index.dtype(),
                    index.shape()
                ),
            ));
        }
        let mut picks = index.contiguous().to_vec::<i64>()?;
        let len = self.shape()[d];
        // Negative picks wrap on sparse dims (PyTorch's sparse kernel); a
        // dense dim is a dense index_select of the values, which refuses them.
        let wraps = d < self.sparse_dim();
        let lowest = if wraps { -(len as i64) } else { 0 };
        if let Some((k, &bad)) = picks
            .iter()
            .enumerate()
            .find(|(_, &i)| i < lowest || i >= len as i64)
        {
            return Err(SparseError::invalid(
                op,
                format!("index {bad} at position {k} is out of range for dim {d} of size {len}"),
            ));
        }
        picks
            .iter_mut()
            .filter(|i| **i < 0)
            .for_each(|i| *i += len as i64);
        let coo = self.to_sparse_coo()?;
        let p = &coo.pattern;
        let mut size = p.size.clone();
        size[d] = picks.len();
        let out = if !wraps {
            let vd = (d - p.sparse_dim + 1) as i64;
            let values = coo.values.index_select(vd, index)?;
            let pattern = Pattern::new_unchecked(
                SparseLayout::Coo,
                size,
                p.sparse_dim,
                p.nnz,
                p.indices.clone(),
                p.nnz < 2,
            );
            SparseTensor::from_parts(pattern, values)
        } else {
            let Indices::Coo(idx) = &p.indices else {
                unreachable!("COO")
            };
            let at_d = &idx[d * p.nnz..(d + 1) * p.nnz];
            // (entry taken, its position in `index`), in PyTorch's order.
            let mut pairs: Vec<(usize, usize)> = Vec::new();
            if picks_outer(p.nnz, picks.len(), len, coo.is_coalesced(), d) {
                let mut by_index: Vec<Vec<usize>> = vec![Vec::new(); len];
                for (k, &i) in at_d.iter().enumerate() {
                    by_index[i as usize].push(k);
                }
                for (s, &i) in picks.iter().enumerate() {
                    pairs.extend(by_index[i as usize].iter().map(|&k| (k, s)));
                }
            } else {
                let mut by_index: Vec<Vec<usize>> = vec![Vec::new(); len];
                for (s, &i) in picks.iter().enumerate() {
                    by_index[i as usize].push(s);
                }
                for (k, &i) in at_d.iter().enumerate() {
                    pairs.extend(by_index[i as usize].iter().map(|&s| (k, s)));
                }
            }
            let n = pairs.len();
            let mut out = vec![0i64; p.sparse_dim * n];
            for dd in 0..p.sparse_dim {
                for (j, &(k, s)) in pairs.iter().enumerate() {
                    out[dd * n + j] = if dd == d {
                        s as i64
                    } else {
                        idx[dd * p.nnz + k]
                    };
                }
            }
            let take: Vec<usize> = pairs.iter().map(|&(k, _)| k).collect();
            let pattern = Pattern::new_unchecked(
                SparseLayout::Coo,
                size,
                p.sparse_dim,
                n,
                Indices::Coo(out),
                n < 2,
            );
            SparseTensor::from_parts(pattern, gather_rows(&coo.values, &take)?)
        };
        self.back_to_layout(out)
    }

    /// `length` slices from `start` along `dim`, copied (PyTorch's
    /// `narrow_copy`; PyTorch's `narrow` has no sparse form); a negative
    /// `start` counts from the end, as `narrow` does. Entries outside are
    /// dropped and the rest keep their order, shifted down by `start`; a
    /// COO result keeps the input's coalesced flag, as in PyTorch.
    pub fn narrow(&self, dim: i64, start: i64, length: usize) -> Result<SparseTensor> {
        let op = "narrow";
        if self.dim() == 0 {
            return Err(SparseError::invalid(
                op,
                "cannot be applied to a 0-dim tensor",
            ));
        }
        let d = normalize_dim(op, dim, self.dim())?;
        let size_d = self.shape()[d];
        let first = if start < 0 {
            start.checked_add(size_d as i64)
        } else {
            Some(start)
        };
        let end = first
            .filter(|&s| s >= 0)
            .and_then(|s| (s as usize).checked_add(length))
            .filter(|&e| e <= size_d);
        let (Some(first), Some(end)) = (first, end) else {
            return Err(SparseError::invalid(
                op,
                format!("start ({start}) + length ({length}) exceeds dim {d} of size {size_d}"),
            ));
        };
        let first = first as usize;
        let coo = self.to_sparse_coo()?;
        let p = &coo.pattern;
        let mut size = p.size.clone();
        size[d] = length;
        let out = if d >= p.sparse_dim {
            let vd = (d - p.sparse_dim + 1) as i64;
            let values = coo.values.narrow(vd, first as i64, length)?.contiguous();
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
            let Indices::Coo(idx) = &p.indices else {
                unreachable!("COO")
            };
            let take: Vec<usize> = (0..p.nnz)
                .filter(|&k| (first..end).contains(&(idx[d * p.nnz + k] as usize)))
                .collect();
            let n = take.len();
            let mut out = vec![0i64; p.sparse_dim * n];
            for dd in 0..p.sparse_dim {
                let shift = if dd == d { first as i64 } else { 0 };
                for (j, &k) in take.iter().enumerate() {
                    out[dd * n + j] = idx[dd * p.nnz + k] - shift;
                }
            }
            let pattern = Pattern::new_unchecked(
                SparseLayout::Coo,
                size,
                p.sparse_dim,
                n,
                Indices::Coo(out),
                p.coalesced,
            );
            SparseTensor::from_parts(pattern, gather_rows(&coo.values, &take)?)
        };
        self.back_to_layout(out)
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

/// Whether PyTorch's `index_select` (`index_select_sparse_cpu`) lists the
/// result pick by pick (for each position of `index`, the matching
/// entries in their order) rather than entry by entry (for each entry, the
/// positions of `index` naming it). `nnz` entries, `index_len` picks, a
/// dim of `size`; PyTorch's brute-force rule for small problems, and its
/// cost rules for large ones as they run on one thread (PyTorch splits
/// work above 32768 items, so beyond that its order also depends on its
/// thread count).
fn picks_outer(nnz: usize, index_len: usize, size: usize, coalesced: bool, dim: usize) -> bool {
    const BRUTE_FORCE_SIZE_LIMIT: usize = 2 << 14;
    if nnz <= BRUTE_FORCE_SIZE_LIMIT
        && index_len <= BRUTE_FORCE_SIZE_LIMIT
        && nnz * index_len <= BRUTE_FORCE_SIZE_LIMIT
    {
        // The longer of the two is the inner loop.
        return nnz >= index_len;
    }
    if nnz <= size {
        // Binary search into the sorted entries (pick-major) or into the
        // sorted index (entry-major), whichever sorts less.
        let (n, m) = (nnz as f64, index_len as f64);
        nnz <= index_len || (coalesced && dim == 0 && m * n.log2() <= (n + m) * m.log2())
    } else {
        // Count tables: the copy work is the same both ways, so the
        // shorter list is walked.
        index_len <= nnz
    }
}
