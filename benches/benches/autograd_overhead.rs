//! Autograd overhead: one recorded add of two 1-element tensors with
//! requires_grad (throughput in ops/s), and the seed network's full step
//! (zero_grad, forward, softmax + BCE, backward, SGD update).
//!
//! `cargo bench -p torchlet-benches --bench autograd_overhead`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use torchlet_autograd::Variable;
use torchlet_benches::build;
use torchlet_tensor::Tensor;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn op_overhead(c: &mut Criterion) {
    // One op per iteration here; the runner's op_overhead step does 1000.
    let a = Variable::parameter(Tensor::from_vec(vec![1.0f32], &[1]).unwrap());
    let b = Variable::parameter(Tensor::from_vec(vec![2.0f32], &[1]).unwrap());
    let mut g = c.benchmark_group("op_overhead");
    g.bench_function("add_1elem_requires_grad", |bench| {
        bench.iter(|| black_box(a.add(&b).unwrap()))
    });
    let (ta, tb) = (a.data(), b.data());
    g.bench_function("add_1elem_tensor", |bench| {
        bench.iter(|| black_box(ta.add(&tb).unwrap()))
    });
    g.finish();
}

fn seed_step(c: &mut Criterion) {
    let mut w = build("seed_b1");
    c.bench_function("seed_b1", |b| b.iter(|| w.step()));
}

criterion_group!(benches, op_overhead, seed_step);
criterion_main!(benches);
