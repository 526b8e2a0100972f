//! Variable-length batches: running a padded batch with `lengths` gives,
//! for every sequence, exactly what running that sequence alone gives
//! (PyTorch's `pack_padded_sequence` semantics), and padding gets no
//! gradient.

use torchlet_autograd::Variable;
use torchlet_nn::{Nonlinearity, RnnOptions, GRU, LSTM, RNN};
use torchlet_tensor::{manual_seed, Tensor};

const LENGTHS: [usize; 4] = [5, 2, 4, 1];
const T: usize = 5;
const IN: usize = 3;
const H: usize = 4;

fn options(batch_first: bool) -> RnnOptions {
    RnnOptions::default()
        .num_layers(2)
        .bidirectional(true)
        .batch_first(batch_first)
}

/// A padded `[T, N, IN]` batch whose padding is garbage (large values), so
/// any leak shows.
fn padded_batch() -> Tensor {
    let x = Tensor::randn(&[T, LENGTHS.len(), IN]).to_dtype(torchlet_tensor::DType::F64);
    let mut v = x.to_vec::<f64>().unwrap();
    for t in 0..T {
        for (n, &len) in LENGTHS.iter().enumerate() {
            if t >= len {
                for k in 0..IN {
                    v[(t * LENGTHS.len() + n) * IN + k] = 1e3 * (k as f64 + 1.0);
                }
            }
        }
    }
    Tensor::from_vec(v, &[T, LENGTHS.len(), IN]).unwrap()
}

/// Sequence `n` of the batch alone, `[len, 1, IN]`.
fn alone(x: &Tensor, n: usize) -> Tensor {
    x.narrow(0, 0, LENGTHS[n])
        .unwrap()
        .narrow(1, n as i64, 1)
        .unwrap()
        .contiguous()
}

fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() < 1e-12, "{what}[{i}]: {g} vs {w}");
    }
}

/// Runs `f(x, lengths)` on the padded batch and `f(x_n, [len_n])` on each
/// sequence alone; compares outputs (zeros past each length), final
/// states, and input gradients (zero on padding).
fn check(
    name: &str,
    batch_first: bool,
    f: impl Fn(&Variable, &[usize]) -> (Variable, Vec<Variable>),
) {
    let x = padded_batch();
    let to_layout = |t: &Tensor| {
        if batch_first {
            t.transpose(0, 1).unwrap().contiguous()
        } else {
            t.clone()
        }
    };
    let xb = Variable::new(to_layout(&x), true);
    let (out, states) = f(&xb, &LENGTHS);
    out.sum().backward().unwrap();
    let grad = xb.grad().unwrap();
    let (out, grad) = if batch_first {
        (
            out.data().transpose(0, 1).unwrap().contiguous(),
            grad.transpose(0, 1).unwrap().contiguous(),
        )
    } else {
        (out.data(), grad)
    };
    for (n, &len) in LENGTHS.iter().enumerate() {
        let what = format!("{name} batch_first={batch_first} sequence {n}");
        let xn = Variable::new(to_layout(&alone(&x, n)), true);
        let (out_n, states_n) = f(&xn, &[len]);
        out_n.sum().backward().unwrap();
        let out_n = if batch_first {
            out_n.data().transpose(0, 1).unwrap().contiguous()
        } else {
            out_n.data()
        };
        let mine = out.narrow(1, n as i64, 1).unwrap();
        let real = mine.narrow(0, 0, len).unwrap().contiguous();
        assert_close(
            &format!("{what}: output"),
            &real.to_vec().unwrap(),
            &out_n.to_vec().unwrap(),
        );
        if len < T {
            let pad = mine.narrow(0, len as i64, T - len).unwrap().contiguous();
            assert!(
                pad.to_vec::<f64>().unwrap().iter().all(|&v| v == 0.0),
                "{what}: padded outputs"
            );
        }
        for (k, (s, s_n)) in states.iter().zip(&states_n).enumerate() {
            let s = s.data().narrow(1, n as i64, 1).unwrap().contiguous();
            assert_close(
                &format!("{what}: state {k}"),
                &s.to_vec().unwrap(),
                &s_n.data().to_vec().unwrap(),
            );
        }
        let g = grad.narrow(1, n as i64, 1).unwrap();
        let g_n = if batch_first {
            xn.grad().unwrap().transpose(0, 1).unwrap().contiguous()
        } else {
            xn.grad().unwrap()
        };
        let g_real = g.narrow(0, 0, len).unwrap().contiguous();
        assert_close(
            &format!("{what}: input grad"),
            &g_real.to_vec().unwrap(),
            &g_n.to_vec().unwrap(),
        );
        if len < T {
            let g_pad = g.narrow(0, len as i64, T - len).unwrap().contiguous();
            assert!(
                g_pad.to_vec::<f64>().unwrap().iter().all(|&v| v == 0.0),
                "{what}: padding grad"
            );
        }
    }
}

fn to_f64<M: torchlet_nn::Module>(m: &M) {
    for (_, p) in m.named_parameters() {
        p.set_data(p.data().to_dtype(torchlet_tensor::DType::F64))
            .unwrap();
    }
}

#[test]
fn lstm_with_lengths_equals_each_sequence_alone() {
    manual_seed(1);
    for batch_first in [false, true] {
        let lstm = LSTM::with_options(IN, H, options(batch_first)).unwrap();
        to_f64(&lstm);
        check("LSTM", batch_first, |x, lengths| {
            let (out, h, c) = lstm.forward_with_lengths(x, lengths, None).unwrap();
            (out, vec![h, c])
        });
    }
}

#[test]
fn gru_with_lengths_equals_each_sequence_alone() {
    manual_seed(2);
    for batch_first in [false, true] {
        let gru = GRU::with_options(IN, H, options(batch_first)).unwrap();
        to_f64(&gru);
        check("GRU", batch_first, |x, lengths| {
            let (out, h) = gru.forward_with_lengths(x, lengths, None).unwrap();
            (out, vec![h])
        });
    }
}

#[test]
fn rnn_with_lengths_equals_each_sequence_alone() {
    manual_seed(3);
    for nonlinearity in [Nonlinearity::Tanh, Nonlinearity::Relu] {
        let rnn = RNN::with_options(IN, H, nonlinearity, options(false)).unwrap();
        to_f64(&rnn);
        check("RNN", false, |x, lengths| {
            let (out, h) = rnn.forward_with_lengths(x, lengths, None).unwrap();
            (out, vec![h])
        });
    }
}

/// Full-length sequences take the masked path but must agree with the
/// plain (fused, for the LSTM) forward.
#[test]
fn full_lengths_match_the_plain_forward() {
    manual_seed(4);
    let lstm = LSTM::with_options(IN, H, options(false)).unwrap();
    let x = Variable::constant(Tensor::randn(&[T, 3, IN]));
    let (a, ha, ca) = lstm.forward_with_state(&x, None).unwrap();
    let (b, hb, cb) = lstm.forward_with_lengths(&x, &[T; 3], None).unwrap();
    for (what, p, q) in [("out", a, b), ("h", ha, hb), ("c", ca, cb)] {
        let (p, q) = (p.to_vec::<f32>().unwrap(), q.to_vec::<f32>().unwrap());
        for (u, v) in p.iter().zip(&q) {
            assert!((u - v).abs() < 1e-5, "{what}: {u} vs {v}");
        }
    }
}

#[test]
fn bad_lengths_are_errors() {
    let gru = GRU::new(IN, H).unwrap();
    let x = Variable::constant(Tensor::randn(&[T, 2, IN]));
    let msg = |l: &[usize]| {
        gru.forward_with_lengths(&x, l, None)
            .unwrap_err()
            .to_string()
    };
    assert!(msg(&[1]).contains("one length per sequence (2), got 1"));
    assert!(msg(&[0, 2]).contains("got 0"));
    assert!(msg(&[6, 2]).contains("1..=5"));
    let unbatched = Variable::constant(Tensor::randn(&[T, IN]));
    let err = gru
        .forward_with_lengths(&unbatched, &[2], None)
        .unwrap_err();
    assert!(err.to_string().contains("batched"));
}

/// Inference (no gradient needed) runs an LSTM's padded batch on the
/// fused kernel; training steps through it with differentiable ops. Both
/// give the same outputs and final states (within rounding).
#[test]
fn lstm_inference_on_the_fused_kernel_matches_the_stepped_run() {
    manual_seed(21);
    let lstm = LSTM::with_options(IN, H, options(false)).unwrap();
    to_f64(&lstm);
    let x = Variable::constant(padded_batch());
    let stepped = lstm.forward_with_lengths(&x, &LENGTHS, None).unwrap();
    let fused =
        torchlet_autograd::no_grad(|| lstm.forward_with_lengths(&x, &LENGTHS, None)).unwrap();
    let pairs = [
        (&stepped.0, &fused.0),
        (&stepped.1, &fused.1),
        (&stepped.2, &fused.2),
    ];
    for (a, b) in pairs {
        assert!(a.requires_grad() && !b.requires_grad());
        let (a, b) = (a.to_vec::<f64>().unwrap(), b.to_vec::<f64>().unwrap());
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-12, "{x} vs {y}");
        }
    }
}
