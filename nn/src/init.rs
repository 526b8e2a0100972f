//! PyTorch's default initialisation of layer parameters.

use torchlet_autograd::Variable;
use torchlet_tensor::{with_global_generator, DType, Tensor};

/// A float32 parameter of `shape` drawn from `U(-bound, bound)` with the
/// global generator (see [`torchlet_tensor::manual_seed`]).
pub fn uniform_parameter(shape: &[usize], bound: f64) -> Variable {
    Variable::parameter(with_global_generator(|g| {
        Tensor::uniform_with(shape, -bound, bound, DType::F32, g)
    }))
}

/// The bound `1/√fan_in` PyTorch's layers use both for their weights
/// (`kaiming_uniform_(a=√5)` gives `gain·√(3/fan_in) = 1/√fan_in`) and their
/// biases; `0` when `fan_in` is `0`.
pub fn default_bound(fan_in: usize) -> f64 {
    if fan_in == 0 {
        0.0
    } else {
        1.0 / (fan_in as f64).sqrt()
    }
}
