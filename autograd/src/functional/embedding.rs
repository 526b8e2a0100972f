//! Lookups: `F.embedding`, dense or with a sparse weight gradient.

use torchlet_tensor::{DType, Tensor, TensorError};

use super::dims_i64;
use crate::error::Result;
use crate::sparse_grad::{Gradient, SparseGrad};
use crate::trace::{AtenOp, TraceArg};
use crate::variable::Variable;

/// Rows of `weight` (`[num_embeddings, dim]`) looked up by the int64
/// `indices` of any shape (`F.embedding`); the result has shape
/// `indices.shape + [dim]`. The gradient adds each looked-up row's
/// gradient into its row of `weight` (repeated indices accumulate).
pub fn embedding(indices: &Tensor, weight: &Variable) -> Result<Variable> {
    traced_lookup(indices, weight, || {
        let rows = weight.index_select(0, &indices.ravel())?;
        rows.reshape(&lookup_shape(indices, weight))
    })
}

/// Runs a lookup `f` as one `aten::embedding` trace record, after
/// checking the weight is a table.
fn traced_lookup(
    indices: &Tensor,
    weight: &Variable,
    f: impl FnOnce() -> Result<Variable>,
) -> Result<Variable> {
    crate::trace::traced(
        || {
            (
                AtenOp::Embedding,
                vec![TraceArg::Tensor(indices.clone()), TraceArg::var(weight)],
            )
        },
        || {
            if weight.dim() != 2 {
                return Err(TensorError::invalid(
                    "embedding",
                    format!("weight must be 2-D, got shape {:?}", weight.shape()),
                )
                .into());
            }
            f()
        },
    )
}

/// `indices.shape + [dim]`.
fn lookup_shape(indices: &Tensor, weight: &Variable) -> Vec<i64> {
    let mut shape = dims_i64(indices.shape());
    shape.push(weight.shape()[1] as i64);
    shape
}

/// [`embedding`] with a sparse weight gradient (`F.embedding(...,
/// sparse=True)`): the backward gives `weight` a [`SparseGrad`] holding
/// one row per looked-up index (repeats kept, as PyTorch keeps them),
/// leaving out lookups of `padding_idx`. Rows never looked up are absent
/// from the gradient, so optimizers that support sparse gradients leave
/// them untouched. The forward is [`embedding`]'s.
///
/// ```
/// use torchlet_autograd::{functional as F, Variable};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_autograd::AutogradError> {
/// let w = Variable::parameter(Tensor::ones(&[5, 2]));
/// let idx = Tensor::from_vec(vec![3i64, 1, 3], &[3])?;
/// F::embedding_sparse(&idx, &w, None)?.sum().backward()?;
/// let g = w.sparse_grad().unwrap();
/// assert_eq!(g.indices().to_vec::<i64>()?, [3, 1, 3]);
/// assert_eq!(g.values().shape(), [3, 2]);
/// # Ok(())
/// # }
/// ```
pub fn embedding_sparse(
    indices: &Tensor,
    weight: &Variable,
    padding_idx: Option<usize>,
) -> Result<Variable> {
    let keep = match padding_idx {
        None => None,
        Some(p) => Some(
            indices
                .contiguous()
                .to_vec::<i64>()?
                .iter()
                .map(|&i| i as usize != p)
                .collect(),
        ),
    };
    sparse_lookup(indices, weight, keep)
}

/// [`embedding_sparse`] where only the lookups with `keep` true (a bool
/// tensor of the indices' shape) enter the weight's sparse gradient; the
/// others still look up their rows but send no gradient, not even a zero
/// row (what `EmbeddingBag` needs for its padding and fillers: a zero row
/// in a sparse gradient would still move SparseAdam's moments).
pub fn embedding_sparse_masked(
    indices: &Tensor,
    weight: &Variable,
    keep: &Tensor,
) -> Result<Variable> {
    if keep.dtype() != DType::Bool || keep.shape() != indices.shape() {
        return Err(TensorError::invalid(
            "embedding",
            format!(
                "keep must be a bool tensor of the indices' shape {:?}, got {} {:?}",
                indices.shape(),
                keep.dtype(),
                keep.shape()
            ),
        )
        .into());
    }
    sparse_lookup(indices, weight, Some(keep.contiguous().to_vec::<bool>()?))
}

fn sparse_lookup(indices: &Tensor, weight: &Variable, keep: Option<Vec<bool>>) -> Result<Variable> {
    traced_lookup(indices, weight, || {
        let flat = indices.ravel();
        let rows = weight.data().index_select(0, &flat)?;
        let out = rows.reshape(&lookup_shape(indices, weight))?;
        let size = weight.shape();
        Ok(crate::graph::record_with_gradients(
            "EmbeddingBackward0",
            out,
            &[weight],
            move |ctx| {
                let dim = size[1];
                let g = ctx.grad.data().reshape(&[-1, dim as i64])?;
                let (rows, values) = match &keep {
                    None => (flat.clone(), g),
                    Some(keep) => {
                        let idx = flat.contiguous().to_vec::<i64>()?;
                        let positions: Vec<i64> = (0..idx.len() as i64)
                            .filter(|&k| keep[k as usize])
                            .collect();
                        let kept: Vec<i64> = positions.iter().map(|&k| idx[k as usize]).collect();
                        let n = kept.len();
                        (
                            Tensor::from_vec(kept, &[n])?,
                            g.index_select(0, &Tensor::from_vec(positions, &[n])?)?,
                        )
                    }
                };
                let n = rows.numel();
                let sparse = SparseGrad::new(rows.reshape(&[1, n as i64])?, values, &size)?;
                Ok(vec![Some(Gradient::Sparse(sparse))])
            },
        ))
    })
}
