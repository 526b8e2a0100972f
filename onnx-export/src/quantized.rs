//! Quantized models ([`QuantizedModel`], torchlet-quantize's `convert`)
//! as ONNX QDQ graphs, the form onnxruntime's own quantizer writes: every
//! quint8 activation is a `QuantizeLinear` → `DequantizeLinear` pair with
//! its scale and uint8 zero point, weights are int8 initializers behind a
//! `DequantizeLinear` (per output channel with `axis = 0`, or per tensor),
//! and the ops between the pairs are ordinary float ONNX ops. Biases stay
//! float and are added after the `Conv` / `Gemm` (or, with
//! [`QuantizedExportOptions::bias_input`], as its bias input), so a runtime
//! adds them in float as torchlet does. onnxruntime runs the graph with
//! int8 kernels where it can fuse the pattern, in float elsewhere; its
//! outputs are torchlet's up to an output step that float rounding moves
//! across a rounding boundary (a few outputs in 10,000 on MNIST).
//!
//! | `QOp` | ONNX nodes (Q → DQ: a `QuantizeLinear` → `DequantizeLinear` pair) |
//! |---|---|
//! | `Quantize` | Q → DQ |
//! | `Dequantize` | none (the value is already the dequantized float) |
//! | `Conv2d` (relu) | `Conv`(x, DQ(int8 w)) → `Add` bias [→ `Relu`] → Q → DQ, the op's own parameters |
//! | `Linear` (relu) | `Gemm`(x, DQ(int8 w), transB) (2-d inputs; else `Transpose` + `MatMul`) → `Add` bias [→ `Relu`] → Q → DQ |
//! | `Add` (relu), `Cat` | `Add` [→ `Relu`], `Concat` → Q → DQ, the op's own parameters |
//! | `Relu`, `MaxPool2d`, `Flatten`, `Reshape` | `Relu`, `MaxPool`, `Flatten`/`Reshape` → Q → DQ, the input's parameters |
//! | `AdaptiveAvgPool2d` | on the integers, as torchlet rounds them: `Cast` → `GlobalAveragePool` (1×1) or `AveragePool` (input a multiple of the output) → `Round` → `Cast` uint8 → DQ |
//! | `Float` | the float op (`Conv`, `Gemm`, `BatchNormalization`, `MaxPool`, ...) [→ `Relu`] |
//! | `DynamicLinear` | the input's range (`ReduceMin`/`ReduceMax`) → its scale and zero point as fbgemm picks them (7-bit) → quantized as torchlet rounds (`Mul` by the reciprocal, `Round`, `Clip`, `Cast`) → DQ → `Gemm`(·, DQ(int8 w), transB) (2-d inputs; else `Transpose` + `MatMul`) → `Add` bias; float out |
//! | `DynamicLstm` | per layer and direction: the valid positions' input projection (one dynamic Q → DQ, `MatMul` with DQ(int8 `W_ih`)), then a `Scan` over time whose body quantizes the active rows' hidden state from its range, multiplies by DQ(int8 `W_hh`) and runs the float cell (see `lstm.rs`) |
//! | `Float` text ops | `Embedding` → `Gather`; `lengths_from_padding` → the lengths computed from the token ids; `select` → `Gather` |
//!
//! A text model (its first op looks up tokens) takes int64 token ids.
//!
//! Initializers are named after the modules, as PyTorch's quantized state
//! dicts name them: `conv1.weight` (int8), `conv1.weight_scale`,
//! `conv1.weight_zero_point`, `conv1.bias` (float), `conv1.scale` and
//! `conv1.zero_point` (the output's; `quant.*` for the model's input).

mod emit;
mod lstm;

use std::collections::HashMap;
use std::path::Path;

use torchlet_quantize::{Op, QNode, QOp, QParams, QTensor, QuantizedModel};
use torchlet_tensor::{DType, Tensor};

use self::emit::{ConvGeometry, Plain, Weights};
use crate::error::{OnnxError, Result};
use crate::export::dims;
use crate::ir::{Attr, Graph, ValueInfo};
use crate::proto::tensor_proto::DataType;
use crate::{save_model, to_model, ExportOptions, ModelProto};

/// How to export a quantized model ([`export_quantized`]).
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedExportOptions {
    /// Opset (13..=21, default 17), input and output names, dynamic axes
    /// (default: dim 0 named `batch`), doc string and metadata, as for a
    /// float export.
    pub base: ExportOptions,
    /// A per-channel input normalization `(mean, std)` (one value each, or
    /// one per input channel, dim 1) folded in front of the graph as `Sub`
    /// mean, `Div` std — the nodes `torchlet export` writes for a run — so
    /// the file takes raw inputs. `None` (default): the model's own input.
    pub normalize: Option<(Vec<f32>, Vec<f32>)>,
    /// Writes the float bias of each quantized Conv2d / Linear as the
    /// `Conv` / `Gemm` bias input, the usual QDQ layout, instead of an `Add`
    /// after the op (default `false`). onnxruntime then quantizes that bias
    /// to int32 (scale = input scale × weight scale, as `torch.onnx` exports
    /// it) and fuses int8 kernels (`QLinearConv`, `QGemm`), which moves about
    /// 1 % of the outputs by one step: torchlet, like PyTorch's fbgemm, adds
    /// the bias in float. With the `Add`, onnxruntime runs the Linear layers'
    /// products in int8 (`QGemm`, exact) and the convolutions in float, and
    /// adds the float bias as torchlet does.
    pub bias_input: bool,
}

impl Default for QuantizedExportOptions {
    fn default() -> Self {
        let base = ExportOptions {
            doc_string: "int8 model exported by torchlet-onnx as a QDQ graph".into(),
            ..ExportOptions::default()
        };
        QuantizedExportOptions {
            base,
            normalize: None,
            bias_input: false,
        }
    }
}

impl QuantizedExportOptions {
    /// The defaults with another opset.
    pub fn with_opset(opset: i64) -> Self {
        let mut o = Self::default();
        o.base.opset = opset;
        o
    }
}

/// Exports a quantized model as an ONNX QDQ graph (the module's table
/// lists the nodes of each op). `input_shape` is the shape of one input
/// batch, e.g. `[1, 1, 28, 28]`; the axes named in
/// `options.base.input_dynamic_axes` (the batch by default) stay dynamic. A
/// model that reshapes to a literal batch size keeps it, as torchlet does.
///
/// An op with no exact ONNX form for this input shape (an adaptive average
/// pooling whose input is not a multiple of its output) fails with
/// [`OnnxError::Unsupported`] naming its module.
///
/// ```no_run
/// # fn demo(model: &torchlet_quantize::QuantizedModel) -> torchlet_onnx::Result<()> {
/// use torchlet_onnx::{export_quantized_to_file, QuantizedExportOptions};
/// let options = QuantizedExportOptions {
///     normalize: Some((vec![0.1307], vec![0.3081])), // the file takes [0, 1] pixels
///     ..Default::default() // opset 17, dynamic batch
/// };
/// export_quantized_to_file(model, &[1, 1, 28, 28], "model_int8.onnx", &options)?;
/// # Ok(())
/// # }
/// ```
pub fn export_quantized(
    model: &QuantizedModel,
    input_shape: &[usize],
    options: &QuantizedExportOptions,
) -> Result<ModelProto> {
    let base = &options.base;
    base.check()?;
    let mut b = Builder {
        g: Graph::default(),
        opset: base.opset,
        narrow: HashMap::new(),
        bias_after: !options.bias_input,
        vals: HashMap::new(),
    };
    // A text model reads int64 token ids (its first ops look them up).
    let reads_tokens = (model.nodes().iter())
        .filter(|n| n.inputs.contains(&0))
        .any(|n| matches!(&n.op, QOp::Float(f) if matches!(f.op, Op::Embedding { .. } | Op::LengthsFromPadding { .. })));
    b.g.inputs.push(ValueInfo {
        name: base.input_name.clone(),
        dtype: if reads_tokens { DType::I64 } else { DType::F32 },
        dims: dims(input_shape, &base.input_dynamic_axes),
    });
    let mut x = base.input_name.clone();
    if let Some(norm) = &options.normalize {
        x = b.normalize(x, input_shape, norm)?;
    }
    b.vals.insert(0, Val::float(x, input_shape.to_vec()));
    for node in model.nodes() {
        let ins: Option<Vec<Val>> = node.inputs.iter().map(|v| b.vals.get(v).cloned()).collect();
        let ins = ins.ok_or_else(|| b.err(node, "reads a value no earlier node wrote"))?;
        let out = b.node(node, &ins)?;
        b.vals.insert(node.output, out);
    }
    let last = model.nodes().last().map_or(0, |n| n.output);
    let out = b.vals[&last].clone();
    b.name_output(&out.name, &base.output_name);
    let out_axes: Vec<(usize, String)> = (base.output_dynamic_axes.iter())
        .filter(|(a, _)| *a < out.shape.len())
        .cloned()
        .collect();
    b.g.outputs.push(ValueInfo {
        name: base.output_name.clone(),
        dtype: DType::F32,
        dims: dims(&out.shape, &out_axes),
    });
    let mut proto = to_model(&b.g, base)?;
    // The IR holds integers as int64: write the 8-bit ones in their type,
    // one byte each (the little-endian low byte, two's complement for int8).
    for t in &mut proto.graph.as_mut().expect("a graph").initializer {
        if let Some(&dt) = b.narrow.get(t.name()) {
            let raw = t.raw_data.take().unwrap_or_default();
            t.raw_data = Some(raw.chunks_exact(8).map(|c| c[0]).collect());
            t.data_type = Some(dt as i32);
        }
    }
    Ok(proto)
}

/// [`export_quantized`], written to `path` through a temporary file that
/// is synced and renamed (a crash never leaves a half-written model).
pub fn export_quantized_to_file(
    model: &QuantizedModel,
    input_shape: &[usize],
    path: impl AsRef<Path>,
    options: &QuantizedExportOptions,
) -> Result<()> {
    save_model(&export_quantized(model, input_shape, options)?, path)
}

/// An activation's quantization: its scale and zero-point initializers.
#[derive(Clone, Debug)]
struct Act {
    scale: String,
    zero_point: String,
}

/// A model value: its float graph value (the DequantizeLinear's output
/// when quantized), its shape for the export's input shape and, when
/// quantized, the uint8 value (the QuantizeLinear's output) and parameters.
#[derive(Clone, Debug)]
struct Val {
    name: String,
    shape: Vec<usize>,
    q: Option<(String, Act)>,
}

impl Val {
    fn float(name: String, shape: Vec<usize>) -> Val {
        Val {
            name,
            shape,
            q: None,
        }
    }
}

struct Builder {
    g: Graph,
    opset: i64,
    /// Initializers written as uint8 / int8 (int64 in the IR).
    narrow: HashMap<String, DataType>,
    /// The bias as an `Add` after the op (not [`QuantizedExportOptions::bias_input`]).
    bias_after: bool,
    /// Model value id → graph value.
    vals: HashMap<usize, Val>,
}

/// PyTorch's name of a quantized op, for errors.
fn kind(op: &QOp) -> &'static str {
    match op {
        QOp::Float(n) => n.op.kind(),
        QOp::Quantize { .. } => "quantize_per_tensor",
        QOp::Dequantize => "dequantize",
        QOp::Conv2d { .. } => "quantized::conv2d",
        QOp::Linear { .. } => "quantized::linear",
        QOp::Relu => "quantized::relu",
        QOp::MaxPool2d { .. } => "quantized::max_pool2d",
        QOp::AdaptiveAvgPool2d { .. } => "quantized::adaptive_avg_pool2d",
        QOp::Flatten { .. } => "quantized::flatten",
        QOp::Reshape(_) => "quantized::reshape",
        QOp::Add { .. } => "quantized::add",
        QOp::Cat { .. } => "quantized::cat",
        QOp::DynamicLinear(_) => "quantized::linear_dynamic",
        QOp::DynamicLstm(_) => "quantized::lstm_dynamic",
    }
}

impl Builder {
    fn err(&self, node: &QNode, reason: impl Into<String>) -> OnnxError {
        let op = format!("{} ({})", node.name, kind(&node.op));
        OnnxError::unsupported(op, self.opset, reason)
    }

    /// An initializer under `name` (made unique if taken).
    fn init(&mut self, name: &str, t: Tensor) -> String {
        let taken = self.g.initializers.iter().any(|(k, _)| k == name);
        let name = if taken {
            self.g.fresh(name)
        } else {
            name.to_string()
        };
        self.g.initializer(name, t)
    }

    /// An 8-bit integer initializer (`dt` Uint8 or Int8).
    fn int_init(&mut self, name: &str, v: Vec<i64>, shape: &[usize], dt: DataType) -> String {
        let t = Tensor::from_vec(v, shape).expect("one value per element");
        let name = self.init(name, t);
        self.narrow.insert(name.clone(), dt);
        name
    }

    /// The scale (float) and zero point (uint8) of `node`'s output.
    fn act(&mut self, node: &QNode, scale: f64, zero_point: i64) -> Result<Act> {
        if !(scale.is_finite() && scale > 0.0 && (0..=255).contains(&zero_point)) {
            let why = format!("scale {scale}, zero point {zero_point}: not a quint8 quantization");
            return Err(self.err(node, why));
        }
        let s = Tensor::full_dtype(&[], scale, DType::F32);
        let scale = self.init(&format!("{}.scale", node.name), s);
        let zp = vec![zero_point];
        let zero_point = self.int_init(
            &format!("{}.zero_point", node.name),
            zp,
            &[],
            DataType::Uint8,
        );
        Ok(Act { scale, zero_point })
    }

    /// The float value `x` → QuantizeLinear → DequantizeLinear.
    fn qdq(&mut self, x: String, shape: Vec<usize>, a: Act) -> Val {
        let params = || vec![a.scale.clone(), a.zero_point.clone()];
        let q = self
            .g
            .op("QuantizeLinear", [vec![x], params()].concat(), vec![]);
        self.dq(q, shape, a)
    }

    /// The uint8 value `q` → DequantizeLinear.
    fn dq(&mut self, q: String, shape: Vec<usize>, a: Act) -> Val {
        let ins = vec![q.clone(), a.scale.clone(), a.zero_point.clone()];
        let name = self.g.op("DequantizeLinear", ins, vec![]);
        Val {
            name,
            shape,
            q: Some((q, a)),
        }
    }

    /// A dynamically quantized input: `x` quantized → DQ with the scale
    /// and zero point of its own range, computed in the graph as torchlet
    /// (fbgemm on x86) computes them: the range, widened to hold 0, over
    /// 127 in double precision, rounded once to f32 (scales below 6.1e-5
    /// raised to it); the zero point `round(-min / scale)`; each value
    /// `zero point + round(x · (1/scale))` in f32, clamped to [0, 255] —
    /// a multiplication by the reciprocal, as torchlet's kernel does, where
    /// `QuantizeLinear` would divide (one step apart on rare ties).
    fn dynamic_qdq(&mut self, node: &QNode, x: &str) -> String {
        let m = &node.name;
        let scalar = |b: &mut Self, what: &str, v: f64, dtype: DType| {
            b.init(
                &format!("{m}.input_{what}"),
                Tensor::full_dtype(&[], v, dtype),
            )
        };
        let zero = scalar(self, "zero", 0.0, DType::F32);
        let levels = scalar(self, "levels", 127.0, DType::F64);
        let smallest = scalar(self, "smallest_scale", 6.1e-5f32 as f64, DType::F64);
        let tiny = scalar(self, "tiny", f64::MIN_POSITIVE, DType::F64);
        let (lowest, top) = (
            scalar(self, "qmin", 0.0, DType::F32),
            scalar(self, "qmax", 255.0, DType::F32),
        );
        let zp_top = scalar(self, "zero_point_max", 127.0, DType::F32);
        let to = |t: DataType| vec![("to", Attr::Int(t as i64))];
        let keep = || vec![("keepdims", Attr::Int(0))];
        let lo = self.g.op("ReduceMin", vec![x.to_string()], keep());
        let hi = self.g.op("ReduceMax", vec![x.to_string()], keep());
        let lo = self.g.op("Min", vec![lo, zero.clone()], vec![]);
        let hi = self.g.op("Max", vec![hi, zero.clone()], vec![]);
        let lo = self.g.op("Cast", vec![lo], to(DataType::Double));
        let hi = self.g.op("Cast", vec![hi], to(DataType::Double));
        let span = self.g.op("Sub", vec![hi, lo.clone()], vec![]);
        let raw = self.g.op("Div", vec![span, levels], vec![]);
        let scale = self.g.op("Max", vec![raw.clone(), smallest], vec![]);
        let scale = self.g.op("Cast", vec![scale], to(DataType::Float));
        let step = self.g.op("Max", vec![raw, tiny], vec![]);
        let neg = self.g.op("Neg", vec![lo], vec![]);
        let zp = self.g.op("Div", vec![neg, step], vec![]);
        let zp = self.g.op("Cast", vec![zp], to(DataType::Float));
        let zp = self.g.op("Round", vec![zp], vec![]);
        let zp = self.g.op("Clip", vec![zp, zero, zp_top], vec![]);
        let zero_point = self.g.op("Cast", vec![zp.clone()], to(DataType::Uint8));
        let inv = self.g.op("Reciprocal", vec![scale.clone()], vec![]);
        let q = self.g.op("Mul", vec![x.to_string(), inv], vec![]);
        let q = self.g.op("Round", vec![q], vec![]);
        let q = self.g.op("Add", vec![q, zp], vec![]);
        let q = self.g.op("Clip", vec![q, lowest, top], vec![]);
        let q = self.g.op("Cast", vec![q], to(DataType::Uint8));
        self.dq(q, Vec::new(), Act { scale, zero_point }).name
    }

    /// A float result [→ Relu] → Q → DQ with the node's own parameters.
    fn requant(
        &mut self,
        node: &QNode,
        y: emit::Out,
        relu: bool,
        scale: f64,
        zp: i64,
    ) -> Result<Val> {
        let (mut y, shape) = y;
        if relu {
            y = self.g.op("Relu", vec![y], vec![]);
        }
        let a = self.act(node, scale, zp)?;
        Ok(self.qdq(y, shape, a))
    }

    /// The int8 weight and float bias of a quantized Conv2d or Linear: an
    /// initializer behind a DequantizeLinear (per channel: `axis`).
    fn qweights(&mut self, node: &QNode, w: &QTensor, bias: Option<&Tensor>) -> Result<Weights> {
        let m = &node.name;
        let w_dq = self.dq_weight(node, w, &format!("{m}.weight"))?;
        let (bias, bias_after) = match bias {
            Some(b) if self.bias_after => {
                // [out, 1, 1] for a conv's [N, out, H, W]; [out] for a linear.
                let mut shape = vec![1; w.shape().len() - 1];
                shape[0] = b.numel() as i64;
                let b = b.to_dtype(DType::F32).contiguous().reshape(&shape)?;
                (None, Some(self.init(&format!("{m}.bias"), b)))
            }
            b => (self.bias(m, b), None),
        };
        Ok(Weights {
            w: w_dq,
            shape: w.shape().to_vec(),
            bias,
            bias_after,
        })
    }

    /// A qint8 weight as an int8 initializer `name` (with `name_scale`,
    /// `name_zero_point`) behind a DequantizeLinear (per channel: `axis`).
    pub(super) fn dq_weight(&mut self, node: &QNode, w: &QTensor, name: &str) -> Result<String> {
        let Some(v) = w.as_i8() else {
            return Err(self.err(node, "the weight is not qint8"));
        };
        let v = v.iter().map(|&q| q as i64).collect();
        let w_name = self.int_init(name, v, w.shape(), DataType::Int8);
        let (scales, zps, axis) = match w.params() {
            QParams::PerTensor { scale, zero_point } => (vec![*scale], vec![*zero_point], None),
            QParams::PerChannel {
                scales,
                zero_points,
                axis,
            } => (scales.clone(), zero_points.clone(), Some(*axis as i64)),
        };
        let shape = if axis.is_some() {
            vec![scales.len()]
        } else {
            vec![]
        };
        let scales = scales.iter().map(|&s| s as f32).collect();
        let s = self.init(&format!("{name}_scale"), Tensor::from_vec(scales, &shape)?);
        let z = self.int_init(&format!("{name}_zero_point"), zps, &shape, DataType::Int8);
        let attrs = axis.map(|a| ("axis", Attr::Int(a))).into_iter().collect();
        Ok(self.g.op("DequantizeLinear", vec![w_name, s, z], attrs))
    }

    fn bias(&mut self, module: &str, b: Option<&Tensor>) -> Option<String> {
        b.map(|b| {
            self.init(
                &format!("{module}.bias"),
                b.to_dtype(DType::F32).contiguous(),
            )
        })
    }

    /// One node of the quantized model.
    fn node(&mut self, node: &QNode, ins: &[Val]) -> Result<Val> {
        let float_in = matches!(
            node.op,
            QOp::Quantize { .. } | QOp::Float(_) | QOp::DynamicLinear(_) | QOp::DynamicLstm(_)
        );
        if ins.is_empty() || ins.iter().any(|v| v.q.is_some() == float_in) {
            let which = if float_in { "float" } else { "quantized" };
            return Err(self.err(node, format!("expects {which} inputs")));
        }
        let x = &ins[0];
        // Ops that keep their input's scale and zero point.
        let keep = |b: &mut Self, op: Plain<'_>| -> Result<Val> {
            let (y, shape) = b.plain(node, op, ins)?;
            Ok(b.qdq(y, shape, x.q.clone().expect("checked").1))
        };
        match &node.op {
            QOp::Float(n) => self.float(node, n, ins),
            QOp::DynamicLstm(lstm) => self.dynamic_lstm(node, lstm, ins),
            QOp::DynamicLinear(lin) => {
                let q = Val::float(self.dynamic_qdq(node, &x.name), x.shape.clone());
                let w = self.qweights(node, &lin.weight, lin.bias.as_ref())?;
                let (y, shape) = self.linear(node, &q, w)?;
                Ok(Val::float(y, shape))
            }
            QOp::Quantize { scale, zero_point } => {
                let a = self.act(node, *scale, *zero_point)?;
                Ok(self.qdq(x.name.clone(), x.shape.clone(), a))
            }
            QOp::Dequantize => Ok(Val::float(x.name.clone(), x.shape.clone())),
            QOp::Conv2d {
                params: p,
                stride,
                padding,
                dilation,
                relu,
            } => {
                let w = self.qweights(node, &p.weight, p.bias.as_ref())?;
                let geometry = ConvGeometry {
                    stride: *stride,
                    padding: *padding,
                    dilation: *dilation,
                    groups: 1,
                };
                let y = self.conv(node, x, w, &geometry)?;
                self.requant(node, y, *relu, p.scale, p.zero_point)
            }
            QOp::Linear { params: p, relu } => {
                let w = self.qweights(node, &p.weight, p.bias.as_ref())?;
                let y = self.linear(node, x, w)?;
                self.requant(node, y, *relu, p.scale, p.zero_point)
            }
            QOp::Add {
                scale,
                zero_point,
                relu,
            } => {
                if ins.len() != 2 || x.shape != ins[1].shape {
                    return Err(self.err(node, "quantized add takes two inputs of one shape"));
                }
                let y = self.plain(node, Plain::Add, ins)?;
                self.requant(node, y, *relu, *scale, *zero_point)
            }
            QOp::Cat {
                dim,
                scale,
                zero_point,
            } => {
                let y = self.plain(node, Plain::Cat(*dim), ins)?;
                self.requant(node, y, false, *scale, *zero_point)
            }
            QOp::Relu => keep(self, Plain::Relu),
            QOp::MaxPool2d {
                kernel,
                stride,
                padding,
            } => keep(self, Plain::MaxPool(*kernel, *stride, *padding)),
            QOp::Flatten { start, end } => keep(self, Plain::Flatten(*start, *end)),
            QOp::Reshape(target) => keep(self, Plain::Reshape(target)),
            QOp::AdaptiveAvgPool2d { output_size } => {
                // Each window's integer mean rounded half to even, exactly
                // as torchlet computes it (dequantized, the mean would round
                // its ties by the parity of `mean - zero_point` instead).
                let (ints, a) = x.q.clone().expect("checked");
                let to = |t: DataType| vec![("to", Attr::Int(t as i64))];
                let f = self.g.op("Cast", vec![ints], to(DataType::Float));
                let fx = [Val::float(f, x.shape.clone())];
                let (mean, shape) = self.plain(node, Plain::AdaptiveAvg(*output_size), &fx)?;
                let r = self.g.op("Round", vec![mean], vec![]);
                let q = self.g.op("Cast", vec![r], to(DataType::Uint8));
                Ok(self.dq(q, shape, a))
            }
        }
    }

    /// Gives the value `result` the public name `output`: renames the
    /// node output (and its readers), or adds an Identity when no node
    /// writes it (a model that is its input).
    fn name_output(&mut self, result: &str, output: &str) {
        let writes = |n: &crate::ir::Node| n.outputs.iter().any(|o| o == result);
        if !self.g.nodes.iter().any(writes) {
            self.g.op("Identity", vec![result.to_string()], vec![]);
            let last = self.g.nodes.last_mut().expect("just added");
            last.outputs = vec![output.to_string()];
            return;
        }
        for n in self.g.nodes.iter_mut() {
            for v in n.inputs.iter_mut().chain(n.outputs.iter_mut()) {
                if v == result {
                    *v = output.to_string();
                }
            }
        }
    }
}
