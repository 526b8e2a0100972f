//! Tensor ops, one file per family: each holds the public methods, their
//! kernels and their unit tests.

mod binary;
mod index;
mod inplace;
mod matmul;
mod norm;
pub(crate) mod reduce;
mod softmax;
mod unary;
mod conv;
mod pool;

pub use norm::BatchNormStats;
