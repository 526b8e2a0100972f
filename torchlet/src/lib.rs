#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod error;
pub use error::{Error, Result};

#[cfg(feature = "tensor")]
pub use torchlet_tensor as tensor;

#[cfg(feature = "tensor")]
pub use torchlet_tensor::{
    manual_seed, DType, Element, Float, Generator, Numeric, Tensor, TensorError,
};

#[cfg(feature = "autograd")]
pub use torchlet_autograd as autograd;

/// Modules, layers, initialisation and safetensors state dicts (`torch.nn`).
#[cfg(feature = "nn")]
pub use torchlet_nn as nn;

/// Optimizers, learning-rate schedulers and gradient clipping (`torch.optim`).
#[cfg(feature = "optim")]
pub use torchlet_optim as optim;

/// Datasets, samplers and the multi-threaded `DataLoader` (`torch.utils.data`).
#[cfg(feature = "data")]
pub use torchlet_data as data;

/// Image datasets (MNIST, CIFAR, image folders), transforms and models (torchvision).
#[cfg(feature = "vision")]
pub use torchlet_vision as vision;

/// A reusable training loop: metrics, callbacks, progress bar.
#[cfg(feature = "train")]
pub use torchlet_train as train;

/// Tokenizers, vocabularies, padding, bucketing, text datasets and text
/// models (torchtext).
#[cfg(feature = "text")]
pub use torchlet_text as text;

/// Export to ONNX by tracing a forward pass (`torch.onnx.export`).
#[cfg(feature = "onnx")]
pub use torchlet_onnx as onnx;

/// Sparse COO/CSR/CSC tensors, sparse products with gradients and
/// sparse softmax (`torch.sparse`).
#[cfg(feature = "sparse")]
pub use torchlet_sparse as sparse;

/// Graph data and graph neural networks over sparse tensors (Zachary's
/// karate club, GCN layers; PyTorch Geometric's role).
#[cfg(feature = "graph")]
pub use torchlet_graph as graph;

/// Quantized int8 tensors and kernels, observers and fake quantization
/// (`torch.ao.quantization`).
#[cfg(feature = "quantize")]
pub use torchlet_quantize as quantize;

/// Data-parallel training: process groups (threads or MPI), collectives,
/// `DistributedDataParallel`, `DistributedSampler` (`torch.distributed`).
#[cfg(feature = "distributed")]
pub use torchlet_distributed as distributed;
/// Tracing a model into a graph, optimising it, saving it as one file and
/// running it without the code that defined it (`torch.jit`).
#[cfg(feature = "jit")]
pub use torchlet_jit as jit;

#[cfg(feature = "autograd")]
pub use torchlet_autograd::{grad, no_grad, AutogradError, Variable};

/// The names most programs need, in one glob import:
/// `use torchlet::prelude::*;`.
pub mod prelude {
    pub use crate::{Error, Result};

    #[cfg(feature = "tensor")]
    pub use torchlet_tensor::{manual_seed, DType, Generator, Tensor, TensorError};

    #[cfg(feature = "autograd")]
    pub use torchlet_autograd::{
        enable_grad, grad, no_grad, AutogradError, GradModeGuard, Variable,
    };

    #[cfg(all(feature = "autograd", not(feature = "nn")))]
    pub use torchlet_autograd::functional as F;
    /// `torch.nn.functional`: activations, convolutions, pooling,
    /// normalizations, dropout, losses, embeddings and recurrent cells
    /// over variables. Without the `nn` feature, the autograd subset
    /// (losses, `linear`, `embedding`, the cells).
    #[cfg(feature = "nn")]
    pub use torchlet_nn::functional as F;

    #[cfg(feature = "nn")]
    pub use torchlet_nn::{
        AdaptiveAvgPool2d, AvgPool2d, BCELoss, BCEWithLogitsLoss, BatchNorm1d, BatchNorm2d, Conv1d,
        Conv2d, Conv2dOptions, CrossEntropyLoss, Dropout, Embedding, Flatten, LayerNorm, Linear,
        MSELoss, MaxPool2d, Module, ModuleList, NLLLoss, ReLU, Reduction, Sequential, Sigmoid,
        Softmax, Tanh, GELU, GRU, LSTM, RNN,
    };

    #[cfg(feature = "optim")]
    pub use torchlet_optim::{
        Adam, AdamOptions, AdamW, Optimizer, RmsProp, RmsPropOptions, Sgd, SgdOptions,
    };

    #[cfg(feature = "sparse")]
    pub use torchlet_sparse::{SparseTensor, ToSparse};

    #[cfg(feature = "data")]
    pub use torchlet_data::{random_split, DataLoader, Dataset, TensorDataset};

    #[cfg(feature = "train")]
    pub use torchlet_train::Trainer;
}

// Runs the code blocks of the workspace README as doctests (`cargo test`),
// so the walkthrough shown there cannot drift from the API. Only compiled
// while collecting doctests, so a packaged crate never reads `../../README.md`.
#[cfg(all(doctest, feature = "tensor"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
