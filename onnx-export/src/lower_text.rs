//! Text-model ops whose meaning depends on the input's values, computed in
//! the graph so an export follows any input: `EmbeddingBag` over padded
//! bags and the lengths of right-padded sequences.

use torchlet_autograd::trace::{BagReduction, OpKind, TracedOp};
use torchlet_tensor::DType;

use crate::error::Result;
use crate::export::{arg_dtype, arg_shape, Lowering};
use crate::ir::Attr;
use crate::lower::{reduce_axes, unsupported};
use crate::proto_out::data_type;

/// A `Cast` of `x` to `dtype`.
fn cast(cx: &mut Lowering, x: String, dtype: DType) -> String {
    let to = data_type(dtype) as i64;
    cx.g.op("Cast", vec![x], vec![("to", Attr::Int(to))])
}

/// Bool `[..]`: whether each entry of the int64 `ids` differs from `pad`.
fn not_padding(cx: &mut Lowering, ids: &str, pad: i64) -> String {
    let p = cx.g.scalar(pad as f64, DType::I64);
    let eq = cx.g.op("Equal", vec![ids.to_string(), p], vec![]);
    cx.g.op("Not", vec![eq], vec![])
}

/// Lowers [`OpKind::EmbeddingBag`] (2-d bags) and
/// [`OpKind::PaddedLengths`].
pub(crate) fn lower(cx: &mut Lowering, op: &TracedOp) -> Result<Vec<String>> {
    let a = &op.inputs;
    match op.kind {
        OpKind::EmbeddingBag { mode, padding_idx } => {
            let shape = arg_shape(&a[0]);
            if shape.len() != 2 {
                return Err(unsupported(
                    cx,
                    op,
                    format!("indices of shape {shape:?}; export bags as a 2-d [B, L] batch"),
                ));
            }
            let dt = arg_dtype(&a[1]);
            let (idx, w) = (cx.arg(&a[0])?, cx.arg(&a[1])?);
            let rows =
                cx.g.op("Gather", vec![w, idx.clone()], vec![("axis", Attr::Int(0))]);
            Ok(vec![bag(cx, rows, &idx, mode, padding_idx, dt)])
        }
        OpKind::PaddedLengths { pad } => {
            let tokens = cx.arg(&a[0])?;
            let keep = not_padding(cx, &tokens, pad);
            let keep = cast(cx, keep, DType::I64);
            // Positions 1..=T, zeroed at padding: the row max is one past
            // the last real token.
            let one = cx.g.scalar(1.0, DType::I64);
            let shape = cx.g.op("Shape", vec![tokens], vec![]);
            let t = cx.g.scalar(1.0, DType::I64);
            let steps =
                cx.g.op("Gather", vec![shape, t], vec![("axis", Attr::Int(0))]);
            let limit = cx.g.op("Add", vec![steps, one.clone()], vec![]);
            let positions =
                cx.g.op("Range", vec![one.clone(), limit, one.clone()], vec![]);
            let masked = cx.g.op("Mul", vec![keep, positions], vec![]);
            let last = reduce_axes(cx, "ReduceMax", masked, &[1], false);
            Ok(vec![cx.g.op("Max", vec![last, one], vec![])])
        }
        _ => Err(unsupported(cx, op, "not a text op")),
    }
}

/// The bag reduction of `rows` `[B, L, D]` gathered for `idx` `[B, L]`.
fn bag(
    cx: &mut Lowering,
    rows: String,
    idx: &str,
    mode: BagReduction,
    padding_idx: Option<i64>,
    dt: DType,
) -> String {
    let Some(pad) = padding_idx else {
        let op_type = match mode {
            BagReduction::Sum => "ReduceSum",
            BagReduction::Mean => "ReduceMean",
            BagReduction::Max => "ReduceMax",
        };
        return reduce_axes(cx, op_type, rows, &[1], false);
    };
    let keep = not_padding(cx, idx, pad);
    let axis2 = cx.g.ints(&[2]);
    let keep3 = cx.g.op("Unsqueeze", vec![keep, axis2], vec![]); // [B, L, 1]
    let keep_f = cast(cx, keep3.clone(), dt);
    match mode {
        BagReduction::Sum | BagReduction::Mean => {
            let kept = cx.g.op("Mul", vec![rows, keep_f.clone()], vec![]);
            let sum = reduce_axes(cx, "ReduceSum", kept, &[1], false);
            if mode == BagReduction::Sum {
                return sum;
            }
            // An empty bag has sum 0 and count 0: the mean is 0, as in PyTorch.
            let count = reduce_axes(cx, "ReduceSum", keep_f, &[1], false); // [B, 1]
            let one = cx.g.scalar(1.0, dt);
            let count = cx.g.op("Max", vec![count, one], vec![]);
            cx.g.op("Div", vec![sum, count], vec![])
        }
        BagReduction::Max => {
            let low = cx.g.scalar(f64::NEG_INFINITY, dt);
            let masked = cx.g.op("Where", vec![keep3, rows, low], vec![]);
            let max = reduce_axes(cx, "ReduceMax", masked, &[1], false);
            // An empty bag gives zeros, as in PyTorch.
            let any = reduce_axes(cx, "ReduceMax", keep_f, &[1], false); // [B, 1]
            let any = cast(cx, any, DType::Bool);
            let zero = cx.g.scalar(0.0, dt);
            cx.g.op("Where", vec![any, max, zero], vec![])
        }
    }
}
