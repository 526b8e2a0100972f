//! [`ScriptModule`]: a graph with its constants, checked once, and the
//! executor that runs it.

use std::sync::{Mutex, TryLockError};

use torchlet_tensor::{DType, Tensor};

use crate::exec::Workspace;
use crate::graph::{Dim, Graph, Op};
use crate::plan::MemoryPlan;
use crate::{JitError, Result};

/// A traced (or loaded) model: its [`Graph`] and the constants' tensors,
/// run by [`forward`](ScriptModule::forward) without autograd and
/// without the code that defined the model (`torch.jit.ScriptModule`).
///
/// A script keeps the buffers of its last call (a [`Workspace`]) to reuse
/// them in the next; calls from several threads at once each get their
/// own.
#[derive(Debug)]
pub struct ScriptModule {
    graph: Graph,
    constants: Vec<Tensor>,
    /// Per value, the last node that reads it (see [`Graph::last_uses`]).
    last_use: Vec<Option<usize>>,
    /// Buffers by liveness at the traced shapes.
    plan: MemoryPlan,
    /// The buffers [`forward`](ScriptModule::forward) reuses.
    workspace: Mutex<Workspace>,
}

impl Clone for ScriptModule {
    /// The same graph and constants (shared, not copied), with an empty
    /// workspace.
    fn clone(&self) -> ScriptModule {
        ScriptModule {
            graph: self.graph.clone(),
            constants: self.constants.clone(),
            last_use: self.last_use.clone(),
            plan: self.plan.clone(),
            workspace: Mutex::default(),
        }
    }
}

impl ScriptModule {
    /// A script from a graph and its constants, after checking that they
    /// fit: one tensor per constant with the traced dtype and shape, and
    /// every node reading only values defined before it (a file's graph
    /// is checked so before anything runs).
    pub(crate) fn from_parts(graph: Graph, constants: Vec<Tensor>) -> Result<ScriptModule> {
        let bad = |why: String| JitError::File {
            path: "<graph>".into(),
            why,
        };
        if constants.len() != graph.constants.len() {
            return Err(bad(format!(
                "{} constants named, {} tensors",
                graph.constants.len(),
                constants.len()
            )));
        }
        let first_out = graph.inputs.len() + constants.len();
        if graph.types.len() != graph.num_values || first_out > graph.num_values {
            return Err(bad(format!(
                "{} values, {} types, {} inputs and constants",
                graph.num_values,
                graph.types.len(),
                first_out
            )));
        }
        for (i, (name, t)) in graph.constants.iter().zip(&constants).enumerate() {
            let want = &graph.types[graph.inputs.len() + i];
            if t.shape() != want.shape || DType::from(want.dtype) != t.dtype() {
                return Err(bad(format!(
                    "constant {name} is {:?} {:?}, the graph says {} {:?}",
                    t.dtype(),
                    t.shape(),
                    want.dtype,
                    want.shape
                )));
            }
        }
        let mut names = std::collections::HashSet::new();
        if let Some(dup) = graph.constants.iter().find(|n| !names.insert(n.as_str())) {
            return Err(bad(format!("two constants are named {dup}")));
        }
        // Shapes a file may claim: no overflowing element counts.
        const MAX_ELEMENTS: usize = 1 << 40;
        for (v, t) in graph.types.iter().enumerate() {
            let n = t.shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d));
            if n.is_none_or(|n| n > MAX_ELEMENTS) {
                return Err(bad(format!(
                    "value {v} has an impossible shape {:?}",
                    t.shape
                )));
            }
        }
        let mut defined = vec![false; graph.num_values];
        defined[..first_out].fill(true);
        for (i, n) in graph.nodes.iter().enumerate() {
            let target_ok = |t: &[i64], inferred: usize| {
                t.iter().all(|&d| d >= -1) && t.iter().filter(|&&d| d == -1).count() <= inferred
            };
            let op_ok = match &n.op {
                Op::Fused(e) => e.is_valid(n.inputs.len()) && n.outputs.len() == 1,
                Op::Epilogue(e) => e.is_valid(n.inputs.len()) && n.outputs.len() == 1,
                Op::Reshape(t) => target_ok(t, 1),
                Op::Expand(t) => target_ok(t, t.len()),
                Op::Aten(_) | Op::Text(_) => true,
            };
            if !op_ok {
                return Err(bad(format!("node {i} ({}) is malformed", n.op.name())));
            }
            if let Some(v) = n
                .inputs
                .iter()
                .flatten()
                .find(|&&v| !defined.get(v).copied().unwrap_or(false))
            {
                return Err(bad(format!(
                    "node {i} ({}) reads value {v} before it is made",
                    n.op.name()
                )));
            }
            for &v in &n.outputs {
                if defined.get(v).copied().unwrap_or(true) {
                    return Err(bad(format!(
                        "node {i} ({}) writes value {v} twice or out of range",
                        n.op.name()
                    )));
                }
                defined[v] = true;
            }
        }
        if let Some(v) = graph
            .outputs
            .iter()
            .find(|&&v| !defined.get(v).copied().unwrap_or(false))
        {
            return Err(bad(format!(
                "the graph returns value {v}, which no node makes"
            )));
        }
        for (spec, t) in graph.inputs.iter().zip(&graph.types) {
            if spec.dims.len() != t.shape.len() || spec.dtype != t.dtype {
                return Err(bad(format!(
                    "input {} is {} with {} dims, its traced type {} {:?}",
                    spec.name,
                    spec.dtype,
                    spec.dims.len(),
                    t.dtype,
                    t.shape
                )));
            }
        }
        let last_use = graph.last_uses();
        let plan = MemoryPlan::of(&graph);
        Ok(ScriptModule {
            graph,
            constants,
            last_use,
            plan,
            workspace: Mutex::default(),
        })
    }

    /// The memory plan: which buffer each intermediate value takes when
    /// buffers are reused by liveness, and the bytes that takes at the
    /// traced shapes (its peak; see [`MemoryPlan`]).
    ///
    /// ```
    /// use torchlet_nn::{Linear, Module, ReLU, Sequential};
    /// use torchlet_tensor::Tensor;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let model = Sequential::new().append(Linear::new(4, 8)?).append(ReLU).append(Linear::new(8, 8)?);
    /// let script = torchlet_jit::trace(&model, &[Tensor::rand(&[2, 4])])?;
    /// let plan = script.memory_plan();
    /// // Three [2, 8] f32 values of 64 bytes; the first is free once the
    /// // ReLU has read it, so the last reuses its buffer.
    /// assert_eq!(plan.total_bytes, 192);
    /// assert_eq!(plan.peak_bytes, 128);
    /// assert_eq!(plan.arena_bytes(), 128);
    /// println!("{plan}");
    /// # Ok(())
    /// # }
    /// ```
    pub fn memory_plan(&self) -> &MemoryPlan {
        &self.plan
    }

    /// The graph (print it for a readable listing, like `torch.jit`'s
    /// `.graph`).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub(crate) fn graph_mut(&mut self) -> &mut Graph {
        &mut self.graph
    }

    /// The value saved under `key` with [`set_metadata`](Self::set_metadata).
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.graph
            .metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Saves `value` under `key` with the script (replacing an earlier
    /// one): what a program loading the file needs to know about its
    /// inputs and outputs (class names, the input's range).
    pub fn set_metadata(&mut self, key: &str, value: &str) {
        self.graph.metadata.retain(|(k, _)| k != key);
        self.graph
            .metadata
            .push((key.to_string(), value.to_string()));
    }

    /// The constants by name (weights under their `named_parameters`
    /// names), in the graph's order.
    pub fn constants(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.graph
            .constants
            .iter()
            .map(String::as_str)
            .zip(&self.constants)
    }

    /// Runs the model on `inputs` (as many as the trace had, each with
    /// its traced dtype and shape, the batch free unless the graph says
    /// it is fixed); returns its outputs. No autograd graph is built.
    ///
    /// An input of another rank, dtype or fixed size is refused naming
    /// the input and both shapes.
    pub fn forward(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        self.check_inputs(inputs)?;
        self.run(inputs)
    }

    pub(crate) fn check_inputs(&self, inputs: &[Tensor]) -> Result<()> {
        let specs = &self.graph.inputs;
        if inputs.len() != specs.len() {
            return Err(JitError::Input(format!(
                "the graph takes {} inputs, {} were given",
                specs.len(),
                inputs.len()
            )));
        }
        let (mut batch, mut sequence) = (None, None);
        for (spec, x) in specs.iter().zip(inputs) {
            let shapes = || {
                format!(
                    "input {}: expected {}, got {:?}{:?}",
                    spec.name,
                    spec.signature(),
                    x.dtype(),
                    x.shape()
                )
            };
            let fits = x.dtype() == DType::from(spec.dtype)
                && x.shape().len() == spec.dims.len()
                && spec.dims.iter().zip(x.shape()).all(|(d, &n)| match d {
                    Dim::Fixed(m) => *m == n,
                    Dim::Batch => *batch.get_or_insert(n) == n,
                    Dim::Sequence => *sequence.get_or_insert(n) == n,
                });
            if !fits {
                let why = match (&self.graph.fixed_batch, spec.dims.first()) {
                    (Some(why), Some(Dim::Fixed(_))) => format!(" (the batch is fixed: {why})"),
                    _ => String::new(),
                };
                return Err(JitError::Input(shapes() + &why));
            }
        }
        Ok(())
    }

    /// Runs the nodes in order (inputs not checked) in the script's own
    /// workspace, or in a new one while another call holds it.
    pub(crate) fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let mut fresh;
        let mut held = match self.workspace.try_lock() {
            Ok(guard) => Some(guard),
            // A panic mid-call left it: every call starts by resetting it.
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        let ws = match held.as_deref_mut() {
            Some(ws) => ws,
            None => {
                fresh = Workspace::new();
                &mut fresh
            }
        };
        self.execute(ws, inputs)?;
        Ok(ws.outputs().to_vec())
    }

    /// The constants' tensors, in the graph's order.
    pub(crate) fn constant_tensors(&self) -> &[Tensor] {
        &self.constants
    }

    /// Per value, the last node that reads it.
    pub(crate) fn last_uses(&self) -> &[Option<usize>] {
        &self.last_use
    }
}

#[cfg(test)]
mod tests {
    use crate::graph::Op;
    use crate::ScriptModule;
    use torchlet_tensor::Tensor;

    fn reshaping() -> ScriptModule {
        let f = |xs: &[torchlet_autograd::Variable]| xs[0].reshape(&[-1, 2]).map(|y| vec![y]);
        crate::trace_fn(f, &[], &[Tensor::rand(&[3, 4])]).unwrap()
    }

    #[test]
    fn malformed_targets_and_shapes_are_refused() {
        let s = reshaping();
        for bad in [vec![-2, 4], vec![-1, -1]] {
            let mut g = s.graph().clone();
            g.nodes[0].op = Op::Reshape(bad.clone());
            let err = ScriptModule::from_parts(g, vec![]).unwrap_err().to_string();
            assert!(err.contains("malformed"), "{bad:?}: {err}");
        }
        let mut g = s.graph().clone();
        g.types[1].shape = vec![1 << 33, 1 << 33];
        let err = ScriptModule::from_parts(g, vec![]).unwrap_err().to_string();
        assert!(err.contains("impossible shape"), "{err}");
    }
}
