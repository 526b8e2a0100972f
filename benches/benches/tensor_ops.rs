//! Tensor kernels: matmul at 64/256/1024 (throughput in FLOP/s), add,
//! sigmoid and sum on 4M f32, softmax of 4096x1024 over dim 1, and a
//! transposed (strided) copy (throughput in bytes/s).
//!
//! `cargo bench -p torchlet-benches --bench tensor_ops`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use torchlet_benches::{build, Workload};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Benches a workload under `group`, with its FLOPs or bytes as throughput.
fn bench(c: &mut Criterion, group: &str, id: &str, name: &str) {
    let mut w: Workload = build(name);
    let mut g = c.benchmark_group(group);
    if let Some(f) = w.flops_per_step {
        g.throughput(Throughput::Elements(f as u64)); // FLOPs
    } else if let Some(b) = w.bytes_per_step {
        g.throughput(Throughput::Bytes(b as u64));
    }
    g.bench_function(id, |b| b.iter(|| w.step()));
    g.finish();
}

fn tensor_ops(c: &mut Criterion) {
    for n in [64, 256, 1024] {
        bench(c, "matmul", &n.to_string(), &format!("matmul{n}"));
    }
    bench(c, "elementwise_4M", "add", "add4m");
    bench(c, "elementwise_4M", "sigmoid", "sigmoid4m");
    bench(c, "elementwise_4M", "sum", "sum4m");
    bench(c, "softmax", "4096x1024_dim1", "softmax4096x1024");
    bench(c, "copy", "transpose_2048x2048", "transpose2048");
}

criterion_group!(benches, tensor_ops);
criterion_main!(benches);
