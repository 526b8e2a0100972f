//! Parameter-free layers: pooling, flattening, activations and dropout.

use std::sync::atomic::{AtomicBool, Ordering};

use torchlet_autograd::Variable;
use torchlet_tensor::{with_global_generator, Generator, Tensor};

use crate::error::{NnError, Result};
use crate::linear::check_image;
use crate::module::Module;

/// 2-d max pooling (`torch.nn.MaxPool2d`) over `[N, C, H, W]` or
/// `[C, H, W]`; stride defaults to the kernel size, padding to 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2d {
    /// Window size `[kH, kW]`.
    pub kernel_size: [usize; 2],
    /// Step of the window.
    pub stride: [usize; 2],
    /// Implicit `-inf` padding on both sides (at most half the kernel).
    pub padding: [usize; 2],
}

impl MaxPool2d {
    /// A square window of `kernel_size` with stride `kernel_size`
    /// (`MaxPool2d(k)`).
    pub fn new(kernel_size: usize) -> MaxPool2d {
        MaxPool2d {
            kernel_size: [kernel_size; 2],
            stride: [kernel_size; 2],
            padding: [0; 2],
        }
    }

    /// Square window, stride and padding (`MaxPool2d(k, stride, padding)`).
    pub fn with_stride(kernel_size: usize, stride: usize, padding: usize) -> MaxPool2d {
        MaxPool2d {
            kernel_size: [kernel_size; 2],
            stride: [stride; 2],
            padding: [padding; 2],
        }
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        check_image("MaxPool2d", x, None)?;
        Ok(x.max_pool2d(self.kernel_size, self.stride, self.padding)?)
    }
}

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
        Ok(x.flatten_dims(self.start_dim, self.end_dim)?)
    }
}

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

/// Dropout (`torch.nn.Dropout`): in training mode each element is zeroed
/// with probability `p` and the rest scaled by `1 / (1 - p)`; in
/// evaluation mode it is the identity. Masks come from the global
/// generator.
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    training: AtomicBool,
}

impl Dropout {
    /// Dropout with probability `p` in `[0, 1]`, in training mode.
    pub fn new(p: f64) -> Result<Dropout> {
        if !(0.0..=1.0).contains(&p) {
            return Err(NnError::config(
                "Dropout",
                format!("dropout probability has to be between 0 and 1, but got {p}"),
            ));
        }
        Ok(Dropout {
            p,
            training: AtomicBool::new(true),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

/// Training-mode dropout of `x` with probability `p` (already checked to
/// lie in `[0, 1]`), masks drawn from `g`: each element is zeroed with
/// probability `p` and the rest scaled by `1 / (1 - p)`.
pub(crate) fn dropout(x: &Variable, p: f64, g: &mut Generator) -> Result<Variable> {
    if p == 0.0 {
        return Ok(x.clone());
    }
    let dtype = x.dtype();
    if !dtype.is_float() {
        return Err(NnError::input(
            "Dropout",
            format!("expected a floating-point input, got dtype {dtype}"),
        ));
    }
    let mask = if p == 1.0 {
        Tensor::zeros_dtype(&x.shape(), dtype)
    } else {
        Tensor::bernoulli_with(&x.shape(), 1.0 - p, dtype, g).mul_scalar(1.0 / (1.0 - p))
    };
    Ok(x.mul(&Variable::constant(mask))?)
}

impl Module for Dropout {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        if !self.is_training() {
            return Ok(x.clone());
        }
        with_global_generator(|g| dropout(x, self.p, g))
    }

    fn set_local_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }
}
