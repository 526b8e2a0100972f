//! # torchlet-tensor
//!
//! n-dimensional tensors with PyTorch semantics, and the CPU kernels behind
//! them: broadcasting elementwise math, reductions, indexing, matmul (on
//! [faer](https://docs.rs/faer)), convolution, pooling and normalization.
//!
//! A [`Tensor`] is dynamically typed ([`DType`]: f32, f64, i64, bool), holds
//! its elements in shared storage behind an `Arc`, and describes them with a
//! [`Layout`] (shape, strides, offset), so views cost no copy. Ops return new
//! tensors; fallible ones return [`Result`] with a [`TensorError`] that names
//! the op and the shapes involved.
//!
//! ## The course's first lesson
//!
//! Creating tensors of 0 to 3 dimensions, manipulating them, reducing them
//! and applying sigmoid and softmax, as in the beginners' PyTorch course:
//!
//! ```
//! use torchlet_tensor::{Tensor, TensorError};
//!
//! fn main() -> Result<(), TensorError> {
//!     let scalar = Tensor::scalar(7.0f32);                       // 0-dim
//!     let vector = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?; // 1-dim
//!     let a = Tensor::from_vec((1..=9).map(|v| v as f32).collect(), &[3, 3])?; // 2-dim
//!     let b = a.neg();
//!     let stacked = Tensor::stack(&[&a, &b], 0)?;               // 3-dim
//!     assert_eq!((scalar.dim(), vector.dim(), a.dim(), stacked.dim()), (0, 1, 2, 3));
//!
//!     assert_eq!(a.ravel().shape(), &[9]);
//!     assert_eq!(a.reshape(&[1, 9])?.shape(), &[1, 9]);
//!     assert_eq!(a.transpose(0, 1)?.get::<f32>(&[0, 1])?, 4.0);
//!     assert_eq!(Tensor::cat(&[&a, &b], 1)?.shape(), &[3, 6]);
//!
//!     assert_eq!(a.sum().item::<f32>()?, 45.0);
//!     assert_eq!(a.sum_dim(0)?.to_vec::<f32>()?, vec![12.0, 15.0, 18.0]);
//!     assert_eq!(a.sum_dim(1)?.to_vec::<f32>()?, vec![6.0, 15.0, 24.0]);
//!     assert_eq!(a.mean().item::<f32>()?, 5.0);
//!     assert_eq!(a.get::<f32>(&[1, 2])?, 6.0);
//!
//!     let h = a.sigmoid();
//!     assert!((h.get::<f32>(&[0, 0])? - 0.7310586).abs() < 1e-6);
//!     let down = a.softmax(0)?;   // each column sums to 1
//!     let across = a.softmax(1)?; // each row sums to 1
//!     assert!((down.sum_dim(0)?.get::<f32>(&[2])? - 1.0).abs() < 1e-6);
//!     assert!((across.sum_dim(1)?.get::<f32>(&[0])? - 1.0).abs() < 1e-6);
//!     println!("{across}");
//!     Ok(())
//! }
//! ```
//!
//! ## Threads
//!
//! Kernels run on the caller's thread for small inputs and on a torchlet
//! thread team above size thresholds; [`set_num_threads`] sizes the team like
//! `torch.set_num_threads`. Matmul splits large products into row or column
//! blocks, one faer GEMM per thread, and keeps small ones sequential.
//!
//! ## SIMD
//!
//! Elementwise loops, reductions, softmax, optimizer steps and LSTM cells
//! are compiled for the baseline target, AVX2 and AVX-512, and the best
//! level the CPU runs is picked at run time ([`simd_level`]; `TORCHLET_SIMD`
//! forces one, [`with_simd_level`] does so in tests). Every level gives the
//! same bits.
#![warn(missing_docs)]

pub mod buffers;
mod create;
mod display;
mod dtype;
mod error;
pub mod functional;
mod gemm;
pub mod io;
mod layout;
pub mod math;
mod ops;
mod parallel;
mod random;
mod scratch;
mod simd;
mod storage;
mod tensor;
mod view;

pub use buffers::BufferPool;
pub use dtype::{DType, Element, Float, Numeric};
pub use error::{Result, TensorError};
pub use layout::{broadcast_shapes, contiguous_strides, normalize_dim, Layout};
pub use ops::{AdamStep, BatchNormStats, MaxPool2dWindow, Operand, SgdStep};
pub use parallel::{
    get_num_threads, get_spin_time, in_inline_scope, parallel_split_mut, run_inline,
    set_num_threads, set_spin_time, team_jobs_on_this_thread, would_parallelize,
};
pub use random::{
    manual_seed, use_thread_generator, with_global_generator, Generator, ThreadGenerator,
    DEFAULT_SEED,
};
pub use simd::{run_kernel, simd_level, with_simd_level, Kernel, SimdLevel};
pub use storage::Storage;
pub use tensor::Tensor;
