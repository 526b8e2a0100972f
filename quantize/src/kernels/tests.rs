//! Every path this CPU runs (portable, AVX2 bytes, AVX2 i16), on odd
//! sizes and 1–3 threads, against scalar references, bit for bit.

use super::conv::{conv2d, ConvShape};
use super::*;

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

/// Runs `f` on 1, 2 and 3 threads.
fn on_threads(mut f: impl FnMut()) {
    for t in [1, 2, 3] {
        torchlet_tensor::set_num_threads(t);
        f();
    }
    torchlet_tensor::set_num_threads(torchlet_tensor::get_num_threads().max(1));
}

/// Bytes below `amax + 1`, with rare values above 127 (the byte path's
/// clipped excess) when `rare`.
fn activations(s: &mut u64, len: usize, amax: u64, rare: bool) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if rare && i % 251 == 7 {
                128 + (i % 128) as u8
            } else {
                (lcg(s) % (amax + 1)) as u8
            }
        })
        .collect()
}

fn reference_sums(
    a: &[u8],
    m: usize,
    k: usize,
    az: i32,
    w: &[i8],
    n: usize,
    wz: &[i32],
) -> Vec<i32> {
    let mut out = vec![0; m * n];
    for i in 0..m {
        for j in 0..n {
            let z = wz[if wz.len() == 1 { 0 } else { j }];
            out[i * n + j] = (0..k)
                .map(|t| (a[i * k + t] as i32 - az) * (w[j * k + t] as i32 - z))
                .sum();
        }
    }
    out
}

#[test]
fn qgemm_matches_a_scalar_reference_with_extreme_values() {
    let mut s = 7u64;
    for (m, n, k) in [
        (1, 1, 1),
        (4, 3, 0),
        (3, 5, 17),
        (8, 9, 33),
        (5, 4, 64),
        (2, 300, 40),
        (13, 17, 6),
        (70, 40, 300),
    ] {
        let mut a: Vec<u8> = (0..m * k).map(|_| lcg(&mut s) as u8).collect();
        let mut w: Vec<i8> = (0..n * k).map(|_| lcg(&mut s) as i8).collect();
        // The pair that saturates vpmaddubsw: 211·71 + 171·107.
        if k >= 2 {
            a[0] = 211;
            a[1] = 171;
            w[0] = 71;
            w[1] = 107;
        }
        let zp = 37;
        let packed = PackedWeight::new(&w, n, k);
        let want = reference_sums(&a, m, k, zp, &w, n, &[0]);
        on_threads(|| {
            let mut out = vec![0i32; m * n];
            qgemm(&a, m, zp, &packed, &mut out);
            assert_eq!(out, want, "m={m} n={n} k={k}");
        });
        assert_eq!(packed.unpack(), w);
    }
}

#[test]
fn every_linear_path_gives_the_same_bits() {
    let mut s = 11u64;
    let cases = [
        (1, 1, 1, 127, 0),
        (7, 13, 45, 127, 5),
        (6, 16, 64, 127, 0),
        (37, 33, 130, 255, 100),
        (50, 10, 84, 127, 127),
        (3, 70, 3, 255, 200),
        (19, 130, 257, 127, 60),
    ];
    let cases = cases.into_iter().flat_map(|c| [(c, false), (c, true)]);
    for ((m, n, k, amax, az), rare) in cases {
        let a = activations(&mut s, m * k, amax, rare);
        let mut w: Vec<i8> = (0..n * k).map(|_| lcg(&mut s) as i8).collect();
        w[0] = -128; // 127 · -128 twice still fits an i16
        for wz in [vec![0], (0..n as i32).map(|j| j % 5 - 2).collect()] {
            let packed = PackedWeight::with_zero_points(&w, n, k, &wz);
            let sums = reference_sums(&a, m, k, az, &w, n, &wz);
            let scales: Vec<f32> = (0..n).map(|j| 0.002 + 0.0001 * j as f32).collect();
            let bias: Vec<f32> = (0..n).map(|j| (j as f32 - 3.0) * 0.37).collect();
            let mult: Vec<f32> = scales.iter().map(|&w| 0.011 * w).collect();
            let want_u8: Vec<u8> = sums
                .iter()
                .enumerate()
                .map(|(e, &v)| requant_one(v, mult[e % n], bias[e % n], 0.013, 70, 70))
                .collect();
            let want_f32: Vec<u32> = sums
                .iter()
                .enumerate()
                .map(|(e, &v)| (v as f32 * 0.011 * scales[e % n] + bias[e % n]).to_bits())
                .collect();
            for isa in Isa::all() {
                on_threads(|| {
                    let mut raw = vec![0i32; m * n];
                    linear(isa, &a, m, az, &packed, Epilogue::Raw { out: &mut raw });
                    assert_eq!(raw, sums, "{isa:?} m={m} n={n} k={k}");
                    let mut q = vec![0u8; m * n];
                    let epi = Epilogue::Requant {
                        out: &mut q,
                        mult: &mult,
                        bias: &bias,
                        scale: 0.013,
                        zero_point: 70,
                        relu: true,
                    };
                    linear(isa, &a, m, az, &packed, epi);
                    assert_eq!(q, want_u8, "{isa:?} m={m} n={n} k={k}");
                    let mut f = vec![0f32; m * n];
                    let epi = Epilogue::Float {
                        out: &mut f,
                        a_scale: 0.011,
                        w_scale: &scales,
                        bias: &bias,
                    };
                    linear(isa, &a, m, az, &packed, epi);
                    let bits: Vec<u32> = f.iter().map(|v| v.to_bits()).collect();
                    assert_eq!(bits, want_f32, "{isa:?} m={m} n={n} k={k}");
                });
            }
        }
    }
}

#[test]
fn every_conv_path_gives_the_same_bits() {
    let mut s = 5u64;
    // (nb, c, h, w, o, kh, kw, stride, padding, dilation, activation max)
    let cases = [
        (2, 1, 28, 28, 6, 5, 5, [1, 1], [2, 2], [1, 1], 127),
        (3, 6, 14, 14, 16, 5, 5, [1, 1], [0, 0], [1, 1], 127),
        (1, 3, 11, 9, 5, 3, 2, [2, 1], [1, 0], [1, 1], 255),
        (2, 4, 13, 13, 20, 3, 3, [1, 1], [1, 1], [2, 2], 127),
        (1, 2, 7, 40, 3, 1, 1, [1, 1], [0, 0], [1, 1], 255),
        (1, 17, 9, 10, 33, 3, 3, [3, 2], [2, 1], [1, 1], 127),
        (4, 3, 6, 6, 1, 6, 6, [1, 1], [0, 0], [1, 1], 127),
        (1, 1, 3, 50, 7, 2, 3, [1, 1], [3, 3], [1, 1], 127),
    ];
    let cases = cases.into_iter().flat_map(|c| [(c, false), (c, true)]);
    for ((nb, c, h, w_, o, kh, kw, stride, padding, dilation, amax), rare) in cases {
        let span = |size: usize, k: usize, d: usize, p: usize, st: usize| {
            (size + 2 * p - d * (k - 1) - 1) / st + 1
        };
        let shape = ConvShape {
            nb,
            c,
            h,
            w: w_,
            kh,
            kw,
            stride,
            padding,
            dilation,
            oh: span(h, kh, dilation[0], padding[0], stride[0]),
            ow: span(w_, kw, dilation[1], padding[1], stride[1]),
        };
        let k = c * kh * kw;
        let x = activations(&mut s, nb * c * h * w_, amax, rare);
        let w: Vec<i8> = (0..o * k).map(|_| lcg(&mut s) as i8).collect();
        for (az, wz) in [(9, vec![0]), (120, vec![0]), (200, vec![0]), (3, vec![-3])] {
            let packed = PackedWeight::with_zero_points(&w, o, k, &wz);
            let mult: Vec<f32> = (0..o).map(|j| 0.0003 * (j + 1) as f32).collect();
            let bias: Vec<f32> = (0..o).map(|j| 0.1 * j as f32 - 0.5).collect();
            let run = |isa: Isa| {
                let mut q = vec![0u8; nb * o * shape.oh * shape.ow];
                let epi = Epilogue::Requant {
                    out: &mut q,
                    mult: &mult,
                    bias: &bias,
                    scale: 0.05,
                    zero_point: 64,
                    relu: false,
                };
                conv2d(isa, &x, az, &shape, &packed, epi);
                q
            };
            torchlet_tensor::set_num_threads(1);
            let want = run(Isa::Portable);
            for isa in Isa::all() {
                on_threads(|| assert_eq!(run(isa), want, "{isa:?} {shape:?} zp {az} {wz:?}"));
            }
        }
    }
}

#[test]
fn conv_sums_match_a_direct_convolution() {
    // The portable conv (the reference above) against the definition.
    let mut s = 3u64;
    let shape = ConvShape {
        nb: 2,
        c: 2,
        h: 5,
        w: 6,
        kh: 3,
        kw: 2,
        stride: [2, 1],
        padding: [1, 1],
        dilation: [1, 2],
        oh: 3,
        ow: 6,
    };
    let x: Vec<u8> = (0..2 * 2 * 5 * 6).map(|_| lcg(&mut s) as u8).collect();
    let w: Vec<i8> = (0..4 * 12).map(|_| lcg(&mut s) as i8).collect();
    let packed = PackedWeight::new(&w, 4, 12);
    let mut got = vec![0u8; 2 * 4 * 18];
    let epi = Epilogue::Requant {
        out: &mut got,
        mult: &[1.0],
        bias: &[],
        scale: 64.0,
        zero_point: 128,
        relu: false,
    };
    conv2d(Isa::Portable, &x, 100, &shape, &packed, epi);
    for b in 0..2 {
        for o in 0..4 {
            for oy in 0..3 {
                for ox in 0..6 {
                    let mut acc = 0i32;
                    for c in 0..2 {
                        for ky in 0..3 {
                            for kx in 0..2 {
                                let iy = (oy * 2 + ky) as isize - 1;
                                let ix = (ox + kx * 2) as isize - 1;
                                if (0..5).contains(&iy) && (0..6).contains(&ix) {
                                    let v = x[((b * 2 + c) * 5 + iy as usize) * 6 + ix as usize];
                                    acc +=
                                        (v as i32 - 100) * w[o * 12 + (c * 3 + ky) * 2 + kx] as i32;
                                }
                            }
                        }
                    }
                    let want = requant_one(acc, 1.0, 0.0, 64.0, 128, 0);
                    assert_eq!(got[((b * 4 + o) * 3 + oy) * 6 + ox], want);
                }
            }
        }
    }
}

#[test]
fn requantize_rounds_half_to_even_and_clamps() {
    // 5 * 0.5 = 2.5 -> 2; -3 * 0.5 + 0.0 = -1.5 -> -2 + 10 = 8.
    let q = requantize(&[5, -3, 1000], 3, 0.5, &[1.0], None, 1.0, 10, false);
    assert_eq!(q, [12, 8, 255]);
    let q = requantize(&[-3], 1, 0.5, &[1.0], None, 1.0, 10, true);
    assert_eq!(q, [10]);
    // NaN and infinite reals: NaN is 0 (the zero point), infinities clamp.
    assert_eq!(requant_one(1, f32::NAN, 0.0, 1.0, 10, 0), 10);
    assert_eq!(requant_one(1, 1.0, f32::INFINITY, 1.0, 10, 0), 255);
    assert_eq!(requant_one(1, 1.0, f32::NEG_INFINITY, 1.0, 10, 0), 0);
}

#[test]
fn vector_requantization_equals_the_scalar_form() {
    let mut s = 17u64;
    let n = 37;
    let acc: Vec<i32> = (0..n * 45)
        .map(|i| match i % 11 {
            0 => i32::MAX - (i as i32),
            1 => i32::MIN + (i as i32),
            _ => (lcg(&mut s) as i32) % 100_000 - 50_000,
        })
        .collect();
    let mut ws: Vec<f32> = (0..n).map(|j| 0.0001 * (j + 1) as f32).collect();
    ws[3] = f32::NAN;
    let mut bias: Vec<f32> = (0..n).map(|j| (j as f32 - 10.0) * 0.25).collect();
    bias[5] = f32::INFINITY;
    bias[6] = f32::NEG_INFINITY;
    for relu in [false, true] {
        let want: Vec<u8> = acc
            .iter()
            .enumerate()
            .map(|(e, &v)| {
                let lo = if relu { 30 } else { 0 };
                requant_one(v, 0.7 * ws[e % n], bias[e % n], 0.02, 30, lo)
            })
            .collect();
        for isa in Isa::all() {
            let mut out = vec![0u8; acc.len()];
            let epi = Epilogue::Requant {
                out: &mut out,
                mult: &ws.iter().map(|&w| 0.7 * w).collect::<Vec<_>>(),
                bias: &bias,
                scale: 0.02,
                zero_point: 30,
                relu,
            };
            elementwise::requantize_rows(isa, &acc, n, epi);
            assert_eq!(out, want, "{isa:?}");
        }
    }
}

#[test]
fn vector_quantization_equals_quantize_value() {
    let mut s = 23u64;
    let mut x: Vec<f32> = (0..100_037)
        .map(|_| ((lcg(&mut s) % 40001) as f32 - 20000.0) / 128.0)
        .collect();
    let specials = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        1e30,
        -1e30,
        -0.0,
    ];
    x[..specials.len()].copy_from_slice(&specials);
    for (inv, zp) in [(2.0f32, 10i64), (0.37, 0), (1.0 / 0.05, 128), (7.0, 255)] {
        let want: Vec<i64> = x
            .iter()
            .map(|&v| crate::qtensor::quantize_value(v, inv, zp, 0, 255))
            .collect();
        for isa in Isa::all() {
            let mut out = vec![0u8; x.len()];
            quantize_into(isa, &x, inv, zp, (0, 255), QuantOut::U8(&mut out));
            assert!(
                out.iter().zip(&want).all(|(&a, &b)| a as i64 == b),
                "{isa:?} u8"
            );
            let want8: Vec<i64> = x
                .iter()
                .map(|&v| crate::qtensor::quantize_value(v, inv, zp - 128, -128, 127))
                .collect();
            let mut out = vec![0i8; x.len()];
            quantize_into(isa, &x, inv, zp - 128, (-128, 127), QuantOut::I8(&mut out));
            assert!(
                out.iter().zip(&want8).all(|(&a, &b)| a as i64 == b),
                "{isa:?} i8"
            );
            let mut back = vec![0f32; x.len()];
            let bytes: Vec<u8> = out.iter().map(|&v| v as u8).collect();
            dequantize_into(isa, &bytes, true, 0.3, -5, &mut back);
            let ok = back
                .iter()
                .zip(&out)
                .all(|(&f, &q)| f.to_bits() == (0.3f32 * (q as i64 + 5) as f32).to_bits());
            assert!(ok, "{isa:?} dequantize");
        }
    }
}

#[test]
fn max_pooling_matches_the_window_definition() {
    let mut s = 29u64;
    for (h, w, kernel, stride, padding) in [
        (28, 28, [2, 2], [2, 2], [0, 0]),
        (9, 11, [2, 2], [2, 2], [0, 0]),
        (6, 5, [2, 2], [2, 2], [0, 0]),
        (4, 16, [2, 2], [2, 2], [0, 0]),
        (10, 10, [2, 2], [2, 2], [0, 0]),
        (7, 6, [3, 2], [2, 2], [1, 1]),
        (5, 600, [3, 3], [1, 3], [1, 1]),
    ] {
        let planes = 5;
        let x: Vec<u8> = (0..planes * h * w).map(|_| lcg(&mut s) as u8).collect();
        let oh = (h + 2 * padding[0] - kernel[0]) / stride[0] + 1;
        let ow = (w + 2 * padding[1] - kernel[1]) / stride[1] + 1;
        let mut want = Vec::new();
        for p in 0..planes {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut m = 0u8;
                    for ky in 0..kernel[0] {
                        for kx in 0..kernel[1] {
                            let iy = (oy * stride[0] + ky) as isize - padding[0] as isize;
                            let ix = (ox * stride[1] + kx) as isize - padding[1] as isize;
                            if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                                m = m.max(x[(p * h + iy as usize) * w + ix as usize]);
                            }
                        }
                    }
                    want.push(m);
                }
            }
        }
        for isa in Isa::all() {
            let mut out = vec![0u8; planes * oh * ow];
            max_pool2d_into(isa, &x, (h, w), kernel, stride, padding, (oh, ow), &mut out);
            assert_eq!(out, want, "{isa:?} {h}x{w} {kernel:?}");
        }
    }
}

#[test]
fn kernel_override_names_only_kinds_the_cpu_runs() {
    let best = Isa::best();
    assert_eq!(Isa::named("portable", best), Ok(Isa::Portable));
    let err = Isa::named("sse9", best).unwrap_err();
    assert!(err.contains("not one of"), "{err}");
    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(Isa::named(" AVX2 ", best).is_ok(), best.avx2());
        let vnni = std::is_x86_feature_detected!("avxvnni");
        match Isa::named("avx-vnni", best) {
            Ok(isa) => assert!(vnni && isa == Isa::AvxVnni),
            Err(e) => assert!(!vnni && e.contains("does not run AvxVnni"), "{e}"),
        }
    }
}
