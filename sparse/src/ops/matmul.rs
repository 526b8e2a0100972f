//! Sparse matrix products: `torch.sparse.mm` (sparse @ dense, dense @
//! sparse, sparse @ sparse), `torch.sparse.addmm` and
//! `torch.sparse.sampled_addmm` (SDDMM), with their backward formulas.
//!
//! The gradient of `A @ B` with respect to A's values keeps A's pattern
//! (an SDDMM of the output gradient with B, never a dense matrix); with
//! respect to B it is `Aᵀ G`, run on A's transposed pattern, which is
//! built once and cached on the pattern for every later backward.

use std::sync::Arc;

use torchlet_autograd::{record, Variable};
use torchlet_tensor::{DType, Float, Tensor};

use crate::convert::{gather_rows, scatter_add_rows};
use crate::error::{Result, SparseError};
use crate::kernels;
use crate::pattern::{Csr, Indices, Pattern, SparseLayout};
use crate::tensor::SparseTensor;

/// `M @ b` where `M`'s entries (compressed rows `fwd`, its transpose
/// `bwd`) take their values from `values`, and `b` is dense `[M.cols, n]`.
/// Records the backward through `values` and `b`.
pub(crate) fn spmm_op(
    values: &Variable,
    fwd: Arc<Csr>,
    bwd: Arc<Csr>,
    b: &Variable,
) -> Result<Variable> {
    let n = b.shape()[1];
    let out = spmm_tensor(&values.data(), &fwd, &b.data(), n)?;
    Ok(record("SparseMmBackward0", out, &[values, b], move |ctx| {
        let g = ctx.grad;
        let dvals = if !ctx.needs(0) {
            None
        } else if ctx.create_graph {
            // Differentiable form: sum over columns of G[row] * B[col].
            let rows: Vec<usize> = fwd.row_of_entries();
            let prod = gather_rows(g, &rows)?.mul(&gather_rows(&ctx.inputs[1], &fwd.col)?)?;
            Some(to_value_order(&fwd, &prod.sum_dim(1)?)?)
        } else {
            let d = sddmm_tensor(&fwd, &g.data(), &ctx.inputs[1].data())?;
            Some(to_value_order(&fwd, &Variable::constant(d))?)
        };
        let db = if ctx.needs(1) {
            Some(spmm_op(
                &ctx.inputs[0],
                Arc::clone(&bwd),
                Arc::clone(&fwd),
                g,
            )?)
        } else {
            None
        };
        Ok(vec![dvals, db])
    }))
}

/// Entry-order values (`[nnz]`) put back in value order.
fn to_value_order(csr: &Csr, entries: &Variable) -> Result<Variable> {
    match &csr.perm {
        None => Ok(entries.clone()),
        Some(perm) => {
            let mut inverse = vec![0usize; perm.len()];
            for (p, &v) in perm.iter().enumerate() {
                inverse[v] = p;
            }
            gather_rows(entries, &inverse)
        }
    }
}

/// The SpMM kernel on tensors: `[rows, cols]` sparse times `[cols, n]`.
fn spmm_tensor(values: &Tensor, csr: &Csr, b: &Tensor, n: usize) -> Result<Tensor> {
    let (values, b) = (values.contiguous(), b.contiguous());
    match values.dtype() {
        DType::F32 => spmm_typed::<f32>(&values, csr, &b, n),
        _ => spmm_typed::<f64>(&values, csr, &b, n),
    }
}

fn spmm_typed<T: Float>(values: &Tensor, csr: &Csr, b: &Tensor, n: usize) -> Result<Tensor> {
    let vals = slice::<T>(values)?;
    let bs = slice::<T>(b)?;
    let len = csr.rows * n;
    let mut out: Vec<T> = Vec::with_capacity(len);
    kernels::spmm(csr, vals, bs, n, &mut out.spare_capacity_mut()[..len]);
    // SAFETY: the kernel writes every element of the output.
    unsafe { out.set_len(len) };
    Ok(Tensor::from_vec(out, &[csr.rows, n])?)
}

/// The SDDMM kernel on tensors: at each entry of `csr`, `x[row] · y[col]`
/// with `x` `[rows, k]` and `y` `[cols, k]`; `[nnz]` in entry order.
fn sddmm_tensor(csr: &Csr, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let (x, y) = (x.contiguous(), y.contiguous());
    let k = x.shape()[1];
    match x.dtype() {
        DType::F32 => sddmm_typed::<f32>(csr, &x, &y, k),
        _ => sddmm_typed::<f64>(csr, &x, &y, k),
    }
}

fn sddmm_typed<T: Float>(csr: &Csr, x: &Tensor, y: &Tensor, k: usize) -> Result<Tensor> {
    let nnz = csr.col.len();
    let mut out: Vec<T> = Vec::with_capacity(nnz);
    kernels::sddmm(
        csr,
        slice::<T>(x)?,
        slice::<T>(y)?,
        k,
        &mut out.spare_capacity_mut()[..nnz],
    );
    // SAFETY: the kernel writes one value per entry.
    unsafe { out.set_len(nnz) };
    Ok(Tensor::from_vec(out, &[nnz])?)
}

/// The contiguous `[n, k]` transpose of a `[k, n]` matrix: free when `t`
/// is itself a transposed view of a contiguous matrix, a parallel tiled
/// copy otherwise.
fn transposed(t: &Tensor) -> Result<Tensor> {
    let tt = t.t()?;
    if tt.as_slice::<f32>().is_some() || tt.as_slice::<f64>().is_some() {
        return Ok(tt);
    }
    let t = t.contiguous();
    let (k, n) = (t.shape()[0], t.shape()[1]);
    Ok(match t.dtype() {
        DType::F32 => Tensor::from_vec(kernels::transpose(slice::<f32>(&t)?, k, n), &[n, k])?,
        _ => Tensor::from_vec(kernels::transpose(slice::<f64>(&t)?, k, n), &[n, k])?,
    })
}

fn slice<T: Float>(t: &Tensor) -> Result<&[T]> {
    t.as_slice::<T>().ok_or_else(|| {
        SparseError::invalid(
            "sparse kernel",
            format!("expected contiguous {} data", t.dtype()),
        )
    })
}

/// Checks `a` is a sparse matrix and `b` a dense `[a.cols, n]` of its dtype.
fn check_mm(
    op: &'static str,
    a: &SparseTensor,
    b_shape: &[usize],
    b_dtype: DType,
    a_left: bool,
) -> Result<()> {
    a.need_matrix(op)?;
    let (r, c) = (a.shape()[0], a.shape()[1]);
    let fits = b_shape.len() == 2
        && if a_left {
            b_shape[0] == c
        } else {
            b_shape[1] == r
        };
    if !fits {
        let (l, rr) = if a_left {
            (vec![r, c], b_shape.to_vec())
        } else {
            (b_shape.to_vec(), vec![r, c])
        };
        return Err(SparseError::invalid(
            op,
            format!("mat1 and mat2 shapes cannot be multiplied ({l:?} and {rr:?})"),
        ));
    }
    if b_dtype != a.dtype() {
        return Err(SparseError::invalid(
            op,
            format!(
                "expected both operands of one dtype, got {} and {}",
                a.dtype(),
                b_dtype
            ),
        ));
    }
    Ok(())
}

impl SparseTensor {
    /// `self @ b` for a dense `b` `[cols, n]` (`torch.sparse.mm(sparse,
    /// dense)`): a dense `[rows, n]` variable. Gradients reach the values
    /// (on this pattern) and `b`.
    ///
    /// ```
    /// use torchlet_autograd::Variable;
    /// use torchlet_sparse::ToSparse;
    /// use torchlet_tensor::Tensor;
    /// # fn main() -> Result<(), torchlet_sparse::SparseError> {
    /// let a = Tensor::from_vec(vec![0.0f32, 2.0, 3.0, 0.0], &[2, 2])?.to_sparse_csr()?;
    /// let b = Variable::constant(Tensor::from_vec(vec![1.0f32, 10.0], &[2, 1])?);
    /// assert_eq!(a.mm(&b)?.to_vec::<f32>()?, [20.0, 3.0]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn mm(&self, b: &Variable) -> Result<Variable> {
        crate::trace::sparse_op("sparse.mm", &[self], &[b], || self.mm_untraced(b))
    }

    fn mm_untraced(&self, b: &Variable) -> Result<Variable> {
        check_mm("sparse.mm", self, &b.shape(), b.dtype(), true)?;
        spmm_op(
            &self.values,
            self.pattern.rows(),
            self.pattern.transposed_rows(),
            b,
        )
    }

    /// `d @ self` for a dense `d` `[m, rows]` (`torch.sparse.mm(dense,
    /// sparse)`): computed as `(selfᵀ dᵀ)ᵀ` on the cached transposed pattern.
    pub fn rmm(&self, d: &Variable) -> Result<Variable> {
        crate::trace::sparse_op("sparse.mm", &[self], &[d], || self.rmm_untraced(d))
    }

    fn rmm_untraced(&self, d: &Variable) -> Result<Variable> {
        check_mm("sparse.mm", self, &d.shape(), d.dtype(), false)?;
        let dt = d.t()?.contiguous();
        let out = spmm_op(
            &self.values,
            self.pattern.transposed_rows(),
            self.pattern.rows(),
            &dt,
        )?;
        Ok(out.t()?.contiguous())
    }

    /// `self @ other` for two sparse matrices (`torch.sparse.mm(sparse,
    /// sparse)`): a sparse result in `self`'s layout family (COO for COO,
    /// CSR otherwise) holding every product position, differentiable
    /// with respect to both operands' values.
    pub fn mm_sparse(&self, other: &SparseTensor) -> Result<SparseTensor> {
        crate::trace::sparse_op("sparse.mm", &[self, other], &[], || {
            self.mm_sparse_untraced(other)
        })
    }

    fn mm_sparse_untraced(&self, other: &SparseTensor) -> Result<SparseTensor> {
        let op = "sparse.mm";
        self.need_matrix(op)?;
        other.need_matrix(op)?;
        if self.shape()[1] != other.shape()[0] {
            return Err(SparseError::invalid(
                op,
                format!(
                    "mat1 and mat2 shapes cannot be multiplied ({:?} and {:?})",
                    self.shape(),
                    other.shape()
                ),
            ));
        }
        if self.dtype() != other.dtype() {
            return Err(SparseError::invalid(
                op,
                format!(
                    "expected both operands of one dtype, got {} and {}",
                    self.dtype(),
                    other.dtype()
                ),
            ));
        }
        let (a, b) = (self.pattern.rows(), other.pattern.rows());
        let n = other.shape()[1];
        // Gustavson's row-by-row product, remembering which values meet.
        let (mut slot_of, mut a_of, mut b_of) = (Vec::new(), Vec::new(), Vec::new());
        let (mut out_rows, mut out_cols) = (Vec::new(), Vec::new());
        let mut where_in_row = vec![usize::MAX; n];
        for i in 0..a.rows {
            let start = slot_of.len();
            let mut cols: Vec<usize> = Vec::new();
            for p in a.crow[i]..a.crow[i + 1] {
                let l = a.col[p];
                for q in b.crow[l]..b.crow[l + 1] {
                    let j = b.col[q];
                    if where_in_row[j] == usize::MAX {
                        where_in_row[j] = cols.len();
                        cols.push(j);
                    }
                    a_of.push(a.value(p));
                    b_of.push(b.value(q));
                    slot_of.push(where_in_row[j]);
                }
            }
            // Number this row's slots in column order.
            let mut order: Vec<usize> = (0..cols.len()).collect();
            order.sort_by_key(|&s| cols[s]);
            let mut rank = vec![0usize; cols.len()];
            for (r, &s) in order.iter().enumerate() {
                rank[s] = r;
            }
            let base = out_rows.len();
            for &s in &order {
                out_rows.push(i);
                out_cols.push(cols[s]);
            }
            // Rewrite this row's products from row-local slots to global ones.
            for s in &mut slot_of[start..] {
                *s = base + rank[*s];
            }
            for &j in &cols {
                where_in_row[j] = usize::MAX;
            }
        }
        let nnz = out_rows.len();
        let prod = gather_rows(&self.values, &a_of)?.mul(&gather_rows(&other.values, &b_of)?)?;
        let slots: Vec<i64> = slot_of.iter().map(|&s| s as i64).collect();
        let values = scatter_add_rows(&prod, Arc::new(slots), nnz)?;
        let size = vec![self.shape()[0], n];
        let pattern = if self.layout() == SparseLayout::Coo {
            let mut idx: Vec<i64> = out_rows.iter().map(|&r| r as i64).collect();
            idx.extend(out_cols.iter().map(|&c| c as i64));
            Pattern::new_unchecked(SparseLayout::Coo, size, 2, nnz, Indices::Coo(idx), true)
        } else {
            let mut crow = vec![0i64; size[0] + 1];
            for &r in &out_rows {
                crow[r + 1] += 1;
            }
            for i in 0..size[0] {
                crow[i + 1] += crow[i];
            }
            let plain = out_cols.iter().map(|&c| c as i64).collect();
            Pattern::new_unchecked(
                SparseLayout::Csr,
                size,
                2,
                nnz,
                Indices::Compressed {
                    compressed: crow,
                    plain,
                },
                true,
            )
        };
        Ok(SparseTensor::from_parts(pattern, values))
    }

    /// `beta * c + alpha * (self @ b)` (`torch.sparse.addmm(c, self, b,
    /// beta=, alpha=)`); with `beta = 0`, `c` is ignored (NaN in it does
    /// not propagate), as in PyTorch.
    pub fn addmm(&self, c: &Variable, b: &Variable, beta: f64, alpha: f64) -> Result<Variable> {
        crate::trace::sparse_op("sparse.addmm", &[self], &[c, b], || {
            self.addmm_untraced(c, b, beta, alpha)
        })
    }

    fn addmm_untraced(
        &self,
        c: &Variable,
        b: &Variable,
        beta: f64,
        alpha: f64,
    ) -> Result<Variable> {
        let prod = self.mm(b)?;
        if c.shape() != prod.shape() {
            return Err(SparseError::invalid(
                "sparse.addmm",
                format!(
                    "input of shape {:?} does not match the product's shape {:?}",
                    c.shape(),
                    prod.shape()
                ),
            ));
        }
        let scaled = if alpha == 1.0 {
            prod
        } else {
            prod.mul_scalar(alpha)
        };
        if beta == 0.0 {
            return Ok(scaled);
        }
        let c = if beta == 1.0 {
            c.clone()
        } else {
            c.mul_scalar(beta)
        };
        Ok(c.add(&scaled)?)
    }

    /// `torch.sparse.sampled_addmm(self, a, b, beta=, alpha=)` (SDDMM):
    /// `beta * self + alpha * (a @ b)` computed only at `self`'s specified
    /// elements, giving a sparse tensor with `self`'s pattern. `a` is
    /// `[m, k]`, `b` `[k, n]`, `self` a sparse `[m, n]` (CSR in PyTorch;
    /// any layout here). Gradients reach `self`'s values, `a` and `b`.
    pub fn sampled_addmm(
        &self,
        a: &Variable,
        b: &Variable,
        beta: f64,
        alpha: f64,
    ) -> Result<SparseTensor> {
        crate::trace::sparse_op("sparse.sampled_addmm", &[self], &[a, b], || {
            self.sampled_addmm_untraced(a, b, beta, alpha)
        })
    }

    fn sampled_addmm_untraced(
        &self,
        a: &Variable,
        b: &Variable,
        beta: f64,
        alpha: f64,
    ) -> Result<SparseTensor> {
        let op = "sparse.sampled_addmm";
        self.need_matrix(op)?;
        let (sa, sb) = (a.shape(), b.shape());
        let ok = sa.len() == 2
            && sb.len() == 2
            && sa[1] == sb[0]
            && sa[0] == self.shape()[0]
            && sb[1] == self.shape()[1];
        if !ok {
            return Err(SparseError::invalid(
                op,
                format!(
                    "expected mat1 [m, k] and mat2 [k, n] with [m, n] = {:?}, got {sa:?} and {sb:?}",
                    self.shape()
                ),
            ));
        }
        if a.dtype() != self.dtype() || b.dtype() != self.dtype() {
            return Err(SparseError::invalid(
                op,
                format!(
                    "expected one dtype, got {}, {} and {}",
                    self.dtype(),
                    a.dtype(),
                    b.dtype()
                ),
            ));
        }
        let sampled = sddmm_op(&self.pattern, a, b)?;
        let sampled = if alpha == 1.0 {
            sampled
        } else {
            sampled.mul_scalar(alpha)
        };
        let values = if beta == 0.0 {
            sampled
        } else {
            let c = if beta == 1.0 {
                self.values.clone()
            } else {
                self.values.mul_scalar(beta)
            };
            c.add(&sampled)?
        };
        Ok(self.with_values(values))
    }
}

/// `(a @ b)` at the pattern's entries, in value order, recorded.
fn sddmm_op(pattern: &Pattern, a: &Variable, b: &Variable) -> Result<Variable> {
    let (fwd, bwd) = (pattern.rows(), pattern.transposed_rows());
    let entries = sddmm_tensor(&fwd, &a.data(), &transposed(&b.data())?)?;
    let out = to_value_order(&fwd, &Variable::constant(entries))?.data();
    Ok(record(
        "SparseSampledAddmmBackward0",
        out,
        &[a, b],
        move |ctx| {
            let g = ctx.grad;
            // dA = G_sparse @ bᵀ, dB = aᵀ @ G_sparse = (G_sparseᵀ a)ᵀ.
            let da = if ctx.needs(0) {
                let bt = ctx.inputs[1].t()?.contiguous();
                Some(spmm_op(g, Arc::clone(&fwd), Arc::clone(&bwd), &bt)?)
            } else {
                None
            };
            let db = if ctx.needs(1) {
                let gta = spmm_op(g, Arc::clone(&bwd), Arc::clone(&fwd), &ctx.inputs[0])?;
                Some(gta.t()?.contiguous())
            } else {
                None
            };
            Ok(vec![da, db])
        },
    ))
}

#[cfg(test)]
mod tests {
    use torchlet_autograd::Variable;
    use torchlet_tensor::Tensor;

    use crate::ToSparse;

    #[test]
    fn a_sparse_leaf_takes_several_backward_passes() {
        let a = Tensor::from_vec(vec![0.0f32, 2.0, 3.0, 0.0, 0.0, 4.0], &[2, 3])
            .unwrap()
            .to_sparse_csr()
            .unwrap()
            .requires_grad_();
        let b = Variable::parameter(Tensor::ones(&[3, 2]));
        for _ in 0..2 {
            a.mm(&b).unwrap().sum().backward().unwrap();
        }
        // d sum(A B) / dA[i, j] = sum_k B[j, k] = 2 per backward, twice.
        let g = a.grad().unwrap();
        assert_eq!(g.nnz(), 3);
        assert_eq!(
            g.to_dense().unwrap().to_vec::<f32>().unwrap(),
            [0.0, 4.0, 4.0, 0.0, 0.0, 4.0]
        );
        assert_eq!(
            b.grad().unwrap().to_vec::<f32>().unwrap(),
            [0.0, 0.0, 4.0, 4.0, 14.0, 14.0]
        );
        a.zero_grad();
        assert!(a.grad().is_none());
        a.mm(&b).unwrap().sum().backward().unwrap();
        assert_eq!(
            a.grad()
                .unwrap()
                .to_dense()
                .unwrap()
                .to_vec::<f32>()
                .unwrap(),
            [0.0, 2.0, 2.0, 0.0, 0.0, 2.0]
        );
    }
}
