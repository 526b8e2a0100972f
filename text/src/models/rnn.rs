//! [`RnnClassifier`]: embeddings, an LSTM or GRU over the sequence, and a
//! linear layer on the final hidden state.

use torchlet_autograd::Variable;
use torchlet_nn::{
    lengths_from_padding, Dropout, Embedding, Linear, Module, Result, RnnOptions, GRU, LSTM,
};
use torchlet_tensor::Tensor;

use super::{check_batch, config};

/// Which recurrent layer an [`RnnClassifier`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecurrentKind {
    /// `nn.LSTM` (parameters `lstm.*`).
    Lstm,
    /// `nn.GRU` (parameters `gru.*`).
    Gru,
}

/// The sizes and options of an [`RnnClassifier`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RnnClassifierOptions {
    /// LSTM or GRU.
    pub kind: RecurrentKind,
    /// Embedding width.
    pub embed_dim: usize,
    /// Hidden features per direction.
    pub hidden_size: usize,
    /// Stacked recurrent layers.
    pub num_layers: usize,
    /// Whether the layers also run backwards in time.
    pub bidirectional: bool,
    /// Dropout between recurrent layers and before the head (training
    /// only).
    pub dropout: f64,
    /// The padding token: its embedding row is zero and gets no gradient.
    pub pad_index: Option<usize>,
}

impl Default for RnnClassifierOptions {
    fn default() -> Self {
        RnnClassifierOptions {
            kind: RecurrentKind::Lstm,
            embed_dim: 64,
            hidden_size: 64,
            num_layers: 1,
            bidirectional: false,
            dropout: 0.0,
            pad_index: None,
        }
    }
}

enum Recurrent {
    Lstm(LSTM),
    Gru(GRU),
}

/// A recurrent text classifier: `Embedding` → `LSTM`/`GRU` (batch first)
/// → dropout → `Linear` on the last layer's final hidden state (both
/// directions concatenated when bidirectional). Given the sequences'
/// lengths it runs each one only up to its end, so padding does not leak
/// into the state that is classified (PyTorch's `pack_padded_sequence`).
/// Parameters: `embed.weight`, `lstm.weight_ih_l0` (or `gru.*`), ...,
/// `head.weight`, `head.bias`.
///
/// ```
/// use torchlet_tensor::Tensor;
/// use torchlet_text::models::{RecurrentKind, RnnClassifier, RnnClassifierOptions};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let options = RnnClassifierOptions {
///     kind: RecurrentKind::Gru,
///     embed_dim: 8,
///     hidden_size: 6,
///     bidirectional: true,
///     pad_index: Some(1),
///     ..Default::default()
/// };
/// let model = RnnClassifier::new(50, 3, options)?;
/// let tokens = Tensor::from_vec(vec![4i64, 9, 7, 8, 1, 1], &[2, 3])?;
/// let logits = model.forward_tokens(&tokens, Some(&[3, 1]))?;
/// assert_eq!(logits.shape(), [2, 3]);
/// # Ok(())
/// # }
/// ```
pub struct RnnClassifier {
    embed: Embedding,
    rnn: Recurrent,
    dropout: Dropout,
    head: Linear,
    options: RnnClassifierOptions,
}

impl RnnClassifier {
    /// A classifier over `vocab_size` tokens into `num_classes` classes.
    pub fn new(
        vocab_size: usize,
        num_classes: usize,
        options: RnnClassifierOptions,
    ) -> Result<RnnClassifier> {
        if num_classes < 2 {
            return Err(config(
                "RnnClassifier",
                format!("num_classes must be at least 2, got {num_classes}"),
            ));
        }
        let pad = options.pad_index.map(|p| p as i64);
        let rnn_options = RnnOptions::default()
            .num_layers(options.num_layers)
            .bidirectional(options.bidirectional)
            .batch_first(true)
            .dropout(options.dropout);
        let (e, h) = (options.embed_dim, options.hidden_size);
        let rnn = match options.kind {
            RecurrentKind::Lstm => Recurrent::Lstm(LSTM::with_options(e, h, rnn_options)?),
            RecurrentKind::Gru => Recurrent::Gru(GRU::with_options(e, h, rnn_options)?),
        };
        let dirs = if options.bidirectional { 2 } else { 1 };
        Ok(RnnClassifier {
            embed: Embedding::with_padding(vocab_size, e, pad)?,
            rnn,
            dropout: Dropout::new(options.dropout)?,
            head: Linear::new(dirs * h, num_classes)?,
            options,
        })
    }

    /// The sizes and options.
    pub fn options(&self) -> RnnClassifierOptions {
        self.options
    }

    /// Logits `[N, classes]` for int64 token indices `[N, T]`. With
    /// `lengths` (one per row, 1 to `T`) each sequence is read up to its
    /// own end; without, every row is read to `T`.
    pub fn forward_tokens(&self, tokens: &Tensor, lengths: Option<&[usize]>) -> Result<Variable> {
        check_batch("RnnClassifier", tokens, lengths)?;
        let x = self.embed.forward_indices(tokens)?;
        let h_n = match (&self.rnn, lengths) {
            (Recurrent::Lstm(m), Some(l)) => m.forward_with_lengths(&x, l, None)?.1,
            (Recurrent::Lstm(m), None) => m.forward_with_state(&x, None)?.1,
            (Recurrent::Gru(m), Some(l)) => m.forward_with_lengths(&x, l, None)?.1,
            (Recurrent::Gru(m), None) => m.forward_with_state(&x, None)?.1,
        };
        self.classify(&h_n)
    }

    /// Logits from the final hidden states `h_n` `[D * layers, N, H]`.
    fn classify(&self, h_n: &Variable) -> Result<Variable> {
        // The last layer's directions are last.
        let last = if self.options.bidirectional {
            Variable::cat(&[h_n.select(0, -2)?, h_n.select(0, -1)?], -1)?
        } else {
            h_n.select(0, -1)?
        };
        self.head.forward(&self.dropout.forward(&last)?)
    }
}

impl RnnClassifier {
    /// Each row's length in a right-padded batch: one past its last
    /// non-padding token (at least 1, so an all-padding row reads one
    /// step). `None` without a padding index.
    pub fn infer_lengths(&self, tokens: &Tensor) -> Result<Option<Vec<usize>>> {
        let Some(pad) = self.options.pad_index else {
            return Ok(None);
        };
        let (_, t) = check_batch("RnnClassifier", tokens, None)?;
        let ids = tokens.contiguous().to_vec::<i64>()?;
        let lengths = ids
            .chunks(t.max(1))
            .map(|row| {
                row.iter()
                    .rposition(|&i| i != pad as i64)
                    .map_or(1, |p| p + 1)
            })
            .collect();
        Ok(Some(lengths))
    }
}

impl Module for RnnClassifier {
    /// `x` holds int64 token indices `[N, T]`, right-padded. With a
    /// padding index each row is read up to its last non-padding token
    /// ([`RnnClassifier::infer_lengths`]); without, to `T`.
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let tokens = x.data();
        check_batch("RnnClassifier", &tokens, None)?;
        let Some(pad) = self.options.pad_index else {
            return self.forward_tokens(&tokens, None);
        };
        // Lengths as a traced op, so an ONNX export computes them from its
        // input (same values as `infer_lengths`).
        let lengths = lengths_from_padding(&tokens, pad as i64)?;
        let x = self.embed.forward_indices(&tokens)?;
        let h_n = match &self.rnn {
            Recurrent::Lstm(m) => m.forward_packed(&x, &lengths, None)?.1,
            Recurrent::Gru(m) => m.forward_packed(&x, &lengths, None)?.1,
        };
        self.classify(&h_n)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        let rnn: (&str, &dyn Module) = match &self.rnn {
            Recurrent::Lstm(m) => ("lstm", m),
            Recurrent::Gru(m) => ("gru", m),
        };
        vec![
            ("embed", &self.embed),
            rnn,
            ("dropout", &self.dropout),
            ("head", &self.head),
        ]
    }
}
