use torchlet_autograd::Variable;
use torchlet_nn::{Linear, Module, Result};

#[derive(Module)]
struct Net {
    fc: Linear,
    width: usize,
}

impl Net {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        self.fc.forward(x)
    }
}

fn main() {}
