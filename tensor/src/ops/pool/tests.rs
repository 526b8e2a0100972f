//! Tests of the pool kernels: against naive loops, PyTorch-computed values and finite differences.

use super::*;
use crate::random::Generator;

// ----- helpers ---------------------------------------------------------------

fn randn(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
    Tensor::normal_with(shape, 0.0, 1.0, dtype, &mut Generator::new(seed))
}

fn f64s(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).to_vec::<f64>().unwrap()
}

fn t64(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(v, shape).unwrap()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[track_caller]
fn assert_close(got: &[f64], want: &[f64], atol: f64, rtol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let same_nan = g.is_nan() && w.is_nan();
        assert!(
            same_nan || (g - w).abs() <= atol + rtol * w.abs(),
            "{what}: element {i}: got {g}, want {w}"
        );
    }
}

#[track_caller]
fn err_msg<T>(r: Result<T>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected an error"),
    }
}

/// A pooling configuration over an input of shape `x` (3-d or 4-d).
#[derive(Clone, Copy, Debug)]
struct Case {
    x: &'static [usize],
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    ceil: bool,
}

const fn case(
    x: &'static [usize],
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    ceil: bool,
) -> Case {
    Case {
        x,
        k,
        s,
        p,
        d,
        ceil,
    }
}

const CASES: &[Case] = &[
    case(&[2, 3, 6, 6], [2, 2], [2, 2], [0, 0], [1, 1], false),
    case(&[1, 1, 5, 7], [2, 2], [2, 2], [0, 0], [1, 1], true),
    case(&[1, 2, 7, 5], [2, 2], [2, 2], [0, 0], [1, 1], false),
    case(&[1, 2, 7, 5], [3, 3], [2, 2], [1, 1], [1, 1], false),
    case(&[2, 2, 7, 5], [3, 3], [2, 2], [1, 1], [1, 1], true),
    case(&[1, 3, 8, 9], [3, 2], [1, 2], [1, 1], [1, 1], true),
    case(&[3, 7, 6], [2, 3], [3, 2], [0, 1], [1, 1], true),
    case(&[2, 1, 9, 10], [3, 2], [2, 3], [1, 0], [2, 3], false),
    case(&[1, 2, 10, 9], [3, 3], [2, 2], [1, 0], [2, 2], true),
    case(&[2, 2, 5, 5], [5, 5], [1, 1], [2, 2], [1, 1], false),
    case(&[1, 1, 4, 11], [1, 4], [1, 3], [0, 2], [1, 1], true),
];

/// Output size, written from the definition: the number of window
/// starts `o * s - p` that leave a full window inside the padded input
/// (floor mode), or that start inside the input or left padding (ceil
/// mode).
fn naive_out(len: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> usize {
    let span = d * (k - 1) + 1;
    (0..)
        .take_while(|&o: &usize| {
            let start = o * s; // in padded coordinates
            if ceil {
                start < len + p && (o == 0 || start < len + 2 * p - span + s)
            } else {
                start + span <= len + 2 * p
            }
        })
        .count()
}

/// (planes, h, w, oh, ow)
fn dims(c: &Case) -> (usize, usize, usize, usize, usize) {
    let r = c.x.len();
    let (h, w) = (c.x[r - 2], c.x[r - 1]);
    let planes = c.x[..r - 2].iter().product();
    let oh = naive_out(h, c.k[0], c.s[0], c.p[0], c.d[0], c.ceil);
    let ow = naive_out(w, c.k[1], c.s[1], c.p[1], c.d[1], c.ceil);
    (planes, h, w, oh, ow)
}

/// Max over every in-bounds tap of every window (first maximum in
/// row-major order), with its flat index.
fn naive_max(c: &Case, x: &[f64]) -> (Vec<f64>, Vec<i64>) {
    let (planes, h, w, oh, ow) = dims(c);
    let (mut out, mut idx) = (vec![], vec![]);
    for pl in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best: Option<(f64, usize)> = None;
                for ky in 0..c.k[0] {
                    for kx in 0..c.k[1] {
                        let iy = (oy * c.s[0] + ky * c.d[0]) as isize - c.p[0] as isize;
                        let ix = (ox * c.s[1] + kx * c.d[1]) as isize - c.p[1] as isize;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            continue;
                        }
                        let at = iy as usize * w + ix as usize;
                        let v = x[pl * h * w + at];
                        if best.is_none_or(|(b, _)| v > b) {
                            best = Some((v, at));
                        }
                    }
                }
                let (v, at) = best.expect("every window holds an input element");
                out.push(v);
                idx.push(at as i64);
            }
        }
    }
    (out, idx)
}

/// Window sums divided as PyTorch does: by the taps inside the padded
/// input (count_include_pad), or by those inside the input.
fn naive_avg(c: &Case, x: &[f64], count_include_pad: bool) -> Vec<f64> {
    let (planes, h, w, oh, ow) = dims(c);
    let mut out = vec![];
    for pl in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let (mut sum, mut inside, mut padded) = (0.0, 0, 0);
                for ky in 0..c.k[0] {
                    for kx in 0..c.k[1] {
                        let iy = (oy * c.s[0] + ky) as isize - c.p[0] as isize;
                        let ix = (ox * c.s[1] + kx) as isize - c.p[1] as isize;
                        if iy < (h + c.p[0]) as isize && ix < (w + c.p[1]) as isize {
                            padded += 1;
                        }
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            continue;
                        }
                        sum += x[pl * h * w + iy as usize * w + ix as usize];
                        inside += 1;
                    }
                }
                out.push(sum / if count_include_pad { padded } else { inside } as f64);
            }
        }
    }
    out
}

// ----- max pooling -----------------------------------------------------------

#[test]
fn max_pool_matches_naive() {
    for (i, c) in CASES.iter().enumerate() {
        for dtype in [DType::F64, DType::F32] {
            let x = randn(c.x, dtype, 10 * i as u64);
            let (y, idx) = x
                .max_pool2d_with_indices_ext(c.k, c.s, c.p, c.d, c.ceil)
                .unwrap();
            let (want, want_idx) = naive_max(c, &f64s(&x));
            let (_, _, _, oh, ow) = dims(c);
            let mut shape = c.x.to_vec();
            let r = shape.len();
            shape[r - 2..].copy_from_slice(&[oh, ow]);
            assert_eq!(y.shape(), shape.as_slice(), "{c:?}");
            assert_eq!(y.dtype(), dtype);
            assert_eq!(idx.dtype(), DType::I64);
            assert_eq!(f64s(&y), want, "{c:?}");
            assert_eq!(idx.to_vec::<i64>().unwrap(), want_idx, "{c:?}");
            let y2 = x.max_pool2d_ext(c.k, c.s, c.p, c.d, c.ceil).unwrap();
            assert_eq!(f64s(&y2), want);
        }
    }
}

#[test]
fn max_pool_hand_checked() {
    // 4x4 plane 0..16, 2x2 windows: maxima are the bottom-right
    // corners 5, 7, 13, 15, which are also their flat indices.
    let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]).unwrap();
    let (y, idx) = x.max_pool2d_with_indices([2, 2], [2, 2], [0, 0]).unwrap();
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![5.0, 7.0, 13.0, 15.0]);
    assert_eq!(idx.to_vec::<i64>().unwrap(), vec![5, 7, 13, 15]);

    // 5x5 plane 0..25, 2x2 stride 2, ceil mode: a third partial window
    // per dim (row/col 4 only), by hand.
    let x = Tensor::from_vec((0..25).map(|v| v as f64).collect(), &[1, 5, 5]).unwrap();
    let (y, idx) = x
        .max_pool2d_with_indices_ext([2, 2], [2, 2], [0, 0], [1, 1], true)
        .unwrap();
    assert_eq!(y.shape(), &[1, 3, 3]);
    let want = [6.0, 8.0, 9.0, 16.0, 18.0, 19.0, 21.0, 23.0, 24.0];
    assert_eq!(y.to_vec::<f64>().unwrap(), want);
    assert_eq!(idx.to_vec::<i64>().unwrap(), want.map(|v| v as i64));
    // floor mode drops them
    assert_eq!(
        x.max_pool2d([2, 2], [2, 2], [0, 0]).unwrap().shape(),
        &[1, 2, 2]
    );

    // Padding is -inf, never a zero: an all-negative plane -1..-9 with
    // 3x3 windows, stride 1, padding 1 takes the max of the in-bounds
    // neighbours (the top-left-most one).
    let x = Tensor::from_vec((1..=9).map(|v| -(v as f32)).collect(), &[1, 1, 3, 3]).unwrap();
    let (y, idx) = x.max_pool2d_with_indices([3, 3], [1, 1], [1, 1]).unwrap();
    assert_eq!(
        y.to_vec::<f32>().unwrap(),
        vec![-1.0, -1.0, -2.0, -1.0, -1.0, -2.0, -4.0, -4.0, -5.0]
    );
    assert_eq!(
        idx.to_vec::<i64>().unwrap(),
        vec![0, 0, 1, 0, 0, 1, 3, 3, 4]
    );
}

#[test]
fn max_pool_propagates_nan_like_pytorch() {
    // PyTorch's CPU kernel takes `val > max || isnan(val)`: a NaN wins,
    // and a later NaN replaces an earlier one. An all -inf window keeps
    // -inf and the index of its first tap.
    let (nan, inf) = (f32::NAN, f32::INFINITY);
    #[rustfmt::skip]
    let x = vec![
        1.0, nan, nan, 5.0, -inf, -inf,
        3.0, 2.0, nan, 0.0, -inf, -inf,
    ];
    let x = Tensor::from_vec(x, &[1, 2, 6]).unwrap();
    let (y, idx) = x.max_pool2d_with_indices([2, 2], [2, 2], [0, 0]).unwrap();
    let y = y.to_vec::<f32>().unwrap();
    assert!(y[0].is_nan() && y[1].is_nan());
    assert_eq!(y[2], -inf);
    assert_eq!(idx.to_vec::<i64>().unwrap(), vec![1, 8, 4]);
    // and +inf is an ordinary maximum
    let x = Tensor::from_vec(vec![1.0f64, inf as f64, 2.0, 3.0], &[1, 2, 2]).unwrap();
    assert_eq!(
        x.max_pool2d([2, 2], [1, 1], [0, 0])
            .unwrap()
            .to_vec::<f64>()
            .unwrap(),
        vec![f64::INFINITY]
    );
}

#[test]
fn max_pool_ties_nan_and_inf_follow_the_pytorch_rule() {
    // Inputs full of ties, NaNs and -infs, against a direct loop of
    // PyTorch's rule: start at (-inf, first tap) and take a tap when it
    // is greater than the running maximum or NaN.
    let mut gen = Generator::new(77);
    for c in CASES {
        let n: usize = c.x.iter().product();
        let pick = [f64::NAN, f64::NEG_INFINITY, 0.0, -0.0, 1.0, 2.0, 2.0, 3.0];
        let xv: Vec<f64> = (0..n).map(|_| pick[gen.int_below(0, 8) as usize]).collect();
        let x = t64(&xv, c.x);
        let (y, idx) = x
            .max_pool2d_with_indices_ext(c.k, c.s, c.p, c.d, c.ceil)
            .unwrap();
        let (planes, h, w, oh, ow) = dims(c);
        let (mut want, mut want_idx) = (vec![], vec![]);
        for pl in 0..planes {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut best, mut at) = (f64::NEG_INFINITY, None);
                    for ky in 0..c.k[0] {
                        for kx in 0..c.k[1] {
                            let iy = (oy * c.s[0] + ky * c.d[0]) as isize - c.p[0] as isize;
                            let ix = (ox * c.s[1] + kx * c.d[1]) as isize - c.p[1] as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue;
                            }
                            let i = iy as usize * w + ix as usize;
                            let v = xv[pl * h * w + i];
                            at = at.or(Some(i));
                            if v > best || v.is_nan() {
                                (best, at) = (v, Some(i));
                            }
                        }
                    }
                    want.push(best);
                    want_idx.push(at.unwrap() as i64);
                }
            }
        }
        let got = f64s(&y);
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                "{c:?} [{k}]: {g} vs {w}"
            );
        }
        assert_eq!(idx.to_vec::<i64>().unwrap(), want_idx, "{c:?}");
    }
}

#[test]
fn max_pool_backward() {
    for (i, c) in CASES.iter().enumerate() {
        let x = randn(c.x, DType::F64, 100 + i as u64);
        let (y, idx) = x
            .max_pool2d_with_indices_ext(c.k, c.s, c.p, c.d, c.ceil)
            .unwrap();
        let g = randn(y.shape(), DType::F64, 200 + i as u64);
        let dx = Tensor::max_pool2d_backward(&g, &idx, c.x).unwrap();
        assert_eq!(dx.shape(), c.x);
        // out[o] = x[idx[o]] so <out, g> = <x, dx> exactly, and dx is
        // the naive scatter-add of g at the argmax positions.
        let (xv, gv, dxv) = (f64s(&x), f64s(&g), f64s(&dx));
        let lhs = dot(&f64s(&y), &gv);
        assert!(
            (lhs - dot(&xv, &dxv)).abs() < 1e-12 * (1.0 + lhs.abs()),
            "{c:?}"
        );
        let (planes, h, w, oh, ow) = dims(c);
        let mut want = vec![0.0; planes * h * w];
        for (o, &at) in idx.to_vec::<i64>().unwrap().iter().enumerate() {
            want[(o / (oh * ow)) * h * w + at as usize] += gv[o];
        }
        assert_close(&dxv, &want, 1e-12, 0.0, &format!("{c:?}"));
        // finite differences of sum(max_pool(x) * g) on a few inputs
        // (random inputs: no ties, so it is differentiable there)
        let eps = 1e-6;
        for j in (0..xv.len()).step_by(5) {
            let f = |d: f64| {
                let mut v = xv.clone();
                v[j] += d;
                let y = t64(&v, c.x)
                    .max_pool2d_ext(c.k, c.s, c.p, c.d, c.ceil)
                    .unwrap();
                dot(&f64s(&y), &gv)
            };
            let fd = (f(eps) - f(-eps)) / (2.0 * eps);
            assert!(
                (fd - dxv[j]).abs() < 1e-6,
                "{c:?} [{j}]: fd {fd} vs {}",
                dxv[j]
            );
        }
    }
}

// ----- average pooling ----------------------------------------------------------

#[test]
fn avg_pool_matches_naive() {
    for (i, c) in CASES.iter().filter(|c| c.d == [1, 1]).enumerate() {
        for count_include_pad in [true, false] {
            for dtype in [DType::F64, DType::F32] {
                let x = randn(c.x, dtype, 300 + i as u64);
                let y = x
                    .avg_pool2d_ext(c.k, c.s, c.p, c.ceil, count_include_pad, None)
                    .unwrap();
                let want = naive_avg(c, &f64s(&x), count_include_pad);
                let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
                assert_close(
                    &f64s(&y),
                    &want,
                    tol,
                    tol,
                    &format!("{c:?} {count_include_pad}"),
                );
                if count_include_pad && !c.ceil {
                    assert_eq!(f64s(&x.avg_pool2d(c.k, c.s, c.p).unwrap()), f64s(&y));
                }
            }
        }
        // divisor_override replaces the divisor everywhere
        let x = randn(c.x, DType::F64, 400 + i as u64);
        let y = x
            .avg_pool2d_ext(c.k, c.s, c.p, c.ceil, true, Some(3))
            .unwrap();
        let ones = x.full_like(1.0);
        let sums = f64s(
            &x.avg_pool2d_ext(c.k, c.s, c.p, c.ceil, false, None)
                .unwrap(),
        )
        .iter()
        .zip(f64s(
            &ones
                .avg_pool2d_ext(c.k, c.s, c.p, c.ceil, false, Some(1))
                .unwrap(),
        ))
        .map(|(mean, count)| mean * count / 3.0)
        .collect::<Vec<_>>();
        assert_close(
            &f64s(&y),
            &sums,
            1e-12,
            1e-12,
            &format!("{c:?} divisor_override"),
        );
    }
}

#[test]
fn avg_pool_hand_checked() {
    // 4x4 plane 0..16, 2x2 windows: (0+1+4+5)/4 = 2.5, then 4.5, 10.5, 12.5.
    let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]).unwrap();
    let y = x.avg_pool2d([2, 2], [2, 2], [0, 0]).unwrap();
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![2.5, 4.5, 10.5, 12.5]);

    // 3x3 ones, 3x3 windows, stride 1, padding 1: with the padding
    // counted, corners see 4 ones of 9 taps, edges 6, the centre 9.
    let x = Tensor::ones(&[1, 1, 3, 3]);
    let y = x.avg_pool2d([3, 3], [1, 1], [1, 1]).unwrap();
    let (c, e) = (4.0f32 / 9.0, 6.0f32 / 9.0);
    assert_close(
        &f64s(&y),
        &[c, e, c, e, 1.0, e, c, e, c].map(|v| v as f64),
        1e-7,
        0.0,
        "count_include_pad",
    );
    let y = x
        .avg_pool2d_ext([3, 3], [1, 1], [1, 1], false, false, None)
        .unwrap();
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0; 9]);

    // 5x5 plane 0..25, 2x2 stride 2, ceil mode: the partial windows
    // past the input are divided by their size inside it (PyTorch
    // counts padding only up to the padded input), e.g. (4+9)/2 = 6.5.
    let x = Tensor::from_vec((0..25).map(|v| v as f64).collect(), &[1, 1, 5, 5]).unwrap();
    let y = x
        .avg_pool2d_ext([2, 2], [2, 2], [0, 0], true, true, None)
        .unwrap();
    assert_eq!(
        y.to_vec::<f64>().unwrap(),
        vec![3.0, 5.0, 6.5, 13.0, 15.0, 16.5, 20.5, 22.5, 24.0]
    );
}

#[test]
fn avg_pool_backward_is_the_adjoint() {
    for (i, c) in CASES.iter().filter(|c| c.d == [1, 1]).enumerate() {
        for (cip, div) in [(true, None), (false, None), (true, Some(5))] {
            let x = randn(c.x, DType::F64, 500 + i as u64);
            let y = x.avg_pool2d_ext(c.k, c.s, c.p, c.ceil, cip, div).unwrap();
            let g = randn(y.shape(), DType::F64, 600 + i as u64);
            let dx =
                Tensor::avg_pool2d_backward_ext(&g, c.x, c.k, c.s, c.p, c.ceil, cip, div).unwrap();
            assert_eq!(dx.shape(), c.x);
            let lhs = dot(&f64s(&y), &f64s(&g));
            let rhs = dot(&f64s(&x), &f64s(&dx));
            assert!(
                (lhs - rhs).abs() < 1e-12 * (1.0 + lhs.abs()),
                "{c:?}: {lhs} vs {rhs}"
            );
            if cip && div.is_none() && !c.ceil {
                let dx2 = Tensor::avg_pool2d_backward(&g, c.x, c.k, c.s, c.p).unwrap();
                assert_eq!(f64s(&dx2), f64s(&dx));
            }
        }
    }
}

// ----- adaptive average pooling -------------------------------------------------

#[test]
fn adaptive_avg_pool_hand_checked() {
    // 3x3 plane 0..9 to 2x2: rows and columns split into bins [0, 2)
    // and [1, 3) (floor(i*3/2) .. ceil((i+1)*3/2)), overlapping in the
    // middle: means of {0,1,3,4}, {1,2,4,5}, {3,4,6,7}, {4,5,7,8}.
    let x = Tensor::from_vec((0..9).map(|v| v as f32).collect(), &[1, 1, 3, 3]).unwrap();
    let y = x.adaptive_avg_pool2d([2, 2]).unwrap();
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![2.0, 3.0, 5.0, 6.0]);

    // 2x2 plane [[0, 1], [2, 3]] up to 3x3: bins [0,1), [0,2), [1,2).
    let x = Tensor::from_vec(vec![0.0f64, 1.0, 2.0, 3.0], &[1, 2, 2]).unwrap();
    let y = x.adaptive_avg_pool2d([3, 3]).unwrap();
    assert_eq!(y.shape(), &[1, 3, 3]);
    assert_eq!(
        y.to_vec::<f64>().unwrap(),
        vec![0.0, 0.5, 1.0, 1.0, 1.5, 2.0, 2.0, 2.5, 3.0]
    );

    // [1, 1] is the global mean; an output size of 0 is empty.
    let x = randn(&[2, 3, 5, 4], DType::F64, 1);
    let y = x.adaptive_avg_pool2d([1, 1]).unwrap();
    let xv = f64s(&x);
    let want: Vec<f64> = xv
        .chunks(20)
        .map(|p| p.iter().sum::<f64>() / 20.0)
        .collect();
    assert_close(&f64s(&y), &want, 1e-12, 1e-12, "global mean");
    assert_eq!(
        x.adaptive_avg_pool2d([0, 2]).unwrap().shape(),
        &[2, 3, 0, 2]
    );
}

#[test]
fn adaptive_avg_pool_matches_avg_pool_and_its_adjoint() {
    // When the size divides, the bins are the avg_pool windows.
    let x = randn(&[2, 3, 6, 4], DType::F64, 2);
    let a = x.adaptive_avg_pool2d([3, 2]).unwrap();
    let b = x.avg_pool2d([2, 2], [2, 2], [0, 0]).unwrap();
    assert_close(&f64s(&a), &f64s(&b), 1e-12, 1e-12, "divisible");
    assert_eq!(f64s(&x.adaptive_avg_pool2d([6, 4]).unwrap()), f64s(&x));
    for (i, (shape, out)) in [
        (&[2, 3, 7, 5][..], [3, 2]),
        (&[3, 10, 9][..], [4, 7]),
        (&[1, 2, 3, 4][..], [5, 6]),
        (&[2, 2, 6, 6][..], [1, 1]),
    ]
    .into_iter()
    .enumerate()
    {
        let x = randn(shape, DType::F64, 10 + i as u64);
        let y = x.adaptive_avg_pool2d(out).unwrap();
        let g = randn(y.shape(), DType::F64, 20 + i as u64);
        let dx = Tensor::adaptive_avg_pool2d_backward(&g, shape).unwrap();
        assert_eq!(dx.shape(), shape);
        let lhs = dot(&f64s(&y), &f64s(&g));
        let rhs = dot(&f64s(&x), &f64s(&dx));
        assert!(
            (lhs - rhs).abs() < 1e-12 * (1.0 + lhs.abs()),
            "{shape:?} -> {out:?}"
        );
    }
}

// ----- shapes, threads, layouts -----------------------------------------------------

#[test]
fn large_inputs_use_threads_and_match_naive() {
    let c = case(&[4, 16, 32, 32], [3, 3], [2, 2], [1, 1], [1, 1], false);
    let x = randn(c.x, DType::F32, 3);
    let (y, idx) = x.max_pool2d_with_indices(c.k, c.s, c.p).unwrap();
    let g = pool_geometry("t", c.x, c.k, c.s, c.p, c.d, false).unwrap();
    assert!(g.work() >= ELEMENTWISE_PAR_THRESHOLD);
    let (want, want_idx) = naive_max(&c, &f64s(&x));
    assert_eq!(f64s(&y), want);
    assert_eq!(idx.to_vec::<i64>().unwrap(), want_idx);
    let a = x.avg_pool2d(c.k, c.s, c.p).unwrap();
    assert_close(
        &f64s(&a),
        &naive_avg(&c, &f64s(&x), true),
        1e-5,
        1e-5,
        "avg",
    );
    let dx = Tensor::max_pool2d_backward(&y, &idx, c.x).unwrap();
    let dxa = Tensor::avg_pool2d_backward(&a, c.x, c.k, c.s, c.p).unwrap();
    assert_eq!(dx.shape(), c.x);
    assert_eq!(dxa.shape(), c.x);
    let ad = x.adaptive_avg_pool2d([5, 7]).unwrap();
    let dad = Tensor::adaptive_avg_pool2d_backward(&ad, c.x).unwrap();
    assert_eq!(dad.shape(), c.x);
}

#[test]
fn unbatched_noncontiguous_and_empty_inputs() {
    let x = randn(&[2, 3, 6, 5], DType::F64, 4);
    let y = x.max_pool2d([3, 2], [2, 2], [1, 1]).unwrap();
    let y0 = x
        .select(0, 1)
        .unwrap()
        .max_pool2d([3, 2], [2, 2], [1, 1])
        .unwrap();
    assert_eq!(f64s(&y0), f64s(&y.select(0, 1).unwrap()));
    // NHWC storage viewed as NCHW
    let nchw = x
        .permute(&[0, 2, 3, 1])
        .unwrap()
        .deep_clone()
        .permute(&[0, 3, 1, 2])
        .unwrap();
    assert!(!nchw.is_contiguous());
    assert_eq!(
        f64s(&nchw.max_pool2d([3, 2], [2, 2], [1, 1]).unwrap()),
        f64s(&y)
    );
    assert_eq!(
        f64s(&nchw.avg_pool2d([3, 2], [2, 2], [1, 1]).unwrap()),
        f64s(&x.avg_pool2d([3, 2], [2, 2], [1, 1]).unwrap())
    );
    assert_eq!(
        f64s(&nchw.adaptive_avg_pool2d([4, 3]).unwrap()),
        f64s(&x.adaptive_avg_pool2d([4, 3]).unwrap())
    );
    // an empty batch is allowed
    let e = Tensor::zeros(&[0, 3, 4, 4]);
    assert_eq!(
        e.max_pool2d([2, 2], [2, 2], [0, 0]).unwrap().shape(),
        &[0, 3, 2, 2]
    );
    assert_eq!(
        e.avg_pool2d([2, 2], [2, 2], [0, 0]).unwrap().shape(),
        &[0, 3, 2, 2]
    );
    assert_eq!(
        e.adaptive_avg_pool2d([3, 3]).unwrap().shape(),
        &[0, 3, 3, 3]
    );
}

// ----- PyTorch oracle ---------------------------------------------------------------

#[test]
fn matches_pytorch_oracle() {
    use oracle::*;
    let to64 = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<_>>();
    let shape = [2, 3, 6, 6];

    // max_pool2d/0: kernel 2, stride 2, padding 0
    let x = Tensor::from_slice(&MAX_POOL2D_0_X, &shape).unwrap();
    let (y, idx) = x.max_pool2d_with_indices([2, 2], [2, 2], [0, 0]).unwrap();
    assert_close(
        &f64s(&y),
        &to64(&MAX_POOL2D_0_OUT),
        1e-5,
        1e-4,
        "max_pool2d/0 output",
    );
    let g = Tensor::from_slice(&MAX_POOL2D_0_GOUT, y.shape()).unwrap();
    let dx = Tensor::max_pool2d_backward(&g, &idx, &shape).unwrap();
    assert_close(
        &f64s(&dx),
        &to64(&MAX_POOL2D_0_GX),
        1e-5,
        1e-4,
        "max_pool2d/0 grad",
    );

    // avg_pool2d/0: kernel 2, stride 2, padding 0
    let x = Tensor::from_slice(&AVG_POOL2D_0_X, &shape).unwrap();
    let y = x.avg_pool2d([2, 2], [2, 2], [0, 0]).unwrap();
    assert_close(
        &f64s(&y),
        &to64(&AVG_POOL2D_0_OUT),
        1e-5,
        1e-4,
        "avg_pool2d/0 output",
    );
    let g = Tensor::from_slice(&AVG_POOL2D_0_GOUT, y.shape()).unwrap();
    let dx = Tensor::avg_pool2d_backward(&g, &shape, [2, 2], [2, 2], [0, 0]).unwrap();
    assert_close(
        &f64s(&dx),
        &to64(&AVG_POOL2D_0_GX),
        1e-5,
        1e-4,
        "avg_pool2d/0 grad",
    );

    // adaptive_avg_pool2d/0: output size [1, 1]
    let shape = [2, 3, 6, 4];
    let x = Tensor::from_slice(&ADAPTIVE_AVG_POOL2D_0_X, &shape).unwrap();
    let y = x.adaptive_avg_pool2d([1, 1]).unwrap();
    assert_eq!(y.shape(), &[2, 3, 1, 1]);
    assert_close(
        &f64s(&y),
        &to64(&ADAPTIVE_AVG_POOL2D_0_OUT),
        1e-5,
        1e-4,
        "adaptive output",
    );
    let g = Tensor::from_slice(&ADAPTIVE_AVG_POOL2D_0_GOUT, y.shape()).unwrap();
    let dx = Tensor::adaptive_avg_pool2d_backward(&g, &shape).unwrap();
    assert_close(
        &f64s(&dx),
        &to64(&ADAPTIVE_AVG_POOL2D_0_GX),
        1e-5,
        1e-4,
        "adaptive grad",
    );
}

// ----- errors -------------------------------------------------------------------------

#[test]
fn invalid_arguments_are_errors_naming_the_op() {
    let x = Tensor::zeros(&[1, 2, 5, 5]);
    let max = |x: &Tensor, k, s, p| err_msg(x.max_pool2d(k, s, p));
    for msg in [
        max(&x, [3, 3], [1, 1], [2, 0]), // padding > kernel / 2
        max(&x, [0, 2], [1, 1], [0, 0]),
        max(&x, [2, 2], [0, 1], [0, 0]),
        max(&Tensor::zeros(&[5, 5]), [2, 2], [1, 1], [0, 0]),
        max(&Tensor::zeros(&[1, 0, 5, 5]), [2, 2], [1, 1], [0, 0]),
        max(&Tensor::zeros(&[1, 1, 2, 2]), [3, 3], [1, 1], [0, 0]), // output too small
        max(&x.to_dtype(DType::I64), [2, 2], [1, 1], [0, 0]),
        err_msg(x.max_pool2d_ext([2, 2], [1, 1], [0, 0], [0, 1], false)),
    ] {
        assert!(msg.starts_with("max_pool2d: "), "{msg}");
    }
    assert!(max(&x, [3, 3], [1, 1], [2, 0]).contains("pad should be at most half"));
    assert!(matches!(
        x.to_dtype(DType::Bool).max_pool2d([2, 2], [2, 2], [0, 0]),
        Err(TensorError::DTypeMismatch {
            op: "max_pool2d",
            ..
        })
    ));
    assert!(err_msg(x.max_pool2d_with_indices([2, 2], [1, 1], [2, 2]))
        .starts_with("max_pool2d_with_indices: "));
    // kernel 3, padding 1 is the largest allowed
    assert!(x.max_pool2d([3, 3], [1, 1], [1, 1]).is_ok());

    for msg in [
        err_msg(x.avg_pool2d([2, 2], [2, 2], [2, 2])),
        err_msg(x.avg_pool2d([2, 2], [2, 0], [0, 0])),
        err_msg(x.to_dtype(DType::I64).avg_pool2d([2, 2], [2, 2], [0, 0])),
        err_msg(x.avg_pool2d_ext([2, 2], [2, 2], [0, 0], false, true, Some(0))),
    ] {
        assert!(msg.starts_with("avg_pool2d: "), "{msg}");
    }
    for msg in [
        err_msg(Tensor::zeros(&[2, 5]).adaptive_avg_pool2d([1, 1])),
        err_msg(Tensor::zeros(&[1, 2, 0, 5]).adaptive_avg_pool2d([1, 1])),
        err_msg(x.to_dtype(DType::I64).adaptive_avg_pool2d([1, 1])),
    ] {
        assert!(msg.starts_with("adaptive_avg_pool2d: "), "{msg}");
    }

    // backward kernels
    let (y, idx) = x.max_pool2d_with_indices([2, 2], [2, 2], [0, 0]).unwrap();
    let bad_idx = Tensor::full(&[1, 2, 2, 2], 25i64);
    for msg in [
        err_msg(Tensor::max_pool2d_backward(&y, &idx, &[1, 3, 5, 5])),
        err_msg(Tensor::max_pool2d_backward(
            &y,
            &idx.to_dtype(DType::F32),
            &[1, 2, 5, 5],
        )),
        err_msg(Tensor::max_pool2d_backward(&y, &bad_idx, &[1, 2, 5, 5])),
        err_msg(Tensor::max_pool2d_backward(
            &y,
            &Tensor::full(&[1, 2, 2], 0i64),
            &[1, 2, 5, 5],
        )),
    ] {
        assert!(msg.starts_with("max_pool2d_backward: "), "{msg}");
    }
    for msg in [
        err_msg(Tensor::avg_pool2d_backward(
            &y,
            &[1, 2, 5, 5],
            [2, 2],
            [1, 1],
            [0, 0],
        )),
        err_msg(Tensor::avg_pool2d_backward(
            &y,
            &[1, 2, 5, 5],
            [2, 2],
            [2, 2],
            [3, 3],
        )),
    ] {
        assert!(msg.starts_with("avg_pool2d_backward: "), "{msg}");
    }
    assert!(
        err_msg(Tensor::adaptive_avg_pool2d_backward(&y, &[2, 2, 5, 5]))
            .starts_with("adaptive_avg_pool2d_backward: ")
    );
}

/// Cases max_pool2d/0, avg_pool2d/0 and adaptive_avg_pool2d/0 of
/// shared/conformance/torch_ops.json, printed by a one-off Python
/// script: input X, forward OUT, GOUT (the grad_output) and the
/// gradient GX of sum(OUT * GOUT).
#[rustfmt::skip]
#[allow(clippy::excessive_precision)]
mod oracle {
// max_pool2d/0: attrs {"kernel_size": 2, "stride": 2, "padding": 0}
// input shapes [[2, 3, 6, 6]] -> [2, 3, 3, 3]; rtol 0.0001, atol 1e-05
pub const MAX_POOL2D_0_X: [f32; 216] = [
    0.288083494, -0.0834494159, -0.0692976117, -1.55129266, 1.54099727, -0.0825472847,
    -1.14226902, 1.44192469, 0.534269929, -0.342699796, 0.524165094, -1.13537204, 0.491752476,
    0.662560761, -0.969319344, 1.53282857, 0.661031067, 1.42280352, 0.588073015, -0.0753360018,
    -0.830109954, 1.11118865, 0.847521186, -0.432937622, 0.408874929, 0.873039305, 0.398718655,
    2.06771898, -1.12800598, 1.07378531, 1.36378908, -0.77387017, -0.570728183, 1.34807479,
    -1.31939638, -1.0414058, -0.449895084, -1.27408564, 0.243786275, -0.468616694, -0.858139634,
    -0.893497288, -0.125650465, -0.51602149, 0.0419528857, -0.853188634, 1.40280092,
    -0.544214189, 0.0271600876, -0.413429886, 0.696894109, 2.04770303, 1.68655586, -0.649871945,
    -0.972094715, -0.385856658, 0.602202356, -0.257709503, -2.17182446, 0.156301826,
    -1.95529783, -0.202875003, -2.09417772, 0.0307408981, -1.62207043, 1.09030116, 0.063331306,
    0.43592459, 0.648012161, -1.86071897, 0.235864699, 0.610890627, -2.26027536, 0.506380379,
    -1.28573179, -0.790517569, -0.357733548, -0.282408118, 0.881876826, -0.754869103,
    -0.559413195, -2.29651642, 0.43252039, 0.669219434, -0.155775934, -0.1928965, 0.331856132,
    -0.00640618568, -1.69720662, 1.29778576, -0.135883093, -0.0823266506, -0.138209373,
    0.540858567, -2.14903069, -0.187400848, 0.153923094, -0.345427245, -1.24755347, 0.875503242,
    -0.730507314, -0.235406503, -1.44085443, -0.132581428, -0.919694781, 0.132472098,
    0.305778801, -0.24189575, -0.0849580765, 1.28573692, 1.42820728, 0.123271294, -0.290605903,
    -0.407751501, 0.987231195, 0.350587964, -0.894641936, -1.53893697, 0.612505138,
    -0.877682328, 0.439087212, 0.386778355, 1.22556186, 0.121262513, 0.364270926, -1.1854434,
    -0.913676083, 0.344670862, -0.218329057, -0.125178054, 0.254557192, 0.934903741,
    -1.16333067, 0.972376347, -1.24539864, 0.304529071, 0.593816936, -1.5978235, -0.0209352877,
    -1.04128027, -1.22409034, 0.394320816, 1.14206159, 0.261185139, -0.496784836, 0.421293765,
    -0.789280295, -1.4756, 0.0283658076, 1.42702806, 0.26690805, -0.50106144, 0.202917323,
    0.773454845, -0.509863079, -1.6731056, 0.363443285, -1.12692821, 1.50761843, 0.282498866,
    -1.13324153, 0.564205468, -0.961701155, -0.180903643, -0.522188008, -1.1546123,
    -0.257073194, -1.52674139, -0.186213106, -0.106149718, -0.339806378, 0.610925198,
    1.12579978, 0.455984086, 0.200888768, -1.51075864, 1.04146314, 0.00858601183, 0.0726095885,
    2.97042704, 1.06147075, -1.37115169, 0.0149977766, -0.59915638, 0.0273024775, 0.746146441,
    -1.48688006, -1.30414975, -0.0418278091, -0.51861161, 0.575269818, 0.112749256, -1.38697159,
    -1.46766853, 0.572408974, 1.03178418, 0.064817071, -0.0690687299, -0.670032442, 0.21861054,
    -0.73064822, 0.361318797, -0.499195993, 0.0901903138, -1.43383718, -1.72044075,
    -0.601931274, -1.31777298, 0.17629993, -0.040042866, -1.57925701, -0.755139589, 1.0400058,
    -1.51899922, 0.13733843, -1.67750752,
];
pub const MAX_POOL2D_0_OUT: [f32; 54] = [
    1.44192469, 0.534269929, 1.54099727, 0.662560761, 1.53282857, 1.42280352, 1.36378908,
    2.06771898, 1.07378531, -0.125650465, 0.243786275, 1.40280092, 0.0271600876, 2.04770303,
    1.68655586, 0.43592459, 0.648012161, 1.09030116, 0.881876826, -0.559413195, 0.669219434,
    -0.0823266506, 0.540858567, 1.29778576, 0.153923094, 0.875503242, 0.305778801, 1.28573692,
    1.42820728, 0.612505138, 0.439087212, 1.22556186, 0.934903741, 0.972376347, 0.394320816,
    1.14206159, 0.421293765, 0.773454845, 1.42702806, 0.363443285, 1.50761843, 0.564205468,
    0.200888768, 1.04146314, 2.97042704, 1.06147075, 0.0149977766, 0.746146441, 0.21861054,
    1.03178418, 0.0901903138, -0.755139589, 1.0400058, 0.17629993,
];
pub const MAX_POOL2D_0_GOUT: [f32; 54] = [
    1.07318819, 0.131815031, 2.15001082, 0.148786679, 0.880105793, 0.204673991, 0.667504013,
    0.682107151, 0.758869708, 0.529627085, -1.18909907, 0.479581892, -2.31744385, -0.556298733,
    1.19621027, 1.89111567, 0.223458946, 0.870507181, -0.645482123, -0.461912602, 0.482508838,
    -0.0967107341, 0.729703724, 0.832954168, -0.132078916, -0.359835923, -0.552221596,
    -1.74744821, -0.0649825484, -0.0644842014, -1.07918644, -0.409187019, -0.180673122,
    1.66846299, 0.0149444994, -0.796157539, -1.29185283, -1.73427415, 0.668845117, 0.935893416,
    0.761245847, 0.690706015, 0.441489071, -0.614224851, 1.06425214, -1.65227127, 1.03687537,
    -0.00106820418, 0.49293679, -0.349619687, -1.52321422, -0.129622534, 0.852936506,
    0.91283077,
];
pub const MAX_POOL2D_0_GX: [f32; 216] = [
    0.0, 0.0, 0.0, 0.0, 2.15001082, 0.0, 0.0, 1.07318819, 0.131815031, 0.0, 0.0, 0.0, 0.0,
    0.148786679, 0.0, 0.880105793, 0.0, 0.204673991, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0, 0.682107151, 0.0, 0.758869708, 0.667504013, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    -1.18909907, 0.0, 0.0, 0.0, 0.529627085, 0.0, 0.0, 0.0, 0.479581892, 0.0, -2.31744385, 0.0,
    0.0, -0.556298733, 1.19621027, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.870507181, 0.0, 1.89111567, 0.223458946, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    -0.645482123, 0.0, -0.461912602, 0.0, 0.0, 0.482508838, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.832954168, 0.0, -0.0967107341, 0.0, 0.729703724, 0.0, 0.0, -0.132078916, 0.0, 0.0,
    -0.359835923, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.552221596, 0.0, 0.0, -1.74744821,
    -0.0649825484, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.0644842014, 0.0, -1.07918644, 0.0,
    -0.409187019, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.180673122, 0.0, 1.66846299, 0.0,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0149444994, -0.796157539, 0.0, 0.0, -1.29185283, 0.0, 0.0,
    0.0, 0.668845117, 0.0, 0.0, 0.0, -1.73427415, 0.0, 0.0, 0.935893416, 0.0, 0.761245847, 0.0,
    0.0, 0.690706015, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.441489071,
    0.0, -0.614224851, 0.0, 0.0, 1.06425214, -1.65227127, 0.0, 1.03687537, 0.0, 0.0,
    -0.00106820418, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.349619687, 0.0, 0.0, 0.0,
    0.49293679, 0.0, 0.0, 0.0, -1.52321422, 0.0, 0.0, 0.0, 0.0, 0.91283077, 0.0, 0.0,
    -0.129622534, 0.852936506, 0.0, 0.0, 0.0,
];
// avg_pool2d/0: attrs {"kernel_size": 2, "stride": 2, "padding": 0}
// input shapes [[2, 3, 6, 6]] -> [2, 3, 3, 3]; rtol 0.0001, atol 1e-05
pub const AVG_POOL2D_0_X: [f32; 216] = [
    -0.0107343588, -0.682168424, 1.50468707, 1.57146049, -1.96137393, 0.0282483175, 1.7454958,
    -1.78265142, 0.945731163, -1.10853362, 2.593683, 2.94258761, -0.092761986, -0.636568666,
    1.71922863, 0.0825899839, -1.17499197, -0.240084007, 0.45427072, 0.12652719, 1.6999346,
    -0.832958817, -0.368491232, -0.698309779, -0.620207906, -0.962199092, 1.68577349,
    -0.842503548, 0.791003168, 0.367197245, 1.15313196, -1.2345469, -0.819439709, -1.22788954,
    -1.72558975, 1.42818797, -1.92986405, -1.25232351, 1.73560381, -0.590563059, -0.512417197,
    -0.838283062, 0.376634747, -0.464426547, -1.41807735, -0.824181259, -0.468995541,
    2.00572109, 0.157573044, -0.162369356, 1.06249523, -2.48338437, 0.350274056, -1.01743448,
    -1.13811052, 1.16615832, -0.60436064, 0.485816389, 0.637386978, -1.55991518, 0.999917567,
    -0.419794887, 0.954702377, -0.497325629, -1.37414122, 1.81582701, -1.25846708, 0.0945729017,
    0.0466545261, 1.178931, 0.565591037, 0.261837959, 0.10877353, 1.59814262, 0.421466887,
    0.992566645, -0.593851447, 0.775852501, -0.0286881682, -1.04310286, 0.812177837, -1.3294543,
    -0.300295651, 0.281803191, -2.07303905, 1.23738325, 0.654307008, -1.68886483, -0.566622019,
    0.247212082, -1.40126824, -0.735306799, 0.69954288, 1.50057518, 0.892394781, -0.0192741491,
    0.21631749, -0.390956968, 0.242752984, -0.623655915, 0.0407036729, 0.744226694, 1.08080876,
    -0.714986324, -0.512584448, -1.94348907, -0.767086387, 2.16040397, -0.536942482, 0.40207383,
    1.5939939, 0.804387867, -0.772400141, 1.95791173, 0.50258857, 0.726452768, -0.280813038,
    0.0415388606, 0.00178819546, 1.61513507, 0.268764645, 0.374687552, 0.189639702,
    -0.028054513, 1.19498479, -0.110835172, 0.0889821947, 0.748161197, -0.849166393,
    0.518193185, 0.548603058, 0.804289222, 0.51167357, 0.0919222236, 1.17705226, -0.491990298,
    0.107792176, 1.63108563, 0.354445487, -1.49671197, -1.08840764, -2.12073827, -0.623112202,
    1.1666261, -0.29645893, -0.654531896, 1.6285305, -0.187573314, -0.269859642, 1.27519035,
    -1.13610864, -1.95231605, -1.76417279, -0.217741087, -0.00067530846, 1.50583088,
    -0.397221863, 0.693759978, -0.136995867, -0.130674914, 1.42896199, 0.443277121,
    -0.0371740237, -0.212849036, -0.426104963, -1.65751886, -0.598716557, -0.126873821,
    -1.17260563, -0.00846065115, -0.828069746, 0.424025744, -0.550436258, -0.788637936,
    0.781318426, -0.290356338, -0.674959123, 0.252303183, -0.105761684, -2.37598181, 1.50007892,
    0.167000055, -0.96489042, -1.27113128, 1.7404629, -1.45469308, 0.814544141, -0.0750444159,
    0.714572191, 0.626614571, 0.0521479174, -1.74463511, -1.32006133, -0.177187994, -1.40323877,
    -0.476763874, 0.429402918, -0.12170092, -0.316039652, 1.52328014, -1.22706842, 1.61419392,
    -0.152357548, 1.64903152, -0.780655742, 1.34676707, -2.8418479, 0.223341048, -1.49940026,
    1.1958555, 0.051949434, -0.967008173, 0.584620833, -0.114587225, 0.0540692918, -1.27494359,
];
pub const AVG_POOL2D_0_OUT: [f32; 54] = [
    -0.182514608, 0.728336275, 0.900786281, -0.0371331871, 0.667198658, -0.620469213,
    -0.415955484, -0.301014841, 0.215199649, -0.81749481, -0.27430445, 0.0465063155,
    0.00581288338, -0.38485834, -0.397422135, -0.145942867, 0.420740575, 0.317278683,
    0.15878126, 0.224189252, 0.0408771485, -0.743057728, 0.291390061, 0.13842766, 0.0477957428,
    -0.709244132, 0.544561982, 0.273543179, 0.539776921, 0.70060873, 0.370148897, -0.042346999,
    0.60926044, -0.134667665, -0.631021023, 0.570597887, -1.00985384, -0.135239169, 0.627621531,
    0.0116287656, -0.587823629, 0.286662191, -0.172526047, -0.206674978, -0.955204368,
    0.601644695, -0.223708749, -0.351679325, -0.0725022256, -0.373219252, 0.451094002,
    -0.0872368515, -0.537118316, -0.381104767,
];
pub const AVG_POOL2D_0_GOUT: [f32; 54] = [
    1.26925266, 0.0684293956, -1.48422086, -0.00102194585, -2.05536675, 0.701628983,
    -1.10838437, -0.0950174406, -0.782322586, -0.627977848, 0.774132669, 0.745752513,
    -1.3365624, -0.12672767, 1.13372624, -1.45506859, 0.978028834, -0.896401227, 0.893049359,
    1.88911092, 0.956246734, 1.26614547, -0.981598794, -1.25105143, -0.0887321234, 1.01395226,
    -1.59177339, -0.653254986, 0.765980661, 0.123172514, -0.829177082, 1.47284853, 0.341972858,
    -0.744125545, -0.612918437, -0.00525360694, 0.381922632, -0.0795527324, -0.408540636,
    -0.198993042, 0.632086098, -0.0111661609, 1.77709639, 0.125925079, 1.09352219, 1.31116498,
    -0.216381997, -0.20260717, -0.365206987, 1.6770792, 0.190117016, -0.956522405, -0.258514881,
    -0.74175173,
];
pub const AVG_POOL2D_0_GX: [f32; 216] = [
    0.317313164, 0.317313164, 0.0171073489, 0.0171073489, -0.371055216, -0.371055216,
    0.317313164, 0.317313164, 0.0171073489, 0.0171073489, -0.371055216, -0.371055216,
    -0.000255486462, -0.000255486462, -0.513841689, -0.513841689, 0.175407246, 0.175407246,
    -0.000255486462, -0.000255486462, -0.513841689, -0.513841689, 0.175407246, 0.175407246,
    -0.277096093, -0.277096093, -0.0237543602, -0.0237543602, -0.195580646, -0.195580646,
    -0.277096093, -0.277096093, -0.0237543602, -0.0237543602, -0.195580646, -0.195580646,
    -0.156994462, -0.156994462, 0.193533167, 0.193533167, 0.186438128, 0.186438128,
    -0.156994462, -0.156994462, 0.193533167, 0.193533167, 0.186438128, 0.186438128,
    -0.334140599, -0.334140599, -0.0316819176, -0.0316819176, 0.28343156, 0.28343156,
    -0.334140599, -0.334140599, -0.0316819176, -0.0316819176, 0.28343156, 0.28343156,
    -0.363767147, -0.363767147, 0.244507208, 0.244507208, -0.224100307, -0.224100307,
    -0.363767147, -0.363767147, 0.244507208, 0.244507208, -0.224100307, -0.224100307,
    0.22326234, 0.22326234, 0.472277731, 0.472277731, 0.239061683, 0.239061683, 0.22326234,
    0.22326234, 0.472277731, 0.472277731, 0.239061683, 0.239061683, 0.316536367, 0.316536367,
    -0.245399699, -0.245399699, -0.312762856, -0.312762856, 0.316536367, 0.316536367,
    -0.245399699, -0.245399699, -0.312762856, -0.312762856, -0.0221830308, -0.0221830308,
    0.253488064, 0.253488064, -0.397943348, -0.397943348, -0.0221830308, -0.0221830308,
    0.253488064, 0.253488064, -0.397943348, -0.397943348, -0.163313746, -0.163313746,
    0.191495165, 0.191495165, 0.0307931285, 0.0307931285, -0.163313746, -0.163313746,
    0.191495165, 0.191495165, 0.0307931285, 0.0307931285, -0.20729427, -0.20729427, 0.368212134,
    0.368212134, 0.0854932144, 0.0854932144, -0.20729427, -0.20729427, 0.368212134, 0.368212134,
    0.0854932144, 0.0854932144, -0.186031386, -0.186031386, -0.153229609, -0.153229609,
    -0.00131340174, -0.00131340174, -0.186031386, -0.186031386, -0.153229609, -0.153229609,
    -0.00131340174, -0.00131340174, 0.0954806581, 0.0954806581, -0.0198881831, -0.0198881831,
    -0.102135159, -0.102135159, 0.0954806581, 0.0954806581, -0.0198881831, -0.0198881831,
    -0.102135159, -0.102135159, -0.0497482605, -0.0497482605, 0.158021525, 0.158021525,
    -0.00279154023, -0.00279154023, -0.0497482605, -0.0497482605, 0.158021525, 0.158021525,
    -0.00279154023, -0.00279154023, 0.444274098, 0.444274098, 0.0314812697, 0.0314812697,
    0.273380548, 0.273380548, 0.444274098, 0.444274098, 0.0314812697, 0.0314812697, 0.273380548,
    0.273380548, 0.327791244, 0.327791244, -0.0540954992, -0.0540954992, -0.0506517924,
    -0.0506517924, 0.327791244, 0.327791244, -0.0540954992, -0.0540954992, -0.0506517924,
    -0.0506517924, -0.0913017467, -0.0913017467, 0.4192698, 0.4192698, 0.0475292541,
    0.0475292541, -0.0913017467, -0.0913017467, 0.4192698, 0.4192698, 0.0475292541,
    0.0475292541, -0.239130601, -0.239130601, -0.0646287203, -0.0646287203, -0.185437933,
    -0.185437933, -0.239130601, -0.239130601, -0.0646287203, -0.0646287203, -0.185437933,
    -0.185437933,
];
// adaptive_avg_pool2d/0: attrs {"output_size": [1, 1]}
// input shapes [[2, 3, 6, 4]] -> [2, 3, 1, 1]; rtol 0.0001, atol 1e-05
pub const ADAPTIVE_AVG_POOL2D_0_X: [f32; 144] = [
    -0.226811334, 0.699337959, 0.283834487, -0.679756045, -0.343986869, 1.02232313, -1.05169213,
    -0.497289389, 0.941960454, 0.676253259, -1.04473674, -0.14872086, 0.190756395, -0.650899649,
    -0.095997788, -0.959569454, 0.411394328, -0.335730523, -1.02492082, -0.606750071,
    -1.28505993, -0.368583113, 0.0478995293, 1.07309008, 2.33718109, -1.55017734, 0.54544884,
    -1.52115357, -0.982990623, 1.31439328, -0.142654523, 1.26448882, -0.450171351, -0.233177841,
    0.693499029, 0.344962239, -0.22438693, 0.430573434, -1.44222426, 0.0957953855,
    -0.0447442718, 1.36448956, 2.28606105, 1.04308772, -2.14182758, 0.781067431, 0.492307574,
    -0.753018856, 0.286620736, -1.02838445, 0.303180784, -1.93828237, -2.12978554, -1.73769927,
    -0.77287513, 0.858444929, -2.27664876, 0.638913095, 0.126558319, 0.0718169361, 0.455091685,
    -0.0660335943, 0.0117361136, 0.033051718, -0.0441164635, -0.104296692, 0.373734415,
    -0.79938966, 0.327217728, -0.0983694643, -0.358384341, 0.0654061884, 0.101371124,
    -0.751624405, -0.456246942, -0.208658338, -0.030712964, 1.28666317, -0.593836486,
    -0.593924105, -1.314201, 0.962895632, -0.584226131, 1.05231977, -0.930942118, 0.0505861118,
    1.32485747, -1.01118135, 0.405317187, 1.31861436, 0.989975035, 0.126674816, 1.10458302,
    -2.45610261, -0.33450067, -0.169147909, -1.32341039, -1.03225183, -0.344005108, 1.97183704,
    0.886781335, 0.555096447, 0.842448831, -0.781515121, -0.0539981797, -0.477487922,
    0.0137444204, -0.890288055, 0.796345532, 0.229563951, 0.183870122, -0.591080844, 2.06856418,
    2.22925591, 0.565059781, -0.55169785, -1.53174794, -1.66806722, 0.435483396, 0.258767605,
    0.48362425, -0.373874217, -1.0806061, 1.04299414, 0.908272266, -0.142367944, -0.302767634,
    -0.901508749, -0.231110156, -0.89985615, 0.187337309, -2.2334981, -0.884517133, -1.48393524,
    -0.907554686, -0.0639457926, -0.391289324, -0.442778707, 1.45631027, -0.558655977,
    -0.144320682, 0.748237133, -0.869127691, 0.83270365,
];
pub const ADAPTIVE_AVG_POOL2D_0_OUT: [f32; 6] = [
    -0.165568963, 0.146117821, -0.325103849, -0.0296436343, 0.0746361688, -0.260509819,
];
pub const ADAPTIVE_AVG_POOL2D_0_GOUT: [f32; 6] = [
    0.0631579757, -0.129481211, 0.908443451, 0.0825926885, 0.547685504, 0.399932563,
];
pub const ADAPTIVE_AVG_POOL2D_0_GX: [f32; 144] = [
    0.00263158232, 0.00263158232, 0.00263158232, 0.00263158232, 0.00263158232, 0.00263158232,
    0.00263158232, 0.00263158232, 0.00263158232, 0.00263158232, 0.00263158232, 0.00263158232,
    0.00263158232, 0.00263158232, 0.00263158232, 0.00263158232, 0.00263158232, 0.00263158232,
    0.00263158232, 0.00263158232, 0.00263158232, 0.00263158232, 0.00263158232, 0.00263158232,
    -0.00539505063, -0.00539505063, -0.00539505063, -0.00539505063, -0.00539505063,
    -0.00539505063, -0.00539505063, -0.00539505063, -0.00539505063, -0.00539505063,
    -0.00539505063, -0.00539505063, -0.00539505063, -0.00539505063, -0.00539505063,
    -0.00539505063, -0.00539505063, -0.00539505063, -0.00539505063, -0.00539505063,
    -0.00539505063, -0.00539505063, -0.00539505063, -0.00539505063, 0.0378518105, 0.0378518105,
    0.0378518105, 0.0378518105, 0.0378518105, 0.0378518105, 0.0378518105, 0.0378518105,
    0.0378518105, 0.0378518105, 0.0378518105, 0.0378518105, 0.0378518105, 0.0378518105,
    0.0378518105, 0.0378518105, 0.0378518105, 0.0378518105, 0.0378518105, 0.0378518105,
    0.0378518105, 0.0378518105, 0.0378518105, 0.0378518105, 0.00344136194, 0.00344136194,
    0.00344136194, 0.00344136194, 0.00344136194, 0.00344136194, 0.00344136194, 0.00344136194,
    0.00344136194, 0.00344136194, 0.00344136194, 0.00344136194, 0.00344136194, 0.00344136194,
    0.00344136194, 0.00344136194, 0.00344136194, 0.00344136194, 0.00344136194, 0.00344136194,
    0.00344136194, 0.00344136194, 0.00344136194, 0.00344136194, 0.0228202287, 0.0228202287,
    0.0228202287, 0.0228202287, 0.0228202287, 0.0228202287, 0.0228202287, 0.0228202287,
    0.0228202287, 0.0228202287, 0.0228202287, 0.0228202287, 0.0228202287, 0.0228202287,
    0.0228202287, 0.0228202287, 0.0228202287, 0.0228202287, 0.0228202287, 0.0228202287,
    0.0228202287, 0.0228202287, 0.0228202287, 0.0228202287, 0.0166638568, 0.0166638568,
    0.0166638568, 0.0166638568, 0.0166638568, 0.0166638568, 0.0166638568, 0.0166638568,
    0.0166638568, 0.0166638568, 0.0166638568, 0.0166638568, 0.0166638568, 0.0166638568,
    0.0166638568, 0.0166638568, 0.0166638568, 0.0166638568, 0.0166638568, 0.0166638568,
    0.0166638568, 0.0166638568, 0.0166638568, 0.0166638568,
];
}
