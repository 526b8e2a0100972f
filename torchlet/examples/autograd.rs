//! The course's worked network (3-3-3-2: sigmoid, sigmoid, softmax, binary
//! cross-entropy; W1 all 0.05, W2 all 0.025, W3 all 1.0) differentiated
//! twice: by hand, with the chain rule written out layer by layer, and by
//! autograd's `backward`. The two agree; then one step of the update rule
//! `w ← w − η ∇w` lowers the loss.
//!
//! `cargo run --release -p torchlet --example autograd`

use torchlet::prelude::*;

/// `[W1, b1, W2, b2, W3, b3]` of the slides, as f64 leaves.
fn parameters() -> Result<Vec<Variable>> {
    let p = |v: Vec<f64>, s: &[usize]| -> Result<Variable> {
        Ok(Variable::parameter(Tensor::from_vec(v, s)?))
    };
    Ok(vec![
        p(vec![0.05; 9], &[3, 3])?,
        p(vec![0.01, 0.02, 0.03], &[3])?,
        p(vec![0.025; 9], &[3, 3])?,
        p(vec![0.01, 0.02, 0.03], &[3])?,
        p(vec![1.0; 6], &[2, 3])?,
        p(vec![0.01, 0.02], &[2])?,
    ])
}

/// a_i = W_i h_(i-1) + b_i, h_i = g(a_i); returns every h and the loss.
fn forward(w: &[Variable], x: &Tensor, y: &Tensor) -> Result<(Vec<Variable>, Variable)> {
    let layer = |h: &Variable, i: usize| w[2 * i].matmul(h)?.add(&w[2 * i + 1]);
    let h1 = layer(&Variable::from(x), 0)?.sigmoid();
    let h2 = layer(&h1, 1)?.sigmoid();
    let h3 = layer(&h2, 2)?.softmax(0)?;
    // BCE, averaged over the two outputs: -(1/N) Σ y log ŷ + (1 - y) log(1 - ŷ).
    let loss = BCELoss::new().forward(&h3, y)?;
    Ok((vec![Variable::from(x), h1, h2, h3], loss))
}

/// The gradients by hand, from the values of the forward pass.
fn by_hand(w: &[Variable], h: &[Variable], y: &Tensor) -> Result<Vec<Tensor>> {
    let (h, y) = (h.iter().map(|v| v.data()).collect::<Vec<_>>(), y.clone());
    let n = y.numel() as f64;
    // dL/dŷ = -(y/ŷ - (1-y)/(1-ŷ)) / N, then through softmax: ŷ ⊙ (g - ŷ·g).
    let g = ((&y / &h[3]) - (y.rsub_scalar(1.0) / h[3].rsub_scalar(1.0))) * (-1.0 / n);
    let mut delta = &h[3] * (&g - (&g * &h[3]).sum());
    let mut grads = vec![Tensor::zeros(&[0]); 6];
    for i in (0..3).rev() {
        // dL/dW_i = δ_i h_(i-1)ᵀ, dL/db_i = δ_i; then back through W_i and σ'.
        grads[2 * i] = delta.unsqueeze(1)?.matmul(&h[i].unsqueeze(0)?)?;
        grads[2 * i + 1] = delta.clone();
        if i > 0 {
            let back = w[2 * i].data().t()?.matmul(&delta)?;
            delta = back * &h[i] * h[i].rsub_scalar(1.0);
        }
    }
    Ok(grads)
}

fn main() -> Result<()> {
    let x = Tensor::from_vec(vec![1.5f64, 2.5, 3.0], &[3])?;
    let y = Tensor::from_vec(vec![1.0f64, 0.0], &[2])?;
    let w = parameters()?;
    let (h, loss) = forward(&w, &x, &y)?;
    println!(
        "h1 = {}\nh2 = {}\nh3 = ŷ = {}\nloss = {:.4}",
        h[1],
        h[2],
        h[3],
        loss.item::<f64>()?
    );
    // The slides: h3 = [0.497, 0.502], loss 0.6981 (from rounded values).
    assert!((loss.item::<f64>()? - 0.698).abs() < 1e-3);

    let hand = by_hand(&w, &h, &y)?;
    loss.backward()?;
    let names = ["W1", "b1", "W2", "b2", "W3", "b3"];
    for ((name, p), g) in names.iter().zip(&w).zip(&hand) {
        let auto = p.grad().expect("backward reached every parameter");
        let diff = (&auto - g).abs().max()?.item::<f64>()?;
        println!("∇{name} by autograd:\n{auto}\n   largest difference from the hand-written chain rule: {diff:.1e}");
        assert!(diff < 1e-12, "{name}: {diff}");
    }

    let lr = 0.5;
    for p in &w {
        p.sub_scaled_(&p.grad().expect("a gradient"), lr)?;
    }
    let (_, after) = forward(&w, &x, &y)?;
    println!(
        "after w ← w − {lr}·∇w: loss {:.4} (was {:.4})",
        after.item::<f64>()?,
        loss.item::<f64>()?
    );
    assert!(after.item::<f64>()? < loss.item::<f64>()?);
    Ok(())
}
