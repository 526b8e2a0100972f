//! Activation modules (`torch.nn.modules.activation`): [`ReLU`],
//! [`Sigmoid`], [`Tanh`], [`GELU`], [`SiLU`], [`LeakyReLU`], [`ELU`],
//! [`Softmax`] and [`LogSoftmax`]. (PyTorch keeps `MultiheadAttention` in
//! the same file; here it has its own, `attention.rs`.)

use torchlet_autograd::Variable;

use crate::error::Result;
use crate::module::Module;

/// A parameter-free elementwise activation: a unit struct whose forward is
/// `x.$method()`.
macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, $method:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;

        impl Module for $name {
            fn forward(&self, x: &Variable) -> Result<Variable> {
                Ok(x.$method())
            }
        }
    };
}

activation!(
    /// `max(x, 0)` elementwise (`torch.nn.ReLU`).
    ReLU,
    relu
);
activation!(
    /// `1 / (1 + e^-x)` elementwise (`torch.nn.Sigmoid`).
    Sigmoid,
    sigmoid
);
activation!(
    /// Hyperbolic tangent elementwise (`torch.nn.Tanh`).
    Tanh,
    tanh
);
activation!(
    /// Exact GELU `x Φ(x)` elementwise (`torch.nn.GELU()`, `approximate='none'`).
    GELU,
    gelu
);
activation!(
    /// `x · σ(x)` elementwise (`torch.nn.SiLU`, a.k.a. swish).
    SiLU,
    silu
);

/// `max(x, 0) + negative_slope · min(x, 0)` elementwise
/// (`torch.nn.LeakyReLU`, default slope `0.01`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyReLU {
    /// The slope for negative inputs.
    pub negative_slope: f64,
}

impl LeakyReLU {
    /// `LeakyReLU(negative_slope)`.
    pub fn new(negative_slope: f64) -> LeakyReLU {
        LeakyReLU { negative_slope }
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new(0.01)
    }
}

impl Module for LeakyReLU {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(x.leaky_relu(self.negative_slope))
    }
}

/// `x` for `x > 0`, `alpha · (eˣ - 1)` otherwise (`torch.nn.ELU`, default
/// `alpha = 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ELU {
    /// The saturation value for negative inputs.
    pub alpha: f64,
}

impl ELU {
    /// `ELU(alpha)`.
    pub fn new(alpha: f64) -> ELU {
        ELU { alpha }
    }
}

impl Default for ELU {
    fn default() -> Self {
        ELU::new(1.0)
    }
}

impl Module for ELU {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(x.elu(self.alpha))
    }
}

/// Softmax along `dim` (`torch.nn.Softmax(dim)`; negative counts from the
/// end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Softmax {
    /// The dim whose entries sum to one.
    pub dim: i64,
}

impl Softmax {
    /// `Softmax(dim)`.
    pub fn new(dim: i64) -> Softmax {
        Softmax { dim }
    }
}

impl Module for Softmax {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(x.softmax(self.dim)?)
    }
}

/// Log-softmax along `dim` (`torch.nn.LogSoftmax(dim)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSoftmax {
    /// The dim normalised over.
    pub dim: i64,
}

impl LogSoftmax {
    /// `LogSoftmax(dim)`.
    pub fn new(dim: i64) -> LogSoftmax {
        LogSoftmax { dim }
    }
}

impl Module for LogSoftmax {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(x.log_softmax(self.dim)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torchlet_tensor::Tensor;

    fn run(m: &dyn Module, x: &[f32], shape: &[usize]) -> Vec<f32> {
        let x = Variable::constant(Tensor::from_slice(x, shape).unwrap());
        m.forward(&x).unwrap().data().to_vec::<f32>().unwrap()
    }

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn elementwise() {
        close(
            &run(&LeakyReLU::default(), &[-2.0, 3.0], &[2]),
            &[-0.02, 3.0],
        );
        close(&run(&LeakyReLU::new(0.5), &[-2.0, 3.0], &[2]), &[-1.0, 3.0]);
        let e = (-1.0f32).exp() - 1.0;
        close(&run(&ELU::default(), &[-1.0, 2.0], &[2]), &[e, 2.0]);
        close(&run(&ELU::new(2.0), &[-1.0], &[1]), &[2.0 * e]);
        let s = 1.0 / (1.0 + (-1.0f32).exp());
        close(&run(&SiLU, &[1.0, 0.0], &[2]), &[s, 0.0]);
    }

    #[test]
    fn softmaxes() {
        let x = [1.0, 2.0, 3.0, 0.0, 0.0, 0.0];
        let z = 1.0 + 1f32.exp() + 2f32.exp();
        let want = [
            1.0 / z,
            1f32.exp() / z,
            2f32.exp() / z,
            1. / 3.,
            1. / 3.,
            1. / 3.,
        ];
        close(&run(&Softmax::new(1), &x, &[2, 3]), &want);
        close(&run(&Softmax::new(-1), &x, &[2, 3]), &want);
        let logs: Vec<f32> = want.iter().map(|p| p.ln()).collect();
        close(&run(&LogSoftmax::new(1), &x, &[2, 3]), &logs);
        let col = run(&Softmax::new(0), &x, &[2, 3]);
        close(&col[..1], &[1f32.exp() / (1f32.exp() + 1.0)]);
    }
}
