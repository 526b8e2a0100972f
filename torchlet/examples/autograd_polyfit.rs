//! PyTorch's autograd tutorial, ported line by line: fit
//! `y = a + b x + c x² + d x³` to `sin(x)` on `[-π, π]` with gradients from
//! `backward` and a hand-written gradient-descent step. Its PyTorch twin
//! is `examples/pytorch/autograd_polyfit.py`.
//!
//! `cargo run --release -p torchlet --example autograd_polyfit`

use std::f64::consts::PI;

use torchlet::prelude::*;

fn main() -> Result<()> {
    manual_seed(0);
    let x = Tensor::linspace(-PI, PI, 2000);
    let y = x.sin();
    let [a, b, c, d] = [(); 4].map(|_| Variable::parameter(Tensor::randn(&[])));
    let learning_rate = 1e-6;
    for t in 0..2000 {
        let y_pred = &a + &b * &x + &c * &x.pow(2)? + &d * &x.pow(3)?;
        let loss = (y_pred - &y).pow(2)?.sum();
        if t % 100 == 99 {
            println!("{t} {}", loss.item::<f32>()?);
        }
        loss.backward()?;
        for p in [&a, &b, &c, &d] {
            p.sub_scaled_(&p.grad().expect("backward set it"), learning_rate)?;
            p.zero_grad();
        }
    }
    let [a, b, c, d] = [a, b, c, d].map(|p| p.item::<f32>().expect("a 0-d value"));
    println!("Result: y = {a} + {b} x + {c} x^2 + {d} x^3");
    // Near sin's least-squares cubic on [-pi, pi]: b = 0.86, d = -0.09.
    let near = (b - 0.86).abs() < 0.05 && (d + 0.09).abs() < 0.02;
    assert!(near, "b {b}, d {d}");
    Ok(())
}
