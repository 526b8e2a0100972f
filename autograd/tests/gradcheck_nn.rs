//! `gradcheck` and `gradgradcheck` of the nn ops (convolutions, pooling,
//! normalization, losses, RNN cells), proptest families, and gradcheck
//! checking itself: first and second derivatives against central finite
//! differences in f64.

use proptest::prelude::*;
use torchlet_autograd::{gradcheck, gradgradcheck, Result, Variable};
use torchlet_tensor::{Generator, Tensor};

mod common;

use common::*;

// ---------------------------------------------------------- nn ops

#[test]
fn convolutions_and_pooling() {
    let mut g = Generator::new(8);
    let x4 = normal(&mut g, &[2, 2, 5, 4]);
    let w4 = normal(&mut g, &[3, 2, 3, 2]);
    let wg = normal(&mut g, &[4, 1, 2, 2]);
    let bias3 = normal(&mut g, &[3]);
    let x3 = normal(&mut g, &[2, 3, 6]);
    let w3 = normal(&mut g, &[2, 3, 3]);
    let bias2 = normal(&mut g, &[2]);
    let xt = normal(&mut g, &[1, 2, 3, 3]);
    let wt = normal(&mut g, &[2, 3, 2, 2]);
    let [pool_x] = distinct(&mut g, &[&[1, 2, 4, 5]]).try_into().unwrap();
    run(vec![
        case("conv2d", vec![x4.clone(), w4.clone(), bias3.clone()], |v| {
            v[0].conv2d(&v[1], Some(&v[2]), [1, 1], [1, 0], [1, 1], 1)
        }),
        case(
            "conv2d strided, dilated, no bias",
            vec![x4.clone(), w4],
            |v| v[0].conv2d(&v[1], None, [2, 1], [1, 1], [1, 2], 1),
        ),
        case(
            "conv2d groups 2",
            vec![x4.clone(), wg, normal(&mut g, &[4])],
            |v| v[0].conv2d(&v[1], Some(&v[2]), [1, 1], [0, 0], [1, 1], 2),
        ),
        case(
            "conv2d unbatched",
            vec![
                normal(&mut g, &[2, 4, 4]),
                normal(&mut g, &[3, 2, 2, 2]),
                bias3.clone(),
            ],
            |v| v[0].conv2d(&v[1], Some(&v[2]), [1, 1], [0, 0], [1, 1], 1),
        ),
        case("conv1d", vec![x3, w3, bias2], |v| {
            v[0].conv1d(&v[1], Some(&v[2]), 2, 1, 1, 1)
        }),
        case(
            "conv_transpose2d",
            vec![xt.clone(), wt.clone(), bias3],
            |v| v[0].conv_transpose2d(&v[1], Some(&v[2]), [2, 2], [0, 0], [1, 0], [1, 1], 1),
        ),
        case("conv_transpose2d padded, no bias", vec![xt, wt], |v| {
            v[0].conv_transpose2d(&v[1], None, [1, 2], [1, 0], [0, 1], [1, 1], 1)
        }),
        case("max_pool2d", vec![pool_x.clone()], |v| {
            v[0].max_pool2d([2, 2], [2, 2], [0, 0])
        }),
        case("max_pool2d overlapping, padded", vec![pool_x], |v| {
            v[0].max_pool2d([3, 2], [1, 2], [1, 1])
        }),
        case("avg_pool2d", vec![x4.clone()], |v| {
            v[0].avg_pool2d([2, 2], [1, 2], [0, 1])
        }),
        case("adaptive_avg_pool2d", vec![x4], |v| {
            v[0].adaptive_avg_pool2d([2, 3])
        }),
    ]);
}

#[test]
fn normalization() {
    let mut g = Generator::new(9);
    let x = normal(&mut g, &[3, 2, 4]);
    let (w, b) = (normal(&mut g, &[2]), normal(&mut g, &[2]));
    let (lw, lb) = (normal(&mut g, &[4]), normal(&mut g, &[4]));
    let (rm, rv) = (normal(&mut g, &[2]), uniform(&mut g, &[2], 0.5, 2.0));
    run(vec![
        case(
            "batch_norm training",
            vec![x.clone(), w.clone(), b.clone()],
            |v| v[0].batch_norm(None, None, Some(&v[1]), Some(&v[2]), true, 1e-5),
        ),
        case("batch_norm training, no affine", vec![x.clone()], |v| {
            v[0].batch_norm(None, None, None, None, true, 1e-5)
        }),
        case("batch_norm eval", vec![x.clone(), w, b], move |v| {
            v[0].batch_norm(Some(&rm), Some(&rv), Some(&v[1]), Some(&v[2]), false, 1e-5)
        }),
        case(
            "batch_norm 2-D training",
            vec![normal(&mut g, &[5, 3])],
            |v| v[0].batch_norm(None, None, None, None, true, 1e-5),
        ),
        case("layer_norm", vec![x.clone(), lw, lb], |v| {
            v[0].layer_norm(&[4], Some(&v[1]), Some(&v[2]), 1e-5)
        }),
        case("layer_norm over two dims, no affine", vec![x], |v| {
            v[0].layer_norm(&[2, 4], None, None, 1e-5)
        }),
    ]);
}

// ----------------------------------------------------------- proptest

fn shape_strategy(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, 1..=max_rank)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random broadcasting: each operand keeps a suffix of the full shape,
    /// with some dims set to 1.
    #[test]
    fn broadcast_binary_ops(full in shape_strategy(3), drop_a in 0usize..3, drop_b in 0usize..3,
                            ones_a in prop::collection::vec(any::<bool>(), 3), ones_b in prop::collection::vec(any::<bool>(), 3),
                            op in 0usize..4, seed in any::<u64>()) {
        let operand = |drop: usize, ones: &[bool]| -> Vec<usize> {
            let keep = &full[drop.min(full.len())..];
            keep.iter().zip(ones).map(|(&n, &one)| if one { 1 } else { n }).collect()
        };
        let (sa, sb) = (operand(drop_a, &ones_a), operand(drop_b, &ones_b));
        let mut g = Generator::new(seed);
        let a = normal(&mut g, &sa);
        let b = away(&mut g, &sb, &[0.0], 0.4);
        let f = move |v: &[Variable]| match op {
            0 => v[0].add(&v[1]),
            1 => v[0].sub(&v[1]),
            2 => v[0].mul(&v[1]),
            _ => v[0].div(&v[1]),
        };
        let result = gradcheck(f, &[a, b]);
        prop_assert!(result.is_ok(), "{sa:?} x {sb:?}: {result:?}");
    }

    /// Random reductions over a random (possibly negative) dim.
    #[test]
    fn reductions(s in shape_strategy(4), dim_pick in 0usize..8, keepdim in any::<bool>(), op in 0usize..8, seed in any::<u64>()) {
        let r = s.len() as i64;
        let dim = (dim_pick as i64 % (2 * r)) - r;
        let mut g = Generator::new(seed);
        let x = if op == 3 { distinct(&mut g, &[&s]).pop().unwrap() } else { normal(&mut g, &s) };
        let f = move |v: &[Variable]| match op {
            0 => v[0].sum_dims(&[dim], keepdim),
            1 => v[0].mean_dims(&[dim], keepdim),
            2 => v[0].logsumexp(dim, keepdim),
            3 => Ok(v[0].max_dim(dim, keepdim)?.0),
            4 => v[0].softmax(dim),
            5 => v[0].log_softmax(dim),
            6 => v[0].var_dim(dim, 0, keepdim),
            _ => v[0].add_scalar(2.0).prod_dim(dim, keepdim),
        };
        let result = gradcheck(f, &[x]);
        prop_assert!(result.is_ok(), "{result:?}");
    }

    /// torch.matmul with random ranks (1 to 4) and broadcast batch dims.
    #[test]
    fn matmul_random_ranks(ra in 1usize..=4, rb in 1usize..=4, m in 1usize..=3, k in 1usize..=3, n in 1usize..=3,
                           batch in prop::collection::vec(1usize..=2, 2), ones in prop::collection::vec(any::<bool>(), 4),
                           seed in any::<u64>()) {
        let batch_of = |rank: usize, flags: &[bool]| -> Vec<usize> {
            let dims = rank.saturating_sub(2);
            batch[2 - dims..].iter().zip(flags).map(|(&d, &one)| if one { 1 } else { d }).collect()
        };
        let mut sa = batch_of(ra, &ones[..2]);
        sa.extend(if ra == 1 { vec![k] } else { vec![m, k] });
        let mut sb = batch_of(rb, &ones[2..]);
        sb.extend(if rb == 1 { vec![k] } else { vec![k, n] });
        let mut g = Generator::new(seed);
        let (a, b) = (normal(&mut g, &sa), normal(&mut g, &sb));
        let f = |v: &[Variable]| v[0].matmul(&v[1]);
        let result = gradcheck(f, &[a, b]);
        prop_assert!(result.is_ok(), "{sa:?} x {sb:?}: {result:?}");
    }
}

// ------------------------------------------------ gradcheck on itself

#[test]
fn gradcheck_reports_a_wrong_gradient() {
    // A deliberately wrong backward: d/dx (x³) claimed to be 2x.
    let wrong = |v: &[Variable]| -> Result<Variable> {
        let x = &v[0];
        let y = x.data().pow(3.0).unwrap();
        Ok(torchlet_autograd::record("WrongCube", y, &[x], |c| {
            Ok(vec![Some(c.grad.mul(&c.inputs[0].mul_scalar(2.0))?)])
        }))
    };
    let x = Tensor::from_vec(vec![0.5f64, 2.0, -1.0], &[3]).unwrap();
    let err = gradcheck(wrong, &[x]).unwrap_err().to_string();
    assert!(err.contains("input 0"), "{err}");
    assert!(err.contains("element 0 [0]"), "{err}");
    assert!(
        err.contains("numerical 7.5") && err.contains("analytical 1e0"),
        "{err}"
    );
}

#[test]
fn gradgradcheck_reports_a_wrong_second_derivative() {
    // Right first derivative (3x²) recorded from a constant, so the second
    // derivative is lost.
    let frozen = |v: &[Variable]| -> Result<Variable> {
        let x = &v[0];
        let y = x.data().pow(3.0).unwrap();
        Ok(torchlet_autograd::record("FrozenCube", y, &[x], |c| {
            let d = Variable::constant(c.inputs[0].data().square().mul_scalar(3.0));
            Ok(vec![Some(c.grad.mul(&d)?)])
        }))
    };
    let x = Tensor::from_vec(vec![0.5f64, 2.0], &[2]).unwrap();
    gradcheck(frozen, std::slice::from_ref(&x)).unwrap();
    let err = gradgradcheck(frozen, &[x]).unwrap_err().to_string();
    assert!(
        err.contains("gradgradcheck") && err.contains("input 0"),
        "{err}"
    );
}

#[test]
fn gradcheck_rejects_f32_and_checks_only_float_inputs() {
    let x32 = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
    let err = gradcheck(|v: &[Variable]| ok(v[0].exp()), &[x32])
        .unwrap_err()
        .to_string();
    assert!(err.contains("f32"), "{err}");
    // An index input is passed through as a constant.
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).unwrap();
    let i = index(&[2, 0], &[2]);
    gradcheck(|v: &[Variable]| v[0].index_select(0, &v[1].data()), &[x, i]).unwrap();
}

#[test]
fn random_probes_for_large_outputs() {
    let mut g = Generator::new(10);
    let (a, b) = (normal(&mut g, &[6, 7]), normal(&mut g, &[7, 8])); // 48 outputs: random probes
    gradcheck(|v: &[Variable]| Ok(v[0].matmul(&v[1])?.tanh()), &[a, b]).unwrap();
}

#[test]
fn reductions_of_zero_dim_tensors() {
    // dim 0 (or -1) of a 0-dim tensor names the tensor itself, as in PyTorch.
    let s = Tensor::scalar(0.7f64);
    run(vec![
        case("sum_dim 0 of a scalar", vec![s.clone()], |v| {
            v[0].sum_dim(0)
        }),
        case("sum_keepdim -1 of a scalar", vec![s.clone()], |v| {
            v[0].sum_keepdim(-1)
        }),
        case("mean_dim 0 of a scalar", vec![s.clone()], |v| {
            v[0].mean_dim(0)
        }),
        case("prod_dim 0 of a scalar", vec![s.clone()], |v| {
            v[0].prod_dim(0, false)
        }),
        case("logsumexp 0 of a scalar", vec![s.clone()], |v| {
            v[0].logsumexp(0, false)
        }),
        case("var_dim 0 of a scalar", vec![s.clone()], |v| {
            v[0].var_dim(0, 0, false)
        }),
        case("max_dim 0 of a scalar", vec![s.clone()], |v| {
            Ok(v[0].max_dim(0, false)?.0)
        }),
        case("softmax 0 of a scalar", vec![s], |v| v[0].softmax(0)),
    ]);
}

#[test]
fn prod_with_zero_entries_second_order() {
    let x = Tensor::from_vec(vec![0.5f64, 0.0, 2.0, 1.5, -0.7, 1.2], &[2, 3]).unwrap();
    gradgradcheck(|v: &[Variable]| v[0].prod_dim(1, false), &[x]).unwrap();
}

// ------------------------------------------------ losses and RNN cells

#[test]
fn losses_and_cells() {
    use torchlet_autograd::functional::{self as F, Reduction};
    let mut g = Generator::new(16);
    let (n, c) = (4, 3);
    let logits = normal(&mut g, &[n, c]);
    let classes = index(&[2, 0, 1, 2], &[n]);
    let with_ignored = index(&[2, -100, 1, 0], &[n]);
    let class_weight = uniform(&mut g, &[c], 0.5, 2.0);
    let spatial = normal(&mut g, &[2, c, 3]);
    let spatial_classes = index(&[0, 2, 1, 1, 1, 0], &[2, 3]);
    let probs = normal(&mut g, &[n, c]).softmax(1).unwrap();
    let pred = normal(&mut g, &[n, 2]);
    let target = normal(&mut g, &[n, 2]);
    let l1_target = pred.sub(&away(&mut g, &[n, 2], &[0.0], 0.2)).unwrap();
    let p = uniform(&mut g, &[n, 2], 0.1, 0.9);
    let y = uniform(&mut g, &[n, 2], 0.0, 1.0);
    let elem_weight = uniform(&mut g, &[n, 2], 0.5, 1.5);
    let pos_weight = uniform(&mut g, &[2], 0.5, 3.0);
    let mut cases = Vec::new();
    for reduction in [Reduction::None, Reduction::Sum, Reduction::Mean] {
        let r = format!("{reduction:?}");
        let (t, t2, w) = (classes.clone(), with_ignored.clone(), class_weight.clone());
        cases.push(case(
            format!("nll_loss {r}"),
            vec![logits.clone()],
            move |v| F::nll_loss(&v[0].log_softmax(1)?, &t, None, -100, reduction),
        ));
        cases.push(case(
            format!("nll_loss weighted, ignore_index {r}"),
            vec![logits.clone()],
            {
                let (t2, w) = (t2.clone(), w.clone());
                move |v| F::nll_loss(&v[0], &t2, Some(&w), -100, reduction)
            },
        ));
        let t = classes.clone();
        cases.push(case(
            format!("cross_entropy {r}"),
            vec![logits.clone()],
            move |v| F::cross_entropy(&v[0], &t, None, -100, reduction, 0.0),
        ));
        cases.push(case(
            format!("cross_entropy weighted, ignore_index, smoothing {r}"),
            vec![logits.clone()],
            {
                let (t2, w) = (t2.clone(), w.clone());
                move |v| F::cross_entropy(&v[0], &t2, Some(&w), -100, reduction, 0.1)
            },
        ));
        let st = spatial_classes.clone();
        cases.push(case(
            format!("cross_entropy [N, C, d] {r}"),
            vec![spatial.clone()],
            move |v| F::cross_entropy(&v[0], &st, None, -100, reduction, 0.05),
        ));
        let pr = probs.clone();
        cases.push(case(
            format!("cross_entropy, probability targets {r}"),
            vec![logits.clone()],
            {
                let w = w.clone();
                move |v| F::cross_entropy(&v[0], &pr, Some(&w), -100, reduction, 0.2)
            },
        ));
        cases.push(case(
            format!("mse_loss {r}"),
            vec![pred.clone(), target.clone()],
            move |v| F::mse_loss(&v[0], &v[1], reduction),
        ));
        cases.push(case(
            format!("mse_loss broadcast target {r}"),
            vec![pred.clone(), normal(&mut g, &[2])],
            move |v| F::mse_loss(&v[0], &v[1], reduction),
        ));
        cases.push(case(
            format!("l1_loss {r}"),
            vec![pred.clone(), l1_target.clone()],
            move |v| F::l1_loss(&v[0], &v[1], reduction),
        ));
        cases.push(case(
            format!("binary_cross_entropy {r}"),
            vec![p.clone(), y.clone()],
            move |v| F::binary_cross_entropy(&v[0], &v[1], None, reduction),
        ));
        let ew = elem_weight.clone();
        cases.push(case(
            format!("binary_cross_entropy weighted {r}"),
            vec![p.clone(), y.clone()],
            move |v| F::binary_cross_entropy(&v[0], &v[1], Some(&ew), reduction),
        ));
        cases.push(case(
            format!("binary_cross_entropy_with_logits {r}"),
            vec![pred.clone(), y.clone()],
            move |v| F::binary_cross_entropy_with_logits(&v[0], &v[1], None, None, reduction),
        ));
        let (ew, pw) = (elem_weight.clone(), pos_weight.clone());
        cases.push(case(
            format!("binary_cross_entropy_with_logits weighted, pos_weight {r}"),
            vec![pred.clone(), y.clone()],
            move |v| {
                F::binary_cross_entropy_with_logits(&v[0], &v[1], Some(&ew), Some(&pw), reduction)
            },
        ));
    }
    // Functional linear and embedding.
    let (x3, w, b) = (
        normal(&mut g, &[2, 3, 4]),
        normal(&mut g, &[5, 4]),
        normal(&mut g, &[5]),
    );
    cases.push(case("F::linear 3-D input", vec![x3, w.clone(), b], |v| {
        F::linear(&v[0], &v[1], Some(&v[2]))
    }));
    let lookup = index(&[4, 0, 4, 2, 1, 0], &[2, 3]);
    cases.push(case("F::embedding with repeats", vec![w], move |v| {
        F::embedding(&lookup, &v[0])
    }));
    // RNN cells: x [B, I], h [B, H].
    let (bsz, i, h) = (2, 3, 2);
    let (x, h0, c0) = (
        normal(&mut g, &[bsz, i]),
        normal(&mut g, &[bsz, h]),
        normal(&mut g, &[bsz, h]),
    );
    let cell = |g: &mut Generator, k: usize| {
        vec![
            normal(g, &[k * h, i]),
            normal(g, &[k * h, h]),
            normal(g, &[k * h]),
            normal(g, &[k * h]),
        ]
    };
    let rnn = cell(&mut g, 1);
    let lstm = cell(&mut g, 4);
    let gru = cell(&mut g, 3);
    let with = |params: Vec<Tensor>, state: &[&Tensor]| -> Vec<Tensor> {
        let mut v = vec![x.clone()];
        v.extend(state.iter().map(|t| (*t).clone()));
        v.extend(params);
        v
    };
    cases.push(case("rnn_tanh_cell", with(rnn.clone(), &[&h0]), |v| {
        F::rnn_tanh_cell(&v[0], &v[1], &v[2], &v[3], Some(&v[4]), Some(&v[5]))
    }));
    cases.push(case(
        "rnn_tanh_cell without biases",
        with(rnn[..2].to_vec(), &[&h0]),
        |v| F::rnn_tanh_cell(&v[0], &v[1], &v[2], &v[3], None, None),
    ));
    cases.push(case("lstm_cell", with(lstm, &[&h0, &c0]), |v| {
        let (h, c) = F::lstm_cell(&v[0], &v[1], &v[2], &v[3], &v[4], Some(&v[5]), Some(&v[6]))?;
        Variable::cat(&[h, c], 1)
    }));
    cases.push(case("gru_cell", with(gru, &[&h0]), |v| {
        F::gru_cell(&v[0], &v[1], &v[2], &v[3], Some(&v[4]), Some(&v[5]))
    }));
    run(cases);
}
