//! Recording: the graph node an op leaves behind, and [`record`], which
//! every differentiable op calls with its forward result and backward.

use std::sync::{Arc, Mutex};

use torchlet_tensor::Tensor;

use crate::error::Result;
use crate::mode::is_grad_enabled;
use crate::sparse_grad::Gradient;
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

/// A backward formula that may give some inputs a sparse gradient
/// (see [`record_with_gradients`]).
pub type GradientFn = Box<dyn Fn(&Ctx<'_>) -> Result<Vec<Option<Gradient>>> + Send + Sync>;

/// The two kinds of backward formula a node may hold.
pub(crate) enum Backward {
    /// Dense gradients only (every op but a few).
    Dense(BackwardFn),
    /// Dense or sparse gradients.
    Mixed(GradientFn),
}

impl Backward {
    /// Runs the formula, every gradient as a [`Gradient`].
    pub(crate) fn call(&self, ctx: &Ctx<'_>) -> Result<Vec<Option<Gradient>>> {
        match self {
            Backward::Dense(f) => Ok(f(ctx)?
                .into_iter()
                .map(|g| g.map(Gradient::Dense))
                .collect()),
            Backward::Mixed(f) => f(ctx),
        }
    }
}

/// What a node keeps until the graph is freed.
pub(crate) struct NodeState {
    pub inputs: Vec<Variable>,
    pub output: Tensor,
    pub backward: Backward,
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
    record_node(op, output, inputs, || Backward::Dense(Box::new(backward)))
}

/// [`record`] for an op whose backward may give an input a sparse
/// gradient ([`Gradient::Sparse`]), like `embedding(sparse = true)`.
/// The engine keeps a sparse gradient sparse when it reaches a leaf and
/// densifies it for any other node's backward.
pub fn record_with_gradients(
    op: &'static str,
    output: Tensor,
    inputs: &[&Variable],
    backward: impl Fn(&Ctx<'_>) -> Result<Vec<Option<Gradient>>> + Send + Sync + 'static,
) -> Variable {
    record_node(op, output, inputs, || Backward::Mixed(Box::new(backward)))
}

fn record_node(
    op: &'static str,
    output: Tensor,
    inputs: &[&Variable],
    backward: impl FnOnce() -> Backward,
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
            backward: backward(),
        })),
    });
    Variable::from_node(output, node)
}
