//! The models the ONNX checks export (shared by the `export_models`
//! example and the integration tests through `#[path]`).
#![allow(dead_code)]

use std::error::Error;

use torchlet_autograd::{no_grad, Variable};
use torchlet_nn::{
    BagMode, Embedding, EmbeddingBag, Linear, Module, Result as NnResult, RnnOptions,
    TransformerEncoderLayer, TransformerEncoderLayerOptions, GRU, LSTM,
};
use torchlet_onnx::ExportOptions;
use torchlet_tensor::{manual_seed, Tensor};
use torchlet_vision::models::{mlp, LeNet5, ResNet};

/// `embed Embedding(50,16,padding_idx=0) - lstm LSTM(16,24,num_layers=2,
/// batch_first) - head Linear(24,4)` on the last layer's final hidden state.
pub struct TextLstm {
    embed: Embedding,
    lstm: LSTM,
    head: Linear,
}

impl Module for TextLstm {
    fn forward(&self, x: &Variable) -> NnResult<Variable> {
        let (_, h_n, _) = self
            .lstm
            .forward_with_state(&self.embed.forward(x)?, None)?;
        self.head.forward(&h_n.select(0, -1)?)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![
            ("embed", &self.embed),
            ("lstm", &self.lstm),
            ("head", &self.head),
        ]
    }
}

/// `embed Embedding(50,16) - gru GRU(16,12,bidirectional,batch_first) -
/// head Linear(24,4)` on the output's last time step.
pub struct TextGru {
    embed: Embedding,
    gru: GRU,
    head: Linear,
}

impl Module for TextGru {
    fn forward(&self, x: &Variable) -> NnResult<Variable> {
        let out = self.gru.forward(&self.embed.forward(x)?)?;
        self.head.forward(&out.select(1, -1)?)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![
            ("embed", &self.embed),
            ("gru", &self.gru),
            ("head", &self.head),
        ]
    }
}

/// What a test model takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Float images / features of this per-sample shape.
    Float(&'static [usize]),
    /// Token ids `[N, T]` below this vocabulary size.
    Tokens {
        /// Sequence length.
        len: usize,
        /// Vocabulary size.
        vocab: usize,
    },
    /// Right-padded token ids `[N, T]`: row `i` has its own length (the
    /// last row is all padding), the rest is `pad`.
    PaddedTokens {
        /// Sequence length.
        len: usize,
        /// Vocabulary size.
        vocab: usize,
        /// The padding index (below 2: real tokens are drawn from 2 up).
        pad: i64,
    },
}

/// Right-padded ids `[n, len]`: row `i` keeps `len - (3 i mod len)` real
/// tokens, except the last row, which is all padding.
fn padded_tokens(n: usize, len: usize, vocab: usize, pad: i64) -> Tensor {
    let mut ids = Tensor::randint(2, vocab as i64, &[n, len])
        .expect("valid range")
        .to_vec::<i64>()
        .expect("int64");
    for (i, row) in ids.chunks_mut(len).enumerate() {
        let keep = if i + 1 == n { 0 } else { len - (3 * i) % len };
        row[keep..].fill(pad);
    }
    Tensor::from_vec(ids, &[n, len]).expect("shape matches")
}

/// One model of the check set.
pub struct TestModel {
    /// Whether the tests' small interpreter runs it (onnxruntime runs all).
    pub hermetic: bool,
    /// File stem.
    pub name: &'static str,
    /// The model (eval mode, non-trivial BatchNorm statistics).
    pub module: Box<dyn Module>,
    /// Its input.
    pub input: InputKind,
    /// Whether axis 1 of the input is a dynamic sequence axis.
    pub sequence: bool,
}

impl TestModel {
    /// A seeded input of batch size `n` (sequence length `len` for text).
    pub fn example(&self, n: usize, seed: u64) -> Variable {
        manual_seed(seed);
        let t = match self.input {
            InputKind::Float(shape) => {
                let mut s = vec![n];
                s.extend_from_slice(shape);
                Tensor::rand(&s)
            }
            InputKind::Tokens { len, vocab } => {
                Tensor::randint(0, vocab as i64, &[n, len]).expect("valid range")
            }
            InputKind::PaddedTokens { len, vocab, pad } => padded_tokens(n, len, vocab, pad),
        };
        Variable::constant(t)
    }
}

impl TestModel {
    /// The export options the checks use at `opset`: a dynamic sequence
    /// axis for sequence models, and the model's name in the doc string.
    pub fn export_options(&self, opset: i64) -> ExportOptions {
        let mut options = ExportOptions::with_opset(opset);
        if self.sequence {
            options = options.with_sequence_axis();
            if self.name == "transformer_encoder" {
                options.output_dynamic_axes.push((1, "sequence".into()));
            }
        }
        options.doc_string = format!("torchlet ONNX check model {}", self.name);
        options
    }

    /// A seeded input of batch size `n`; models with a sequence axis get
    /// sequences of length `len`.
    pub fn example_with_len(&self, n: usize, len: usize, seed: u64) -> Variable {
        manual_seed(seed);
        let t = match self.input {
            InputKind::Tokens { vocab, .. } if self.sequence => {
                Tensor::randint(0, vocab as i64, &[n, len]).expect("valid range")
            }
            InputKind::PaddedTokens { vocab, pad, .. } if self.sequence => {
                padded_tokens(n, len, vocab, pad)
            }
            InputKind::Float(shape) if self.sequence => Tensor::rand(&[n, len, shape[1]]),
            _ => return self.example(n, seed),
        };
        Variable::constant(t)
    }
}

/// Runs a few train-mode batches so BatchNorm's running statistics are not
/// the identity, then switches to eval.
fn settle(module: &dyn Module, shape: &[usize]) -> NnResult<()> {
    module.train();
    for _ in 0..3 {
        let x = Variable::constant(Tensor::randn(shape).mul_scalar(2.0).add_scalar(0.5));
        no_grad(|| module.forward(&x))?;
    }
    module.eval();
    Ok(())
}

/// The checked models: torchlet-text's bag-of-embeddings classifier, a
/// max EmbeddingBag, a sum EmbeddingBag without padding index and LSTM /
/// GRU classifiers with lengths on padded
/// batches; MLP, LeNet-5 with BatchNorm, ResNet-8, a 2-layer LSTM text
/// model, a bidirectional GRU text model and a Transformer encoder layer;
/// and the op zoo.
pub fn all_models() -> Result<Vec<TestModel>, Box<dyn Error>> {
    manual_seed(7);
    let lenet = LeNet5::with_batch_norm()?;
    settle(&lenet, &[8, 1, 28, 28])?;
    let resnet = ResNet::resnet8(3, 10)?;
    settle(&resnet, &[8, 3, 32, 32])?;
    let text_lstm = TextLstm {
        embed: Embedding::with_padding(50, 16, Some(0))?,
        lstm: LSTM::with_options(
            16,
            24,
            RnnOptions::default().num_layers(2).batch_first(true),
        )?,
        head: Linear::new(24, 4)?,
    };
    let text_gru = TextGru {
        embed: Embedding::new(50, 16)?,
        gru: GRU::with_options(
            16,
            12,
            RnnOptions::default().bidirectional(true).batch_first(true),
        )?,
        head: Linear::new(24, 4)?,
    };
    let encoder = TransformerEncoderLayer::with_options(
        16,
        4,
        TransformerEncoderLayerOptions {
            dim_feedforward: 32,
            batch_first: true,
            ..Default::default()
        },
    )?;
    // torchlet-text's classifiers on right-padded batches: the padding
    // mask and the lengths are computed in the graph.
    let text_bag = torchlet_text::models::BagClassifier::new(60, 16, 4, Some(1), 0.5)?;
    let bag_max = EmbeddingBag::with_padding(60, 8, BagMode::Max, Some(1))?;
    let bag_sum = EmbeddingBag::new(60, 8, BagMode::Sum)?;
    let rnn_options = |kind, bidirectional| torchlet_text::models::RnnClassifierOptions {
        kind,
        embed_dim: 12,
        hidden_size: 10,
        num_layers: 2,
        bidirectional,
        dropout: 0.2,
        pad_index: Some(1),
    };
    let packed_lstm = torchlet_text::models::RnnClassifier::new(
        60,
        4,
        rnn_options(torchlet_text::models::RecurrentKind::Lstm, true),
    )?;
    let packed_gru = torchlet_text::models::RnnClassifier::new(
        60,
        3,
        rnn_options(torchlet_text::models::RecurrentKind::Gru, false),
    )?;
    let padded = InputKind::PaddedTokens {
        len: 7,
        vocab: 60,
        pad: 1,
    };
    let models = vec![
        TestModel {
            hermetic: true,
            name: "text_bag",
            module: Box::new(text_bag),
            input: padded,
            sequence: true,
        },
        TestModel {
            hermetic: true,
            name: "bag_max",
            module: Box::new(bag_max),
            input: padded,
            sequence: true,
        },
        TestModel {
            hermetic: true,
            name: "bag_sum",
            module: Box::new(bag_sum),
            input: padded,
            sequence: true,
        },
        TestModel {
            hermetic: true,
            name: "text_lstm_packed",
            module: Box::new(packed_lstm),
            input: padded,
            sequence: true,
        },
        TestModel {
            hermetic: true,
            name: "text_gru_packed",
            module: Box::new(packed_gru),
            input: padded,
            sequence: true,
        },
        TestModel {
            hermetic: true,
            name: "mlp",
            module: Box::new(mlp()?),
            input: InputKind::Float(&[1, 28, 28]),
            sequence: false,
        },
        TestModel {
            hermetic: true,
            name: "lenet_bn",
            module: Box::new(lenet),
            input: InputKind::Float(&[1, 28, 28]),
            sequence: false,
        },
        TestModel {
            hermetic: true,
            name: "resnet8",
            module: Box::new(resnet),
            input: InputKind::Float(&[3, 32, 32]),
            sequence: false,
        },
        TestModel {
            hermetic: true,
            name: "text_lstm",
            module: Box::new(text_lstm),
            input: InputKind::Tokens { len: 7, vocab: 50 },
            sequence: true,
        },
        TestModel {
            hermetic: true,
            name: "text_bigru",
            module: Box::new(text_gru),
            input: InputKind::Tokens { len: 7, vocab: 50 },
            sequence: true,
        },
        TestModel {
            hermetic: true,
            name: "transformer_encoder",
            module: Box::new(encoder),
            input: InputKind::Float(&[7, 16]),
            sequence: true,
        },
        TestModel {
            hermetic: false,
            name: "op_zoo",
            module: Box::new(crate::zoo::OpZoo::new()?),
            input: InputKind::Float(&[4, 8, 8]),
            sequence: false,
        },
    ];
    for m in &models {
        m.module.eval();
    }
    Ok(models)
}
