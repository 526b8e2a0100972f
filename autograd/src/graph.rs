//! Recording: the graph node an op leaves behind, and [`record`], which
//! every differentiable op calls with its forward result and backward.

use std::sync::{Arc, Mutex};

use torchlet_tensor::Tensor;

use crate::error::Result;
use crate::mode::is_grad_enabled;
use crate::variable::Variable;

/// What a backward formula sees.
pub struct Ctx<'a> {
    /// The gradient of the loss with respect to the op's output.
    pub grad: &'a Variable,
    /// The op's inputs, in the order the op received them.
    pub inputs: &'a [Variable],
    /// The op's forward output (a plain tensor: formulas that use it are
    /// exact for first-order gradients; for `create_graph` they recompute
    /// from the inputs, see [`Ctx::create_graph`]).
    pub output: &'a Tensor,
    /// Whether the backward pass records a graph (higher-order gradients).
    pub create_graph: bool,
}

impl Ctx<'_> {
    /// Whether input `i` needs a gradient.
    pub fn needs(&self, i: usize) -> bool {
        self.inputs[i].requires_grad()
    }
}

/// A backward formula: gradients for each input (`None` where an input
/// needs none or is not differentiable).
pub type BackwardFn = Box<dyn Fn(&Ctx<'_>) -> Result<Vec<Option<Variable>>> + Send + Sync>;

/// One recorded op.
pub struct Node {
    /// The op's name, for `grad_fn`, errors and anomaly reports.
    pub op: &'static str,
    pub(crate) state: Mutex<Option<NodeState>>,
}

/// What a node keeps until the graph is freed.
pub(crate) struct NodeState {
    pub inputs: Vec<Variable>,
    pub output: Tensor,
    pub backward: BackwardFn,
}

/// Wraps the forward result of `op` into a variable, recording a node when
/// recording is on and some input requires grad; a constant otherwise
/// (that is all `no_grad` costs).
pub fn record(
    op: &'static str,
    output: Tensor,
    inputs: &[&Variable],
    backward: impl Fn(&Ctx<'_>) -> Result<Vec<Option<Variable>>> + Send + Sync + 'static,
) -> Variable {
    crate::trace::note_record(op);
    if !is_grad_enabled() || !inputs.iter().any(|v| v.requires_grad()) {
        return Variable::constant(output);
    }
    let node = Arc::new(Node {
        op,
        state: Mutex::new(Some(NodeState {
            inputs: inputs.iter().map(|v| (*v).clone()).collect(),
            output: output.clone(),
            backward: Box::new(backward),
        })),
    });
    Variable::from_node(output, node)
}
