//! Sparse gradients in optimizers (what `Embedding(sparse = true)` leaves
//! on its weight): the gradient as rows of the parameter, and the row
//! updates that SGD, Adagrad and SparseAdam apply lazily, so rows no
//! batch looked up stay bit-identical.

use torchlet_autograd::{SparseGrad, Variable};
use torchlet_sparse::SparseTensor;
use torchlet_tensor::{Element, Float, Tensor};

use crate::error::{OptimError, Result};

/// Fails with PyTorch's message when `p` holds a sparse gradient and the
/// optimizer `what` has no sparse update.
pub(crate) fn refuse_sparse(p: &Variable, what: &'static str) -> Result<()> {
    if p.has_sparse_grad() {
        let hint = match what {
            "Adam" | "AdamW" => ", please consider SparseAdam instead",
            _ => "",
        };
        return Err(OptimError::Usage {
            what,
            message: format!("{what} does not support sparse gradients{hint}"),
        });
    }
    Ok(())
}

/// A sparse gradient as rows of the parameter viewed as `[rows, width]`:
/// entry `k` adds `values[k * width..][..width]` to row `rows[k]`.
pub(crate) struct Rows<T> {
    pub rows: Vec<usize>,
    pub values: Vec<T>,
    pub width: usize,
}

impl<T: Float> Rows<T> {
    /// The entries as stored: unsorted, repeats kept (PyTorch's dense +=
    /// sparse applies them one by one, in this order).
    pub fn raw(g: &SparseGrad) -> Result<Rows<T>> {
        Rows::from_parts(g.indices(), g.values(), g.size())
    }

    /// The entries coalesced: sorted rows, repeats summed (what PyTorch's
    /// Adagrad and SparseAdam do first: their updates are not linear).
    pub fn coalesced(g: &SparseGrad) -> Result<Rows<T>> {
        let s = SparseTensor::from_grad(g)
            .and_then(|s| s.coalesce())
            .map_err(sparse_error)?;
        let indices = s.indices().map_err(sparse_error)?;
        Rows::from_parts(&indices, &s.values().data(), s.shape())
    }

    fn from_parts(indices: &Tensor, values: &Tensor, size: &[usize]) -> Result<Rows<T>> {
        let (sd, nnz) = (indices.shape()[0], indices.shape()[1]);
        let idx = indices.contiguous().to_vec::<i64>()?;
        let rows = (0..nnz)
            .map(|k| (0..sd).fold(0usize, |acc, d| acc * size[d] + idx[d * nnz + k] as usize))
            .collect();
        let width = size[sd..].iter().product();
        let values = values.to_dtype(T::DTYPE).contiguous().to_vec::<T>()?;
        Ok(Rows {
            rows,
            values,
            width,
        })
    }

    /// Every value negated (`maximize`).
    pub fn negated(mut self) -> Rows<T> {
        self.values.iter_mut().for_each(|v| *v = -*v);
        self
    }

    /// The entry values of entry `k`.
    pub fn entry(&self, k: usize) -> &[T] {
        &self.values[k * self.width..(k + 1) * self.width]
    }

    /// `param[row] += alpha * values` for every entry in order (PyTorch's
    /// `param.add_(sparse, alpha=alpha)`: alpha rounded to the dtype, one
    /// fused multiply-add per element, as its kernel computes it).
    pub fn add_to(&self, param: &mut [T], alpha: f64) {
        let a = T::from_f64(alpha);
        for (k, &r) in self.rows.iter().enumerate() {
            let dst = &mut param[r * self.width..(r + 1) * self.width];
            for (p, &v) in dst.iter_mut().zip(self.entry(k)) {
                *p = v.mul_add(a, *p);
            }
        }
    }

    /// The same rows as an autograd sparse gradient.
    pub fn to_grad(&self, size: &[usize]) -> Result<SparseGrad> {
        let n = self.rows.len();
        let rows: usize = size.iter().product::<usize>() / self.width.max(1);
        let indices = Tensor::from_vec(self.rows.iter().map(|&r| r as i64).collect(), &[1, n])?;
        let values = Tensor::from_vec(self.values.clone(), &[n, self.width])?;
        Ok(SparseGrad::new(indices, values, &[rows, self.width])?)
    }
}

/// Runs `f(param_data)` on a leaf's data as a mutable `[T]` slice (written
/// in place when no other handle shares it).
pub(crate) fn with_param_slice<T: Element, R>(
    p: &Variable,
    f: impl FnOnce(&mut [T]) -> R,
) -> Result<R> {
    let mut out = None;
    p.update_data(|t| -> Result<()> {
        out = Some(f(t.as_mut_slice::<T>()?));
        Ok(())
    })??;
    Ok(out.expect("the closure ran"))
}

/// Calls `$body` with `$T` the parameter's float type.
macro_rules! with_param_float {
    ($p:expr, $what:expr, $T:ident => $body:expr) => {
        match $p.dtype() {
            torchlet_tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            torchlet_tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            other => {
                return Err(crate::error::OptimError::Usage {
                    what: $what,
                    message: format!("sparse updates need a float parameter, got {other}"),
                })
            }
        }
    };
}
pub(crate) use with_param_float;

fn sparse_error(e: torchlet_sparse::SparseError) -> OptimError {
    OptimError::Autograd(e.into())
}

/// A dense state buffer's data as a mutable slice of `T` (zeros of the
/// parameter's shape when absent).
pub(crate) fn state_slice<'a, T: Element>(
    slot: &'a mut Option<Tensor>,
    like: &Variable,
    fill: f64,
) -> Result<&'a mut [T]> {
    let t = slot.get_or_insert_with(|| Tensor::full_dtype(&like.shape(), fill, like.dtype()));
    if t.dtype() != T::DTYPE {
        *t = t.to_dtype(T::DTYPE);
    }
    Ok(t.as_mut_slice::<T>()?)
}
