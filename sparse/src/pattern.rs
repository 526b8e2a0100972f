//! The index structure of a sparse tensor (its *pattern*), checked once
//! when built, and the row-compressed views the kernels run on.

use std::sync::{Arc, OnceLock};

use crate::error::{Result, SparseError};

/// How a sparse tensor stores where its values are (`tensor.layout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SparseLayout {
    /// Coordinate list: `indices` `[sparse_dim, nnz]` (`torch.sparse_coo`).
    Coo,
    /// Compressed sparse rows: `crow_indices` `[rows + 1]`, `col_indices`
    /// `[nnz]` (`torch.sparse_csr`).
    Csr,
    /// Compressed sparse columns: `ccol_indices` `[cols + 1]`,
    /// `row_indices` `[nnz]` (`torch.sparse_csc`).
    Csc,
}

impl SparseLayout {
    /// PyTorch's name for the layout (`torch.sparse_coo`, ...).
    pub fn torch_name(self) -> &'static str {
        match self {
            SparseLayout::Coo => "torch.sparse_coo",
            SparseLayout::Csr => "torch.sparse_csr",
            SparseLayout::Csc => "torch.sparse_csc",
        }
    }
}

/// The stored indices of one layout.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Indices {
    /// COO: `[sparse_dim * nnz]`, dim-major (`indices[d * nnz + k]`).
    Coo(Vec<i64>),
    /// CSR (rows compressed) or CSC (columns compressed).
    Compressed {
        /// `[outer + 1]`, non-decreasing from 0 to nnz.
        compressed: Vec<i64>,
        /// `[nnz]`, in `0..inner`.
        plain: Vec<i64>,
    },
}

/// A validated index structure: layout, size, indices, whether a COO
/// pattern is coalesced, and lazily built row-compressed views (cached:
/// a backward reuses the transposed view its forward or an earlier
/// backward built).
#[derive(Debug)]
pub(crate) struct Pattern {
    pub layout: SparseLayout,
    pub size: Vec<usize>,
    pub sparse_dim: usize,
    pub nnz: usize,
    pub indices: Indices,
    pub coalesced: bool,
    rows: OnceLock<Arc<Csr>>,
    transposed: OnceLock<Arc<Csr>>,
}

/// A 2-D pattern in compressed-row order, for the kernels: row `i`'s
/// entries are positions `crow[i]..crow[i + 1]`, entry `p` sits in column
/// `col[p]` and holds value `perm[p]` of the tensor's values (`p` itself
/// when `perm` is `None`).
#[derive(Debug)]
pub(crate) struct Csr {
    pub rows: usize,
    pub cols: usize,
    pub crow: Vec<usize>,
    pub col: Vec<usize>,
    pub perm: Option<Vec<usize>>,
}

impl Csr {
    /// Sorts entries (`row_of[k]`, `col_of[k]`), holding value `value_of(k)`,
    /// by row, stably (a counting sort: O(nnz + rows)).
    fn from_entries(
        rows: usize,
        cols: usize,
        row_of: &[usize],
        col_of: &[usize],
        value_of: impl Fn(usize) -> usize,
    ) -> Csr {
        let nnz = row_of.len();
        let mut crow = vec![0usize; rows + 1];
        for &r in row_of {
            crow[r + 1] += 1;
        }
        for i in 0..rows {
            crow[i + 1] += crow[i];
        }
        let mut next = crow.clone();
        let mut col = vec![0usize; nnz];
        let mut perm = vec![0usize; nnz];
        for k in 0..nnz {
            let p = next[row_of[k]];
            next[row_of[k]] += 1;
            col[p] = col_of[k];
            perm[p] = value_of(k);
        }
        let identity = perm.iter().enumerate().all(|(p, &v)| p == v);
        Csr {
            rows,
            cols,
            crow,
            col,
            perm: (!identity).then_some(perm),
        }
    }

    /// The value index of entry `p`.
    #[inline]
    pub fn value(&self, p: usize) -> usize {
        self.perm.as_ref().map_or(p, |perm| perm[p])
    }

    /// The row of every entry, in entry order.
    pub fn row_of_entries(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.col.len());
        for i in 0..self.rows {
            out.extend(std::iter::repeat_n(i, self.crow[i + 1] - self.crow[i]));
        }
        out
    }

    /// The transpose, in compressed-row order (entries keep their values).
    fn transpose(&self) -> Csr {
        let rows = self.row_of_entries();
        Csr::from_entries(self.cols, self.rows, &self.col, &rows, |p| self.value(p))
    }
}

impl Pattern {
    /// A pattern from parts already checked by the caller.
    pub(crate) fn new_unchecked(
        layout: SparseLayout,
        size: Vec<usize>,
        sparse_dim: usize,
        nnz: usize,
        indices: Indices,
        coalesced: bool,
    ) -> Pattern {
        Pattern {
            layout,
            size,
            sparse_dim,
            nnz,
            indices,
            coalesced,
            rows: OnceLock::new(),
            transposed: OnceLock::new(),
        }
    }

    /// A COO pattern after PyTorch's `check_invariants`: `indices` holds
    /// `sparse_dim` rows of `nnz` non-negative indices, each below its
    /// dim's size. With 0 sparse dims `indices` is empty and the `nnz`
    /// entries all sit at the one (empty) index tuple.
    pub(crate) fn coo(
        op: &'static str,
        indices: Vec<i64>,
        sparse_dim: usize,
        nnz: usize,
        size: Vec<usize>,
        coalesced: bool,
    ) -> Result<Pattern> {
        if indices.len() != sparse_dim * nnz {
            return Err(SparseError::invalid(
                op,
                format!(
                    "{} indices do not fill {sparse_dim} sparse dims of {nnz} entries",
                    indices.len()
                ),
            ));
        }
        if sparse_dim > size.len() {
            return Err(SparseError::invalid(
                op,
                format!("{sparse_dim} sparse dims do not fit a tensor of size {size:?}"),
            ));
        }
        for d in 0..sparse_dim {
            for (k, &i) in indices[d * nnz..(d + 1) * nnz].iter().enumerate() {
                if i < 0 || i as usize >= size[d] {
                    return Err(SparseError::invalid(
                        op,
                        format!(
                            "index {i} at position ({d}, {k}) is out of bounds for dim {d} of size {}",
                            size[d]
                        ),
                    ));
                }
            }
        }
        Ok(Pattern::new_unchecked(
            SparseLayout::Coo,
            size,
            sparse_dim,
            nnz,
            Indices::Coo(indices),
            coalesced,
        ))
    }

    /// A CSR or CSC pattern after PyTorch's checks: `compressed` starts at
    /// 0, never decreases and ends at nnz; `plain` indices are in range and
    /// strictly increase within each compressed slot.
    pub(crate) fn compressed(
        op: &'static str,
        layout: SparseLayout,
        compressed: Vec<i64>,
        plain: Vec<i64>,
        size: Vec<usize>,
    ) -> Result<Pattern> {
        let (cname, pname) = match layout {
            SparseLayout::Csr => ("crow_indices", "col_indices"),
            SparseLayout::Csc => ("ccol_indices", "row_indices"),
            SparseLayout::Coo => unreachable!("compressed pattern of a COO layout"),
        };
        if size.len() != 2 {
            return Err(SparseError::invalid(
                op,
                format!("{layout:?} tensors are 2-D here, got size {size:?}"),
            ));
        }
        let (outer, inner) = match layout {
            SparseLayout::Csr => (size[0], size[1]),
            _ => (size[1], size[0]),
        };
        if compressed.len() != outer + 1 {
            return Err(SparseError::invalid(
                op,
                format!(
                    "{cname} must have length {} (size {size:?}), got {}",
                    outer + 1,
                    compressed.len()
                ),
            ));
        }
        if compressed[0] != 0 {
            return Err(SparseError::invalid(
                op,
                format!("{cname}[0] must be 0, got {}", compressed[0]),
            ));
        }
        if let Some(i) = (0..outer).find(|&i| compressed[i + 1] < compressed[i]) {
            return Err(SparseError::invalid(
                op,
                format!(
                    "{cname} must be non-decreasing, but {cname}[{}] = {} < {cname}[{i}] = {}",
                    i + 1,
                    compressed[i + 1],
                    compressed[i]
                ),
            ));
        }
        if compressed[outer] != plain.len() as i64 {
            return Err(SparseError::invalid(
                op,
                format!(
                    "{cname}[-1] = {} must equal nnz = {} (the length of {pname})",
                    compressed[outer],
                    plain.len()
                ),
            ));
        }
        for i in 0..outer {
            let (a, b) = (compressed[i] as usize, compressed[i + 1] as usize);
            for p in a..b {
                let j = plain[p];
                if j < 0 || j as usize >= inner {
                    return Err(SparseError::invalid(
                        op,
                        format!("{pname}[{p}] = {j} is out of bounds for size {inner}"),
                    ));
                }
                if p > a && plain[p - 1] >= j {
                    return Err(SparseError::invalid(
                        op,
                        format!(
                            "{pname} must strictly increase within each {}, but {pname}[{}] = {} and {pname}[{p}] = {j}",
                            if layout == SparseLayout::Csr { "row" } else { "column" },
                            p - 1,
                            plain[p - 1]
                        ),
                    ));
                }
            }
        }
        let nnz = plain.len();
        Ok(Pattern::new_unchecked(
            layout,
            size,
            2,
            nnz,
            Indices::Compressed { compressed, plain },
            true,
        ))
    }

    /// The number of dense (trailing, per-value) dims.
    pub(crate) fn dense_dim(&self) -> usize {
        self.size.len() - self.sparse_dim
    }

    /// The row (dim 0) and column (dim 1) of every value, in value order,
    /// for 2-D sparse patterns (any layout).
    pub(crate) fn coordinates(&self) -> (Vec<usize>, Vec<usize>) {
        match &self.indices {
            Indices::Coo(idx) => {
                let n = self.nnz;
                let rows = idx[..n].iter().map(|&i| i as usize).collect();
                let cols = if self.sparse_dim > 1 {
                    idx[n..2 * n].iter().map(|&i| i as usize).collect()
                } else {
                    vec![0; n]
                };
                (rows, cols)
            }
            Indices::Compressed { compressed, plain } => {
                let mut outer = Vec::with_capacity(self.nnz);
                for i in 0..compressed.len() - 1 {
                    let len = (compressed[i + 1] - compressed[i]) as usize;
                    outer.extend(std::iter::repeat_n(i, len));
                }
                let inner = plain.iter().map(|&j| j as usize).collect();
                match self.layout {
                    SparseLayout::Csr => (outer, inner),
                    _ => (inner, outer),
                }
            }
        }
    }

    /// The 2-D pattern in compressed-row order (built once, then cached).
    pub(crate) fn rows(&self) -> Arc<Csr> {
        Arc::clone(self.rows.get_or_init(|| {
            let (r, c) = (self.size[0], self.size[1]);
            Arc::new(match (&self.indices, self.layout) {
                (Indices::Compressed { compressed, plain }, SparseLayout::Csr) => Csr {
                    rows: r,
                    cols: c,
                    crow: compressed.iter().map(|&v| v as usize).collect(),
                    col: plain.iter().map(|&v| v as usize).collect(),
                    perm: None,
                },
                _ => {
                    let (rows, cols) = self.coordinates();
                    Csr::from_entries(r, c, &rows, &cols, |k| k)
                }
            })
        }))
    }

    /// The transposed 2-D pattern in compressed-row order (what `Aᵀ G`
    /// runs on; built once, then cached for every later backward).
    pub(crate) fn transposed_rows(&self) -> Arc<Csr> {
        Arc::clone(
            self.transposed
                .get_or_init(|| Arc::new(self.rows().transpose())),
        )
    }
}
