//! A model captured as a graph of the ops quantization rewrites: what
//! `prepare`, `convert` and `quantize_dynamic` work on.
//!
//! torchlet models are structs whose `forward` calls layers and
//! functional ops, so modules cannot be swapped in place as PyTorch's
//! eager mode does. Instead the model's forward is traced once (as
//! `torch.fx` does) and every op becomes a [`Node`] that names the module
//! it came from (`conv1`, `fc2`, from the parameter names). Parameters
//! stay the model's own [`Variable`]s, so quantization-aware training
//! updates them in place.

use std::collections::HashMap;

use torchlet_autograd::trace::{trace, AtenOp, BinaryOp, TraceArg, TracedOp};
use torchlet_autograd::{no_grad, Variable};
use torchlet_nn::{Module, PaddedLengthsRecord, RnnCell, RnnRecord};
use torchlet_tensor::Tensor;

use crate::error::{QuantError, Result};
use crate::stubs::StubRecord;

/// The index of a value in a [`GraphModule`] (0 is the model's input).
pub type ValueId = usize;

/// What a node computes. Parameters are the model's variables.
#[derive(Clone, Debug)]
pub enum Op {
    /// `F.conv2d`.
    Conv2d {
        /// `[out, in / groups, kh, kw]`.
        weight: Variable,
        /// `[out]`.
        bias: Option<Variable>,
        /// Step.
        stride: [usize; 2],
        /// Zero padding.
        padding: [usize; 2],
        /// Dilation.
        dilation: [usize; 2],
        /// Channel groups.
        groups: usize,
    },
    /// `F.linear`.
    Linear {
        /// `[out, in]`.
        weight: Variable,
        /// `[out]`.
        bias: Option<Variable>,
    },
    /// Eval-mode batch norm with running statistics.
    BatchNorm {
        /// Running mean.
        running_mean: Tensor,
        /// Running variance.
        running_var: Tensor,
        /// γ.
        weight: Option<Variable>,
        /// β.
        bias: Option<Variable>,
        /// Added to the variance.
        eps: f64,
    },
    /// `relu`.
    Relu,
    /// `F.max_pool2d`.
    MaxPool2d {
        /// Window.
        kernel: [usize; 2],
        /// Step.
        stride: [usize; 2],
        /// `-inf` padding.
        padding: [usize; 2],
    },
    /// `F.adaptive_avg_pool2d`.
    AdaptiveAvgPool2d {
        /// Output `[H, W]`.
        output_size: [usize; 2],
    },
    /// `torch.flatten(x, start, end)`.
    Flatten {
        /// First flattened dim.
        start: i64,
        /// Last flattened dim.
        end: i64,
    },
    /// `reshape`.
    Reshape(Vec<i64>),
    /// `a + b` of two graph values.
    Add,
    /// `torch.cat(values, dim)`.
    Cat(i64),
    /// `F.embedding` of integer ids (stays float).
    Embedding {
        /// `[num, dim]`.
        weight: Variable,
    },
    /// `torchlet::lengths_from_padding` (int64 lengths of a padded batch).
    LengthsFromPadding {
        /// The padding id.
        pad: i64,
    },
    /// `nn.LSTM` (outputs: output, `h_n`, `c_n`); inputs `[x]` or `[x,
    /// lengths]`. Runs only dynamically quantized.
    Lstm(Box<LstmOp>),
    /// `select(dim, index)`.
    Select {
        /// Dim.
        dim: i64,
        /// Index (negative counts from the end).
        index: i64,
    },
    /// [`QuantStub`](crate::QuantStub): quantize from here on.
    QuantStub,
    /// [`DeQuantStub`](crate::DeQuantStub): float from here on.
    DeQuantStub,
}

/// A traced `nn.LSTM`: its record and its parameters in PyTorch's order
/// (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, then the
/// reverse direction, then the next layer).
#[derive(Clone, Debug)]
pub struct LstmOp {
    /// Sizes, layers, directions, batch_first.
    pub record: RnnRecord,
    /// The parameters.
    pub params: Vec<Variable>,
}

impl Op {
    /// PyTorch's name of the op, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Conv2d { .. } => "Conv2d",
            Op::Linear { .. } => "Linear",
            Op::BatchNorm { .. } => "BatchNorm2d",
            Op::Relu => "ReLU",
            Op::MaxPool2d { .. } => "MaxPool2d",
            Op::AdaptiveAvgPool2d { .. } => "AdaptiveAvgPool2d",
            Op::Flatten { .. } => "Flatten",
            Op::Reshape(_) => "reshape",
            Op::Add => "add",
            Op::Cat(_) => "cat",
            Op::Embedding { .. } => "Embedding",
            Op::LengthsFromPadding { .. } => "lengths_from_padding",
            Op::Lstm(_) => "LSTM",
            Op::Select { .. } => "select",
            Op::QuantStub => "QuantStub",
            Op::DeQuantStub => "DeQuantStub",
        }
    }
}

/// One op of the graph.
#[derive(Clone, Debug)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// The values it reads.
    pub inputs: Vec<ValueId>,
    /// The values it writes.
    pub outputs: Vec<ValueId>,
    /// The module it came from (`conv1`), or the op's kind and position
    /// for parameter-free ops (`relu_3`).
    pub name: String,
    /// A ReLU fused onto the output (`ConvReLU2d`, `LinearReLU`).
    pub relu: bool,
}

/// A model's forward as a graph of [`Node`]s: one input (value 0), one
/// output.
#[derive(Clone, Debug)]
pub struct GraphModule {
    pub(crate) nodes: Vec<Node>,
    pub(crate) output: ValueId,
    pub(crate) num_values: usize,
}

/// The ops [`capture`] understands.
pub const CAPTURED_OPS: [&str; 17] = [
    "aten::convolution",
    "aten::linear",
    "aten::batch_norm",
    "aten::relu",
    "aten::max_pool2d",
    "aten::adaptive_avg_pool2d",
    "aten::flatten",
    "aten::reshape",
    "aten::add",
    "aten::cat",
    "aten::contiguous",
    "aten::embedding",
    "aten::lstm",
    "aten::select",
    "torchlet::lengths_from_padding",
    "torchlet::quant_stub",
    "torchlet::dequant_stub",
];

/// Traces `model` on `example` (one batch of inputs) into a graph. The
/// model runs in eval mode for the trace (its training flag is restored
/// afterwards), so batch norms record their running statistics.
///
/// An op outside [`CAPTURED_OPS`] is an error naming it, as is an op
/// reading a tensor that is neither the input, a parameter nor an
/// earlier op's result.
pub fn capture(model: &dyn Module, example: &Tensor) -> Result<GraphModule> {
    let training = model.is_training();
    model.eval();
    let input = Variable::constant(example.clone());
    let (result, traced) = trace(|| no_grad(|| model.forward(&input)));
    model.set_training(training);
    let output = result.map_err(|e| {
        QuantError::invalid(
            "capture",
            format!("the model's forward failed on the example: {e}"),
        )
    })?;
    if let Some(op) = traced.untraced.first() {
        return Err(QuantError::invalid(
            "capture",
            format!("the model runs {op} outside any traced op; it cannot be captured"),
        ));
    }
    let params: HashMap<usize, String> = model
        .named_parameters()
        .into_iter()
        .map(|(name, v)| (v.id(), name))
        .collect();
    let mut builder = Builder {
        input: example.clone(),
        values: HashMap::from([(input.id(), 0)]),
        params,
        nodes: Vec::new(),
        num_values: 1,
    };
    for (i, op) in traced.ops.iter().enumerate() {
        builder.add(i, op)?;
    }
    let Some(&out) = builder.values.get(&output.id()) else {
        return Err(QuantError::invalid(
            "capture",
            "the model's output does not depend on its input",
        ));
    };
    Ok(GraphModule {
        nodes: builder.nodes,
        output: out,
        num_values: builder.num_values,
    })
}

struct Builder {
    /// The example input: plain tensor arguments sharing its storage
    /// (token ids read with `x.data()`) are the input value.
    input: Tensor,
    values: HashMap<usize, ValueId>,
    params: HashMap<usize, String>,
    nodes: Vec<Node>,
    num_values: usize,
}

impl Builder {
    fn value(&self, index: usize, op: &TracedOp, arg: &TraceArg) -> Result<ValueId> {
        match arg {
            TraceArg::Var(v) => self.values.get(&v.id()).copied().ok_or_else(|| {
                QuantError::invalid(
                    "capture",
                    format!(
                        "op {index} ({}) reads a tensor of shape {:?} that is not computed from the input",
                        op.name(),
                        v.shape()
                    ),
                )
            }),
            TraceArg::Tensor(t) if t.shares_storage_with(&self.input) && t.shape() == self.input.shape() => Ok(0),
            _ => Err(QuantError::invalid(
                "capture",
                format!(
                    "op {index} ({}) reads a tensor that is neither the input nor computed from it",
                    op.name()
                ),
            )),
        }
    }

    fn param(&self, arg: &TraceArg) -> Option<Variable> {
        match arg {
            TraceArg::Var(v) if !self.values.contains_key(&v.id()) => Some(v.clone()),
            _ => None,
        }
    }

    /// The module a parameter belongs to (`conv1` for `conv1.weight`).
    fn module_of(&self, v: &Variable) -> Option<String> {
        self.params
            .get(&v.id())
            .map(|n| n.rsplit_once('.').map_or("", |(m, _)| m).to_string())
    }

    fn add(&mut self, index: usize, traced: &TracedOp) -> Result<()> {
        let name = traced.name();
        let unsupported = || {
            QuantError::invalid(
                "capture",
                format!(
                    "op {index} ({name}) has no quantized or float form in a captured graph (supported: {})",
                    CAPTURED_OPS.join(", ")
                ),
            )
        };
        let args = &traced.inputs;
        let arg = |i: usize| self.value(index, traced, &args[i]);
        let (op, inputs, module) = if let Some(stub) = traced.record::<StubRecord>() {
            let op = match stub {
                StubRecord::Quant => Op::QuantStub,
                StubRecord::DeQuant => Op::DeQuantStub,
            };
            (op, vec![arg(0)?], None)
        } else if let Some(rec) = traced.record::<PaddedLengthsRecord>() {
            (Op::LengthsFromPadding { pad: rec.pad }, vec![arg(0)?], None)
        } else if let Some(rnn) = traced.record::<RnnRecord>() {
            // [x, h0?, c0?, weights..., lengths?]
            let initial_state = args[1..3].iter().any(|a| !matches!(a, TraceArg::Absent));
            if rnn.cell != RnnCell::Lstm || initial_state {
                return Err(QuantError::invalid(
                    "capture",
                    format!(
                        "op {index} ({name}): only LSTMs without an initial state are captured"
                    ),
                ));
            }
            let mut inputs = vec![arg(0)?];
            let mut weights = &args[3..];
            if rnn.with_lengths {
                inputs.push(arg(args.len() - 1)?);
                weights = &args[3..args.len() - 1];
            }
            let params: Vec<Variable> = weights.iter().filter_map(|a| self.param(a)).collect();
            let module = params.first().and_then(|p| self.module_of(p));
            let lstm = LstmOp {
                record: rnn.clone(),
                params,
            };
            (Op::Lstm(Box::new(lstm)), inputs, module)
        } else if let Some(aten) = traced.record::<AtenOp>() {
            match aten {
                AtenOp::Conv {
                    stride,
                    padding,
                    dilation,
                    groups,
                } if stride.len() == 2 => {
                    let weight = self.param(&args[1]).ok_or_else(unsupported)?;
                    let module = self.module_of(&weight);
                    let two = |v: &[usize]| [v[0], v[1]];
                    let op = Op::Conv2d {
                        bias: args.get(2).and_then(|a| self.param(a)),
                        weight,
                        stride: two(stride),
                        padding: two(padding),
                        dilation: two(dilation),
                        groups: *groups,
                    };
                    (op, vec![arg(0)?], module)
                }
                AtenOp::Linear => {
                    let weight = self.param(&args[1]).ok_or_else(unsupported)?;
                    let module = self.module_of(&weight);
                    let bias = args.get(2).and_then(|a| self.param(a));
                    (Op::Linear { weight, bias }, vec![arg(0)?], module)
                }
                AtenOp::BatchNorm { eps, .. } => {
                    let stat = |a: &TraceArg| match a {
                        TraceArg::Tensor(t) => Some(t.clone()),
                        _ => None,
                    };
                    let (Some(running_mean), Some(running_var)) = (stat(&args[1]), stat(&args[2]))
                    else {
                        return Err(unsupported());
                    };
                    let weight = self.param(&args[3]);
                    let module = weight.as_ref().and_then(|w| self.module_of(w));
                    let op = Op::BatchNorm {
                        running_mean,
                        running_var,
                        weight,
                        bias: self.param(&args[4]),
                        eps: *eps,
                    };
                    (op, vec![arg(0)?], module)
                }
                AtenOp::Relu => (Op::Relu, vec![arg(0)?], None),
                AtenOp::MaxPool2d {
                    kernel,
                    stride,
                    padding,
                } => {
                    let op = Op::MaxPool2d {
                        kernel: *kernel,
                        stride: *stride,
                        padding: *padding,
                    };
                    (op, vec![arg(0)?], None)
                }
                AtenOp::AdaptiveAvgPool2d { output_size } => {
                    let op = Op::AdaptiveAvgPool2d {
                        output_size: *output_size,
                    };
                    (op, vec![arg(0)?], None)
                }
                AtenOp::Flatten { start, end } => {
                    let op = Op::Flatten {
                        start: *start,
                        end: *end,
                    };
                    (op, vec![arg(0)?], None)
                }
                AtenOp::Reshape(shape) => (Op::Reshape(shape.clone()), vec![arg(0)?], None),
                AtenOp::Binary(BinaryOp::Add) => (Op::Add, vec![arg(0)?, arg(1)?], None),
                AtenOp::Cat(dim) => {
                    let inputs = (0..args.len()).map(arg).collect::<Result<_>>()?;
                    (Op::Cat(*dim), inputs, None)
                }
                AtenOp::Embedding => {
                    let weight = self.param(&args[1]).ok_or_else(unsupported)?;
                    let module = self.module_of(&weight);
                    (Op::Embedding { weight }, vec![arg(0)?], module)
                }
                AtenOp::Select { dim, index: i } => {
                    let op = Op::Select {
                        dim: *dim,
                        index: *i,
                    };
                    (op, vec![arg(0)?], None)
                }
                AtenOp::Identity => {
                    // A contiguous copy: the same value.
                    let v = arg(0)?;
                    self.values.insert(traced.outputs[0].id(), v);
                    return Ok(());
                }
                _ => return Err(unsupported()),
            }
        } else {
            return Err(unsupported());
        };
        let outputs: Vec<ValueId> = traced
            .outputs
            .iter()
            .map(|v| {
                let id = self.num_values;
                self.num_values += 1;
                self.values.insert(v.id(), id);
                id
            })
            .collect();
        let name = match module {
            Some(m) if !m.is_empty() => m,
            _ => format!("{}_{}", op.kind().to_lowercase(), self.nodes.len()),
        };
        self.nodes.push(Node {
            op,
            inputs,
            outputs,
            name,
            relu: false,
        });
        Ok(())
    }
}

impl Node {
    /// The node's float parameters under PyTorch's names (`weight`,
    /// `bias`, `running_mean`, `running_var`), for state dicts.
    pub fn float_params(&self) -> Vec<(&'static str, Tensor)> {
        let mut out = Vec::new();
        let mut put = |name, v: Option<&Variable>| {
            if let Some(v) = v {
                out.push((name, v.data()));
            }
        };
        match &self.op {
            Op::Conv2d { weight, bias, .. } | Op::Linear { weight, bias } => {
                put("weight", Some(weight));
                put("bias", bias.as_ref());
            }
            Op::Embedding { weight } => put("weight", Some(weight)),
            Op::BatchNorm {
                running_mean,
                running_var,
                weight,
                bias,
                ..
            } => {
                put("weight", weight.as_ref());
                put("bias", bias.as_ref());
                out.push(("running_mean", running_mean.clone()));
                out.push(("running_var", running_var.clone()));
            }
            _ => {}
        }
        out
    }

    /// The node with its parameters replaced, in [`float_params`] order,
    /// by constants (`get(name, shape)` gives each).
    ///
    /// [`float_params`]: Node::float_params
    pub(crate) fn with_float_params(
        &self,
        mut get: impl FnMut(&str, &[usize]) -> Result<Tensor>,
    ) -> Result<Node> {
        let mut node = self.clone();
        let mut var = |name: &str, v: &mut Variable| -> Result<()> {
            *v = Variable::constant(get(name, &v.shape())?);
            Ok(())
        };
        match &mut node.op {
            Op::Conv2d { weight, bias, .. } | Op::Linear { weight, bias } => {
                var("weight", weight)?;
                if let Some(b) = bias {
                    var("bias", b)?;
                }
            }
            Op::Embedding { weight } => var("weight", weight)?,
            Op::BatchNorm {
                running_mean,
                running_var,
                weight,
                bias,
                ..
            } => {
                if let Some(w) = weight {
                    var("weight", w)?;
                }
                if let Some(b) = bias {
                    var("bias", b)?;
                }
                *running_mean = get("running_mean", running_mean.shape())?;
                *running_var = get("running_var", running_var.shape())?;
            }
            _ => {}
        }
        Ok(node)
    }

    /// The node with its parameters as constants holding their current
    /// values (a converted model does not follow later training).
    pub(crate) fn detached(&self) -> Node {
        let params: std::collections::HashMap<&str, Tensor> =
            self.float_params().into_iter().collect();
        self.with_float_params(|name, _| Ok(params[name].clone()))
            .expect("every parameter is listed")
    }
}

impl GraphModule {
    /// The nodes in execution order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The value the model returns.
    pub fn output(&self) -> ValueId {
        self.output
    }

    /// The node that writes `value` (`None` for the input).
    pub fn producer(&self, value: ValueId) -> Option<usize> {
        self.nodes.iter().position(|n| n.outputs.contains(&value))
    }

    /// The nodes that read `value`.
    pub fn consumers(&self, value: ValueId) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].inputs.contains(&value))
            .collect()
    }

    /// Every module name of the graph's nodes, in order.
    pub fn module_names(&self) -> Vec<&str> {
        self.nodes.iter().map(|n| n.name.as_str()).collect()
    }

    /// The Conv2d/Linear → BatchNorm pairs [`fuse_modules`] can fold
    /// (each BatchNorm read only by a convolution it follows directly),
    /// as module-name groups.
    ///
    /// [`fuse_modules`]: crate::fuse_modules
    pub fn fusable_groups(&self) -> Vec<Vec<String>> {
        let mut groups = Vec::new();
        for node in &self.nodes {
            if !matches!(node.op, Op::BatchNorm { .. }) {
                continue;
            }
            if let Some(p) = self.producer(node.inputs[0]) {
                let prev = &self.nodes[p];
                let single = self.consumers(node.inputs[0]).len() == 1;
                if single && matches!(prev.op, Op::Conv2d { .. } | Op::Linear { .. }) {
                    groups.push(vec![prev.name.clone(), node.name.clone()]);
                }
            }
        }
        groups
    }

    /// Runs the graph on variables. `hooks` see every value as it is
    /// produced (the input first) and may replace it, and may replace
    /// each node's weight (observers and fake quantization plug in here).
    /// Fused ReLUs are applied before the value hook.
    pub(crate) fn run(&self, x: &Variable, hooks: &dyn Hooks) -> Result<Variable> {
        let mut values: Vec<Option<Variable>> = vec![None; self.num_values];
        values[0] = Some(hooks.value(0, x.clone())?);
        for (i, node) in self.nodes.iter().enumerate() {
            let inputs: Vec<&Variable> = node
                .inputs
                .iter()
                .map(|&v| values[v].as_ref().expect("inputs precede their readers"))
                .collect();
            let weight = hooks.weight(i, node)?;
            let mut outs = run_float(node, &inputs, weight.as_ref())?;
            if node.relu {
                outs[0] = outs[0].relu();
            }
            for (&id, v) in node.outputs.iter().zip(outs) {
                values[id] = Some(hooks.value(id, v)?);
            }
        }
        Ok(values[self.output].take().expect("the output is computed"))
    }
}

/// What [`GraphModule::run`] calls as values and weights pass.
pub(crate) trait Hooks {
    /// Sees (and may replace) value `id`.
    fn value(&self, id: ValueId, v: Variable) -> Result<Variable> {
        let _ = id;
        Ok(v)
    }

    /// A replacement for node `index`'s weight, if any.
    fn weight(&self, index: usize, node: &Node) -> Result<Option<Variable>> {
        let _ = (index, node);
        Ok(None)
    }
}

/// One node's float forward (with `weight` in place of its own when
/// given).
pub(crate) fn run_float(
    node: &Node,
    x: &[&Variable],
    weight: Option<&Variable>,
) -> Result<Vec<Variable>> {
    let one = |v: Variable| Ok(vec![v]);
    match &node.op {
        Op::Conv2d {
            weight: w,
            bias,
            stride,
            padding,
            dilation,
            groups,
        } => {
            let w = weight.unwrap_or(w);
            one(x[0].conv2d(w, bias.as_ref(), *stride, *padding, *dilation, *groups)?)
        }
        Op::Linear { weight: w, bias } => one(x[0].linear(weight.unwrap_or(w), bias.as_ref())?),
        Op::BatchNorm {
            running_mean,
            running_var,
            weight,
            bias,
            eps,
        } => one(x[0].batch_norm(
            Some(running_mean),
            Some(running_var),
            weight.as_ref(),
            bias.as_ref(),
            false,
            *eps,
        )?),
        Op::Relu => one(x[0].relu()),
        Op::MaxPool2d {
            kernel,
            stride,
            padding,
        } => one(x[0].max_pool2d(*kernel, *stride, *padding)?),
        Op::AdaptiveAvgPool2d { output_size } => one(x[0].adaptive_avg_pool2d(*output_size)?),
        Op::Flatten { start, end } => one(x[0].flatten(*start, *end)?),
        Op::Reshape(shape) => one(x[0].reshape(shape)?),
        Op::Add => one(x[0].add(x[1])?),
        Op::Cat(dim) => one(Variable::cat(x, *dim)?),
        Op::Embedding { weight } => one(torchlet_autograd::functional::embedding(
            &x[0].data(),
            weight,
        )?),
        Op::LengthsFromPadding { pad } => {
            one(torchlet_nn::lengths_from_padding(&x[0].data(), *pad)
                .map_err(|e| QuantError::invalid("lengths_from_padding", e.to_string()))?)
        }
        Op::Lstm(_) => Err(QuantError::invalid(
            "GraphModule",
            format!(
                "{}: an LSTM runs only dynamically quantized (quantize_dynamic)",
                node.name
            ),
        )),
        Op::Select { dim, index } => one(x[0].select(*dim, *index)?),
        Op::QuantStub | Op::DeQuantStub => one(x[0].clone()),
    }
}
