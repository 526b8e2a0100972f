//! [`Dropout`] (`torch.nn.modules.dropout`) and the training-mode dropout
//! that [`functional::dropout`](crate::functional::dropout) shares with it.

use std::sync::atomic::{AtomicBool, Ordering};

use torchlet_autograd::Variable;
use torchlet_tensor::{with_global_generator, Generator, Tensor};

use crate::error::{NnError, Result};
use crate::module::Module;

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
