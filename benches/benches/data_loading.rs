//! DataLoader throughput: one shuffled epoch of 10k MNIST-sized samples
//! (`[1, 28, 28]` f32 image + i64 class) in batches of 64, in the caller's
//! thread and on 2 workers. Reported in samples/s (the runner's
//! `loader_w0`/`loader_w2` also print GB/s).
//!
//! `cargo bench -p torchlet-benches --bench data_loading`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use torchlet_benches::build;
use torchlet_benches::workloads::LOADER_SAMPLES;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn data_loading(c: &mut Criterion) {
    for (name, id) in [("loader_w0", "workers_0"), ("loader_w2", "workers_2")] {
        let mut w = build(name);
        let mut g = c.benchmark_group("loader_mnist_10k_b64");
        g.sample_size(10);
        g.throughput(Throughput::Elements(LOADER_SAMPLES as u64));
        g.bench_function(id, |b| b.iter(|| w.step()));
        g.finish();
    }
}

criterion_group!(benches, data_loading);
criterion_main!(benches);
