//! DataLoader throughput: one shuffled epoch of 10k MNIST-sized samples
//! (`[1, 28, 28]` f32 image + i64 class) in batches of 64, loaded in the
//! caller's thread and on 2 workers. Reported as samples per second.
//!
//! `cargo bench -p torchlet-data --bench loader`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use torchlet_data::{DataLoader, Dataset, MapDataset, Result, TensorDataset};
use torchlet_tensor::{Generator, Tensor};

const SAMPLES: usize = 10_000;
const BATCH: usize = 64;

/// Images held in one tensor, as an in-memory MNIST would be.
fn mnist_like() -> impl Dataset<Item = (Tensor, i64)> {
    let mut g = Generator::new(0);
    let images = Tensor::rand_with(&[SAMPLES, 1, 28, 28], &mut g);
    let labels = Tensor::randint_with(0, 10, &[SAMPLES], &mut g).unwrap();
    let ds = TensorDataset::new(vec![images, labels]).unwrap();
    MapDataset::new(ds, |s: Vec<Tensor>| -> Result<(Tensor, i64)> {
        Ok((s[0].clone(), s[1].item::<i64>()?))
    })
}

fn loader_epoch(c: &mut Criterion) {
    let mut group = c.benchmark_group("loader_mnist_10k_b64");
    group.throughput(Throughput::Elements(SAMPLES as u64));
    group.sample_size(20);
    for workers in [0, 2] {
        let loader = DataLoader::builder(mnist_like())
            .batch_size(BATCH)
            .shuffle(true)
            .seed(0)
            .num_workers(workers)
            .build()
            .unwrap();
        group.bench_with_input(BenchmarkId::new("workers", workers), &loader, |b, l| {
            b.iter(|| {
                for batch in l.iter() {
                    black_box(batch.unwrap());
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, loader_epoch);
criterion_main!(benches);
