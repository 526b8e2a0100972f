//! Recurrent layers as ONNX's RNN / LSTM / GRU ops, one node per layer.
//!
//! The weights stay initializers under their PyTorch names
//! (`lstm.weight_ih_l0`); the graph reorders their gate blocks into
//! ONNX's order with Split + Concat nodes (constant-folded by runtimes):
//! LSTM `i f g o` → `i o f c`, GRU `r z n` → `z r h` (with
//! `linear_before_reset = 1`, PyTorch's GRU), and stacks the directions.
//! Between layers, ONNX's `Y [T, D, N, H]` becomes `[T, N, D·H]`. A layer
//! run with lengths (`forward_packed`) passes them as `sequence_lens`.

use torchlet_autograd::trace::{TraceArg, TracedOp};
use torchlet_nn::{RnnCell, RnnRecord};

use crate::error::Result;
use crate::export::{arg_shape, Lowering};
use crate::ir::{Attr, OnnxConstants};
use crate::lower::unsupported;

/// ONNX's gate order as indices into PyTorch's gate blocks.
fn gate_order(cell: RnnCell) -> &'static [usize] {
    match cell {
        RnnCell::Tanh | RnnCell::Relu => &[0],
        RnnCell::Lstm => &[0, 3, 1, 2],
        RnnCell::Gru => &[1, 0, 2],
    }
}

/// `w` (`[G·H, *]` or `[G·H]`) with its gate blocks in ONNX's order.
fn reorder(cx: &mut Lowering, w: &TraceArg, cell: RnnCell, hidden: usize) -> Result<String> {
    let name = cx.arg(w)?;
    let order = gate_order(cell);
    if order.len() == 1 {
        return Ok(name);
    }
    let sizes = cx.g.ints(&vec![hidden as i64; order.len()]);
    let parts = cx.g.node(
        "Split",
        vec![name, sizes],
        vec![("axis", Attr::Int(0))],
        order.len(),
    );
    let ordered = order.iter().map(|&i| parts[i].clone()).collect();
    Ok(cx.g.op("Concat", ordered, vec![("axis", Attr::Int(0))]))
}

/// Stacks per-direction tensors on a new leading axis.
fn stack(cx: &mut Lowering, parts: Vec<String>) -> String {
    let ax = cx.g.ints(&[0]);
    let parts: Vec<String> = parts
        .into_iter()
        .map(|p| cx.g.op("Unsqueeze", vec![p, ax.clone()], vec![]))
        .collect();
    if parts.len() == 1 {
        return parts.into_iter().next().expect("one part");
    }
    cx.g.op("Concat", parts, vec![("axis", Attr::Int(0))])
}

/// Rows `start..start + len` of a state `[L·D, N, H]`.
fn state_rows(cx: &mut Lowering, s: &str, start: usize, len: usize) -> String {
    let starts = cx.g.ints(&[start as i64]);
    let ends = cx.g.ints(&[(start + len) as i64]);
    let axes = cx.g.ints(&[0]);
    cx.g.op("Slice", vec![s.to_string(), starts, ends, axes], vec![])
}

/// The recurrent layers' names, all lowered by [`lower`].
pub(crate) const RNN_OPS: &[&str] = &[
    "aten::rnn_tanh",
    "aten::rnn_relu",
    "aten::lstm",
    "aten::gru",
];

/// Lowers an [`RnnRecord`]: outputs `[output, h_n]` (and `c_n`).
pub(crate) fn lower(cx: &mut Lowering, op: &TracedOp) -> Result<Vec<String>> {
    let Some(&RnnRecord {
        cell,
        hidden_size: h,
        num_layers,
        bidirectional,
        batch_first,
        bias,
        with_lengths,
    }) = op.record()
    else {
        return Err(unsupported(cx, op, "not a recurrent layer"));
    };
    let a = &op.inputs;
    if arg_shape(&a[0]).len() != 3 {
        return Err(unsupported(
            cx,
            op,
            format!(
                "unbatched input of shape {:?}; export with a batch dim",
                arg_shape(&a[0])
            ),
        ));
    }
    let dirs = if bidirectional { 2 } else { 1 };
    let (op_type, extra): (&str, Vec<(&str, Attr)>) = match cell {
        RnnCell::Tanh => (
            "RNN",
            vec![("activations", Attr::Strs(vec!["Tanh".into(); dirs]))],
        ),
        RnnCell::Relu => (
            "RNN",
            vec![("activations", Attr::Strs(vec!["Relu".into(); dirs]))],
        ),
        RnnCell::Lstm => ("LSTM", vec![]),
        RnnCell::Gru => ("GRU", vec![("linear_before_reset", Attr::Int(1))]),
    };
    let mut x = cx.arg(&a[0])?;
    if batch_first {
        x = cx.g.op(
            "Transpose",
            vec![x],
            vec![("perm", Attr::Ints(vec![1, 0, 2]))],
        );
    }
    let h0 = match &a[1] {
        TraceArg::Absent => None,
        s => Some(cx.arg(s)?),
    };
    let c0 = match &a[2] {
        TraceArg::Absent => None,
        s => Some(cx.arg(s)?),
    };
    // ONNX's sequence_lens: int32 [N], the same for every layer.
    let lengths = match (with_lengths, a.last()) {
        (true, Some(l)) => {
            let l = cx.computed_arg(l, op, "sequence lengths")?;
            let to = Attr::Int(crate::proto::tensor_proto::DataType::Int32 as i64);
            cx.g.op("Cast", vec![l], vec![("to", to)])
        }
        _ => String::new(),
    };
    let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
    for layer in 0..num_layers {
        let (mut ws, mut rs, mut bs) = (Vec::new(), Vec::new(), Vec::new());
        for dir in 0..dirs {
            let base = 3 + 4 * (layer * dirs + dir);
            ws.push(reorder(cx, &a[base], cell, h)?);
            rs.push(reorder(cx, &a[base + 1], cell, h)?);
            if bias {
                let bi = reorder(cx, &a[base + 2], cell, h)?;
                let bh = reorder(cx, &a[base + 3], cell, h)?;
                bs.push(cx.g.op("Concat", vec![bi, bh], vec![("axis", Attr::Int(0))]));
            }
        }
        let w = stack(cx, ws);
        let r = stack(cx, rs);
        let b = if bias { stack(cx, bs) } else { String::new() };
        let first = layer * dirs;
        let ih = h0
            .as_ref()
            .map_or(String::new(), |s| state_rows(cx, s, first, dirs));
        let mut inputs = vec![x, w, r, b, lengths.clone(), ih];
        if cell == RnnCell::Lstm {
            let ic = c0
                .as_ref()
                .map_or(String::new(), |s| state_rows(cx, s, first, dirs));
            inputs.push(ic);
        }
        while inputs.last().is_some_and(|s| s.is_empty()) {
            inputs.pop();
        }
        let direction = if bidirectional {
            "bidirectional"
        } else {
            "forward"
        };
        let mut attrs = vec![
            ("hidden_size", Attr::Int(h as i64)),
            ("direction", Attr::Str(direction.into())),
        ];
        attrs.extend(extra.iter().cloned());
        let n_out = if cell == RnnCell::Lstm { 3 } else { 2 };
        let outs = cx.g.node(op_type, inputs, attrs, n_out);
        // Y [T, D, N, H] -> [T, N, D, H] -> [T, N, D*H]
        let y = cx.g.op(
            "Transpose",
            vec![outs[0].clone()],
            vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))],
        );
        let shape = cx.g.ints(&[0, 0, (dirs * h) as i64]);
        x = cx.g.op("Reshape", vec![y, shape], vec![]);
        h_n.push(outs[1].clone());
        if cell == RnnCell::Lstm {
            c_n.push(outs[2].clone());
        }
    }
    let output = if batch_first {
        cx.g.op(
            "Transpose",
            vec![x],
            vec![("perm", Attr::Ints(vec![1, 0, 2]))],
        )
    } else {
        x
    };
    let concat = |cx: &mut Lowering, parts: Vec<String>| {
        if parts.len() == 1 {
            parts.into_iter().next().expect("one layer")
        } else {
            cx.g.op("Concat", parts, vec![("axis", Attr::Int(0))])
        }
    };
    let mut outs = vec![output, concat(cx, h_n)];
    if cell == RnnCell::Lstm {
        outs.push(concat(cx, c_n));
    }
    Ok(outs)
}
