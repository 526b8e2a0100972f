//! # torchlet-nn
//!
//! Neural-network building blocks in the style of `torch.nn`: the
//! [`Module`] trait (forward pass, PyTorch's dotted parameter names,
//! `train()`/`eval()`, state dicts), [`Sequential`], and layers with
//! PyTorch's default initialisation — [`Linear`], [`Conv2d`],
//! [`MaxPool2d`], [`Flatten`], [`BatchNorm2d`], [`Dropout`] and the
//! activations [`ReLU`], [`Sigmoid`], [`Tanh`], [`GELU`].
//!
//! State dicts are saved as safetensors; a file PyTorch wrote for the same
//! architecture loads unchanged ([`Module::load_safetensors`]).
//!
//! ```
//! use torchlet_autograd::Variable;
//! use torchlet_nn::{BatchNorm2d, Conv2d, Flatten, Linear, Module, ReLU, Result, Sequential};
//! use torchlet_tensor::Tensor;
//!
//! # fn main() -> Result<()> {
//! let model = Sequential::new()
//!     .append(Conv2d::new(1, 4, 3)?)
//!     .append(BatchNorm2d::new(4)?)
//!     .append(ReLU)
//!     .append(Flatten::new())
//!     .append(Linear::new(4 * 6 * 6, 10)?);
//! model.eval();
//! let y = model.forward(&Variable::constant(Tensor::rand(&[2, 1, 8, 8])))?;
//! assert_eq!(y.shape(), [2, 10]);
//! assert!(model.state_dict().contains_key("1.running_var"));
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod activation;
mod attention;
mod bilinear;
mod container;
mod conv_extra;
mod embedding;
mod embedding_bag;
mod error;
pub mod functional;
pub mod init;
mod layers;
mod linear;
mod loss;
mod module;
mod norm;
mod norm_extra;
mod packed;
mod pool;
mod rnn;
pub mod state;

pub use activation::{LeakyReLU, LogSoftmax, SiLU, Softmax, ELU};
pub use attention::{
    MultiheadAttention, TransformerActivation, TransformerEncoderLayer,
    TransformerEncoderLayerOptions,
};
pub use bilinear::Bilinear;
pub use container::{Identity, ModuleList};
pub use conv_extra::{Conv1d, Conv1dOptions, ConvTranspose2d, ConvTranspose2dOptions};
pub use embedding::Embedding;
pub use embedding_bag::{BagMode, EmbeddingBag, EmbeddingBagRecord};
pub use error::{NnError, Result};
pub use layers::{Dropout, Flatten, MaxPool2d, ReLU, Sigmoid, Tanh, GELU};
pub use linear::{Conv2d, Conv2dOptions, Linear};
pub use loss::{
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, KLDivReduction, L1Loss,
    MSELoss, NLLLoss, Reduction, SmoothL1Loss,
};
pub use module::{Module, Sequential};
pub use norm::BatchNorm2d;
pub use norm_extra::{BatchNorm1d, GroupNorm, LayerNorm};
pub use packed::{lengths_from_padding, PaddedLengthsRecord};
pub use pool::{AdaptiveAvgPool2d, AvgPool2d};
pub use rnn::{Nonlinearity, RnnCell, RnnOptions, RnnRecord, GRU, LSTM, RNN};

/// The names of the ops this crate traces with its own records
/// ([`RnnRecord`], [`EmbeddingBagRecord`], [`PaddedLengthsRecord`]); the
/// rest of a model's ops are autograd's (`torchlet_autograd::trace::ATEN_OPS`).
/// A consumer's table is checked against both lists.
pub const TRACED_OPS: &[&str] = &[
    "aten::rnn_tanh",
    "aten::rnn_relu",
    "aten::lstm",
    "aten::gru",
    "aten::embedding_bag",
    "torchlet::lengths_from_padding",
];
pub use state::{LoadReport, Mismatch};
