//! The op mapping: each traced op as ONNX nodes.
//!
//! Layer ops (`Linear`, convolutions, pooling, norms, RNNs) are in
//! [`crate::lower_nn`]; this file has elementwise, reduction and shape ops.

use torchlet_autograd::trace::{BinaryOp, OpKind, TraceArg, TracedOp};
use torchlet_tensor::DType;

use crate::error::{OnnxError, Result};
use crate::export::{arg_dtype, arg_shape, Lowering};
use crate::ir::Attr;
use crate::lower_nn;

/// Lowers one traced op; returns the names of its outputs.
pub(crate) fn lower(cx: &mut Lowering, op: &TracedOp) -> Result<Vec<String>> {
    let a = &op.inputs;
    let x_dtype = a.first().map_or(DType::F32, arg_dtype);
    let rank = a.first().map_or(0, |x| arg_shape(x).len());
    let one = |cx: &mut Lowering, op_type: &str| -> Result<Vec<String>> {
        let x = cx.arg(&a[0])?;
        Ok(vec![cx.g.op(op_type, vec![x], vec![])])
    };
    let out = match &op.kind {
        OpKind::Binary(b) => {
            let (x, y) = (cx.arg(&a[0])?, cx.arg(&a[1])?);
            vec![cx.g.op(binary_op(*b), vec![x, y], vec![])]
        }
        OpKind::Scalar {
            op: b,
            value,
            reversed,
        } => {
            let x = cx.arg(&a[0])?;
            let s = cx.g.scalar(*value, x_dtype);
            let ins = if *reversed { vec![s, x] } else { vec![x, s] };
            vec![cx.g.op(binary_op(*b), ins, vec![])]
        }
        OpKind::Neg => one(cx, "Neg")?,
        OpKind::Exp => one(cx, "Exp")?,
        OpKind::Log => one(cx, "Log")?,
        OpKind::Log1p => {
            let x = cx.arg(&a[0])?;
            let s = cx.g.scalar(1.0, x_dtype);
            let y = cx.g.op("Add", vec![x, s], vec![]);
            vec![cx.g.op("Log", vec![y], vec![])]
        }
        OpKind::Sqrt => one(cx, "Sqrt")?,
        OpKind::Rsqrt => {
            let y = one(cx, "Sqrt")?.remove(0);
            vec![cx.g.op("Reciprocal", vec![y], vec![])]
        }
        OpKind::Reciprocal => one(cx, "Reciprocal")?,
        OpKind::Sin => one(cx, "Sin")?,
        OpKind::Cos => one(cx, "Cos")?,
        OpKind::Tanh => one(cx, "Tanh")?,
        OpKind::Sigmoid => one(cx, "Sigmoid")?,
        OpKind::Relu => one(cx, "Relu")?,
        OpKind::Softplus => one(cx, "Softplus")?,
        OpKind::Abs => one(cx, "Abs")?,
        OpKind::Erf => one(cx, "Erf")?,
        OpKind::Silu => {
            let x = cx.arg(&a[0])?;
            let s = cx.g.op("Sigmoid", vec![x.clone()], vec![]);
            vec![cx.g.op("Mul", vec![x, s], vec![])]
        }
        OpKind::Square => {
            let x = cx.arg(&a[0])?;
            vec![cx.g.op("Mul", vec![x.clone(), x], vec![])]
        }
        OpKind::Gelu { tanh } => vec![gelu(cx, &a[0], *tanh, x_dtype)?],
        OpKind::LeakyRelu(slope) => {
            let x = cx.arg(&a[0])?;
            vec![cx.g.op(
                "LeakyRelu",
                vec![x],
                vec![("alpha", Attr::Float(*slope as f32))],
            )]
        }
        OpKind::Elu(alpha) => {
            let x = cx.arg(&a[0])?;
            vec![cx
                .g
                .op("Elu", vec![x], vec![("alpha", Attr::Float(*alpha as f32))])]
        }
        OpKind::Clamp { min, max } => {
            let x = cx.arg(&a[0])?;
            let lo = min.map_or(String::new(), |v| cx.g.scalar(v, x_dtype));
            let hi = max.map_or(String::new(), |v| cx.g.scalar(v, x_dtype));
            vec![cx.g.op("Clip", vec![x, lo, hi], vec![])]
        }
        OpKind::MatMul => {
            let (x, y) = (cx.arg(&a[0])?, cx.arg(&a[1])?);
            vec![cx.g.op("MatMul", vec![x, y], vec![])]
        }
        OpKind::Sum { dims, keepdim } => {
            vec![reduce(cx, "ReduceSum", &a[0], dims.as_deref(), *keepdim)?]
        }
        OpKind::Mean { dims, keepdim } => {
            vec![reduce(cx, "ReduceMean", &a[0], dims.as_deref(), *keepdim)?]
        }
        OpKind::MaxAll => vec![reduce(cx, "ReduceMax", &a[0], None, false)?],
        OpKind::MinAll => vec![reduce(cx, "ReduceMin", &a[0], None, false)?],
        OpKind::Prod { dim, keepdim } => {
            vec![reduce(cx, "ReduceProd", &a[0], Some(&[*dim]), *keepdim)?]
        }
        OpKind::LogSumExp { dim, keepdim } => {
            vec![reduce(
                cx,
                "ReduceLogSumExp",
                &a[0],
                Some(&[*dim]),
                *keepdim,
            )?]
        }
        OpKind::Softmax(dim) | OpKind::LogSoftmax(dim) => {
            let name = if matches!(op.kind, OpKind::Softmax(_)) {
                "Softmax"
            } else {
                "LogSoftmax"
            };
            let x = cx.arg(&a[0])?;
            vec![cx.g.op(name, vec![x], vec![("axis", Attr::Int(*dim))])]
        }
        OpKind::Reshape(_) | OpKind::Flatten { .. } => {
            let in_shape = arg_shape(&a[0]);
            let out_shape = op.outputs[0].shape();
            let x = cx.arg(&a[0])?;
            let flat_1 = matches!(op.kind, OpKind::Flatten { start, end }
                if norm(start, rank) == 1 && norm(end, rank) + 1 == rank.max(1));
            if flat_1 && rank >= 2 {
                vec![cx.g.op("Flatten", vec![x], vec![("axis", Attr::Int(1))])]
            } else {
                vec![reshape(cx, x, &in_shape, &out_shape)]
            }
        }
        OpKind::Permute(dims) => {
            let perm: Vec<i64> = dims.iter().map(|&d| norm(d, rank) as i64).collect();
            let x = cx.arg(&a[0])?;
            vec![cx
                .g
                .op("Transpose", vec![x], vec![("perm", Attr::Ints(perm))])]
        }
        OpKind::Transpose(d0, d1) => {
            let mut perm: Vec<i64> = (0..rank as i64).collect();
            if rank >= 2 {
                perm.swap(norm(*d0, rank), norm(*d1, rank));
            }
            let x = cx.arg(&a[0])?;
            vec![cx
                .g
                .op("Transpose", vec![x], vec![("perm", Attr::Ints(perm))])]
        }
        OpKind::Squeeze(dim) => {
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
        OpKind::Unsqueeze(dim) => {
            let d = norm(*dim, rank + 1) as i64;
            let x = cx.arg(&a[0])?;
            let ax = cx.g.ints(&[d]);
            vec![cx.g.op("Unsqueeze", vec![x, ax], vec![])]
        }
        OpKind::Expand(_) => {
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
        OpKind::Identity => one(cx, "Identity")?,
        OpKind::Narrow { dim, start, length } => {
            let d = norm(*dim, rank);
            let size = arg_shape(&a[0])[d] as i64;
            let s = if *start < 0 { start + size } else { *start };
            let x = cx.arg(&a[0])?;
            let starts = cx.g.ints(&[s]);
            let ends = cx.g.ints(&[s + *length as i64]);
            let axes = cx.g.ints(&[d as i64]);
            vec![cx.g.op("Slice", vec![x, starts, ends, axes], vec![])]
        }
        OpKind::Select { dim, index } => {
            let x = cx.arg(&a[0])?;
            let i = cx.g.constant(torchlet_tensor::Tensor::scalar(*index));
            let axis = norm(*dim, rank) as i64;
            vec![cx
                .g
                .op("Gather", vec![x, i], vec![("axis", Attr::Int(axis))])]
        }
        OpKind::Split { dim, sizes } => {
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
        OpKind::Cat(dim) => {
            let ins = a.iter().map(|v| cx.arg(v)).collect::<Result<Vec<_>>>()?;
            let axis = norm(*dim, rank) as i64;
            vec![cx.g.op("Concat", ins, vec![("axis", Attr::Int(axis))])]
        }
        OpKind::Stack(dim) => {
            let d = norm(*dim, rank + 1) as i64;
            let mut parts = Vec::new();
            for v in a {
                let x = cx.arg(v)?;
                let ax = cx.g.ints(&[d]);
                parts.push(cx.g.op("Unsqueeze", vec![x, ax], vec![]));
            }
            vec![cx.g.op("Concat", parts, vec![("axis", Attr::Int(d))])]
        }
        OpKind::IndexSelect(dim) | OpKind::Gather(dim) => {
            let (x, i) = (cx.arg(&a[0])?, cx.arg(&a[1])?);
            let axis = norm(*dim, rank) as i64;
            let name = if matches!(op.kind, OpKind::Gather(_)) {
                "GatherElements"
            } else {
                "Gather"
            };
            vec![cx.g.op(name, vec![x, i], vec![("axis", Attr::Int(axis))])]
        }
        OpKind::Where => {
            let c = bool_arg(cx, &a[0])?;
            let (x, y) = (cx.arg(&a[1])?, cx.arg(&a[2])?);
            vec![cx.g.op("Where", vec![c, x, y], vec![])]
        }
        OpKind::MaskedFill(value) => {
            let x = cx.arg(&a[0])?;
            let m = bool_arg(cx, &a[1])?;
            let v = cx.g.scalar(*value, x_dtype);
            vec![cx.g.op("Where", vec![m, v, x], vec![])]
        }
        OpKind::Embedding => {
            let (idx, w) = (cx.arg(&a[0])?, cx.arg(&a[1])?);
            vec![cx
                .g
                .op("Gather", vec![w, idx], vec![("axis", Attr::Int(0))])]
        }
        _ => lower_nn::lower(cx, op)?,
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
pub(crate) fn reshape(
    cx: &mut Lowering,
    x: String,
    in_shape: &[usize],
    out_shape: &[usize],
) -> String {
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
    let s = cx.g.ints(&target);
    cx.g.op("Reshape", vec![x, s], vec![])
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

/// The error for an op with no mapping.
pub(crate) fn unsupported(cx: &Lowering, op: &TracedOp, reason: impl Into<String>) -> OnnxError {
    let name = match &op.kind {
        OpKind::Other(name) => name.to_string(),
        kind => format!("{kind:?}"),
    };
    OnnxError::unsupported(name, cx.opset, reason)
}
