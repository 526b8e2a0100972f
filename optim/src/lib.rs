//! PyTorch's `torch.optim` for torchlet: optimizers with PyTorch's exact
//! update rules, learning-rate schedulers and gradient clipping.
//!
//! Parameters are leaf [`Variable`](torchlet_autograd::Variable)s; an
//! optimizer reads their `grad()` and updates their value in place.
//!
//! ```
//! use torchlet_autograd::{functional::mse_loss, functional::Reduction, Variable};
//! use torchlet_optim::{Adam, AdamOptions, Optimizer};
//! use torchlet_tensor::Tensor;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let x = Variable::constant(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4, 1])?);
//! let y = Variable::constant(Tensor::from_vec(vec![2.0f32, 4.0, 6.0, 8.0], &[4, 1])?);
//! let w = Variable::parameter(Tensor::zeros(&[1, 1]));
//! let mut opt = Adam::new(vec![w.clone()], AdamOptions { lr: 0.1, ..Default::default() })?;
//! for _ in 0..200 {
//!     opt.zero_grad();
//!     let loss = mse_loss(&x.linear(&w, None)?, &y, Reduction::Mean)?;
//!     loss.backward()?;
//!     opt.step()?;
//! }
//! assert!((w.data().item::<f32>()? - 2.0).abs() < 1e-2);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod adagrad;
mod adam;
mod clip;
mod core;
mod error;
pub mod lr_scheduler;
mod optimizer;
mod rmsprop;
mod sgd;
mod sparse;
mod sparse_adam;
mod state;

pub use adagrad::{Adagrad, AdagradOptions};
pub use adam::{Adam, AdamOptions, AdamW};
pub use clip::{clip_grad_norm_, clip_grad_value_};
pub use error::{OptimError, Result};
pub use optimizer::{Optimizer, ParamGroup};
pub use rmsprop::{RmsProp, RmsPropOptions};
pub use sgd::{Sgd, SgdOptions};
pub use sparse_adam::{SparseAdam, SparseAdamOptions};
pub use state::{OptimizerStateDict, StatefulOptimizer};

#[cfg(test)]
mod tests;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
