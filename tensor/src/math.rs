//! Scalar math written to vectorize: branch-free `exp`, `sigmoid` and
//! `tanh` for f32 (Cephes-style polynomials, within 2 ulp of libm), used by
//! the elementwise kernels. f64 kernels call the standard library.

// The polynomial coefficients are Cephes' published values, kept verbatim.
#![allow(clippy::excessive_precision)]

const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 * 2^23: adding it rounds an f32 to an integer held in the low mantissa bits.
const MAGIC: f32 = 12_582_912.0;

/// `e^x` for f32 without branches or libm calls, so loops over it vectorize.
///
/// Range reduction `x = n ln2 + r` with `n = round(x / ln2)` (rounded with
/// the 1.5·2^23 trick: saturating float-to-int casts would not vectorize),
/// a degree-6 polynomial for `e^r`, and `2^n` built from exponent bits in
/// two halves so `n = 128` does not overflow before the final product.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let out = exp_core(x);
    // Below -87.34 the result is subnormal: exp_core's two-step scaling
    // rounds it once, as libm does, and to 0 from its clamp at -104 on.
    let out = if x > EXP_OVERFLOW { f32::INFINITY } else { out };
    if x.is_nan() {
        x
    } else {
        out
    }
}

/// [`exp_f32`] without its edge fix-ups: NaN still gives NaN, but inputs
/// beyond ±88 saturate near `f32::MAX` / `1e-38` instead of reaching inf /
/// 0. Exact enough inside `1 / (1 + e^-x)`, and cheaper.
///
/// Uses `mul_add`: a single instruction in the AVX2+FMA build the kernels
/// run on x86-64 (and on aarch64); a slower libm call on pre-FMA CPUs.
#[inline(always)]
fn exp_core(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    let clamped = x.clamp(-104.0, 88.75);
    let shifted = clamped.mul_add(LOG2E, MAGIC);
    let n = shifted - MAGIC;
    let ni = shifted.to_bits() as i32 - MAGIC.to_bits() as i32;
    let y = exp_reduced(n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, clamped)));
    let half = ni >> 1;
    let p1 = f32::from_bits(((half + 127) as u32) << 23);
    let p2 = f32::from_bits(((ni - half + 127) as u32) << 23);
    y * p1 * p2
}

/// `e^r` for the reduced argument `|r| <= ln2 / 2`: Cephes' degree-6
/// polynomial, `1 + r + r² P(r)`.
#[inline(always)]
fn exp_reduced(r: f32) -> f32 {
    let mut p = 1.987_569_1e-4f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 5.000_000_1e-1);
    (p * r).mul_add(r, r) + 1.0
}

/// The largest f32 whose `e^x` is finite (`ln(f32::MAX)` rounded down).
const EXP_OVERFLOW: f32 = 88.722_83;

/// The logistic function `1 / (1 + e^-x)` for f32, vectorizable.
///
/// Computed as `0.5 / (0.5 + e^-x / 2)`, which rounds to the same bits as
/// `1 / (1 + e^-x)` (halving is exact), so that `e^-x / 2` stays finite up
/// to `x = -ln(f32::MAX)` and the subnormal results there are right.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    let s = 0.5 / (0.5 + half_exp_sigmoid(-x));
    // Where e^-x overflows f32, PyTorch's 1 / (1 + inf) is exactly 0.
    if x < -EXP_OVERFLOW {
        0.0
    } else {
        s
    }
}

/// `e^x / 2` for sigmoid: exact to f32 precision for `x` up to
/// `ln(f32::MAX)`; below -86 it returns about `1e-38` (where `0.5 + e^x / 2`
/// rounds to 0.5 anyway), and above `ln(f32::MAX)` a finite value (the
/// caller replaces that result).
#[inline(always)]
fn half_exp_sigmoid(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // -86 keeps the exponent of `y * 2^(n-1)` at 1 or above for n >= -124.
    let clamped = x.clamp(-86.0, EXP_OVERFLOW);
    // Rounding against MAGIC - 1 leaves n - 1 in the low bits of
    // `shifted`, and MAGIC's own bits vanish when shifted into the exponent
    // field, so 2^(n-1) costs a shift and an add (n <= 128: n - 1 fits).
    let shifted = clamped.mul_add(LOG2E, MAGIC - 1.0);
    let n = shifted - (MAGIC - 1.0);
    let y = exp_reduced(n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, clamped)));
    // A multiply rather than an integer add to y's exponent bits, so that
    // every NaN stays NaN (an add would turn some payloads into numbers).
    y * f32::from_bits((shifted.to_bits() << 23).wrapping_add(127 << 23))
}

/// `e^x` for `x <= 0` (or NaN), as softmax needs after subtracting the
/// row max: exact 0 where `e^x` underflows, no overflow handling.
#[inline(always)]
pub fn exp_nonpositive_f32(x: f32) -> f32 {
    let e = exp_saturating(x);
    if x < -87.33 {
        0.0
    } else {
        e
    }
}

/// `e^x` for `x` clamped to `[-87.5, 88]`, where `2^n` fits one exponent
/// field: one multiply cheaper than [`exp_core`]. Saturates beyond the
/// range, which is exact to f32 precision inside `1 / (1 + e^-x)`.
#[inline(always)]
fn exp_saturating(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    let clamped = x.clamp(-87.5, 88.0);
    let shifted = clamped.mul_add(LOG2E, MAGIC);
    let n = shifted - MAGIC;
    let y = exp_reduced(n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, clamped)));
    // The low bits of `shifted` hold n; adding them to the exponent of y
    // multiplies by 2^n in one integer add.
    let ni = shifted.to_bits().wrapping_sub(MAGIC.to_bits());
    f32::from_bits(y.to_bits().wrapping_add(ni << 23))
}

/// `tanh` for f32, vectorizable: a polynomial near 0 (where
/// `1 - 2/(e^2x + 1)` would cancel), the exponential form elsewhere.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3f32;
    p = p * z + 2.063_908_9e-2;
    p = p * z - 5.373_971_6e-2;
    p = p * z + 1.333_144_2e-1;
    p = p * z - 3.333_328_2e-1;
    let small = p * z * x + x;
    // 2|x| capped at 88 (a NaN becomes 44 and is handled below): no
    // edge fix-ups needed, and exp_saturating gives exp_f32's bits there.
    let e = exp_saturating(2.0 * a.min(44.0));
    let large = 1.0 - 2.0 / (e + 1.0);
    let large = if x < 0.0 { -large } else { large };
    let out = if a < 0.625 { small } else { large };
    if x.is_nan() {
        x
    } else {
        out
    }
}

/// The error function in f32, within about 1 ulp (2 ulp tested), and
/// vectorizable: both branches are computed and one is selected. Below
/// `|x| = 1`, `x + x·Q(x²)`; up to 3.92, `1 − e^(−x²)·G(1/|x|)`, with
/// `Q` and `G` least-squares fits of `erf(x)/x − 1` and `erfc(x)·e^(x²)`
/// (fitted in double precision for this crate); from 3.92 on, erf rounds
/// to ±1 in f32.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut q = 7.882_499_6e-5f32;
    q = q.mul_add(z, -8.018_858e-4);
    q = q.mul_add(z, 5.189_312_6e-3);
    q = q.mul_add(z, -2.685_432_9e-2);
    q = q.mul_add(z, 1.128_359_7e-1);
    q = q.mul_add(z, -3.761_262_6e-1);
    q = q.mul_add(z, 1.283_791_7e-1);
    let small = x.mul_add(q, x);
    let c = a.clamp(1.0, 3.92);
    let u = 1.0 / c;
    let mut g = 2.712_366_5e-2f32;
    g = g.mul_add(u, -1.595_278_8e-1);
    g = g.mul_add(u, 3.889_111_6e-1);
    g = g.mul_add(u, -4.682_684_2e-1);
    g = g.mul_add(u, 1.783_836_5e-1);
    g = g.mul_add(u, 2.643_722_3e-1);
    g = g.mul_add(u, -3.883_510_5e-1);
    g = g.mul_add(u, 2.340_322_9e-2);
    g = g.mul_add(u, 5.613_95e-1);
    g = g.mul_add(u, 1.420_117_8e-4);
    // -c² lies in [-15.4, -1]: the exponential needs none of exp_f32's
    // edge fix-ups there, and exp_saturating gives the same bits cheaper.
    let large = (-exp_saturating(-(c * c))).mul_add(g, 1.0);
    let large = if x < 0.0 { -large } else { large };
    let out = if a < 1.0 { small } else { large };
    if x.is_nan() {
        x
    } else {
        out
    }
}

/// The error function, to double precision.
#[inline]
pub fn erf_f64(x: f64) -> f64 {
    libm::erf(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulp_diff(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_matches_std_within_2_ulp() {
        let mut x = -87.0f32;
        while x < 88.7 {
            let (got, want) = (exp_f32(x), x.exp());
            assert!(ulp_diff(got, want) <= 2, "exp({x}) = {got}, std {want}");
            x += 0.013;
        }
    }

    /// Every f32 in `[lo, hi]` stepping by `step` ulps, plus both ends.
    fn sweep(lo: f32, hi: f32, step: u32) -> impl Iterator<Item = f32> {
        let mut x = lo;
        std::iter::from_fn(move || {
            let out = (x <= hi).then_some(x);
            x = if x < 0.0 {
                f32::from_bits(x.to_bits().saturating_sub(step).max(1) | (1 << 31))
            } else {
                f32::from_bits(x.to_bits() + step)
            };
            out
        })
        .chain([hi])
    }

    #[test]
    fn exp_and_sigmoid_reach_overflow_and_the_subnormal_range_as_libm_does() {
        // Where exp's result is subnormal (x < -87.34) or near f32::MAX,
        // and where sigmoid's is (x < -87.34), against the rounded double.
        let reference_exp = |x: f32| (x as f64).exp() as f32;
        let reference_sigmoid = |x: f32| {
            let e = (-x).exp(); // PyTorch's f32 e^-x, inf beyond ln(f32::MAX)
            (1.0 / (1.0 + e as f64)) as f32
        };
        for x in sweep(-104.5, -80.0, 97).chain(sweep(80.0, 89.0, 97)) {
            let (got, want) = (exp_f32(x), reference_exp(x));
            assert!(
                ulp_diff(got, want) <= 2,
                "exp({x:?}) = {got:e}, want {want:e}"
            );
        }
        for x in sweep(-89.0, -80.0, 31) {
            let (got, want) = (sigmoid_f32(x), reference_sigmoid(x));
            assert!(
                ulp_diff(got, want) <= 2,
                "sigmoid({x:?}) = {got:e}, want {want:e}"
            );
        }
        // The last finite exp, and the first f32 above it.
        let last = EXP_OVERFLOW;
        let next = f32::from_bits(last.to_bits() + 1);
        assert!(last.exp().is_finite() && next.exp().is_infinite());
        assert!(exp_f32(last).is_finite() && exp_f32(next).is_infinite());
        assert!(sigmoid_f32(-last) > 0.0 && sigmoid_f32(-next) == 0.0);
        assert_eq!(exp_f32(-104.0), 0.0);
        // NaNs with any payload stay NaN.
        for bits in [
            0x7fc0_0000u32,
            0xffc0_0000,
            0x7fc0_0001,
            0x7f80_01ff,
            0xffbf_ffff,
        ] {
            let x = f32::from_bits(bits);
            assert!(sigmoid_f32(x).is_nan(), "{bits:#x}");
            assert!(exp_f32(x).is_nan(), "{bits:#x}");
            assert!(tanh_f32(x).is_nan() && erf_f32(x).is_nan(), "{bits:#x}");
        }
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn erf_f32_is_within_2_ulp_of_the_double_precision_erf() {
        let mut worst = 0;
        let mut x = -6.0f32;
        while x < 6.0 {
            let want = erf_f64(x as f64) as f32;
            worst = worst.max(ulp_diff(erf_f32(x), want));
            x += 1.3e-4;
        }
        assert!(worst <= 2, "worst error {worst} ulp");
        // Tiny, edge and sign cases.
        for x in [1e-30f32, 1e-8, 0.999_999_9, 1.0, 3.919_999, 3.92, 10.0] {
            for x in [x, -x] {
                let want = erf_f64(x as f64) as f32;
                assert!(
                    ulp_diff(erf_f32(x), want) <= 2,
                    "erf({x}) = {}, want {want}",
                    erf_f32(x)
                );
            }
        }
        assert_eq!(erf_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(erf_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(erf_f32(f32::INFINITY), 1.0);
        assert_eq!(erf_f32(f32::NEG_INFINITY), -1.0);
        assert!(erf_f32(f32::NAN).is_nan());
    }

    #[test]
    fn exp_saturating_is_exp_f32_inside_its_range() {
        // erf relies on it over [-15.4, -1], softmax over [-87.33, 0],
        let mut bits = (-87.3f32).to_bits();
        while bits > (-0.0f32).to_bits() {
            let x = f32::from_bits(bits);
            assert_eq!(exp_saturating(x).to_bits(), exp_f32(x).to_bits(), "{x}");
            bits -= 211;
        }
        // tanh's over [0, 88].
        let mut x = 0.0f32;
        while x < 88.0 {
            assert_eq!(exp_saturating(x).to_bits(), exp_f32(x).to_bits(), "{x}");
            x += 3.1e-4;
        }
        assert_eq!(exp_saturating(88.0).to_bits(), exp_f32(88.0).to_bits());
    }

    #[test]
    fn exp_edges() {
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert_eq!(exp_f32(-1000.0), 0.0);
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn sigmoid_and_tanh_match_std() {
        let mut x = -30.0f32;
        while x < 30.0 {
            let s = 1.0 / (1.0 + (-(x as f64)).exp());
            assert!(
                (sigmoid_f32(x) as f64 - s).abs() <= 2e-7 * s.max(1e-30) + 1e-38,
                "sigmoid({x})"
            );
            let t = (x as f64).tanh();
            assert!(
                (tanh_f32(x) as f64 - t).abs() <= 3e-7 * t.abs().max(1e-6),
                "tanh({x}) = {} want {t}",
                tanh_f32(x)
            );
            x += 0.0071;
        }
        assert_eq!(sigmoid_f32(1000.0), 1.0);
        assert_eq!(sigmoid_f32(-1000.0), 0.0);
        assert_eq!(tanh_f32(1000.0), 1.0);
        assert_eq!(tanh_f32(-1000.0), -1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
    }
}
