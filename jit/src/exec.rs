//! The executor: runs a script's nodes in order, each value dropped after
//! its last reader, with the buffers of dead values reused by later ones
//! and kept in a [`Workspace`] between calls, so that a call after the
//! first at the same shapes allocates nothing (for the ops that run on
//! tensors directly: convolutions, Linear layers, pooling, fused
//! elementwise programs and their epilogues, views; see `ops.rs`).
//!
//! Reuse is liveness-based at run time: a value's buffer goes back to
//! the workspace's [`BufferPool`] at its last read if nothing else holds
//! it (a view of it still alive, or an output the caller kept, does), and
//! the next op asking for a buffer of that size takes it.
//! [`ScriptModule::memory_plan`] reports what the same reuse costs at the
//! traced shapes.

use torchlet_tensor::{buffers, BufferPool, Tensor};

use crate::{ops, JitError, Result, ScriptModule};

/// What the executor keeps between calls: freed buffers, and the lists
/// it fills per call (their capacity).
///
/// [`ScriptModule::forward`] keeps one inside the script; give one to
/// [`ScriptModule::forward_in`] to run without allocating, or to keep a
/// workspace per thread.
///
/// ```
/// use torchlet_jit::Workspace;
/// use torchlet_nn::{Linear, Module, ReLU, Sequential};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let model = Sequential::new().append(Linear::new(4, 8)?).append(ReLU).append(Linear::new(8, 2)?);
/// let script = torchlet_jit::trace(&model, &[Tensor::rand(&[3, 4])])?.optimize()?;
/// let mut ws = Workspace::new();
/// let x = Tensor::rand(&[3, 4]);
/// let first = script.forward_in(&mut ws, &[x.clone()])?[0].to_vec::<f32>()?;
/// // The second call reuses the first one's buffers.
/// let again = script.forward_in(&mut ws, &[x])?;
/// assert_eq!(again[0].to_vec::<f32>()?, first);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Workspace {
    pool: BufferPool,
    values: Vec<Option<Tensor>>,
    args: Vec<Option<Tensor>>,
    made: Vec<Tensor>,
    outputs: Vec<Tensor>,
}

impl Workspace {
    /// An empty workspace (it fills on the first call).
    pub fn new() -> Workspace {
        Workspace::default()
    }

    /// The last call's outputs.
    pub(crate) fn outputs(&self) -> &[Tensor] {
        &self.outputs
    }

    /// The bytes of the free buffers it holds between calls (the last
    /// call's outputs not included).
    pub fn pooled_bytes(&self) -> usize {
        self.pool.bytes()
    }
}

impl ScriptModule {
    /// [`forward`](ScriptModule::forward) with the executor's buffers
    /// kept in `ws`: the outputs are borrowed from it until the next call.
    /// Clone an output (no copy) to keep it longer; its buffer then stays
    /// yours, and the next call makes a new one.
    ///
    /// From the second call with the same input shapes on, a call on a
    /// script made of the directly-run ops (convolutions, Linear layers,
    /// pooling, fused programs, epilogues, views; what the optimised
    /// LeNet, MLP and ResNet scripts hold) allocates no memory.
    pub fn forward_in<'w>(&self, ws: &'w mut Workspace, inputs: &[Tensor]) -> Result<&'w [Tensor]> {
        self.check_inputs(inputs)?;
        self.execute(ws, inputs)?;
        Ok(&ws.outputs)
    }

    /// Runs the nodes in order into `ws.outputs` (inputs not checked).
    pub(crate) fn execute(&self, ws: &mut Workspace, inputs: &[Tensor]) -> Result<()> {
        let Workspace {
            pool,
            values,
            args,
            made,
            outputs,
        } = ws;
        for t in outputs.drain(..) {
            pool.recycle(t);
        }
        let g = self.graph();
        let first = g.first_constant();
        let constants = self.constant_tensors();
        values.clear();
        values.resize(g.num_values, None);
        for (slot, x) in values.iter_mut().zip(inputs) {
            *slot = Some(x.clone());
        }
        for (slot, c) in values[first..].iter_mut().zip(constants) {
            *slot = Some(c.clone());
        }
        let last_use = self.last_uses();
        let owned = first + constants.len();
        let result = pool.scope(|| -> Result<()> {
            for (i, node) in g.nodes.iter().enumerate() {
                args.clear();
                args.extend(
                    node.inputs
                        .iter()
                        .map(|v| v.and_then(|v| values[v].clone())),
                );
                made.clear();
                ops::run_into(&node.op, args, made).map_err(|source| JitError::Op {
                    op: node.op.name().to_string(),
                    node: i,
                    source,
                })?;
                args.clear();
                if made.len() != node.outputs.len() {
                    return Err(JitError::Input(format!(
                        "node {i} ({}) made {} outputs, the graph expects {}",
                        node.op.name(),
                        made.len(),
                        node.outputs.len()
                    )));
                }
                for (&v, t) in node.outputs.iter().zip(made.drain(..)) {
                    values[v] = Some(t);
                }
                for &v in node.inputs.iter().flatten() {
                    if last_use[v] == Some(i) && v >= owned {
                        if let Some(t) = values[v].take() {
                            buffers::recycle(t);
                        }
                    }
                }
            }
            Ok(())
        });
        args.clear();
        made.clear();
        if let Err(e) = result {
            values.clear();
            return Err(e);
        }
        for &v in &g.outputs {
            match &values[v] {
                Some(t) => outputs.push(t.clone()),
                None => {
                    return Err(JitError::Input(format!(
                        "output value {v} was not computed"
                    )))
                }
            }
        }
        // Values no node read (in an unoptimised graph) give their
        // buffers back too; the outputs' stay with `outputs`.
        for t in values.drain(..).flatten() {
            pool.recycle(t);
        }
        pool.reserve(outputs.len());
        Ok(())
    }
}
