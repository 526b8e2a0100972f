use std::sync::atomic::AtomicBool;

use torchlet_autograd::Variable;
use torchlet_nn::{Module, Result};

#[derive(Module)]
struct Net {
    #[module(training)]
    training: AtomicBool,
    #[module(training)]
    also_training: AtomicBool,
}

impl Net {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(x.clone())
    }
}

fn main() {}
