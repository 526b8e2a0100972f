//! PyTorch's quickstart, ported line by line: a small CNN of your own on
//! MNIST, a hand-written training loop, evaluation, then the weights saved
//! and loaded into a fresh model. Its PyTorch twin is
//! `examples/pytorch/quickstart_mnist.py`.
//!
//! `cargo run --release -p torchlet --example quickstart_mnist`

use torchlet::prelude::*;
use torchlet::vision::Mnist;

#[derive(Module)]
struct Net {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc: Linear,
}

impl Net {
    fn new() -> Result<Net> {
        let padded = Conv2dOptions::default().padding(1);
        Ok(Net {
            conv1: Conv2d::with_options(1, 8, 3, padded)?,
            conv2: Conv2d::with_options(8, 16, 3, padded)?,
            pool: MaxPool2d::new(2),
            fc: Linear::new(16 * 7 * 7, 10)?,
        })
    }

    fn forward(&self, x: &Variable) -> torchlet::nn::Result<Variable> {
        let x = self.pool.forward(&self.conv1.forward(x)?.relu())?;
        let x = self.pool.forward(&self.conv2.forward(&x)?.relu())?;
        self.fc.forward(&x.flatten(1, -1)?)
    }
}

fn main() -> Result<()> {
    manual_seed(0);
    let train_data = Mnist::embedded(true)?;
    let test_data = Mnist::embedded(false)?;
    let train_loader = DataLoader::builder(train_data).batch_size(64).shuffle(true);
    let train_loader = train_loader.build()?;
    let test_loader = DataLoader::builder(test_data).batch_size(256).build()?;

    let model = Net::new()?;
    let loss_fn = CrossEntropyLoss::new();
    let mut optimizer = Adam::new(model.parameters(), AdamOptions::default().lr(1e-3))?;

    for epoch in 0..3 {
        model.train();
        let mut last = 0.0;
        for batch in train_loader.iter() {
            let (x, y) = batch?;
            let loss = loss_fn.forward(&model.call(&x)?, &y)?;
            optimizer.zero_grad();
            loss.backward()?;
            optimizer.step()?;
            last = loss.item::<f32>()?;
        }
        println!("epoch {epoch}: loss {last:.4}");
    }

    model.eval();
    let _no_grad = GradModeGuard::new(false); // torch.no_grad() until the end
    let mut correct = 0;
    for batch in test_loader.iter() {
        let (x, y) = batch?;
        correct += model.call(&x)?.argmax(1)?.eq(&y)?.sum().item::<i64>()?;
    }
    let accuracy = correct as f64 / test_loader.dataset().len() as f64;
    println!("accuracy {accuracy:.3}");

    let path = std::env::temp_dir().join("torchlet_quickstart.safetensors");
    model.save_safetensors(&path)?;
    let reloaded = Net::new()?;
    reloaded.load_safetensors(&path, true)?;
    reloaded.eval();
    let (x, _) = test_loader.iter().next().expect("a test batch")?;
    let same = model.call(&x)?.equal(&reloaded.call(&x)?);
    println!("reloaded model gives the same outputs: {same}");
    assert!(
        same && accuracy > 0.9,
        "accuracy {accuracy}, same outputs {same}"
    );
    Ok(())
}
