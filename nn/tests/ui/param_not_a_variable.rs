use torchlet_autograd::Variable;
use torchlet_nn::{Module, Result};
use torchlet_tensor::Tensor;

#[derive(Module)]
struct Scale {
    #[param]
    factor: Tensor,
}

impl Scale {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(x.clone())
    }
}

fn main() {}
