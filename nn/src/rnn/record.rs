//! The recurrent layers' cell kinds and their trace record (one op per
//! layer stack: `aten::rnn_tanh`, `aten::rnn_relu`, `aten::lstm`,
//! `aten::gru`).

use std::sync::atomic::AtomicBool;

use torchlet_autograd::ir::Attr;
use torchlet_autograd::{trace, Variable};

use super::{RnnCore, RnnOptions, Weights};
use crate::error::{NnError, Result};

/// The cell of a recurrent layer.
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

/// The trace record of a whole recurrent layer (all its layers and
/// directions), traced as one op: `aten::rnn_tanh`, `aten::rnn_relu`,
/// `aten::lstm` or `aten::gru`. Inputs `[x, h0?, c0?]` then, per layer and
/// direction (forward first), `w_ih, w_hh, b_ih?, b_hh?`, then the lengths
/// when `with_lengths`; outputs `[output, h_n]` (`c_n` too for an LSTM).
/// Weights use PyTorch's gate order.
#[derive(Debug, Clone, PartialEq)]
pub struct RnnRecord {
    /// Which cell.
    pub cell: RnnCell,
    /// Hidden size.
    pub hidden_size: usize,
    /// Number of stacked layers.
    pub num_layers: usize,
    /// Whether each layer runs both directions.
    pub bidirectional: bool,
    /// Whether inputs are `[N, T, *]` rather than `[T, N, *]`.
    pub batch_first: bool,
    /// Whether the layers have biases.
    pub bias: bool,
    /// Whether a last input gives each sequence's length (int64 `[N]`, an
    /// earlier op's output): each sequence is read only up to its length
    /// (`pack_padded_sequence`), the outputs past it are zero.
    pub with_lengths: bool,
}

impl trace::OpRecord for RnnRecord {
    fn name(&self) -> &'static str {
        match self.cell {
            RnnCell::Tanh => "aten::rnn_tanh",
            RnnCell::Relu => "aten::rnn_relu",
            RnnCell::Lstm => "aten::lstm",
            RnnCell::Gru => "aten::gru",
        }
    }

    fn attrs(&self) -> Vec<(&'static str, Attr)> {
        let flag = |b: bool| Attr::Int(i64::from(b));
        vec![
            ("hidden_size", Attr::Int(self.hidden_size as i64)),
            ("num_layers", Attr::Int(self.num_layers as i64)),
            ("bidirectional", flag(self.bidirectional)),
            ("batch_first", flag(self.batch_first)),
            ("bias", flag(self.bias)),
            ("with_lengths", flag(self.with_lengths)),
        ]
    }
}

impl RnnCell {
    pub(super) fn gates(self) -> usize {
        match self {
            RnnCell::Tanh | RnnCell::Relu => 1,
            RnnCell::Lstm => 4,
            RnnCell::Gru => 3,
        }
    }
}

impl RnnRecord {
    /// Runs the layer stack this record describes on its traced inputs
    /// (`[x, h0?, c0?, w_ih, w_hh, b_ih?, b_hh?, ..., lengths?]`, absent
    /// optional inputs as `None`) and returns its outputs `[output, h_n]`
    /// (`c_n` too for an LSTM): the same computation, bit for bit, as the
    /// module that recorded it, in eval mode. This is how a saved graph
    /// (the jit's) runs the op without the module.
    pub fn replay(&self, inputs: &[Option<Variable>]) -> Result<Vec<Variable>> {
        let module = self.module_name();
        let err = |m: String| NnError::input(module, m);
        let dirs = if self.bidirectional { 2 } else { 1 };
        let per_layer = if self.bias { 4 } else { 2 };
        let stacks = self.num_layers * dirs;
        let want = 3 + stacks * per_layer + usize::from(self.with_lengths);
        if inputs.len() != want {
            return Err(err(format!(
                "the record takes {want} inputs (x, h0, c0, {per_layer} weights for each of {stacks} layers and directions{}), got {}",
                if self.with_lengths { ", lengths" } else { "" },
                inputs.len()
            )));
        }
        let Some(x) = inputs[0].as_ref() else {
            return Err(err("the input x is missing".into()));
        };
        let rows = self.cell.gates() * self.hidden_size;
        let mut weights = Vec::with_capacity(stacks);
        let mut input_size = 0;
        for (k, w) in inputs[3..3 + stacks * per_layer]
            .chunks(per_layer)
            .enumerate()
        {
            let (layer, dir) = (k / dirs, k % dirs);
            let in_size = if layer == 0 {
                w[0].as_ref().and_then(|w| w.shape().get(1).copied())
            } else {
                Some(self.hidden_size * dirs)
            };
            let expect = |i: usize, shape: Vec<usize>| -> Result<Variable> {
                match w[i].as_ref() {
                    Some(v) if v.shape() == shape => Ok(v.clone()),
                    Some(v) => Err(err(format!(
                        "weight {i} of layer {layer} direction {dir} should have shape {shape:?}, got {:?}",
                        v.shape()
                    ))),
                    None => Err(err(format!(
                        "weight {i} of layer {layer} direction {dir} is missing"
                    ))),
                }
            };
            let in_size = in_size.unwrap_or(0);
            if k == 0 {
                input_size = in_size;
            }
            let bias = |i| -> Result<Option<Variable>> {
                self.bias.then(|| expect(i, vec![rows])).transpose()
            };
            weights.push(Weights {
                w_ih: expect(0, vec![rows, in_size])?,
                w_hh: expect(1, vec![rows, self.hidden_size])?,
                b_ih: bias(2)?,
                b_hh: bias(3)?,
            });
        }
        let core = RnnCore {
            module,
            cell: self.cell,
            input_size,
            hidden_size: self.hidden_size,
            options: RnnOptions {
                num_layers: self.num_layers,
                bias: self.bias,
                batch_first: self.batch_first,
                dropout: 0.0,
                bidirectional: self.bidirectional,
            },
            weights,
            names: Vec::new(),
            training: AtomicBool::new(false),
        };
        let (h0, c0) = (inputs[1].as_ref(), inputs[2].as_ref());
        let (out, h, c) = if self.with_lengths {
            let Some(lengths) = inputs[want - 1].as_ref() else {
                return Err(err("the lengths are missing".into()));
            };
            core.run_packed(x, h0, c0, lengths)?
        } else {
            core.run(x, h0, c0, None)?
        };
        let mut outs = vec![out, h];
        outs.extend(c);
        Ok(outs)
    }

    /// The module's name, for errors.
    fn module_name(&self) -> &'static str {
        match self.cell {
            RnnCell::Tanh | RnnCell::Relu => "RNN",
            RnnCell::Lstm => "LSTM",
            RnnCell::Gru => "GRU",
        }
    }
}

#[cfg(test)]
mod tests {
    use torchlet_autograd::trace::{trace, TraceArg};
    use torchlet_autograd::Variable;
    use torchlet_tensor::Tensor;

    use super::RnnRecord;
    use crate::{Module, RnnOptions, GRU};

    #[test]
    fn a_replayed_record_gives_the_modules_bits_and_checks_its_inputs() {
        let opts = RnnOptions::default().num_layers(2).bidirectional(true);
        let gru = GRU::with_options(3, 4, opts).unwrap();
        gru.eval();
        let x = Variable::constant(Tensor::rand(&[5, 2, 3]));
        let ((want, _), traced) = trace(|| gru.forward_with_state(&x, None).unwrap());
        let op = &traced.ops[0];
        let record = op.record::<RnnRecord>().unwrap();
        let inputs: Vec<Option<Variable>> = op
            .inputs
            .iter()
            .map(|a| match a {
                TraceArg::Var(v) => Some(v.clone()),
                TraceArg::Tensor(t) => Some(Variable::constant(t.clone())),
                TraceArg::Absent => None,
            })
            .collect();
        let got = record.replay(&inputs).unwrap();
        assert_eq!(
            got[0].to_vec::<f32>().unwrap(),
            want.to_vec::<f32>().unwrap()
        );
        let err = record.replay(&inputs[..5]).unwrap_err().to_string();
        assert!(
            err.contains("takes 19 inputs") && err.contains("got 5"),
            "{err}"
        );
        let mut wrong = inputs.clone();
        wrong[4] = Some(Variable::constant(Tensor::rand(&[12, 5])));
        let err = record.replay(&wrong).unwrap_err().to_string();
        assert!(
            err.contains("should have shape [12, 4], got [12, 5]"),
            "{err}"
        );
    }
}
