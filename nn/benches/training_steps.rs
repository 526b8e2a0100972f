//! Full training steps (zero_grad, forward, loss, backward, optimizer
//! step) of three small models on random in-process batches:
//!
//! - `mlp_b64`: MLP 784-256-128-10 with ReLU, cross-entropy, batch 64,
//!   SGD (lr 0.01, momentum 0.9);
//! - `lenet_b64`: LeNet-5 on 1x28x28 inputs, batch 64, Adam (lr 1e-3);
//! - `lstm_b32`: Embedding(5000, 64) -> LSTM(64 -> 128) -> last hidden
//!   -> Linear(128, 4), sequence 32, batch 32, Adam (lr 1e-3).
//!
//! `cargo bench -p torchlet-nn --bench training_steps`
//!
//! Like torchlet's binaries, the bench runs on mimalloc: a training step
//! allocates and frees multi-megabyte buffers, which glibc's malloc hands
//! back to the kernel and faults in again on every step (a third of the
//! LSTM step when measured).

use std::hint::black_box;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion};
use torchlet_autograd::Variable;
use torchlet_nn::{
    Conv2d, Conv2dOptions, CrossEntropyLoss, Embedding, Flatten, Linear, MaxPool2d, Module, ReLU,
    Sequential, LSTM,
};
use torchlet_optim::{Adam, AdamOptions, Optimizer, Sgd, SgdOptions};
use torchlet_tensor::Tensor;

/// One step: zero_grad, forward, cross-entropy, backward, update.
fn step(
    opt: &mut dyn Optimizer,
    forward: &dyn Fn() -> Variable,
    loss_fn: &CrossEntropyLoss,
    target: &Tensor,
) -> Variable {
    opt.zero_grad();
    let logits = forward();
    let loss = loss_fn.forward(&logits, target).unwrap();
    loss.backward().unwrap();
    opt.step().unwrap();
    loss
}

fn mlp_b64(c: &mut Criterion) {
    torchlet_tensor::manual_seed(0);
    let model = Sequential::new()
        .append(Linear::new(784, 256).unwrap())
        .append(ReLU)
        .append(Linear::new(256, 128).unwrap())
        .append(ReLU)
        .append(Linear::new(128, 10).unwrap());
    let params = model
        .named_parameters()
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let opts = SgdOptions {
        lr: 0.01,
        momentum: 0.9,
        ..Default::default()
    };
    let mut opt = Sgd::new(params, opts).unwrap();
    let x = Variable::constant(Tensor::randn(&[64, 784]));
    let y = Tensor::randint(0, 10, &[64]).unwrap();
    let loss_fn = CrossEntropyLoss::new();
    let forward = || model.forward(&x).unwrap();
    c.bench_function("mlp_b64", |b| {
        b.iter(|| black_box(step(&mut opt, &forward, &loss_fn, &y)))
    });
}

fn lenet_b64(c: &mut Criterion) {
    torchlet_tensor::manual_seed(0);
    let model = Sequential::new()
        .append(Conv2d::with_options(1, 6, [5, 5], Conv2dOptions::default().padding(2)).unwrap())
        .append(ReLU)
        .append(MaxPool2d::new(2))
        .append(Conv2d::new(6, 16, 5).unwrap())
        .append(ReLU)
        .append(MaxPool2d::new(2))
        .append(Flatten::new())
        .append(Linear::new(400, 120).unwrap())
        .append(ReLU)
        .append(Linear::new(120, 84).unwrap())
        .append(ReLU)
        .append(Linear::new(84, 10).unwrap());
    let params = model
        .named_parameters()
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let mut opt = Adam::new(params, AdamOptions::default()).unwrap();
    let x = Variable::constant(Tensor::randn(&[64, 1, 28, 28]));
    let y = Tensor::randint(0, 10, &[64]).unwrap();
    let loss_fn = CrossEntropyLoss::new();
    let forward = || model.forward(&x).unwrap();
    c.bench_function("lenet_b64", |b| {
        b.iter(|| black_box(step(&mut opt, &forward, &loss_fn, &y)))
    });
}

fn lstm_b32(c: &mut Criterion) {
    torchlet_tensor::manual_seed(0);
    let embedding = Embedding::new(5000, 64).unwrap();
    let lstm = LSTM::new(64, 128).unwrap();
    let head = Linear::new(128, 4).unwrap();
    let params = embedding
        .named_parameters()
        .into_iter()
        .chain(lstm.named_parameters())
        .chain(head.named_parameters())
        .map(|(_, p)| p)
        .collect();
    let mut opt = Adam::new(params, AdamOptions::default()).unwrap();
    // [T, N] token ids (sequence-first, LSTM's default layout).
    let tokens = Tensor::randint(0, 5000, &[32, 32]).unwrap();
    let y = Tensor::randint(0, 4, &[32]).unwrap();
    let loss_fn = CrossEntropyLoss::new();
    let forward = || {
        let emb = embedding.forward_indices(&tokens).unwrap(); // [T, N, 64]
        let (_, h_n, _) = lstm.forward_with_state(&emb, None).unwrap(); // [1, N, 128]
        head.forward(&h_n.select(0, 0).unwrap()).unwrap()
    };
    c.bench_function("lstm_b32", |b| {
        b.iter(|| black_box(step(&mut opt, &forward, &loss_fn, &y)))
    });
}

criterion_group!(benches, mlp_b64, lenet_b64, lstm_b32);
criterion_main!(benches);
