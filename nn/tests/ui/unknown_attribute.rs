use torchlet_autograd::Variable;
use torchlet_nn::{Linear, Module, Result};

#[derive(Module)]
struct Net {
    #[module(frozen)]
    fc: Linear,
}

impl Net {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        self.fc.forward(x)
    }
}

fn main() {}
