//! # torchlet-tensor
//!
//! n-dimensional tensors with PyTorch semantics, and the CPU kernels behind
//! them: broadcasting elementwise math, reductions, indexing, matmul (on
//! [faer](https://docs.rs/faer)), convolution, pooling and normalization.
//!
//! ```
//! use torchlet_tensor::Tensor;
//! # fn main() -> Result<(), torchlet_tensor::TensorError> {
//! let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
//! let b = Tensor::ones(&[2]);
//! let c = a.add(&b)?; // broadcasting, like `a + b` in PyTorch
//! assert_eq!(c.to_vec::<f32>()?, vec![2.0, 3.0, 4.0, 5.0]);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod create;
mod display;
mod dtype;
mod error;
pub mod functional;
mod gemm;
mod layout;
pub mod math;
mod ops;
mod parallel;
mod random;
mod simd;
mod storage;
mod tensor;
mod view;

pub use dtype::{DType, Element, Float, Numeric};
pub use error::{Result, TensorError};
pub use ops::BatchNormStats;
pub use layout::{broadcast_shapes, contiguous_strides, normalize_dim, Layout};
pub use parallel::{get_num_threads, set_num_threads};
pub use random::{manual_seed, with_global_generator, Generator, DEFAULT_SEED};
pub use storage::Storage;
pub use tensor::Tensor;
