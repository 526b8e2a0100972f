//! Autograd's elementwise, reduction and shape ops as ONNX nodes.
//!
//! [`lower`] is registered (in [`crate::registry`]) for every `aten::`
//! name except the layer ops of [`crate::lower_nn::LAYER_OPS`]. Its match
//! over [`AtenOp`] is exhaustive, so a new autograd op does not compile
//! until it is lowered here or routed to another lowering.

use torchlet_autograd::trace::{AtenOp, BinaryOp, TraceArg, TracedOp};
use torchlet_tensor::DType;

use crate::error::{OnnxError, Result};
use crate::export::{arg_dtype, arg_shape, Lowering};
use crate::ir::{Attr, Graph, OnnxConstants};

/// Lowers one of autograd's elementwise, reduction or shape ops; returns
/// the names of its outputs.
pub(crate) fn lower(cx: &mut Lowering, op: &TracedOp) -> Result<Vec<String>> {
    let Some(kind) = op.record::<AtenOp>() else {
        return Err(unsupported(cx, op, "not one of autograd's ops"));
    };
    let a = &op.inputs;
    let x_dtype = a.first().map_or(DType::F32, arg_dtype);
    let rank = a.first().map_or(0, |x| arg_shape(x).len());
    let one = |cx: &mut Lowering, op_type: &str| -> Result<Vec<String>> {
        let x = cx.arg(&a[0])?;
        Ok(vec![cx.g.op(op_type, vec![x], vec![])])
    };
    let out = match kind {
        AtenOp::Binary(b) => {
            let (x, y) = (cx.arg(&a[0])?, cx.arg(&a[1])?);
            vec![cx.g.op(binary_op(*b), vec![x, y], vec![])]
        }
        AtenOp::Scalar {
            op: b,
            value,
            reversed,
        } => {
            let x = cx.arg(&a[0])?;
            let s = cx.g.scalar(*value, x_dtype);
            let ins = if *reversed { vec![s, x] } else { vec![x, s] };
            vec![cx.g.op(binary_op(*b), ins, vec![])]
        }
        AtenOp::Neg => one(cx, "Neg")?,
        AtenOp::Exp => one(cx, "Exp")?,
        AtenOp::Log => one(cx, "Log")?,
        AtenOp::Log1p => {
            let x = cx.arg(&a[0])?;
            let s = cx.g.scalar(1.0, x_dtype);
            let y = cx.g.op("Add", vec![x, s], vec![]);
            vec![cx.g.op("Log", vec![y], vec![])]
        }
        AtenOp::Sqrt => one(cx, "Sqrt")?,
        AtenOp::Rsqrt => {
            let y = one(cx, "Sqrt")?.remove(0);
            vec![cx.g.op("Reciprocal", vec![y], vec![])]
        }
        AtenOp::Reciprocal => one(cx, "Reciprocal")?,
        AtenOp::Sin => one(cx, "Sin")?,
        AtenOp::Cos => one(cx, "Cos")?,
        AtenOp::Tanh => one(cx, "Tanh")?,
        AtenOp::Sigmoid => one(cx, "Sigmoid")?,
        AtenOp::Relu => one(cx, "Relu")?,
        AtenOp::Softplus => one(cx, "Softplus")?,
        AtenOp::Abs => one(cx, "Abs")?,
        AtenOp::Erf => one(cx, "Erf")?,
        AtenOp::Silu => {
            let x = cx.arg(&a[0])?;
            let s = cx.g.op("Sigmoid", vec![x.clone()], vec![]);
            vec![cx.g.op("Mul", vec![x, s], vec![])]
        }
        AtenOp::Square => {
            let x = cx.arg(&a[0])?;
            vec![cx.g.op("Mul", vec![x.clone(), x], vec![])]
        }
        AtenOp::Gelu { tanh } => vec![gelu(cx, &a[0], *tanh, x_dtype)?],
        AtenOp::LeakyRelu(slope) => {
            let x = cx.arg(&a[0])?;
            vec![cx
                .g
                .op("LeakyRelu", vec![x], vec![("alpha", Attr::Float(*slope))])]
        }
        AtenOp::Elu(alpha) => {
            let x = cx.arg(&a[0])?;
            vec![cx
                .g
                .op("Elu", vec![x], vec![("alpha", Attr::Float(*alpha))])]
        }
        AtenOp::Clamp { min, max } => {
            let x = cx.arg(&a[0])?;
            let lo = min.map_or(String::new(), |v| cx.g.scalar(v, x_dtype));
            let hi = max.map_or(String::new(), |v| cx.g.scalar(v, x_dtype));
            vec![cx.g.op("Clip", vec![x, lo, hi], vec![])]
        }
        AtenOp::MatMul => {
            let (x, y) = (cx.arg(&a[0])?, cx.arg(&a[1])?);
            vec![cx.g.op("MatMul", vec![x, y], vec![])]
        }
        AtenOp::Sum { dims, keepdim } => {
            vec![reduce(cx, "ReduceSum", &a[0], dims.as_deref(), *keepdim)?]
        }
        AtenOp::Mean { dims, keepdim } => {
            vec![reduce(cx, "ReduceMean", &a[0], dims.as_deref(), *keepdim)?]
        }
        AtenOp::MaxAll => vec![reduce(cx, "ReduceMax", &a[0], None, false)?],
        AtenOp::MinAll => vec![reduce(cx, "ReduceMin", &a[0], None, false)?],
        AtenOp::Prod { dim, keepdim } => {
            vec![reduce(cx, "ReduceProd", &a[0], Some(&[*dim]), *keepdim)?]
        }
        AtenOp::LogSumExp { dim, keepdim } => {
            vec![reduce(
                cx,
                "ReduceLogSumExp",
                &a[0],
                Some(&[*dim]),
                *keepdim,
            )?]
        }
        AtenOp::Softmax(dim) | AtenOp::LogSoftmax(dim) => {
            let name = if matches!(kind, AtenOp::Softmax(_)) {
                "Softmax"
            } else {
                "LogSoftmax"
            };
            let x = cx.arg(&a[0])?;
            vec![cx.g.op(name, vec![x], vec![("axis", Attr::Int(*dim))])]
        }
        AtenOp::Reshape(_) | AtenOp::Flatten { .. } => {
            let in_shape = arg_shape(&a[0]);
            let out_shape = op.outputs[0].shape();
            let x = cx.arg(&a[0])?;
            let flat_1 = matches!(kind, AtenOp::Flatten { start, end }
                if norm(*start, rank) == 1 && norm(*end, rank) + 1 == rank.max(1));
            if flat_1 && rank >= 2 {
                vec![cx.g.op("Flatten", vec![x], vec![("axis", Attr::Int(1))])]
            } else {
                vec![reshape(&mut cx.g, x, &in_shape, &out_shape)]
            }
        }
        AtenOp::Permute(dims) => {
            let perm: Vec<i64> = dims.iter().map(|&d| norm(d, rank) as i64).collect();
            let x = cx.arg(&a[0])?;
            vec![cx
                .g
                .op("Transpose", vec![x], vec![("perm", Attr::Ints(perm))])]
        }
        AtenOp::Transpose(d0, d1) => {
            let mut perm: Vec<i64> = (0..rank as i64).collect();
            if rank >= 2 {
                perm.swap(norm(*d0, rank), norm(*d1, rank));
            }
            let x = cx.arg(&a[0])?;
            vec![cx
                .g
                .op("Transpose", vec![x], vec![("perm", Attr::Ints(perm))])]
        }
        AtenOp::Squeeze(dim) => {
            let shape = arg_shape(&a[0]);
            let axes: Vec<i64> = match dim {
                Some(d) if rank > 0 => {
                    let d = norm(*d, rank);
                    if shape[d] == 1 {
                        vec![d as i64]
                    } else {
                        vec![]
                    }
                }
                Some(_) => vec![],
                None => (0..rank)
                    .filter(|&i| shape[i] == 1)
                    .map(|i| i as i64)
                    .collect(),
            };
            let x = cx.arg(&a[0])?;
            if axes.is_empty() {
                vec![cx.g.op("Identity", vec![x], vec![])]
            } else {
                let ax = cx.g.ints(&axes);
                vec![cx.g.op("Squeeze", vec![x, ax], vec![])]
            }
        }
        AtenOp::Unsqueeze(dim) => {
            let d = norm(*dim, rank + 1) as i64;
            let x = cx.arg(&a[0])?;
            let ax = cx.g.ints(&[d]);
            vec![cx.g.op("Unsqueeze", vec![x, ax], vec![])]
        }
        AtenOp::Expand(_) => {
            let in_shape = arg_shape(&a[0]);
            let out_shape = op.outputs[0].shape();
            // 1 keeps the input's own size (broadcasting), so dynamic dims stay dynamic.
            let lead = out_shape.len() - in_shape.len();
            let target: Vec<i64> = out_shape
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    if i >= lead && in_shape[i - lead] == n {
                        1
                    } else {
                        n as i64
                    }
                })
                .collect();
            let x = cx.arg(&a[0])?;
            let s = cx.g.ints(&target);
            vec![cx.g.op("Expand", vec![x, s], vec![])]
        }
        AtenOp::Identity => one(cx, "Identity")?,
        AtenOp::Narrow { dim, start, length } => {
            let d = norm(*dim, rank);
            let size = arg_shape(&a[0])[d] as i64;
            let s = if *start < 0 { start + size } else { *start };
            let x = cx.arg(&a[0])?;
            let starts = cx.g.ints(&[s]);
            let ends = cx.g.ints(&[s + *length as i64]);
            let axes = cx.g.ints(&[d as i64]);
            vec![cx.g.op("Slice", vec![x, starts, ends, axes], vec![])]
        }
        AtenOp::Select { dim, index } => {
            let x = cx.arg(&a[0])?;
            let i = cx.g.constant(torchlet_tensor::Tensor::scalar(*index));
            let axis = norm(*dim, rank) as i64;
            vec![cx
                .g
                .op("Gather", vec![x, i], vec![("axis", Attr::Int(axis))])]
        }
        AtenOp::Split { dim, sizes } => {
            let x = cx.arg(&a[0])?;
            let s: Vec<i64> = sizes.iter().map(|&n| n as i64).collect();
            let split = cx.g.ints(&s);
            let axis = norm(*dim, rank) as i64;
            cx.g.node(
                "Split",
                vec![x, split],
                vec![("axis", Attr::Int(axis))],
                sizes.len(),
            )
        }
        AtenOp::Cat(dim) => {
            let ins = a.iter().map(|v| cx.arg(v)).collect::<Result<Vec<_>>>()?;
            let axis = norm(*dim, rank) as i64;
            vec![cx.g.op("Concat", ins, vec![("axis", Attr::Int(axis))])]
        }
        AtenOp::Stack(dim) => {
            let d = norm(*dim, rank + 1) as i64;
            let mut parts = Vec::new();
            for v in a {
                let x = cx.arg(v)?;
                let ax = cx.g.ints(&[d]);
                parts.push(cx.g.op("Unsqueeze", vec![x, ax], vec![]));
            }
            vec![cx.g.op("Concat", parts, vec![("axis", Attr::Int(d))])]
        }
        AtenOp::IndexSelect(dim) | AtenOp::Gather(dim) => {
            let (x, i) = (cx.arg(&a[0])?, cx.arg(&a[1])?);
            let axis = norm(*dim, rank) as i64;
            let name = if matches!(kind, AtenOp::Gather(_)) {
                "GatherElements"
            } else {
                "Gather"
            };
            vec![cx.g.op(name, vec![x, i], vec![("axis", Attr::Int(axis))])]
        }
        AtenOp::Where => {
            let c = bool_arg(cx, &a[0])?;
            let (x, y) = (cx.arg(&a[1])?, cx.arg(&a[2])?);
            vec![cx.g.op("Where", vec![c, x, y], vec![])]
        }
        AtenOp::MaskedFill(value) => {
            let x = cx.arg(&a[0])?;
            let m = bool_arg(cx, &a[1])?;
            let v = cx.g.scalar(*value, x_dtype);
            vec![cx.g.op("Where", vec![m, v, x], vec![])]
        }
        AtenOp::Embedding => {
            let (idx, w) = (cx.arg(&a[0])?, cx.arg(&a[1])?);
            vec![cx
                .g
                .op("Gather", vec![w, idx], vec![("axis", Attr::Int(0))])]
        }
        AtenOp::Linear
        | AtenOp::Conv { .. }
        | AtenOp::ConvTranspose { .. }
        | AtenOp::MaxPool2d { .. }
        | AtenOp::AvgPool2d { .. }
        | AtenOp::AdaptiveAvgPool2d { .. }
        | AtenOp::BatchNorm { .. }
        | AtenOp::LayerNorm { .. } => {
            return Err(unsupported(
                cx,
                op,
                "a layer op reached the elementwise lowering (see LAYER_OPS)",
            ))
        }
    };
    Ok(out)
}

/// A dim normalized against `rank` (negative counts from the end).
pub(crate) fn norm(d: i64, rank: usize) -> usize {
    if d < 0 {
        (d + rank as i64).max(0) as usize
    } else {
        d as usize
    }
}

fn binary_op(b: BinaryOp) -> &'static str {
    match b {
        BinaryOp::Add => "Add",
        BinaryOp::Sub => "Sub",
        BinaryOp::Mul => "Mul",
        BinaryOp::Div => "Div",
        BinaryOp::Pow => "Pow",
        BinaryOp::Maximum => "Max",
        BinaryOp::Minimum => "Min",
        BinaryOp::Eq => "Equal",
        BinaryOp::Lt => "Less",
        BinaryOp::Gt => "Greater",
    }
}

/// A mask argument as bool (a Cast when it is stored as numbers).
fn bool_arg(cx: &mut Lowering, a: &TraceArg) -> Result<String> {
    let m = cx.arg(a)?;
    if arg_dtype(a) == DType::Bool {
        return Ok(m);
    }
    Ok(cx.g.op("Cast", vec![m], vec![("to", Attr::Int(9))]))
}

/// A reduction over `axes` (all when `None`), with axes as an input from
/// the opset where ONNX moved them there (13 for ReduceSum, 18 for the rest).
pub(crate) fn reduce(
    cx: &mut Lowering,
    op_type: &str,
    x: &TraceArg,
    axes: Option<&[i64]>,
    keepdim: bool,
) -> Result<String> {
    let rank = arg_shape(x).len();
    let x = cx.arg(x)?;
    let axes: Vec<i64> = match axes {
        Some(a) => a.iter().map(|&d| norm(d, rank) as i64).collect(),
        None => (0..rank as i64).collect(),
    };
    if axes.is_empty() {
        return Ok(cx.g.op("Identity", vec![x], vec![]));
    }
    Ok(reduce_axes(cx, op_type, x, &axes, keepdim))
}

/// `op_type` (a `Reduce*` op) of the value `x` over `axes` (non-empty,
/// non-negative): axes are an input from opset 13 for ReduceSum and 18 for
/// the others, an attribute before.
pub(crate) fn reduce_axes(
    cx: &mut Lowering,
    op_type: &str,
    x: String,
    axes: &[i64],
    keepdim: bool,
) -> String {
    let keep = ("keepdims", Attr::Int(keepdim as i64));
    let as_input = if op_type == "ReduceSum" {
        cx.opset >= 13
    } else {
        cx.opset >= 18
    };
    if as_input {
        let ax = cx.g.ints(axes);
        cx.g.op(op_type, vec![x, ax], vec![keep])
    } else {
        cx.g.op(
            op_type,
            vec![x],
            vec![("axes", Attr::Ints(axes.to_vec())), keep],
        )
    }
}

/// A Reshape from `in_shape` to `out_shape` that keeps dynamic leading
/// dims dynamic: a target dim equal to the input's dim at the same position
/// becomes `0` (ONNX: copy the input's size).
pub(crate) fn reshape(g: &mut Graph, x: String, in_shape: &[usize], out_shape: &[usize]) -> String {
    let mut copying = true;
    let target: Vec<i64> = out_shape
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            copying &= in_shape.get(i) == Some(&n) && n != 0;
            if copying {
                0
            } else {
                n as i64
            }
        })
        .collect();
    // One -1 for the first dim that is not copied, so a dynamic size that
    // was merged into it still works.
    let mut target = target;
    if let Some(i) = target.iter().position(|&n| n != 0) {
        if out_shape[i] != 0 {
            target[i] = -1;
        }
    }
    let s = g.ints(&target);
    g.op("Reshape", vec![x, s], vec![])
}

/// GELU: the ONNX op from opset 20, otherwise its formula.
fn gelu(cx: &mut Lowering, a: &TraceArg, tanh: bool, dt: DType) -> Result<String> {
    let x = cx.arg(a)?;
    if cx.opset >= 20 {
        let approx = if tanh { "tanh" } else { "none" };
        return Ok(cx.g.op(
            "Gelu",
            vec![x],
            vec![("approximate", Attr::Str(approx.into()))],
        ));
    }
    let inner = if tanh {
        // tanh(sqrt(2/pi) (x + 0.044715 x^3))
        let x3 = cx.g.op("Mul", vec![x.clone(), x.clone()], vec![]);
        let x3 = cx.g.op("Mul", vec![x3, x.clone()], vec![]);
        let c = cx.g.scalar(0.044715, dt);
        let t = cx.g.op("Mul", vec![x3, c], vec![]);
        let t = cx.g.op("Add", vec![x.clone(), t], vec![]);
        let k = cx.g.scalar((2.0 / std::f64::consts::PI).sqrt(), dt);
        let t = cx.g.op("Mul", vec![t, k], vec![]);
        cx.g.op("Tanh", vec![t], vec![])
    } else {
        let k = cx.g.scalar(std::f64::consts::SQRT_2, dt);
        let t = cx.g.op("Div", vec![x.clone(), k], vec![]);
        cx.g.op("Erf", vec![t], vec![])
    };
    let one = cx.g.scalar(1.0, dt);
    let t = cx.g.op("Add", vec![inner, one], vec![]);
    let t = cx.g.op("Mul", vec![x, t], vec![]);
    let half = cx.g.scalar(0.5, dt);
    Ok(cx.g.op("Mul", vec![t, half], vec![]))
}

/// The error for an op that cannot be lowered, naming it.
pub(crate) fn unsupported(cx: &Lowering, op: &TracedOp, reason: impl Into<String>) -> OnnxError {
    OnnxError::unsupported(op.name(), cx.opset, reason)
}
