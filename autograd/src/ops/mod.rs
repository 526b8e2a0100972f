//! Differentiable ops on [`Variable`](crate::Variable), one file per family.
//! Each op computes its forward with the tensor crate and records its
//! backward right beside it, written with differentiable ops so that
//! `create_graph` gives higher-order gradients.

mod binary;
pub use binary::VarOperand;
mod matmul;
mod nn;
mod reduce;
mod shape;
mod unary;

#[cfg(test)]
pub(crate) mod fdcheck;

pub(crate) use binary::sum_to;
