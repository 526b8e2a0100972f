//! AVX2 elementwise loops: requantization of sums in memory,
//! quantization, dequantization and 2×2 max pooling.

use std::arch::x86_64::*;

use super::{finish, NEAREST};
use crate::kernels::{Sink, TileAt, NR};

/// Requantizes whole 16-wide chunks of rows `[rows][n]` of sums into
/// `sink` (Linear layout); returns how many columns a row it did (the
/// caller finishes the rest with the scalar form).
#[target_feature(enable = "avx2")]
pub(in crate::kernels) unsafe fn requantize_rows(
    acc: &[i32],
    n: usize,
    row0: usize,
    sink: &Sink,
) -> usize {
    let full = n / NR * NR;
    for (i, row) in acc.chunks_exact(n).enumerate() {
        for c in (0..full).step_by(NR) {
            let p = row.as_ptr().add(c);
            let v = [
                _mm256_loadu_si256(p.cast()),
                _mm256_loadu_si256(p.add(8).cast()),
            ];
            let at = TileAt {
                rows: 1,
                cols: NR,
                dst: (row0 + i) * n + c,
                stride: n,
                ch: c,
                per_row: false,
            };
            finish::<1>(&[v], &at, sink);
        }
    }
    full
}

/// `quantize_value` on 8 floats at a time into i32 lanes; `inv` must be
/// finite and non-zero (then only a NaN input gives a NaN product).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn quantize8(x: __m256, inv: __m256, zp: __m256, lo: __m256, hi: __m256) -> __m256i {
    let q = _mm256_add_ps(zp, _mm256_round_ps::<NEAREST>(_mm256_mul_ps(x, inv)));
    let q = _mm256_blendv_ps(q, zp, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x));
    _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(q, lo), hi))
}

/// Quantizes `x` into bytes (`SIGNED`: i8, else u8), 32 then 8 at a
/// time; returns how many it did (a multiple of 8).
#[target_feature(enable = "avx2")]
pub(in crate::kernels) unsafe fn quantize_bytes<const SIGNED: bool>(
    x: &[f32],
    inv: f32,
    zp: f32,
    (qmin, qmax): (f32, f32),
    out: &mut [u8],
) -> usize {
    let (inv, zp) = (_mm256_set1_ps(inv), _mm256_set1_ps(zp));
    let (lo, hi) = (_mm256_set1_ps(qmin), _mm256_set1_ps(qmax));
    let q = |i: usize| quantize8(_mm256_loadu_ps(x.as_ptr().add(i)), inv, zp, lo, hi);
    let len = x.len().min(out.len());
    let mut i = 0;
    while i + 32 <= len {
        // Packing works within 128-bit lanes: words 0-3 8-11 | 4-7 12-15
        // and bytes 0-3 8-11 16-19 24-27 | ...; one dword permute fixes it.
        let w0 = _mm256_packs_epi32(q(i), q(i + 8));
        let w1 = _mm256_packs_epi32(q(i + 16), q(i + 24));
        let b = if SIGNED {
            _mm256_packs_epi16(w0, w1)
        } else {
            _mm256_packus_epi16(w0, w1)
        };
        let b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(out.as_mut_ptr().add(i).cast(), b);
        i += 32;
    }
    while i + 8 <= len {
        let v = q(i);
        let w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let b = if SIGNED {
            _mm_packs_epi16(w, w)
        } else {
            _mm_packus_epi16(w, w)
        };
        _mm_storel_epi64(out.as_mut_ptr().add(i).cast(), b);
        i += 8;
    }
    i
}

/// `scale * (q - zp)` for bytes (`SIGNED`: i8), 8 at a time; returns
/// how many it did.
#[target_feature(enable = "avx2")]
pub(in crate::kernels) unsafe fn dequantize_bytes<const SIGNED: bool>(
    q: &[u8],
    scale: f32,
    zp: i32,
    out: &mut [f32],
) -> usize {
    let (s, z) = (_mm256_set1_ps(scale), _mm256_set1_epi32(zp));
    let len = q.len().min(out.len()) / 8 * 8;
    for i in (0..len).step_by(8) {
        let b = _mm_loadl_epi64(q.as_ptr().add(i).cast());
        let v = if SIGNED {
            _mm256_cvtepi8_epi32(b)
        } else {
            _mm256_cvtepu8_epi32(b)
        };
        let f = _mm256_cvtepi32_ps(_mm256_sub_epi32(v, z));
        _mm256_storeu_ps(out.as_mut_ptr().add(i), _mm256_mul_ps(s, f));
    }
    len
}

/// 2×2 max pooling with step 2 and no padding of one plane `[h, w]` into
/// `[oh, ow]`: the two rows' maximum, then each pair's (the odd byte
/// shifted onto the even one), 8 outputs at a time.
#[target_feature(enable = "avx2")]
pub(in crate::kernels) unsafe fn max_pool_2x2(plane: &[u8], w: usize, out: &mut [u8], ow: usize) {
    let low = _mm_set1_epi16(0xff);
    let pairs = |v: __m128i| {
        let m = _mm_and_si128(_mm_max_epu8(v, _mm_srli_epi16::<8>(v)), low);
        _mm_packus_epi16(m, m)
    };
    for (oy, o) in out.chunks_exact_mut(ow).enumerate() {
        let (r0, r1) = (
            plane[2 * oy * w..].as_ptr(),
            plane[(2 * oy + 1) * w..].as_ptr(),
        );
        let at = |ox: usize| (r0.add(2 * ox), r1.add(2 * ox));
        if ow >= 8 {
            // The last step overlaps the one before (same values).
            for ox in (0..ow - 8).step_by(8).chain([ow - 8]) {
                let (a, b) = at(ox);
                let v = _mm_max_epu8(_mm_loadu_si128(a.cast()), _mm_loadu_si128(b.cast()));
                _mm_storel_epi64(o.as_mut_ptr().add(ox).cast(), pairs(v));
            }
        } else if ow >= 4 {
            for ox in [0, ow - 4] {
                let (a, b) = at(ox);
                let v = _mm_max_epu8(_mm_loadl_epi64(a.cast()), _mm_loadl_epi64(b.cast()));
                let four = _mm_cvtsi128_si32(pairs(v));
                o.as_mut_ptr().add(ox).cast::<i32>().write_unaligned(four);
            }
        } else {
            for (ox, d) in o.iter_mut().enumerate() {
                let (a, b) = at(ox);
                *d = (*a).max(*a.add(1)).max(*b).max(*b.add(1));
            }
        }
    }
}

/// The smallest and largest non-NaN values of `x` in whole groups of 8
/// (`vminps` returns its second operand when the first is NaN, so the
/// running extremes skip NaN as `f32::min` does), and how many it did.
#[target_feature(enable = "avx2")]
pub(in crate::kernels) unsafe fn min_max(x: &[f32]) -> (f32, f32, usize) {
    let full = x.len() / 8 * 8;
    let (mut lo, mut hi) = (
        _mm256_set1_ps(f32::INFINITY),
        _mm256_set1_ps(f32::NEG_INFINITY),
    );
    for c in x[..full].chunks_exact(8) {
        let v = _mm256_loadu_ps(c.as_ptr());
        lo = _mm256_min_ps(v, lo);
        hi = _mm256_max_ps(v, hi);
    }
    let (mut l, mut h) = ([0f32; 8], [0f32; 8]);
    _mm256_storeu_ps(l.as_mut_ptr(), lo);
    _mm256_storeu_ps(h.as_mut_ptr(), hi);
    let lo = l.iter().fold(f32::INFINITY, |a, &b| a.min(b));
    let hi = h.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    (lo, hi, full)
}
