//! Autograd overhead: one recorded op on tiny tensors, and a full training
//! step of the course's seed network (forward, BCE, backward, SGD update).
//!
//! `cargo bench -p torchlet-autograd --bench overhead`

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use torchlet_autograd::functional as F;
use torchlet_autograd::Variable;
use torchlet_tensor::functional::Reduction;
use torchlet_tensor::Tensor;

fn op_overhead(c: &mut Criterion) {
    let a = Variable::parameter(Tensor::from_vec(vec![1.0f32], &[1]).unwrap());
    let b = Variable::parameter(Tensor::from_vec(vec![2.0f32], &[1]).unwrap());
    c.bench_function("add_1elem_requires_grad", |bench| {
        bench.iter(|| black_box(a.add(&b).unwrap()))
    });
    let (ta, tb) = (a.data(), b.data());
    c.bench_function("add_1elem_tensor", |bench| {
        bench.iter(|| black_box(ta.add(&tb).unwrap()))
    });
}

fn seed_step(c: &mut Criterion) {
    let p = |v: Vec<f32>, s: &[usize]| Variable::parameter(Tensor::from_vec(v, s).unwrap());
    let params = [
        p(vec![0.05; 9], &[3, 3]),
        p(vec![0.01, 0.02, 0.03], &[3]),
        p(vec![0.025; 9], &[3, 3]),
        p(vec![0.01, 0.02, 0.03], &[3]),
        p(vec![1.0; 6], &[2, 3]),
        p(vec![0.01, 0.02], &[2]),
    ];
    let x = Variable::constant(Tensor::from_vec(vec![1.5f32, 2.5, 3.0], &[3]).unwrap());
    let y = Variable::constant(Tensor::from_vec(vec![1.0f32, 0.0], &[2]).unwrap());
    c.bench_function("seed_step_b1", |bench| {
        bench.iter(|| {
            let h1 = params[0]
                .matmul(&x)
                .unwrap()
                .add(&params[1])
                .unwrap()
                .sigmoid();
            let h2 = params[2]
                .matmul(&h1)
                .unwrap()
                .add(&params[3])
                .unwrap()
                .sigmoid();
            let h3 = params[4]
                .matmul(&h2)
                .unwrap()
                .add(&params[5])
                .unwrap()
                .softmax(0)
                .unwrap();
            let loss = F::binary_cross_entropy(&h3, &y, None, Reduction::Mean).unwrap();
            loss.backward().unwrap();
            for q in &params {
                let g = q.grad().unwrap();
                q.update_data(|w| w.add_scaled_(&g, -0.1)).unwrap().unwrap();
                q.zero_grad();
            }
            black_box(loss)
        })
    });
}

criterion_group!(benches, op_overhead, seed_step);
criterion_main!(benches);
