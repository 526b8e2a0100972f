//! Layer ops as ONNX nodes: Linear (Gemm / MatMul + Add), convolutions,
//! pooling, batch and layer norm; recurrent layers are in [`crate::rnn`].

use torchlet_autograd::trace::{AtenOp, TraceArg, TracedOp};
use torchlet_tensor::Tensor;

use crate::error::Result;
use crate::export::{arg_dtype, arg_shape, Lowering};
use crate::ir::{Attr, OnnxConstants};
use crate::lower::{reduce, unsupported};

/// Sizes as an ONNX ints attribute.
pub(crate) fn ints(v: &[usize]) -> Attr {
    Attr::Ints(v.iter().map(|&n| n as i64).collect())
}

/// ONNX pads: all begins, then all ends.
pub(crate) fn pads(p: &[usize]) -> Attr {
    Attr::Ints(p.iter().chain(p).map(|&n| n as i64).collect())
}

/// The `aten::` layer ops [`lower`] is registered for.
pub(crate) const LAYER_OPS: &[&str] = &[
    "aten::linear",
    "aten::convolution",
    "aten::conv_transpose2d",
    "aten::max_pool2d",
    "aten::avg_pool2d",
    "aten::adaptive_avg_pool2d",
    "aten::batch_norm",
    "aten::layer_norm",
];

/// Lowers a layer op of [`LAYER_OPS`]; returns the names of its outputs.
pub(crate) fn lower(cx: &mut Lowering, op: &TracedOp) -> Result<Vec<String>> {
    let a = &op.inputs;
    let Some(kind) = op.record::<AtenOp>() else {
        return Err(unsupported(cx, op, "not one of autograd's ops"));
    };
    Ok(match kind {
        AtenOp::Linear => vec![linear(cx, a)?],
        AtenOp::Conv {
            stride,
            padding,
            dilation,
            groups,
        } => {
            let w_shape = arg_shape(&a[1]);
            let k = &w_shape[2..];
            let spatial = k.len();
            if arg_shape(&a[0]).len() != spatial + 2 {
                return Err(unsupported(
                    cx,
                    op,
                    format!(
                        "unbatched convolution input of shape {:?}",
                        arg_shape(&a[0])
                    ),
                ));
            }
            let ins = vec![cx.arg(&a[0])?, cx.arg(&a[1])?, cx.arg(&a[2])?];
            let attrs = vec![
                ("kernel_shape", ints(k)),
                ("strides", ints(&stride[..spatial])),
                ("pads", pads(&padding[..spatial])),
                ("dilations", ints(&dilation[..spatial])),
                ("group", Attr::Int(*groups as i64)),
            ];
            vec![cx.g.op("Conv", trim(ins), attrs)]
        }
        AtenOp::ConvTranspose {
            stride,
            padding,
            output_padding,
            dilation,
            groups,
        } => {
            let w_shape = arg_shape(&a[1]);
            let k = &w_shape[2..];
            let ins = vec![cx.arg(&a[0])?, cx.arg(&a[1])?, cx.arg(&a[2])?];
            let attrs = vec![
                ("kernel_shape", ints(k)),
                ("strides", ints(stride)),
                ("pads", pads(padding)),
                ("output_padding", ints(output_padding)),
                ("dilations", ints(dilation)),
                ("group", Attr::Int(*groups as i64)),
            ];
            vec![cx.g.op("ConvTranspose", trim(ins), attrs)]
        }
        AtenOp::MaxPool2d {
            kernel,
            stride,
            padding,
        } => {
            let x = cx.arg(&a[0])?;
            let attrs = vec![
                ("kernel_shape", ints(kernel)),
                ("strides", ints(stride)),
                ("pads", pads(padding)),
            ];
            vec![cx.g.op("MaxPool", vec![x], attrs)]
        }
        AtenOp::AvgPool2d {
            kernel,
            stride,
            padding,
        } => {
            let x = cx.arg(&a[0])?;
            let attrs = vec![
                ("kernel_shape", ints(kernel)),
                ("strides", ints(stride)),
                ("pads", pads(padding)),
                ("count_include_pad", Attr::Int(1)),
            ];
            vec![cx.g.op("AveragePool", vec![x], attrs)]
        }
        AtenOp::AdaptiveAvgPool2d { output_size } => {
            let shape = arg_shape(&a[0]);
            let hw = &shape[shape.len() - 2..];
            let x = cx.arg(&a[0])?;
            if *output_size == [1, 1] {
                vec![cx.g.op("GlobalAveragePool", vec![x], vec![])]
            } else if hw[0].is_multiple_of(output_size[0]) && hw[1].is_multiple_of(output_size[1]) {
                // Equal windows: an ordinary average pooling (for this input size).
                let k = [hw[0] / output_size[0], hw[1] / output_size[1]];
                let attrs = vec![("kernel_shape", ints(&k)), ("strides", ints(&k))];
                vec![cx.g.op("AveragePool", vec![x], attrs)]
            } else {
                return Err(unsupported(
                    cx,
                    op,
                    format!(
                        "input [H, W] = {hw:?} is not a multiple of the output size \
                         {output_size:?}, so the windows differ in size"
                    ),
                ));
            }
        }
        AtenOp::BatchNorm { training, eps } => {
            if *training {
                return Err(unsupported(
                    cx,
                    op,
                    "batch norm with batch statistics (training mode); export in eval mode",
                ));
            }
            let c = arg_shape(&a[0])[1];
            let dt = arg_dtype(&a[0]);
            let x = cx.arg(&a[0])?;
            let (mean, var) = (cx.arg(&a[1])?, cx.arg(&a[2])?);
            let scale = match &a[3] {
                TraceArg::Absent => cx.g.constant(Tensor::ones_dtype(&[c], dt)),
                w => cx.arg(w)?,
            };
            let bias = match &a[4] {
                TraceArg::Absent => cx.g.constant(Tensor::zeros_dtype(&[c], dt)),
                b => cx.arg(b)?,
            };
            let attrs = vec![("epsilon", Attr::Float(*eps))];
            vec![cx
                .g
                .op("BatchNormalization", vec![x, scale, bias, mean, var], attrs)]
        }
        AtenOp::LayerNorm {
            normalized_shape,
            eps,
        } => vec![layer_norm(cx, a, normalized_shape.len(), *eps)?],
        _ => {
            return Err(unsupported(
                cx,
                op,
                "not a layer op (registered to the wrong lowering)",
            ))
        }
    })
}

/// Drops trailing absent optional inputs.
fn trim(mut ins: Vec<String>) -> Vec<String> {
    while ins.last().is_some_and(|s| s.is_empty()) {
        ins.pop();
    }
    ins
}

/// `x @ W^T + b`: one Gemm (transB) for a 2-d input, else MatMul with the
/// transposed weight and an Add.
fn linear(cx: &mut Lowering, a: &[TraceArg]) -> Result<String> {
    let rank = arg_shape(&a[0]).len();
    let (x, w) = (cx.arg(&a[0])?, cx.arg(&a[1])?);
    let b = cx.arg(&a[2])?;
    if rank == 2 {
        let attrs = vec![("transB", Attr::Int(1))];
        return Ok(cx.g.op("Gemm", trim(vec![x, w, b]), attrs));
    }
    let wt =
        cx.g.op("Transpose", vec![w], vec![("perm", Attr::Ints(vec![1, 0]))]);
    let y = cx.g.op("MatMul", vec![x, wt], vec![]);
    Ok(if b.is_empty() {
        y
    } else {
        cx.g.op("Add", vec![y, b], vec![])
    })
}

/// LayerNormalization from opset 17; before, its formula with reductions.
fn layer_norm(cx: &mut Lowering, a: &[TraceArg], k: usize, eps: f64) -> Result<String> {
    let shape = arg_shape(&a[0]);
    let dt = arg_dtype(&a[0]);
    let axis = -(k as i64);
    if cx.opset >= 17 {
        let x = cx.arg(&a[0])?;
        let norm_shape = &shape[shape.len() - k..];
        let scale = match &a[1] {
            TraceArg::Absent => cx.g.constant(Tensor::ones_dtype(norm_shape, dt)),
            w => cx.arg(w)?,
        };
        let b = cx.arg(&a[2])?;
        let attrs = vec![("axis", Attr::Int(axis)), ("epsilon", Attr::Float(eps))];
        return Ok(cx
            .g
            .op("LayerNormalization", trim(vec![x, scale, b]), attrs));
    }
    let axes: Vec<i64> = (axis..0).collect();
    let mean = reduce(cx, "ReduceMean", &a[0], Some(&axes), true)?;
    let x = cx.arg(&a[0])?;
    let d = cx.g.op("Sub", vec![x, mean], vec![]);
    let sq = cx.g.op("Mul", vec![d.clone(), d.clone()], vec![]);
    let var = if cx.opset >= 18 {
        let ax = cx.g.ints(&axes);
        cx.g.op("ReduceMean", vec![sq, ax], vec![("keepdims", Attr::Int(1))])
    } else {
        cx.g.op(
            "ReduceMean",
            vec![sq],
            vec![
                ("axes", Attr::Ints(axes.clone())),
                ("keepdims", Attr::Int(1)),
            ],
        )
    };
    let e = cx.g.scalar(eps, dt);
    let v = cx.g.op("Add", vec![var, e], vec![]);
    let s = cx.g.op("Sqrt", vec![v], vec![]);
    let mut y = cx.g.op("Div", vec![d, s], vec![]);
    if !matches!(a[1], TraceArg::Absent) {
        let w = cx.arg(&a[1])?;
        y = cx.g.op("Mul", vec![y, w], vec![]);
    }
    if !matches!(a[2], TraceArg::Absent) {
        let b = cx.arg(&a[2])?;
        y = cx.g.op("Add", vec![y, b], vec![]);
    }
    Ok(y)
}
