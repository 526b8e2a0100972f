//! Tracing a module and resolving the traced values into graph names:
//! the model input, parameters and buffers (initializers under their
//! PyTorch names), earlier ops' outputs, and constants.

use std::collections::{HashMap, HashSet};

use torchlet_autograd::trace::{trace, TraceArg, TracedOp};
use torchlet_autograd::{no_grad, Variable};
use torchlet_nn::Module;
use torchlet_tensor::{DType, Tensor};

use crate::error::{OnnxError, Result};
use crate::ir::{Dim, Graph, OnnxConstants, ValueInfo};
use crate::registry::lower;
use crate::ExportOptions;

/// Turns traced values into graph value names while ops are lowered.
pub(crate) struct Lowering {
    /// The graph being built.
    pub g: Graph,
    /// Target opset.
    pub opset: i64,
    /// Variable id → value name.
    names: HashMap<usize, String>,
    /// Parameter / buffer id → (PyTorch name, variable).
    named: HashMap<usize, (String, Variable)>,
    /// Tensors that plain-tensor arguments may refer to, with their names.
    tensors: Vec<(Tensor, Variable)>,
    /// Parameters already written as initializers.
    written: HashSet<usize>,
}

impl Lowering {
    /// The graph value name of `v`; parameters, buffers and constants
    /// become initializers on first use.
    pub fn value(&mut self, v: &Variable) -> Result<String> {
        let id = v.id();
        if let Some(name) = self.names.get(&id) {
            return Ok(name.clone());
        }
        let name = match self.named.get(&id) {
            Some((pname, var)) if self.written.insert(id) => {
                let t = var.data().contiguous();
                self.g.initializer(pname.clone(), t)
            }
            Some((pname, _)) => pname.clone(),
            None => self.g.constant(v.data().contiguous()),
        };
        self.names.insert(id, name.clone());
        Ok(name)
    }

    /// The name of an argument whose values the op reads (indices, token
    /// ids, lengths), which must come from the graph input or an earlier
    /// op: a constant would freeze the example's values into the graph.
    pub fn computed_arg(&mut self, a: &TraceArg, op: &TracedOp, what: &str) -> Result<String> {
        let name = self.arg(a)?;
        if self.g.initializers.iter().any(|(n, _)| *n == name) {
            return Err(crate::lower::unsupported(
                self,
                op,
                format!(
                    "its {what} are constants of the trace, not computed from the graph input, \
                     so the example's values would be frozen into the graph"
                ),
            ));
        }
        Ok(name)
    }

    /// The graph value name of a traced argument (`""` when absent).
    pub fn arg(&mut self, a: &TraceArg) -> Result<String> {
        match a {
            TraceArg::Absent => Ok(String::new()),
            TraceArg::Var(v) => self.value(v),
            TraceArg::Tensor(t) => {
                let known = self
                    .tensors
                    .iter()
                    .find(|(k, _)| k.is_same_view(t))
                    .map(|(_, v)| v.clone());
                match known {
                    Some(v) => self.value(&v),
                    None => Ok(self.g.constant(t.contiguous())),
                }
            }
        }
    }

    /// Names `v` (an op's output) as `name`.
    pub fn define(&mut self, v: &Variable, name: String) {
        self.names.insert(v.id(), name);
    }
}

/// The shape of a traced argument.
pub(crate) fn arg_shape(a: &TraceArg) -> Vec<usize> {
    match a {
        TraceArg::Var(v) => v.shape(),
        TraceArg::Tensor(t) => t.shape().to_vec(),
        TraceArg::Absent => Vec::new(),
    }
}

/// The dtype of a traced argument (`F32` when absent).
pub(crate) fn arg_dtype(a: &TraceArg) -> DType {
    match a {
        TraceArg::Var(v) => v.dtype(),
        TraceArg::Tensor(t) => t.dtype(),
        TraceArg::Absent => DType::F32,
    }
}

/// Every module's own training flag, depth first.
fn modes(m: &dyn Module, out: &mut Vec<bool>) {
    out.push(m.is_training());
    for (_, child) in m.children() {
        modes(child, out);
    }
}

/// Sets each module's own flag back from [`modes`]' list.
fn restore_modes(m: &dyn Module, saved: &mut std::vec::IntoIter<bool>) {
    if let Some(flag) = saved.next() {
        m.set_local_training(flag);
    }
    for (_, child) in m.children() {
        restore_modes(child, saved);
    }
}

/// Runs `module` in eval mode on `example` under the tracer and returns
/// the traced ops and the output. Every submodule's training flag is
/// restored afterwards (a partly frozen model stays as it was).
pub(crate) fn run_trace(
    module: &dyn Module,
    example: &Variable,
    opset: i64,
) -> Result<(Vec<TracedOp>, Variable)> {
    let mut saved = Vec::new();
    modes(module, &mut saved);
    module.eval();
    // Traced without gradient recording, as an inference graph: layers take
    // their eval paths (an Embedding's padding_idx mask, built from the
    // example's data, is only there for gradients). Every op that records
    // a graph still calls `record`, so one that does not report itself to
    // the tracer shows up in `untraced`.
    let (out, t) = no_grad(|| trace(|| module.forward(example)));
    restore_modes(module, &mut saved.into_iter());
    let out = out?;
    if let Some(op) = t.untraced.first() {
        return Err(OnnxError::unsupported(
            *op,
            opset,
            "the op recorded a graph node without reporting itself to the tracer, \
             so its meaning (attributes) is unknown",
        ));
    }
    Ok((t.ops, out))
}

/// A shape with the axes named in `dynamic` as symbols.
pub(crate) fn dims(shape: &[usize], dynamic: &[(usize, String)]) -> Vec<Dim> {
    shape
        .iter()
        .enumerate()
        .map(|(i, &n)| match dynamic.iter().find(|(a, _)| *a == i) {
            Some((_, s)) => Dim::Symbol(s.clone()),
            None => Dim::Fixed(n),
        })
        .collect()
}

/// Traces `module` on `example` and lowers the trace into a [`Graph`].
pub(crate) fn build_graph(
    module: &dyn Module,
    example: &Variable,
    options: &ExportOptions,
) -> Result<Graph> {
    let (ops, out) = run_trace(module, example, options.opset)?;
    let mut named = HashMap::new();
    let mut tensors = Vec::new();
    for (name, v) in module
        .named_parameters()
        .into_iter()
        .chain(module.named_buffers())
    {
        tensors.push((v.data(), v.clone()));
        named.entry(v.id()).or_insert((name, v));
    }
    tensors.push((example.data(), example.clone()));
    let mut cx = Lowering {
        g: Graph::default(),
        opset: options.opset,
        names: HashMap::new(),
        named,
        tensors,
        written: HashSet::new(),
    };
    let input_name = options.input_name.clone();
    cx.define(example, input_name.clone());
    cx.g.inputs.push(ValueInfo {
        name: input_name,
        dtype: example.dtype(),
        dims: dims(&example.shape(), &options.input_dynamic_axes),
    });
    for op in &ops {
        // An op whose output is one of its inputs (a no-op reshape) adds nothing.
        let aliased = op.outputs.len() == 1
            && op
                .inputs
                .iter()
                .any(|a| matches!(a, TraceArg::Var(v) if v.id() == op.outputs[0].id()));
        if aliased {
            continue;
        }
        let names = lower(&mut cx, op)?;
        for (v, name) in op.outputs.iter().zip(names) {
            cx.define(v, name);
        }
    }
    let result = cx.value(&out)?;
    let output_name = options.output_name.clone();
    // The output gets its public name through an Identity (it may be an
    // initializer or the input itself, e.g. a model in eval that is all dropout).
    let renamed = match cx.g.nodes.iter_mut().find(|n| n.outputs.contains(&result)) {
        Some(node) if !cx.g.initializers.iter().any(|(n, _)| *n == result) => {
            for o in node.outputs.iter_mut().filter(|o| **o == result) {
                o.clone_from(&output_name);
            }
            true
        }
        _ => false,
    };
    if renamed {
        for n in cx.g.nodes.iter_mut() {
            for i in n.inputs.iter_mut().filter(|i| **i == result) {
                i.clone_from(&output_name);
            }
        }
    } else {
        cx.g.op("Identity", vec![result], vec![]);
        if let Some(last) = cx.g.nodes.last_mut() {
            last.outputs = vec![output_name.clone()];
        }
    }
    let out_dynamic: Vec<(usize, String)> = options
        .output_dynamic_axes
        .iter()
        .filter(|(a, _)| *a < out.dim())
        .cloned()
        .collect();
    cx.g.outputs.push(ValueInfo {
        name: output_name,
        dtype: out.dtype(),
        dims: dims(&out.shape(), &out_dynamic),
    });
    cx.g.prune();
    Ok(cx.g)
}
