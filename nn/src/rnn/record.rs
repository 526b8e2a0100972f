//! The recurrent layers' cell kinds and their trace record (one op per
//! layer stack: `aten::rnn_tanh`, `aten::rnn_relu`, `aten::lstm`,
//! `aten::gru`).

use torchlet_autograd::ir::Attr;
use torchlet_autograd::trace;

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
