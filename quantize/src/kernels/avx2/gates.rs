//! The LSTM cell's float functions 8 lanes wide: the same operations as
//! the scalar ports in [`gates`](crate::kernels::gates), lane by lane
//! (double-precision `expf` in two halves of 4, branches as blends), so
//! each lane equals the scalar result bit for bit.

use std::arch::x86_64::*;

use crate::kernels::gates::TABLE;

/// [`lstm_row`](crate::kernels::gates::lstm_row) for the units in whole
/// groups of 8; returns how many it did.
#[target_feature(enable = "avx2,fma")]
pub(in crate::kernels) unsafe fn lstm_units(
    gx: &[f32],
    gh: &[f32],
    hs: &mut [f32],
    cs: &mut [f32],
) -> usize {
    let h = hs.len();
    let full = h / 8 * 8;
    let sigmoid = |x: __m256| {
        let e = expf8(_mm256_xor_ps(x, _mm256_set1_ps(-0.0)));
        _mm256_div_ps(_mm256_set1_ps(1.0), _mm256_add_ps(_mm256_set1_ps(1.0), e))
    };
    for u in (0..full).step_by(8) {
        let g = |k: usize| {
            let at = k * h + u;
            _mm256_add_ps(
                _mm256_loadu_ps(gh[at..at + 8].as_ptr()),
                _mm256_loadu_ps(gx[at..at + 8].as_ptr()),
            )
        };
        let (ig, fg) = (sigmoid(g(0)), sigmoid(g(1)));
        let (cg, og) = (tanhf8(g(2)), sigmoid(g(3)));
        let c0 = _mm256_loadu_ps(cs[u..u + 8].as_ptr());
        let c = _mm256_add_ps(_mm256_mul_ps(fg, c0), _mm256_mul_ps(ig, cg));
        _mm256_storeu_ps(cs[u..u + 8].as_mut_ptr(), c);
        _mm256_storeu_ps(hs[u..u + 8].as_mut_ptr(), _mm256_mul_ps(og, tanhf8(c)));
    }
    full
}

#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp4(x: __m128) -> __m128 {
    let xd = _mm256_cvtps_pd(x);
    let inv = _mm256_set1_pd(f64::from_bits(0x40471547652b82fe));
    let shift = _mm256_set1_pd(f64::from_bits(0x4338000000000000));
    let z = _mm256_fmadd_pd(inv, xd, shift);
    let ki = _mm256_castpd_si256(z);
    let kd = _mm256_sub_pd(z, shift);
    let r = _mm256_fmsub_pd(inv, xd, kd);
    let idx = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
    let t = _mm256_i64gather_epi64::<8>(TABLE.as_ptr().cast(), idx);
    let s = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64::<47>(ki)));
    let p = _mm256_fmadd_pd(
        _mm256_set1_pd(f64::from_bits(0x3ebc6af84b912394)),
        r,
        _mm256_set1_pd(f64::from_bits(0x3f2ebfce50fac4f3)),
    );
    let y = _mm256_fmadd_pd(
        _mm256_set1_pd(f64::from_bits(0x3f962e42ff0c52d6)),
        r,
        _mm256_set1_pd(1.0),
    );
    let y = _mm256_fmadd_pd(p, _mm256_mul_pd(r, r), y);
    _mm256_cvtpd_ps(_mm256_mul_pd(y, s))
}

#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn sel(mask: __m256i, a: __m256, b: __m256) -> __m256 {
    // mask lanes all-ones: a, else b
    _mm256_blendv_ps(b, a, _mm256_castsi256_ps(mask))
}

#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn fsel(mask: __m256, a: __m256, b: __m256) -> __m256 {
    _mm256_blendv_ps(b, a, mask)
}

#[inline]
#[target_feature(enable = "avx2,fma")]
pub(in crate::kernels) unsafe fn expf8(x: __m256) -> __m256 {
    let main = _mm256_set_m128(
        exp4(_mm256_extractf128_ps::<1>(x)),
        exp4(_mm256_castps256_ps128(x)),
    );
    let bits = _mm256_castps_si256(x);
    let abstop = _mm256_and_si256(_mm256_srli_epi32::<20>(bits), _mm256_set1_epi32(0x7ff));
    let special = _mm256_cmpgt_epi32(abstop, _mm256_set1_epi32(0x42a));
    if _mm256_testz_si256(special, special) != 0 {
        return main;
    }
    let c = |b: u32| _mm256_set1_ps(f32::from_bits(b));
    let mut r = main;
    let sp = _mm256_castsi256_ps(special);
    r = fsel(
        _mm256_and_ps(sp, _mm256_cmp_ps::<_CMP_LT_OQ>(x, c(0xc2ce_8ecf))),
        c(1),
        r,
    );
    r = fsel(
        _mm256_and_ps(sp, _mm256_cmp_ps::<_CMP_LT_OQ>(x, c(0xc2cf_f1b4))),
        _mm256_setzero_ps(),
        r,
    );
    r = fsel(
        _mm256_and_ps(sp, _mm256_cmp_ps::<_CMP_GT_OQ>(x, c(0x42b1_7217))),
        c(0x7f80_0000),
        r,
    );
    r = sel(
        _mm256_cmpgt_epi32(abstop, _mm256_set1_epi32(0x7f7)),
        _mm256_add_ps(x, x),
        r,
    );
    r = sel(
        _mm256_cmpeq_epi32(bits, _mm256_set1_epi32(0xff80_0000u32 as i32)),
        _mm256_setzero_ps(),
        r,
    );
    r
}

#[inline]
#[target_feature(enable = "avx2,fma")]
pub(in crate::kernels) unsafe fn expm1f8(x: __m256) -> __m256 {
    let c = |b: u32| _mm256_set1_ps(f32::from_bits(b));
    let ci = |v: i32| _mm256_set1_epi32(v);
    let bits = _mm256_castps_si256(x);
    let hx = _mm256_and_si256(bits, ci(0x7fff_ffff));
    let neg = _mm256_srai_epi32::<31>(bits); // all ones where negative
    let gt = |a: __m256i, v: i32| _mm256_cmpgt_epi32(a, ci(v));
    // Reduction: k = 0 for |x| <= 0.5 ln2, ±1 up to 1.5 ln2, else rounded.
    let half = sel(neg, _mm256_set1_ps(-0.5), _mm256_set1_ps(0.5));
    let kg = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(c(0x3fb8aa3b), x), half));
    let one_k = _mm256_or_si256(neg, ci(1)); // -1 or 1
    let k = _mm256_blendv_epi8(one_k, kg, gt(hx, 0x3f85_1591));
    let reduce = gt(hx, 0x3eb1_7218);
    let k = _mm256_and_si256(k, reduce);
    let t = _mm256_cvtepi32_ps(k);
    let hi = _mm256_sub_ps(x, _mm256_mul_ps(t, c(0x3f317180)));
    let lo = _mm256_mul_ps(t, c(0x3717f7d1));
    let xr0 = _mm256_sub_ps(hi, lo);
    let xr = sel(reduce, xr0, x);
    let cc = sel(
        reduce,
        _mm256_sub_ps(_mm256_sub_ps(hi, xr0), lo),
        _mm256_setzero_ps(),
    );
    // Polynomial.
    let hfx = _mm256_mul_ps(_mm256_set1_ps(0.5), xr);
    let hxs = _mm256_mul_ps(xr, hfx);
    let mut p = _mm256_add_ps(c(0x36867e54), _mm256_mul_ps(hxs, c(0xb457edbb)));
    p = _mm256_add_ps(c(0xb8a670cd), _mm256_mul_ps(hxs, p));
    p = _mm256_add_ps(c(0x3ad00d01), _mm256_mul_ps(hxs, p));
    p = _mm256_add_ps(c(0xbd088889), _mm256_mul_ps(hxs, p));
    let r1 = _mm256_add_ps(_mm256_set1_ps(1.0), _mm256_mul_ps(hxs, p));
    let t3 = _mm256_sub_ps(_mm256_set1_ps(3.0), _mm256_mul_ps(r1, hfx));
    let e = _mm256_mul_ps(
        hxs,
        _mm256_div_ps(
            _mm256_sub_ps(r1, t3),
            _mm256_sub_ps(_mm256_set1_ps(6.0), _mm256_mul_ps(xr, t3)),
        ),
    );
    let res0 = _mm256_sub_ps(xr, _mm256_sub_ps(_mm256_mul_ps(xr, e), hxs));
    let e2 = _mm256_sub_ps(
        _mm256_sub_ps(_mm256_mul_ps(xr, _mm256_sub_ps(e, cc)), cc),
        hxs,
    );
    let one = _mm256_set1_ps(1.0);
    let res_m1 = _mm256_sub_ps(
        _mm256_mul_ps(_mm256_set1_ps(0.5), _mm256_sub_ps(xr, e2)),
        _mm256_set1_ps(0.5),
    );
    let p1_lo = _mm256_mul_ps(
        _mm256_set1_ps(-2.0),
        _mm256_sub_ps(e2, _mm256_add_ps(xr, _mm256_set1_ps(0.5))),
    );
    let p1_hi = _mm256_add_ps(
        one,
        _mm256_mul_ps(_mm256_set1_ps(2.0), _mm256_sub_ps(xr, e2)),
    );
    let res_p1 = fsel(
        _mm256_cmp_ps::<_CMP_LT_OQ>(xr, _mm256_set1_ps(-0.25)),
        p1_lo,
        p1_hi,
    );
    let k23 = _mm256_slli_epi32::<23>(k);
    let scale = |y: __m256| _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(y), k23));
    let e_x = _mm256_sub_ps(e2, xr);
    let res_far = _mm256_sub_ps(scale(_mm256_sub_ps(one, e_x)), one);
    let tk = _mm256_castsi256_ps(_mm256_sub_epi32(
        ci(0x3f80_0000),
        _mm256_srav_epi32(ci(0x0100_0000), k),
    ));
    let res_mid = scale(_mm256_sub_ps(tk, e_x));
    let t2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_sub_epi32(ci(0x7f), k)));
    let res_hi = scale(_mm256_add_ps(_mm256_sub_ps(xr, _mm256_add_ps(e2, t2)), one));
    // Pick by k.
    let mut r = res_mid;
    r = sel(gt(k, 22), res_hi, r);
    r = sel(
        _mm256_or_si256(gt(k, 56), _mm256_cmpgt_epi32(ci(-1), k)),
        res_far,
        r,
    );
    r = sel(_mm256_cmpeq_epi32(k, ci(1)), res_p1, r);
    r = sel(_mm256_cmpeq_epi32(k, ci(-1)), res_m1, r);
    r = sel(_mm256_cmpeq_epi32(k, _mm256_setzero_si256()), res0, r);
    // |x| < 2^-25: x.
    r = sel(_mm256_cmpgt_epi32(ci(0x3300_0000), hx), x, r);
    // Large, infinite, NaN.
    let big = gt(hx, 0x4195_b843);
    r = sel(_mm256_and_si256(big, neg), _mm256_set1_ps(-1.0), r);
    let over = _mm256_and_si256(
        gt(hx, 0x42b1_7217),
        _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GT_OQ>(x, c(0x42b1_7180))),
    );
    r = sel(over, c(0x7f80_0000), r);
    r = sel(
        _mm256_cmpeq_epi32(hx, ci(0x7f80_0000)),
        sel(neg, _mm256_set1_ps(-1.0), x),
        r,
    );
    r = sel(gt(hx, 0x7f80_0000), _mm256_add_ps(x, x), r);
    r
}

#[inline]
#[target_feature(enable = "avx2,fma")]
pub(in crate::kernels) unsafe fn tanhf8(x: __m256) -> __m256 {
    let ci = |v: i32| _mm256_set1_epi32(v);
    let bits = _mm256_castps_si256(x);
    let ix = _mm256_and_si256(bits, ci(0x7fff_ffff));
    let neg = _mm256_srai_epi32::<31>(bits);
    let a = _mm256_castsi256_ps(ix);
    let ge1 = _mm256_cmpgt_epi32(ix, ci(0x3f7f_ffff));
    let v = sel(
        ge1,
        _mm256_add_ps(a, a),
        _mm256_mul_ps(_mm256_set1_ps(-2.0), a),
    );
    let t = expm1f8(v);
    let two = _mm256_set1_ps(2.0);
    let one = _mm256_set1_ps(1.0);
    let tp2 = _mm256_add_ps(t, two);
    // 1 - 2 / (t + 2) or -t / (t + 2): one division for both.
    let q = _mm256_div_ps(sel(ge1, two, _mm256_xor_ps(t, _mm256_set1_ps(-0.0))), tp2);
    let mut z = sel(ge1, _mm256_sub_ps(one, q), q);
    z = sel(
        _mm256_cmpgt_epi32(ix, ci(0x41af_ffff)),
        _mm256_sub_ps(one, _mm256_set1_ps(f32::from_bits(0x0da24260))),
        z,
    );
    let mut r = sel(neg, _mm256_xor_ps(z, _mm256_set1_ps(-0.0)), z);
    r = sel(
        _mm256_cmpgt_epi32(ci(0x2400_0000), ix),
        _mm256_mul_ps(x, _mm256_add_ps(one, x)),
        r,
    );
    let inv = _mm256_div_ps(one, x);
    let special = sel(neg, _mm256_sub_ps(inv, one), _mm256_add_ps(inv, one));
    r = sel(_mm256_cmpgt_epi32(ix, ci(0x7f7f_ffff)), special, r);
    r
}
