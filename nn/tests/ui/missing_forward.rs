use torchlet_nn::{Linear, Module};

#[derive(Module)]
struct Net {
    fc: Linear,
}

fn main() {}
