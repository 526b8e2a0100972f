//! Sparse @ dense products on a uniformly random CSR pattern: the forward
//! SpMM alone, the forward plus backward (gradients for the sparse values,
//! an SDDMM, and for the dense operand, `Aᵀ G` on the cached transposed
//! pattern), and the SDDMM of `sampled_addmm`.
//!
//! `cargo bench -p torchlet-sparse --bench spmm`
//!
//! The full-size versions, compared with PyTorch, are the `spmm_uniform`,
//! `spmm_powerlaw(_fb)` and `sddmm` workloads of `torchlet-benches`.

use std::collections::HashSet;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use torchlet_autograd::Variable;
use torchlet_sparse::{sparse_csr_tensor, SparseTensor};
use torchlet_tensor::{Generator, Tensor};

// As torchlet's binaries and the other benches: a step allocates and
// frees megabyte buffers, which the system allocator would hand back to
// the kernel and fault in again every time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Side of the square sparse matrix.
const N: usize = 5_000;
/// Specified entries (density 0.1%).
const NNZ: usize = 25_000;
/// Columns of the dense operand.
const WIDTH: usize = 128;

/// An `n x n` CSR matrix with `nnz` distinct uniformly random entries.
fn uniform_csr(n: usize, nnz: usize, seed: u64) -> SparseTensor {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seen = HashSet::with_capacity(nnz);
    while seen.len() < nnz {
        seen.insert((rng.random_range(0..n), rng.random_range(0..n)));
    }
    let mut entries: Vec<(usize, usize)> = seen.into_iter().collect();
    entries.sort_unstable();
    let mut crow = vec![0i64; n + 1];
    for &(r, _) in &entries {
        crow[r + 1] += 1;
    }
    for i in 0..n {
        crow[i + 1] += crow[i];
    }
    let col: Vec<i64> = entries.iter().map(|&(_, c)| c as i64).collect();
    let values: Vec<f32> = (0..nnz).map(|_| rng.random_range(-1.0..1.0)).collect();
    sparse_csr_tensor(
        &Tensor::from_vec(crow, &[n + 1]).unwrap(),
        &Tensor::from_vec(col, &[nnz]).unwrap(),
        Tensor::from_vec(values, &[nnz]).unwrap(),
        &[n, n],
    )
    .unwrap()
}

fn spmm(c: &mut Criterion) {
    let mut g = Generator::new(0);
    let a = uniform_csr(N, NNZ, 0);
    let dense = Tensor::randn_with(&[N, WIDTH], &mut g);
    let mut group = c.benchmark_group("spmm_uniform_5000");
    group.throughput(Throughput::Elements((2 * NNZ * WIDTH) as u64));

    let b = Variable::constant(dense.clone());
    group.bench_function("forward", |bench| {
        bench.iter(|| black_box(a.mm(&b).unwrap()))
    });

    // Forward + backward: three nnz x width products per step.
    let leaf = a.requires_grad_();
    let b = Variable::parameter(dense);
    let weight = Variable::constant(Tensor::randn_with(&[N, WIDTH], &mut g));
    group.bench_function("forward_backward", |bench| {
        bench.iter(|| {
            leaf.zero_grad();
            b.zero_grad();
            let loss = leaf.mm(&b).unwrap().mul(&weight).unwrap().sum();
            loss.backward().unwrap();
            black_box(loss)
        })
    });

    let x = Variable::constant(Tensor::randn_with(&[N, WIDTH], &mut g));
    let y = Variable::constant(Tensor::randn_with(&[WIDTH, N], &mut g));
    group.bench_function("sddmm", |bench| {
        bench.iter(|| black_box(a.sampled_addmm(&x, &y, 1.0, 1.0).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, spmm);
criterion_main!(benches);
