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

mod oracle;
