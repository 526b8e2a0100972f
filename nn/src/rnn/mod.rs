//! Recurrent layers: [`RNN`], [`LSTM`] and [`GRU`].
//!
//! All three run over `[T, N, input_size]` (or `[N, T, input_size]` with
//! `batch_first`, or an unbatched `[T, input_size]`), with PyTorch's
//! parameter names (`weight_ih_l0`, `bias_hh_l1_reverse`, ...), gate
//! orders and initialisation `U(-1/√hidden_size, 1/√hidden_size)`. The
//! input projection `x W_ihᵀ + b_ih` of a layer and direction is computed
//! for all time steps with one matmul; the recurrence then runs step by
//! step with differentiable ops, so gradients flow to every parameter, the
//! input and the initial states.

mod record;

pub use record::{RnnCell, RnnRecord};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use torchlet_autograd::{functional, trace, Variable};
use torchlet_tensor::{with_global_generator, Tensor};

use crate::error::{NnError, Result};
use crate::init::{default_bound, uniform_parameter};
use crate::module::Module;
use crate::packed::{length_values, Lengths};

/// Options of a recurrent layer beyond its sizes, with PyTorch's defaults
/// (one layer, biases, time-major, no dropout, one direction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RnnOptions {
    /// Number of stacked layers.
    pub num_layers: usize,
    /// Whether the layers have the biases `b_ih` and `b_hh`.
    pub bias: bool,
    /// Whether input and output are `[N, T, *]` instead of `[T, N, *]`
    /// (the final states are `[D * num_layers, N, H]` either way).
    pub batch_first: bool,
    /// Dropout probability on the outputs of every layer but the last, in
    /// training mode only.
    pub dropout: f64,
    /// Whether each layer also runs backwards in time (outputs are then
    /// `2 * hidden_size` wide: forward then backward).
    pub bidirectional: bool,
}

impl Default for RnnOptions {
    fn default() -> Self {
        RnnOptions {
            num_layers: 1,
            bias: true,
            batch_first: false,
            dropout: 0.0,
            bidirectional: false,
        }
    }
}

impl RnnOptions {
    /// Sets the number of stacked layers.
    pub fn num_layers(mut self, n: usize) -> Self {
        self.num_layers = n;
        self
    }

    /// Sets whether the layers have biases.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// Sets whether input and output are batch-first.
    pub fn batch_first(mut self, batch_first: bool) -> Self {
        self.batch_first = batch_first;
        self
    }

    /// Sets the dropout probability between layers.
    pub fn dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }

    /// Sets whether the layers are bidirectional.
    pub fn bidirectional(mut self, bidirectional: bool) -> Self {
        self.bidirectional = bidirectional;
        self
    }
}

/// The activation of an Elman [`RNN`] (`nonlinearity='tanh'` or `'relu'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Nonlinearity {
    /// `h' = tanh(...)` (PyTorch's default).
    #[default]
    Tanh,
    /// `h' = relu(...)`.
    Relu,
}

/// The weights of one layer and direction.
struct Weights {
    w_ih: Variable,
    w_hh: Variable,
    b_ih: Option<Variable>,
    b_hh: Option<Variable>,
}

/// Whether a gradient must flow through a layer direction run.
fn needs_grad(w: &Weights, x: &Variable, h: &Variable, c: Option<&Variable>) -> bool {
    torchlet_autograd::is_grad_enabled()
        && [
            Some(&w.w_ih),
            Some(&w.w_hh),
            w.b_ih.as_ref(),
            w.b_hh.as_ref(),
            Some(x),
            Some(h),
            c,
        ]
        .into_iter()
        .flatten()
        .any(Variable::requires_grad)
}

/// What the three public layers share.
struct RnnCore {
    module: &'static str,
    cell: RnnCell,
    input_size: usize,
    hidden_size: usize,
    options: RnnOptions,
    /// `[layer * D + direction]`.
    weights: Vec<Weights>,
    /// PyTorch's names, in PyTorch's order.
    names: Vec<(String, Variable)>,
    training: AtomicBool,
}

impl RnnCore {
    fn new(
        module: &'static str,
        cell: RnnCell,
        input_size: usize,
        hidden_size: usize,
        options: RnnOptions,
    ) -> Result<RnnCore> {
        let bad = |m: String| Err(NnError::config(module, m));
        if input_size == 0 || hidden_size == 0 || options.num_layers == 0 {
            return bad(format!(
                "input_size, hidden_size and num_layers must be positive, got {input_size}, {hidden_size} and {}",
                options.num_layers
            ));
        }
        if !(0.0..=1.0).contains(&options.dropout) {
            return bad(format!(
                "dropout should be a number in range [0, 1], got {}",
                options.dropout
            ));
        }
        let dirs = if options.bidirectional { 2 } else { 1 };
        let rows = cell.gates() * hidden_size;
        let bound = default_bound(hidden_size);
        let mut weights = Vec::new();
        let mut names = Vec::new();
        for layer in 0..options.num_layers {
            let in_size = if layer == 0 {
                input_size
            } else {
                hidden_size * dirs
            };
            for dir in 0..dirs {
                let suffix = if dir == 1 { "_reverse" } else { "" };
                let w_ih = uniform_parameter(&[rows, in_size], bound);
                let w_hh = uniform_parameter(&[rows, hidden_size], bound);
                names.push((format!("weight_ih_l{layer}{suffix}"), w_ih.clone()));
                names.push((format!("weight_hh_l{layer}{suffix}"), w_hh.clone()));
                let (b_ih, b_hh) = if options.bias {
                    let b_ih = uniform_parameter(&[rows], bound);
                    let b_hh = uniform_parameter(&[rows], bound);
                    names.push((format!("bias_ih_l{layer}{suffix}"), b_ih.clone()));
                    names.push((format!("bias_hh_l{layer}{suffix}"), b_hh.clone()));
                    (Some(b_ih), Some(b_hh))
                } else {
                    (None, None)
                };
                weights.push(Weights {
                    w_ih,
                    w_hh,
                    b_ih,
                    b_hh,
                });
            }
        }
        Ok(RnnCore {
            module,
            cell,
            input_size,
            hidden_size,
            options,
            weights,
            names,
            training: AtomicBool::new(true),
        })
    }

    fn dirs(&self) -> usize {
        if self.options.bidirectional {
            2
        } else {
            1
        }
    }

    /// Checks `x` and returns it as `[T, N, input_size]` with whether it
    /// was unbatched.
    fn prepare_input(&self, x: &Variable) -> Result<(Variable, bool)> {
        let shape = x.shape();
        if (shape.len() != 2 && shape.len() != 3) || shape.last() != Some(&self.input_size) {
            return Err(NnError::input(
                self.module,
                format!(
                    "expected a 3-d input (or a 2-d unbatched one) whose last dimension is input_size = {}, got shape {shape:?}",
                    self.input_size
                ),
            ));
        }
        if shape.len() == 2 {
            Ok((x.unsqueeze(1)?, true))
        } else if self.options.batch_first {
            Ok((x.transpose(0, 1)?, false))
        } else {
            Ok((x.clone(), false))
        }
    }

    /// Checks an initial state against `[D * num_layers, N, H]` (or
    /// `[D * num_layers, H]` unbatched) and returns the 3-d form.
    fn prepare_state(
        &self,
        what: &str,
        state: Option<&Variable>,
        batch: usize,
        unbatched: bool,
        like: &Variable,
    ) -> Result<Variable> {
        let layers = self.dirs() * self.options.num_layers;
        let want: Vec<usize> = if unbatched {
            vec![layers, self.hidden_size]
        } else {
            vec![layers, batch, self.hidden_size]
        };
        match state {
            None => Ok(Variable::constant(Tensor::zeros_dtype(
                &[layers, batch, self.hidden_size],
                like.dtype(),
            ))),
            Some(s) if s.shape() == want => {
                if unbatched {
                    Ok(s.unsqueeze(1)?)
                } else {
                    Ok(s.clone())
                }
            }
            Some(s) => Err(NnError::input(
                self.module,
                format!("expected {what} of shape {want:?}, got {:?}", s.shape()),
            )),
        }
    }

    /// One layer and direction over the whole sequence `x` `[T, N, in]`:
    /// the outputs `[T, N, H]` and the final `(h, c)`. With `lengths`,
    /// each sequence stops at its length (see [`Lengths`]).
    fn run_direction(
        &self,
        w: &Weights,
        x: &Variable,
        reverse: bool,
        h: Variable,
        c: Option<Variable>,
        lengths: Option<&Lengths>,
    ) -> Result<(Variable, Variable, Option<Variable>)> {
        if let Some(lengths) = lengths {
            return self.run_direction_masked(w, x, reverse, h, c, lengths);
        }
        if self.cell == RnnCell::Lstm {
            // One fused op for the whole sequence (see
            // `torchlet_autograd::functional::lstm_sequence`).
            let c0 = c.expect("an LSTM carries a cell state");
            let weights = functional::LstmWeights {
                w_ih: &w.w_ih,
                w_hh: &w.w_hh,
                b_ih: w.b_ih.as_ref(),
                b_hh: w.b_hh.as_ref(),
            };
            let (out, h_n, c_n) = functional::lstm_sequence(x, &h, &c0, weights, reverse)?;
            return Ok((out, h_n, Some(c_n)));
        }
        let steps = x.shape()[0];
        let (mut h, mut c) = (h, c);
        let mut outs = Vec::with_capacity(steps);
        for k in 0..steps {
            let t = if reverse { steps - 1 - k } else { k };
            // Project each step's input separately: slicing one big
            // precomputed [T, N, gates*H] projection would make every
            // step's backward pad a gradient of that full size (O(T²)
            // traffic); the input [T, N, in] is much smaller.
            (h, c) = self.step(w, &x.select(0, t as i64)?, &h, c.as_ref())?;
            outs.push(h.clone());
        }
        if reverse {
            outs.reverse();
        }
        Ok((Variable::stack(&outs, 0)?, h, c))
    }

    /// [`RnnCore::run_direction`] for sequences of different lengths:
    /// step `t` updates only the rows with `t < length` (the others keep
    /// their state and output zeros), and the reverse direction runs over
    /// each sequence reversed within its length, so padding never reaches
    /// a state: PyTorch's `pack_padded_sequence` semantics.
    fn run_direction_masked(
        &self,
        w: &Weights,
        x: &Variable,
        reverse: bool,
        mut h: Variable,
        mut c: Option<Variable>,
        lengths: &Lengths,
    ) -> Result<(Variable, Variable, Option<Variable>)> {
        let x = if reverse {
            lengths.reverse(x)?
        } else {
            x.clone()
        };
        if self.cell == RnnCell::Lstm && !needs_grad(w, &x, &h, c.as_ref()) {
            // Inference: the fused kernel, each row stopping at its length.
            let c0 = c.expect("an LSTM carries a cell state").data();
            let data = |v: Option<&Variable>| v.map(Variable::data);
            let (out, h_n, c_n) = torchlet_tensor::functional::lstm_sequence_padded(
                &x.data(),
                &h.data(),
                &c0,
                &w.w_ih.data(),
                &w.w_hh.data(),
                data(w.b_ih.as_ref()).as_ref(),
                data(w.b_hh.as_ref()).as_ref(),
                lengths.values(),
            )?;
            let out = Variable::constant(out);
            let out = if reverse { lengths.reverse(&out)? } else { out };
            return Ok((out, Variable::constant(h_n), Some(Variable::constant(c_n))));
        }
        let steps = x.shape()[0];
        let mut outs = Vec::with_capacity(steps);
        let zeros = Variable::constant(Tensor::zeros_dtype(&h.shape(), h.dtype()));
        for t in 0..steps {
            let active = lengths.active(t)?;
            let (h_new, c_new) = self.step(w, &x.select(0, t as i64)?, &h, c.as_ref())?;
            h = Variable::where_cond(&active, &h_new, &h)?;
            c = match (c_new, c) {
                (Some(c_new), Some(c_old)) => Some(Variable::where_cond(&active, &c_new, &c_old)?),
                _ => None,
            };
            outs.push(Variable::where_cond(&active, &h_new, &zeros)?);
        }
        let out = Variable::stack(&outs, 0)?;
        let out = if reverse { lengths.reverse(&out)? } else { out };
        Ok((out, h, c))
    }

    /// One time step of the cell from `(h, c)`: the new `(h, c)`.
    fn step(
        &self,
        w: &Weights,
        x: &Variable,
        h: &Variable,
        c: Option<&Variable>,
    ) -> Result<(Variable, Option<Variable>)> {
        let (b_ih, b_hh) = (w.b_ih.as_ref(), w.b_hh.as_ref());
        Ok(match self.cell {
            RnnCell::Tanh => (
                functional::rnn_tanh_cell(x, h, &w.w_ih, &w.w_hh, b_ih, b_hh)?,
                None,
            ),
            RnnCell::Relu => {
                let gi = functional::linear(x, &w.w_ih, b_ih)?;
                (gi.add(&functional::linear(h, &w.w_hh, b_hh)?)?.relu(), None)
            }
            RnnCell::Gru => (
                functional::gru_cell(x, h, &w.w_ih, &w.w_hh, b_ih, b_hh)?,
                None,
            ),
            RnnCell::Lstm => {
                let c = c.expect("an LSTM carries a cell state");
                let (h, c) = functional::lstm_cell(x, h, c, &w.w_ih, &w.w_hh, b_ih, b_hh)?;
                (h, Some(c))
            }
        })
    }

    /// The whole stack: output (in the input's layout) and the final
    /// `h_n` (and `c_n` for an LSTM), `[D * num_layers, N, H]`; with
    /// `lengths`, each sequence of the padded batch stops at its length.
    fn run(
        &self,
        x: &Variable,
        h0: Option<&Variable>,
        c0: Option<&Variable>,
        lengths: Option<&[usize]>,
    ) -> Result<(Variable, Variable, Option<Variable>)> {
        // Traced as one op (exporters write one ONNX RNN/LSTM/GRU node).
        trace::traced(
            || self.trace_kind(x, h0, c0, lengths.map(|_| None)),
            || self.run_layers(x, h0, c0, lengths),
        )
    }

    /// [`RnnCore::run`] with the lengths as an int64 `[N]` variable, which
    /// the trace records as an input (so exports compute them).
    fn run_packed(
        &self,
        x: &Variable,
        h0: Option<&Variable>,
        c0: Option<&Variable>,
        lengths: &Variable,
    ) -> Result<(Variable, Variable, Option<Variable>)> {
        let values = length_values(self.module, lengths)?;
        trace::traced(
            || self.trace_kind(x, h0, c0, Some(Some(lengths))),
            || self.run_layers(x, h0, c0, Some(&values)),
        )
    }

    /// How [`RnnCore::run`] appears in a trace. `lengths`: `None` without,
    /// `Some(None)` given as numbers, `Some(Some(v))` given as a variable.
    fn trace_kind(
        &self,
        x: &Variable,
        h0: Option<&Variable>,
        c0: Option<&Variable>,
        lengths: Option<Option<&Variable>>,
    ) -> (Arc<dyn trace::OpRecord>, Vec<trace::TraceArg>) {
        use trace::{TraceArg, Untraceable};
        if matches!(lengths, Some(None)) {
            // Lengths given as plain numbers would be frozen into a graph.
            return (
                Arc::new(Untraceable(
                    "RNN with lengths given as a slice (use forward_packed)",
                )),
                vec![TraceArg::var(x)],
            );
        }
        let mut args = vec![TraceArg::var(x), TraceArg::opt(h0), TraceArg::opt(c0)];
        for w in &self.weights {
            args.extend([TraceArg::var(&w.w_ih), TraceArg::var(&w.w_hh)]);
            args.extend([
                TraceArg::opt(w.b_ih.as_ref()),
                TraceArg::opt(w.b_hh.as_ref()),
            ]);
        }
        let o = self.options;
        let record = RnnRecord {
            cell: self.cell,
            hidden_size: self.hidden_size,
            num_layers: o.num_layers,
            bidirectional: o.bidirectional,
            batch_first: o.batch_first,
            bias: o.bias,
            with_lengths: lengths.is_some(),
        };
        args.extend(lengths.flatten().map(TraceArg::var));
        (Arc::new(record), args)
    }

    fn run_layers(
        &self,
        x: &Variable,
        h0: Option<&Variable>,
        c0: Option<&Variable>,
        lengths: Option<&[usize]>,
    ) -> Result<(Variable, Variable, Option<Variable>)> {
        let (mut layer_in, unbatched) = self.prepare_input(x)?;
        let batch = layer_in.shape()[1];
        let lengths = match lengths {
            None => None,
            Some(_) if unbatched => {
                return Err(NnError::input(
                    self.module,
                    "lengths need a batched 3-d input",
                ))
            }
            Some(l) => Some(Lengths::new(self.module, l, layer_in.shape()[0], batch)?),
        };
        let h0 = self.prepare_state("h0", h0, batch, unbatched, x)?;
        let c0 = if self.cell == RnnCell::Lstm {
            Some(self.prepare_state("c0", c0, batch, unbatched, x)?)
        } else {
            None
        };
        let dirs = self.dirs();
        let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
        for layer in 0..self.options.num_layers {
            let mut outs = Vec::with_capacity(dirs);
            for dir in 0..dirs {
                let idx = layer * dirs + dir;
                let h = h0.select(0, idx as i64)?;
                let c = c0.as_ref().map(|c0| c0.select(0, idx as i64)).transpose()?;
                let (out, h, c) = self.run_direction(
                    &self.weights[idx],
                    &layer_in,
                    dir == 1,
                    h,
                    c,
                    lengths.as_ref(),
                )?;
                outs.push(out);
                h_n.push(h);
                c_n.extend(c);
            }
            layer_in = if dirs == 1 {
                outs.pop().expect("one direction")
            } else {
                Variable::cat(&outs, -1)?
            };
            let p = self.options.dropout;
            if layer + 1 < self.options.num_layers && p > 0.0 && self.is_training() {
                let shape = layer_in.shape();
                let dtype = layer_in.dtype();
                let mask = if p == 1.0 {
                    Tensor::zeros_dtype(&shape, dtype)
                } else {
                    with_global_generator(|g| Tensor::bernoulli_with(&shape, 1.0 - p, dtype, g))
                        .mul_scalar(1.0 / (1.0 - p))
                };
                layer_in = layer_in.mul(&Variable::constant(mask))?;
            }
        }
        let mut h_n = Variable::stack(&h_n, 0)?;
        let mut c_n = if c_n.is_empty() {
            None
        } else {
            Some(Variable::stack(&c_n, 0)?)
        };
        let output = if unbatched {
            h_n = h_n.squeeze(1)?;
            c_n = c_n.map(|c| c.squeeze(1)).transpose()?;
            layer_in.squeeze(1)?
        } else if self.options.batch_first {
            layer_in.transpose(0, 1)?
        } else {
            layer_in
        };
        Ok((output, h_n, c_n))
    }

    fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        self.names
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect()
    }
}

macro_rules! rnn_common {
    ($t:ident) => {
        impl $t {
            /// The number of input features.
            pub fn input_size(&self) -> usize {
                self.core.input_size
            }

            /// The number of hidden features per direction.
            pub fn hidden_size(&self) -> usize {
                self.core.hidden_size
            }

            /// Layers, biases, layout, dropout and directions.
            pub fn options(&self) -> RnnOptions {
                self.core.options
            }
        }
    };
}

/// `forward_with_state`, `forward_with_lengths` and `forward_packed` of
/// the layers that carry only a hidden state (RNN and GRU; LSTM's take and
/// return the cell state too).
macro_rules! hidden_state_forwards {
    ($t:ident) => {
        impl $t {
            /// Runs over `x` from `h0` (`[D * num_layers, N, H]`, zeros if
            /// `None`) and returns `(output, h_n)`: output `[T, N, D * H]`
            /// (`[N, T, D * H]` batch-first) and `h_n` `[D * num_layers, N,
            /// H]`. An unbatched `[T, in]` input takes and gives states
            /// without the `N` dim.
            pub fn forward_with_state(
                &self,
                x: &Variable,
                h0: Option<&Variable>,
            ) -> Result<(Variable, Variable)> {
                let (out, h, _) = self.core.run(x, h0, None, None)?;
                Ok((out, h))
            }

            #[doc = concat!("[`", stringify!($t), "::forward_with_state`] on a padded batch whose")]
            /// sequence `n` has `lengths[n]` real steps (1 to `T`, any
            /// order): PyTorch's `pack_padded_sequence(x, lengths,
            /// enforce_sorted=False)`, the layer, then `pad_packed_sequence`.
            /// Outputs at padded steps are zero, and `h_n` holds each
            /// sequence's state at its own end, so padding never leaks into
            /// it.
            pub fn forward_with_lengths(
                &self,
                x: &Variable,
                lengths: &[usize],
                h0: Option<&Variable>,
            ) -> Result<(Variable, Variable)> {
                let (out, h, _) = self.core.run(x, h0, None, Some(lengths))?;
                Ok((out, h))
            }

            #[doc = concat!("[`", stringify!($t), "::forward_with_lengths`] with the lengths as an")]
            /// int64 `[N]` variable (e.g. from
            /// [`lengths_from_padding`](crate::lengths_from_padding)): the
            /// form an ONNX export can follow, computing the lengths in the
            /// graph.
            pub fn forward_packed(
                &self,
                x: &Variable,
                lengths: &Variable,
                h0: Option<&Variable>,
            ) -> Result<(Variable, Variable)> {
                let (out, h, _) = self.core.run_packed(x, h0, None, lengths)?;
                Ok((out, h))
            }
        }
    };
}

macro_rules! rnn_module_common {
    () => {
        fn local_parameters(&self) -> Vec<(&str, Variable)> {
            self.core.local_parameters()
        }

        fn set_local_training(&self, training: bool) {
            self.core.training.store(training, Ordering::Relaxed);
        }

        fn is_training(&self) -> bool {
            self.core.is_training()
        }
    };
}

/// An Elman RNN (`torch.nn.RNN`): `h_t = act(x_t W_ihᵀ + b_ih + h_{t-1}
/// W_hhᵀ + b_hh)` with `act` tanh or relu; `weight_ih_l{k}` is
/// `[H, in]`, `weight_hh_l{k}` `[H, H]`.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Module, Result, RnnOptions, RNN};
/// use torchlet_tensor::Tensor;
///
/// # fn main() -> Result<()> {
/// let rnn = RNN::with_options(3, 5, Default::default(), RnnOptions::default().num_layers(2))?;
/// let (out, h_n) = rnn.forward_with_state(&Variable::constant(Tensor::rand(&[7, 2, 3])), None)?;
/// assert_eq!(out.shape(), [7, 2, 5]);
/// assert_eq!(h_n.shape(), [2, 2, 5]);
/// # Ok(())
/// # }
/// ```
#[allow(clippy::upper_case_acronyms)]
pub struct RNN {
    core: RnnCore,
    nonlinearity: Nonlinearity,
}

impl RNN {
    /// A one-layer tanh RNN with the default options.
    pub fn new(input_size: usize, hidden_size: usize) -> Result<RNN> {
        RNN::with_options(
            input_size,
            hidden_size,
            Nonlinearity::Tanh,
            RnnOptions::default(),
        )
    }

    /// An RNN with the given activation and options.
    pub fn with_options(
        input_size: usize,
        hidden_size: usize,
        nonlinearity: Nonlinearity,
        options: RnnOptions,
    ) -> Result<RNN> {
        let cell = match nonlinearity {
            Nonlinearity::Tanh => RnnCell::Tanh,
            Nonlinearity::Relu => RnnCell::Relu,
        };
        Ok(RNN {
            core: RnnCore::new("RNN", cell, input_size, hidden_size, options)?,
            nonlinearity,
        })
    }

    /// The activation.
    pub fn nonlinearity(&self) -> Nonlinearity {
        self.nonlinearity
    }
}

rnn_common!(RNN);
hidden_state_forwards!(RNN);

impl Module for RNN {
    /// The output of [`RNN::forward_with_state`] from zero states.
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(self.forward_with_state(x, None)?.0)
    }

    rnn_module_common!();
}

/// A long short-term memory layer (`torch.nn.LSTM`) with PyTorch's gate
/// order (input, forget, cell, output): `weight_ih_l{k}` is `[4H, in]`,
/// `weight_hh_l{k}` `[4H, H]`.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Result, RnnOptions, LSTM};
/// use torchlet_tensor::Tensor;
///
/// # fn main() -> Result<()> {
/// let lstm = LSTM::with_options(3, 4, RnnOptions::default().batch_first(true).bidirectional(true))?;
/// let x = Variable::constant(Tensor::rand(&[2, 6, 3]));
/// let (out, h_n, c_n) = lstm.forward_with_state(&x, None)?;
/// assert_eq!(out.shape(), [2, 6, 8]);
/// assert_eq!(h_n.shape(), [2, 2, 4]);
/// assert_eq!(c_n.shape(), [2, 2, 4]);
/// # Ok(())
/// # }
/// ```
#[allow(clippy::upper_case_acronyms)]
pub struct LSTM {
    core: RnnCore,
}

impl LSTM {
    /// A one-layer LSTM with the default options.
    pub fn new(input_size: usize, hidden_size: usize) -> Result<LSTM> {
        LSTM::with_options(input_size, hidden_size, RnnOptions::default())
    }

    /// An LSTM with the given options.
    pub fn with_options(
        input_size: usize,
        hidden_size: usize,
        options: RnnOptions,
    ) -> Result<LSTM> {
        Ok(LSTM {
            core: RnnCore::new("LSTM", RnnCell::Lstm, input_size, hidden_size, options)?,
        })
    }

    /// Runs over `x` from `(h0, c0)` (each `[D * num_layers, N, H]`, zeros
    /// if `None`) and returns `(output, h_n, c_n)`: output `[T, N, D * H]`
    /// (`[N, T, D * H]` batch-first), `h_n` and `c_n`
    /// `[D * num_layers, N, H]`. An unbatched `[T, in]` input takes and
    /// gives states without the `N` dim.
    pub fn forward_with_state(
        &self,
        x: &Variable,
        state: Option<(&Variable, &Variable)>,
    ) -> Result<(Variable, Variable, Variable)> {
        let (h0, c0) = state.unzip();
        let (out, h, c) = self.core.run(x, h0, c0, None)?;
        Ok((out, h, c.expect("an LSTM returns a cell state")))
    }

    /// [`LSTM::forward_with_state`] on a padded batch whose sequence `n`
    /// has `lengths[n]` real steps (1 to `T`, any order): PyTorch's
    /// `pack_padded_sequence(x, lengths, enforce_sorted=False)` → LSTM →
    /// `pad_packed_sequence`. Outputs at padded steps are zero, and `h_n`
    /// and `c_n` hold each sequence's states at its own end (the reverse
    /// direction starts at each sequence's last real step).
    ///
    /// ```
    /// use torchlet_autograd::Variable;
    /// use torchlet_nn::{Result, LSTM};
    /// use torchlet_tensor::Tensor;
    ///
    /// # fn main() -> Result<()> {
    /// let lstm = LSTM::new(2, 3)?;
    /// let x = Variable::constant(Tensor::rand(&[4, 2, 2])); // T = 4, N = 2
    /// let (out, h_n, _) = lstm.forward_with_lengths(&x, &[4, 1], None)?;
    /// // The second sequence is one step long: its final state is its
    /// // first output, and its later outputs are zero.
    /// let out = out.data();
    /// assert_eq!(h_n.data().select(1, 1)?.to_vec::<f32>()?, out.select(0, 0)?.select(0, 1)?.to_vec::<f32>()?);
    /// assert_eq!(out.select(0, 3)?.select(0, 1)?.to_vec::<f32>()?, [0.0; 3]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn forward_with_lengths(
        &self,
        x: &Variable,
        lengths: &[usize],
        state: Option<(&Variable, &Variable)>,
    ) -> Result<(Variable, Variable, Variable)> {
        let (h0, c0) = state.unzip();
        let (out, h, c) = self.core.run(x, h0, c0, Some(lengths))?;
        Ok((out, h, c.expect("an LSTM returns a cell state")))
    }

    /// [`LSTM::forward_with_lengths`] with the lengths as an int64 `[N]`
    /// variable (e.g. from [`lengths_from_padding`](crate::lengths_from_padding)):
    /// the form an ONNX export can follow, computing the lengths in the graph.
    pub fn forward_packed(
        &self,
        x: &Variable,
        lengths: &Variable,
        state: Option<(&Variable, &Variable)>,
    ) -> Result<(Variable, Variable, Variable)> {
        let (h0, c0) = state.unzip();
        let (out, h, c) = self.core.run_packed(x, h0, c0, lengths)?;
        Ok((out, h, c.expect("an LSTM returns a cell state")))
    }
}

rnn_common!(LSTM);

impl Module for LSTM {
    /// The output of [`LSTM::forward_with_state`] from zero states.
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(self.forward_with_state(x, None)?.0)
    }

    rnn_module_common!();
}

/// A gated recurrent unit layer (`torch.nn.GRU`) with PyTorch's gate
/// order (reset, update, new): `weight_ih_l{k}` is `[3H, in]`,
/// `weight_hh_l{k}` `[3H, H]`.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Module, Result, GRU};
/// use torchlet_tensor::Tensor;
///
/// # fn main() -> Result<()> {
/// let gru = GRU::new(3, 4)?;
/// let (out, h_n) = gru.forward_with_state(&Variable::constant(Tensor::rand(&[5, 3])), None)?;
/// assert_eq!(out.shape(), [5, 4]); // unbatched
/// assert_eq!(h_n.shape(), [1, 4]);
/// # Ok(())
/// # }
/// ```
#[allow(clippy::upper_case_acronyms)]
pub struct GRU {
    core: RnnCore,
}

impl GRU {
    /// A one-layer GRU with the default options.
    pub fn new(input_size: usize, hidden_size: usize) -> Result<GRU> {
        GRU::with_options(input_size, hidden_size, RnnOptions::default())
    }

    /// A GRU with the given options.
    pub fn with_options(input_size: usize, hidden_size: usize, options: RnnOptions) -> Result<GRU> {
        Ok(GRU {
            core: RnnCore::new("GRU", RnnCell::Gru, input_size, hidden_size, options)?,
        })
    }
}

rnn_common!(GRU);
hidden_state_forwards!(GRU);

impl Module for GRU {
    /// The output of [`GRU::forward_with_state`] from zero states.
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(self.forward_with_state(x, None)?.0)
    }

    rnn_module_common!();
}
