//! The course's pipeline on the digits built into torchlet: data
//! collection → transformations → training → model → testing, with a
//! multi-layer perceptron and the reusable training loop (`Trainer`).
//!
//! `cargo run --release -p torchlet --example mnist_mlp [EPOCHS]`

use torchlet::prelude::*;
use torchlet::train::Progress;
use torchlet::vision::transforms::Normalize;
use torchlet::vision::Mnist;

fn main() -> Result<()> {
    let epochs = std::env::args()
        .nth(1)
        .map_or(Ok(3), |s| s.parse())
        .expect("EPOCHS is a number");
    manual_seed(0);

    // Data collection: 8,000 training and 2,000 test digits, 28x28 grey.
    // Transformations: to a tensor in [0, 1], then MNIST's mean and std.
    let normalize = || Normalize::new(vec![0.1307], vec![0.3081]);
    let train = Mnist::embedded(true)?.with_transform(normalize()?);
    let test = Mnist::embedded(false)?.with_transform(normalize()?);
    println!("{} training and {} test images", train.len(), test.len());
    let train = DataLoader::builder(train)
        .batch_size(64)
        .shuffle(true)
        .seed(0)
        .build()?;
    let test = DataLoader::builder(test).batch_size(500).build()?;

    // Model: each image flattened to 784 inputs, two hidden layers.
    let model = Sequential::new()
        .append(Flatten::new())
        .append(Linear::new(784, 128)?)
        .append(ReLU)
        .append(Linear::new(128, 64)?)
        .append(ReLU)
        .append(Linear::new(64, 10)?);
    println!(
        "{} parameters",
        model.parameters().iter().map(|p| p.numel()).sum::<usize>()
    );

    // Training: cross-entropy, Adam, one line of metrics per epoch.
    let mut optimizer = Adam::new(model.parameters(), AdamOptions::default().lr(1e-3))?;
    let mut trainer = Trainer::new(epochs)
        .progress(Progress::Hidden)
        .log_epochs(true)
        .seed(0);
    let history = trainer.fit(&model, &mut optimizer, &train, Some(&test))?;

    // Testing: accuracy on digits the model never saw.
    let result = trainer.evaluate(&model, &test)?;
    println!(
        "test loss {:.4}, test accuracy {:.3}",
        result.loss, result.accuracy
    );
    let first = &history.epochs[0];
    assert!(history.last().expect("an epoch").train_loss < first.train_loss || epochs == 1);
    assert!(result.accuracy > 0.9, "accuracy {}", result.accuracy);
    Ok(())
}
