//! The small model the quantization tests share (included by path from
//! onnx-export's tests too): conv → bn → relu → max-pool → flatten →
//! linear → relu → linear on `[N, 1, 8, 8]`, with its inputs.

#![allow(dead_code)] // each test file uses a different part

use torchlet_autograd::Variable;
use torchlet_nn::{BatchNorm2d, Conv2d, Conv2dOptions, Linear, Module, Result as NnResult};
use torchlet_tensor::Tensor;

/// conv → bn → relu → max-pool → flatten → linear → relu → linear.
/// Fields are public so tests can build variants.
pub struct Small {
    pub conv: Conv2d,
    pub bn: BatchNorm2d,
    pub fc1: Linear,
    pub fc2: Linear,
}

impl Small {
    /// Seeded weights and BatchNorm statistics away from (0, 1).
    pub fn new() -> Small {
        torchlet_tensor::manual_seed(7);
        let small = Small {
            conv: Conv2d::with_options(1, 4, [3, 3], Conv2dOptions::default().padding(1)).unwrap(),
            bn: BatchNorm2d::new(4).unwrap(),
            fc1: Linear::new(4 * 4 * 4, 16).unwrap(),
            fc2: Linear::new(16, 3).unwrap(),
        };
        // Running statistics away from (0, 1), so folding changes weights.
        small.train();
        for i in 0..5 {
            small.forward(&Variable::constant(input(16, i))).unwrap();
        }
        small.eval();
        small
    }
}

impl Module for Small {
    fn forward(&self, x: &Variable) -> NnResult<Variable> {
        let y = self.bn.forward(&self.conv.forward(x)?)?.relu();
        let y = y.max_pool2d([2, 2], [2, 2], [0, 0])?.flatten(1, -1)?;
        self.fc2.forward(&self.fc1.forward(&y)?.relu())
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![
            ("conv", &self.conv),
            ("bn", &self.bn),
            ("fc1", &self.fc1),
            ("fc2", &self.fc2),
        ]
    }
}

/// `[n, 1, 8, 8]` values in [-0.6, 1.4) from a xorshift stream.
pub fn input(n: usize, seed: u64) -> Tensor {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<f32> = (0..n * 64)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 2001) as f32 / 1000.0 - 0.6
        })
        .collect();
    Tensor::from_vec(v, &[n, 1, 8, 8]).unwrap()
}

/// The largest elementwise difference of two f32 tensors.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    let (a, b) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
