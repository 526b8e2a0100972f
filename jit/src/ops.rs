//! One node of a graph, run: each op calls the same autograd op eager
//! mode calls (under `no_grad`, on constant variables, so no gradient
//! graph is built), so an unoptimised graph gives eager's bits.

use smallvec::SmallVec;
use torchlet_autograd::functional::embedding;
use torchlet_autograd::trace::{AtenOp, BinaryOp};
use torchlet_autograd::{no_grad, AutogradError, Result, Variable};
use torchlet_tensor::{DType, Tensor};

use crate::graph::Op;

/// An error of op `op`.
fn fail(op: &'static str, message: String) -> AutogradError {
    AutogradError::Graph { op, message }
}

/// The node's arguments as the op reads them.
struct Args<'a> {
    op: &'static str,
    values: &'a [Option<Tensor>],
}

impl Args<'_> {
    fn missing(&self, i: usize) -> AutogradError {
        fail(self.op, format!("input {i} is missing"))
    }

    /// Input `i` as a tensor.
    fn tensor(&self, i: usize) -> Result<&Tensor> {
        self.values
            .get(i)
            .and_then(Option::as_ref)
            .ok_or_else(|| self.missing(i))
    }

    /// Input `i` as a constant variable.
    fn var(&self, i: usize) -> Result<Variable> {
        self.tensor(i).map(|t| Variable::constant(t.clone()))
    }

    /// Optional input `i` (absent or past the end: `None`).
    fn opt(&self, i: usize) -> Option<Variable> {
        self.values
            .get(i)
            .and_then(Option::as_ref)
            .map(|t| Variable::constant(t.clone()))
    }

    /// A per-spatial-dim attribute of a 2-d op as an array.
    fn pair(&self, v: &[usize]) -> Result<[usize; 2]> {
        v.try_into()
            .map_err(|_| fail(self.op, format!("{v:?} is not 2 values")))
    }

    /// Every input, as variables.
    fn all(&self) -> Result<Vec<Variable>> {
        (0..self.values.len()).map(|i| self.var(i)).collect()
    }
}

/// Runs `op` on `inputs` (`None` for an absent optional input).
pub(crate) fn run(op: &Op, inputs: &[Option<Tensor>]) -> Result<Vec<Tensor>> {
    let mut outs = Vec::new();
    run_into(op, inputs, &mut outs)?;
    Ok(outs)
}

/// [`run`], pushing the outputs onto `outs`. The ops the jit's models
/// spend their time in call the tensor kernels directly (the same calls
/// the autograd ops make, so the same bits), which allocate nothing
/// inside a [`BufferPool`](torchlet_tensor::BufferPool) scope once it
/// holds their buffers; the rest go through the autograd ops.
pub(crate) fn run_into(op: &Op, inputs: &[Option<Tensor>], outs: &mut Vec<Tensor>) -> Result<()> {
    let a = Args {
        op: op.name(),
        values: inputs,
    };
    if let Some(t) = direct(op, &a)? {
        outs.push(t);
        return Ok(());
    }
    let vars = no_grad(|| -> Result<Vec<Variable>> {
        match op {
            Op::Aten(op) => aten(op, &a),
            Op::Reshape(target) => {
                let x = a.var(0)?;
                let concrete = concrete_target(target, &x.shape());
                Ok(vec![x.reshape(&concrete)?])
            }
            Op::Expand(target) => Ok(vec![a.var(0)?.expand(target)?]),
            Op::Text(t) => t.run(inputs),
            Op::Fused(_) | Op::Epilogue(_) => unreachable!("run directly"),
        }
    })?;
    outs.extend(vars.into_iter().map(|v| v.data()));
    Ok(())
}

/// A reshape target with its `0`s (copy the input's size) resolved.
fn concrete_target(target: &[i64], shape: &[usize]) -> SmallVec<[i64; 6]> {
    target
        .iter()
        .enumerate()
        .map(|(i, &d)| match d {
            0 => shape.get(i).map_or(0, |&n| n as i64),
            d => d,
        })
        .collect()
}

/// The ops run on tensors directly (see [`run_into`]); `None` for the
/// others.
fn direct(op: &Op, a: &Args) -> Result<Option<Tensor>> {
    let x = || a.tensor(0);
    let is_f32 = |i: usize| a.tensor(i).is_ok_and(|t| t.dtype() == DType::F32);
    Ok(Some(match op {
        Op::Fused(expr) => crate::fused::run(expr, a.values)?,
        Op::Epilogue(e) => e.run(a.values)?,
        Op::Reshape(target) => {
            let x = x()?;
            x.reshape(&concrete_target(target, x.shape()))?
        }
        Op::Aten(AtenOp::Reshape(shape)) => x()?.reshape(shape)?,
        Op::Aten(AtenOp::Flatten { start, end }) => x()?.flatten(*start, *end)?,
        Op::Aten(AtenOp::Relu) => x()?.relu(),
        Op::Aten(AtenOp::Binary(BinaryOp::Add)) => x()?.add(a.tensor(1)?)?,
        Op::Aten(AtenOp::Linear) if is_f32(0) && is_f32(1) && a.tensor(1)?.dim() == 2 => {
            let bias = a.values.get(2).and_then(Option::as_ref);
            if bias.is_some_and(|b| b.dtype() != DType::F32 || !b.is_contiguous()) {
                return Ok(None);
            }
            crate::epilogue::linear_then(x()?, a.tensor(1)?, bias, None)?
        }
        Op::Aten(AtenOp::Conv {
            stride,
            padding,
            dilation,
            groups,
        }) if a.tensor(1)?.dim() == 4 => x()?.conv2d(
            a.tensor(1)?,
            a.values.get(2).and_then(Option::as_ref),
            a.pair(stride)?,
            a.pair(padding)?,
            a.pair(dilation)?,
            *groups,
        )?,
        Op::Aten(AtenOp::MaxPool2d {
            kernel,
            stride,
            padding,
        }) => x()?.max_pool2d(*kernel, *stride, *padding)?,
        Op::Aten(AtenOp::AdaptiveAvgPool2d { output_size }) => {
            x()?.adaptive_avg_pool2d(*output_size)?
        }
        _ => return Ok(None),
    }))
}

fn aten(op: &AtenOp, a: &Args) -> Result<Vec<Variable>> {
    let x = || a.var(0);
    let one = |v: Variable| Ok(vec![v]);
    match op {
        AtenOp::Binary(b) => {
            let (l, r) = (a.var(0)?, a.var(1)?);
            one(match b {
                BinaryOp::Add => l.add(&r)?,
                BinaryOp::Sub => l.sub(&r)?,
                BinaryOp::Mul => l.mul(&r)?,
                BinaryOp::Div => l.div(&r)?,
                BinaryOp::Pow => l.pow(&r)?,
                BinaryOp::Maximum => l.maximum(&r)?,
                BinaryOp::Minimum => l.minimum(&r)?,
                BinaryOp::Eq => l.eq(&r)?,
                BinaryOp::Lt => l.lt(&r)?,
                BinaryOp::Gt => l.gt(&r)?,
            })
        }
        AtenOp::Scalar {
            op,
            value,
            reversed,
        } => {
            let x = x()?;
            let v = *value;
            one(match (op, reversed) {
                (BinaryOp::Add, false) => x.add_scalar(v),
                (BinaryOp::Sub, false) => x.sub_scalar(v),
                (BinaryOp::Sub, true) => x.rsub_scalar(v),
                (BinaryOp::Mul, false) => x.mul_scalar(v),
                (BinaryOp::Div, false) => x.div_scalar(v),
                // The trace keeps the number as f64: an integral one was
                // most likely written `x.pow(2)` (the same bits on floats).
                (BinaryOp::Pow, false) => match torchlet_tensor::Operand::number(v) {
                    torchlet_tensor::Operand::Int(i) => x.pow(i)?,
                    _ => x.pow(v)?,
                },
                (op, reversed) => {
                    return Err(fail(
                        a.op,
                        format!("no scalar form of {op:?} (reversed: {reversed})"),
                    ))
                }
            })
        }
        AtenOp::Neg => one(x()?.neg()),
        AtenOp::Exp => one(x()?.exp()),
        AtenOp::Log => one(x()?.log()),
        AtenOp::Log1p => one(x()?.log1p()),
        AtenOp::Sqrt => one(x()?.sqrt()),
        AtenOp::Rsqrt => one(x()?.rsqrt()),
        AtenOp::Reciprocal => one(x()?.reciprocal()),
        AtenOp::Sin => one(x()?.sin()),
        AtenOp::Cos => one(x()?.cos()),
        AtenOp::Tanh => one(x()?.tanh()),
        AtenOp::Sigmoid => one(x()?.sigmoid()),
        AtenOp::Relu => one(x()?.relu()),
        AtenOp::Silu => one(x()?.silu()),
        AtenOp::Softplus => one(x()?.softplus()),
        AtenOp::Square => one(x()?.square()),
        AtenOp::Abs => one(x()?.abs()),
        AtenOp::Erf => one(x()?.erf()),
        AtenOp::Gelu { tanh: false } => one(x()?.gelu()),
        AtenOp::Gelu { tanh: true } => one(x()?.gelu_tanh()),
        AtenOp::LeakyRelu(slope) => one(x()?.leaky_relu(*slope)),
        AtenOp::Elu(alpha) => one(x()?.elu(*alpha)),
        AtenOp::Clamp { min, max } => one(match (min, max) {
            (Some(lo), Some(hi)) => x()?.clamp(*lo, *hi),
            (Some(lo), None) => x()?.clamp_min(*lo),
            (None, Some(hi)) => x()?.clamp_max(*hi),
            (None, None) => x()?,
        }),
        AtenOp::MatMul => one(x()?.matmul(&a.var(1)?)?),
        AtenOp::Linear => one(x()?.linear(&a.var(1)?, a.opt(2).as_ref())?),
        AtenOp::Conv {
            stride,
            padding,
            dilation,
            groups,
        } => {
            let (w, b) = (a.var(1)?, a.opt(2));
            let pair = |v: &[usize]| a.pair(v);
            let first = |v: &[usize]| v.first().copied().unwrap_or(1);
            one(match w.shape().len() {
                3 => x()?.conv1d(
                    &w,
                    b.as_ref(),
                    first(stride),
                    first(padding),
                    first(dilation),
                    *groups,
                )?,
                _ => x()?.conv2d(
                    &w,
                    b.as_ref(),
                    pair(stride)?,
                    pair(padding)?,
                    pair(dilation)?,
                    *groups,
                )?,
            })
        }
        AtenOp::ConvTranspose {
            stride,
            padding,
            output_padding,
            dilation,
            groups,
        } => {
            let pair = |v: &[usize]| a.pair(v);
            one(x()?.conv_transpose2d(
                &a.var(1)?,
                a.opt(2).as_ref(),
                pair(stride)?,
                pair(padding)?,
                pair(output_padding)?,
                pair(dilation)?,
                *groups,
            )?)
        }
        AtenOp::MaxPool2d {
            kernel,
            stride,
            padding,
        } => one(x()?.max_pool2d(*kernel, *stride, *padding)?),
        AtenOp::AvgPool2d {
            kernel,
            stride,
            padding,
        } => one(x()?.avg_pool2d(*kernel, *stride, *padding)?),
        AtenOp::AdaptiveAvgPool2d { output_size } => one(x()?.adaptive_avg_pool2d(*output_size)?),
        AtenOp::BatchNorm { training, eps } => {
            let stat = |i: usize| a.values.get(i).and_then(Option::as_ref);
            one(x()?.batch_norm(
                stat(1),
                stat(2),
                a.opt(3).as_ref(),
                a.opt(4).as_ref(),
                *training,
                *eps,
            )?)
        }
        AtenOp::LayerNorm {
            normalized_shape,
            eps,
        } => one(x()?.layer_norm(normalized_shape, a.opt(1).as_ref(), a.opt(2).as_ref(), *eps)?),
        AtenOp::Sum { dims, keepdim } => one(match dims {
            None if !keepdim => x()?.sum(),
            None => x()?.sum_dims(&[], true)?,
            Some(d) => x()?.sum_dims(d, *keepdim)?,
        }),
        AtenOp::Mean { dims, keepdim } => one(match dims {
            None if !keepdim => x()?.mean(),
            None => x()?.mean_dims(&[], true)?,
            Some(d) => x()?.mean_dims(d, *keepdim)?,
        }),
        AtenOp::MaxAll => one(x()?.max()?),
        AtenOp::MinAll => one(x()?.min()?),
        AtenOp::Prod { dim, keepdim } => one(x()?.prod_dim(*dim, *keepdim)?),
        AtenOp::LogSumExp { dim, keepdim } => one(x()?.logsumexp(*dim, *keepdim)?),
        AtenOp::Softmax(dim) => one(x()?.softmax(*dim)?),
        AtenOp::LogSoftmax(dim) => one(x()?.log_softmax(*dim)?),
        AtenOp::Reshape(shape) => one(x()?.reshape(shape)?),
        AtenOp::Flatten { start, end } => one(x()?.flatten(*start, *end)?),
        AtenOp::Permute(dims) => one(x()?.permute(dims)?),
        AtenOp::Transpose(d0, d1) => one(x()?.transpose(*d0, *d1)?),
        AtenOp::Squeeze(Some(dim)) => one(x()?.squeeze(*dim)?),
        AtenOp::Squeeze(None) => one(x()?.squeeze_all()),
        AtenOp::Unsqueeze(dim) => one(x()?.unsqueeze(*dim)?),
        AtenOp::Expand(shape) => one(x()?.expand(shape)?),
        AtenOp::Identity => one(x()?.contiguous()),
        AtenOp::Narrow { dim, start, length } => one(x()?.narrow(*dim, *start, *length)?),
        AtenOp::Select { dim, index } => one(x()?.select(*dim, *index)?),
        AtenOp::Split { dim, sizes } => {
            let x = x()?;
            let mut start = 0i64;
            sizes
                .iter()
                .map(|&len| {
                    let part = x.narrow(*dim, start, len);
                    start += len as i64;
                    part
                })
                .collect()
        }
        AtenOp::Cat(dim) => one(Variable::cat(&a.all()?, *dim)?),
        AtenOp::Stack(dim) => one(Variable::stack(&a.all()?, *dim)?),
        AtenOp::IndexSelect(dim) => one(x()?.index_select(*dim, a.tensor(1)?)?),
        AtenOp::Gather(dim) => one(x()?.gather(*dim, a.tensor(1)?)?),
        AtenOp::Where => one(Variable::where_cond(a.tensor(0)?, &a.var(1)?, &a.var(2)?)?),
        AtenOp::MaskedFill(value) => one(x()?.masked_fill(&a.var(1)?, *value)?),
        AtenOp::Embedding => one(embedding(a.tensor(0)?, &a.var(1)?)?),
    }
}
