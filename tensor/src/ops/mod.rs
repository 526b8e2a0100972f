//! Tensor ops, one file per family: each holds the public methods, their
//! kernels and their unit tests.

mod binary;
mod conv;
mod index;
mod inplace;
mod matmul;
mod norm;
mod pool;
pub(crate) mod reduce;
mod softmax;
mod unary;

pub use norm::BatchNormStats;
