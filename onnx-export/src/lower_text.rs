//! Text-model ops whose meaning depends on the input's values, computed in
//! the graph so an export follows any input: `EmbeddingBag` over padded
//! bags and the lengths of right-padded sequences.

use torchlet_autograd::trace::TracedOp;
use torchlet_nn::{BagMode, EmbeddingBagRecord, PaddedLengthsRecord};
use torchlet_tensor::DType;

use crate::error::Result;
use crate::export::{arg_dtype, arg_shape, Lowering};
use crate::ir::{Attr, OnnxConstants};
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

/// Lowers an [`EmbeddingBagRecord`] (2-d bags).
pub(crate) fn embedding_bag(cx: &mut Lowering, op: &TracedOp) -> Result<Vec<String>> {
    let Some(&EmbeddingBagRecord { mode, padding_idx }) = op.record() else {
        return Err(unsupported(cx, op, "not an EmbeddingBag record"));
    };
    let a = &op.inputs;
    let shape = arg_shape(&a[0]);
    if shape.len() != 2 {
        return Err(unsupported(
            cx,
            op,
            format!("indices of shape {shape:?}; export bags as a 2-d [B, L] batch"),
        ));
    }
    let dt = arg_dtype(&a[1]);
    let idx = cx.computed_arg(&a[0], op, "indices")?;
    let w = cx.arg(&a[1])?;
    let rows =
        cx.g.op("Gather", vec![w, idx.clone()], vec![("axis", Attr::Int(0))]);
    Ok(vec![bag(cx, rows, &idx, mode, padding_idx, dt)])
}

/// Lowers a [`PaddedLengthsRecord`].
pub(crate) fn padded_lengths(cx: &mut Lowering, op: &TracedOp) -> Result<Vec<String>> {
    let Some(&PaddedLengthsRecord { pad }) = op.record() else {
        return Err(unsupported(cx, op, "not a lengths_from_padding record"));
    };
    let tokens = cx.computed_arg(&op.inputs[0], op, "token ids")?;
    let keep = not_padding(cx, &tokens, pad);
    let keep = cast(cx, keep, DType::I64);
    // Positions 1..=T, zeroed at padding: the row max is one past the last
    // real token.
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

/// The bag reduction of `rows` `[B, L, D]` gathered for `idx` `[B, L]`.
/// Every mode goes through the mask (all entries without a padding index)
/// so that empty bags — padding only, or `L = 0` on a dynamic axis — give
/// zeros, as in PyTorch, instead of the NaN or -inf of a bare reduction.
fn bag(
    cx: &mut Lowering,
    rows: String,
    idx: &str,
    mode: BagMode,
    padding_idx: Option<i64>,
    dt: DType,
) -> String {
    let keep = match padding_idx {
        Some(pad) => not_padding(cx, idx, pad),
        None => {
            // Valid indices are >= 0: a mask of ones shaped like `idx`.
            let zero = cx.g.scalar(0.0, DType::I64);
            cx.g.op("GreaterOrEqual", vec![idx.to_string(), zero], vec![])
        }
    };
    let axis2 = cx.g.ints(&[2]);
    let keep3 = cx.g.op("Unsqueeze", vec![keep, axis2], vec![]); // [B, L, 1]
    let keep_f = cast(cx, keep3.clone(), dt);
    let count = reduce_axes(cx, "ReduceSum", keep_f.clone(), &[1], false); // [B, 1]
    match mode {
        BagMode::Sum | BagMode::Mean => {
            let kept = cx.g.op("Mul", vec![rows, keep_f], vec![]);
            let sum = reduce_axes(cx, "ReduceSum", kept, &[1], false);
            if mode == BagMode::Sum {
                return sum;
            }
            // An empty bag has sum 0 and count 0: the mean is 0.
            let one = cx.g.scalar(1.0, dt);
            let count = cx.g.op("Max", vec![count, one], vec![]);
            cx.g.op("Div", vec![sum, count], vec![])
        }
        BagMode::Max => {
            let low = cx.g.scalar(f64::NEG_INFINITY, dt);
            let masked = cx.g.op("Where", vec![keep3, rows, low], vec![]);
            let max = reduce_axes(cx, "ReduceMax", masked, &[1], false);
            let zero = cx.g.scalar(0.0, dt);
            let any = cx.g.op("Greater", vec![count, zero.clone()], vec![]);
            cx.g.op("Where", vec![any, max, zero], vec![])
        }
    }
}
