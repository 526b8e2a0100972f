//! The course's worked example: a 3-3-3-2 network with sigmoid hidden
//! layers, a softmax output and binary cross-entropy, computed forward by
//! hand-set weights, then trained with the update rule `w ← w − η ∇w`.
//!
//! `cargo run --release -p torchlet --example seed_mlp`
//!
//! Expected (the course's slides, to 3 decimals): a1 = [0.36, 0.37, 0.38],
//! h1 = [0.589, 0.591, 0.593], a2 = [0.054, 0.064, 0.074],
//! h2 = [0.513, 0.516, 0.518], a3 = [1.558, 1.568], h3 = [0.497, 0.502],
//! loss = 0.698.

use torchlet::autograd::functional as F;
use torchlet::prelude::*;
use torchlet::tensor::functional::Reduction;

/// The network's parameters: W1, b1, W2, b2, W3, b3.
pub struct SeedNet {
    /// `[W1, b1, W2, b2, W3, b3]`, each a leaf that requires grad.
    pub params: Vec<Variable>,
}

/// Every intermediate value of one forward pass.
pub struct SeedForward {
    /// Pre-activations and activations of each layer.
    pub a1: Variable,
    /// sigmoid(a1).
    pub h1: Variable,
    /// W2 h1 + b2.
    pub a2: Variable,
    /// sigmoid(a2).
    pub h2: Variable,
    /// W3 h2 + b3.
    pub a3: Variable,
    /// softmax(a3): the prediction ŷ.
    pub h3: Variable,
    /// Binary cross-entropy of ŷ against y.
    pub loss: Variable,
}

fn param(data: Vec<f32>, shape: &[usize]) -> Result<Variable, AutogradError> {
    Ok(Variable::parameter(Tensor::from_vec(data, shape)?))
}

impl SeedNet {
    /// The slides' weights: W1 all 0.05, W2 all 0.025, W3 all 1.0.
    pub fn new() -> Result<SeedNet, AutogradError> {
        Ok(SeedNet {
            params: vec![
                param(vec![0.05; 9], &[3, 3])?,
                param(vec![0.01, 0.02, 0.03], &[3])?,
                param(vec![0.025; 9], &[3, 3])?,
                param(vec![0.01, 0.02, 0.03], &[3])?,
                param(vec![1.0; 6], &[2, 3])?,
                param(vec![0.01, 0.02], &[2])?,
            ],
        })
    }

    /// a_i = W_i h_(i-1) + b_i; h_i = g(a_i); loss = BCE(h3, y).
    pub fn forward(&self, x: &Variable, y: &Variable) -> Result<SeedForward, AutogradError> {
        let p = &self.params;
        let a1 = p[0].matmul(x)?.add(&p[1])?;
        let h1 = a1.sigmoid();
        let a2 = p[2].matmul(&h1)?.add(&p[3])?;
        let h2 = a2.sigmoid();
        let a3 = p[4].matmul(&h2)?.add(&p[5])?;
        let h3 = a3.softmax(0)?;
        let loss = F::binary_cross_entropy(&h3, y, None, Reduction::Mean)?;
        Ok(SeedForward {
            a1,
            h1,
            a2,
            h2,
            a3,
            h3,
            loss,
        })
    }

    /// One step of the update rule `w ← w − η ∇w` on every parameter, then
    /// clears the gradients.
    pub fn sgd_step(&self, lr: f64) -> Result<(), AutogradError> {
        for p in &self.params {
            if let Some(g) = p.grad() {
                p.update_data(|w| w.add_scaled_(&g, -lr))??;
            }
            p.zero_grad();
        }
        Ok(())
    }
}

/// The input and target of the worked example.
pub fn seed_data() -> Result<(Variable, Variable), AutogradError> {
    let x = Variable::constant(Tensor::from_vec(vec![1.5f32, 2.5, 3.0], &[3])?);
    let y = Variable::constant(Tensor::from_vec(vec![1.0f32, 0.0], &[2])?);
    Ok((x, y))
}

fn show(name: &str, v: &Variable) -> Result<(), AutogradError> {
    let values: Vec<String> = v
        .to_vec::<f32>()?
        .iter()
        .map(|x| format!("{x:.3}"))
        .collect();
    println!("{name:>4} = [{}]", values.join(", "));
    Ok(())
}

#[allow(dead_code)] // the test includes this file for its functions only
fn main() -> Result<(), AutogradError> {
    let net = SeedNet::new()?;
    let (x, y) = seed_data()?;
    let f = net.forward(&x, &y)?;
    println!("Forward pass with the course's weights:");
    for (name, v) in [
        ("a1", &f.a1),
        ("h1", &f.h1),
        ("a2", &f.a2),
        ("h2", &f.h2),
        ("a3", &f.a3),
        ("h3", &f.h3),
    ] {
        show(name, v)?;
    }
    println!("loss = {:.4}", f.loss.item::<f32>()?);

    f.loss.backward()?;
    println!("\nGradients of the loss:");
    for (name, p) in ["W1", "b1", "W2", "b2", "W3", "b3"].iter().zip(&net.params) {
        println!(
            "∇{name} = {}",
            p.grad().expect("every parameter gets a gradient")
        );
    }

    println!("\nTraining with w ← w − η∇w (η = 0.5):");
    net.sgd_step(0.5)?;
    for step in 1..=10 {
        let f = net.forward(&x, &y)?;
        println!("step {step:2}: loss = {:.4}", f.loss.item::<f32>()?);
        f.loss.backward()?;
        net.sgd_step(0.5)?;
    }
    Ok(())
}
