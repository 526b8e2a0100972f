//! The checkpoint files of torchlet-train under `kill -9`
//! (`cli/scripts/kill9_check.py --checkpoints`): `train DIR ROUNDS` trains
//! a classifier in rounds of two epochs, its `BestCheckpoint` writing
//! `DIR/best.safetensors` and, after each round, the Adam state going to
//! `DIR/optimizer.safetensors`; `check DIR` loads whatever files `DIR`
//! holds — the model state strictly into the same model, the optimizer
//! state into Adam over its parameters — and fails on any other file.
//!
//! ```sh
//! cargo run --release -p torchlet-train --example checkpoint_files -- train /tmp/ck 5
//! cargo run --release -p torchlet-train --example checkpoint_files -- check /tmp/ck
//! ```

use std::path::Path;

use torchlet_data::{DataLoader, TensorDataset};
use torchlet_nn::{Linear, Module, ReLU, Sequential};
use torchlet_optim::{Adam, AdamOptions, StatefulOptimizer};
use torchlet_tensor::{DType, Generator, Tensor};
use torchlet_train::{BestCheckpoint, Metric, Progress, Trainer};

type Error = Box<dyn std::error::Error>;

/// Big enough that each file takes a while to write (0.5 MB of weights,
/// 1 MB of Adam state), so kills land inside writes.
fn model() -> Result<Sequential, Error> {
    Ok(Sequential::new()
        .append(Linear::new(64, 1024)?)
        .append(ReLU)
        .append(Linear::new(1024, 64)?)
        .append(ReLU)
        .append(Linear::new(64, 4)?))
}

/// 512 points in 64-d whose class is the sign pattern of two coordinates.
fn loader() -> Result<DataLoader<TensorDataset>, Error> {
    let mut g = Generator::new(3);
    let x = Tensor::randn_with(&[512, 64], &mut g);
    let a = x.select(1, 0)?.gt(0.0)?.to_dtype(DType::I64);
    let b = x.select(1, 1)?.gt(0.0)?.to_dtype(DType::I64);
    let y = a.mul_scalar(2.0).add(&b)?;
    let data = TensorDataset::new(vec![x, y])?;
    Ok(DataLoader::builder(data)
        .batch_size(64)
        .shuffle(true)
        .seed(1)
        .build()?)
}

fn train(dir: &Path, rounds: usize) -> Result<(), Error> {
    std::fs::create_dir_all(dir)?;
    let model = model()?;
    let data = loader()?;
    let mut opt = Adam::new(model.parameters(), AdamOptions::default().lr(1e-3))?;
    for _ in 0..rounds {
        let best = BestCheckpoint::new(dir.join("best.safetensors"), Metric::TrainLoss);
        Trainer::new(2)
            .progress(Progress::Hidden)
            .callback(best)
            .fit(&model, &mut opt, &data, None)?;
        opt.save_safetensors(dir.join("optimizer.safetensors"))?;
    }
    Ok(())
}

fn check(dir: &Path) -> Result<(), Error> {
    let model = model()?;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        match name.as_str() {
            "best.safetensors" => {
                torchlet_nn::state::load_safetensors(&model, dir.join(&name), true)?;
            }
            "optimizer.safetensors" => {
                let mut opt = Adam::new(model.parameters(), AdamOptions::default())?;
                opt.load_safetensors(dir.join(&name))?;
            }
            // A killed write leaves its hidden temporary behind.
            hidden if hidden.starts_with('.') => {}
            other => return Err(format!("{}: an unexpected file {other}", dir.display()).into()),
        }
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["train", dir, rounds] => train(Path::new(dir), rounds.parse()?),
        ["check", dir] => check(Path::new(dir)),
        _ => Err("usage: checkpoint_files train DIR ROUNDS | check DIR".into()),
    }
}
