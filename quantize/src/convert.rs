//! `convert`: a calibrated (or QAT-trained) [`PreparedModel`] becomes a
//! [`QuantizedModel`] of int8 ops.

use std::collections::BTreeMap;

use torchlet_autograd::{no_grad, AutogradError, Variable};
use torchlet_nn::{Module, NnError};
use torchlet_tensor::Tensor;

use crate::dynamic::{DynamicLinear, DynamicLstm};
use crate::error::{QuantError, Result};
use crate::graph::{run_float, Node, Op, ValueId};
use crate::prepare::PreparedModel;
use crate::qfunctional::{
    quantized_adaptive_avg_pool2d, quantized_add, quantized_cat, quantized_max_pool2d,
    quantized_relu,
};
use crate::qops::{quantized_conv2d, quantized_linear, PackedParams};
use crate::qtensor::{quantize_per_channel, quantize_per_tensor, QDtype, QTensor};

/// A quantized Conv2d or Linear: the qint8 weight (kept for state dicts
/// and export), its packed form, the float bias and the output's
/// parameters.
#[derive(Clone, Debug)]
pub struct QWeighted {
    /// qint8, per channel along dim 0 (or per tensor).
    pub weight: QTensor,
    /// Float bias, one per output.
    pub bias: Option<Tensor>,
    pub(crate) packed: PackedParams,
    /// Output scale.
    pub scale: f64,
    /// Output zero point.
    pub zero_point: i64,
}

impl QWeighted {
    pub(crate) fn new(
        weight: QTensor,
        bias: Option<Tensor>,
        scale: f64,
        zero_point: i64,
    ) -> Result<QWeighted> {
        let b = bias.as_ref().map(|b| b.to_vec::<f32>()).transpose()?;
        let packed = PackedParams::new(&weight, b.as_deref())?;
        Ok(QWeighted {
            weight,
            bias,
            packed,
            scale,
            zero_point,
        })
    }
}

/// One op of a quantized model.
#[derive(Clone, Debug)]
pub enum QOp {
    /// Float → quint8 (`QuantStub`, or the model's input).
    Quantize {
        /// Scale.
        scale: f64,
        /// Zero point.
        zero_point: i64,
    },
    /// quint8 → float (`DeQuantStub`, or the model's output).
    Dequantize,
    /// `nnq.Conv2d` (`ConvReLU2d` with `relu`).
    Conv2d {
        /// Weight, bias and output parameters.
        params: QWeighted,
        /// Step.
        stride: [usize; 2],
        /// Zero padding.
        padding: [usize; 2],
        /// Dilation.
        dilation: [usize; 2],
        /// A fused ReLU.
        relu: bool,
    },
    /// `nnq.Linear` (`LinearReLU` with `relu`).
    Linear {
        /// Weight, bias and output parameters.
        params: QWeighted,
        /// A fused ReLU.
        relu: bool,
    },
    /// `nnq.ReLU`.
    Relu,
    /// `nnq.MaxPool2d`.
    MaxPool2d {
        /// Window.
        kernel: [usize; 2],
        /// Step.
        stride: [usize; 2],
        /// Padding.
        padding: [usize; 2],
    },
    /// `nnq.AdaptiveAvgPool2d`.
    AdaptiveAvgPool2d {
        /// Output `[H, W]`.
        output_size: [usize; 2],
    },
    /// `flatten` (integers unchanged).
    Flatten {
        /// First flattened dim.
        start: i64,
        /// Last flattened dim.
        end: i64,
    },
    /// `reshape` (integers unchanged).
    Reshape(Vec<i64>),
    /// `quantized::add` (`add_relu` with `relu`).
    Add {
        /// Output scale.
        scale: f64,
        /// Output zero point.
        zero_point: i64,
        /// A fused ReLU.
        relu: bool,
    },
    /// `quantized::cat`.
    Cat {
        /// Dim.
        dim: i64,
        /// Output scale.
        scale: f64,
        /// Output zero point.
        zero_point: i64,
    },
    /// A float op outside the quantized region.
    Float(Box<Node>),
    /// `nnqd.Linear`: float in and out, int8 weight, the input quantized
    /// per call.
    DynamicLinear(DynamicLinear),
    /// `nnqd.LSTM`: inputs `[x]` or `[x, lengths]`; writes output, then
    /// `h_n` and `c_n` in [`QNode::extra_outputs`].
    DynamicLstm(Box<DynamicLstm>),
}

/// One node of a [`QuantizedModel`].
#[derive(Clone, Debug)]
pub struct QNode {
    /// What it computes.
    pub op: QOp,
    /// The values it reads.
    pub inputs: Vec<ValueId>,
    /// The value it writes.
    pub output: ValueId,
    /// Further values it writes (an LSTM's `h_n` and `c_n`).
    pub extra_outputs: Vec<ValueId>,
    /// The module it came from.
    pub name: String,
}

/// A quantized model (`torch.ao.quantization.convert`'s result): int8
/// weights packed once, quint8 activations between ops, float in and out
/// (the input is quantized with the parameters calibration chose, the
/// output dequantized). It is a [`Module`] with no trainable parameters.
#[derive(Clone, Debug)]
pub struct QuantizedModel {
    pub(crate) nodes: Vec<QNode>,
    pub(crate) output: ValueId,
    pub(crate) num_values: usize,
}

enum Value {
    Float(Tensor),
    Quant(QTensor),
}

/// Where [`build`] takes each value's scale and zero point and each
/// weight from: the observers (`convert`) or a saved state dict.
pub(crate) trait Source {
    /// The parameters of value `id` (written by the node or stub `name`),
    /// `None` when the value has no observer (it shares its input's).
    fn act(&self, id: ValueId, name: &str) -> Result<Option<(f64, i64)>>;

    /// The quantized weight and float bias of node `index`.
    fn weight(&self, index: usize, node: &Node) -> Result<(QTensor, Option<Tensor>)>;

    /// A float op as it runs: with its parameters (a loaded state dict's,
    /// else the model's own, detached).
    fn float_node(&self, node: &Node) -> Result<Node> {
        Ok(node.detached())
    }
}

impl Source for PreparedModel {
    fn act(&self, id: ValueId, name: &str) -> Result<Option<(f64, i64)>> {
        let name = if id == 0 {
            "the model's input (quant)"
        } else {
            name
        };
        self.act_qparams(id, name)
    }

    fn weight(&self, index: usize, node: &Node) -> Result<(QTensor, Option<Tensor>)> {
        quantize_weight(self, index, node)
    }
}

/// `torch.ao.quantization.convert`: every observed value gets the scale
/// and zero point its observer chose; Conv2d and Linear weights are
/// quantized with the qconfig's weight observer (or, after QAT, with the
/// parameters their fake quantizers learned) and packed.
///
/// An observer that saw no data is an error naming its module.
pub fn convert(prepared: &PreparedModel) -> Result<QuantizedModel> {
    build(prepared, prepared)
}

/// The name of the input's quantization (`quant.scale`,
/// `quant.zero_point` in state dicts).
pub(crate) const INPUT_QUANT: &str = "quant";

/// Builds the quantized model of `prepared`'s graph with the parameters
/// `source` gives.
pub(crate) fn build(prepared: &PreparedModel, source: &dyn Source) -> Result<QuantizedModel> {
    let graph = &prepared.graph;
    let q = &prepared.quantized;
    let mut params: Vec<Option<(f64, i64)>> = vec![None; graph.num_values];
    let mut nodes = Vec::new();
    let mut next = graph.num_values;
    let mut remap: Vec<ValueId> = (0..graph.num_values).collect();
    if q[0] {
        let p = need(source.act(0, INPUT_QUANT)?, INPUT_QUANT)?;
        params[0] = Some(p);
        nodes.push(QNode {
            op: QOp::Quantize {
                scale: p.0,
                zero_point: p.1,
            },
            inputs: vec![0],
            output: next,
            extra_outputs: Vec::new(),
            name: INPUT_QUANT.into(),
        });
        remap[0] = next;
        next += 1;
    }
    for (index, node) in graph.nodes.iter().enumerate() {
        let out = node.outputs[0];
        let inputs: Vec<ValueId> = node.inputs.iter().map(|&v| remap[v]).collect();
        let own = source.act(out, &node.name)?;
        let inherited = node.inputs.first().and_then(|&v| params[v]);
        let weighted = || -> Result<QWeighted> {
            let (s, z) = need(own, &node.name)?;
            let (w, b) = source.weight(index, node)?;
            QWeighted::new(w, b, s, z)
        };
        let op = if !q[out] && !matches!(node.op, Op::DeQuantStub) {
            QOp::Float(Box::new(source.float_node(node)?))
        } else {
            match &node.op {
                Op::QuantStub => {
                    let (scale, zero_point) = need(own, &node.name)?;
                    QOp::Quantize { scale, zero_point }
                }
                Op::DeQuantStub => QOp::Dequantize,
                Op::Conv2d {
                    stride,
                    padding,
                    dilation,
                    ..
                } => QOp::Conv2d {
                    params: weighted()?,
                    stride: *stride,
                    padding: *padding,
                    dilation: *dilation,
                    relu: node.relu,
                },
                Op::Linear { .. } => QOp::Linear {
                    params: weighted()?,
                    relu: node.relu,
                },
                Op::Relu => QOp::Relu,
                Op::MaxPool2d {
                    kernel,
                    stride,
                    padding,
                } => QOp::MaxPool2d {
                    kernel: *kernel,
                    stride: *stride,
                    padding: *padding,
                },
                Op::AdaptiveAvgPool2d { output_size } => QOp::AdaptiveAvgPool2d {
                    output_size: *output_size,
                },
                Op::Flatten { start, end } => QOp::Flatten {
                    start: *start,
                    end: *end,
                },
                Op::Reshape(shape) => QOp::Reshape(shape.clone()),
                Op::Add => {
                    let (scale, zero_point) = need(own, &node.name)?;
                    QOp::Add {
                        scale,
                        zero_point,
                        relu: node.relu,
                    }
                }
                Op::Cat(dim) => {
                    let (scale, zero_point) = need(own, &node.name)?;
                    QOp::Cat {
                        dim: *dim,
                        scale,
                        zero_point,
                    }
                }
                Op::BatchNorm { .. } => {
                    return Err(QuantError::invalid(
                        "convert",
                        format!("{} (BatchNorm2d) was not fused", node.name),
                    ))
                }
                Op::Embedding { .. }
                | Op::LengthsFromPadding { .. }
                | Op::Lstm(_)
                | Op::Select { .. } => {
                    return Err(QuantError::invalid(
                        "convert",
                        format!(
                            "{} ({}) has no static quantized form: keep it outside QuantStub/DeQuantStub, or use quantize_dynamic",
                            node.name,
                            node.op.kind()
                        ),
                    ))
                }
            }
        };
        params[out] = match &op {
            QOp::Float(_) | QOp::Dequantize => None,
            _ => own.or(inherited),
        };
        nodes.push(QNode {
            op,
            inputs,
            output: out,
            extra_outputs: Vec::new(),
            name: node.name.clone(),
        });
    }
    let mut output = graph.output;
    if q[output] {
        nodes.push(QNode {
            op: QOp::Dequantize,
            inputs: vec![output],
            output: next,
            extra_outputs: Vec::new(),
            name: "dequant".into(),
        });
        output = next;
        next += 1;
    }
    Ok(QuantizedModel {
        nodes,
        output,
        num_values: next,
    })
}

fn need(p: Option<(f64, i64)>, name: &str) -> Result<(f64, i64)> {
    p.ok_or_else(|| {
        QuantError::invalid(
            "convert",
            format!("{name}: no observer chose this value's scale and zero point"),
        )
    })
}

/// Quantizes a node's weight: with the parameters its QAT fake quantizer
/// learned, else with a fresh weight observer of the qconfig.
fn quantize_weight(
    prepared: &PreparedModel,
    index: usize,
    node: &Node,
) -> Result<(QTensor, Option<Tensor>)> {
    let (Op::Conv2d { weight, bias, .. } | Op::Linear { weight, bias }) = &node.op else {
        unreachable!("only Conv2d and Linear have weights")
    };
    let w = weight.data();
    let kind = &prepared.qconfig.weight;
    let (scales, zps) = match prepared.weight_qparams(index)? {
        Some(p) => p,
        None => {
            let mut obs = kind.build()?;
            obs.observe(&w)?;
            obs.calculate_qparams()?
        }
    };
    let dtype = kind.options().dtype;
    if dtype != QDtype::QInt8 {
        return Err(QuantError::invalid(
            "convert",
            format!(
                "{}: weights must be qint8, the qconfig says {}",
                node.name,
                dtype.torch_name()
            ),
        ));
    }
    let qw = match kind.ch_axis() {
        Some(axis) => quantize_per_channel(&w, &scales, &zps, axis, dtype)?,
        None => quantize_per_tensor(
            &w,
            scales.to_vec::<f32>()?[0] as f64,
            zps.to_vec::<i64>()?[0],
            dtype,
        )?,
    };
    Ok((qw, bias.as_ref().map(|b| b.data())))
}

impl QuantizedModel {
    /// The nodes in execution order.
    pub fn nodes(&self) -> &[QNode] {
        &self.nodes
    }

    /// Runs the model on a float input; returns the float output.
    ///
    /// With several threads, a static model's batch (dim 0) is cut into
    /// one piece per thread, each run through every op on its own thread
    /// (see `batch.rs`); the result is bit-identical to running it whole.
    pub fn run(&self, x: &Tensor) -> Result<Tensor> {
        if let Some(Ok(out)) = self.run_split(x) {
            return Ok(out);
        }
        // Whole (or again whole after a piece failed, for an error that
        // names the batch's own shapes).
        self.run_whole(x)
    }

    /// Runs every op on the whole batch, each op across the thread team.
    pub(crate) fn run_whole(&self, x: &Tensor) -> Result<Tensor> {
        let mut values: Vec<Option<Value>> = (0..self.num_values).map(|_| None).collect();
        values[0] = Some(Value::Float(x.clone()));
        for node in &self.nodes {
            let mut outs = {
                let ins: Vec<&Value> = node
                    .inputs
                    .iter()
                    .map(|&v| values[v].as_ref().expect("inputs precede their readers"))
                    .collect();
                run_node(node, &ins)?
            };
            for &id in node.extra_outputs.iter().rev() {
                values[id] = outs.pop();
            }
            values[node.output] = outs.pop();
        }
        match values[self.output].take() {
            Some(Value::Float(t)) => Ok(t),
            Some(Value::Quant(q)) => Ok(q.dequantize()),
            None => unreachable!("the output is computed"),
        }
    }

    /// The quantized weights by module (`conv1`, `fc1`, ...).
    pub fn weighted(&self) -> BTreeMap<&str, &QWeighted> {
        self.nodes
            .iter()
            .filter_map(|n| match &n.op {
                QOp::Conv2d { params, .. } | QOp::Linear { params, .. } => {
                    Some((n.name.as_str(), params))
                }
                _ => None,
            })
            .collect()
    }
}

fn quant<'a>(node: &QNode, v: &'a Value) -> Result<&'a QTensor> {
    match v {
        Value::Quant(q) => Ok(q),
        Value::Float(_) => Err(QuantError::invalid(
            "QuantizedModel",
            format!("{}: expected a quantized input, got a float one", node.name),
        )),
    }
}

fn float<'a>(node: &QNode, v: &'a Value) -> Result<&'a Tensor> {
    match v {
        Value::Float(t) => Ok(t),
        Value::Quant(_) => Err(QuantError::invalid(
            "QuantizedModel",
            format!("{}: a float op got a quantized input", node.name),
        )),
    }
}

/// Runs one node: its output, then its extra outputs.
fn run_node(node: &QNode, ins: &[&Value]) -> Result<Vec<Value>> {
    match &node.op {
        QOp::DynamicLinear(lin) => Ok(vec![Value::Float(lin.forward(float(node, ins[0])?)?)]),
        QOp::DynamicLstm(lstm) => {
            let lengths = match ins.get(1) {
                Some(v) => {
                    let l = float(node, v)?.to_vec::<i64>()?;
                    Some(l.iter().map(|&v| v.max(0) as usize).collect::<Vec<_>>())
                }
                None => None,
            };
            let (out, h, c) = lstm.forward(float(node, ins[0])?, lengths.as_deref())?;
            Ok([out, h, c].into_iter().map(Value::Float).collect())
        }
        _ => run_single(node, ins).map(|v| vec![v]),
    }
}

fn run_single(node: &QNode, ins: &[&Value]) -> Result<Value> {
    let x = || quant(node, ins[0]);
    let q = match &node.op {
        QOp::Quantize { scale, zero_point } => match ins[0] {
            Value::Float(t) => quantize_per_tensor(t, *scale, *zero_point, QDtype::QUInt8)?,
            Value::Quant(_) => {
                return Err(QuantError::invalid(
                    "QuantizedModel",
                    format!("{}: the input is already quantized", node.name),
                ))
            }
        },
        QOp::Dequantize => return Ok(Value::Float(x()?.dequantize())),
        QOp::Conv2d {
            params,
            stride,
            padding,
            dilation,
            relu,
        } => quantized_conv2d(
            x()?,
            &params.packed,
            *stride,
            *padding,
            *dilation,
            params.scale,
            params.zero_point,
            *relu,
        )?,
        QOp::Linear { params, relu } => {
            quantized_linear(x()?, &params.packed, params.scale, params.zero_point, *relu)?
        }
        QOp::Relu => quantized_relu(x()?)?,
        QOp::MaxPool2d {
            kernel,
            stride,
            padding,
        } => quantized_max_pool2d(x()?, *kernel, *stride, *padding)?,
        QOp::AdaptiveAvgPool2d { output_size } => {
            quantized_adaptive_avg_pool2d(x()?, *output_size)?
        }
        QOp::Flatten { start, end } => {
            let x = x()?;
            x.reshape(&flatten_shape(x.shape(), *start, *end)?)?
        }
        QOp::Reshape(shape) => {
            let x = x()?;
            x.reshape(&infer_shape(x.shape(), shape)?)?
        }
        QOp::Add {
            scale,
            zero_point,
            relu,
        } => quantized_add(x()?, quant(node, ins[1])?, *scale, *zero_point, *relu)?,
        QOp::Cat {
            dim,
            scale,
            zero_point,
        } => {
            let xs = ins
                .iter()
                .map(|v| quant(node, v))
                .collect::<Result<Vec<_>>>()?;
            quantized_cat(&xs, *dim, *scale, *zero_point)?
        }
        QOp::DynamicLinear(_) | QOp::DynamicLstm(_) => unreachable!("run_node runs these"),
        QOp::Float(n) => {
            let vars: Vec<Variable> = ins
                .iter()
                .map(|v| float(node, v).map(|t| Variable::constant(t.clone())))
                .collect::<Result<_>>()?;
            let refs: Vec<&Variable> = vars.iter().collect();
            let out = no_grad(|| run_float(n, &refs, None))?;
            let out = if n.relu {
                out[0].relu()
            } else {
                out[0].clone()
            };
            return Ok(Value::Float(out.data()));
        }
    };
    Ok(Value::Quant(q))
}

/// The shape `torch.flatten(x, start, end)` gives.
fn flatten_shape(shape: &[usize], start: i64, end: i64) -> Result<Vec<usize>> {
    let op = "quantized::flatten";
    let rank = shape.len().max(1);
    let s = torchlet_tensor::normalize_dim(op, start, rank)?;
    let e = torchlet_tensor::normalize_dim(op, end, rank)?;
    if s > e {
        return Err(QuantError::invalid(
            op,
            format!("start dim {start} is after end dim {end}"),
        ));
    }
    let mut out = shape[..s].to_vec();
    out.push(shape[s..=e].iter().product());
    out.extend_from_slice(&shape[e + 1..]);
    Ok(out)
}

/// A reshape target with its `-1` filled in.
fn infer_shape(shape: &[usize], target: &[i64]) -> Result<Vec<usize>> {
    let total: usize = shape.iter().product();
    let known: usize = target
        .iter()
        .filter(|&&d| d >= 0)
        .map(|&d| d as usize)
        .product();
    target
        .iter()
        .map(|&d| match d {
            -1 if known > 0 => Ok(total / known),
            d if d >= 0 => Ok(d as usize),
            _ => Err(QuantError::invalid(
                "quantized::reshape",
                format!("bad target {target:?}"),
            )),
        })
        .collect()
}

impl Module for QuantizedModel {
    fn forward(&self, x: &Variable) -> torchlet_nn::Result<Variable> {
        self.run(&x.data())
            .map(Variable::constant)
            .map_err(|e| NnError::Autograd(AutogradError::from(e)))
    }
}
