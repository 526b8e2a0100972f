//! Tests of the conv kernels: against naive loops, PyTorch-computed values and finite differences.

use super::*;
use crate::dtype::DType;
use crate::error::TensorError;
use crate::random::Generator;

// ----- helpers -------------------------------------------------------------

fn randn(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
    Tensor::normal_with(shape, 0.0, 1.0, dtype, &mut Generator::new(seed))
}

fn f64s(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).to_vec::<f64>().unwrap()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[track_caller]
fn assert_close(got: &[f64], want: &[f64], atol: f64, rtol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= atol + rtol * w.abs(),
            "{what}: element {i}: got {g}, want {w}"
        );
    }
}

/// The error message of a call that must fail.
#[track_caller]
fn err_msg<T>(r: Result<T>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected an error"),
    }
}

/// Direct 7-loop convolution (batch, out channel, out row, out col,
/// in channel of the group, kernel row, kernel col), in f64.
#[allow(clippy::too_many_arguments)]
fn naive_conv2d(
    x: &[f64],
    xs: [usize; 4],
    w: &[f64],
    ws: [usize; 4],
    b: Option<&[f64]>,
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    groups: usize,
) -> (Vec<f64>, Vec<usize>) {
    let [n, c, h, wd] = xs;
    let [co, cg, kh, kw] = ws;
    assert_eq!(cg * groups, c);
    let ho = (h + 2 * p[0] - d[0] * (kh - 1) - 1) / s[0] + 1;
    let wo = (wd + 2 * p[1] - d[1] * (kw - 1) - 1) / s[1] + 1;
    let og = co / groups;
    let mut out = vec![0.0; n * co * ho * wo];
    for bi in 0..n {
        for o in 0..co {
            let grp = o / og;
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = b.map_or(0.0, |b| b[o]);
                    for ci in 0..cg {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * s[0] + ky * d[0]) as isize - p[0] as isize;
                                let ix = (ox * s[1] + kx * d[1]) as isize - p[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let (iy, ix) = (iy as usize, ix as usize);
                                let xv = x[((bi * c + grp * cg + ci) * h + iy) * wd + ix];
                                let wv = w[((o * cg + ci) * kh + ky) * kw + kx];
                                acc += xv * wv;
                            }
                        }
                    }
                    out[((bi * co + o) * ho + oy) * wo + ox] = acc;
                }
            }
        }
    }
    (out, vec![n, co, ho, wo])
}

/// Direct transposed convolution: every input element scatters
/// `x * w` onto the output positions its kernel taps reach.
#[allow(clippy::too_many_arguments)]
fn naive_conv_transpose2d(
    x: &[f64],
    xs: [usize; 4],
    w: &[f64],
    ws: [usize; 4],
    b: Option<&[f64]>,
    s: [usize; 2],
    p: [usize; 2],
    op: [usize; 2],
    d: [usize; 2],
    groups: usize,
) -> (Vec<f64>, Vec<usize>) {
    let [n, c, h, wd] = xs;
    let [ci_w, og, kh, kw] = ws;
    assert_eq!(ci_w, c);
    let cg = c / groups;
    let co = og * groups;
    let ho = ((h - 1) * s[0] + d[0] * (kh - 1) + op[0] + 1) - 2 * p[0];
    let wo = ((wd - 1) * s[1] + d[1] * (kw - 1) + op[1] + 1) - 2 * p[1];
    let mut out = vec![0.0; n * co * ho * wo];
    for bi in 0..n {
        for ci in 0..c {
            let grp = ci / cg;
            for iy in 0..h {
                for ix in 0..wd {
                    let xv = x[((bi * c + ci) * h + iy) * wd + ix];
                    for oc in 0..og {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let oy = (iy * s[0] + ky * d[0]) as isize - p[0] as isize;
                                let ox = (ix * s[1] + kx * d[1]) as isize - p[1] as isize;
                                if oy < 0 || ox < 0 || oy >= ho as isize || ox >= wo as isize {
                                    continue;
                                }
                                let o = grp * og + oc;
                                out[((bi * co + o) * ho + oy as usize) * wo + ox as usize] +=
                                    xv * w[((ci * og + oc) * kh + ky) * kw + kx];
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(b) = b {
        for (i, v) in out.iter_mut().enumerate() {
            *v += b[(i / (ho * wo)) % co];
        }
    }
    (out, vec![n, co, ho, wo])
}

/// One conv2d configuration: input [n, c, h, w], weight [co, c/groups, kh, kw].
#[derive(Clone, Copy, Debug)]
struct Case {
    x: [usize; 4],
    co: usize,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    groups: usize,
    bias: bool,
}

impl Case {
    fn w(&self) -> [usize; 4] {
        [self.co, self.x[1] / self.groups, self.k[0], self.k[1]]
    }
}

#[allow(clippy::too_many_arguments)]
const fn case(
    x: [usize; 4],
    co: usize,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    groups: usize,
    bias: bool,
) -> Case {
    Case {
        x,
        co,
        k,
        s,
        p,
        d,
        groups,
        bias,
    }
}

/// Stride / padding / dilation / groups combinations, with non-square
/// kernels, depthwise (groups = C, with and without a channel
/// multiplier), 1x1 kernels (the pointwise shortcut and strided) and
/// batch > 1.
const CASES: &[Case] = &[
    case([2, 3, 7, 7], 4, [3, 3], [1, 1], [1, 1], [1, 1], 1, true),
    case([3, 4, 9, 8], 6, [3, 2], [2, 1], [1, 0], [1, 1], 2, true),
    case([1, 4, 10, 11], 4, [3, 3], [1, 2], [1, 1], [2, 1], 4, false),
    case([2, 3, 8, 8], 6, [2, 3], [2, 3], [0, 1], [1, 2], 3, true),
    case([2, 6, 5, 7], 9, [1, 1], [1, 1], [0, 0], [1, 1], 3, true),
    case([2, 5, 6, 6], 7, [1, 1], [2, 2], [0, 0], [1, 1], 1, false),
    case([1, 2, 5, 5], 3, [5, 5], [1, 1], [0, 0], [1, 1], 1, true),
    case([2, 3, 4, 6], 2, [3, 3], [3, 3], [1, 1], [2, 2], 1, true),
    case([1, 2, 7, 9], 4, [1, 3], [1, 1], [0, 1], [1, 3], 2, false),
    case([3, 1, 6, 5], 2, [4, 1], [1, 2], [2, 0], [1, 1], 1, true),
];

fn run_case(c: &Case, dtype: DType, seed: u64) -> (Tensor, Vec<f64>) {
    let x = randn(&c.x, dtype, seed);
    let w = randn(&c.w(), dtype, seed + 1);
    let b = c.bias.then(|| randn(&[c.co], dtype, seed + 2));
    let y = x.conv2d(&w, b.as_ref(), c.s, c.p, c.d, c.groups).unwrap();
    let bv = b.as_ref().map(f64s);
    let (want, shape) = naive_conv2d(
        &f64s(&x),
        c.x,
        &f64s(&w),
        c.w(),
        bv.as_deref(),
        c.s,
        c.p,
        c.d,
        c.groups,
    );
    assert_eq!(y.shape(), shape.as_slice(), "{c:?}");
    assert_eq!(y.dtype(), dtype);
    (y, want)
}

// ----- forward ---------------------------------------------------------------

#[test]
fn conv2d_matches_naive_f64() {
    for (i, c) in CASES.iter().enumerate() {
        let (y, want) = run_case(c, DType::F64, 10 * i as u64);
        assert_close(&f64s(&y), &want, 1e-12, 1e-12, &format!("{c:?}"));
    }
}

#[test]
fn conv2d_matches_naive_f32() {
    for (i, c) in CASES.iter().enumerate() {
        let (y, want) = run_case(c, DType::F32, 100 + 10 * i as u64);
        assert_close(&f64s(&y), &want, 1e-4, 1e-4, &format!("{c:?}"));
    }
}

#[test]
fn conv2d_large_uses_threads_and_matches_naive() {
    // Batch split across the pool (4*16*72*256 ≈ 1.2M multiply-adds).
    let big_batch = case([4, 8, 16, 16], 16, [3, 3], [1, 1], [1, 1], [1, 1], 1, true);
    // One sample whose GEMM and im2col use the threads (≈ 10.6M).
    let one_sample = case(
        [1, 32, 24, 24],
        64,
        [3, 3],
        [1, 1],
        [1, 1],
        [1, 1],
        1,
        false,
    );
    // Grouped with strides, over the threshold too.
    let grouped = case([4, 16, 24, 24], 32, [3, 3], [2, 1], [1, 1], [1, 2], 4, true);
    for (i, c) in [big_batch, one_sample, grouped].iter().enumerate() {
        let hy = Hyper {
            stride: &c.s,
            padding: &c.p,
            dilation: &c.d,
            groups: c.groups,
        };
        let macs = conv_geometry("t", &c.x, &c.w(), &hy).unwrap().macs();
        assert!(macs >= CONV_PAR_THRESHOLD, "{c:?}: {macs}");
        let (y, want) = run_case(c, DType::F64, 1000 + i as u64);
        assert_close(&f64s(&y), &want, 1e-10, 1e-10, &format!("{c:?}"));
    }
}

#[test]
fn conv2d_unbatched_and_strided_input() {
    let c = CASES[1];
    let x = randn(&c.x, DType::F64, 7);
    let w = randn(&c.w(), DType::F64, 8);
    let full = x.conv2d(&w, None, c.s, c.p, c.d, c.groups).unwrap();
    // Unbatched [C, H, W] gives the batched result without N.
    let x0 = x.select(0, 1).unwrap();
    let y0 = x0.conv2d(&w, None, c.s, c.p, c.d, c.groups).unwrap();
    assert_eq!(y0.shape(), &full.shape()[1..]);
    assert_eq!(f64s(&y0), f64s(&full.select(0, 1).unwrap()));
    // A non-contiguous input (NHWC storage viewed as NCHW).
    let nhwc = x.permute(&[0, 2, 3, 1]).unwrap().deep_clone();
    let nchw = nhwc.permute(&[0, 3, 1, 2]).unwrap();
    assert!(!nchw.is_contiguous());
    let y = nchw.conv2d(&w, None, c.s, c.p, c.d, c.groups).unwrap();
    assert_eq!(f64s(&y), f64s(&full));
}

#[test]
fn conv2d_empty_batch() {
    let x = Tensor::zeros(&[0, 3, 5, 5]);
    let w = Tensor::ones(&[2, 3, 3, 3]);
    let y = x.conv2d(&w, None, [1, 1], [0, 0], [1, 1], 1).unwrap();
    assert_eq!(y.shape(), &[0, 2, 3, 3]);
    let gw =
        Tensor::conv2d_backward_weight(&y, &x, &[2, 3, 3, 3], [1, 1], [0, 0], [1, 1], 1).unwrap();
    assert_eq!(f64s(&gw), vec![0.0; 54]);
}

#[test]
fn conv2d_small_hand_checked() {
    // 3x3 input 1..9, 2x2 kernel [[1, 0], [0, -1]], padding 1: each output
    // is x[i-1][j-1] - x[i][j] with zeros outside, worked out by hand.
    let x = Tensor::from_vec((1..=9).map(|v| v as f32).collect(), &[1, 1, 3, 3]).unwrap();
    let w = Tensor::from_vec(vec![1.0f32, 0.0, 0.0, -1.0], &[1, 1, 2, 2]).unwrap();
    let b = Tensor::from_vec(vec![0.5f32], &[1]).unwrap();
    let y = x.conv2d(&w, Some(&b), [1, 1], [1, 1], [1, 1], 1).unwrap();
    assert_eq!(y.shape(), &[1, 1, 4, 4]);
    #[rustfmt::skip]
    let want = [
        -1.0, -2.0, -3.0, 0.0,
        -4.0, -4.0, -4.0, 3.0,
        -7.0, -4.0, -4.0, 6.0,
        0.0, 7.0, 8.0, 9.0,
    ];
    let want: Vec<f32> = want.iter().map(|v| v + 0.5).collect();
    assert_eq!(y.to_vec::<f32>().unwrap(), want);
}

// ----- backward ----------------------------------------------------------------

#[test]
fn backward_kernels_satisfy_adjoint_identities() {
    // conv is linear in x and in w, so for any g:
    // <conv(x, w), g> = <x, backward_input(g, w)> = <w, backward_weight(g, x)>.
    let large = case([4, 8, 16, 16], 16, [3, 3], [2, 1], [1, 1], [1, 2], 2, false);
    let one = case(
        [1, 32, 24, 24],
        64,
        [3, 3],
        [1, 1],
        [1, 1],
        [1, 1],
        1,
        false,
    );
    for (i, c) in CASES.iter().chain([&large, &one]).enumerate() {
        let seed = 500 + 10 * i as u64;
        let x = randn(&c.x, DType::F64, seed);
        let w = randn(&c.w(), DType::F64, seed + 1);
        let y = x.conv2d(&w, None, c.s, c.p, c.d, c.groups).unwrap();
        let g = randn(y.shape(), DType::F64, seed + 2);
        let gx = Tensor::conv2d_backward_input(&g, &w, &c.x, c.s, c.p, c.d, c.groups).unwrap();
        let gw = Tensor::conv2d_backward_weight(&g, &x, &c.w(), c.s, c.p, c.d, c.groups).unwrap();
        assert_eq!(gx.shape(), &c.x);
        assert_eq!(gw.shape(), &c.w());
        let lhs = dot(&f64s(&y), &f64s(&g));
        let scale = 1.0 + lhs.abs();
        let rx = dot(&f64s(&x), &f64s(&gx));
        let rw = dot(&f64s(&w), &f64s(&gw));
        assert!(
            (lhs - rx).abs() <= 1e-10 * scale,
            "{c:?}: input adjoint {lhs} vs {rx}"
        );
        assert!(
            (lhs - rw).abs() <= 1e-10 * scale,
            "{c:?}: weight adjoint {lhs} vs {rw}"
        );
    }
}

#[test]
fn backward_kernels_match_finite_differences() {
    // f(x, w) = sum(conv2d(x, w) * g); central differences in f64 on
    // a few coordinates of x and w.
    let c = case([2, 4, 6, 5], 4, [3, 2], [2, 1], [1, 1], [1, 2], 2, false);
    let x = randn(&c.x, DType::F64, 1);
    let w = randn(&c.w(), DType::F64, 2);
    let y = x.conv2d(&w, None, c.s, c.p, c.d, c.groups).unwrap();
    let g = f64s(&randn(y.shape(), DType::F64, 3));
    let f = |xv: &[f64], wv: &[f64]| {
        let xt = Tensor::from_vec(xv.to_vec(), &c.x).unwrap();
        let wt = Tensor::from_vec(wv.to_vec(), &c.w()).unwrap();
        dot(
            &f64s(&xt.conv2d(&wt, None, c.s, c.p, c.d, c.groups).unwrap()),
            &g,
        )
    };
    let gt = Tensor::from_vec(g.clone(), y.shape()).unwrap();
    let gx = f64s(&Tensor::conv2d_backward_input(&gt, &w, &c.x, c.s, c.p, c.d, c.groups).unwrap());
    let gw =
        f64s(&Tensor::conv2d_backward_weight(&gt, &x, &c.w(), c.s, c.p, c.d, c.groups).unwrap());
    let (xv, wv) = (f64s(&x), f64s(&w));
    let eps = 1e-6;
    for i in (0..xv.len()).step_by(7) {
        let (mut a, mut b) = (xv.clone(), xv.clone());
        a[i] += eps;
        b[i] -= eps;
        let fd = (f(&a, &wv) - f(&b, &wv)) / (2.0 * eps);
        assert!((fd - gx[i]).abs() < 1e-6, "dx[{i}]: fd {fd} vs {}", gx[i]);
    }
    for i in 0..wv.len() {
        let (mut a, mut b) = (wv.clone(), wv.clone());
        a[i] += eps;
        b[i] -= eps;
        let fd = (f(&xv, &a) - f(&xv, &b)) / (2.0 * eps);
        assert!((fd - gw[i]).abs() < 1e-6, "dw[{i}]: fd {fd} vs {}", gw[i]);
    }
}

#[test]
fn backward_input_picks_the_input_size() {
    // Input heights 7 and 8 both give 3 output rows with k=3, s=2; the
    // last input row of the 8-row input gets no gradient.
    let w = randn(&[2, 1, 3, 3], DType::F64, 4);
    let g = randn(&[1, 2, 3, 3], DType::F64, 5);
    let gx7 =
        Tensor::conv2d_backward_input(&g, &w, &[1, 1, 7, 7], [2, 2], [0, 0], [1, 1], 1).unwrap();
    let gx8 =
        Tensor::conv2d_backward_input(&g, &w, &[1, 1, 8, 7], [2, 2], [0, 0], [1, 1], 1).unwrap();
    assert_eq!(gx8.shape(), &[1, 1, 8, 7]);
    let (v7, v8) = (f64s(&gx7), f64s(&gx8));
    assert_eq!(&v8[..49], &v7[..]);
    assert_eq!(&v8[49..], &[0.0; 7]);
}

// ----- transposed convolution ---------------------------------------------------

#[test]
fn conv_transpose2d_is_conv2d_backward_input() {
    for (i, c) in CASES.iter().enumerate() {
        let seed = 700 + 10 * i as u64;
        let w = randn(&c.w(), DType::F64, seed);
        let probe = Tensor::zeros_dtype(&c.x, DType::F64)
            .conv2d(&w, None, c.s, c.p, c.d, c.groups)
            .unwrap();
        let g = randn(probe.shape(), DType::F64, seed + 1);
        let gx = Tensor::conv2d_backward_input(&g, &w, &c.x, c.s, c.p, c.d, c.groups).unwrap();
        // The transposed conv maps the conv's output size back to the
        // smallest input size that produces it, so compare on that size.
        let t = g
            .conv_transpose2d(&w, None, c.s, c.p, [0, 0], c.d, c.groups)
            .unwrap();
        let [th, tw] = [t.shape()[2], t.shape()[3]];
        assert!(th <= c.x[2] && tw <= c.x[3], "{c:?}");
        let gx_small = Tensor::conv2d_backward_input(
            &g,
            &w,
            &[c.x[0], c.x[1], th, tw],
            c.s,
            c.p,
            c.d,
            c.groups,
        )
        .unwrap();
        assert_eq!(f64s(&t), f64s(&gx_small), "{c:?}");
        // ... and the top-left of the full gradient agrees with it.
        let gxv = f64s(&gx);
        let tv = f64s(&t);
        for nc in 0..c.x[0] * c.x[1] {
            for r in 0..th {
                for col in 0..tw {
                    let full = gxv[(nc * c.x[2] + r) * c.x[3] + col];
                    assert!((full - tv[(nc * th + r) * tw + col]).abs() < 1e-12);
                }
            }
        }
    }
}

#[test]
fn conv_transpose2d_matches_naive() {
    // (input, weight [C_in, C_out/groups, kh, kw], stride, padding,
    // output_padding, dilation, groups, bias)
    type T = (
        [usize; 4],
        [usize; 4],
        [usize; 2],
        [usize; 2],
        [usize; 2],
        [usize; 2],
        usize,
        bool,
    );
    let cases: &[T] = &[
        (
            [2, 3, 4, 5],
            [3, 2, 3, 3],
            [1, 1],
            [0, 0],
            [0, 0],
            [1, 1],
            1,
            true,
        ),
        (
            [1, 4, 3, 4],
            [4, 3, 3, 2],
            [2, 3],
            [1, 0],
            [1, 2],
            [1, 1],
            2,
            true,
        ),
        (
            [2, 2, 5, 3],
            [2, 1, 2, 3],
            [2, 2],
            [0, 1],
            [0, 1],
            [2, 1],
            2,
            false,
        ),
        // output_padding >= stride but < dilation
        (
            [1, 2, 4, 4],
            [2, 2, 3, 3],
            [1, 1],
            [1, 1],
            [1, 1],
            [2, 2],
            1,
            true,
        ),
        (
            [3, 4, 3, 3],
            [4, 2, 1, 1],
            [1, 1],
            [0, 0],
            [0, 0],
            [1, 1],
            1,
            true,
        ),
        (
            [1, 6, 4, 4],
            [6, 1, 3, 3],
            [2, 2],
            [1, 1],
            [1, 1],
            [1, 1],
            6,
            true,
        ),
    ];
    for (i, &(xs, ws, s, p, op, d, groups, bias)) in cases.iter().enumerate() {
        let seed = 900 + 10 * i as u64;
        let x = randn(&xs, DType::F64, seed);
        let w = randn(&ws, DType::F64, seed + 1);
        let b = bias.then(|| randn(&[ws[1] * groups], DType::F64, seed + 2));
        let y = x
            .conv_transpose2d(&w, b.as_ref(), s, p, op, d, groups)
            .unwrap();
        let bv = b.as_ref().map(f64s);
        let (want, shape) = naive_conv_transpose2d(
            &f64s(&x),
            xs,
            &f64s(&w),
            ws,
            bv.as_deref(),
            s,
            p,
            op,
            d,
            groups,
        );
        assert_eq!(y.shape(), shape.as_slice(), "case {i}");
        assert_close(&f64s(&y), &want, 1e-12, 1e-12, &format!("case {i}"));
        // float32 and unbatched too
        let x32 = x.to_dtype(DType::F32).select(0, 0).unwrap();
        let b32 = b.as_ref().map(|b| b.to_dtype(DType::F32));
        let y32 = x32
            .conv_transpose2d(&w.to_dtype(DType::F32), b32.as_ref(), s, p, op, d, groups)
            .unwrap();
        assert_eq!(y32.shape(), &shape[1..]);
        let per = want.len() / xs[0];
        assert_close(
            &f64s(&y32),
            &want[..per],
            1e-4,
            1e-4,
            &format!("case {i} f32"),
        );
    }
}

// ----- conv1d --------------------------------------------------------------------

#[test]
fn conv1d_matches_naive_and_adjoints() {
    // (input [n, c, l], c_out, k, stride, padding, dilation, groups, bias)
    let cases = [
        ([2, 3, 9], 4, 3, 1, 1, 1, 1, true),
        ([3, 4, 12], 6, 4, 2, 1, 2, 2, true),
        ([1, 4, 7], 4, 3, 3, 2, 1, 4, false),
        ([2, 6, 5], 3, 1, 1, 0, 1, 3, true),
    ];
    for (i, &(xs, co, k, s, p, d, groups, bias)) in cases.iter().enumerate() {
        let seed = 1300 + 10 * i as u64;
        let ws = [co, xs[1] / groups, k];
        let x = randn(&xs, DType::F64, seed);
        let w = randn(&ws, DType::F64, seed + 1);
        let b = bias.then(|| randn(&[co], DType::F64, seed + 2));
        let y = x.conv1d(&w, b.as_ref(), s, p, d, groups).unwrap();
        let bv = b.as_ref().map(f64s);
        let (want, shape) = naive_conv2d(
            &f64s(&x),
            [xs[0], xs[1], 1, xs[2]],
            &f64s(&w),
            [ws[0], ws[1], 1, k],
            bv.as_deref(),
            [1, s],
            [0, p],
            [1, d],
            groups,
        );
        assert_eq!(y.shape(), &[shape[0], shape[1], shape[3]]);
        assert_close(&f64s(&y), &want, 1e-12, 1e-12, &format!("conv1d case {i}"));
        // unbatched
        let y0 = x
            .select(0, 0)
            .unwrap()
            .conv1d(&w, b.as_ref(), s, p, d, groups)
            .unwrap();
        assert_eq!(f64s(&y0), f64s(&y.select(0, 0).unwrap()));
        // adjoints of the 1-d backward kernels
        let y = x.conv1d(&w, None, s, p, d, groups).unwrap();
        let g = randn(y.shape(), DType::F64, seed + 3);
        let gx = Tensor::conv1d_backward_input(&g, &w, &xs, s, p, d, groups).unwrap();
        let gw = Tensor::conv1d_backward_weight(&g, &x, &ws, s, p, d, groups).unwrap();
        assert_eq!(gx.shape(), &xs);
        assert_eq!(gw.shape(), &ws);
        let lhs = dot(&f64s(&y), &f64s(&g));
        assert!((lhs - dot(&f64s(&x), &f64s(&gx))).abs() < 1e-10 * (1.0 + lhs.abs()));
        assert!((lhs - dot(&f64s(&w), &f64s(&gw))).abs() < 1e-10 * (1.0 + lhs.abs()));
    }
}

// ----- PyTorch oracle ----------------------------------------------------------------

/// Forward and gradients of one case from
/// shared/conformance/torch_ops.json (PyTorch 2.15, float32).
#[allow(clippy::too_many_arguments)]
fn check_oracle(
    spatial: usize,
    xs: &[usize],
    ws: &[usize],
    data: [&[f32]; 8],
    stride: usize,
    padding: usize,
    tol: f64,
    what: &str,
) {
    let [x, w, b, out, gout, gx, gw, gb] = data;
    let x = Tensor::from_slice(x, xs).unwrap();
    let w = Tensor::from_slice(w, ws).unwrap();
    let b = Tensor::from_slice(b, &[ws[0]]).unwrap();
    let y = if spatial == 2 {
        x.conv2d(&w, Some(&b), [stride; 2], [padding; 2], [1, 1], 1)
            .unwrap()
    } else {
        x.conv1d(&w, Some(&b), stride, padding, 1, 1).unwrap()
    };
    let to64 = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<_>>();
    assert_close(&f64s(&y), &to64(out), tol, tol, &format!("{what} output"));
    let g = Tensor::from_slice(gout, y.shape()).unwrap();
    let (dx, dw) = if spatial == 2 {
        (
            Tensor::conv2d_backward_input(&g, &w, xs, [stride; 2], [padding; 2], [1, 1], 1)
                .unwrap(),
            Tensor::conv2d_backward_weight(&g, &x, ws, [stride; 2], [padding; 2], [1, 1], 1)
                .unwrap(),
        )
    } else {
        (
            Tensor::conv1d_backward_input(&g, &w, xs, stride, padding, 1, 1).unwrap(),
            Tensor::conv1d_backward_weight(&g, &x, ws, stride, padding, 1, 1).unwrap(),
        )
    };
    assert_close(
        &f64s(&dx),
        &to64(gx),
        tol,
        tol,
        &format!("{what} grad input"),
    );
    assert_close(
        &f64s(&dw),
        &to64(gw),
        tol,
        tol,
        &format!("{what} grad weight"),
    );
    // bias gradient: grad_out summed over everything but the channel
    let per = gout.len() / (xs[0] * ws[0]);
    let mut db = vec![0.0f64; ws[0]];
    for (i, &v) in gout.iter().enumerate() {
        db[(i / per) % ws[0]] += v as f64;
    }
    assert_close(&db, &to64(gb), tol, tol, &format!("{what} grad bias"));
}

#[test]
fn matches_pytorch_oracle() {
    use oracle::*;
    let c0 = [
        &CONV2D_0_X[..],
        &CONV2D_0_W,
        &CONV2D_0_B,
        &CONV2D_0_OUT,
        &CONV2D_0_GOUT,
        &CONV2D_0_GX,
        &CONV2D_0_GW,
        &CONV2D_0_GB,
    ];
    check_oracle(2, &[2, 3, 7, 7], &[4, 3, 3, 3], c0, 1, 1, 1e-4, "conv2d/0");
    let c1 = [
        &CONV2D_1_X[..],
        &CONV2D_1_W,
        &CONV2D_1_B,
        &CONV2D_1_OUT,
        &CONV2D_1_GOUT,
        &CONV2D_1_GX,
        &CONV2D_1_GW,
        &CONV2D_1_GB,
    ];
    check_oracle(2, &[1, 2, 8, 6], &[3, 2, 2, 3], c1, 2, 0, 1e-4, "conv2d/1");
    let c2 = [
        &CONV1D_0_X[..],
        &CONV1D_0_W,
        &CONV1D_0_B,
        &CONV1D_0_OUT,
        &CONV1D_0_GOUT,
        &CONV1D_0_GX,
        &CONV1D_0_GW,
        &CONV1D_0_GB,
    ];
    check_oracle(1, &[2, 3, 9], &[4, 3, 3], c2, 1, 1, 1e-4, "conv1d/0");
}

// ----- errors --------------------------------------------------------------------------

#[test]
fn invalid_arguments_are_errors_naming_the_op() {
    let x = Tensor::zeros(&[1, 3, 5, 5]);
    let w = Tensor::zeros(&[4, 3, 3, 3]);
    let conv = |x: &Tensor, w: &Tensor, b: Option<&Tensor>, s, p, d, g| {
        err_msg(x.conv2d(w, b, s, p, d, g))
    };
    let one = [1, 1];
    let zero = [0, 0];
    let cases = [
        // channel mismatch
        conv(&x, &Tensor::zeros(&[4, 2, 3, 3]), None, one, zero, one, 1),
        // groups does not divide C_out
        conv(&x, &Tensor::zeros(&[4, 1, 3, 3]), None, one, zero, one, 3),
        // groups does not divide C_in
        conv(
            &Tensor::zeros(&[1, 4, 5, 5]),
            &Tensor::zeros(&[6, 1, 3, 3]),
            None,
            one,
            zero,
            one,
            3,
        ),
        // kernel larger than the padded input
        conv(&Tensor::zeros(&[1, 3, 2, 2]), &w, None, one, zero, one, 1),
        // dilated kernel larger than the padded input
        conv(&x, &w, None, one, [1, 1], [4, 4], 1),
        // zero stride / dilation / groups
        conv(&x, &w, None, [1, 0], zero, one, 1),
        conv(&x, &w, None, one, zero, [0, 1], 1),
        conv(&x, &w, None, one, zero, one, 0),
        // bias shape
        conv(&x, &w, Some(&Tensor::zeros(&[3])), one, zero, one, 1),
        conv(&x, &w, Some(&Tensor::zeros(&[4, 1])), one, zero, one, 1),
        // input / weight rank
        conv(&Tensor::zeros(&[5, 5]), &w, None, one, zero, one, 1),
        conv(&x, &Tensor::zeros(&[4, 3, 3]), None, one, zero, one, 1),
        // zero-sized kernel
        conv(&x, &Tensor::zeros(&[4, 3, 0, 3]), None, one, zero, one, 1),
        // dtypes
        conv(
            &Tensor::zeros_dtype(&[1, 3, 5, 5], DType::I64),
            &w,
            None,
            one,
            zero,
            one,
            1,
        ),
        conv(
            &x,
            &Tensor::zeros_dtype(&[4, 3, 3, 3], DType::F64),
            None,
            one,
            zero,
            one,
            1,
        ),
        conv(
            &x,
            &w,
            Some(&Tensor::zeros_dtype(&[4], DType::F64)),
            one,
            zero,
            one,
            1,
        ),
    ];
    for msg in &cases {
        assert!(msg.starts_with("conv2d: "), "{msg}");
    }
    assert!(cases[0].contains("channels"), "{}", cases[0]);
    assert!(cases[3].contains("kernel"), "{}", cases[3]);
    assert!(cases[13].contains("int64"), "{}", cases[13]);
    assert!(matches!(
        x.to_dtype(DType::I64).conv2d(&w, None, one, zero, one, 1),
        Err(TensorError::DTypeMismatch { op: "conv2d", .. })
    ));
    // padding makes a too-large kernel fit
    assert!(Tensor::zeros(&[1, 3, 2, 2])
        .conv2d(&w, None, one, one, one, 1)
        .is_ok());

    // conv1d
    let x1 = Tensor::zeros(&[2, 3, 4]);
    for msg in [
        err_msg(x1.conv1d(&Tensor::zeros(&[2, 2, 3]), None, 1, 0, 1, 1)),
        err_msg(x1.conv1d(&Tensor::zeros(&[2, 3, 5]), None, 1, 0, 1, 1)),
        err_msg(x1.conv1d(&Tensor::zeros(&[2, 3, 3]), None, 0, 0, 1, 1)),
        err_msg(x1.conv1d(&Tensor::zeros(&[2, 3, 3, 3]), None, 1, 0, 1, 1)),
    ] {
        assert!(msg.starts_with("conv1d: "), "{msg}");
    }

    // backward kernels
    let g = Tensor::zeros(&[1, 4, 3, 3]);
    let bad_g = Tensor::zeros(&[1, 4, 4, 3]);
    for msg in [
        err_msg(Tensor::conv2d_backward_input(
            &bad_g,
            &w,
            &[1, 3, 5, 5],
            one,
            zero,
            one,
            1,
        )),
        err_msg(Tensor::conv2d_backward_input(
            &g,
            &w,
            &[1, 2, 5, 5],
            one,
            zero,
            one,
            1,
        )),
        err_msg(Tensor::conv2d_backward_input(
            &g.to_dtype(DType::I64),
            &w,
            &[1, 3, 5, 5],
            one,
            zero,
            one,
            1,
        )),
    ] {
        assert!(msg.starts_with("conv2d_backward_input: "), "{msg}");
    }
    for msg in [
        err_msg(Tensor::conv2d_backward_weight(
            &bad_g,
            &x,
            &[4, 3, 3, 3],
            one,
            zero,
            one,
            1,
        )),
        err_msg(Tensor::conv2d_backward_weight(
            &g,
            &x,
            &[4, 3, 3],
            one,
            zero,
            one,
            1,
        )),
        err_msg(Tensor::conv2d_backward_weight(
            &g,
            &x.to_dtype(DType::F64),
            &[4, 3, 3, 3],
            one,
            zero,
            one,
            1,
        )),
    ] {
        assert!(msg.starts_with("conv2d_backward_weight: "), "{msg}");
    }
    let g1 = Tensor::zeros(&[2, 2, 2]);
    assert!(err_msg(Tensor::conv1d_backward_input(
        &g1,
        &Tensor::zeros(&[2, 3, 3]),
        &[2, 3, 5],
        1,
        0,
        1,
        1
    ))
    .starts_with("conv1d_backward_input: "));
    assert!(err_msg(Tensor::conv1d_backward_weight(
        &g1,
        &x1,
        &[2, 3, 2],
        1,
        0,
        1,
        1
    ))
    .starts_with("conv1d_backward_weight: "));

    // transposed convolution
    let xt = Tensor::zeros(&[1, 4, 3, 3]);
    let wt = Tensor::zeros(&[4, 2, 3, 3]);
    for msg in [
        // output_padding not smaller than stride or dilation
        err_msg(xt.conv_transpose2d(&wt, None, one, zero, [1, 0], one, 1)),
        // channel mismatch
        err_msg(xt.conv_transpose2d(&Tensor::zeros(&[3, 2, 3, 3]), None, one, zero, zero, one, 1)),
        // groups does not divide C_in
        err_msg(xt.conv_transpose2d(&wt, None, one, zero, zero, one, 3)),
        // bias shape: C_out = 2 * groups
        err_msg(xt.conv_transpose2d(&wt, Some(&Tensor::zeros(&[2])), one, zero, zero, one, 2)),
        // output too small: (1 - 1) * 1 - 2 + 0 + 1 < 1
        err_msg(Tensor::zeros(&[1, 4, 1, 1]).conv_transpose2d(
            &Tensor::zeros(&[4, 2, 1, 1]),
            None,
            one,
            one,
            zero,
            one,
            1,
        )),
        err_msg(xt.conv_transpose2d(&wt, None, [0, 1], zero, zero, one, 1)),
        err_msg(
            xt.to_dtype(DType::I64)
                .conv_transpose2d(&wt, None, one, zero, zero, one, 1),
        ),
    ] {
        assert!(msg.starts_with("conv_transpose2d: "), "{msg}");
    }
    // bias of C_out = 4 elements with groups = 2 is fine
    let y = xt
        .conv_transpose2d(&wt, Some(&Tensor::ones(&[4])), one, zero, zero, one, 2)
        .unwrap();
    assert_eq!(y.shape(), &[1, 4, 5, 5]);
}

/// Cases conv2d/0, conv2d/1 and conv1d/0 of
/// shared/conformance/torch_ops.json, printed by a one-off Python script:
/// inputs X, W, B, forward OUT, GOUT (the grad_output), and the
/// gradients GX, GW, GB of sum(OUT * GOUT).
#[rustfmt::skip]
#[allow(clippy::excessive_precision)]
mod oracle {
// conv2d/0: attrs {"stride": 1, "padding": 1, "dilation": 1, "groups": 1}
// input shapes [[2, 3, 7, 7], [4, 3, 3, 3], [4]] -> [2, 4, 7, 7]; rtol 0.0001, atol 0.0001
pub const CONV2D_0_X: [f32; 294] = [
    0.854889631, 0.503888547, -0.803453267, -0.224553242, 0.470768213, -0.854845822,
    -1.26771772, 0.623589039, 2.18772149, 1.47870624, -1.22956061, 1.8345114, -0.0177197345,
    -1.29333925, 0.312325567, 1.98497891, 0.32885164, 0.837182999, 0.927612066, 0.91777277,
    0.971628666, -0.359441221, -0.143378749, -2.94444966, -0.678452373, 0.322978199, 1.63136756,
    -0.113018923, 1.97698259, -0.124670893, -0.195246652, 0.511338353, -0.0621226989,
    -1.16736591, -0.924631476, 1.06055164, 0.247970864, 2.44326639, -2.30467463, 1.28472805,
    -1.11972046, -0.404417813, -0.293610692, -1.46019912, 1.10178387, -0.655195057,
    -0.580351949, 0.332301021, -0.450105518, -0.948943794, -0.790868163, 0.778525412,
    -0.0232938807, -1.70042539, 0.693635106, -0.459809929, 1.65595806, 1.43767059, 0.493712097,
    0.308154702, 0.148237228, 1.19056201, 0.362842917, -0.427843899, -0.549669862, 0.418836892,
    -0.714986801, 0.405696362, -1.19496429, -2.04264569, -1.64163435, -0.501315355, 0.939097464,
    1.23373127, -0.601969361, 0.596713901, -1.08388472, 0.570446491, 0.601954043, 0.700570881,
    -0.520035326, 0.472002298, -1.60136878, 0.801345766, 0.897057831, -0.131182626, 0.359629154,
    0.0368336029, -0.0285320301, 0.121702485, -0.839624465, -0.379256755, 0.328595072,
    -0.5144189, 1.12093008, -0.545448184, -0.412352264, 1.37202072, -0.00615307223, 2.42895103,
    1.26698959, -1.26610231, -0.419199646, 1.28557563, -0.0535684749, -1.17102134, -1.63506174,
    1.00522435, -0.455157638, -0.0637407899, -0.389549166, 1.90739226, 1.52569604, -0.830839694,
    0.155535191, -0.183525771, -0.428226411, 1.29321253, -1.22222638, 0.0034055186,
    -0.204446495, 0.434680879, -0.917132735, -1.12713253, 1.55561709, 0.626410782, -0.138360396,
    1.77706981, -0.00708119571, -0.373701006, -0.193824157, 0.623161852, -0.0315697603,
    0.360766321, -1.35661328, 1.26447749, -0.648688197, 0.458810359, -0.0978056937,
    -0.0249702986, -0.89127481, -1.05332327, 1.14832091, -0.733323276, 0.852332413, 0.742133379,
    -0.730618358, 0.0201494023, -1.40388668, 1.37988484, -1.50954473, -0.00741154887,
    0.104572378, 0.879212201, -0.0518109985, -0.182299703, 1.16410923, 1.48110425, -0.406206131,
    -1.2983886, 0.916726887, 0.343081445, -0.638188243, 0.115579069, -1.2390902, 0.346196651,
    0.954051077, -1.09426332, -0.28744477, 1.76132429, 0.516554236, 0.688176513, -0.849552035,
    0.186913818, 1.13643205, 0.639802992, 0.753964067, -1.05705094, -1.09898877, 0.0877016783,
    -0.324889928, 0.260111183, -0.620407283, -1.12097788, 3.4352169, -0.0820411816, 0.152288109,
    0.220185667, 0.0453587025, 1.16995788, -0.76072377, -1.19496298, 0.470791459, -0.120963544,
    -0.28035301, 1.53329968, 0.642361403, 0.248043329, -0.591512263, 0.0449009202, 0.287253767,
    -0.563059866, -0.385291249, -0.0403076746, -1.85891306, 0.571739793, -0.469726413,
    -0.0285437629, -0.825896561, 0.0573740117, 0.273442835, 0.886668921, -1.69187927,
    -0.494878948, -0.667608738, 0.520151854, 0.831305146, -0.962091565, 1.1705327, 0.397373885,
    -0.217729107, 0.480975777, 0.406377763, -0.855505109, -0.521868944, 0.774601102, 1.03567827,
    0.948710263, -1.35604286, 2.25233912, 0.00315634673, 1.07771146, 0.0559118576, 0.314531296,
    -0.0110506238, -0.108719409, 1.7584734, -0.551970661, 0.815244853, 0.167115584,
    0.0954942182, -0.0984011069, -0.97532177, 0.2887972, 1.78723729, -0.597829282, -0.079065688,
    -0.845279515, 1.9864552, 1.59681797, -0.128882214, -0.513617635, 0.532529652, -0.432570726,
    -0.377328128, 0.380817115, -0.222556517, -1.1481148, 0.282384694, 0.986274064,
    -0.0629650727, -0.204730988, -1.43659723, -0.644416392, -1.77868342, 1.38113892,
    0.382375002, 0.302741736, 1.74859011, -1.72904229, 0.214413121, -1.89302433, 1.39381707,
    -0.801955104, 1.5102818, 0.171285242, 0.0194670726, 0.337619662, -0.332468688, 0.220562503,
    -0.501660526, 1.00918448, -0.725011826, -0.307970971, 1.17689109, -0.291639, 0.542472303,
    0.67972225, 1.16747463, -0.0509152636, 0.468687117, -0.213044733, 0.8538481, -0.104329824,
];
pub const CONV2D_0_W: [f32; 108] = [
    0.647515237, -0.0625020638, 0.0129291015, 1.00440991, 0.561811626, 0.818799794, 0.595227957,
    -1.15798271, -0.967494786, 0.473005056, 0.192349553, -1.21285343, -0.242887348, 0.30196619,
    -1.41044617, -1.18732798, 1.22002828, -1.0506748, -0.915003598, -0.462291211, 0.173614919,
    -0.688458443, 0.174576953, -0.167600214, -0.015964631, 0.166993976, 0.45914337,
    -0.330063611, -0.571748912, 0.0158073884, 0.343318969, 0.777651727, 0.108627133, 1.77144432,
    -0.8593961, 0.912390292, 0.553070843, 1.10714579, 0.143462449, 0.327229381, -0.372018337,
    0.162694111, 1.20720351, 0.0172071476, -0.308771163, 0.0806383416, -0.998160005,
    -0.454357862, 0.728530943, 1.27139819, -0.759436429, -0.107799344, -0.30068633, 0.634447634,
    0.326784939, 0.241094485, 0.323664159, -0.364145935, -0.78255254, 0.827668965, -0.951826394,
    0.889639735, 0.403993458, 0.0186227951, 0.83040303, -1.41637897, -0.0199563112, -1.02373707,
    0.796596587, -0.372431159, 0.341285259, -1.30186069, -1.00075591, 0.513569295, -1.72015226,
    -1.89675403, 0.252688915, -1.10523939, -1.58859992, 1.17546237, 1.56632757, -1.08747911,
    -2.21370912, -0.153172836, -0.0656022653, -0.133892328, 0.191691294, -0.220909536,
    -0.935596108, 0.740551531, 0.91433531, 0.981594563, -1.5890975, -0.447619766, 0.91358453,
    1.5872345, -0.533369839, 0.125673711, -0.177772284, 0.932564497, -0.685233533, 0.680644631,
    0.530231714, -0.742759407, -0.657072365, 0.588874936, 0.344052225, 0.387769461,
];
pub const CONV2D_0_B: [f32; 4] = [
    2.11012769, 1.22657955, -0.252250195, 1.29775429,
];
pub const CONV2D_0_OUT: [f32; 392] = [
    0.148555651, -2.41297221, 0.538217068, 2.78341031, -3.91123009, 6.92850304, 0.178504303,
    1.59469557, -0.191868693, 3.8842268, 0.992362916, 2.4205296, 0.777859092, -1.47576451,
    2.76973462, 8.00009632, 13.6144428, 2.22930598, -0.404104233, 10.6604061, 1.47533774,
    0.465599358, -2.52227783, 1.55414152, -3.39336824, 8.71356487, 7.57931471, 4.44814253,
    1.59739661, -2.05366278, 0.326060593, 3.12196517, 3.27490544, 4.30714941, -1.33092678,
    3.59452438, 6.18591833, -1.33731842, 7.64791203, 1.49297082, 0.370463848, 1.42978048,
    0.0587819703, 4.23346424, 0.443031549, 3.72183633, 0.713702798, 0.629339695, 1.36434293,
    0.677498102, 7.75719357, 7.25703144, 6.33921719, -4.21394873, 4.57268095, 3.2058239,
    -0.703318059, -6.50158024, 7.46889162, 4.21291399, 2.08443713, -0.118532687, 3.19040251,
    8.12890625, 0.0653771907, 0.402060211, 0.725685894, 2.88996029, 3.95953989, 5.25720596,
    -1.0446409, 2.14001131, -0.423994124, -1.36458015, -1.9578228, -0.139936447, -1.47997975,
    -2.08446026, 8.89619255, 0.562250614, 14.6176281, -6.19238472, 2.01559711, -3.63060498,
    0.540212989, 1.33193576, 0.630988061, 2.56061196, 2.68001294, -4.14836597, 2.41507435,
    1.32914317, -2.32272673, 0.980544209, 0.923309088, 0.623709857, 3.9085865, -0.287385643,
    -6.65428638, 1.74514055, -2.64577556, -7.26398993, 3.14115882, -0.441940486, 0.463615656,
    0.693096817, -6.07291698, 2.54194093, -0.681614757, 1.19573343, -0.377943128, -4.42833233,
    4.2570467, -5.00180197, -0.556447089, 0.275319159, -0.776560068, 6.3481617, -4.59868717,
    8.51248264, -4.97535276, 4.08824921, -1.1867013, 5.21213627, 2.45120382, -5.42732191,
    -4.61906624, -4.96061039, 0.0740084648, -3.69262433, -2.28927231, 3.95798826, -2.19999766,
    -7.48559904, 2.6272676, 1.60199308, -4.24450684, 5.36597204, -7.01113605, -1.23299873,
    4.14346695, -1.31144547, 6.67760229, -7.1497736, 1.76100945, 1.07314432, -4.08296299,
    -2.48147202, -3.42394733, -0.794078648, 2.63162708, -2.81744528, -0.110963427, 2.56584764,
    8.81010628, -3.99973965, 1.42079926, 8.68750286, 0.118088953, 1.02577889, 4.41169596,
    -2.86451101, -1.36286056, -4.21214199, 4.99136305, -5.48084879, -4.10224247, 4.44898272,
    -4.3339839, -2.16161036, 3.15428901, -1.50205874, -0.0162076317, -4.98299646, -1.46108937,
    0.207756028, 0.298481137, 1.78231514, 12.6243563, -2.7839098, -2.67369795, 2.66926813,
    -2.63940406, 1.02443027, 1.54547191, 2.16444635, 3.5835917, 0.112989992, 4.73775721,
    0.119038969, 1.1025871, -6.37094116, 6.7784481, -3.02181768, 6.68006325, 5.03637314,
    2.75557351, -0.256658196, 0.138476595, 1.17144561, 3.90657091, 1.43147886, 2.01029515,
    4.53085661, 6.04226112, 2.38619447, 7.14519644, -3.06248999, 1.37081337, 4.89705944,
    -0.850523651, 2.98254633, -0.393788904, 2.88755727, 4.32275438, 0.840071976, 1.2183367,
    -2.41541457, 5.81425285, 7.51944685, 2.81491899, -2.53955579, 7.94308472, 3.08412933,
    3.19410372, -3.28284478, -4.74262381, 3.57923245, -4.11159992, 7.45116758, 0.229137704,
    1.24620819, 4.71910858, 1.3565048, 7.18929863, -3.5831964, 1.05913866, 2.96417761,
    2.64889765, 1.05997741, -1.18695307, 6.0707078, -1.42704165, 1.396963, 3.43485641,
    0.208014786, 1.12231076, -2.33819175, 1.95375359, 4.87847042, 4.7458334, -2.88665509,
    1.74762857, 5.77918863, -2.68664742, 0.650026977, -1.91322565, -2.20266747, 3.00092578,
    3.70193148, -1.91193938, 4.84665346, -3.03554034, 1.57801557, 0.534198284, -0.223737314,
    2.35605955, 0.90817982, 7.48688602, 2.882622, -0.494200259, -2.21741509, 4.90502977,
    -0.961855829, 5.1782732, -3.89790034, 8.54209232, 2.85887003, 1.96152949, 1.44634509,
    -3.08076811, 2.91177011, 5.97179794, 0.395114511, 3.63933206, 2.31538057, 2.06056666,
    3.33565068, 4.02989864, 0.247475624, 0.574874103, 0.0656906292, 3.77903461, 1.9395777,
    0.281300783, 0.339587092, 0.453576505, 1.36336684, -7.29574442, -3.13132739, 4.07638168,
    -1.58082414, 5.30613661, -7.87046671, -3.95838809, -2.15700364, 2.50965166, 4.14836693,
    2.76907825, -1.07071662, 1.1401695, -2.61448073, 7.35053587, -2.28583622, 9.27637768,
    3.68225932, -0.0134279374, -3.83298635, -2.09775496, 5.5213213, -5.67401838, 7.3284688,
    -2.84867358, -1.50323713, 2.63328028, -6.12900352, 7.78291988, -4.88425398, 2.63160896,
    -3.7156167, 3.94138765, -8.21022987, 3.01175976, -2.45778084, -4.79968929, 1.95367479,
    -5.30772734, 0.406036705, -1.71454036, -0.66756165, -2.30279613, 3.25978923, -4.60364008,
    2.75684285, 1.79504919, 0.574177325, -3.28329873, -0.0940571576, 2.94618964, 0.684289694,
    -1.66822135, 6.54717398, -0.164004803, 1.18886018, 3.51787567, 0.802829921, -1.78969598,
    5.9864049, -1.46783257, -4.25109005, -4.18377495, 2.11404014, 6.93843079, -4.70507145,
    -0.284923196, 6.46976805, 0.917156458, 6.78639936, -2.01433182, 0.41743204, -3.29024863,
    -0.686740816, 2.06609607, -2.29551768, -0.767672956, 0.697180808, 10.2901993, -7.0522871,
    -0.647387266, -3.63621044, 8.05315399, 7.73102999, -0.0417798311, 6.56417322, -0.0280476362,
    4.27812529, 2.07746744, -2.96418309, -3.41789222, -3.79855466, 8.00616169, 3.22707152,
];
pub const CONV2D_0_GOUT: [f32; 392] = [
    0.511233568, -0.148870692, -0.722274184, -0.242275342, -0.483963102, 0.586715996,
    1.28089201, -1.93196869, -1.36703682, -0.0468428582, 0.514934957, -0.448656857,
    -0.0121321678, 0.733682036, 0.98204881, -1.57134271, 0.717147231, -0.274165213, 1.7156831,
    -0.201243192, -0.446415395, 0.239618748, -1.82564616, 0.257763088, -0.178101033,
    -0.32733199, 0.885350883, 0.961037517, -0.216251522, -0.93151027, 1.39783216, -0.408454329,
    -1.39654183, 0.98279053, -1.01568055, -0.767084539, -0.328646362, 0.0916197225, 0.313777387,
    0.681719244, -0.797336698, -1.50375152, 0.420524061, 0.628893614, 0.380512476,
    -0.0293639023, -0.544524968, 0.300116569, -1.69257116, 0.737239778, 0.382129222, 1.54254794,
    -1.03533137, -2.55893612, -0.396125972, 0.32573989, -0.423954248, -0.688819826, 0.55356276,
    0.084049277, -1.40442014, -1.29269207, -1.11878812, -1.51959884, -0.340756893,
    -0.0328625925, 0.894531786, -1.12992406, -0.469637603, -1.27072477, -0.60491097,
    0.789107919, -0.935869336, -0.467534423, -0.101879828, 0.0574655049, 0.245349944,
    -0.401544541, 1.73961759, -0.675140083, -1.05630207, -0.410547018, 0.60700196, -0.718584597,
    0.427059323, 0.510088205, -1.70658886, 0.609292924, 0.641407073, 0.0670631751, -0.171011642,
    0.41585356, -1.22203481, 0.952287555, -0.214038432, -1.98235619, 0.171047688, -0.322181016,
    -0.899980068, 0.403100222, -2.16462898, -0.0786415339, 1.52481449, 0.0864509195,
    0.300368488, 0.491233528, 0.33574307, 0.243950307, -1.65449905, -1.20574307, 0.159204349,
    0.0972427353, 0.595551133, -1.10177708, 0.304112673, -0.814638555, 1.00031579, -0.675824761,
    0.401873946, 0.103633121, 1.09979248, 0.494526178, -0.538349032, -1.73360753, 0.18479687,
    -1.62245882, 0.318044394, 1.00315332, 0.854076445, 1.76374412, -0.868240416, -1.01536894,
    -0.418330818, 0.0723814964, -0.371707737, -0.542832077, 1.514539, -0.46318531, -1.49633014,
    -0.81957978, -1.16298437, -0.685607672, 0.104033642, -0.707671285, -0.335644931, -2.3813026,
    2.1181531, -1.56780791, -1.3509481, 1.64107347, -0.306327313, -1.45845461, 0.0889780372,
    -0.44685027, 1.21955681, 0.981834769, -0.933300853, 0.35580337, 1.43310916, 0.372662246,
    -0.960285842, 2.98589659, 0.751853943, 0.4948515, 0.402936757, 0.556592286, 0.00361584499,
    0.682458401, -2.18495417, 0.10646233, 2.33718824, 1.24749458, -0.237332165, 0.0247279368,
    1.36854076, -1.12813723, -0.870302975, 0.322590321, 0.194127008, 0.00714269327, 0.208177522,
    -0.780661643, 1.43894482, 0.230352253, -0.555183828, 0.396322876, 0.498610705, 1.32510245,
    -2.15775824, 1.51938057, 0.666303635, -0.718310773, -0.737329781, -1.31532133, 1.36751723,
    0.829489112, -1.15965056, 0.710116744, -0.880383372, 0.152496904, -0.795147479,
    -0.170080364, 0.882125616, -0.707258642, -0.921417952, -1.79221094, -0.347766459,
    -2.0926125, 1.5832814, -0.83653456, -0.680249095, 0.253204823, 0.186544091, -0.17753002,
    1.36786461, 0.449117452, 1.43264771, 0.938136578, 1.0742774, -0.165365741, -0.975184321,
    -0.553352177, -1.77647829, 1.29049885, 1.30670846, -0.371111929, -0.958740532,
    -0.0841287822, 1.18223274, -1.67631733, -1.88576198, 0.742923737, -0.883842766, 0.684267104,
    0.431342483, 0.932210863, 0.842847705, 2.84616804, 1.3536973, 0.187906012, 1.46622777,
    0.953855038, -0.857953966, 0.422204465, -0.967534781, -0.813282371, -0.437653959,
    1.27307963, 0.709887683, 0.484310538, 1.11006081, -0.0805236995, 0.870606959, 0.491833985,
    -0.312628925, -0.0865123942, -0.812428117, 0.846659899, -0.331377238, 0.254316598,
    0.81982857, -1.3341254, -0.0951107293, -0.0381945521, -2.710325, 0.325417876, 1.12931299,
    0.187383577, 0.252296329, 1.28896642, -0.10648831, 0.478231579, -0.650341392, -0.480388314,
    0.811966479, -2.13642621, -1.25265574, 0.192235589, 0.186219245, 2.70398068, -0.45565027,
    0.857892692, -0.298661113, 1.23253548, -0.452855051, 0.00254548178, 0.0500466228,
    0.141243413, -1.29460883, 1.39722955, 0.299803823, 1.59206784, -1.14715219, 0.0690183267,
    0.937087834, 0.575480938, -0.756927609, -1.29179347, -0.639485717, 0.127944395, -2.98545194,
    1.39167166, -0.76864934, 0.779096305, -0.0259258989, 0.755629182, -0.28128612, 0.282481343,
    -0.865300179, -1.26166117, -0.930657029, 1.03204906, 0.199490249, -1.50412691, -0.859782219,
    1.15100992, 0.64859432, 0.0066016838, 0.0554349795, -0.832905471, 0.739659846, -1.30074668,
    0.0427846275, -1.1336807, 0.405027181, -0.724173427, -0.643070877, 0.0416997559,
    -0.443305731, 1.00506341, -0.557511806, 0.326185167, 0.474029183, -0.732898593, 1.35826886,
    -0.988619387, 0.530547738, -0.490708351, 1.24792731, -0.0706611574, -1.30800653,
    -1.27619016, 0.620634615, -0.0337483399, -0.737673581, -0.192691624, -2.07888317,
    -0.0557347722, -0.0909695178, -2.56115055, 0.0192987733, -0.145953625, -0.807622015,
    0.0588088147, -0.600300729, 0.976049423, 1.92604256, -0.0520154499, -0.278757989,
    -0.761815369, -0.23469308, 0.652397633, 1.28825653, -0.707794785, -1.23679245, 0.69306916,
    0.304745436, 1.01732528, 0.381403655, 1.11108327, -0.693343103, 0.106384464, 0.547643185,
    -0.152292684, 0.194744274, 0.935826004, 0.827678084, 0.425379127, 0.469050556, -0.404453784,
    -1.33846748, -0.197737083, -1.20872498, -1.04743683, 0.58026588, -1.68913138, 0.396058261,
    -1.04020667, 0.596464753, 1.37073731, -0.131771743, 0.921743572,
];
pub const CONV2D_0_GX: [f32; 294] = [
    -2.13576007, -0.774211168, 2.83132267, -7.37991762, -6.42709446, 2.80446005, 4.04059315,
    -11.5568943, -0.326135129, -8.11849213, -1.40335071, 1.0889467, -3.70042014, -3.14741373,
    0.481711209, 5.09953642, -3.2398572, -4.75855207, -5.25947189, -1.6958456, -5.70255423,
    -1.93190014, 1.18349743, 1.16097546, -3.00340724, 2.15109777, -5.83628654, 5.29328012,
    -3.67581439, -1.73115313, 1.26404488, -2.18914127, -1.43009222, -2.84341049, -1.3117826,
    -0.730329454, -1.6863898, -2.14007282, 3.80866504, 8.320508, -8.48783398, -2.18792057,
    1.93464434, -0.419753551, 3.05243444, -0.499824345, -1.33128047, -3.38424873, -0.027201796,
    0.767432749, -6.35089636, 1.22934318, 2.9055655, -3.22406268, -2.83750153, -4.07983923,
    2.85394502, 2.03934383, 3.47358203, -0.551037133, 1.12015343, -4.36492348, 1.81725991,
    -1.95653987, 11.8682137, 7.02006912, -6.99607706, -2.67331314, 5.24113989, 0.237520844,
    0.456364632, -8.59068108, 12.0588322, -4.26319313, 3.49208498, -5.34681606, 0.84711045,
    4.71766901, -11.6698961, -0.452825516, 2.51704335, 0.0765253603, 2.0577395, -4.7749753,
    5.27875423, -2.54013658, -0.328461826, -7.49563551, -1.95511007, 10.2290869, 1.84763157,
    2.0123353, 1.61676455, -1.24958253, 0.829149961, -3.52845645, 3.01608849, -1.78266668,
    3.37148404, 9.17585278, 1.56883991, -5.97342062, 1.67886734, 2.37850308, 3.14459538,
    -2.00652862, 1.17774403, 5.31879616, -6.90408182, 0.605931938, -2.61081362, 3.06661987,
    3.21310091, -3.63315701, 4.89168024, 0.160058677, -2.33522534, -0.60254401, -3.78656507,
    5.94137955, -1.00441122, -7.46549892, 2.32279229, -0.276395887, 7.13602352, 1.4979403,
    -2.32572079, 0.918646991, -0.40549925, 5.52254581, -4.20012665, 3.02199078, 4.36584997,
    -3.03921223, -0.681114495, -1.74542451, 8.60206795, 11.8073292, -5.41757774, 7.01913977,
    0.510236561, -1.61562681, 0.931086302, -0.839476407, 10.6382046, -2.35760617, -3.29174519,
    -2.62312126, -0.278787494, 4.75282812, 0.380532891, 1.01724124, -3.2945838, -0.978597343,
    0.478377998, 3.6393013, -0.0482380986, -0.41396448, -2.31402802, 2.90390778, 0.448430479,
    6.29379559, -0.844241083, 0.0592863895, -6.28758669, 4.91837549, -3.29558563, 2.0197494,
    2.7387917, -2.43956661, 1.58465028, -0.885334134, -11.944561, -4.84546375, -6.45848799,
    -0.258843809, 1.63198328, 0.514140666, 2.12560487, 5.14173937, 4.93676329, 0.888421237,
    3.52354765, -3.19638395, 3.79958868, -0.612434983, -6.83748341, 5.67603445, 3.16135979,
    2.17853642, 1.88602364, 5.95605516, 0.972819328, 2.9547565, -0.923081815, -7.76073694,
    0.656096995, -1.13573694, 0.73879832, 0.342849165, -2.60887671, 6.34834385, 0.0367604345,
    -4.10876083, 7.77600908, -2.94548225, 8.98795891, 0.389462978, 0.0555717498, -1.63270056,
    5.00648642, 1.40134096, -2.2243681, -0.0965302736, -3.69700956, 8.9328146, -4.92537594,
    -2.17505002, -4.65183306, -0.365901798, 0.60295701, 2.72477245, -2.47064376, 13.0971642,
    1.1105386, -5.80710697, 2.04977417, 2.97361112, -0.531541586, 2.95085144, 3.66951942,
    2.57105088, -3.76573014, 1.27986741, -3.24938631, 3.79136038, -5.01226568, 2.41525912,
    1.44208384, -6.11734962, 0.196960494, -2.4269402, -0.692729712, 2.60523748, -1.37863457,
    -1.58967853, -0.250540882, 6.56441832, 3.04219341, 5.67327261, 3.78838921, 0.88456589,
    4.0109477, -0.800044835, 2.84089541, -1.50843608, -4.5860157, 3.9226284, -2.76303959,
    3.95927453, -1.8926307, -2.3315959, 0.4382447, 2.8482101, -3.79459548, 4.74580812,
    3.74065828, -4.08657551, 2.14093089, 2.34571338, 6.50413704, 7.55414772, -8.74118996,
    4.28662205, -1.45895445, 0.839125454, -1.3634125, -1.78952074, 5.22567844, -3.22431517,
    5.27110243, -8.3103466, 2.67482114, 1.28931713, -8.14262772, 7.85967588, -0.0788377672,
    4.04579401, -5.42902422, 2.59232092, 3.83611774, -1.07926917, -0.340105355, 3.29627562,
];
pub const CONV2D_0_GW: [f32; 108] = [
    9.27558327, -9.22091675, 3.91127467, -0.804869294, -9.10759068, 6.85936356, -0.768244863,
    1.39019012, -2.78987932, 5.54405022, 11.0017643, -1.12225842, 8.50730515, -14.8776503,
    1.07731056, 1.58789504, 0.692492485, 10.0786819, 0.156523228, 1.36226678, -23.0414429,
    -10.7760305, 18.7742138, 6.3508234, -9.14355659, 0.37806201, 13.6121864, 4.65003395,
    12.2594509, -21.0769653, 5.59153986, -5.70738077, 8.93631554, 2.66817522, -17.6982288,
    0.50025773, -10.102314, -3.0096581, -1.97442424, 5.98893356, -5.83897448, 1.13645601,
    2.46678376, 12.6976328, 2.79157138, -6.01953697, 2.36053467, 0.36975944, 12.506443,
    10.1654091, -1.19549513, -6.49227619, 3.5410471, 2.9037776, -15.7300997, 5.59414577,
    -18.9276619, 4.11961889, -1.68217301, 1.24419188, 7.14659214, -9.2755909, 3.07487202,
    -0.959790647, 7.41049385, 5.07598972, -7.1400423, 15.1315002, -8.41165733, 0.505822659,
    -3.77890301, 4.70299339, 5.64650917, 1.96390963, -5.16826153, 1.39059353, -12.9843607,
    4.85052824, 10.1676016, -4.85906315, 1.47359133, 18.2773438, 8.66555882, 16.8924236,
    -2.92415977, -2.94254827, 8.04877663, 3.26642942, -18.264658, -10.952877, 5.11832476,
    -6.5370636, 2.90610385, -1.27883863, 16.1754494, 5.90537119, 0.0462249517, 2.63132477,
    -7.83006907, -14.0624285, -15.1436119, 1.78747988, 13.4797382, -18.1630573, -20.9500275,
    4.30154657, 6.60271168, -0.946554661,
];
pub const CONV2D_0_GB: [f32; 4] = [
    -3.31980109, -8.18906498, -16.1232243, 5.67072392,
];
// conv2d/1: attrs {"stride": 2, "padding": 0, "dilation": 1, "groups": 1}
// input shapes [[1, 2, 8, 6], [3, 2, 2, 3], [3]] -> [1, 3, 4, 2]; rtol 0.0001, atol 0.0001
pub const CONV2D_1_X: [f32; 96] = [
    -0.813494205, 1.15319788, 1.1689266, -1.18720138, 1.28059006, 0.320765376, -1.47562385,
    -0.0465993397, -1.73053563, 2.26007438, -0.437629849, -0.797789872, 1.08678639,
    -0.499073774, -2.63884187, -1.12712979, -0.0416633785, 0.639825761, 0.257154346,
    -0.141735747, -0.512938857, 0.894595802, -0.125845924, -0.296529084, 1.09771311,
    -1.17082167, 0.531416535, 2.31677198, 1.89727759, 0.68104732, -0.336115807, -0.517956674,
    0.374259025, 1.56623685, 1.13751674, -0.663603246, -1.23010397, 1.02997863, 1.41591454,
    -0.608866155, -0.017075995, -1.25285757, -0.415706992, 0.102067858, 0.0542210229,
    0.904352427, -0.323381245, 0.327872992, -0.330535829, 0.645333946, -0.535998344,
    -0.110355377, -0.54654038, -0.414866537, -0.21831511, -1.31149173, -0.906969011,
    0.711049795, 0.312256843, 0.406526119, -1.01071393, 0.113620736, -0.704517603, -1.31248868,
    -0.0614108853, -0.626798511, -1.41992593, -0.0876274705, 2.25515842, 0.128548503,
    0.654121697, 0.992087483, -1.36386442, 1.77474177, 0.53641814, 0.0958784148, -0.552842796,
    0.441573948, -1.65866959, 0.477882445, -1.22074926, 0.0912118256, -0.23115027, 1.70639849,
    -0.196413681, -0.321568757, 0.271083921, 0.00370669039, -0.8315382, -0.399863988,
    -0.67487812, 0.132389337, 1.83670068, -1.00993383, -0.36405167, -0.49167192,
];
pub const CONV2D_1_W: [f32; 36] = [
    -0.935336292, 0.119094841, -0.310338825, -0.832717299, -1.01503134, 0.808251321,
    -1.14477015, -1.07754636, 0.299156755, -1.06539142, 0.847487807, -0.300569475, 0.157923207,
    1.23208606, 0.00806606561, -0.863992333, -0.461219996, 1.19750679, 0.667597473,
    -0.366742343, 1.04843593, -1.29614472, 1.24810088, -0.751029789, -2.01836014, 0.139815107,
    -0.803836882, 0.211325839, 0.0168966558, 0.0309073124, -0.404122949, 0.157918066,
    0.384464711, -0.148490921, -1.53122222, -0.097055383,
];
pub const CONV2D_1_B: [f32; 3] = [
    -0.834779978, -0.900555849, 0.237874269,
];
pub const CONV2D_1_OUT: [f32; 24] = [
    -1.50555527, -1.62960553, 0.00787711143, 0.641608536, 1.29072797, -2.06217074, 1.21702313,
    -6.71719217, -2.0667069, -1.30150795, -3.55386043, -6.13368845, 1.47615826, 3.98261881,
    0.494226933, -6.33838081, 2.89333963, -4.65320826, 0.413544744, 4.80138063, -1.96609104,
    -2.24533272, 1.49411023, -1.79423988,
];
pub const CONV2D_1_GOUT: [f32; 24] = [
    -1.37374163, -0.873710036, 1.35763192, 0.442791969, 1.0367322, 0.410203874, 0.0114914244,
    0.309542477, 0.233182356, 0.430570453, -0.160660118, -0.00804176461, -1.00409997,
    3.03581333, 1.07103455, 1.31008923, -0.22261706, 0.301625907, -1.41802084, -0.147772968,
    -0.785342574, 0.783404708, -0.634957254, 1.40333033,
];
pub const CONV2D_1_GX: [f32; 96] = [
    1.77105677, 0.0925699621, 0.883574128, 0.46861738, 0.0321611315, 0.0, 0.895425916,
    1.28308094, -0.418686241, 0.693351865, -0.181243792, 0.0, 1.56686246, -0.234520867,
    0.600065351, 0.0221651997, -0.018695049, 0.0, -1.29137897, -1.3278991, 0.468088239,
    -0.448235571, 0.343689889, 0.0, 0.456840158, -1.22347081, -1.1839962, 3.89876842,
    -0.732544661, 0.0, -0.161733329, -0.602474391, -3.18769884, -1.80331075, 3.99116755, 0.0,
    1.43996537, 1.23219872, -2.39958405, 1.84721434, -1.21354449, 0.0, -1.06911755,
    -0.516375363, 0.179125786, -0.894723058, 1.86240196, 0.0, 1.81825495, 1.35959709,
    0.913675129, 0.831186831, 0.306013763, 0.0, 1.19439101, -0.532317996, 0.587356925,
    -0.664919555, -0.0900350958, 0.0, -1.08837795, -1.62792158, -0.76002121, -0.497515619,
    0.0672194511, 0.0, -1.02760744, 3.12136126, -0.589156151, 0.591497123, -0.112707987, 0.0,
    -1.53977966, -0.872900903, 0.195994616, -1.43166113, 3.60676265, 0.0, 0.313549519,
    0.827933788, -3.9694891, 2.93707705, -2.47931457, 0.0, 0.958465695, -0.505447507,
    0.835369468, -0.592400372, 2.00567722, 0.0, -1.30617332, 2.31875873, -2.98243785,
    -0.251353621, -1.21315587, 0.0,
];
pub const CONV2D_1_GW: [f32; 36] = [
    2.18339944, -2.1636827, -4.98549986, 3.47817516, -1.32033682, 2.76270771, -1.87402058,
    0.659705877, 0.305235624, -1.49640501, 1.34010935, 2.87244201, 1.20878887, 8.36136055,
    7.9685564, -0.0269242525, 7.5468154, 2.20336938, 3.00288677, -1.73523915, -3.26262164,
    -0.588503957, -1.37086487, 1.56964016, 1.70483255, 1.48547757, 4.02010918, 0.414881468,
    3.59892511, 1.10817647, 3.44570208, -1.25339901, -1.23085403, 4.8075676, -1.1934849,
    -3.89792061,
];
pub const CONV2D_1_GB: [f32; 3] = [
    1.32094216, 4.90788794, -0.720349789,
];
// conv1d/0: attrs {"stride": 1, "padding": 1, "dilation": 1, "groups": 1}
// input shapes [[2, 3, 9], [4, 3, 3], [4]] -> [2, 4, 9]; rtol 0.0001, atol 0.0001
pub const CONV1D_0_X: [f32; 54] = [
    -1.93957102, 0.139142498, -1.14668202, 1.61114037, -0.742159903, 0.198122874, -0.747045815,
    0.737298429, 0.578625262, -0.317005157, -0.459981501, -1.52970171, 0.786863625,
    -0.234012008, -0.00942986645, -2.06888628, 0.969890356, -0.916831911, 2.78330517,
    0.0825875029, -0.162521705, 0.784505248, 1.08717024, 0.991214514, -0.81477952, 2.08119154,
    -0.224403605, -0.24844265, -1.54639208, 1.15288949, -0.18036969, -1.17691994, -0.526064992,
    0.0257499013, 0.185786173, 1.11323881, -0.548484862, -1.3928057, -0.543364108, 1.17753196,
    0.774684966, 1.08489454, -0.128724054, 0.519459367, -0.203616187, 0.0463545285, -0.57940191,
    1.7777102, 0.96927911, 1.38523924, 0.610550404, -1.24048662, -0.235782743, 1.02066183,
];
pub const CONV1D_0_W: [f32; 36] = [
    -0.0844196752, -0.130002126, 0.364379406, -0.356659055, -0.831578314, -1.09584796,
    -0.432430953, 0.379040658, 1.29561245, 0.486141086, 0.414435774, -0.926115751, -0.126929998,
    0.565852225, 1.31019104, -0.00233784411, 0.356850892, -0.22960031, -0.152687952,
    0.758349359, -0.219708681, 1.66150367, 0.989049494, -1.45782852, -0.730170488, -2.10231686,
    1.01459336, 2.022192, 1.67963433, 0.990213752, 1.18032753, -0.0248102266, -0.0547348484,
    -0.345880449, -0.164277285, 0.959089518,
];
pub const CONV1D_0_B: [f32; 4] = [
    1.3590647, -0.811320424, 1.62074161, -1.43602693,
];
pub const CONV1D_0_OUT: [f32; 72] = [
    3.5915854, 1.87593222, 3.57639527, 2.89986253, 2.67308521, 2.33218813, 4.32801628,
    3.32362652, 0.653067291, -1.55178905, -2.79856563, -2.72557569, 0.349800259, -0.605248511,
    -2.54617596, -2.37709069, -0.998504698, -0.939930022, -5.29125834, 1.1519326, -1.9710716,
    1.33090949, 0.00534933805, 0.962045968, 0.48687771, -2.9828763, 1.60379195, -4.90099955,
    -7.67112494, -1.28278863, -2.6258409, 2.20743489, -4.82682562, 0.214104474, -3.82648563,
    1.51136696, 2.0771904, 6.01401663, 3.11240602, 0.615382493, -0.0205094405, -1.47600567,
    -0.421016604, 3.34488726, 1.67154229, -1.46777618, -4.68613291, 0.907058775, 2.53830338,
    1.16262126, -0.778977931, -1.14836395, -2.02487731, -0.0760124847, 2.57477498, 1.72383142,
    -4.12825012, -1.23132527, -0.988058627, 0.390037894, 4.52059984, 4.54685926, 1.12470245,
    -3.85804892, -2.19315386, -3.66224623, -0.73152256, -2.96445465, -5.54873705, -1.25085151,
    1.32346189, 1.34156764,
];
pub const CONV1D_0_GOUT: [f32; 72] = [
    0.141221017, 0.325243145, 0.796686709, -1.03215873, 0.466683924, -0.508620262, 0.514193535,
    -0.714129567, -2.20230937, -1.54986477, -0.0582164153, 1.33979392, -0.282906681,
    0.139178619, 1.07092237, 0.648270547, -1.24133515, -1.58839738, -0.0948932692, 0.0590324365,
    1.93782318, -1.70015836, -1.13829577, 0.179124311, -0.375037014, -0.763639629, 2.20111465,
    0.490068078, 1.46033072, 0.22981827, -0.428771615, -0.0787958056, -1.75284088, -0.906681657,
    0.873193026, -2.06086731, 1.70744395, -1.08862293, -1.81048167, -0.494508892, -0.86671263,
    -0.106998213, -0.979314983, 1.41173327, 0.425590485, 0.604245007, 0.431170911, -0.380048037,
    -0.130832791, 0.588031948, 1.6398164, -1.55905783, -1.29581952, 1.00132179, -2.86717129,
    -0.0718042403, 0.140315384, 1.10651958, -0.332918495, -0.459645659, -1.48188877,
    -0.0509520024, 1.79036283, 1.02186346, -0.289575547, -0.759497046, 1.51640916, -2.25189424,
    2.00682497, -1.15426803, -0.592699051, 0.0981020555,
];
pub const CONV1D_0_GX: [f32; 54] = [
    2.97879171, 5.17703962, 3.254879, -3.098526, -4.17206621, -3.58959723, -3.21846843,
    -5.85231829, -0.242441297, 0.612696111, 0.681642234, -1.51903474, -5.09632063, 0.103390828,
    0.625297904, 1.5602175, 2.20849824, 3.38238955, -1.0692662, -1.19101524, 0.400356382,
    6.71989202, -0.083039321, -0.193470091, -0.473341167, 0.0772493854, -6.26801014,
    -0.70261389, -0.105445482, 0.717301667, -1.83831537, 2.45556617, -2.08457446, -4.99072886,
    -1.10921204, 3.02093339, -4.06664515, 4.16055393, 7.147861, -0.259572774, 0.88947773,
    -0.436121404, 0.197859824, 2.1227355, -1.15708375, 7.34498358, 1.02829158, -3.97039485,
    -4.25858688, 2.60147643, -0.665821612, 2.95546794, -4.77182007, -1.75495434,
];
pub const CONV1D_0_GW: [f32; 36] = [
    4.21747303, -4.38890839, 0.990583062, 2.19304419, -1.10052085, -3.51702976, -5.85830688,
    -4.86458015, -2.51999927, -0.795588851, -3.15620685, -1.00719535, 2.03757548, -2.20679927,
    -0.271580696, 2.88486481, -2.24758101, -1.24525785, 5.04528141, 0.466700554, 6.07994747,
    2.29481006, -4.07476473, 5.8459754, 4.39312887, -0.579092503, 1.63775349, -1.83709896,
    -1.25305486, -2.98695755, -5.19069719, 5.42570114, -4.3967123, 0.013474226, 2.41867161,
    -5.15511608,
];
pub const CONV1D_0_GB: [f32; 4] = [
    -4.01506138, -0.623727322, -1.92211223, -2.57928157,
];
}
