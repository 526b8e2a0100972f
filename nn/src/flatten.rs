//! [`Flatten`] (`torch.nn.modules.flatten`).

use torchlet_autograd::Variable;

use crate::error::Result;
use crate::module::Module;

/// Flattens dims `start_dim..=end_dim` into one (`torch.nn.Flatten`,
/// defaults `start_dim = 1`, `end_dim = -1`: keeps the batch dim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flatten {
    /// First dim to flatten (negative counts from the end).
    pub start_dim: i64,
    /// Last dim to flatten (negative counts from the end).
    pub end_dim: i64,
}

impl Flatten {
    /// `Flatten()`: `[N, *] → [N, prod(*)]`.
    pub fn new() -> Flatten {
        Flatten {
            start_dim: 1,
            end_dim: -1,
        }
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten::new()
    }
}

impl Module for Flatten {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(x.flatten(self.start_dim, self.end_dim)?)
    }
}
