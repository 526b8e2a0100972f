#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

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

#[cfg(feature = "autograd")]
pub use torchlet_autograd::{grad, no_grad, AutogradError, Variable};

/// The names most programs need, in one glob import:
/// `use torchlet::prelude::*;`.
pub mod prelude {
    #[cfg(feature = "tensor")]
    pub use torchlet_tensor::{manual_seed, DType, Tensor, TensorError};

    #[cfg(feature = "autograd")]
    pub use torchlet_autograd::{grad, no_grad, AutogradError, Variable};

    #[cfg(feature = "autograd")]
    pub use torchlet_autograd::functional as F;

    #[cfg(feature = "nn")]
    pub use torchlet_nn::{Module, Sequential};

    #[cfg(feature = "optim")]
    pub use torchlet_optim::Optimizer;
}

// Runs the code blocks of the workspace README as doctests (`cargo test`),
// so the walkthrough shown there cannot drift from the API. Only compiled
// while collecting doctests, so a packaged crate never reads `../../README.md`.
#[cfg(all(doctest, feature = "tensor"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
