//! Every SIMD level this CPU runs (baseline, AVX2, AVX-512) gives the
//! same bits (NaN's sign and payload aside): the loops are plain Rust
//! compiled three times, so only the vector width may differ. Says which
//! levels the CPU could not run.
//!
//! One test function, because the level is process-wide.

use torchlet_tensor::functional::{lstm_sequence, lstm_sequence_backward};
use torchlet_tensor::{with_simd_level, AdamStep, Generator, SgdStep, SimdLevel, Tensor};

/// The outputs' bits, every NaN as one (a NaN's sign and payload may
/// depend on the instructions).
fn bits(ts: &[Tensor]) -> Vec<Vec<u32>> {
    let one = |v: &f32| {
        if v.is_nan() {
            f32::NAN.to_bits()
        } else {
            v.to_bits()
        }
    };
    ts.iter()
        .map(|t| t.to_vec::<f32>().unwrap().iter().map(one).collect())
        .collect()
}

#[test]
fn every_simd_level_gives_the_same_bits() {
    let mut g = Generator::new(3);
    // Odd lengths (vector tails), values across exp's and tanh's ranges,
    // and the special values.
    let mut x = Tensor::randn_with(&[70_001], &mut g).mul_scalar(6.0);
    let y = Tensor::randn_with(&[70_001], &mut g);
    let mut v = x.to_vec::<f32>().unwrap();
    v[..6].copy_from_slice(&[0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1e-40]);
    // exp's and sigmoid's subnormal and overflow edges, and NaN payloads.
    let nan_payload = f32::from_bits(0x7fc0_0101);
    v[6..14].copy_from_slice(&[
        -88.5,
        88.5,
        -95.0,
        95.0,
        88.72283,
        -103.9,
        nan_payload,
        103.9,
    ]);
    x = Tensor::from_vec(v, &[70_001]).unwrap();
    let rows = Tensor::randn_with(&[37, 1029], &mut g);
    // The fused LSTM's cells (forward and backward).
    let (t, n, i, h) = (5, 9, 13, 21);
    let mut randn = |shape: &[usize]| Tensor::randn_with(shape, &mut g);
    let (xs, h0, c0) = (randn(&[t, n, i]), randn(&[n, h]), randn(&[n, h]));
    let (w_ih, w_hh, b_ih) = (randn(&[4 * h, i]), randn(&[4 * h, h]), randn(&[4 * h]));
    let (d_out, d_c) = (randn(&[t, n, h]), randn(&[n, h]));
    let ops = || -> Vec<Tensor> {
        let mut out = vec![
            x.exp(),
            x.log(),
            x.tanh(),
            x.sigmoid(),
            x.erf(),
            x.silu(),
            x.softplus(),
            x.sqrt(),
            x.relu(),
            x.add(&y).unwrap(),
            x.mul(&y).unwrap(),
            x.div(&y).unwrap(),
            x.pow(3.0).unwrap(),
            x.mul_scalar(0.3),
            rows.softmax(1).unwrap(),
            rows.log_softmax(0).unwrap(),
            rows.sum_dims(&[1], false).unwrap(),
            rows.mean_dims(&[0], true).unwrap(),
        ];
        let f = lstm_sequence(&xs, &h0, &c0, &w_ih, &w_hh, Some(&b_ih), None, false).unwrap();
        let b = lstm_sequence_backward(
            &f.trace, &xs, &h0, &c0, &w_ih, &w_hh, &f.output, &d_out, &d_c, false,
        )
        .unwrap();
        out.extend([f.output, f.c_n, b.input, b.w_hh, b.bias]);
        let mut inplace = x.clone();
        inplace.add_scaled_(&y, 0.7).unwrap();
        inplace.mul_scalar_(1.5);
        out.push(inplace);
        // An SGD and an Adam step on a copy of `x` (the optimizer loops).
        let (mut p, mut buf) = (x.clone(), y.mul_scalar(0.5));
        let sgd = SgdStep {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: 1e-4,
            nesterov: true,
            maximize: false,
            first_step: false,
        };
        p.sgd_step_(&y, Some(&mut buf), &sgd).unwrap();
        out.extend([p, buf]);
        let (mut p, mut m, mut s) = (x.clone(), y.mul_scalar(0.1), y.square());
        let adam = AdamStep {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
            decoupled_weight_decay: true,
            maximize: false,
            step: 3,
        };
        p.adam_step_(&y, &mut m, &mut s, None, &adam).unwrap();
        out.extend([p, m, s]);
        out
    };
    let levels = SimdLevel::available();
    for &level in &levels {
        let (e, s) = with_simd_level(level, || (x.exp(), x.sigmoid()));
        for t in [e, s] {
            let t = t.to_vec::<f32>().unwrap();
            assert!(t[4].is_nan() && t[12].is_nan(), "NaN lost at {level:?}");
        }
    }
    let want = with_simd_level(SimdLevel::Baseline, || bits(&ops()));
    for &level in &levels[1..] {
        let got = with_simd_level(level, || bits(&ops()));
        for (k, (a, b)) in want.iter().zip(&got).enumerate() {
            assert!(a == b, "output {k} differs between Baseline and {level:?}");
        }
    }
    let missing: Vec<_> = [SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .filter(|l| !levels.contains(l))
        .collect();
    if !missing.is_empty() {
        eprintln!("simd levels this CPU cannot run (not compared): {missing:?}");
    }
}
