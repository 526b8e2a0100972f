//! Optimizers on sparse gradients: equal to the dense update when every
//! row is looked up, lazy otherwise, and refusals with PyTorch's messages.

use torchlet_autograd::{functional as F, Variable};
use torchlet_optim::{
    clip_grad_norm_, Adagrad, AdagradOptions, Optimizer, Sgd, SgdOptions, SparseAdam,
    SparseAdamOptions, StatefulOptimizer,
};
use torchlet_tensor::{manual_seed, Tensor};

/// Runs `steps` lookups of every row (in a shuffled order, twice for row
/// 1) through a sparse and a dense embedding with the same optimizer.
fn sparse_vs_dense(make: impl Fn(Vec<Variable>) -> Box<dyn Optimizer>) -> (Vec<f32>, Vec<f32>) {
    manual_seed(21);
    let w0 = Tensor::randn(&[6, 3]);
    let sparse = Variable::parameter(w0.deep_clone());
    let dense = Variable::parameter(w0);
    let (mut os, mut od) = (make(vec![sparse.clone()]), make(vec![dense.clone()]));
    for step in 0..4i64 {
        let idx: Vec<i64> = (0..6).map(|k| (k * 5 + step) % 6).chain([1]).collect();
        let idx = Tensor::from_vec(idx, &[7]).unwrap();
        let target = Tensor::randn(&[7, 3]);
        for (w, opt, is_sparse) in [(&sparse, &mut os, true), (&dense, &mut od, false)] {
            opt.zero_grad();
            let rows = if is_sparse {
                F::embedding_sparse(&idx, w, None)
            } else {
                F::embedding(&idx, w)
            }
            .unwrap();
            let loss = rows
                .sub(&Variable::constant(target.clone()))
                .unwrap()
                .square()
                .sum();
            loss.backward().unwrap();
            assert_eq!(w.has_sparse_grad(), is_sparse);
            opt.step().unwrap();
        }
    }
    (
        sparse.to_vec::<f32>().unwrap(),
        dense.to_vec::<f32>().unwrap(),
    )
}

fn assert_close(a: &[f32], b: &[f32]) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
    }
}

#[test]
fn sgd_with_momentum_and_nesterov_matches_dense_when_every_row_is_seen() {
    for nesterov in [false, true] {
        let (s, d) = sparse_vs_dense(|p| {
            let o = SgdOptions {
                lr: 0.05,
                momentum: 0.9,
                nesterov,
                ..Default::default()
            };
            Box::new(Sgd::new(p, o).unwrap())
        });
        assert_close(&s, &d);
    }
}

#[test]
fn adagrad_matches_dense_when_every_row_is_seen() {
    let (s, d) = sparse_vs_dense(|p| {
        let o = AdagradOptions {
            lr: 0.1,
            lr_decay: 0.01,
            initial_accumulator_value: 0.2,
            ..Default::default()
        };
        Box::new(Adagrad::new(p, o).unwrap())
    });
    assert_close(&s, &d);
}

#[test]
fn sparse_adam_refuses_dense_gradients_and_adagrad_refuses_weight_decay() {
    let w = Variable::parameter(Tensor::ones(&[4, 2]));
    w.mul(&w).unwrap().sum().backward().unwrap();
    let mut opt = SparseAdam::new(vec![w.clone()], SparseAdamOptions::default()).unwrap();
    let e = opt.step().unwrap_err().to_string();
    assert!(
        e.contains("SparseAdam does not support dense gradients, please consider Adam instead"),
        "{e}"
    );

    let w = Variable::parameter(Tensor::ones(&[4, 2]));
    F::embedding_sparse(&Tensor::from_vec(vec![1i64], &[1]).unwrap(), &w, None)
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    let o = AdagradOptions {
        weight_decay: 0.1,
        ..Default::default()
    };
    let e = Adagrad::new(vec![w], o)
        .unwrap()
        .step()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("weight_decay option is not compatible with sparse gradients"),
        "{e}"
    );
}

#[test]
fn clip_grad_norm_measures_coalesced_values_and_keeps_the_gradient_sparse() {
    let w = Variable::parameter(Tensor::zeros(&[5, 2]));
    // Row 3 twice: its coalesced gradient is 2 * [3, 4] = [6, 8], norm 10.
    let idx = Tensor::from_vec(vec![3i64, 3], &[2]).unwrap();
    let seed = Tensor::from_vec(vec![3.0f32, 4.0, 3.0, 4.0], &[2, 2]).unwrap();
    F::embedding_sparse(&idx, &w, None)
        .unwrap()
        .backward_with(&seed)
        .unwrap();
    let total = clip_grad_norm_(std::slice::from_ref(&w), 1.0, 2.0).unwrap();
    assert!((total - 10.0).abs() < 1e-5, "{total}");
    assert!(w.has_sparse_grad());
    let g = w.grad().unwrap().to_vec::<f32>().unwrap();
    assert!(
        (g[6] - 0.6).abs() < 1e-5 && (g[7] - 0.8).abs() < 1e-5,
        "{g:?}"
    );
}

#[test]
fn sparse_adam_resumes_from_its_state_dict() {
    manual_seed(22);
    let w0 = Tensor::randn(&[8, 2]);
    let batches: Vec<Tensor> = (0..4)
        .map(|s| Tensor::from_vec(vec![s as i64, 7 - s as i64, 3], &[3]).unwrap())
        .collect();
    let step = |w: &Variable, opt: &mut SparseAdam, idx: &Tensor| {
        opt.zero_grad();
        F::embedding_sparse(idx, w, None)
            .unwrap()
            .square()
            .sum()
            .backward()
            .unwrap();
        opt.step().unwrap();
    };
    let o = SparseAdamOptions {
        lr: 0.1,
        ..Default::default()
    };
    let straight = Variable::parameter(w0.deep_clone());
    let mut a = SparseAdam::new(vec![straight.clone()], o).unwrap();
    batches.iter().for_each(|b| step(&straight, &mut a, b));

    let resumed = Variable::parameter(w0);
    let mut b = SparseAdam::new(vec![resumed.clone()], o).unwrap();
    batches[..2].iter().for_each(|x| step(&resumed, &mut b, x));
    let saved = b.state_dict();
    let mut c = SparseAdam::new(vec![resumed.clone()], o).unwrap();
    c.load_state_dict(&saved).unwrap();
    batches[2..].iter().for_each(|x| step(&resumed, &mut c, x));
    assert_eq!(
        straight.to_vec::<f32>().unwrap(),
        resumed.to_vec::<f32>().unwrap()
    );
}

#[test]
fn sgd_weight_decay_and_clip_grad_value_refuse_sparse_gradients_as_pytorch_does() {
    let w = Variable::parameter(Tensor::ones(&[4, 2]));
    let idx = Tensor::from_vec(vec![1i64, 3], &[2]).unwrap();
    F::embedding_sparse(&idx, &w, None)
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    let o = SgdOptions {
        lr: 0.1,
        weight_decay: 0.01,
        ..Default::default()
    };
    let e = Sgd::new(vec![w.clone()], o)
        .unwrap()
        .step()
        .unwrap_err()
        .to_string();
    assert!(e.contains("add(sparse, dense) is not supported"), "{e}");
    let e = torchlet_optim::clip_grad_value_(std::slice::from_ref(&w), 1.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sparse gradients are not supported"), "{e}");
}
