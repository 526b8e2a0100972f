//! # torchlet-jit
//!
//! torchlet's counterpart of `torch.jit`: trace a model's inference into
//! a graph, run it without autograd, and ship it as one file that runs
//! without the Rust code that defined the model.
//!
//! | PyTorch | torchlet |
//! |---|---|
//! | `torch.jit.trace(model, example)` | [`trace`] (one input), [`trace_fn`] (several) |
//! | `torch.export`'s `dynamic_shapes` (a free sequence dim) | [`trace_with`] and [`TraceOptions::sequence_dim`] |
//! | `torch.jit.freeze` + `optimize_for_inference` | [`ScriptModule::optimize`]: common-subexpression elimination, constant folding, BatchNorm folding, elementwise and epilogue fusion, dead-code elimination |
//! | `scripted(x)` | [`ScriptModule::forward`], or [`ScriptModule::forward_in`] with a [`Workspace`] (no allocation after the first call) |
//! | `scripted.graph` | [`ScriptModule::graph`] (prints like `torch.jit`'s) |
//! | `torch.jit.save` / `torch.jit.load` | [`ScriptModule::save`] / [`load`] |
//! | torchvision's `create_feature_extractor` (every layer's activation) | [`feature_extractor`] |
//!
//! Image and text models trace (recurrent stacks with packed lengths,
//! `EmbeddingBag`, attention); [`ScriptModule::memory_plan`] reports the
//! buffers reused by liveness at the traced shapes.
//!
//! ```
//! use torchlet_nn::{Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential};
//! use torchlet_tensor::Tensor;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model = Sequential::new()
//!     .append(Conv2d::new(1, 4, 3)?)
//!     .append(ReLU)
//!     .append(MaxPool2d::new(2))
//!     .append(Flatten::new())
//!     .append(Linear::new(4 * 3 * 3, 10)?);
//! let x = Tensor::rand(&[8, 1, 8, 8]);
//! let script = torchlet_jit::trace(&model, &[x.clone()])?;
//! // The graph gives the eager model's bits.
//! let eager = model.forward(&torchlet_autograd::Variable::constant(x.clone()))?.data();
//! assert_eq!(script.forward(&[x])?[0].to_vec::<f32>()?, eager.to_vec::<f32>()?);
//! // Another batch size works: the trace checked that no op holds 8.
//! assert_eq!(script.forward(&[Tensor::rand(&[3, 1, 8, 8])])?[0].shape(), [3, 10]);
//! // Another image size does not, with both shapes in the message.
//! let err = script.forward(&[Tensor::rand(&[3, 1, 9, 9])]).unwrap_err();
//! assert!(err.to_string().contains("expected f32[*, 1, 8, 8]"), "{err}");
//! # Ok(())
//! # }
//! ```
//!
//! As with `torch.jit.trace`, the graph holds the ops one run executed:
//! a branch on the input's values (`if x.sum() > 0`) would be frozen as
//! it went for the example. [`trace`] refuses the cases it can see (a
//! value computed from the inputs read with `item` or `to_vec` during the
//! trace); see [`trace_fn`] for the rest.
#![warn(missing_docs)]

mod capture;
mod dynamic;
pub mod epilogue;
mod error;
mod exec;
mod features;
mod file;
pub mod fused;
pub mod graph;
mod ops;
mod passes;
pub mod plan;
mod script;
pub mod text;

pub use capture::{trace, trace_fn, trace_fn_with, trace_with, TraceOptions};
pub use error::{JitError, Result};
pub use exec::Workspace;
pub use features::{feature_extractor, FeatureExtractor, Features};
pub use file::{load, FORMAT_VERSION, MAGIC};
pub use script::ScriptModule;
