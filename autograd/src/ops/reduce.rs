//! Reductions, softmax and log_softmax with their gradients.

use torchlet_tensor::{normalize_dim, Tensor};

use crate::error::Result;
use crate::graph::{record, Ctx};
use crate::trace::{AtenOp, TraceArg};
use crate::variable::Variable;

/// `g` (reduced over `dims`) broadcast back to `shape`: unsqueeze the
/// reduced dims when they were dropped, then expand.
fn expand_back(g: &Variable, shape: &[usize], dims: &[usize], keepdim: bool) -> Result<Variable> {
    let mut g = g.clone();
    if !keepdim && !shape.is_empty() {
        let mut ds = dims.to_vec();
        ds.sort_unstable();
        for d in ds {
            g = g.unsqueeze(d as i64)?;
        }
    }
    let target: Vec<i64> = shape.iter().map(|&n| n as i64).collect();
    g.expand(&target)
}

fn saved_or(c: &Ctx<'_>, f: impl FnOnce(&Variable) -> Result<Variable>) -> Result<Variable> {
    if c.create_graph {
        f(&c.inputs[0])
    } else {
        Ok(Variable::constant(c.output.clone()))
    }
}

impl Variable {
    /// Sum of all elements (`x.sum()`), a 0-d variable (cannot fail, as
    /// `Tensor::sum`).
    pub fn sum(&self) -> Variable {
        crate::trace::traced(
            || {
                (
                    AtenOp::Sum {
                        dims: None,
                        keepdim: false,
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let out = self.with_data(|t| t.sum());
                record("SumBackward0", out, &[self], |c| {
                    let shape: Vec<i64> = c.inputs[0].shape().iter().map(|&n| n as i64).collect();
                    Ok(vec![Some(c.grad.expand(&shape)?)])
                })
            },
        )
    }

    /// Sum over `dim`, removing it (`x.sum(dim)`).
    pub fn sum_dim(&self, dim: i64) -> Result<Variable> {
        self.sum_dims(&[dim], false)
    }

    /// Sum over `dim`, keeping it with size 1.
    pub fn sum_keepdim(&self, dim: i64) -> Result<Variable> {
        self.sum_dims(&[dim], true)
    }

    /// Sum over several dims (`x.sum(dims, keepdim)`); empty sums all.
    pub fn sum_dims(&self, dims: &[i64], keepdim: bool) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Sum {
                        dims: (!dims.is_empty()).then(|| dims.to_vec()),
                        keepdim,
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let x = self.data();
                let out = x.sum_dims(dims, keepdim)?;
                let ds: Vec<usize> = if dims.is_empty() {
                    (0..x.dim()).collect()
                } else {
                    dims.iter()
                        .map(|&d| normalize_dim("sum", d, x.dim()))
                        .collect::<std::result::Result<_, _>>()?
                };
                Ok(record("SumBackward1", out, &[self], move |c| {
                    Ok(vec![Some(expand_back(
                        c.grad,
                        &c.inputs[0].shape(),
                        &ds,
                        keepdim,
                    )?)])
                }))
            },
        )
    }

    /// Mean of all elements (`x.mean()`), a 0-d float variable (cannot
    /// fail, as `Tensor::mean`).
    pub fn mean(&self) -> Variable {
        crate::trace::traced(
            || {
                (
                    AtenOp::Mean {
                        dims: None,
                        keepdim: false,
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let n = self.numel().max(1) as f64;
                self.sum().div_scalar(n)
            },
        )
    }

    /// Mean over `dim`, removing it.
    pub fn mean_dim(&self, dim: i64) -> Result<Variable> {
        self.mean_dims(&[dim], false)
    }

    /// Mean over `dim`, keeping it with size 1.
    pub fn mean_keepdim(&self, dim: i64) -> Result<Variable> {
        self.mean_dims(&[dim], true)
    }

    /// Mean over several dims.
    pub fn mean_dims(&self, dims: &[i64], keepdim: bool) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Mean {
                        dims: (!dims.is_empty()).then(|| dims.to_vec()),
                        keepdim,
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let s = self.sum_dims(dims, keepdim)?;
                let count = self.numel() / s.numel().max(1);
                Ok(s.div_scalar(count.max(1) as f64))
            },
        )
    }

    /// Largest values along `dim` and their (constant) indices
    /// (`torch.max(x, dim, keepdim)`); the gradient goes to the argmax.
    pub fn max_dim(&self, dim: i64, keepdim: bool) -> Result<(Variable, Tensor)> {
        let (_, idx) = self.data().max_dim(dim, keepdim)?;
        self.pick(dim, idx, keepdim)
    }

    /// Smallest values along `dim` and their indices (`torch.min(x, dim, keepdim)`).
    pub fn min_dim(&self, dim: i64, keepdim: bool) -> Result<(Variable, Tensor)> {
        let (_, idx) = self.data().min_dim(dim, keepdim)?;
        self.pick(dim, idx, keepdim)
    }

    /// Values at `idx` along `dim`, through the differentiable `gather`.
    fn pick(&self, dim: i64, idx: Tensor, keepdim: bool) -> Result<(Variable, Tensor)> {
        let d = normalize_dim("max", dim, self.dim())? as i64;
        if self.dim() == 0 {
            return Ok((self.clone(), idx));
        }
        let full = if keepdim {
            idx.clone()
        } else {
            idx.unsqueeze(d)?
        };
        let v = self.gather(d, &full)?;
        let v = if keepdim { v } else { v.squeeze(d)? };
        Ok((v, idx))
    }

    /// Largest element (`x.max()`); the gradient is shared evenly by all
    /// elements equal to it, as in PyTorch.
    pub fn max(&self) -> Result<Variable> {
        crate::trace::traced(
            || (AtenOp::MaxAll, vec![TraceArg::var(self)]),
            || self.extreme_all(true),
        )
    }

    /// Smallest element (`x.min()`), gradient shared evenly among ties.
    pub fn min(&self) -> Result<Variable> {
        crate::trace::traced(
            || (AtenOp::MinAll, vec![TraceArg::var(self)]),
            || self.extreme_all(false),
        )
    }

    fn extreme_all(&self, largest: bool) -> Result<Variable> {
        let x = self.data();
        let out = if largest { x.max()? } else { x.min()? };
        let name = if largest {
            "MaxBackward1"
        } else {
            "MinBackward1"
        };
        Ok(record(name, out, &[self], |c| {
            let x = c.inputs[0].data();
            let hits = x.eq(c.output)?.to_dtype(x.dtype().to_float());
            let share = hits.div(&hits.sum())?;
            let shape: Vec<i64> = x.shape().iter().map(|&n| n as i64).collect();
            Ok(vec![Some(
                c.grad.expand(&shape)?.mul(&Variable::constant(share))?,
            )])
        }))
    }

    /// Index of the largest value along `dim`, which is removed
    /// (`x.argmax(dim)`; not differentiable, so a tensor).
    pub fn argmax(&self, dim: i64) -> Result<Tensor> {
        Ok(self.with_data(|t| t.argmax(dim))?)
    }

    /// Index of the largest value along `dim`, kept with size 1
    /// (`x.argmax(dim, keepdim=True)`).
    pub fn argmax_keepdim(&self, dim: i64) -> Result<Tensor> {
        Ok(self.with_data(|t| t.argmax_keepdim(dim))?)
    }

    /// Index of the smallest value along `dim`, which is removed
    /// (`x.argmin(dim)`; not differentiable, so a tensor).
    pub fn argmin(&self, dim: i64) -> Result<Tensor> {
        Ok(self.with_data(|t| t.argmin(dim))?)
    }

    /// Index of the smallest value along `dim`, kept with size 1.
    pub fn argmin_keepdim(&self, dim: i64) -> Result<Tensor> {
        Ok(self.with_data(|t| t.argmin_keepdim(dim))?)
    }

    /// Product over `dim` (`torch.prod(x, dim, keepdim)`).
    pub fn prod_dim(&self, dim: i64, keepdim: bool) -> Result<Variable> {
        crate::trace::traced(
            || (AtenOp::Prod { dim, keepdim }, vec![TraceArg::var(self)]),
            || {
                let x = self.data();
                let d = normalize_dim("prod", dim, x.dim())?;
                let out = x.prod_dim(dim, keepdim)?;
                Ok(record("ProdBackward1", out, &[self], move |c| {
                    let x = &c.inputs[0];
                    if x.dim() == 0 {
                        // The product of one number is that number.
                        return Ok(vec![Some(c.grad.clone())]);
                    }
                    let g = expand_back(c.grad, &x.shape(), &[d], keepdim)?;
                    let has_zero = x
                        .data()
                        .eq(&Tensor::zeros_dtype(&[], x.dtype()))?
                        .to_dtype(torchlet_tensor::DType::I64)
                        .sum()
                        .item::<i64>()?
                        > 0;
                    if !has_zero {
                        // prod / x_i
                        let p = x.prod_dim(d as i64, true)?;
                        let shape: Vec<i64> = x.shape().iter().map(|&n| n as i64).collect();
                        return Ok(vec![Some(g.mul(&p.expand(&shape)?.div(x)?)?)]);
                    }
                    // With zeros, prod / x_i is undefined: build the product of the
                    // other entries for each position from differentiable slices, so
                    // higher-order gradients stay exact.
                    let r = x.shape()[d];
                    let di = d as i64;
                    let mut parts = Vec::with_capacity(r);
                    for i in 0..r {
                        let left = x.narrow(di, 0, i)?;
                        let right = x.narrow(di, i as i64 + 1, r - i - 1)?;
                        parts.push(Variable::cat(&[left, right], di)?.prod_dim(di, true)?);
                    }
                    Ok(vec![Some(g.mul(&Variable::cat(&parts, di)?)?)])
                }))
            },
        )
    }

    /// Variance over `dim` with Bessel's `correction` (1 = unbiased).
    pub fn var_dim(&self, dim: i64, correction: usize, keepdim: bool) -> Result<Variable> {
        let d = normalize_dim("var", dim, self.dim())?;
        let n = self.shape().get(d).copied().unwrap_or(1);
        let centered = self.sub(&self.mean_keepdim(dim)?)?;
        let ss = centered.square().sum_dims(&[dim], keepdim)?;
        Ok(ss.div_scalar(n as f64 - correction as f64))
    }

    /// Standard deviation over `dim` with Bessel's `correction`.
    pub fn std_dim(&self, dim: i64, correction: usize, keepdim: bool) -> Result<Variable> {
        Ok(self.var_dim(dim, correction, keepdim)?.sqrt())
    }

    /// `log(sum(exp(x)))` over `dim`, stable (`torch.logsumexp`).
    pub fn logsumexp(&self, dim: i64, keepdim: bool) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::LogSumExp { dim, keepdim },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let x = self.data();
                let d = normalize_dim("logsumexp", dim, x.dim())?;
                let out = x.logsumexp(dim, keepdim)?;
                Ok(record("LogsumexpBackward0", out, &[self], move |c| {
                    let x = &c.inputs[0];
                    let lse = saved_or(c, |x| x.logsumexp(d as i64, keepdim))?;
                    let lse_full = expand_back(&lse, &x.shape(), &[d], keepdim)?;
                    let g = expand_back(c.grad, &x.shape(), &[d], keepdim)?;
                    Ok(vec![Some(g.mul(&x.sub(&lse_full)?.exp())?)])
                }))
            },
        )
    }

    /// softmax along `dim` (`torch.softmax`).
    pub fn softmax(&self, dim: i64) -> Result<Variable> {
        crate::trace::traced(
            || (AtenOp::Softmax(dim), vec![TraceArg::var(self)]),
            || {
                let out = self.data().softmax(dim)?;
                Ok(record("SoftmaxBackward0", out, &[self], move |c| {
                    let y = saved_or(c, |x| x.softmax(dim))?;
                    // y * (g - sum(g * y))
                    let gy = c.grad.mul(&y)?;
                    let s = gy.sum_keepdim(dim)?;
                    Ok(vec![Some(gy.sub(&y.mul(&s)?)?)])
                }))
            },
        )
    }

    /// log_softmax along `dim` (`torch.log_softmax`).
    pub fn log_softmax(&self, dim: i64) -> Result<Variable> {
        crate::trace::traced(
            || (AtenOp::LogSoftmax(dim), vec![TraceArg::var(self)]),
            || {
                let out = self.data().log_softmax(dim)?;
                Ok(record("LogSoftmaxBackward0", out, &[self], move |c| {
                    let y = saved_or(c, |x| x.log_softmax(dim))?;
                    // g - exp(y) * sum(g)
                    let s = c.grad.sum_keepdim(dim)?;
                    Ok(vec![Some(c.grad.sub(&y.exp().mul(&s)?)?)])
                }))
            },
        )
    }
}
