//! The float functions of the LSTM cell: glibc 2.36's x86-64 `expf` (its
//! FMA build, from ARM's optimized-routines) and fdlibm's `tanhf` /
//! `expm1f` as glibc ships them, ported operation for operation, with
//! AVX2 versions 8 lanes wide.
//!
//! The dynamic LSTM used to call `f32::exp` / `f32::tanh` (the platform's
//! libm) one unit at a time, which was most of its time. Any faster
//! approximation would change the outputs' bits; these ports give
//! exactly what glibc 2.36 gives, for every one of the 2^32 inputs, on
//! every platform (checked exhaustively: the ignored tests
//! `ports_equal_libm_on_every_input`, against the libm it runs on, and
//! `vectors_equal_scalars_on_every_input`).

use super::Isa;

/// Logistic function as the LSTM cell computes it: `1 / (1 + exp(-x))`.
#[inline]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + expf(-x))
}

/// One row of PyTorch's LSTM cell, in place: for each unit `u`, with
/// gates `g(k) = gh[k h + u] + gx[k h + u]` (input, forget, cell,
/// output), `c = σ(g1) c + σ(g0) tanh(g2)` and `h = σ(g3) tanh(c)`.
pub(crate) fn lstm_row(isa: Isa, gx: &[f32], gh: &[f32], hs: &mut [f32], cs: &mut [f32]) {
    let h = hs.len();
    assert!(cs.len() == h && gx.len() == 4 * h && gh.len() == 4 * h);
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if isa.avx2() {
        // SAFETY: AVX2 and FMA are present (`isa`); lengths are checked.
        done = unsafe { super::avx2::lstm_units(gx, gh, hs, cs) };
    }
    let _ = isa;
    for u in done..h {
        let g = |k: usize| gh[k * h + u] + gx[k * h + u];
        let (ig, fg) = (sigmoid(g(0)), sigmoid(g(1)));
        let (cg, og) = (tanhf(g(2)), sigmoid(g(3)));
        let c = fg * cs[u] + ig * cg;
        cs[u] = c;
        hs[u] = og * tanhf(c);
    }
}

const INV_LN2_N: f64 = f64::from_bits(0x40471547652b82fe);
const C0: f64 = f64::from_bits(0x3ebc6af84b912394);
const C1: f64 = f64::from_bits(0x3f2ebfce50fac4f3);
const C2: f64 = f64::from_bits(0x3f962e42ff0c52d6);
const SHIFT: f64 = f64::from_bits(0x4338000000000000);
pub(super) const TABLE: [u64; 32] = [
    0x3ff0000000000000,
    0x3fefd9b0d3158574,
    0x3fefb5586cf9890f,
    0x3fef9301d0125b51,
    0x3fef72b83c7d517b,
    0x3fef54873168b9aa,
    0x3fef387a6e756238,
    0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715,
    0x3feef1a7373aa9cb,
    0x3feedea64c123422,
    0x3feece086061892d,
    0x3feebfdad5362a27,
    0x3feeb42b569d4f82,
    0x3feeab07dd485429,
    0x3feea47eb03a5585,
    0x3feea09e667f3bcd,
    0x3fee9f75e8ec5f74,
    0x3feea11473eb0187,
    0x3feea589994cce13,
    0x3feeace5422aa0db,
    0x3feeb737b0cdc5e5,
    0x3feec49182a3f090,
    0x3feed503b23e255d,
    0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47,
    0x3fef199bdd85529c,
    0x3fef3720dcef9069,
    0x3fef5818dcfba487,
    0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da,
    0x3fefd0765b6e4540,
];

pub(crate) fn expf(x: f32) -> f32 {
    let bits = x.to_bits();
    if (bits >> 20) & 0x7ff > 0x42a {
        if bits == 0xff80_0000 {
            return 0.0;
        }
        if (bits >> 20) & 0x7ff > 0x7f7 {
            return x + x;
        }
        if x > f32::from_bits(0x42b1_7217) {
            return f32::INFINITY;
        }
        if x < f32::from_bits(0xc2cf_f1b4) {
            return 0.0;
        }
        if x < f32::from_bits(0xc2ce_8ecf) {
            return f32::from_bits(1);
        }
    }
    let xd = x as f64;
    let z = INV_LN2_N.mul_add(xd, SHIFT);
    let ki = z.to_bits();
    let kd = z - SHIFT;
    let r = INV_LN2_N.mul_add(xd, -kd);
    let s = f64::from_bits(TABLE[(ki & 31) as usize].wrapping_add(ki << 47));
    let p = C0.mul_add(r, C1);
    let y = C2.mul_add(r, 1.0);
    let y = p.mul_add(r * r, y);
    (y * s) as f32
}

const LN2_HI: f32 = f32::from_bits(0x3f317180);
const LN2_LO: f32 = f32::from_bits(0x3717f7d1);
const INV_LN2: f32 = f32::from_bits(0x3fb8aa3b);
const Q1: f32 = f32::from_bits(0xbd088889);
const Q2: f32 = f32::from_bits(0x3ad00d01);
const Q3: f32 = f32::from_bits(0xb8a670cd);
const Q4: f32 = f32::from_bits(0x36867e54);
const Q5: f32 = f32::from_bits(0xb457edbb);
const TINY: f32 = f32::from_bits(0x0da24260);

pub(super) fn expm1f(x: f32) -> f32 {
    let bits = x.to_bits();
    let neg = bits >> 31 != 0;
    let hx = bits & 0x7fff_ffff;
    if hx >= 0x4195_b844 {
        if hx >= 0x42b1_7218 {
            if hx > 0x7f80_0000 {
                return x + x;
            }
            if hx == 0x7f80_0000 {
                return if neg { -1.0 } else { x };
            }
            if x > f32::from_bits(0x42b1_7180) {
                return f32::INFINITY;
            }
        }
        if neg {
            return TINY - 1.0;
        }
    }
    let (x, c, k) = if hx > 0x3eb1_7218 {
        let (hi, lo, k) = if hx < 0x3f85_1592 {
            if neg {
                (x + LN2_HI, -LN2_LO, -1)
            } else {
                (x - LN2_HI, LN2_LO, 1)
            }
        } else {
            let k = (INV_LN2 * x + if neg { -0.5 } else { 0.5 }) as i32;
            let t = k as f32;
            (x - t * LN2_HI, t * LN2_LO, k)
        };
        let r = hi - lo;
        (r, (hi - r) - lo, k)
    } else if hx < 0x3300_0000 {
        return x;
    } else {
        (x, 0.0, 0)
    };
    let hfx = 0.5 * x;
    let hxs = x * hfx;
    let r1 = 1.0 + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))));
    let t = 3.0 - r1 * hfx;
    let e = hxs * ((r1 - t) / (6.0 - x * t));
    if k == 0 {
        return x - (x * e - hxs);
    }
    let e = x * (e - c) - c - hxs;
    if k == -1 {
        return 0.5 * (x - e) - 0.5;
    }
    if k == 1 {
        return if x < -0.25 {
            -2.0 * (e - (x + 0.5))
        } else {
            1.0 + 2.0 * (x - e)
        };
    }
    let scale = |y: f32| f32::from_bits(y.to_bits().wrapping_add((k << 23) as u32));
    if k <= -2 || k > 56 {
        return scale(1.0 - (e - x)) - 1.0;
    }
    if k < 23 {
        let t = f32::from_bits(0x3f80_0000 - (0x0100_0000 >> k));
        scale(t - (e - x))
    } else {
        let t = f32::from_bits(((0x7f - k) << 23) as u32);
        scale(x - (e + t) + 1.0)
    }
}

pub(crate) fn tanhf(x: f32) -> f32 {
    let bits = x.to_bits();
    let ix = bits & 0x7fff_ffff;
    let neg = bits >> 31 != 0;
    if ix >= 0x7f80_0000 {
        return if neg { 1.0 / x - 1.0 } else { 1.0 / x + 1.0 };
    }
    let z = if ix < 0x41b0_0000 {
        if ix == 0 {
            return x;
        }
        if ix < 0x2400_0000 {
            return x * (1.0 + x);
        }
        let a = x.abs();
        if ix >= 0x3f80_0000 {
            let t = expm1f(a + a);
            1.0 - 2.0 / (t + 2.0)
        } else {
            let t = expm1f(-2.0 * a);
            -t / (t + 2.0)
        }
    } else {
        1.0 - TINY
    };
    if neg {
        -z
    } else {
        z
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs and glibc 2.36's `expf` / `tanhf` of them, as bits (every
    /// path of both, the special values and a random sample).
    const KNOWN: [(u32, u32, u32); 71] = [
        (0x00000000, 0x3f800000, 0x00000000),
        (0x80000000, 0x3f800000, 0x80000000),
        (0x000116c2, 0x3f800000, 0x000116c2),
        (0x800116c2, 0x3f800000, 0x800116c2),
        (0x1e3ce508, 0x3f800000, 0x1e3ce508),
        (0xa40a59c0, 0x3f800000, 0xa40a59c0),
        (0x32e7eda1, 0x3f800000, 0x32e7eda1),
        (0x3727c5ac, 0x3f800054, 0x3727c5ac),
        (0xbc23d70a, 0x3f7d73e8, 0xbc23d5a4),
        (0x3e4ccccd, 0x3f9c56ed, 0x3e4a1cc2),
        (0x3e800000, 0x3fa45af2, 0x3e7acbf5),
        (0xbeb16873, 0x3f35085c, 0xbeaaa218),
        (0x3eb1758e, 0x3fb5062c, 0x3eaaadbf),
        (0x3f000000, 0x3fd3094c, 0x3eec9a9f),
        (0xbf400000, 0x3ef1da07, 0xbf22991f),
        (0x3f800000, 0x402df854, 0x3f42f7d6),
        (0xbf800000, 0x3ebc5ab2, 0xbf42f7d6),
        (0x3f8514e4, 0x403503fd, 0x3f471be8),
        (0xbf85182b, 0x3eb50147, 0xbf471e7f),
        (0x3fc00000, 0x408f69ff, 0x3f67b7cc),
        (0x40000000, 0x40ec7326, 0x3f76ca83),
        (0xc0200000, 0x3da81c2e, 0xbf7c92c1),
        (0x40533333, 0x41d8e6af, 0x3f7f4df0),
        (0xc0980000, 0x3c0dbfd7, 0xbf7ff631),
        (0x40e00000, 0x44891443, 0x3f7fffe4),
        (0x4114cccd, 0x462ae816, 0x3f800000),
        (0xc1300000, 0x378c1aa1, 0xbf800000),
        (0x41780000, 0x4aa47b05, 0x3f800000),
        (0xc195999a, 0x3201ee55, 0xbf800000),
        (0x41af3333, 0x4f4157e1, 0x3f800000),
        (0x41b00000, 0x4f55ad6e, 0x3f800000),
        (0xc1b40000, 0x2f3a06b1, 0xbf800000),
        (0x41f00000, 0x551b8238, 0x3f800000),
        (0x422f999a, 0x5f21612e, 0x3f800000),
        (0x42700000, 0x6abcede5, 0x3f800000),
        (0xc2a00000, 0x05bfecba, 0xbf800000),
        (0x42ae999a, 0x7e76d06e, 0x3f800000),
        (0xc2aecccd, 0x00782140, 0xbf800000),
        (0x42b170a4, 0x7f7f4648, 0x3f800000),
        (0x42b17213, 0x7f7ffd84, 0x3f800000),
        (0x42b175c3, 0x7f800000, 0x3f800000),
        (0xc2ce0000, 0x00000001, 0xbf800000),
        (0xc2cf0000, 0x00000001, 0xbf800000),
        (0xc2d00000, 0x00000000, 0xbf800000),
        (0x43160000, 0x7f800000, 0x3f800000),
        (0xc3160000, 0x00000000, 0xbf800000),
        (0x7f7fc99e, 0x7f800000, 0x3f800000),
        (0xc1bb66fd, 0x2e937cf1, 0xbf800000),
        (0xc1613aea, 0x354eb193, 0xbf800000),
        (0x41b9197a, 0x50269a57, 0x3f800000),
        (0x41a1276a, 0x4e059ef8, 0x3f800000),
        (0xc12764ec, 0x37efe7dd, 0xbf800000),
        (0x40683695, 0x4216998a, 0x3f7fa399),
        (0x418d0e8d, 0x4c2d5ff2, 0x3f800000),
        (0xc0d054f0, 0x3ac306b3, 0xbf7fffb6),
        (0x4197493d, 0x4d1baeaa, 0x3f800000),
        (0xc195adda, 0x3200a710, 0xbf800000),
        (0x41eb329a, 0x54aaa3dc, 0x3f800000),
        (0x41e7de0e, 0x54611278, 0x3f800000),
        (0xc1a26956, 0x30d18f78, 0xbf800000),
        (0x419c886a, 0x4d95fb7b, 0x3f800000),
        (0xbfa952d6, 0x3e8862a5, 0xbf5e13bb),
        (0xc1209288, 0x3837bab7, 0xbf800000),
        (0x411a6e94, 0x4673033e, 0x3f800000),
        (0xc0f0cdee, 0x3a0d6374, 0xbf7ffff6),
        (0xc0e45caf, 0x3a509528, 0xbf7fffeb),
        (0xc103eef6, 0x39898bb4, 0xbf7ffffe),
        (0x7f800000, 0x7f800000, 0x3f800000),
        (0xff800000, 0x00000000, 0xbf800000),
        (0x7fc00001, 0x7fc00001, 0x7fc00001),
        (0xffc00000, 0xffc00000, 0xffc00000),
    ];

    /// Runs `check(bits..bits + 8)` over `0..2^32` on two threads.
    #[cfg(target_arch = "x86_64")]
    fn every_input(check: impl Fn(u32) -> usize + Sync) -> usize {
        let total = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for half in 0..2u64 {
                let (check, total) = (&check, &total);
                s.spawn(move || {
                    let bad: usize = ((half << 31)..((half + 1) << 31))
                        .step_by(8)
                        .map(|b| check(b as u32))
                        .sum();
                    total.fetch_add(bad, std::sync::atomic::Ordering::Relaxed);
                });
            }
        });
        total.into_inner()
    }

    /// Lanes of `f8` that differ from `f` on `x..x + 8`.
    #[cfg(target_arch = "x86_64")]
    fn lanes_differ(
        x: u32,
        f8: unsafe fn(std::arch::x86_64::__m256) -> std::arch::x86_64::__m256,
        f: fn(f32) -> f32,
    ) -> usize {
        use std::arch::x86_64::*;
        let xs: [f32; 8] = std::array::from_fn(|i| f32::from_bits(x.wrapping_add(i as u32)));
        let mut out = [0f32; 8];
        // SAFETY: callers check that AVX2 and FMA are present.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), f8(_mm256_loadu_ps(xs.as_ptr()))) };
        xs.iter()
            .zip(&out)
            .filter(|(&x, &o)| f(x).to_bits() != o.to_bits())
            .count()
    }

    /// Inputs spread over every exponent, both signs, and the specials.
    fn sample() -> impl Iterator<Item = u32> {
        (0..1u32 << 21).map(|i| i.wrapping_mul(2049) ^ (i << 11))
    }

    #[test]
    fn vector_lanes_equal_the_scalar_ports() {
        #[cfg(target_arch = "x86_64")]
        if Isa::detect().avx2() {
            use crate::kernels::avx2::gates::{expf8, expm1f8, tanhf8};
            for x in sample().step_by(8) {
                assert_eq!(lanes_differ(x, expf8, expf), 0, "expf near {x:#x}");
                assert_eq!(lanes_differ(x, tanhf8, tanhf), 0, "tanhf near {x:#x}");
                assert_eq!(lanes_differ(x, expm1f8, expm1f), 0, "expm1f near {x:#x}");
            }
        }
    }

    /// All 2^32 inputs, vector against scalar (a minute or two).
    #[test]
    #[ignore = "all 2^32 inputs take minutes: run with --ignored after changing the gate kernels"]
    fn vectors_equal_scalars_on_every_input() {
        #[cfg(target_arch = "x86_64")]
        if Isa::detect().avx2() {
            use crate::kernels::avx2::gates::{expf8, expm1f8, tanhf8};
            assert_eq!(every_input(|x| lanes_differ(x, expf8, expf)), 0);
            assert_eq!(every_input(|x| lanes_differ(x, expm1f8, expm1f)), 0);
            assert_eq!(every_input(|x| lanes_differ(x, tanhf8, tanhf)), 0);
        }
    }

    /// All 2^32 inputs against the platform's libm: passes where that is
    /// glibc 2.36 on x86-64 (where the ports come from; a few minutes).
    #[test]
    #[ignore = "all 2^32 inputs, and only equal where libm is glibc 2.36: run with --ignored"]
    fn ports_equal_libm_on_every_input() {
        #[cfg(target_arch = "x86_64")]
        {
            let libm = |f: fn(f32) -> f32, g: fn(f32) -> f32| {
                every_input(|x| {
                    (x..=x.wrapping_add(7))
                        .filter(|&b| {
                            let v = f32::from_bits(b);
                            f(v).to_bits() != g(v).to_bits()
                        })
                        .count()
                })
            };
            assert_eq!(libm(expf, f32::exp), 0);
            assert_eq!(libm(expm1f, f32::exp_m1), 0);
            assert_eq!(libm(tanhf, f32::tanh), 0);
        }
    }

    #[test]
    fn lstm_rows_agree_on_every_path() {
        let mut s = 5u32;
        let mut next = || {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 8) as f32 / (1u32 << 24) as f32 * 16.0 - 8.0
        };
        for h in [1, 7, 8, 13, 37] {
            let gx: Vec<f32> = (0..4 * h).map(|_| next()).collect();
            let gh: Vec<f32> = (0..4 * h).map(|_| next()).collect();
            let c0: Vec<f32> = (0..h).map(|_| next()).collect();
            let run = |isa| {
                let (mut hs, mut cs) = (vec![0.0; h], c0.clone());
                lstm_row(isa, &gx, &gh, &mut hs, &mut cs);
                (
                    hs.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    cs.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                )
            };
            let want = run(Isa::Portable);
            for isa in Isa::all() {
                assert_eq!(run(isa), want, "{isa:?} h={h}");
            }
        }
    }

    #[test]
    fn ports_give_glibc_bits() {
        for &(x, e, t) in &KNOWN {
            let x = f32::from_bits(x);
            assert_eq!(expf(x).to_bits(), e, "expf({x:e})");
            assert_eq!(tanhf(x).to_bits(), t, "tanhf({x:e})");
        }
    }
}
