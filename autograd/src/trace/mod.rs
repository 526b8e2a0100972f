//! Tracing: the ops of one forward pass with their attributes, for
//! exporters (`torch.jit.trace` / the tracer behind `torch.onnx.export`).
//!
//! [`trace`] runs a closure with a thread-local tracer switched on. Every
//! public op on [`Variable`] (and the layer-level composites in `nn`)
//! reports itself through [`traced`] with its record: a stable name plus
//! typed attributes ([`OpRecord`]; autograd's own ops are [`AtenOp`]s).
//! Only the outermost op is kept, so `linear` is one `aten::linear`, not a
//! transpose, a matmul and an add. Consumers map names to what they do
//! with an [`OpTable`] (see [`record`] for the design).
//! Values are identified by [`Variable::id`]; the trace keeps every input
//! and output alive, so ids are not reused while it exists.
//!
//! An op that records a graph node without reporting itself (a custom op
//! built on [`record`](crate::record)) is listed in [`Trace::untraced`], so
//! an exporter can refuse the graph instead of writing a wrong one.
//!
//! When no trace is running, [`traced`] costs one thread-local read.
//!
//! ```
//! use torchlet_autograd::trace::{trace, AtenOp};
//! use torchlet_autograd::Variable;
//! use torchlet_tensor::Tensor;
//! # fn main() -> Result<(), torchlet_autograd::AutogradError> {
//! let w = Variable::parameter(Tensor::ones(&[3, 2]));
//! let x = Variable::constant(Tensor::ones(&[4, 2]));
//! let (y, t) = trace(|| x.linear(&w, None).map(|y| y.relu()));
//! let names: Vec<&str> = t.ops.iter().map(|op| op.name()).collect();
//! assert_eq!(names, ["aten::linear", "aten::relu"]);
//! assert_eq!(t.ops[1].record::<AtenOp>(), Some(&AtenOp::Relu));
//! assert_eq!(t.ops[1].outputs[0].id(), y?.id());
//! # Ok(())
//! # }
//! ```

mod aten;
mod graph;
pub mod record;

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use torchlet_tensor::Tensor;

use crate::variable::Variable;

pub use aten::{AtenOp, BinaryOp, ATEN_OPS};
pub use record::{IntoRecord, OpRecord, OpTable, Untraceable};

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static TRACE: RefCell<Trace> = const { RefCell::new(Trace { ops: Vec::new(), untraced: Vec::new(), reads: Vec::new() }) };
}

/// One recorded op: what it is, what it read and what it produced.
#[derive(Debug, Clone)]
pub struct TracedOp {
    /// The op's record: name and typed attributes.
    pub op: Arc<dyn OpRecord>,
    /// Its inputs in the op's own order (see the record type's docs).
    pub inputs: Vec<TraceArg>,
    /// Its outputs (one for most ops, several for `split` and the RNNs).
    pub outputs: Vec<Variable>,
}

impl TracedOp {
    /// The op's stable name (`aten::linear`).
    pub fn name(&self) -> &'static str {
        self.op.name()
    }

    /// The typed record, when it is a `T`.
    pub fn record<T: OpRecord>(&self) -> Option<&T> {
        let any: &dyn std::any::Any = &*self.op;
        any.downcast_ref::<T>()
    }
}

/// An input of a traced op.
#[derive(Debug, Clone)]
pub enum TraceArg {
    /// A variable (a model input, a parameter, a buffer, an earlier op's
    /// output or a constant).
    Var(Variable),
    /// A plain tensor argument (indices, masks, running statistics): an
    /// exporter matches it to a known value by storage, or embeds it.
    Tensor(Tensor),
    /// An optional input that was not given (a missing bias).
    Absent,
}

impl TraceArg {
    /// `Var` of `v`.
    pub fn var(v: &Variable) -> TraceArg {
        TraceArg::Var(v.clone())
    }

    /// `Var` of `v`, or `Absent`.
    pub fn opt(v: Option<&Variable>) -> TraceArg {
        v.map_or(TraceArg::Absent, TraceArg::var)
    }
}

/// What a trace collected.
#[derive(Debug, Default)]
pub struct Trace {
    /// The outermost ops in execution order.
    pub ops: Vec<TracedOp>,
    /// Graph-recording ops that ran outside any traced op (their names):
    /// computations the trace cannot describe.
    pub untraced: Vec<&'static str>,
    /// Values read out as numbers outside any traced op
    /// ([`Variable::item`], [`Variable::to_vec`]): the method and the
    /// variable's id. What the caller computes from those numbers (a
    /// branch, a size) is invisible to the trace and frozen in its graph.
    pub reads: Vec<(&'static str, usize)>,
}

/// Whether a trace is running on this thread.
#[inline]
pub fn is_tracing() -> bool {
    ACTIVE.with(Cell::get)
}

/// Runs `f` with tracing on and returns its result with the trace. Traces
/// do not nest: an inner `trace` gets its own ops and the outer one
/// resumes afterwards.
pub fn trace<R>(f: impl FnOnce() -> R) -> (R, Trace) {
    struct Restore {
        active: bool,
        depth: usize,
        saved: Option<Trace>,
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.set(self.active));
            DEPTH.with(|d| d.set(self.depth));
            if let Some(saved) = self.saved.take() {
                TRACE.with(|t| *t.borrow_mut() = saved);
            }
        }
    }
    let saved = TRACE.with(|t| std::mem::take(&mut *t.borrow_mut()));
    let _restore = Restore {
        active: ACTIVE.with(|a| a.replace(true)),
        depth: DEPTH.with(|d| d.replace(0)),
        saved: Some(saved),
    };
    let out = f();
    let collected = TRACE.with(|t| std::mem::take(&mut *t.borrow_mut()));
    (out, collected)
}

/// The outputs of an op's result, for [`traced`].
pub trait TraceOutput {
    /// The output variables, or `None` when the op failed.
    fn outputs(&self) -> Option<Vec<Variable>>;
}

impl TraceOutput for Variable {
    fn outputs(&self) -> Option<Vec<Variable>> {
        Some(vec![self.clone()])
    }
}

impl TraceOutput for Vec<Variable> {
    fn outputs(&self) -> Option<Vec<Variable>> {
        Some(self.clone())
    }
}

impl TraceOutput for (Variable, Variable) {
    fn outputs(&self) -> Option<Vec<Variable>> {
        Some(vec![self.0.clone(), self.1.clone()])
    }
}

impl TraceOutput for (Variable, (Variable, Variable)) {
    fn outputs(&self) -> Option<Vec<Variable>> {
        Some(vec![self.0.clone(), self.1 .0.clone(), self.1 .1.clone()])
    }
}

impl TraceOutput for (Variable, Variable, Option<Variable>) {
    fn outputs(&self) -> Option<Vec<Variable>> {
        let mut out = vec![self.0.clone(), self.1.clone()];
        out.extend(self.2.clone());
        Some(out)
    }
}

impl<T: TraceOutput, E> TraceOutput for Result<T, E> {
    fn outputs(&self) -> Option<Vec<Variable>> {
        self.as_ref().ok().and_then(T::outputs)
    }
}

/// Runs the op `f`; while a trace is running and no outer op is being
/// recorded, records it as `describe()` (kind and inputs) with `f`'s
/// outputs. Ops run inside `f` are not recorded. A failed op records
/// nothing.
#[inline]
pub fn traced<R: TraceOutput, K: IntoRecord>(
    describe: impl FnOnce() -> (K, Vec<TraceArg>),
    f: impl FnOnce() -> R,
) -> R {
    if !is_tracing() {
        return f();
    }
    traced_slow(describe, f)
}

#[cold]
fn traced_slow<R: TraceOutput, K: IntoRecord>(
    describe: impl FnOnce() -> (K, Vec<TraceArg>),
    f: impl FnOnce() -> R,
) -> R {
    struct Depth;
    impl Drop for Depth {
        fn drop(&mut self) {
            DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    let outer = DEPTH.with(|d| d.replace(d.get() + 1)) == 0;
    let guard = Depth;
    let out = f();
    drop(guard);
    if outer {
        if let Some(outputs) = out.outputs() {
            let (kind, inputs) = describe();
            TRACE.with(|t| {
                t.borrow_mut().ops.push(TracedOp {
                    op: kind.into_record(),
                    inputs,
                    outputs,
                })
            });
        }
    }
    out
}

/// Called by [`Variable::item`] and [`Variable::to_vec`]: notes a value
/// read out as numbers outside every traced op.
#[inline]
pub(crate) fn note_read(method: &'static str, id: usize) {
    if is_tracing() && DEPTH.with(Cell::get) == 0 {
        TRACE.with(|t| t.borrow_mut().reads.push((method, id)));
    }
}

/// Called by [`record`](crate::record): notes a graph-recording op that
/// runs outside every traced op.
#[inline]
pub(crate) fn note_record(op: &'static str) {
    if is_tracing() && DEPTH.with(Cell::get) == 0 {
        TRACE.with(|t| t.borrow_mut().untraced.push(op));
    }
}
