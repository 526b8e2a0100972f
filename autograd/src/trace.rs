//! Tracing: the ops of one forward pass with their attributes, for
//! exporters (`torch.jit.trace` / the tracer behind `torch.onnx.export`).
//!
//! [`trace`] runs a closure with a thread-local tracer switched on. Every
//! public op on [`Variable`] (and the layer-level composites in `nn`)
//! reports itself through [`traced`]; only the outermost op is kept, so
//! `linear` is one [`OpKind::Linear`], not a transpose, a matmul and an add.
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
//! use torchlet_autograd::trace::{trace, OpKind};
//! use torchlet_autograd::Variable;
//! use torchlet_tensor::Tensor;
//! # fn main() -> Result<(), torchlet_autograd::AutogradError> {
//! let w = Variable::parameter(Tensor::ones(&[3, 2]));
//! let x = Variable::constant(Tensor::ones(&[4, 2]));
//! let (y, t) = trace(|| x.linear(&w, None).map(|y| y.relu()));
//! let kinds: Vec<&OpKind> = t.ops.iter().map(|op| &op.kind).collect();
//! assert_eq!(kinds, [&OpKind::Linear, &OpKind::Relu]);
//! assert_eq!(t.ops[1].outputs[0].id(), y?.id());
//! # Ok(())
//! # }
//! ```

use std::cell::{Cell, RefCell};

use torchlet_tensor::Tensor;

use crate::variable::Variable;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static TRACE: RefCell<Trace> = const { RefCell::new(Trace { ops: Vec::new(), untraced: Vec::new() }) };
}

/// One recorded op: what it is, what it read and what it produced.
#[derive(Debug, Clone)]
pub struct TracedOp {
    /// The op and its attributes.
    pub kind: OpKind,
    /// Its inputs in the op's own order (see each [`OpKind`] variant).
    pub inputs: Vec<TraceArg>,
    /// Its outputs (one for most ops, several for `split` and the RNNs).
    pub outputs: Vec<Variable>,
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

/// A traced op and its attributes. Inputs are listed per variant; "x" is
/// the first input. Dims are as the caller gave them (negative counts from
/// the end).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OpKind {
    /// Elementwise binary op with broadcasting: inputs `[a, b]`.
    Binary(BinaryOp),
    /// `x op value` (or `value op x` when `reversed`): inputs `[x]`.
    Scalar {
        /// The arithmetic.
        op: BinaryOp,
        /// The scalar operand.
        value: f64,
        /// Whether the scalar is the left operand (`rsub`).
        reversed: bool,
    },
    /// `-x`.
    Neg,
    /// `e^x`.
    Exp,
    /// Natural logarithm.
    Log,
    /// `ln(1 + x)`.
    Log1p,
    /// Square root.
    Sqrt,
    /// `1 / sqrt(x)`.
    Rsqrt,
    /// `1 / x`.
    Reciprocal,
    /// Sine.
    Sin,
    /// Cosine.
    Cos,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
    /// `max(x, 0)`.
    Relu,
    /// `x * sigmoid(x)`.
    Silu,
    /// `ln(1 + e^x)`.
    Softplus,
    /// `x * x`.
    Square,
    /// `|x|`.
    Abs,
    /// Error function.
    Erf,
    /// Exact GELU; `tanh` for the tanh approximation.
    Gelu {
        /// Whether the tanh approximation is used.
        tanh: bool,
    },
    /// Leaky ReLU with this negative slope.
    LeakyRelu(f64),
    /// ELU with this alpha.
    Elu(f64),
    /// Clamp to `[min, max]` (either bound optional).
    Clamp {
        /// Lower bound.
        min: Option<f64>,
        /// Upper bound.
        max: Option<f64>,
    },
    /// `torch.matmul`: inputs `[a, b]`.
    MatMul,
    /// `F.linear`: inputs `[x, weight [out, in], bias?]`.
    Linear,
    /// Convolution (1-d or 2-d by the weight's rank): inputs
    /// `[x, weight, bias?]`; per-spatial-dim attributes.
    Conv {
        /// Stride per spatial dim.
        stride: Vec<usize>,
        /// Zero padding per spatial dim (both sides).
        padding: Vec<usize>,
        /// Dilation per spatial dim.
        dilation: Vec<usize>,
        /// Channel groups.
        groups: usize,
    },
    /// Transposed 2-d convolution: inputs `[x, weight, bias?]`.
    ConvTranspose {
        /// Stride per spatial dim.
        stride: Vec<usize>,
        /// Padding per spatial dim.
        padding: Vec<usize>,
        /// Extra size added to one side of the output.
        output_padding: Vec<usize>,
        /// Dilation per spatial dim.
        dilation: Vec<usize>,
        /// Channel groups.
        groups: usize,
    },
    /// 2-d max pooling: inputs `[x]`.
    MaxPool2d {
        /// Window size.
        kernel: [usize; 2],
        /// Step.
        stride: [usize; 2],
        /// Implicit `-inf` padding.
        padding: [usize; 2],
    },
    /// 2-d average pooling, zero padding counted: inputs `[x]`.
    AvgPool2d {
        /// Window size.
        kernel: [usize; 2],
        /// Step.
        stride: [usize; 2],
        /// Zero padding.
        padding: [usize; 2],
    },
    /// Adaptive average pooling to `output_size`: inputs `[x]`.
    AdaptiveAvgPool2d {
        /// Output `[H, W]`.
        output_size: [usize; 2],
    },
    /// Batch norm: inputs `[x, running_mean?, running_var?, weight?, bias?]`.
    BatchNorm {
        /// Whether batch statistics are used (training).
        training: bool,
        /// Added to the variance.
        eps: f64,
    },
    /// Layer norm over the trailing `normalized_shape`: inputs
    /// `[x, weight?, bias?]`.
    LayerNorm {
        /// The normalized trailing shape.
        normalized_shape: Vec<usize>,
        /// Added to the variance.
        eps: f64,
    },
    /// Sum over `dims` (all when `None`).
    Sum {
        /// Reduced dims.
        dims: Option<Vec<i64>>,
        /// Whether reduced dims are kept with size 1.
        keepdim: bool,
    },
    /// Mean over `dims` (all when `None`).
    Mean {
        /// Reduced dims.
        dims: Option<Vec<i64>>,
        /// Whether reduced dims are kept with size 1.
        keepdim: bool,
    },
    /// Maximum over all elements (a 0-d result).
    MaxAll,
    /// Minimum over all elements (a 0-d result).
    MinAll,
    /// Product over one dim.
    Prod {
        /// Reduced dim.
        dim: i64,
        /// Whether it is kept with size 1.
        keepdim: bool,
    },
    /// `log(sum(exp(x)))` over one dim.
    LogSumExp {
        /// Reduced dim.
        dim: i64,
        /// Whether it is kept with size 1.
        keepdim: bool,
    },
    /// Softmax along `dim`.
    Softmax(i64),
    /// Log-softmax along `dim`.
    LogSoftmax(i64),
    /// Reshape to `shape` (one `-1` allowed).
    Reshape(Vec<i64>),
    /// Flatten dims `start..=end`.
    Flatten {
        /// First flattened dim.
        start: i64,
        /// Last flattened dim.
        end: i64,
    },
    /// Permutation of the dims.
    Permute(Vec<i64>),
    /// Swap two dims.
    Transpose(i64, i64),
    /// Remove size-1 dims (the given one, or all).
    Squeeze(Option<i64>),
    /// Insert a size-1 dim.
    Unsqueeze(i64),
    /// Broadcast to `shape` (`-1` keeps a dim).
    Expand(Vec<i64>),
    /// A copy with the same value (`contiguous`): an identity.
    Identity,
    /// `narrow(dim, start, length)`.
    Narrow {
        /// Sliced dim.
        dim: i64,
        /// First index.
        start: i64,
        /// Number of indices.
        length: usize,
    },
    /// `select(dim, index)`: the dim is removed.
    Select {
        /// Indexed dim.
        dim: i64,
        /// Index (negative counts from the end).
        index: i64,
    },
    /// Split along `dim` into parts of these sizes: one output per part.
    Split {
        /// Split dim.
        dim: i64,
        /// Part sizes.
        sizes: Vec<usize>,
    },
    /// Concatenation along `dim`: inputs are the parts.
    Cat(i64),
    /// Stacking along a new `dim`: inputs are the parts.
    Stack(i64),
    /// `index_select(dim, index)`: inputs `[x, index (tensor)]`.
    IndexSelect(i64),
    /// `gather(dim, index)`: inputs `[x, index (tensor)]`.
    Gather(i64),
    /// `where(cond, a, b)`: inputs `[cond (tensor), a, b]`.
    Where,
    /// `masked_fill(mask, value)`: inputs `[x, mask]`.
    MaskedFill(f64),
    /// `F.embedding`: inputs `[indices (tensor), weight]`.
    Embedding,
    /// A recurrent layer (all its layers and directions): inputs
    /// `[x, h0?, c0?]` then, per layer and direction (forward first),
    /// `w_ih, w_hh, b_ih?, b_hh?`; outputs `[output, h_n]` (`c_n` too for
    /// an LSTM). Weights use PyTorch's gate order.
    Rnn {
        /// Which cell.
        cell: RnnCell,
        /// Hidden size.
        hidden_size: usize,
        /// Number of stacked layers.
        num_layers: usize,
        /// Whether each layer runs both directions.
        bidirectional: bool,
        /// Whether inputs are `[N, T, *]` rather than `[T, N, *]`.
        batch_first: bool,
        /// Whether the layers have biases.
        bias: bool,
        /// Whether a last input gives each sequence's length (int64 `[N]`,
        /// an earlier op's output): each sequence is read only up to its
        /// length (`pack_padded_sequence`), the outputs past it are zero.
        with_lengths: bool,
    },
    /// `nn.EmbeddingBag` over 2-d bags: inputs `[indices [B, L] (tensor),
    /// weight [V, D]]`, output `[B, D]`; entries equal to `padding_idx` are
    /// left out, and an empty bag gives zeros.
    EmbeddingBag {
        /// How each bag is reduced.
        mode: BagReduction,
        /// The index left out of the bags.
        padding_idx: Option<i64>,
    },
    /// Each row's length in a right-padded int64 batch `[N, T]`: one past
    /// its last entry that is not `pad`, at least 1. Input `[tokens
    /// (tensor)]`, output int64 `[N]`.
    PaddedLengths {
        /// The padding index.
        pad: i64,
    },
    /// An op that cannot be exported, by name (reported by the exporter).
    Other(&'static str),
}

/// How an [`OpKind::EmbeddingBag`] reduces each bag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BagReduction {
    /// Sum of the bag's rows.
    Sum,
    /// Mean of the bag's rows.
    Mean,
    /// Elementwise max of the bag's rows.
    Max,
}

/// Elementwise binary arithmetic and comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// `a ** b`.
    Pow,
    /// Elementwise maximum.
    Maximum,
    /// Elementwise minimum.
    Minimum,
    /// `a == b` (bool).
    Eq,
    /// `a < b` (bool).
    Lt,
    /// `a > b` (bool).
    Gt,
}

/// The cell of an [`OpKind::Rnn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RnnCell {
    /// Elman RNN with tanh.
    Tanh,
    /// Elman RNN with ReLU.
    Relu,
    /// LSTM (gates i, f, g, o).
    Lstm,
    /// GRU (gates r, z, n).
    Gru,
}

/// What a trace collected.
#[derive(Debug, Default)]
pub struct Trace {
    /// The outermost ops in execution order.
    pub ops: Vec<TracedOp>,
    /// Graph-recording ops that ran outside any traced op (their names):
    /// computations the trace cannot describe.
    pub untraced: Vec<&'static str>,
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
pub fn traced<R: TraceOutput>(
    describe: impl FnOnce() -> (OpKind, Vec<TraceArg>),
    f: impl FnOnce() -> R,
) -> R {
    if !is_tracing() {
        return f();
    }
    traced_slow(describe, f)
}

#[cold]
fn traced_slow<R: TraceOutput>(
    describe: impl FnOnce() -> (OpKind, Vec<TraceArg>),
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
                    kind,
                    inputs,
                    outputs,
                })
            });
        }
    }
    out
}

/// Called by [`record`](crate::record): notes a graph-recording op that
/// runs outside every traced op.
#[inline]
pub(crate) fn note_record(op: &'static str) {
    if is_tracing() && DEPTH.with(Cell::get) == 0 {
        TRACE.with(|t| t.borrow_mut().untraced.push(op));
    }
}
