//! Convolution, pooling and normalization with their gradients.
//!
//! First-order backward passes run the tensor crate's dedicated kernels
//! (`conv2d_backward_input`/`_weight`, the pool backward kernels) and the
//! fused normalization formulas over the statistics saved by the forward
//! pass. Every backward result is itself recorded with a backward of its
//! own, so `create_graph` gives exact higher-order gradients:
//!
//! - a convolution's input gradient is linear in `(grad, weight)` and its
//!   weight gradient linear in `(grad, input)`; their adjoints are again a
//!   convolution or one of those two gradients;
//! - pool gradients are linear in `grad`: max pooling's is a scatter (its
//!   adjoint a gather), average pooling's adjoint is the pooling itself;
//! - normalizations recompute their statistics from the input with
//!   differentiable ops (mean, variance, rsqrt) when the backward pass
//!   records a graph.

use torchlet_tensor::{Tensor, TensorError};

use crate::error::Result;
use crate::graph::record;
use crate::mode::is_grad_enabled;
use crate::trace::{AtenOp, TraceArg};
use crate::variable::Variable;

/// The hyper-parameters of a 1-d or 2-d convolution (for 1-d only entry 0
/// of each array is used).
#[derive(Clone, Copy, Debug)]
struct Conv {
    spatial: usize,
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
}

impl Conv {
    fn forward(&self, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        Ok(if self.spatial == 1 {
            x.conv1d(
                w,
                b,
                self.stride[0],
                self.padding[0],
                self.dilation[0],
                self.groups,
            )?
        } else {
            x.conv2d(w, b, self.stride, self.padding, self.dilation, self.groups)?
        })
    }

    fn backward_input(&self, g: &Tensor, w: &Tensor, input_shape: &[usize]) -> Result<Tensor> {
        Ok(if self.spatial == 1 {
            Tensor::conv1d_backward_input(
                g,
                w,
                input_shape,
                self.stride[0],
                self.padding[0],
                self.dilation[0],
                self.groups,
            )?
        } else {
            Tensor::conv2d_backward_input(
                g,
                w,
                input_shape,
                self.stride,
                self.padding,
                self.dilation,
                self.groups,
            )?
        })
    }

    fn backward_weight(&self, g: &Tensor, x: &Tensor, weight_shape: &[usize]) -> Result<Tensor> {
        Ok(if self.spatial == 1 {
            Tensor::conv1d_backward_weight(
                g,
                x,
                weight_shape,
                self.stride[0],
                self.padding[0],
                self.dilation[0],
                self.groups,
            )?
        } else {
            Tensor::conv2d_backward_weight(
                g,
                x,
                weight_shape,
                self.stride,
                self.padding,
                self.dilation,
                self.groups,
            )?
        })
    }

    /// The output length of spatial dim `i` for an input of length `len`
    /// and a kernel of `k` taps.
    fn out_len(&self, i: usize, len: usize, k: usize) -> usize {
        (len + 2 * self.padding[i] - self.dilation[i] * (k - 1) - 1) / self.stride[i] + 1
    }
}

/// `conv(x, w) + b`, recorded; the gradients go through [`conv_input_grad`]
/// and [`conv_weight_grad`], which are differentiable themselves.
fn conv(x: &Variable, w: &Variable, b: Option<&Variable>, p: Conv) -> Result<Variable> {
    let bias = b.map(|b| b.data());
    let out = p.forward(&x.data(), &w.data(), bias.as_ref())?;
    let mut inputs = vec![x, w];
    inputs.extend(b);
    Ok(record("ConvolutionBackward0", out, &inputs, move |c| {
        let (x, w, g) = (&c.inputs[0], &c.inputs[1], c.grad);
        let mut grads = vec![
            c.needs(0)
                .then(|| conv_input_grad(g, w, &x.shape(), p))
                .transpose()?,
            c.needs(1)
                .then(|| conv_weight_grad(g, x, &w.shape(), p))
                .transpose()?,
        ];
        if c.inputs.len() > 2 {
            grads.push(c.needs(2).then(|| channel_sum(g, p.spatial)).transpose()?);
        }
        Ok(grads)
    }))
}

/// The gradient of `conv(x, w)` with respect to `x` (shape `input_shape`)
/// given the output gradient `g`. Linear in `g` and in `w`:
/// `<conv_input_grad(g, w), v> = <g, conv(v, w)>`, so its gradients are
/// `conv(v, w)` for `g` and `conv_weight_grad(g, v)` for `w`.
fn conv_input_grad(g: &Variable, w: &Variable, input_shape: &[usize], p: Conv) -> Result<Variable> {
    let out = p.backward_input(&g.data(), &w.data(), input_shape)?;
    Ok(record(
        "ConvolutionBackwardBackward0",
        out,
        &[g, w],
        move |c| {
            let (g, w, v) = (&c.inputs[0], &c.inputs[1], c.grad);
            Ok(vec![
                c.needs(0).then(|| conv(v, w, None, p)).transpose()?,
                c.needs(1)
                    .then(|| conv_weight_grad(g, v, &w.shape(), p))
                    .transpose()?,
            ])
        },
    ))
}

/// The gradient of `conv(x, w)` with respect to `w` (shape `weight_shape`)
/// given the output gradient `g`. Linear in `g` and in `x`:
/// `<conv_weight_grad(g, x), v> = <g, conv(x, v)>`, so its gradients are
/// `conv(x, v)` for `g` and `conv_input_grad(g, v)` for `x`.
fn conv_weight_grad(
    g: &Variable,
    x: &Variable,
    weight_shape: &[usize],
    p: Conv,
) -> Result<Variable> {
    let out = p.backward_weight(&g.data(), &x.data(), weight_shape)?;
    Ok(record(
        "ConvolutionBackwardBackward0",
        out,
        &[g, x],
        move |c| {
            let (g, x, v) = (&c.inputs[0], &c.inputs[1], c.grad);
            Ok(vec![
                c.needs(0).then(|| conv(x, v, None, p)).transpose()?,
                c.needs(1)
                    .then(|| conv_input_grad(g, v, &x.shape(), p))
                    .transpose()?,
            ])
        },
    ))
}

/// The bias gradient of a convolution: `g` summed over every dim but the
/// channel dim (`[N, C, *spatial]` or unbatched `[C, *spatial]`).
fn channel_sum(g: &Variable, spatial: usize) -> Result<Variable> {
    let r = g.dim();
    let channel = r - spatial - 1;
    let dims: Vec<i64> = (0..r).filter(|&d| d != channel).map(|d| d as i64).collect();
    g.sum_dims(&dims, false)
}

/// `v` with its last two dims cut or zero-padded at the end to `hw`
/// (differentiable).
fn fit_spatial(v: &Variable, hw: [usize; 2]) -> Result<Variable> {
    let mut v = v.clone();
    for (i, &want) in hw.iter().enumerate() {
        let d = v.dim() - 2 + i;
        let have = v.shape()[d];
        if have > want {
            v = v.narrow(d as i64, 0, want)?;
        } else if have < want {
            let mut shape = v.shape();
            shape[d] = want - have;
            let zeros = Variable::constant(Tensor::zeros_dtype(&shape, v.dtype()));
            v = Variable::cat(&[v, zeros], d as i64)?;
        }
    }
    Ok(v)
}

/// The gradient of max pooling with respect to its input: `g` scattered to
/// the argmax positions `idx`. Its own gradient gathers from those
/// positions.
fn max_pool_scatter(g: &Variable, idx: &Tensor, input_shape: &[usize]) -> Result<Variable> {
    let out = Tensor::max_pool2d_backward(&g.data(), idx, input_shape)?;
    let idx = idx.clone();
    Ok(record(
        "MaxPool2DWithIndicesBackwardBackward0",
        out,
        &[g],
        move |c| Ok(vec![Some(plane_gather(c.grad, &idx)?)]),
    ))
}

/// `v[..., idx]` with `idx` holding flat positions within each `[H, W]`
/// plane of `v` (differentiable in `v`); the result has `idx`'s shape.
fn plane_gather(v: &Variable, idx: &Tensor) -> Result<Variable> {
    let flat = |s: &[usize]| {
        let r = s.len();
        let mut f: Vec<i64> = s[..r - 2].iter().map(|&n| n as i64).collect();
        f.push((s[r - 2] * s[r - 1]) as i64);
        f
    };
    let picked = v
        .reshape(&flat(&v.shape()))?
        .gather(-1, &idx.reshape(&flat(idx.shape()))?)?;
    picked.reshape(&idx.shape().iter().map(|&n| n as i64).collect::<Vec<_>>())
}

/// The gradient of average pooling with respect to its input (shape
/// `input_shape`); linear in `g`, its adjoint is the pooling itself.
fn avg_pool_grad(
    g: &Variable,
    input_shape: &[usize],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Result<Variable> {
    let out = Tensor::avg_pool2d_backward(&g.data(), input_shape, kernel, stride, padding)?;
    Ok(record("AvgPool2DBackwardBackward0", out, &[g], move |c| {
        Ok(vec![Some(c.grad.avg_pool2d(kernel, stride, padding)?)])
    }))
}

/// The gradient of adaptive average pooling with respect to its input
/// (shape `input_shape`); linear in `g`, its adjoint is the pooling itself.
fn adaptive_avg_pool_grad(g: &Variable, input_shape: &[usize]) -> Result<Variable> {
    let out = Tensor::adaptive_avg_pool2d_backward(&g.data(), input_shape)?;
    let shape = g.shape();
    let output_size = [shape[shape.len() - 2], shape[shape.len() - 1]];
    Ok(record(
        "AdaptiveAvgPool2DBackwardBackward0",
        out,
        &[g],
        move |c| Ok(vec![Some(c.grad.adaptive_avg_pool2d(output_size)?)]),
    ))
}

/// `x` normalized over `dims` with differentiable ops: `(x̂, rstd)` with
/// `x̂ = (x - mean) * rstd`, `rstd = 1 / sqrt(var + eps)` (biased variance,
/// kept dims).
fn normalize(x: &Variable, dims: &[i64], eps: f64) -> Result<(Variable, Variable)> {
    let centered = x.sub(&x.mean_dims(dims, true)?)?;
    let var = centered.square().mean_dims(dims, true)?;
    let rstd = var.add_scalar(eps).rsqrt();
    Ok((centered.mul(&rstd)?, rstd))
}

/// Where a normalization's statistics and parameters live.
struct NormLayout {
    /// The dims each statistic is taken over.
    stat_dims: Vec<i64>,
    /// The dims the weight and bias gradients sum over (empty: none).
    param_dims: Vec<i64>,
    /// The weight reshaped to broadcast against the input.
    param_view: Vec<i64>,
    /// The shape of the weight and bias.
    param_shape: Vec<i64>,
}

/// `g` summed over `dims` (none: `g` itself) and shaped like a parameter.
fn param_sum(g: &Variable, l: &NormLayout) -> Result<Variable> {
    let s = if l.param_dims.is_empty() {
        g.clone()
    } else {
        g.sum_dims(&l.param_dims, false)?
    };
    s.reshape(&l.param_shape)
}

/// The gradients of `y = x̂ * w + b` (`x̂` normalized over `l.stat_dims`)
/// for input, weight and bias, from `x̂` and `rstd` (constants from the
/// forward pass for a first-order pass, differentiable functions of the
/// input when recording):
/// `dx = rstd * (gw - mean(gw) - x̂ * mean(gw * x̂))` with `gw = g * w`.
fn norm_backward(
    g: &Variable,
    xhat: &Variable,
    rstd: &Variable,
    weight: Option<&Variable>,
    l: &NormLayout,
    needs: [bool; 3],
) -> Result<[Option<Variable>; 3]> {
    let gx = if needs[0] {
        let gw = match weight {
            Some(w) => g.mul(&w.reshape(&l.param_view)?)?,
            None => g.clone(),
        };
        let m1 = gw.mean_dims(&l.stat_dims, true)?;
        let m2 = gw.mul(xhat)?.mean_dims(&l.stat_dims, true)?;
        Some(rstd.mul(&gw.sub(&m1)?.sub(&xhat.mul(&m2)?)?)?)
    } else {
        None
    };
    let gw = if needs[1] {
        Some(param_sum(&g.mul(xhat)?, l)?)
    } else {
        None
    };
    let gb = if needs[2] {
        Some(param_sum(g, l)?)
    } else {
        None
    };
    Ok([gx, gw, gb])
}

/// The positions of the optional weight and bias among a norm's inputs.
fn param_positions(weight: bool, bias: bool) -> (Option<usize>, Option<usize>) {
    let w = weight.then_some(1);
    let b = bias.then_some(1 + weight as usize);
    (w, b)
}

/// Scatters `[dx, dw, db]` to the recorded inputs `[x, w?, b?]`.
fn place(
    grads: [Option<Variable>; 3],
    w_pos: Option<usize>,
    b_pos: Option<usize>,
) -> Vec<Option<Variable>> {
    let [gx, gw, gb] = grads;
    let mut out = vec![gx];
    if w_pos.is_some() {
        out.push(gw);
    }
    if b_pos.is_some() {
        out.push(gb);
    }
    out
}

fn dims_i64(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&n| n as i64).collect()
}

impl Variable {
    /// 2-d convolution (`F.conv2d`): input `[N, C_in, H, W]` (or
    /// `[C_in, H, W]`), weight `[C_out, C_in / groups, kH, kW]`, optional
    /// bias `[C_out]`; see [`Tensor::conv2d`]. Differentiable in all three,
    /// to any order.
    pub fn conv2d(
        &self,
        weight: &Variable,
        bias: Option<&Variable>,
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Conv {
                        stride: stride.to_vec(),
                        padding: padding.to_vec(),
                        dilation: dilation.to_vec(),
                        groups,
                    },
                    vec![
                        TraceArg::var(self),
                        TraceArg::var(weight),
                        TraceArg::opt(bias),
                    ],
                )
            },
            || {
                conv(
                    self,
                    weight,
                    bias,
                    Conv {
                        spatial: 2,
                        stride,
                        padding,
                        dilation,
                        groups,
                    },
                )
            },
        )
    }

    /// 1-d convolution (`F.conv1d`): input `[N, C_in, L]` (or `[C_in, L]`),
    /// weight `[C_out, C_in / groups, k]`, optional bias `[C_out]`; see
    /// [`Tensor::conv1d`]. Differentiable in all three, to any order.
    pub fn conv1d(
        &self,
        weight: &Variable,
        bias: Option<&Variable>,
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Conv {
                        stride: vec![stride],
                        padding: vec![padding],
                        dilation: vec![dilation],
                        groups,
                    },
                    vec![
                        TraceArg::var(self),
                        TraceArg::var(weight),
                        TraceArg::opt(bias),
                    ],
                )
            },
            || {
                let p = Conv {
                    spatial: 1,
                    stride: [stride, 1],
                    padding: [padding, 0],
                    dilation: [dilation, 1],
                    groups,
                };
                conv(self, weight, bias, p)
            },
        )
    }

    /// 2-d transposed convolution (`F.conv_transpose2d`): weight
    /// `[C_in, C_out / groups, kH, kW]`, optional bias `[C_out]`; see
    /// [`Tensor::conv_transpose2d`]. It is the adjoint of a convolution, so
    /// its input gradient is a convolution and its weight gradient a
    /// convolution's weight gradient; differentiable to any order.
    #[allow(clippy::too_many_arguments)]
    pub fn conv_transpose2d(
        &self,
        weight: &Variable,
        bias: Option<&Variable>,
        stride: [usize; 2],
        padding: [usize; 2],
        output_padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::ConvTranspose {
                        stride: stride.to_vec(),
                        padding: padding.to_vec(),
                        output_padding: output_padding.to_vec(),
                        dilation: dilation.to_vec(),
                        groups,
                    },
                    vec![
                        TraceArg::var(self),
                        TraceArg::var(weight),
                        TraceArg::opt(bias),
                    ],
                )
            },
            || {
                let b = bias.map(|b| b.data());
                let out = self.data().conv_transpose2d(
                    &weight.data(),
                    b.as_ref(),
                    stride,
                    padding,
                    output_padding,
                    dilation,
                    groups,
                )?;
                let p = Conv {
                    spatial: 2,
                    stride,
                    padding,
                    dilation,
                    groups,
                };
                let mut inputs = vec![self, weight];
                inputs.extend(bias);
                Ok(record("ConvolutionBackward0", out, &inputs, move |c| {
                    // y = conv^T(x, w), the adjoint of x' -> conv(x', w) from y's
                    // space to x's: <y, g> = <x, conv(g, w)>. When output_padding
                    // reaches the stride, conv(g, w) has extra trailing positions
                    // that no input element maps to.
                    let (x, w, g) = (&c.inputs[0], &c.inputs[1], c.grad);
                    let (xs, ws, gs) = (x.shape(), w.shape(), g.shape());
                    let r = xs.len();
                    let x_hw = [xs[r - 2], xs[r - 1]];
                    let conv_hw = [
                        p.out_len(0, gs[r - 2], ws[2]),
                        p.out_len(1, gs[r - 1], ws[3]),
                    ];
                    let mut grads = vec![
                        c.needs(0)
                            .then(|| fit_spatial(&conv(g, w, None, p)?, x_hw))
                            .transpose()?,
                        c.needs(1)
                            .then(|| conv_weight_grad(&fit_spatial(x, conv_hw)?, g, &ws, p))
                            .transpose()?,
                    ];
                    if c.inputs.len() > 2 {
                        grads.push(c.needs(2).then(|| channel_sum(g, 2)).transpose()?);
                    }
                    Ok(grads)
                }))
            },
        )
    }

    /// 2-d max pooling (`F.max_pool2d(x, kernel, stride, padding)`) over
    /// `[N, C, H, W]` or `[C, H, W]`; see [`Tensor::max_pool2d`]. The
    /// gradient goes to each window's maximum.
    pub fn max_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::MaxPool2d {
                        kernel,
                        stride,
                        padding,
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let x = self.data();
                if !(is_grad_enabled() && self.requires_grad()) {
                    return Ok(Variable::constant(x.max_pool2d(kernel, stride, padding)?));
                }
                let (out, idx) = x.max_pool2d_with_indices(kernel, stride, padding)?;
                Ok(record(
                    "MaxPool2DWithIndicesBackward0",
                    out,
                    &[self],
                    move |c| {
                        Ok(vec![Some(max_pool_scatter(
                            c.grad,
                            &idx,
                            &c.inputs[0].shape(),
                        )?)])
                    },
                ))
            },
        )
    }

    /// 2-d average pooling (`F.avg_pool2d(x, kernel, stride, padding)`,
    /// zero padding counted); see [`Tensor::avg_pool2d`].
    pub fn avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::AvgPool2d {
                        kernel,
                        stride,
                        padding,
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let out = self.data().avg_pool2d(kernel, stride, padding)?;
                Ok(record("AvgPool2DBackward0", out, &[self], move |c| {
                    Ok(vec![Some(avg_pool_grad(
                        c.grad,
                        &c.inputs[0].shape(),
                        kernel,
                        stride,
                        padding,
                    )?)])
                }))
            },
        )
    }

    /// Adaptive 2-d average pooling to `output_size`
    /// (`F.adaptive_avg_pool2d`); see [`Tensor::adaptive_avg_pool2d`].
    pub fn adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::AdaptiveAvgPool2d { output_size },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let out = self.data().adaptive_avg_pool2d(output_size)?;
                Ok(record("AdaptiveAvgPool2DBackward0", out, &[self], |c| {
                    Ok(vec![Some(adaptive_avg_pool_grad(
                        c.grad,
                        &c.inputs[0].shape(),
                    )?)])
                }))
            },
        )
    }

    /// Batch normalization of an `[N, C, *]` input (`F.batch_norm`):
    /// `(x - mean) / sqrt(var + eps) * weight + bias` per channel.
    ///
    /// With `training`, the batch's mean and biased variance are used and
    /// the gradient flows through them, as in PyTorch; the running
    /// statistics (optional then) are only checked, not updated — a module
    /// updates them from [`Tensor::batch_norm_stats`]. Otherwise
    /// `running_mean` and `running_var` are required and act as constants.
    pub fn batch_norm(
        &self,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        weight: Option<&Variable>,
        bias: Option<&Variable>,
        training: bool,
        eps: f64,
    ) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::BatchNorm { training, eps },
                    vec![
                        TraceArg::var(self),
                        running_mean.map_or(TraceArg::Absent, |t| TraceArg::Tensor(t.clone())),
                        running_var.map_or(TraceArg::Absent, |t| TraceArg::Tensor(t.clone())),
                        TraceArg::opt(weight),
                        TraceArg::opt(bias),
                    ],
                )
            },
            || {
                let x = self.data();
                let (w, b) = (weight.map(|v| v.data()), bias.map(|v| v.data()));
                let (mean, var) = if training {
                    if x.dim() >= 2 {
                        let c = x.shape()[1];
                        for (name, p) in
                            [("running_mean", running_mean), ("running_var", running_var)]
                        {
                            if let Some(p) = p.filter(|p| p.shape() != [c]) {
                                return Err(TensorError::shapes(
                                    "batch_norm",
                                    &[x.shape(), p.shape()],
                                    format!("{name} must have shape [{c}]"),
                                )
                                .into());
                            }
                        }
                    }
                    let stats = x.batch_norm_stats()?;
                    (stats.mean, stats.var)
                } else {
                    match (running_mean, running_var) {
                        (Some(m), Some(v)) => (m.clone(), v.clone()),
                        // the tensor op reports the missing statistics
                        _ => {
                            return Ok(Variable::constant(x.batch_norm(
                                running_mean,
                                running_var,
                                w.as_ref(),
                                b.as_ref(),
                                false,
                                eps,
                            )?))
                        }
                    }
                };
                // The batch statistics as "running" ones: one fused pass.
                let out =
                    x.batch_norm(Some(&mean), Some(&var), w.as_ref(), b.as_ref(), false, eps)?;
                let (r, c) = (x.dim(), x.shape()[1]);
                let mut view = vec![1i64; r];
                view[1] = c as i64;
                let layout = NormLayout {
                    stat_dims: (0..r as i64).filter(|&d| d != 1).collect(),
                    param_dims: (0..r as i64).filter(|&d| d != 1).collect(),
                    param_view: view.clone(),
                    param_shape: vec![c as i64],
                };
                let dt = out.dtype();
                let mean = mean.to_dtype(dt).reshape(&view)?;
                let rstd = var.to_dtype(dt).add_scalar(eps).rsqrt().reshape(&view)?;
                let mut inputs = vec![self];
                inputs.extend(weight);
                inputs.extend(bias);
                let (w_pos, b_pos) = param_positions(weight.is_some(), bias.is_some());
                Ok(record("NativeBatchNormBackward0", out, &inputs, move |c| {
                    let x = &c.inputs[0];
                    let w = w_pos.map(|i| &c.inputs[i]);
                    let needs = [
                        c.needs(0),
                        w_pos.is_some_and(|i| c.needs(i)),
                        b_pos.is_some_and(|i| c.needs(i)),
                    ];
                    let rstd_v = Variable::constant(rstd.clone());
                    let grads = if !training {
                        // Running statistics are constants: y is affine in x.
                        let xhat = x.sub(&Variable::constant(mean.clone()))?.mul(&rstd_v)?;
                        let gx = match (needs[0], w) {
                            (false, _) => None,
                            (true, Some(w)) => {
                                Some(c.grad.mul(&w.reshape(&layout.param_view)?)?.mul(&rstd_v)?)
                            }
                            (true, None) => Some(c.grad.mul(&rstd_v)?),
                        };
                        let gw = if needs[1] {
                            Some(param_sum(&c.grad.mul(&xhat)?, &layout)?)
                        } else {
                            None
                        };
                        let gb = if needs[2] {
                            Some(param_sum(c.grad, &layout)?)
                        } else {
                            None
                        };
                        [gx, gw, gb]
                    } else if c.create_graph {
                        let (xhat, rstd) = normalize(x, &layout.stat_dims, eps)?;
                        norm_backward(c.grad, &xhat, &rstd, w, &layout, needs)?
                    } else {
                        // First order: PyTorch's two-pass kernel.
                        let flat = |t: &Tensor| t.reshape(&[-1]);
                        let wd = w.map(|w| w.data());
                        let (gx, gw, gb) = x.data().batch_norm_backward(
                            &c.grad.data(),
                            &flat(&mean)?,
                            &flat(&rstd)?,
                            wd.as_ref(),
                        )?;
                        let keep = |g: Tensor, need: bool| need.then(|| Variable::constant(g));
                        [keep(gx, needs[0]), keep(gw, needs[1]), keep(gb, needs[2])]
                    };
                    Ok(place(grads, w_pos, b_pos))
                }))
            },
        )
    }

    /// Layer normalization over the trailing `normalized_shape` dims
    /// (`F.layer_norm`), with optional elementwise `weight` and `bias` of
    /// that shape; see [`Tensor::layer_norm`]. The gradient flows through
    /// each row's mean and variance.
    pub fn layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Variable>,
        bias: Option<&Variable>,
        eps: f64,
    ) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::LayerNorm {
                        normalized_shape: normalized_shape.to_vec(),
                        eps,
                    },
                    vec![
                        TraceArg::var(self),
                        TraceArg::opt(weight),
                        TraceArg::opt(bias),
                    ],
                )
            },
            || {
                let x = self.data();
                let (w, b) = (weight.map(|v| v.data()), bias.map(|v| v.data()));
                let (out, mean, rstd) =
                    x.layer_norm_with_stats(normalized_shape, w.as_ref(), b.as_ref(), eps)?;
                let (r, k) = (x.dim(), normalized_shape.len());
                let mut view = dims_i64(&x.shape()[..r - k]);
                view.extend(std::iter::repeat_n(1, k));
                let mean = mean.reshape(&view)?;
                let rstd = rstd.reshape(&view)?;
                let layout = NormLayout {
                    stat_dims: ((r - k) as i64..r as i64).collect(),
                    param_dims: (0..(r - k) as i64).collect(),
                    param_view: dims_i64(normalized_shape),
                    param_shape: dims_i64(normalized_shape),
                };
                let mut inputs = vec![self];
                inputs.extend(weight);
                inputs.extend(bias);
                let (w_pos, b_pos) = param_positions(weight.is_some(), bias.is_some());
                Ok(record("NativeLayerNormBackward0", out, &inputs, move |c| {
                    let x = &c.inputs[0];
                    let w = w_pos.map(|i| &c.inputs[i]);
                    let needs = [
                        c.needs(0),
                        w_pos.is_some_and(|i| c.needs(i)),
                        b_pos.is_some_and(|i| c.needs(i)),
                    ];
                    let grads = if c.create_graph {
                        let (xhat, rstd) = normalize(x, &layout.stat_dims, eps)?;
                        norm_backward(c.grad, &xhat, &rstd, w, &layout, needs)?
                    } else {
                        let xhat = Variable::constant(x.data().sub(&mean)?.mul(&rstd)?);
                        norm_backward(
                            c.grad,
                            &xhat,
                            &Variable::constant(rstd.clone()),
                            w,
                            &layout,
                            needs,
                        )?
                    };
                    Ok(place(grads, w_pos, b_pos))
                }))
            },
        )
    }
}

#[cfg(test)]
mod tests;
