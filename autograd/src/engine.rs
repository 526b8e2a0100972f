//! The backward pass: walks the recorded graph once in reverse topological
//! order, accumulating each variable's gradient before running its node.

use std::collections::hash_map::Entry;
use std::collections::HashMap as StdHashMap;
use std::hash::{BuildHasherDefault, Hasher};

use torchlet_tensor::Tensor;

use crate::error::{AutogradError, Result};
use crate::graph::Ctx;
use crate::mode::{is_anomaly_enabled, GradModeGuard};
use crate::sparse_grad::Gradient;
use crate::variable::Variable;

/// Maps keyed by variable identity (a pointer): a multiplicative hash is
/// plenty and much cheaper than SipHash on this hot path.
type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<PointerHasher>>;

/// Hashes one `usize` (a pointer) with a Fibonacci multiply.
#[derive(Default)]
struct PointerHasher(u64);

impl Hasher for PointerHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(26);
    }
}

/// Where the engine puts gradients that reach leaves.
enum Sink<'a> {
    /// `backward()`: accumulate into each leaf's `grad`.
    LeafGrads,
    /// `grad()`: return the gradients of these variables, touch no `grad`.
    Capture(&'a [Variable]),
}

/// Runs the backward pass from `roots` (each with its gradient).
fn run(
    roots: &[(Variable, Variable)],
    sink: Sink<'_>,
    retain_graph: bool,
    create_graph: bool,
) -> Result<HashMap<usize, Variable>> {
    let mut maps = Maps::take();
    let Maps { deps, grads } = &mut maps.0;
    // 1. Count, for each variable reachable from the roots, how many uses
    //    will send it a gradient (its dependencies). A variable is seen
    //    once it has an entry.
    let mut stack: Vec<Variable> = Vec::new();
    for (r, _) in roots {
        if let Entry::Vacant(e) = deps.entry(r.key()) {
            e.insert(0);
            stack.push(r.clone());
        }
    }
    while let Some(v) = stack.pop() {
        let Some(node) = &v.inner.node else { continue };
        let state = node.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(state) = state.as_ref() else {
            return Err(AutogradError::graph(
                "backward",
                format!(
                    "trying to backward through the graph a second time (through `{}`); pass retain_graph = true the first time",
                    node.op
                ),
            ));
        };
        for input in state.inputs.iter().filter(|i| i.requires_grad()) {
            match deps.entry(input.key()) {
                Entry::Occupied(mut e) => *e.get_mut() += 1,
                Entry::Vacant(e) => {
                    e.insert(1);
                    stack.push(input.clone());
                }
            }
        }
    }

    // 2. Process variables whose gradient is complete.
    let mut ready: Vec<Variable> = Vec::new();
    for (r, g) in roots {
        accumulate(grads, r.key(), Gradient::Dense(g.clone()))?;
    }
    for (r, _) in roots {
        if deps.get(&r.key()).copied().unwrap_or(0) == 0
            && !ready.iter().any(|v| v.key() == r.key())
        {
            ready.push(r.clone());
        }
    }
    let capture: HashMap<usize, ()> = match &sink {
        Sink::Capture(vs) => vs.iter().map(|v| (v.key(), ())).collect(),
        Sink::LeafGrads => HashMap::default(),
    };
    let mut captured: HashMap<usize, Variable> = HashMap::default();
    let _mode = GradModeGuard::new(create_graph);
    while let Some(v) = ready.pop() {
        let Some(g) = grads.remove(&v.key()) else {
            continue;
        };
        if capture.contains_key(&v.key()) {
            captured.insert(v.key(), g.clone().into_dense()?);
        }
        let Some(node) = &v.inner.node else {
            if matches!(sink, Sink::LeafGrads) && v.requires_grad() {
                v.accumulate_grad(if create_graph { g } else { g.detach() })?;
                v.run_post_accumulate_grad_hooks()?;
            }
            continue;
        };
        // A node's backward consumes a dense gradient.
        let g = g.into_dense()?;
        let mut slot = node.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(state) = slot.as_ref() else {
            return Err(AutogradError::graph(
                "backward",
                format!(
                    "trying to backward through the graph a second time (through `{}`)",
                    node.op
                ),
            ));
        };
        let ctx = Ctx {
            grad: &g,
            inputs: &state.inputs,
            output: &state.output,
            create_graph,
        };
        let input_grads = state.backward.call(&ctx)?;
        let inputs = state.inputs.clone();
        if !retain_graph {
            // Free the saved tensors and the closure now.
            *slot = None;
        }
        drop(slot);
        propagate(node.op, &inputs, input_grads, grads, deps, &mut ready)?;
    }
    Ok(captured)
}

/// Sends each input its gradient; queues inputs whose gradient is complete.
fn propagate(
    op: &'static str,
    inputs: &[Variable],
    input_grads: Vec<Option<Gradient>>,
    grads: &mut HashMap<usize, Gradient>,
    deps: &mut HashMap<usize, usize>,
    ready: &mut Vec<Variable>,
) -> Result<()> {
    for (i, (input, gi)) in inputs.iter().zip(input_grads).enumerate() {
        if !input.requires_grad() {
            continue;
        }
        if let Some(gi) = gi {
            if is_anomaly_enabled() {
                check_finite(op, i, &gi.checked_values())?;
            }
            if !gi.fits(input) {
                return Err(AutogradError::graph(
                    "backward",
                    format!("the backward of `{op}` returned a gradient of shape {:?} for input {i} of shape {:?}", gi.shape(), input.shape()),
                ));
            }
            accumulate(grads, input.key(), gi)?;
        }
        let d = deps.get_mut(&input.key()).expect("every input was counted");
        *d -= 1;
        if *d == 0 {
            ready.push(input.clone());
        }
    }
    Ok(())
}

fn accumulate(grads: &mut HashMap<usize, Gradient>, key: usize, g: Gradient) -> Result<()> {
    match grads.entry(key) {
        Entry::Vacant(e) => {
            e.insert(g);
        }
        Entry::Occupied(e) => {
            let (key, old) = e.remove_entry();
            grads.insert(key, old.accumulate(g)?);
        }
    }
    Ok(())
}

/// The backward pass's maps, kept per thread between passes so that a
/// training step's backward neither allocates nor rehashes them (they
/// showed up at 5% of a small step). Taken out while a pass runs, so a
/// backward inside a backward (a hook's) gets fresh ones.
#[derive(Default)]
struct Maps {
    /// Uses left to send each variable a gradient (see [`run`]).
    deps: HashMap<usize, usize>,
    /// Gradients accumulated so far, by variable.
    grads: HashMap<usize, Gradient>,
}

thread_local! {
    static SPARE_MAPS: std::cell::RefCell<Option<Maps>> = const { std::cell::RefCell::new(None) };
}

impl Maps {
    fn take() -> MapsGuard {
        let maps = SPARE_MAPS
            .try_with(|m| m.borrow_mut().take())
            .ok()
            .flatten()
            .unwrap_or_default();
        MapsGuard(maps)
    }
}

/// Gives the maps back, emptied (capacity kept), when the pass ends.
struct MapsGuard(Maps);

impl Drop for MapsGuard {
    fn drop(&mut self) {
        let mut maps = std::mem::take(&mut self.0);
        // Drop what a failed pass left (gradients hold tensors).
        maps.deps.clear();
        maps.grads.clear();
        // A pass over a huge graph should not pin its memory forever.
        if maps.deps.capacity() > 4096 {
            return;
        }
        let _ = SPARE_MAPS.try_with(|m| *m.borrow_mut() = Some(maps));
    }
}

fn check_finite(op: &'static str, input: usize, g: &Tensor) -> Result<()> {
    if !g.dtype().is_float() {
        return Ok(());
    }
    if g.isnan()
        .logical_not()
        .to_dtype(torchlet_tensor::DType::I64)
        .sum()
        .item::<i64>()?
        != g.numel() as i64
    {
        return Err(AutogradError::Anomaly {
            op,
            input,
            what: "NaN",
        });
    }
    if g.isfinite()
        .to_dtype(torchlet_tensor::DType::I64)
        .sum()
        .item::<i64>()?
        != g.numel() as i64
    {
        return Err(AutogradError::Anomaly {
            op,
            input,
            what: "inf",
        });
    }
    Ok(())
}

impl Variable {
    /// Computes the gradient of this scalar with respect to every leaf that
    /// requires grad, accumulating into their `grad` (`loss.backward()`).
    /// The graph is freed afterwards.
    pub fn backward(&self) -> Result<()> {
        if self.numel() != 1 {
            return Err(AutogradError::graph(
                "backward",
                format!("grad can be implicitly created only for scalar outputs; this one has shape {:?}", self.shape()),
            ));
        }
        self.backward_with(&self.with_data(|t| t.ones_like()))
    }

    /// [`Variable::backward`] from an explicit gradient of this variable
    /// (`y.backward(gradient)`), for non-scalar outputs.
    pub fn backward_with(&self, grad: &Tensor) -> Result<()> {
        self.backward_opts(grad, false, false)
    }

    /// The full form: `retain_graph` keeps the graph for another backward;
    /// `create_graph` records the backward pass itself so the resulting
    /// gradients can be differentiated again.
    pub fn backward_opts(
        &self,
        grad: &Tensor,
        retain_graph: bool,
        create_graph: bool,
    ) -> Result<()> {
        if !self.requires_grad() {
            return Err(AutogradError::graph(
                "backward",
                "element 0 of tensors does not require grad and does not have a grad_fn",
            ));
        }
        if grad.shape() != self.shape().as_slice() {
            return Err(AutogradError::graph(
                "backward",
                format!(
                    "gradient of shape {:?} does not match the output's shape {:?}",
                    grad.shape(),
                    self.shape()
                ),
            ));
        }
        let root = vec![(
            self.clone(),
            Variable::constant(grad.to_dtype(self.dtype())),
        )];
        run(
            &root,
            Sink::LeafGrads,
            retain_graph || create_graph,
            create_graph,
        )?;
        Ok(())
    }
}

/// Gradients of `outputs` with respect to `inputs` (`torch.autograd.grad`),
/// returned instead of accumulated into `.grad`. `grad_outputs` default to
/// ones (outputs must then be scalars). With `create_graph` the gradients
/// carry a graph and can be differentiated again; `retain_graph` defaults
/// to it in PyTorch and is explicit here. An input the outputs do not
/// depend on gets `None`.
///
/// ```
/// use torchlet_autograd::{grad, Variable};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_autograd::AutogradError> {
/// let x = Variable::parameter(Tensor::scalar(2.0f64));
/// let y = x.mul(&x)?.mul(&x)?; // x³
/// let dy = grad(&[&y], &[&x], None, true, true)?[0].clone().unwrap(); // 3x² = 12
/// let d2y = grad(&[&dy], &[&x], None, false, false)?[0].clone().unwrap(); // 6x = 12
/// assert_eq!(dy.item::<f64>()?, 12.0);
/// assert_eq!(d2y.item::<f64>()?, 12.0);
/// # Ok(())
/// # }
/// ```
pub fn grad(
    outputs: &[&Variable],
    inputs: &[&Variable],
    grad_outputs: Option<&[Tensor]>,
    retain_graph: bool,
    create_graph: bool,
) -> Result<Vec<Option<Variable>>> {
    let mut roots = Vec::with_capacity(outputs.len());
    for (k, out) in outputs.iter().enumerate() {
        if !out.requires_grad() {
            return Err(AutogradError::graph(
                "grad",
                format!("output {k} does not require grad"),
            ));
        }
        let g = match grad_outputs {
            Some(gs) => gs
                .get(k)
                .ok_or_else(|| {
                    AutogradError::graph("grad", "one grad_output per output is required")
                })?
                .to_dtype(out.dtype()),
            None => {
                if out.numel() != 1 {
                    return Err(AutogradError::graph(
                        "grad",
                        format!("grad can be implicitly created only for scalar outputs; output {k} has shape {:?}", out.shape()),
                    ));
                }
                out.data().ones_like()
            }
        };
        roots.push(((*out).clone(), Variable::constant(g)));
    }
    for (k, i) in inputs.iter().enumerate() {
        if !i.requires_grad() {
            return Err(AutogradError::graph(
                "grad",
                format!("input {k} does not require grad"),
            ));
        }
    }
    let wanted: Vec<Variable> = inputs.iter().map(|v| (*v).clone()).collect();
    let captured = run(
        &roots,
        Sink::Capture(&wanted),
        retain_graph || create_graph,
        create_graph,
    )?;
    Ok(wanted
        .iter()
        .map(|v| captured.get(&v.key()).cloned())
        .collect())
}

/// Vector-Jacobian products with recorded gradients: the gradients of
/// `inputs` when each root receives its (possibly graph-carrying)
/// gradient, as `grad(create_graph = true)` computes them. Ops whose
/// backward replays a differentiable version of themselves use it.
pub(crate) fn vjp_with_graph(
    roots: &[(Variable, Variable)],
    inputs: &[Variable],
) -> Result<Vec<Option<Variable>>> {
    let captured = run(roots, Sink::Capture(inputs), true, true)?;
    Ok(inputs
        .iter()
        .map(|v| captured.get(&v.key()).cloned())
        .collect())
}
