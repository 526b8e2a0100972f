//! Helpers shared by the jit's test files.

#![allow(dead_code)] // each test file uses a different part

use torchlet_tensor::Tensor;

/// An f32 tensor's elements as bits, for bit-for-bit comparisons.
pub fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}
