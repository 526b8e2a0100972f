//! Tests of the conv kernels: against naive loops, PyTorch-computed values and finite differences.

use super::*;
use crate::dtype::DType;
use crate::error::TensorError;
use crate::random::Generator;

mod naive;

use naive::{naive_conv2d, naive_conv_transpose2d};

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
/// conformance/torch_ops.json (PyTorch 2.15, float32).
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

mod oracle;

mod epilogue;
