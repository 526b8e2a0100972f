//! Views, joins and indexing with their gradients: reshape and friends
//! route the gradient back through the inverse view; cat/stack split it;
//! narrow/select/gather/index_select scatter it into zeros.

use std::borrow::Borrow;

use torchlet_tensor::{normalize_dim, Tensor, TensorError};

use crate::error::Result;
use crate::graph::record;
use crate::ops::sum_to;
use crate::trace::{AtenOp, TraceArg};
use crate::variable::Variable;

fn dims_of(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&n| n as i64).collect()
}

impl Variable {
    /// New shape, same elements (`x.reshape`); one entry may be -1.
    pub fn reshape(&self, shape: &[i64]) -> Result<Variable> {
        crate::trace::traced(
            || (AtenOp::Reshape(shape.to_vec()), vec![TraceArg::var(self)]),
            || {
                let out = self.data().reshape(shape)?;
                Ok(record("ViewBackward0", out, &[self], |c| {
                    Ok(vec![Some(c.grad.reshape(&dims_of(&c.inputs[0].shape()))?)])
                }))
            },
        )
    }

    /// All dims flattened into one (`x.ravel()`, or `x.flatten()` with no
    /// arguments).
    pub fn ravel(&self) -> Variable {
        crate::trace::traced(
            || {
                (
                    AtenOp::Flatten { start: 0, end: -1 },
                    vec![TraceArg::var(self)],
                )
            },
            || self.reshape(&[-1]).expect("flattening never fails"),
        )
    }

    /// Old name of [`flatten`](Variable::flatten).
    #[deprecated(since = "0.1.0", note = "use `flatten(start_dim, end_dim)`")]
    pub fn flatten_dims(&self, start_dim: i64, end_dim: i64) -> Result<Variable> {
        self.flatten(start_dim, end_dim)
    }

    /// Dims `start..=end` flattened into one (`x.flatten(start, end)`;
    /// PyTorch's `torch.flatten(x, 1)` is `x.flatten(1, -1)`).
    pub fn flatten(&self, start_dim: i64, end_dim: i64) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Flatten {
                        start: start_dim,
                        end: end_dim,
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let shape = self.data().flatten(start_dim, end_dim)?.shape().to_vec();
                self.reshape(&dims_of(&shape))
            },
        )
    }

    /// Dims `dim0` and `dim1` swapped (`x.transpose`).
    pub fn transpose(&self, dim0: i64, dim1: i64) -> Result<Variable> {
        crate::trace::traced(
            || (AtenOp::Transpose(dim0, dim1), vec![TraceArg::var(self)]),
            || {
                let out = self.data().transpose(dim0, dim1)?;
                Ok(record("TransposeBackward0", out, &[self], move |c| {
                    Ok(vec![Some(c.grad.transpose(dim0, dim1)?)])
                }))
            },
        )
    }

    /// The transpose of a matrix (`x.t()`).
    pub fn t(&self) -> Result<Variable> {
        crate::trace::traced(
            || (AtenOp::Transpose(0, -1), vec![TraceArg::var(self)]),
            || match self.dim() {
                0 | 1 => Ok(self.clone()),
                _ => {
                    self.with_data(|t| t.t())?;
                    self.transpose(0, 1)
                }
            },
        )
    }

    /// Dims reordered (`x.permute`).
    pub fn permute(&self, dims: &[i64]) -> Result<Variable> {
        crate::trace::traced(
            || (AtenOp::Permute(dims.to_vec()), vec![TraceArg::var(self)]),
            || {
                let out = self.data().permute(dims)?;
                let r = dims.len();
                let mut inverse = vec![0i64; r];
                for (i, &d) in dims.iter().enumerate() {
                    inverse[normalize_dim("permute", d, r)?] = i as i64;
                }
                Ok(record("PermuteBackward0", out, &[self], move |c| {
                    Ok(vec![Some(c.grad.permute(&inverse)?)])
                }))
            },
        )
    }

    /// Dim `source` moved to `destination` (`x.movedim`).
    pub fn movedim(&self, source: i64, destination: i64) -> Result<Variable> {
        let r = self.dim();
        let s = normalize_dim("movedim", source, r)? as i64;
        let d = normalize_dim("movedim", destination, r)?;
        let mut order: Vec<i64> = (0..r as i64).filter(|&i| i != s).collect();
        order.insert(d, s);
        self.permute(&order)
    }

    /// Old name of [`squeeze`](Variable::squeeze).
    #[deprecated(since = "0.1.0", note = "use `squeeze(dim)`")]
    pub fn squeeze_dim(&self, dim: i64) -> Result<Variable> {
        self.squeeze(dim)
    }

    /// Dim `dim` removed if its size is 1 (`x.squeeze(dim)`).
    pub fn squeeze(&self, dim: i64) -> Result<Variable> {
        crate::trace::traced(
            || (AtenOp::Squeeze(Some(dim)), vec![TraceArg::var(self)]),
            || {
                let shape = self.data().squeeze(dim)?.shape().to_vec();
                self.reshape(&dims_of(&shape))
            },
        )
    }

    /// All size-1 dims removed (`x.squeeze()` with no arguments).
    pub fn squeeze_all(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Squeeze(None), vec![TraceArg::var(self)]),
            || {
                let shape = self.with_data(|t| t.squeeze_all()).shape().to_vec();
                self.reshape(&dims_of(&shape))
                    .expect("same number of elements")
            },
        )
    }

    /// A size-1 dim inserted at `dim` (`x.unsqueeze`).
    pub fn unsqueeze(&self, dim: i64) -> Result<Variable> {
        crate::trace::traced(
            || (AtenOp::Unsqueeze(dim), vec![TraceArg::var(self)]),
            || {
                let shape = self.data().unsqueeze(dim)?.shape().to_vec();
                self.reshape(&dims_of(&shape))
            },
        )
    }

    /// Broadcast to `shape` (`x.expand`); the gradient sums back.
    pub fn expand(&self, shape: &[i64]) -> Result<Variable> {
        crate::trace::traced(
            || (AtenOp::Expand(shape.to_vec()), vec![TraceArg::var(self)]),
            || {
                let out = self.data().expand(shape)?;
                Ok(record("ExpandBackward0", out, &[self], |c| {
                    Ok(vec![Some(sum_to(c.grad, &c.inputs[0].shape())?)])
                }))
            },
        )
    }

    /// A contiguous copy when needed; the gradient passes through.
    pub fn contiguous(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Identity, vec![TraceArg::var(self)]),
            || {
                let out = self.with_data(|t| t.contiguous());
                record("CloneBackward0", out, &[self], |c| {
                    Ok(vec![Some(c.grad.clone())])
                })
            },
        )
    }

    /// `length` entries of `dim` from `start` (`x.narrow`).
    pub fn narrow(&self, dim: i64, start: i64, length: usize) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Narrow { dim, start, length },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let x = self.data();
                if x.dim() == 0 {
                    return Err(TensorError::invalid(
                        "narrow",
                        "narrow() cannot be applied to a 0-dim tensor",
                    )
                    .into());
                }
                let d = normalize_dim("narrow", dim, x.dim())?;
                let size = x.shape()[d];
                let s = if start < 0 {
                    start + size as i64
                } else {
                    start
                } as usize;
                let out = x.narrow(dim, start, length)?;
                Ok(record("NarrowBackward0", out, &[self], move |c| {
                    Ok(vec![Some(pad_dim(c.grad, d, s, size)?)])
                }))
            },
        )
    }

    /// Entry `index` of `dim`, removing the dim (`x.select`, `x[:, i]`).
    pub fn select(&self, dim: i64, index: i64) -> Result<Variable> {
        crate::trace::traced(
            || (AtenOp::Select { dim, index }, vec![TraceArg::var(self)]),
            || {
                let d = normalize_dim("select", dim, self.dim())?;
                let size = self.shape().get(d).copied().unwrap_or(1) as i64;
                let i = if index < 0 { index + size } else { index };
                self.data().select(dim, index)?;
                self.narrow(d as i64, i, 1)?.squeeze(d as i64)
            },
        )
    }

    /// Pieces of `split_size` along `dim` (`x.split`).
    pub fn split(&self, split_size: usize, dim: i64) -> Result<Vec<Variable>> {
        let parts = self.data().split(split_size, dim)?;
        let d = normalize_dim("split", dim, self.dim())? as i64;
        let mut start = 0i64;
        parts
            .iter()
            .map(|p| {
                let len = p.shape()[d as usize];
                let v = self.narrow(d, start, len);
                start += len as i64;
                v
            })
            .collect()
    }

    /// `chunks` nearly equal pieces along `dim` (`x.chunk`).
    pub fn chunk(&self, chunks: usize, dim: i64) -> Result<Vec<Variable>> {
        let size = self.data().size(dim)?;
        if chunks == 0 {
            self.data().chunk(0, dim)?;
        }
        self.split(size.div_ceil(chunks).max(1), dim)
    }

    /// Variables joined along `dim` (`torch.cat`).
    pub fn cat<V: Borrow<Variable>>(vars: &[V], dim: i64) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Cat(dim),
                    vars.iter().map(|v| TraceArg::var(v.borrow())).collect(),
                )
            },
            || {
                let vs: Vec<&Variable> = vars.iter().map(|v| v.borrow()).collect();
                let datas: Vec<Tensor> = vs.iter().map(|v| v.data()).collect();
                let out = Tensor::cat(&datas, dim)?;
                let d = normalize_dim("cat", dim, out.dim())? as i64;
                // Each input's length along `d`; `None` for the legacy empty
                // 1-D inputs `cat` skips beside higher-rank ones (their
                // gradient is an empty tensor of their own shape).
                let sizes: Vec<Option<usize>> = datas
                    .iter()
                    .map(|t| {
                        let skipped = t.dim() == 1 && t.numel() == 0 && out.dim() != 1;
                        (!skipped).then(|| t.shape()[d as usize])
                    })
                    .collect();
                Ok(record("CatBackward0", out, &vs, move |c| {
                    let mut start = 0i64;
                    sizes
                        .iter()
                        .enumerate()
                        .map(|(i, &len)| {
                            let g = match len {
                                _ if !c.needs(i) => None,
                                None => Some(Variable::constant(Tensor::zeros_dtype(
                                    &[0],
                                    c.grad.dtype(),
                                ))),
                                Some(len) => Some(c.grad.narrow(d, start, len)?),
                            };
                            start += len.unwrap_or(0) as i64;
                            Ok(g)
                        })
                        .collect()
                }))
            },
        )
    }

    /// Same-shaped variables joined along a new `dim` (`torch.stack`).
    pub fn stack<V: Borrow<Variable>>(vars: &[V], dim: i64) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Stack(dim),
                    vars.iter().map(|v| TraceArg::var(v.borrow())).collect(),
                )
            },
            || {
                let vs: Vec<&Variable> = vars.iter().map(|v| v.borrow()).collect();
                let datas: Vec<Tensor> = vs.iter().map(|v| v.data()).collect();
                Tensor::stack(&datas, dim)?; // validates shapes and dim
                let d = if dim < 0 {
                    dim + vs[0].dim() as i64 + 1
                } else {
                    dim
                };
                let ups: Vec<Variable> =
                    vs.iter().map(|v| v.unsqueeze(d)).collect::<Result<_>>()?;
                Variable::cat(&ups, d)
            },
        )
    }

    /// Entries of `dim` at the int64 `index` (`torch.index_select`).
    pub fn index_select(&self, dim: i64, index: &Tensor) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::IndexSelect(dim),
                    vec![TraceArg::var(self), TraceArg::Tensor(index.clone())],
                )
            },
            || {
                let out = self.data().index_select(dim, index)?;
                let index = index.clone();
                Ok(record("IndexSelectBackward0", out, &[self], move |c| {
                    Ok(vec![Some(index_add_into(
                        &c.inputs[0].shape(),
                        dim,
                        &index,
                        c.grad,
                    )?)])
                }))
            },
        )
    }

    /// Values at `index` along `dim` (`torch.gather`).
    pub fn gather(&self, dim: i64, index: &Tensor) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Gather(dim),
                    vec![TraceArg::var(self), TraceArg::Tensor(index.clone())],
                )
            },
            || {
                let out = self.data().gather(dim, index)?;
                let index = index.clone();
                Ok(record("GatherBackward0", out, &[self], move |c| {
                    Ok(vec![Some(scatter_add_into(
                        &c.inputs[0].shape(),
                        dim,
                        &index,
                        c.grad,
                    )?)])
                }))
            },
        )
    }

    /// `a` where `cond`, else `b`, broadcast (`torch.where`).
    pub fn where_cond(cond: &Tensor, a: &Variable, b: &Variable) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Where,
                    vec![
                        TraceArg::Tensor(cond.clone()),
                        TraceArg::var(a),
                        TraceArg::var(b),
                    ],
                )
            },
            || {
                let out = Tensor::where_cond(cond, &a.data(), &b.data())?;
                let cond = cond.clone();
                Ok(record("WhereBackward0", out, &[a, b], move |c| {
                    let g = c.grad;
                    let zero = Variable::constant(Tensor::zeros_dtype(&[], g.dtype()));
                    Ok(vec![
                        c.needs(0)
                            .then(|| {
                                sum_to(
                                    &Variable::where_cond(&cond, g, &zero)?,
                                    &c.inputs[0].shape(),
                                )
                            })
                            .transpose()?,
                        c.needs(1)
                            .then(|| {
                                sum_to(
                                    &Variable::where_cond(&cond, &zero, g)?,
                                    &c.inputs[1].shape(),
                                )
                            })
                            .transpose()?,
                    ])
                }))
            },
        )
    }

    /// `value` where the bool `mask` holds (`x.masked_fill`).
    pub fn masked_fill(&self, mask: &Variable, value: f64) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::MaskedFill(value),
                    vec![TraceArg::var(self), TraceArg::var(mask)],
                )
            },
            || {
                let m = mask.data();
                let out = self.data().masked_fill(&m, value)?;
                Ok(record("MaskedFillBackward0", out, &[self], move |c| {
                    // The result may be larger than the input (a mask that
                    // broadcasts beyond it): sum back to the input's shape.
                    let kept = c.grad.masked_fill(&Variable::constant(m.clone()), 0.0)?;
                    Ok(vec![Some(super::binary::sum_to(
                        &kept,
                        &c.inputs[0].shape(),
                    )?)])
                }))
            },
        )
    }
}

/// Zeros of the input's shape with `g` placed at `start..` along `d`
/// (the adjoint of `narrow`), by concatenating zero blocks: differentiable.
fn pad_dim(g: &Variable, d: usize, start: usize, size: usize) -> Result<Variable> {
    let gs = g.shape();
    let len = gs[d];
    let block = |n: usize| {
        let mut s = gs.clone();
        s[d] = n;
        Variable::constant(Tensor::zeros_dtype(&s, g.dtype()))
    };
    let mut parts = Vec::with_capacity(3);
    if start > 0 {
        parts.push(block(start));
    }
    parts.push(g.clone());
    if start + len < size {
        parts.push(block(size - start - len));
    }
    if parts.len() == 1 {
        return Ok(g.clone());
    }
    Variable::cat(&parts, d as i64)
}

/// `zeros(shape).index_add(dim, index, src)`, differentiable in `src`
/// (its gradient is `g.index_select(dim, index)`).
fn index_add_into(shape: &[usize], dim: i64, index: &Tensor, src: &Variable) -> Result<Variable> {
    let out = Tensor::zeros_dtype(shape, src.dtype()).index_add(dim, index, &src.data())?;
    let index = index.clone();
    Ok(record("IndexAddBackward0", out, &[src], move |c| {
        Ok(vec![Some(c.grad.index_select(dim, &index)?)])
    }))
}

/// `zeros(shape).scatter_add(dim, index, src)`, differentiable in `src`
/// (its gradient is `g.gather(dim, index)`).
fn scatter_add_into(shape: &[usize], dim: i64, index: &Tensor, src: &Variable) -> Result<Variable> {
    let out = Tensor::zeros_dtype(shape, src.dtype()).scatter_add(dim, index, &src.data())?;
    let index = index.clone();
    Ok(record("ScatterAddBackward0", out, &[src], move |c| {
        Ok(vec![Some(c.grad.gather(dim, &index)?)])
    }))
}
