//! `#[derive(Module)]` through the facade's `torchlet::nn` path (what the
//! derive writes for a crate that depends on `torchlet` alone).

use torchlet::nn::{Linear, Module};
use torchlet::Variable;

#[derive(Module)]
#[module(crate = torchlet::nn)]
struct Head {
    fc: Linear,
    #[param]
    temperature: Variable,
}

impl Head {
    fn forward(&self, x: &Variable) -> torchlet::nn::Result<Variable> {
        Ok(self.fc.forward(x)?.div(&self.temperature)?)
    }
}

#[test]
fn the_facade_path_reaches_everything_the_derive_writes() {
    let head = Head {
        fc: Linear::new(3, 2).unwrap(),
        temperature: Variable::parameter(torchlet::Tensor::ones(&[1])),
    };
    let names: Vec<String> = head
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["temperature", "fc.weight", "fc.bias"]);
    let y = Module::forward(&head, &Variable::constant(torchlet::Tensor::ones(&[4, 3]))).unwrap();
    assert_eq!(y.shape(), [4, 2]);
}
