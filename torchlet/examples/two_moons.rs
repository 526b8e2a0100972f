//! A dataset of your own through a `DataLoader` with worker threads into an
//! MLP trained with `BCEWithLogitsLoss`: scikit-learn's two moons, ported
//! line by line from `examples/pytorch/two_moons.py`.
//!
//! `cargo run --release -p torchlet --example two_moons`

use std::f64::consts::PI;

use torchlet::prelude::*;

struct TwoMoons {
    points: Tensor,
    labels: Tensor,
}

impl TwoMoons {
    fn new(n: usize, noise: f64, seed: u64) -> Result<TwoMoons> {
        let mut g = Generator::new(seed);
        let t = Tensor::rand_with(&[n], &mut g) * PI;
        let upper = Tensor::randint_with(0, 2, &[n], &mut g)?.eq(0)?;
        let x = Tensor::where_cond(&upper, &t.cos(), &t.cos().rsub_scalar(1.0))?;
        let y = Tensor::where_cond(&upper, &t.sin(), &t.sin().rsub_scalar(0.5))?;
        let points = Tensor::stack(&[x, y], 1)? + Tensor::randn_with(&[n, 2], &mut g) * noise;
        let labels = upper.logical_not().to_dtype(DType::F32).unsqueeze(1)?;
        Ok(TwoMoons { points, labels })
    }
}

impl Dataset for TwoMoons {
    type Item = (Tensor, Tensor);
    fn len(&self) -> usize {
        self.labels.shape()[0]
    }
    fn get(&self, i: usize) -> torchlet::data::Result<(Tensor, Tensor)> {
        Ok((
            self.points.select(0, i as i64)?,
            self.labels.select(0, i as i64)?,
        ))
    }
}

fn main() -> Result<()> {
    manual_seed(0);
    let (train, test) = (TwoMoons::new(1000, 0.1, 0)?, TwoMoons::new(500, 0.1, 1)?);
    let loader = DataLoader::builder(train)
        .batch_size(32)
        .shuffle(true)
        .num_workers(2)
        .build()?;
    let model = Sequential::new()
        .append(Linear::new(2, 32)?)
        .append(ReLU)
        .append(Linear::new(32, 32)?)
        .append(ReLU)
        .append(Linear::new(32, 1)?);
    let loss_fn = BCEWithLogitsLoss::new();
    let mut optimizer = Adam::new(model.parameters(), AdamOptions::default().lr(1e-2))?;
    for _epoch in 0..20 {
        for batch in loader.iter() {
            let (x, y) = batch?;
            let loss = loss_fn.forward(&model.call(&x)?, &y)?;
            optimizer.zero_grad();
            loss.backward()?;
            optimizer.step()?;
        }
    }
    let pred = no_grad(|| model.call(&test.points))?.gt(0.0)?;
    let accuracy = pred.eq(&test.labels)?.mean().item::<f32>()?;
    println!("test accuracy {accuracy:.3}");
    assert!(accuracy > 0.95, "accuracy {accuracy}");
    Ok(())
}
