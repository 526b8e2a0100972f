//! [`SparseTensor`]: a pattern plus a values variable, and its
//! constructors and accessors.

use std::sync::Arc;

use torchlet_autograd::{Gradient, SparseGrad, Variable};
use torchlet_tensor::{DType, Tensor};

use crate::error::{Result, SparseError};
use crate::pattern::{Indices, Pattern, SparseLayout};

/// A sparse tensor (`torch.sparse_coo` / `sparse_csr` / `sparse_csc`):
/// where the specified elements are (the pattern, fixed once built and
/// shared between tensors that keep it) and their values, a
/// [`Variable`] of shape `[nnz, dense dims...]`.
///
/// Because the values are a variable, a sparse tensor can be a leaf that
/// requires grad ([`SparseTensor::requires_grad_`]), ops on it record a
/// graph through its values, and its gradient ([`SparseTensor::grad`])
/// keeps its pattern, as in PyTorch. Cloning is cheap.
///
/// ```
/// use torchlet_sparse::{sparse_coo_tensor, SparseLayout};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_sparse::SparseError> {
/// let i = Tensor::from_vec(vec![0i64, 1, 1, 2, 0, 2], &[2, 3])?;
/// let v = Tensor::from_vec(vec![3.0f32, 4.0, 5.0], &[3])?;
/// let s = sparse_coo_tensor(&i, v, &[2, 3])?;
/// assert_eq!((s.layout(), s.nnz(), s.shape()), (SparseLayout::Coo, 3, &[2, 3][..]));
/// assert_eq!(s.to_dense()?.to_vec::<f32>()?, [0.0, 0.0, 3.0, 4.0, 0.0, 5.0]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SparseTensor {
    pub(crate) pattern: Arc<Pattern>,
    pub(crate) values: Variable,
    /// For a leaf that requires grad: a variable of the tensor's full
    /// shape (a zero-stride view: nothing allocated) whose sparse gradient
    /// is this tensor's gradient. The values are recorded from it, so
    /// gradients on the pattern reach it through them, and ops whose
    /// gradient spreads beyond the pattern (`add`) send theirs to it
    /// directly, as PyTorch's sparse leaves receive them.
    pub(crate) leaf: Option<Variable>,
}

/// A COO tensor from `indices` (`[sparse_dim, nnz]` int64), `values`
/// (`[nnz, dense dims...]`, f32 or f64; a variable keeps its graph) and
/// the full `size` (`torch.sparse_coo_tensor`). Indices are checked like
/// PyTorch's `check_invariants`: an out-of-range or negative index, or
/// values whose shape does not fit, is an error naming the position and
/// value. As in PyTorch, the result is marked coalesced only when it has
/// fewer than 2 entries (duplicates allowed; see
/// [`SparseTensor::coalesce`]).
pub fn sparse_coo_tensor(
    indices: &Tensor,
    values: impl Into<Variable>,
    size: &[usize],
) -> Result<SparseTensor> {
    let op = "sparse_coo_tensor";
    let values = values.into();
    if indices.dtype() != DType::I64 || indices.dim() != 2 {
        return Err(SparseError::invalid(
            op,
            format!(
                "indices must be a 2-D int64 tensor [sparse_dim, nnz], got dtype {} and shape {:?}",
                indices.dtype(),
                indices.shape()
            ),
        ));
    }
    let (sparse_dim, nnz) = (indices.shape()[0], indices.shape()[1]);
    check_values(op, &values, nnz, size, sparse_dim)?;
    let pattern = Pattern::coo(
        op,
        indices.contiguous().to_vec::<i64>()?,
        sparse_dim,
        nnz,
        size.to_vec(),
        nnz <= 1,
    )?;
    Ok(SparseTensor::from_parts(pattern, values))
}

/// A CSR tensor from `crow_indices` `[rows + 1]`, `col_indices` `[nnz]`,
/// `values` `[nnz]` and `size` `[rows, cols]` (`torch.sparse_csr_tensor`),
/// checked like PyTorch: `crow_indices` starts at 0, never decreases and
/// ends at nnz; column indices are in range and increase within a row.
pub fn sparse_csr_tensor(
    crow_indices: &Tensor,
    col_indices: &Tensor,
    values: impl Into<Variable>,
    size: &[usize],
) -> Result<SparseTensor> {
    compressed_tensor(
        "sparse_csr_tensor",
        SparseLayout::Csr,
        crow_indices,
        col_indices,
        values.into(),
        size,
    )
}

/// A CSC tensor from `ccol_indices` `[cols + 1]`, `row_indices` `[nnz]`,
/// `values` `[nnz]` and `size` (`torch.sparse_csc_tensor`), checked like
/// [`sparse_csr_tensor`] with rows and columns swapped.
pub fn sparse_csc_tensor(
    ccol_indices: &Tensor,
    row_indices: &Tensor,
    values: impl Into<Variable>,
    size: &[usize],
) -> Result<SparseTensor> {
    compressed_tensor(
        "sparse_csc_tensor",
        SparseLayout::Csc,
        ccol_indices,
        row_indices,
        values.into(),
        size,
    )
}

fn compressed_tensor(
    op: &'static str,
    layout: SparseLayout,
    compressed: &Tensor,
    plain: &Tensor,
    values: Variable,
    size: &[usize],
) -> Result<SparseTensor> {
    for (name, t) in [("compressed indices", compressed), ("plain indices", plain)] {
        if t.dtype() != DType::I64 || t.dim() != 1 {
            return Err(SparseError::invalid(
                op,
                format!(
                    "{name} must be a 1-D int64 tensor, got dtype {} and shape {:?}",
                    t.dtype(),
                    t.shape()
                ),
            ));
        }
    }
    check_values(op, &values, plain.numel(), size, size.len().min(2))?;
    let pattern = Pattern::compressed(
        op,
        layout,
        compressed.contiguous().to_vec::<i64>()?,
        plain.contiguous().to_vec::<i64>()?,
        size.to_vec(),
    )?;
    Ok(SparseTensor::from_parts(pattern, values))
}

/// Values must be float, `[nnz, size[sparse_dim..]]`, and the size's
/// element count must fit an int64 (PyTorch's numel check; linear indices
/// over the sparse dims are int64).
fn check_values(
    op: &'static str,
    values: &Variable,
    nnz: usize,
    size: &[usize],
    sparse_dim: usize,
) -> Result<()> {
    let numel = size.iter().try_fold(1i64, |acc, &d| {
        i64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
    });
    if numel.is_none() {
        return Err(SparseError::invalid(
            op,
            format!("numel: integer multiplication overflow (size {size:?})"),
        ));
    }
    if !values.dtype().is_float() {
        return Err(SparseError::invalid(
            op,
            format!("values must be float32 or float64, got {}", values.dtype()),
        ));
    }
    let mut want = vec![nnz];
    want.extend_from_slice(size.get(sparse_dim..).unwrap_or(&[]));
    if values.shape() != want {
        return Err(SparseError::invalid(
            op,
            format!(
                "values of shape {:?} do not fit nnz = {nnz} and size {size:?} (expected {want:?})",
                values.shape()
            ),
        ));
    }
    Ok(())
}

impl SparseTensor {
    pub(crate) fn from_parts(pattern: Pattern, values: Variable) -> SparseTensor {
        SparseTensor {
            pattern: Arc::new(pattern),
            values,
            leaf: None,
        }
    }

    /// The same pattern with other values (same shape).
    pub(crate) fn with_values(&self, values: Variable) -> SparseTensor {
        SparseTensor {
            pattern: Arc::clone(&self.pattern),
            values,
            leaf: None,
        }
    }

    /// The storage layout.
    pub fn layout(&self) -> SparseLayout {
        self.pattern.layout
    }

    /// The full shape (`tensor.shape`).
    pub fn shape(&self) -> &[usize] {
        &self.pattern.size
    }

    /// Number of dims.
    pub fn dim(&self) -> usize {
        self.pattern.size.len()
    }

    /// Number of sparse dims (indexed by the pattern).
    pub fn sparse_dim(&self) -> usize {
        self.pattern.sparse_dim
    }

    /// Number of dense dims (each value's own shape).
    pub fn dense_dim(&self) -> usize {
        self.pattern.dense_dim()
    }

    /// Number of specified elements (`_nnz()`; repeats counted).
    pub fn nnz(&self) -> usize {
        self.pattern.nnz
    }

    /// The values' element type.
    pub fn dtype(&self) -> DType {
        self.values.dtype()
    }

    /// Whether the indices are sorted with no repeats. CSR and CSC
    /// tensors always are.
    pub fn is_coalesced(&self) -> bool {
        self.pattern.coalesced
    }

    /// The values, `[nnz, dense dims...]` (`tensor.values()`), as the
    /// variable ops record through.
    pub fn values(&self) -> &Variable {
        &self.values
    }

    fn need(&self, op: &'static str, layout: SparseLayout) -> Result<()> {
        if self.layout() == layout {
            Ok(())
        } else {
            Err(SparseError::invalid(
                op,
                format!(
                    "expected a {} tensor, got layout {}",
                    layout.torch_name(),
                    self.layout().torch_name()
                ),
            ))
        }
    }

    /// A COO tensor's indices, `[sparse_dim, nnz]` int64 (`indices()`).
    pub fn indices(&self) -> Result<Tensor> {
        self.need("indices", SparseLayout::Coo)?;
        let Indices::Coo(idx) = &self.pattern.indices else {
            unreachable!("a COO pattern holds COO indices")
        };
        Ok(Tensor::from_vec(
            idx.clone(),
            &[self.pattern.sparse_dim, self.pattern.nnz],
        )?)
    }

    fn compressed_part(
        &self,
        op: &'static str,
        layout: SparseLayout,
        outer: bool,
    ) -> Result<Tensor> {
        self.need(op, layout)?;
        let Indices::Compressed { compressed, plain } = &self.pattern.indices else {
            unreachable!("a compressed pattern holds compressed indices")
        };
        let v = if outer { compressed } else { plain };
        Ok(Tensor::from_vec(v.clone(), &[v.len()])?)
    }

    /// A CSR tensor's row offsets, `[rows + 1]` (`crow_indices()`).
    pub fn crow_indices(&self) -> Result<Tensor> {
        self.compressed_part("crow_indices", SparseLayout::Csr, true)
    }

    /// A CSR tensor's column indices, `[nnz]` (`col_indices()`).
    pub fn col_indices(&self) -> Result<Tensor> {
        self.compressed_part("col_indices", SparseLayout::Csr, false)
    }

    /// A CSC tensor's column offsets, `[cols + 1]` (`ccol_indices()`).
    pub fn ccol_indices(&self) -> Result<Tensor> {
        self.compressed_part("ccol_indices", SparseLayout::Csc, true)
    }

    /// A CSC tensor's row indices, `[nnz]` (`row_indices()`).
    pub fn row_indices(&self) -> Result<Tensor> {
        self.compressed_part("row_indices", SparseLayout::Csc, false)
    }

    /// Whether gradients flow to the values.
    pub fn requires_grad(&self) -> bool {
        self.values.requires_grad()
    }

    /// This tensor as a leaf that requires grad (`requires_grad_()`): the
    /// same pattern and value data, cut from any earlier graph. Its
    /// gradient ([`SparseTensor::grad`]) is sparse: on this pattern for
    /// products and reductions, on the result's pattern for `add`, as in
    /// PyTorch. Like any leaf it takes part in any number of backward
    /// passes, its gradient accumulating until [`SparseTensor::zero_grad`].
    pub fn requires_grad_(&self) -> SparseTensor {
        let data = self.values.data();
        let shape: Vec<i64> = self.shape().iter().map(|&d| d as i64).collect();
        let leaf = Variable::parameter(
            Tensor::zeros_dtype(&[], data.dtype())
                .expand(&shape)
                .expect("a 0-d tensor expands to any shape"),
        );
        // The values are a leaf of their own: gradients on this pattern
        // accumulate there densely (`[nnz, dense dims...]`, no index copy
        // per backward) and `grad()` puts them on the pattern.
        SparseTensor {
            pattern: Arc::clone(&self.pattern),
            values: Variable::parameter(data),
            leaf: Some(leaf),
        }
    }

    /// The `[sparse_dim, nnz]` indices of the values, whatever the layout.
    pub(crate) fn coo_index_tensor(&self) -> Tensor {
        let p = &self.pattern;
        let idx = match &p.indices {
            Indices::Coo(idx) => idx.clone(),
            Indices::Compressed { .. } => {
                let (r, c) = p.coordinates();
                r.iter().chain(&c).map(|&i| i as i64).collect()
            }
        };
        Tensor::from_vec(idx, &[p.sparse_dim, p.nnz]).expect("indices fit their shape")
    }

    /// The same tensor cut from the graph (`detach()`).
    pub fn detach(&self) -> SparseTensor {
        self.with_values(self.values.detach())
    }

    /// The accumulated gradient of a sparse leaf (`tensor.grad`): a
    /// coalesced sparse tensor, in this tensor's layout when that is CSR
    /// or CSC. `None` before any backward reached it, and for tensors
    /// that are not leaves requiring grad.
    pub fn grad(&self) -> Option<SparseTensor> {
        let leaf = self.leaf.as_ref()?;
        let on_pattern = match self.values.grad() {
            Some(g) => Some(Gradient::Sparse(
                SparseGrad::new(self.coo_index_tensor(), g, self.shape()).ok()?,
            )),
            None => None,
        };
        let g = match (on_pattern, leaf.gradient()) {
            (None, None) => return None,
            (Some(g), None) | (None, Some(g)) => g,
            (Some(a), Some(b)) => a.accumulate(b).ok()?,
        };
        let g = match g {
            Gradient::Sparse(g) => SparseTensor::from_grad(&g).ok()?.coalesce().ok()?,
            Gradient::Dense(d) => {
                use crate::ToSparse;
                d.data().to_sparse().ok()?
            }
        };
        match self.layout() {
            SparseLayout::Coo => Some(g),
            SparseLayout::Csr => g.to_sparse_csr().ok(),
            SparseLayout::Csc => g.to_sparse_csc().ok(),
        }
        .map(|g| g.detach())
    }

    /// Clears the gradient (`tensor.grad = None`).
    pub fn zero_grad(&self) {
        if let Some(leaf) = &self.leaf {
            leaf.zero_grad();
            self.values.zero_grad();
        }
    }

    /// Whether both share one pattern object (same indices, no copy).
    pub fn shares_pattern_with(&self, other: &SparseTensor) -> bool {
        Arc::ptr_eq(&self.pattern, &other.pattern)
    }

    /// Checks `op` gets a 2-D tensor with no dense dims.
    pub(crate) fn need_matrix(&self, op: &'static str) -> Result<()> {
        if self.dim() != 2 || self.sparse_dim() != 2 {
            return Err(SparseError::invalid(
                op,
                format!(
                    "expected a 2-D sparse matrix with 2 sparse dims, got size {:?} with {} sparse dims",
                    self.shape(),
                    self.sparse_dim()
                ),
            ));
        }
        Ok(())
    }
}
