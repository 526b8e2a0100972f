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

#[cfg(feature = "autograd")]
pub use torchlet_autograd::{grad, no_grad, AutogradError, Variable};

/// The names most programs need, in one glob import:
/// `use torchlet::prelude::*;`.
pub mod prelude {
    #[cfg(feature = "tensor")]
    pub use torchlet_tensor::{manual_seed, DType, Tensor, TensorError};

    #[cfg(feature = "autograd")]
    pub use torchlet_autograd::{grad, no_grad, AutogradError, Variable};
}

// Runs the code blocks of the workspace README as doctests (`cargo test`),
// so the walkthrough shown there cannot drift from the API. Only compiled
// while collecting doctests, so a packaged crate never reads `../../README.md`.
#[cfg(all(doctest, feature = "tensor"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
