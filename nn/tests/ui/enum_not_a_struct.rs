use torchlet_nn::{Linear, Module};

#[derive(Module)]
enum Net {
    Small(Linear),
    Large(Linear),
}

fn main() {}
