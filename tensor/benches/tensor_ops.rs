//! Criterion benchmarks for the tensor kernels the project tracks against
//! PyTorch: matmul (64, 256, 1024 square), add and sigmoid on 4M f32, sum
//! of 4M, softmax over dim 1 of 4096x1024, and a transposed copy.
//!
//! `cargo bench -p torchlet-tensor --bench tensor_ops`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use torchlet_tensor::{Generator, Tensor};

const N4M: usize = 4 * 1024 * 1024;

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul");
    let mut g = Generator::new(0);
    for n in [64usize, 256, 1024] {
        let a = Tensor::randn_with(&[n, n], &mut g);
        let b = Tensor::randn_with(&[n, n], &mut g);
        group.throughput(Throughput::Elements((2 * n * n * n) as u64)); // FLOPs
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| black_box(a.matmul(&b).unwrap()))
        });
    }
    group.finish();
}

fn elementwise(c: &mut Criterion) {
    let mut g = Generator::new(1);
    let a = Tensor::randn_with(&[N4M], &mut g);
    let b = Tensor::randn_with(&[N4M], &mut g);
    let mut group = c.benchmark_group("elementwise_4M");
    group.throughput(Throughput::Bytes((3 * 4 * N4M) as u64));
    group.bench_function("add", |bench| bench.iter(|| black_box(a.add(&b).unwrap())));
    group.throughput(Throughput::Bytes((2 * 4 * N4M) as u64));
    group.bench_function("sigmoid", |bench| bench.iter(|| black_box(a.sigmoid())));
    group.throughput(Throughput::Bytes((4 * N4M) as u64));
    group.bench_function("sum", |bench| bench.iter(|| black_box(a.sum())));
    group.finish();
}

fn softmax(c: &mut Criterion) {
    let mut g = Generator::new(2);
    let x = Tensor::randn_with(&[4096, 1024], &mut g);
    let mut group = c.benchmark_group("softmax");
    group.throughput(Throughput::Bytes((2 * 4 * 4096 * 1024) as u64));
    group.bench_function("4096x1024_dim1", |bench| {
        bench.iter(|| black_box(x.softmax(1).unwrap()))
    });
    group.finish();
}

fn strided_copy(c: &mut Criterion) {
    let mut g = Generator::new(3);
    let x = Tensor::randn_with(&[2048, 2048], &mut g);
    let t = x.transpose(0, 1).unwrap();
    let mut group = c.benchmark_group("copy");
    group.throughput(Throughput::Bytes((2 * 4 * 2048 * 2048) as u64));
    group.bench_function("transpose_2048x2048_contiguous", |bench| {
        bench.iter(|| black_box(t.contiguous()))
    });
    group.finish();
}

criterion_group!(benches, matmul, elementwise, softmax, strided_copy);
criterion_main!(benches);
