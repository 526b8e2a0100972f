use torchlet_autograd::Variable;
use torchlet_nn::{Module, Result};

#[derive(Module)]
struct Scale {
    #[param]
    #[buffer]
    factor: Variable,
}

impl Scale {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(x.clone())
    }
}

fn main() {}
