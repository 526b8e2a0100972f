//! Full training steps (zero_grad, forward, loss, backward, optimizer
//! step) of the workloads compared with PyTorch: `mlp_b64`, `mlp_b256`,
//! `lenet_b64`, `lstm_b32` (see `torchlet_benches::workloads`).
//!
//! `cargo bench -p torchlet-benches --bench training_steps`

use criterion::{criterion_group, criterion_main, Criterion};
use torchlet_benches::build;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn training_steps(c: &mut Criterion) {
    let mut g = c.benchmark_group("training_step");
    g.sample_size(20);
    for name in ["mlp_b64", "mlp_b256", "lenet_b64", "lstm_b32"] {
        let mut w = build(name);
        g.bench_function(name, |b| b.iter(|| w.step()));
    }
    g.finish();
}

criterion_group!(benches, training_steps);
criterion_main!(benches);
