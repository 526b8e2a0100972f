//! The `torch.sparse` ops, one file per family; each op's forward,
//! backward and validation sit together.

mod arith;
pub(crate) mod matmul;
mod reduce;
mod select;

pub use reduce::Summed;
