//! GEMM and convolution epilogues: a Linear or 2-d convolution whose
//! output only an elementwise program reads (its bias, activation,
//! residual add, ...) runs that program on its output in place, right
//! after computing it: a convolution sample by sample while the sample
//! is in cache (`Tensor::conv2d_then`), a Linear in one parallel pass
//! over its rows. No intermediate tensor is made, and every element gets
//! the unfused ops' arithmetic in their order, so results are the
//! unfused graph's bits. A convolution's epilogue may end in a max
//! pooling (LeNet's conv → ReLU → pool): the unpooled result then never
//! leaves the sample's scratch buffer.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use torchlet_autograd::ir::Attr;
use torchlet_autograd::trace::{AtenOp, OpRecord};
use torchlet_autograd::{AutogradError, Result};
use torchlet_tensor::{parallel_split_mut, DType, MaxPool2dWindow, Tensor};

use crate::fused::{eval_range, source, Dims, FusedExpr, Source, MAX_PARTS};

/// A Linear or 2-d convolution and the elementwise program run on its
/// output. The node's inputs are the base op's three (`x`, `weight`,
/// `bias` or absent), then the program's inputs `x1, x2, ...`; the
/// program's `x0` is the base op's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpilogueOp {
    /// [`AtenOp::Linear`] or a 2-d [`AtenOp::Conv`].
    pub base: AtenOp,
    /// The program; its result is the node's output.
    pub expr: FusedExpr,
    /// A max pooling of the convolution's result (after the program),
    /// done per sample before the result leaves the cache: the node's
    /// output is then the pooled tensor.
    pub pool: Option<PoolWindow>,
}

/// A 2-d max pooling window (no dilation, floor mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolWindow {
    /// Window size.
    pub kernel: [usize; 2],
    /// Step.
    pub stride: [usize; 2],
    /// Implicit `-inf` padding.
    pub padding: [usize; 2],
}

fn fail(message: String) -> AutogradError {
    AutogradError::Graph {
        op: "torchlet::epilogue",
        message,
    }
}

impl EpilogueOp {
    /// The op's name (`torchlet::linear_epilogue`).
    pub fn name(&self) -> &'static str {
        match (&self.base, self.pool) {
            (AtenOp::Linear, _) => "torchlet::linear_epilogue",
            (_, None) => "torchlet::conv2d_epilogue",
            (_, Some(_)) => "torchlet::conv2d_epilogue_max_pool2d",
        }
    }

    /// The base op's attributes and the program.
    pub fn attrs(&self) -> Vec<(&'static str, Attr)> {
        let mut attrs = self.base.attrs();
        attrs.push(("expr", Attr::Str(self.expr.text())));
        if let Some(p) = self.pool {
            let ints = |v: [usize; 2]| Attr::Ints(v.iter().map(|&d| d as i64).collect());
            attrs.push(("pool_kernel", ints(p.kernel)));
            attrs.push(("pool_stride", ints(p.stride)));
            attrs.push(("pool_padding", ints(p.padding)));
        }
        attrs
    }

    /// Whether a node of `inputs` inputs can run this (a loaded file's
    /// op is checked so before it runs).
    pub fn is_valid(&self, inputs: usize) -> bool {
        let base = match &self.base {
            AtenOp::Linear => self.pool.is_none(),
            AtenOp::Conv {
                stride,
                padding,
                dilation,
                ..
            } => stride.len() == 2 && padding.len() == 2 && dilation.len() == 2,
            _ => false,
        };
        base && inputs >= 3 && self.expr.is_valid(inputs - 2)
    }

    /// Runs the base op with the program as its epilogue.
    pub(crate) fn run(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
        if !self.is_valid(inputs.len()) {
            return Err(fail("the op is malformed".into()));
        }
        let get = |i: usize| -> Result<Tensor> {
            let t = inputs[i]
                .as_ref()
                .ok_or_else(|| fail(format!("input {i} is missing")))?;
            if t.dtype() != DType::F32 {
                return Err(fail(format!("input {i} is {:?}, not f32", t.dtype())));
            }
            Ok(t.contiguous())
        };
        let (x, w) = (get(0)?, get(1)?);
        let bias = inputs[2].as_ref().map(|_| get(2)).transpose()?;
        let extra = (3..inputs.len())
            .map(get)
            .collect::<Result<SmallVec<[Tensor; 2]>>>()?;
        match &self.base {
            AtenOp::Linear => linear_then(&x, &w, bias.as_ref(), Some((&self.expr, &extra))),
            AtenOp::Conv {
                stride,
                padding,
                dilation,
                groups,
            } => {
                let shape = conv_shape(&x, &w, stride, padding, dilation)?;
                let sources = sources(&extra, &shape)?;
                let program = |block: &mut [f32], start: usize| {
                    eval_range(&self.expr, &sources, &shape, start, block)
                };
                let pair = |v: &[usize]| [v[0], v[1]];
                let (stride, padding, dilation) = (pair(stride), pair(padding), pair(dilation));
                Ok(match self.pool {
                    None => x.conv2d_then(
                        &w,
                        bias.as_ref(),
                        stride,
                        padding,
                        dilation,
                        *groups,
                        &program,
                    )?,
                    Some(p) => x.conv2d_then_max_pool2d(
                        &w,
                        bias.as_ref(),
                        stride,
                        padding,
                        dilation,
                        *groups,
                        &program,
                        MaxPool2dWindow {
                            kernel: p.kernel,
                            stride: p.stride,
                            padding: p.padding,
                        },
                    )?,
                })
            }
            _ => Err(fail(
                "the base op is not a Linear or 2-d convolution".into(),
            )),
        }
    }
}

/// The program's inputs: the output block, then `extra` broadcast to
/// the output's `shape`.
fn sources<'a>(extra: &'a [Tensor], shape: &[usize]) -> Result<SmallVec<[Source<'a>; 3]>> {
    let mut sources = SmallVec::new();
    sources.push(Source::Output);
    for t in extra {
        let fits = t.shape().len() <= shape.len()
            && t.shape()
                .iter()
                .rev()
                .zip(shape.iter().rev())
                .all(|(&d, &n)| d == n || d == 1);
        if !fits {
            return Err(fail(format!(
                "input of shape {:?} does not broadcast to the output's {shape:?}",
                t.shape()
            )));
        }
        sources.push(source(t, shape));
    }
    Ok(sources)
}

/// `x Wᵀ` (the eager GEMM, the same path), then per block the bias and
/// the program (with its extra inputs), in place; without a program,
/// `aten::linear` itself (the bias added as eager's broadcast add does).
pub(crate) fn linear_then(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    program: Option<(&FusedExpr, &[Tensor])>,
) -> Result<Tensor> {
    let mut y = x.matmul(&w.t()?)?;
    let shape = Dims::from_slice(y.shape());
    let width = shape.last().copied().unwrap_or(1).max(1);
    if let Some(b) = bias {
        if b.shape() != [width] {
            return Err(fail(format!(
                "bias of shape {:?} for {width} output features",
                b.shape()
            )));
        }
    }
    let bias = bias.map(|b| b.as_slice::<f32>().expect("contiguous f32"));
    let (expr, sources) = match program {
        Some((expr, extra)) => (Some(expr), sources(extra, &shape)?),
        None if bias.is_none() => return Ok(y),
        None => (None, SmallVec::new()),
    };
    let out = y.as_mut_slice::<f32>()?;
    let n = out.len();
    // Whole rows per part, so a part's bias index starts at 0.
    let rows = n / width;
    let parts = (n / 16384).clamp(1, MAX_PARTS).min(rows.max(1));
    let mut bounds = [0usize; MAX_PARTS + 1];
    for (p, b) in bounds[..=parts].iter_mut().enumerate() {
        *b = p * rows / parts * width;
    }
    let bounds = &bounds[..=parts];
    let work = n * (expr.map_or(0, |e| e.steps.len()) + 1) * 8;
    // Rows in chunks of about 4096 elements: bias and program while
    // the chunk is in L1/L2.
    let chunk = width * (4096 / width).max(1);
    parallel_split_mut(out, bounds, work, |p, piece| {
        for (k, rows) in piece.chunks_mut(chunk).enumerate() {
            if let Some(b) = bias {
                for row in rows.chunks_mut(width) {
                    for (v, &bv) in row.iter_mut().zip(b) {
                        *v += bv;
                    }
                }
            }
            if let Some(expr) = expr {
                eval_range(expr, &sources, &shape, bounds[p] + k * chunk, rows);
            }
        }
    })?;
    Ok(y)
}

/// The output shape of a 2-d convolution (geometry checked by the kernel).
fn conv_shape(
    x: &Tensor,
    w: &Tensor,
    stride: &[usize],
    padding: &[usize],
    dilation: &[usize],
) -> Result<[usize; 4]> {
    let (xs, ws) = (x.shape(), w.shape());
    if xs.len() != 4 || ws.len() != 4 {
        return Err(fail(format!(
            "the convolution needs a 4-d input and weight, got {xs:?} and {ws:?}"
        )));
    }
    let out = |i: usize| -> Result<usize> {
        let span = dilation[i] * (ws[2 + i].max(1) - 1) + 1;
        (xs[2 + i] + 2 * padding[i])
            .checked_sub(span)
            .filter(|_| stride[i] > 0)
            .map(|d| d / stride[i] + 1)
            .ok_or_else(|| fail(format!("kernel {ws:?} does not fit input {xs:?}")))
    };
    Ok([xs[0], ws[0], out(0)?, out(1)?])
}
