//! The text models' ops, which nn records rather than autograd: the
//! recurrent layer stacks, `EmbeddingBag` over padded bags and the
//! lengths of a right-padded batch. The graph stores them as plain serde
//! data; they run through nn's own records (`replay`), so a graph gives
//! the module's bits.

use serde::{Deserialize, Serialize};
use torchlet_autograd::ir::Attr;
use torchlet_autograd::trace::{OpRecord, TracedOp};
use torchlet_autograd::{AutogradError, Result, Variable};
use torchlet_nn::{
    lengths_from_padding, BagMode, EmbeddingBagRecord, NnError, PaddedLengthsRecord, RnnCell,
    RnnRecord,
};
use torchlet_tensor::Tensor;

/// A text op, as a graph stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TextOp {
    /// A recurrent layer stack (`aten::lstm`, `aten::gru`,
    /// `aten::rnn_tanh`, `aten::rnn_relu`); inputs and outputs as
    /// [`RnnRecord`] documents them.
    Rnn(RnnSpec),
    /// `aten::embedding_bag` over `[B, L]` bags: inputs `[indices,
    /// weight]`.
    EmbeddingBag {
        /// The reduction.
        mode: BagReduction,
        /// The index left out of the bags.
        padding_idx: Option<i64>,
    },
    /// `torchlet::lengths_from_padding`: each row's length in a
    /// right-padded int64 `[N, T]` batch.
    LengthsFromPadding {
        /// The padding index.
        pad: i64,
    },
}

/// A recurrent layer stack's configuration ([`RnnRecord`]'s fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RnnSpec {
    /// The cell.
    pub cell: CellKind,
    /// Hidden size.
    pub hidden_size: usize,
    /// Stacked layers.
    pub num_layers: usize,
    /// Whether each layer runs both directions.
    pub bidirectional: bool,
    /// Whether inputs are `[N, T, *]`.
    pub batch_first: bool,
    /// Whether the layers have biases.
    pub bias: bool,
    /// Whether the last input holds the sequences' lengths.
    pub with_lengths: bool,
}

/// A recurrent cell ([`RnnCell`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CellKind {
    /// Elman, tanh.
    Tanh,
    /// Elman, ReLU.
    Relu,
    /// LSTM.
    Lstm,
    /// GRU.
    Gru,
}

/// An `EmbeddingBag` reduction ([`BagMode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BagReduction {
    /// Sum.
    Sum,
    /// Mean.
    Mean,
    /// Elementwise maximum.
    Max,
}

impl TextOp {
    /// The op of a traced nn record, when it is one of the text ops.
    pub(crate) fn from_traced(op: &TracedOp) -> Option<TextOp> {
        if let Some(r) = op.record::<RnnRecord>() {
            return Some(TextOp::Rnn(RnnSpec {
                cell: match r.cell {
                    RnnCell::Tanh => CellKind::Tanh,
                    RnnCell::Relu => CellKind::Relu,
                    RnnCell::Lstm => CellKind::Lstm,
                    RnnCell::Gru => CellKind::Gru,
                },
                hidden_size: r.hidden_size,
                num_layers: r.num_layers,
                bidirectional: r.bidirectional,
                batch_first: r.batch_first,
                bias: r.bias,
                with_lengths: r.with_lengths,
            }));
        }
        if let Some(r) = op.record::<EmbeddingBagRecord>() {
            return Some(TextOp::EmbeddingBag {
                mode: match r.mode {
                    BagMode::Sum => BagReduction::Sum,
                    BagMode::Mean => BagReduction::Mean,
                    BagMode::Max => BagReduction::Max,
                },
                padding_idx: r.padding_idx,
            });
        }
        op.record::<PaddedLengthsRecord>()
            .map(|r| TextOp::LengthsFromPadding { pad: r.pad })
    }

    fn rnn_record(s: &RnnSpec) -> RnnRecord {
        RnnRecord {
            cell: match s.cell {
                CellKind::Tanh => RnnCell::Tanh,
                CellKind::Relu => RnnCell::Relu,
                CellKind::Lstm => RnnCell::Lstm,
                CellKind::Gru => RnnCell::Gru,
            },
            hidden_size: s.hidden_size,
            num_layers: s.num_layers,
            bidirectional: s.bidirectional,
            batch_first: s.batch_first,
            bias: s.bias,
            with_lengths: s.with_lengths,
        }
    }

    fn bag_record(mode: BagReduction, padding_idx: Option<i64>) -> EmbeddingBagRecord {
        EmbeddingBagRecord {
            mode: match mode {
                BagReduction::Sum => BagMode::Sum,
                BagReduction::Mean => BagMode::Mean,
                BagReduction::Max => BagMode::Max,
            },
            padding_idx,
        }
    }

    /// nn's record of this op (its name and attributes).
    fn record(&self) -> Box<dyn OpRecord> {
        match self {
            TextOp::Rnn(s) => Box::new(TextOp::rnn_record(s)),
            TextOp::EmbeddingBag { mode, padding_idx } => {
                Box::new(TextOp::bag_record(*mode, *padding_idx))
            }
            TextOp::LengthsFromPadding { pad } => Box::new(PaddedLengthsRecord { pad: *pad }),
        }
    }

    /// The op's name (`aten::lstm`).
    pub fn name(&self) -> &'static str {
        self.record().name()
    }

    /// The op's attributes, for printing.
    pub fn attrs(&self) -> Vec<(&'static str, Attr)> {
        self.record().attrs()
    }

    /// Runs the op (under `no_grad`, from the executor).
    pub(crate) fn run(&self, inputs: &[Option<Tensor>]) -> Result<Vec<Variable>> {
        let fail = |e: NnError| AutogradError::Graph {
            op: self.name(),
            message: e.to_string(),
        };
        let tensor = |i: usize| {
            inputs
                .get(i)
                .and_then(Option::as_ref)
                .ok_or_else(|| AutogradError::Graph {
                    op: self.name(),
                    message: format!("input {i} is missing"),
                })
        };
        match self {
            TextOp::Rnn(s) => {
                let vars: Vec<Option<Variable>> = inputs
                    .iter()
                    .map(|t| t.as_ref().map(|t| Variable::constant(t.clone())))
                    .collect();
                TextOp::rnn_record(s).replay(&vars).map_err(fail)
            }
            TextOp::EmbeddingBag { mode, padding_idx } => {
                let weight = Variable::constant(tensor(1)?.clone());
                let out = TextOp::bag_record(*mode, *padding_idx)
                    .replay(tensor(0)?, &weight)
                    .map_err(fail)?;
                Ok(vec![out])
            }
            TextOp::LengthsFromPadding { pad } => {
                Ok(vec![lengths_from_padding(tensor(0)?, *pad).map_err(fail)?])
            }
        }
    }
}
