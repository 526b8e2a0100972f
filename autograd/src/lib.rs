//! # torchlet-autograd
//!
//! Define-by-run reverse-mode automatic differentiation over
//! [`torchlet_tensor`], with PyTorch's model: a [`Variable`] wraps a tensor;
//! ops on variables that require grad record a graph; [`Variable::backward`]
//! walks it once in reverse and accumulates gradients into the leaves.
//!
//! Every backward formula is written with differentiable ops, so
//! [`grad`] with `create_graph = true` returns gradients that can be
//! differentiated again (Hessian-vector products, gradient penalties).
//!
//! ```
//! use torchlet_autograd::Variable;
//! use torchlet_tensor::Tensor;
//! # fn main() -> Result<(), torchlet_autograd::AutogradError> {
//! let w = Variable::parameter(Tensor::from_vec(vec![0.5f32, -1.0], &[2])?);
//! let x = Variable::constant(Tensor::from_vec(vec![2.0f32, 3.0], &[2])?);
//! let loss = w.mul(&x)?.sum().sigmoid(); // sigmoid(w · x)
//! loss.backward()?;
//! let s = loss.item::<f32>()?;
//! let g = w.grad().unwrap().to_vec::<f32>()?; // s (1 - s) x
//! assert!((g[0] - s * (1.0 - s) * 2.0).abs() < 1e-6);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod engine;
mod error;
pub mod functional;
mod gradcheck;
mod graph;
mod hooks;
pub mod ir;
mod mode;
mod ops;
#[cfg(test)]
mod reference;
mod rnn;
mod sparse_grad;
pub mod trace;
mod variable;

pub use engine::grad;
pub use error::{AutogradError, Result};
pub use gradcheck::{
    gradcheck, gradcheck_with, gradgradcheck, gradgradcheck_with, GradcheckOptions,
};
pub use graph::{record, record_with_gradients, BackwardFn, Ctx, GradientFn, Node};
pub use hooks::{reachable_leaves, RemovableHandle};
pub use mode::{
    detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad, set_detect_anomaly,
    GradModeGuard,
};
pub use ops::VarOperand;
pub use sparse_grad::{Gradient, SparseGrad};
pub use variable::Variable;
