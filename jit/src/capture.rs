//! Tracing a model into a [`Graph`]: [`trace`] for a [`Module`],
//! [`trace_fn`] for any function of several inputs.
//!
//! The forward runs once under autograd's tracer (in eval mode, without
//! gradients); every traced op becomes a node, parameters and buffers
//! become constants under their `named_parameters` names, and any other
//! tensor an op read becomes an unnamed constant. Like `torch.jit.trace`,
//! this records the ops one run executed: a branch on the input's values
//! would be frozen as it went for the example. The trace refuses the
//! cases it can see: a value computed from the inputs read out as numbers
//! ([`Variable::item`], [`Variable::to_vec`]) while tracing. A branch on
//! `x.data()` read through the tensor goes unseen, as in PyTorch: keep
//! such logic in tensor ops (`where`, `masked_fill`, `clamp`).
//!
//! The batch (dim 0 of every input) is left free when the graph is right
//! for another batch size, as far as one more run can tell (see
//! `dynamic.rs`); otherwise the graph keeps the traced batch and says why
//! when called with another. A sequence dim is free only when
//! [`TraceOptions::sequence_dim`] marks it, and the trace fails when the
//! graph holds the traced length.

use std::collections::HashMap;
use std::fmt::Display;

use torchlet_autograd::trace::{
    trace as run_traced, AtenOp, Trace, TraceArg, TracedOp, Untraceable,
};
use torchlet_autograd::{no_grad, Variable};
use torchlet_nn::Module;
use torchlet_tensor::Tensor;

use crate::dynamic::{batch_check, sequence_check};
use crate::graph::{Dim, Graph, InputSpec, Node, Op, TracedType, ValueId};
use crate::text::TextOp;
use crate::{JitError, Result, ScriptModule};

/// Traces `module`'s forward on `example` (one input; see [`trace_fn`]
/// for several) into a [`ScriptModule`], `torch.jit.trace`'s
/// counterpart. The module runs in eval mode for the trace and gets its
/// mode back after.
///
/// ```
/// use torchlet_nn::{Linear, Module, ReLU, Sequential};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let model = Sequential::new()
///     .append(Linear::new(4, 8)?)
///     .append(ReLU)
///     .append(Linear::new(8, 2)?);
/// let script = torchlet_jit::trace(&model, &[Tensor::rand(&[3, 4])])?;
/// // Any batch size: the trace checked that nothing in the graph holds 3.
/// let y = script.forward(&[Tensor::rand(&[5, 4])])?;
/// assert_eq!(y[0].shape(), [5, 2]);
/// println!("{}", script.graph());
/// # Ok(())
/// # }
/// ```
pub fn trace(module: &dyn Module, example: &[Tensor]) -> Result<ScriptModule> {
    trace_with(module, example, &TraceOptions::default())
}

/// Which dims of a trace's inputs beyond the batch are free.
///
/// The batch (dim 0 of every input) is free whenever the graph allows
/// it. A sequence dim is free only when marked here: the trace then
/// checks the graph at another length and fails, saying why, when an
/// op holds the traced one.
///
/// ```
/// use torchlet_jit::{trace_with, TraceOptions};
/// use torchlet_nn::{Embedding, Module};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let emb = Embedding::new(10, 4)?;
/// let tokens = Tensor::from_vec(vec![1i64, 2, 3, 4, 5, 6], &[2, 3])?;
/// // Dim 1 of input 0 is the sequence.
/// let script = trace_with(&emb, &[tokens], &TraceOptions::default().sequence_dim(0, 1))?;
/// let longer = Tensor::from_vec(vec![1i64; 15], &[3, 5])?;
/// assert_eq!(script.forward(&[longer])?[0].shape(), [3, 5, 4]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct TraceOptions {
    sequence_dims: Vec<(usize, usize)>,
}

impl TraceOptions {
    /// Marks dim `dim` of input `input` as a sequence: any length, the
    /// same for every dim marked.
    pub fn sequence_dim(mut self, input: usize, dim: usize) -> TraceOptions {
        self.sequence_dims.push((input, dim));
        self
    }
}

/// [`trace`] with [`TraceOptions`].
pub fn trace_with(
    module: &dyn Module,
    example: &[Tensor],
    options: &TraceOptions,
) -> Result<ScriptModule> {
    if example.len() != 1 {
        return Err(JitError::Trace(format!(
            "Module::forward takes one input, {} were given (trace_fn takes several)",
            example.len()
        )));
    }
    let training = module.is_training();
    module.eval();
    let mut named = module.named_parameters();
    named.extend(module.named_buffers());
    let out = trace_fn_with(
        |xs: &[Variable]| module.forward(&xs[0]).map(|y| vec![y]),
        &named,
        example,
        options,
    );
    module.set_training(training);
    out
}

/// Traces `f` on `examples` into a [`ScriptModule`]: `named` lists the
/// parameters and buffers `f` reads (they become constants under these
/// names; other tensors get `constant_N`). Inputs are named `x` (one) or
/// `x0`, `x1`, ...; every output of `f` is an output of the graph.
pub fn trace_fn<F, E>(
    f: F,
    named: &[(String, Variable)],
    examples: &[Tensor],
) -> Result<ScriptModule>
where
    F: Fn(&[Variable]) -> std::result::Result<Vec<Variable>, E>,
    E: Display,
{
    trace_fn_with(f, named, examples, &TraceOptions::default())
}

/// [`trace_fn`] with [`TraceOptions`].
pub fn trace_fn_with<F, E>(
    f: F,
    named: &[(String, Variable)],
    examples: &[Tensor],
    options: &TraceOptions,
) -> Result<ScriptModule>
where
    F: Fn(&[Variable]) -> std::result::Result<Vec<Variable>, E>,
    E: Display,
{
    let mut seen = HashMap::new();
    for (name, v) in named {
        if seen
            .insert(name.as_str(), v.id())
            .is_some_and(|id| id != v.id())
        {
            return Err(JitError::Trace(format!(
                "named lists {name} twice, for two different values: names must be unique"
            )));
        }
    }
    let inputs: Vec<Variable> = examples
        .iter()
        .map(|t| Variable::constant(t.clone()))
        .collect();
    let (result, traced) = run_traced(|| no_grad(|| f(&inputs)));
    let outputs =
        result.map_err(|e| JitError::Trace(format!("the forward failed on the example: {e}")))?;
    if let Some(op) = traced.untraced.first() {
        return Err(JitError::Trace(format!(
            "{op} ran outside any traced op (a custom op?): the graph could not say what it computes"
        )));
    }
    if let Some(why) = frozen_read(&traced, &inputs) {
        return Err(JitError::Trace(why));
    }
    let mut b = Builder::new(&inputs, named);
    for (i, op) in traced.ops.iter().enumerate() {
        b.add(i, op)?;
    }
    let outs: Vec<Slot> = outputs.iter().map(|v| b.var(v)).collect();
    let mut script = ScriptModule::from_parts(b.finish(outs), b.constant_tensors())?;
    let seq = &options.sequence_dims;
    if !seq.is_empty() {
        sequence_check(&script, &f, examples, seq).map_err(|why| {
            JitError::Trace(format!("the sequence dims {seq:?} cannot be free: {why}"))
        })?;
    }
    script.graph_mut().fixed_batch = batch_check(&script, &f, examples);
    let g = script.graph_mut();
    if g.fixed_batch.is_none() {
        for i in &mut g.inputs {
            i.dims[0] = Dim::Batch;
        }
    }
    for &(i, d) in seq {
        if d > 0 || g.fixed_batch.is_some() {
            g.inputs[i].dims[d] = Dim::Sequence;
        }
    }
    Ok(script)
}

/// Why the trace is refused when the forward read a value computed from
/// the inputs out as numbers (`item`, `to_vec`): whatever it did with
/// them (a branch, a size, a loop count) would be frozen in the graph.
fn frozen_read(traced: &Trace, inputs: &[Variable]) -> Option<String> {
    traced.reads.iter().find_map(|&(method, id)| {
        let what = if let Some(i) = inputs.iter().position(|v| v.id() == id) {
            format!("input {i}")
        } else {
            let (i, op) = traced
                .ops
                .iter()
                .enumerate()
                .find(|(_, op)| op.outputs.iter().any(|v| v.id() == id))?;
            format!("the output of op {i} ({})", op.name())
        };
        Some(format!(
            "the forward read {what} with Variable::{method}: data-dependent control flow cannot be traced (the branch taken for the example would be frozen in the graph); compute it with tensor ops (where, masked_fill, clamp) instead"
        ))
    })
}

/// Where a value comes from while the graph is built (renumbered at the
/// end: inputs, then constants, then op outputs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Slot {
    Input(usize),
    Const(usize),
    Out(usize),
}

struct Builder<'a> {
    /// Variable id → slot.
    slots: HashMap<usize, Slot>,
    /// Variables a plain-tensor argument may be a view of.
    known: Vec<Variable>,
    named: HashMap<usize, &'a str>,
    inputs: Vec<TracedType>,
    constants: Vec<(String, Tensor)>,
    nodes: Vec<(Op, Vec<Option<Slot>>, Vec<Slot>)>,
    out_types: Vec<TracedType>,
}

fn traced_type(t: &Tensor) -> TracedType {
    TracedType {
        dtype: t.dtype().into(),
        shape: t.shape().to_vec(),
    }
}

impl<'a> Builder<'a> {
    fn new(inputs: &[Variable], named: &'a [(String, Variable)]) -> Builder<'a> {
        let mut b = Builder {
            slots: HashMap::new(),
            known: Vec::new(),
            named: named.iter().map(|(n, v)| (v.id(), n.as_str())).collect(),
            inputs: inputs.iter().map(|v| traced_type(&v.data())).collect(),
            constants: Vec::new(),
            nodes: Vec::new(),
            out_types: Vec::new(),
        };
        for (i, v) in inputs.iter().enumerate() {
            b.slots.insert(v.id(), Slot::Input(i));
            b.known.push(v.clone());
        }
        b.known.extend(named.iter().map(|(_, v)| v.clone()));
        b
    }

    /// The slot of a variable: an input, an op's output, or a constant
    /// (a named parameter or buffer, else `constant_N`) made on first use.
    fn var(&mut self, v: &Variable) -> Slot {
        if let Some(&s) = self.slots.get(&v.id()) {
            return s;
        }
        let name = match self.named.get(&v.id()) {
            Some(n) => n.to_string(),
            None => format!("constant_{}", self.constants.len()),
        };
        let s = Slot::Const(self.constants.len());
        self.constants.push((name, v.data().contiguous()));
        self.slots.insert(v.id(), s);
        s
    }

    fn arg(&mut self, a: &TraceArg) -> Option<Slot> {
        match a {
            TraceArg::Absent => None,
            TraceArg::Var(v) => Some(self.var(v)),
            TraceArg::Tensor(t) => {
                // A view of a known value (an input, a parameter or
                // buffer, an op's output) reads that value.
                let seen = self.known.iter().find(|v| v.data().is_same_view(t));
                if let Some(v) = seen.cloned() {
                    return Some(self.var(&v));
                }
                let s = Slot::Const(self.constants.len());
                let name = format!("constant_{}", self.constants.len());
                self.constants.push((name, t.contiguous()));
                Some(s)
            }
        }
    }

    fn shape_of(&self, s: Slot) -> &[usize] {
        match s {
            Slot::Input(i) => &self.inputs[i].shape,
            Slot::Const(i) => self.constants[i].1.shape(),
            Slot::Out(i) => &self.out_types[i].shape,
        }
    }

    fn add(&mut self, index: usize, traced: &TracedOp) -> Result<()> {
        let unsupported =
            |why: String| JitError::Trace(format!("op {index} ({}): {why}", traced.name()));
        let text = TextOp::from_traced(traced);
        let aten = traced.record::<AtenOp>();
        if aten.is_none() && text.is_none() {
            if let Some(Untraceable(what)) = traced.record::<Untraceable>() {
                return Err(JitError::Trace(format!(
                    "op {index} cannot be traced: {what}"
                )));
            }
            return Err(unsupported(
                "the jit does not know this op (only autograd's ops and nn's text ops)".into(),
            ));
        }
        let inputs: Vec<Option<Slot>> = traced.inputs.iter().map(|a| self.arg(a)).collect();
        let out_shape = traced
            .outputs
            .first()
            .map(|v| v.shape())
            .unwrap_or_default();
        let op = match aten.ok_or(text) {
            Err(text) => Op::Text(text.expect("checked above")),
            Ok(AtenOp::BatchNorm { training: true, .. }) => {
                return Err(unsupported(
                    "batch norm ran in training mode (batch statistics, running statistics updated): trace in eval mode".into(),
                ))
            }
            Ok(AtenOp::Reshape(_)) => {
                let x = inputs[0].map(|s| self.shape_of(s).to_vec()).unwrap_or_default();
                Op::Reshape(reshape_target(&x, &out_shape))
            }
            Ok(AtenOp::Expand(target)) => {
                let x = inputs[0].map(|s| self.shape_of(s).to_vec()).unwrap_or_default();
                Op::Expand(expand_target(&x, target))
            }
            Ok(other) => Op::Aten(other.clone()),
        };
        let mut outs = Vec::new();
        for v in &traced.outputs {
            let s = Slot::Out(self.out_types.len());
            self.out_types.push(traced_type(&v.data()));
            self.slots.insert(v.id(), s);
            self.known.push(v.clone());
            outs.push(s);
        }
        self.nodes.push((op, inputs, outs));
        Ok(())
    }

    fn constant_tensors(&self) -> Vec<Tensor> {
        self.constants.iter().map(|(_, t)| t.clone()).collect()
    }

    fn finish(&self, outputs: Vec<Slot>) -> Graph {
        let (n_in, n_const) = (self.inputs.len(), self.constants.len());
        let id = |s: Slot| -> ValueId {
            match s {
                Slot::Input(i) => i,
                Slot::Const(i) => n_in + i,
                Slot::Out(i) => n_in + n_const + i,
            }
        };
        let names: Vec<String> = if n_in == 1 {
            vec!["x".into()]
        } else {
            (0..n_in).map(|i| format!("x{i}")).collect()
        };
        let mut types = self.inputs.clone();
        types.extend(self.constants.iter().map(|(_, t)| traced_type(t)));
        types.extend(self.out_types.iter().cloned());
        Graph {
            inputs: self
                .inputs
                .iter()
                .zip(names)
                .map(|(t, name)| InputSpec {
                    name,
                    dtype: t.dtype,
                    dims: t.shape.iter().map(|&n| Dim::Fixed(n)).collect(),
                })
                .collect(),
            constants: self.constants.iter().map(|(n, _)| n.clone()).collect(),
            nodes: self
                .nodes
                .iter()
                .map(|(op, ins, outs)| Node {
                    op: op.clone(),
                    inputs: ins.iter().map(|s| s.map(id)).collect(),
                    outputs: outs.iter().map(|&s| id(s)).collect(),
                })
                .collect(),
            outputs: outputs.into_iter().map(id).collect(),
            num_values: n_in + n_const + self.out_types.len(),
            types,
            fixed_batch: None,
            metadata: Vec::new(),
        }
    }
}

/// ONNX's reshape target from a traced reshape: sizes shared with the
/// input's leading dims become `0` (copy), the first other one `-1`.
fn reshape_target(input: &[usize], output: &[usize]) -> Vec<i64> {
    let mut copying = true;
    let mut target: Vec<i64> = output
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            copying &= input.get(i) == Some(&n) && n != 0;
            if copying {
                0
            } else {
                n as i64
            }
        })
        .collect();
    if let Some(i) = target.iter().position(|&n| n != 0) {
        if output[i] != 0 {
            target[i] = -1;
        }
    }
    target
}

/// An expand target whose sizes equal the input's (aligned from the
/// right) become `-1` (keep).
fn expand_target(input: &[usize], target: &[i64]) -> Vec<i64> {
    let lead = target.len().saturating_sub(input.len());
    target
        .iter()
        .enumerate()
        .map(|(i, &t)| match i.checked_sub(lead).map(|j| input[j]) {
            Some(n) if t == n as i64 => -1,
            _ => t,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_targets_copy_the_leading_dims_they_share() {
        assert_eq!(reshape_target(&[64, 16, 5, 5], &[64, 400]), [0, -1]);
        assert_eq!(reshape_target(&[64, 400], &[64, 20, 20]), [0, -1, 20]);
        assert_eq!(reshape_target(&[2, 3], &[3, 2]), [-1, 2]);
        assert_eq!(reshape_target(&[6], &[6]), [0]);
    }

    #[test]
    fn expand_targets_keep_the_sizes_they_share() {
        assert_eq!(expand_target(&[1, 5], &[4, 3, 5]), [4, 3, -1]);
        assert_eq!(expand_target(&[8, 1], &[8, 7]), [-1, 7]);
    }

    #[test]
    fn elem_types_round_trip() {
        use crate::graph::ElemType;
        use torchlet_tensor::DType;
        for d in [DType::F32, DType::F64, DType::I64, DType::Bool] {
            assert_eq!(DType::from(ElemType::from(d)), d);
        }
    }
}
