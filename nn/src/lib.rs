//! # torchlet-nn
//!
//! Neural-network building blocks in the style of `torch.nn`: the
//! [`Module`] trait (forward pass, PyTorch's dotted parameter names,
//! `train()`/`eval()`, state dicts) and layers with PyTorch's default
//! initialisation and parameter names. Each family lives in the file named
//! after PyTorch's (`torch/nn/modules/conv.py` → `src/conv.rs`):
//!
//! | file | modules |
//! |---|---|
//! | `linear.rs` | [`Linear`], [`Bilinear`], [`Identity`] |
//! | `conv.rs` | [`Conv1d`], [`Conv2d`], [`ConvTranspose2d`] |
//! | `pooling.rs` | [`MaxPool2d`], [`AvgPool2d`], [`AdaptiveAvgPool2d`] |
//! | `batchnorm.rs` | [`BatchNorm1d`], [`BatchNorm2d`] |
//! | `normalization.rs` | [`LayerNorm`], [`GroupNorm`] |
//! | `activation.rs` | [`ReLU`], [`Sigmoid`], [`Tanh`], [`GELU`], [`SiLU`], [`LeakyReLU`], [`ELU`], [`Softmax`], [`LogSoftmax`] |
//! | `dropout.rs`, `flatten.rs` | [`Dropout`], [`Flatten`] |
//! | `sparse/` | [`Embedding`], [`EmbeddingBag`] |
//! | `rnn.rs`, `packed.rs` | [`RNN`], [`LSTM`], [`GRU`]; [`lengths_from_padding`] |
//! | `attention.rs`, `transformer.rs` | [`MultiheadAttention`], [`TransformerEncoderLayer`] |
//! | `loss.rs` | [`MSELoss`], [`CrossEntropyLoss`], [`NLLLoss`], ... |
//! | `container.rs` | [`Sequential`], [`ModuleList`] |
//!
//! [`functional`] holds `torch.nn.functional`, [`init`] `torch.nn.init`
//! and [`state`] the state-dict files; [`fuse_conv_bn_weights`] and
//! [`fuse_linear_bn_weights`] fold an eval-mode BatchNorm into the layer
//! before it (`torch.nn.utils.fusion`).
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

// `#[derive(Module)]` names this crate `::torchlet_nn`, in here too.
extern crate self as torchlet_nn;

#[doc(hidden)]
#[path = "derive_support.rs"]
pub mod __derive;
mod activation;
mod attention;
mod batchnorm;
mod check;
mod container;
mod conv;
mod dropout;
mod error;
mod flatten;
pub mod functional;
mod fusion;
pub mod init;
mod linear;
mod loss;
mod module;
mod normalization;
mod packed;
mod pooling;
mod rnn;
mod size;
mod sparse;
pub mod state;
#[cfg(test)]
mod testing;
mod transformer;

pub use activation::{LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Tanh, ELU, GELU};
pub use attention::MultiheadAttention;
pub use batchnorm::{BatchNorm1d, BatchNorm2d};
pub use container::{ModuleList, Sequential};
pub use conv::{
    Conv1d, Conv1dOptions, Conv2d, Conv2dOptions, ConvTranspose2d, ConvTranspose2dOptions,
};
pub use dropout::Dropout;
pub use error::{NnError, Result};
pub use flatten::Flatten;
pub use fusion::{fuse_conv_bn_weights, fuse_linear_bn_weights, BatchNormParams};
pub use linear::{Bilinear, Identity, Linear};
pub use loss::{
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, KLDivReduction, L1Loss,
    MSELoss, NLLLoss, Reduction, SmoothL1Loss,
};
pub use module::Module;
pub use normalization::{GroupNorm, LayerNorm};
pub use packed::{lengths_from_padding, PaddedLengthsRecord};
pub use pooling::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
pub use rnn::{Nonlinearity, RnnCell, RnnOptions, RnnRecord, GRU, LSTM, RNN};
pub use size::Size2;
pub use sparse::{BagMode, Embedding, EmbeddingBag, EmbeddingBagRecord};
/// `#[derive(Module)]`: a struct's sub-modules, parameters, buffers and
/// training flag from its fields (see [`Module`]'s docs); the derive and
/// the trait share the name, so `use torchlet_nn::Module` brings both.
pub use torchlet_derive::Module;
pub use transformer::{
    TransformerActivation, TransformerEncoderLayer, TransformerEncoderLayerOptions,
};

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
