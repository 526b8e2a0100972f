//! `fuse_modules`, `prepare` and `prepare_qat`: a captured float model
//! with observers (or fake quantizers) on the values it will quantize.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use torchlet_autograd::{AutogradError, Variable};
use torchlet_nn::{Module, NnError};

use crate::error::{QuantError, Result};
use crate::fake_quant::FakeQuantize;
use crate::graph::{GraphModule, Hooks, Node, Op, ValueId};
use crate::observer::Observer;
use crate::qconfig::QConfig;
use torchlet_nn::{fuse_conv_bn_weights, BatchNormParams};

/// `torch.ao.quantization.fuse_modules`: folds each named BatchNorm into
/// the Conv2d or Linear it directly follows (`[["conv1", "bn1"], ...]`,
/// module names as in `named_parameters`). The fused layer computes what
/// the pair computed in eval mode, with new weights (trainable leaves
/// when the originals were).
///
/// A ReLU after a convolution, linear layer or add is fused by
/// [`prepare`] whatever the groups say (PyTorch's `ConvReLU2d`,
/// `LinearReLU`): torchlet models call `relu` as a function, which has no
/// module name to list.
pub fn fuse_modules<G: AsRef<[S]>, S: AsRef<str>>(
    graph: &mut GraphModule,
    groups: &[G],
) -> Result<()> {
    let op = "fuse_modules";
    for group in groups {
        let names: Vec<&str> = group.as_ref().iter().map(AsRef::as_ref).collect();
        let [first, second] = names[..] else {
            return Err(QuantError::invalid(
                op,
                format!("{names:?}: a group is a Conv2d or Linear and the BatchNorm after it (two names)"),
            ));
        };
        let find = |name: &str| {
            graph
                .nodes
                .iter()
                .position(|n| n.name == name)
                .ok_or_else(|| {
                    QuantError::invalid(
                        op,
                        format!(
                            "no module {name:?} in the captured graph (modules: {})",
                            graph.module_names().join(", ")
                        ),
                    )
                })
        };
        let (c, b) = (find(first)?, find(second)?);
        let bn_follows = graph.nodes[b].inputs == graph.nodes[c].outputs
            && graph.consumers(graph.nodes[c].outputs[0]).len() == 1;
        let Op::BatchNorm {
            running_mean,
            running_var,
            weight: gamma,
            bias: beta,
            eps,
        } = graph.nodes[b].op.clone()
        else {
            return Err(QuantError::invalid(
                op,
                format!(
                    "{second} is a {}, not a BatchNorm",
                    graph.nodes[b].op.kind()
                ),
            ));
        };
        if !bn_follows {
            return Err(QuantError::invalid(
                op,
                format!("{second} does not directly follow {first} (or {first} has other readers)"),
            ));
        }
        let (gamma, beta) = (gamma.map(|v| v.data()), beta.map(|v| v.data()));
        let bn = BatchNormParams {
            running_mean: &running_mean,
            running_var: &running_var,
            eps,
            weight: gamma.as_ref(),
            bias: beta.as_ref(),
        };
        let fold = |w: &Variable, bias: &Option<Variable>| -> Result<(Variable, Variable)> {
            let (fw, fb) =
                fuse_conv_bn_weights(&w.data(), bias.as_ref().map(|v| v.data()).as_ref(), &bn)
                    .map_err(|e| QuantError::invalid("fuse_modules", e.to_string()))?;
            Ok((
                Variable::new(fw, w.requires_grad()),
                Variable::new(fb, w.requires_grad()),
            ))
        };
        match &mut graph.nodes[c].op {
            Op::Conv2d { weight, bias, .. } | Op::Linear { weight, bias } => {
                let (fw, fb) = fold(weight, bias)?;
                (*weight, *bias) = (fw, Some(fb));
            }
            other => {
                return Err(QuantError::invalid(
                    op,
                    format!("{first} is a {}, not a Conv2d or Linear", other.kind()),
                ))
            }
        }
        graph.nodes[c].outputs = graph.nodes[b].outputs.clone();
        graph.nodes.remove(b);
    }
    Ok(())
}

/// What watches one activation.
enum ActObserver {
    Observe(Box<dyn Observer + Send>),
    Fake(Box<FakeQuantize>),
}

/// A captured model with observers (`prepare`) or fake quantizers
/// (`prepare_qat`): run calibration batches (or train it), then
/// [`convert`](crate::convert). It is a [`Module`]; its parameters are
/// the graph's weights and biases under their modules' names.
pub struct PreparedModel {
    pub(crate) graph: GraphModule,
    pub(crate) qconfig: QConfig,
    /// Per value: whether it is quantized after `convert`.
    pub(crate) quantized: Vec<bool>,
    /// Per value: the observer of values that get their own parameters.
    act: Vec<Option<Mutex<ActObserver>>>,
    /// Per node (QAT): the weight's fake quantizer.
    weight_fq: Vec<Option<Mutex<FakeQuantize>>>,
    params: Vec<(String, Variable)>,
    training: AtomicBool,
}

impl std::fmt::Debug for PreparedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedModel")
            .field("modules", &self.graph.module_names())
            .field("qconfig", &self.qconfig)
            .finish()
    }
}

/// `torch.ao.quantization.prepare`: fuses ReLUs into the op before them
/// and attaches `qconfig`'s activation observer to every value that gets
/// its own scale and zero point (the quantized input, each Conv2d,
/// Linear, add and cat output). Pooling, flatten, reshape and an unfused
/// ReLU keep their input's parameters, as PyTorch's quantized ops do.
///
/// Refused, naming the module: an unfused BatchNorm inside the quantized
/// region (fuse it first), a grouped convolution, an op mixing quantized
/// and float inputs.
pub fn prepare(graph: GraphModule, qconfig: &QConfig) -> Result<PreparedModel> {
    if qconfig.fake_quant {
        return Err(QuantError::invalid(
            "prepare",
            "the qconfig fake-quantizes (a QAT qconfig): use prepare_qat",
        ));
    }
    PreparedModel::new(graph, qconfig.clone())
}

/// `torch.ao.quantization.prepare_qat`: [`prepare`] with fake
/// quantization of the activations and the weights, for training. The
/// model should have been fused (BatchNorm statistics are then frozen
/// into the weights, which train as one layer).
pub fn prepare_qat(graph: GraphModule, qconfig: &QConfig) -> Result<PreparedModel> {
    if !qconfig.fake_quant {
        return Err(QuantError::invalid(
            "prepare_qat",
            "the qconfig only observes (a PTQ qconfig): use get_default_qat_qconfig",
        ));
    }
    PreparedModel::new(graph, qconfig.clone())
}

/// Marks a ReLU as fused into the op that produces its input when it is
/// that value's only reader.
fn fuse_relus(graph: &mut GraphModule, quantized: &[bool]) {
    let mut i = 0;
    while i < graph.nodes.len() {
        let node = &graph.nodes[i];
        if matches!(node.op, Op::Relu) && quantized[node.inputs[0]] {
            let input = node.inputs[0];
            if let Some(p) = graph.producer(input) {
                let fusable = matches!(
                    graph.nodes[p].op,
                    Op::Conv2d { .. } | Op::Linear { .. } | Op::Add
                ) && !graph.nodes[p].relu
                    && graph.consumers(input).len() == 1
                    && graph.output != input;
                if fusable {
                    let outputs = graph.nodes[i].outputs.clone();
                    graph.nodes[p].relu = true;
                    graph.nodes[p].outputs = outputs;
                    graph.nodes.remove(i);
                    continue;
                }
            }
        }
        i += 1;
    }
}

/// Which values are quantized: all of them without stubs; with stubs,
/// those after a QuantStub and before a DeQuantStub.
fn quantized_values(graph: &GraphModule) -> Result<Vec<bool>> {
    let stubs = graph.nodes.iter().any(|n| matches!(n.op, Op::QuantStub));
    let mut q = vec![false; graph.num_values];
    q[0] = !stubs;
    for node in &graph.nodes {
        let out = match node.op {
            Op::QuantStub => true,
            Op::DeQuantStub => false,
            _ => {
                let first = q[node.inputs[0]];
                if node.inputs.iter().any(|&v| q[v] != first) {
                    return Err(QuantError::invalid(
                        "prepare",
                        format!("{} mixes quantized and float inputs", node.name),
                    ));
                }
                first
            }
        };
        for &o in &node.outputs {
            q[o] = out;
        }
    }
    Ok(q)
}

impl PreparedModel {
    fn new(mut graph: GraphModule, qconfig: QConfig) -> Result<PreparedModel> {
        let quantized = quantized_values(&graph)?;
        fuse_relus(&mut graph, &quantized);
        let mut fresh = vec![quantized[0]];
        fresh.resize(graph.num_values, false);
        for node in &graph.nodes {
            let q = quantized[node.outputs[0]];
            match &node.op {
                Op::BatchNorm { .. } if q => {
                    return Err(QuantError::invalid(
                        "prepare",
                        format!(
                            "{} (BatchNorm2d) is not fused: call fuse_modules with [\"<conv>\", \"{}\"] first",
                            node.name, node.name
                        ),
                    ))
                }
                Op::Embedding { .. } | Op::LengthsFromPadding { .. } | Op::Lstm(_) | Op::Select { .. }
                    if q =>
                {
                    return Err(QuantError::invalid(
                        "prepare",
                        format!(
                            "{} ({}) has no static quantized form: keep it outside QuantStub/DeQuantStub, or use quantize_dynamic",
                            node.name,
                            node.op.kind()
                        ),
                    ))
                }
                Op::Conv2d { groups, .. } if q && *groups != 1 => {
                    return Err(QuantError::invalid(
                        "prepare",
                        format!("{}: quantized Conv2d supports groups = 1, got {groups}", node.name),
                    ))
                }
                Op::QuantStub | Op::Conv2d { .. } | Op::Linear { .. } | Op::Add | Op::Cat(_) => {
                    fresh[node.outputs[0]] = q;
                }
                _ => {}
            }
        }
        let act = fresh
            .iter()
            .map(|&f| {
                f.then(|| -> Result<Mutex<ActObserver>> {
                    Ok(Mutex::new(if qconfig.fake_quant {
                        ActObserver::Fake(Box::new(FakeQuantize::new(&qconfig.activation)?))
                    } else {
                        ActObserver::Observe(qconfig.activation.build()?)
                    }))
                })
                .transpose()
            })
            .collect::<Result<_>>()?;
        let weight_fq = graph
            .nodes
            .iter()
            .map(|n| {
                let weighted = matches!(n.op, Op::Conv2d { .. } | Op::Linear { .. });
                (qconfig.fake_quant && weighted && quantized[n.outputs[0]])
                    .then(|| FakeQuantize::new(&qconfig.weight).map(Mutex::new))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        let mut params = Vec::new();
        for n in &graph.nodes {
            if let Op::Conv2d { weight, bias, .. } | Op::Linear { weight, bias } = &n.op {
                params.push((format!("{}.weight", n.name), weight.clone()));
                if let Some(b) = bias {
                    params.push((format!("{}.bias", n.name), b.clone()));
                }
            }
        }
        Ok(PreparedModel {
            graph,
            qconfig,
            quantized,
            act,
            weight_fq,
            params,
            training: AtomicBool::new(true),
        })
    }

    /// The graph (after fusion).
    pub fn graph(&self) -> &GraphModule {
        &self.graph
    }

    /// The scale and zero point chosen so far for value `id`, if it has
    /// an observer.
    pub(crate) fn act_qparams(&self, id: ValueId, name: &str) -> Result<Option<(f64, i64)>> {
        let Some(obs) = &self.act[id] else {
            return Ok(None);
        };
        let obs = obs.lock().expect("observer lock");
        let (s, z) = match &*obs {
            ActObserver::Observe(o) => o.calculate_qparams(),
            ActObserver::Fake(f) => f.calculate_qparams(),
        }
        .map_err(|e| QuantError::Invalid {
            op: "convert",
            message: format!("{name}: {e}"),
        })?;
        Ok(Some((s.to_vec::<f32>()?[0] as f64, z.to_vec::<i64>()?[0])))
    }

    /// Whether value `id` has an observer (its own scale and zero point).
    pub(crate) fn has_observer(&self, id: ValueId) -> bool {
        self.act[id].is_some()
    }

    /// The QAT weight fake quantizer's parameters of node `index`.
    pub(crate) fn weight_qparams(
        &self,
        index: usize,
    ) -> Result<Option<(torchlet_tensor::Tensor, torchlet_tensor::Tensor)>> {
        self.weight_fq[index]
            .as_ref()
            .map(|f| f.lock().expect("fake quantizer lock").calculate_qparams())
            .transpose()
    }

    /// Switches every observer on or off (`torch.ao.quantization.enable_observer`
    /// / `disable_observer` applied to the model).
    pub fn set_observers(&self, on: bool) {
        self.each_fake_quant(|f| {
            if on {
                f.enable_observer()
            } else {
                f.disable_observer()
            }
        });
    }

    /// Switches fake quantization on or off everywhere.
    pub fn set_fake_quant(&self, on: bool) {
        self.each_fake_quant(|f| {
            if on {
                f.enable_fake_quant()
            } else {
                f.disable_fake_quant()
            }
        });
    }

    fn each_fake_quant(&self, mut f: impl FnMut(&mut FakeQuantize)) {
        for a in self.act.iter().flatten() {
            if let ActObserver::Fake(fq) = &mut *a.lock().expect("observer lock") {
                f(fq);
            }
        }
        for w in self.weight_fq.iter().flatten() {
            f(&mut w.lock().expect("fake quantizer lock"));
        }
    }
}

impl Hooks for PreparedModel {
    fn value(&self, id: ValueId, v: Variable) -> Result<Variable> {
        let Some(obs) = &self.act[id] else {
            return Ok(v);
        };
        match &mut *obs.lock().expect("observer lock") {
            ActObserver::Observe(o) => {
                o.observe(&v.data())?;
                Ok(v)
            }
            ActObserver::Fake(f) => f.forward(&v),
        }
    }

    fn weight(&self, index: usize, node: &Node) -> Result<Option<Variable>> {
        let (Some(fq), Op::Conv2d { weight, .. } | Op::Linear { weight, .. }) =
            (&self.weight_fq[index], &node.op)
        else {
            return Ok(None);
        };
        fq.lock()
            .expect("fake quantizer lock")
            .forward(weight)
            .map(Some)
    }
}

impl Module for PreparedModel {
    fn forward(&self, x: &Variable) -> torchlet_nn::Result<Variable> {
        self.graph
            .run(x, self)
            .map_err(|e| NnError::Autograd(AutogradError::from(e)))
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        self.params
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect()
    }

    fn set_local_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }
}
