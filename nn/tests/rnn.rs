//! Recurrent layers and embeddings: shapes, gradients, padding and
//! agreement with the single-step cells of `torchlet_autograd::functional`.

use torchlet_autograd::{functional as F, Variable};
use torchlet_nn::{Embedding, Module, Nonlinearity, RnnOptions, GRU, LSTM, RNN};
use torchlet_tensor::Tensor;

fn param(m: &dyn Module, name: &str) -> Variable {
    m.named_parameters()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no parameter {name}"))
        .1
}

fn assert_close(a: &Variable, b: &Variable, tol: f32) {
    assert_eq!(a.shape(), b.shape());
    let (a, b) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= tol, "{x} vs {y}");
    }
}

fn all_grads_nonzero(m: &dyn Module) {
    for (name, p) in m.named_parameters() {
        let g = p.grad().unwrap_or_else(|| panic!("{name} got no gradient"));
        assert_eq!(g.shape(), p.shape().as_slice(), "{name}");
        let g = g.to_vec::<f32>().unwrap();
        assert!(g.iter().all(|v| v.is_finite()), "{name}");
        assert!(
            g.iter().any(|&v| v != 0.0),
            "{name} has an all-zero gradient"
        );
    }
}

#[test]
fn parameter_names_and_shapes_follow_pytorch() {
    let lstm = LSTM::with_options(
        3,
        5,
        RnnOptions::default().num_layers(2).bidirectional(true),
    )
    .unwrap();
    let names: Vec<(String, Vec<usize>)> = lstm
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.shape()))
        .collect();
    let mut want = Vec::new();
    for (l, in_size) in [(0, 3), (1, 10)] {
        for s in ["", "_reverse"] {
            want.push((format!("weight_ih_l{l}{s}"), vec![20, in_size]));
            want.push((format!("weight_hh_l{l}{s}"), vec![20, 5]));
            want.push((format!("bias_ih_l{l}{s}"), vec![20]));
            want.push((format!("bias_hh_l{l}{s}"), vec![20]));
        }
    }
    assert_eq!(names, want);
    let bound = 1.0 / 5f32.sqrt();
    for p in lstm.parameters() {
        assert!(p.to_vec::<f32>().unwrap().iter().all(|v| v.abs() <= bound));
    }
    let gru = GRU::with_options(4, 6, RnnOptions::default().bias(false)).unwrap();
    let names: Vec<String> = gru.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight_ih_l0", "weight_hh_l0"]);
    assert_eq!(param(&gru, "weight_ih_l0").shape(), [18, 4]);
    assert!(LSTM::new(0, 3).is_err());
    assert!(GRU::with_options(2, 3, RnnOptions::default().dropout(1.5)).is_err());
}

#[test]
fn bidirectional_multi_layer_shapes() {
    let opts = RnnOptions::default().num_layers(3).bidirectional(true);
    let lstm = LSTM::with_options(4, 6, opts).unwrap();
    let x = Variable::constant(Tensor::randn(&[7, 2, 4]));
    let (out, h, c) = lstm.forward_with_state(&x, None).unwrap();
    assert_eq!(out.shape(), [7, 2, 12]);
    assert_eq!(h.shape(), [6, 2, 6]);
    assert_eq!(c.shape(), [6, 2, 6]);

    let gru = GRU::with_options(4, 6, opts.batch_first(true)).unwrap();
    let xb = Variable::constant(Tensor::randn(&[2, 7, 4]));
    let (out, h) = gru.forward_with_state(&xb, None).unwrap();
    assert_eq!(out.shape(), [2, 7, 12]);
    assert_eq!(h.shape(), [6, 2, 6]);

    let rnn = RNN::with_options(4, 6, Nonlinearity::Relu, opts).unwrap();
    let (out, h) = rnn
        .forward_with_state(&Variable::constant(Tensor::randn(&[7, 4])), None)
        .unwrap();
    assert_eq!(out.shape(), [7, 12]);
    assert_eq!(h.shape(), [6, 6]);
    assert!(out.to_vec::<f32>().unwrap().iter().all(|&v| v >= 0.0));

    // Wrong input width or state shape is an error.
    assert!(gru
        .forward(&Variable::constant(Tensor::randn(&[2, 7, 5])))
        .is_err());
    let bad_h0 = Variable::constant(Tensor::zeros(&[2, 2, 6]));
    assert!(gru.forward_with_state(&xb, Some(&bad_h0)).is_err());
}

#[test]
fn batch_first_matches_time_major() {
    let lstm = LSTM::with_options(3, 4, RnnOptions::default().bidirectional(true)).unwrap();
    let x = Variable::constant(Tensor::randn(&[5, 2, 3]));
    let (out, h, c) = lstm.forward_with_state(&x, None).unwrap();
    let lstm_bf = LSTM::with_options(
        3,
        4,
        RnnOptions::default().bidirectional(true).batch_first(true),
    )
    .unwrap();
    lstm_bf.load_state_dict(&lstm.state_dict(), true).unwrap();
    let (out_bf, h_bf, c_bf) = lstm_bf
        .forward_with_state(&x.transpose(0, 1).unwrap(), None)
        .unwrap();
    assert_close(&out_bf.transpose(0, 1).unwrap(), &out, 0.0);
    assert_close(&h_bf, &h, 0.0);
    assert_close(&c_bf, &c, 0.0);
}

#[test]
fn one_step_matches_the_functional_cells() {
    let (n, i, hs) = (3, 4, 5);
    let x = Variable::constant(Tensor::randn(&[1, n, i]));
    let x0 = x.select(0, 0).unwrap();
    let h0 = Variable::constant(Tensor::randn(&[1, n, hs]));
    let c0 = Variable::constant(Tensor::randn(&[1, n, hs]));
    let (h0s, c0s) = (h0.select(0, 0).unwrap(), c0.select(0, 0).unwrap());
    let w = |m: &dyn Module| {
        (
            param(m, "weight_ih_l0"),
            param(m, "weight_hh_l0"),
            param(m, "bias_ih_l0"),
            param(m, "bias_hh_l0"),
        )
    };

    let lstm = LSTM::new(i, hs).unwrap();
    let (out, h, c) = lstm.forward_with_state(&x, Some((&h0, &c0))).unwrap();
    let (wi, wh, bi, bh) = w(&lstm);
    let (he, ce) = F::lstm_cell(&x0, &h0s, &c0s, &wi, &wh, Some(&bi), Some(&bh)).unwrap();
    assert_close(&out.select(0, 0).unwrap(), &he, 1e-6);
    assert_close(&h.select(0, 0).unwrap(), &he, 1e-6);
    assert_close(&c.select(0, 0).unwrap(), &ce, 1e-6);

    let gru = GRU::new(i, hs).unwrap();
    let (out, h) = gru.forward_with_state(&x, Some(&h0)).unwrap();
    let (wi, wh, bi, bh) = w(&gru);
    let he = F::gru_cell(&x0, &h0s, &wi, &wh, Some(&bi), Some(&bh)).unwrap();
    assert_close(&out.select(0, 0).unwrap(), &he, 1e-6);
    assert_close(&h.select(0, 0).unwrap(), &he, 1e-6);

    let rnn = RNN::new(i, hs).unwrap();
    let (out, _) = rnn.forward_with_state(&x, Some(&h0)).unwrap();
    let (wi, wh, bi, bh) = w(&rnn);
    let he = F::rnn_tanh_cell(&x0, &h0s, &wi, &wh, Some(&bi), Some(&bh)).unwrap();
    assert_close(&out.select(0, 0).unwrap(), &he, 1e-6);
}

#[test]
fn lstm_sequence_matches_cells_in_both_directions() {
    let (t, n, i, hs) = (4, 2, 3, 5);
    let lstm = LSTM::with_options(i, hs, RnnOptions::default().bidirectional(true)).unwrap();
    let x = Variable::constant(Tensor::randn(&[t, n, i]));
    let (out, h_n, c_n) = lstm.forward_with_state(&x, None).unwrap();
    let zero = Variable::constant(Tensor::zeros(&[n, hs]));
    for (dir, suffix) in [(0, ""), (1, "_reverse")] {
        let p = |k: &str| param(&lstm, &format!("{k}_l0{suffix}"));
        let (wi, wh, bi, bh) = (p("weight_ih"), p("weight_hh"), p("bias_ih"), p("bias_hh"));
        let (mut h, mut c) = (zero.clone(), zero.clone());
        let order: Vec<usize> = if dir == 0 {
            (0..t).collect()
        } else {
            (0..t).rev().collect()
        };
        for step in order {
            let xt = x.select(0, step as i64).unwrap();
            (h, c) = F::lstm_cell(&xt, &h, &c, &wi, &wh, Some(&bi), Some(&bh)).unwrap();
            let got = out
                .select(0, step as i64)
                .unwrap()
                .narrow(-1, (dir * hs) as i64, hs)
                .unwrap();
            assert_close(&got, &h, 1e-5);
        }
        assert_close(&h_n.select(0, dir as i64).unwrap(), &h, 1e-5);
        assert_close(&c_n.select(0, dir as i64).unwrap(), &c, 1e-5);
    }
}

#[test]
fn gradients_reach_every_parameter() {
    let opts = RnnOptions::default()
        .num_layers(2)
        .bidirectional(true)
        .batch_first(true);
    let x = Variable::parameter(Tensor::randn(&[2, 5, 3]));

    let lstm = LSTM::with_options(3, 4, opts).unwrap();
    let h0 = Variable::parameter(Tensor::randn(&[4, 2, 4]));
    let c0 = Variable::parameter(Tensor::randn(&[4, 2, 4]));
    let (out, h, c) = lstm.forward_with_state(&x, Some((&h0, &c0))).unwrap();
    let loss = out
        .square()
        .sum()
        .add(&h.sum())
        .unwrap()
        .add(&c.sum())
        .unwrap();
    loss.backward().unwrap();
    all_grads_nonzero(&lstm);
    assert!(x.grad().is_some() && h0.grad().is_some() && c0.grad().is_some());

    let gru = GRU::with_options(3, 4, opts).unwrap();
    gru.forward(&x).unwrap().square().sum().backward().unwrap();
    all_grads_nonzero(&gru);

    let rnn = RNN::with_options(3, 4, Nonlinearity::Tanh, opts).unwrap();
    rnn.forward(&x).unwrap().square().sum().backward().unwrap();
    all_grads_nonzero(&rnn);
}

#[test]
fn dropout_between_layers_only_in_training() {
    let lstm = LSTM::with_options(3, 4, RnnOptions::default().num_layers(2).dropout(1.0)).unwrap();
    let x = Variable::constant(Tensor::randn(&[5, 2, 3]));
    // p = 1 zeroes the second layer's input: its output no longer depends on x.
    let a = lstm.forward(&x).unwrap();
    let b = lstm
        .forward(&Variable::constant(Tensor::randn(&[5, 2, 3])))
        .unwrap();
    assert_close(&a, &b, 0.0);
    lstm.eval();
    assert!(!lstm.is_training());
    let a = lstm.forward(&x).unwrap();
    let b = lstm
        .forward(&Variable::constant(Tensor::randn(&[5, 2, 3])))
        .unwrap();
    assert_ne!(a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
}

#[test]
fn embedding_lookup_and_padding_gradient() {
    let emb = Embedding::with_padding(6, 3, Some(2)).unwrap();
    assert_eq!(emb.weight().shape(), [6, 3]);
    let w = emb.weight().to_vec::<f32>().unwrap();
    assert_eq!(w[6..9], [0.0, 0.0, 0.0]);
    let idx = Tensor::from_vec(vec![2i64, 1, 2, 5, 1, 0], &[2, 3]).unwrap();
    let y = emb.forward(&Variable::constant(idx.clone())).unwrap();
    assert_eq!(y.shape(), [2, 3, 3]);
    let yv = y.to_vec::<f32>().unwrap();
    assert_eq!(yv[3..6], w[3..6]);
    // Loss weights that make every looked-up row's gradient non-zero.
    let scale = Variable::constant(Tensor::randn(&[2, 3, 3]).add_scalar(5.0));
    y.mul(&scale).unwrap().sum().backward().unwrap();
    let g = emb.weight().grad().unwrap().to_vec::<f32>().unwrap();
    assert_eq!(g[6..9], [0.0, 0.0, 0.0], "padding row must get no gradient");
    for row in [0, 1, 5] {
        assert!(
            g[row * 3..row * 3 + 3].iter().all(|&v| v != 0.0),
            "row {row}"
        );
    }
    for row in [3, 4] {
        assert_eq!(g[row * 3..row * 3 + 3], [0.0, 0.0, 0.0]);
    }
    // A padding row set to non-zero values is still looked up as it is.
    let emb = Embedding::with_padding(4, 2, Some(-1)).unwrap();
    assert_eq!(emb.padding_idx(), Some(3));
    emb.weight()
        .set_data(Tensor::from_vec(vec![1.0f32; 8], &[4, 2]).unwrap())
        .unwrap();
    let y = emb
        .forward_indices(&Tensor::from_vec(vec![3i64], &[1]).unwrap())
        .unwrap();
    assert_eq!(y.to_vec::<f32>().unwrap(), [1.0, 1.0]);
    assert!(Embedding::with_padding(4, 2, Some(4)).is_err());
    assert!(emb
        .forward_indices(&Tensor::from_vec(vec![4i64], &[1]).unwrap())
        .is_err());
    let names: Vec<String> = emb.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight"]);
}
