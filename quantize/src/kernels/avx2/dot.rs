//! The byte product of the tiles, `acc + Σ_{j<4} u[4l + j] · s[4l + j]`
//! per i32 lane `l` (`u` unsigned, `s` signed bytes), one type per
//! [`Isa`](crate::kernels::Isa) kind.
//!
//! The tiles and drivers are generic over [`Dot`] and `#[inline(always)]`;
//! each kind instantiates them inside a function compiled with its own
//! target features (`instances!` in the parent module), so the product
//! inlines into the loop whichever instruction it is.

use std::arch::x86_64::*;

use super::{linear_u8_with, tile_u8, zmm, Acc, ByteRows, PackedWeight, Sink};

/// A byte product (see the module docs).
pub(in crate::kernels) trait Dot {
    /// Whether the product is exact for every `u` byte; when not, the
    /// drivers clip `u` at 127 and add the excess back.
    const EXACT: bool;

    /// `acc + Σ u · s`, four bytes per lane.
    ///
    /// # Safety
    /// The CPU has the kind's features and the caller is compiled with
    /// them (so that this inlines).
    unsafe fn dot(acc: __m256i, u: __m256i, s: __m256i) -> __m256i;

    /// A one-panel tile of `R` broadcast rows (see [`super::tile_u8`]).
    ///
    /// # Safety
    /// As [`Dot::dot`]; `panel` holds `kq * 64` bytes and each row `4 kq`.
    #[inline(always)]
    unsafe fn tile<const R: usize, const ACT_LEFT: bool>(
        l: [*const u8; R],
        panel: *const u8,
        kq: usize,
    ) -> Acc<R>
    where
        Self: Sized,
    {
        tile_u8::<R, ACT_LEFT, Self>(l, panel, kq)
    }

    /// Linear, byte path (see [`super::linear_u8_with`]).
    ///
    /// # Safety
    /// As [`Dot::dot`]; rows and panels in range, each row `kp` bytes.
    #[inline(always)]
    unsafe fn linear(
        a: &ByteRows,
        rows: std::ops::Range<usize>,
        panels: std::ops::Range<usize>,
        w: &PackedWeight,
        sink: &Sink,
    ) where
        Self: Sized,
    {
        linear_u8_with::<Self>(a, rows, panels, w, sink)
    }
}

/// AVX2's `vpmaddubsw` (saturating i16 pair sums: exact while `u < 128`,
/// as 2 · 127 · 128 = 32512 ≤ 32767), widened by `vpmaddwd` with ones.
pub(in crate::kernels) struct Madd;

impl Dot for Madd {
    const EXACT: bool = false;

    #[inline(always)]
    unsafe fn dot(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
        let pairs = _mm256_maddubs_epi16(u, s);
        _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
    }
}

/// AVX2, exact: even and odd bytes widened to i16 (`u` zero-extended,
/// `s` sign-extended), two `vpmaddwd` (|255 · -128| · 2 fits an i32).
pub(in crate::kernels) struct Widened;

impl Dot for Widened {
    const EXACT: bool = true;

    #[inline(always)]
    unsafe fn dot(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
        let u_even = _mm256_and_si256(u, _mm256_set1_epi16(0xff));
        let u_odd = _mm256_srli_epi16::<8>(u);
        let s_even = _mm256_srai_epi16::<8>(_mm256_slli_epi16::<8>(s));
        let s_odd = _mm256_srai_epi16::<8>(s);
        let even = _mm256_madd_epi16(u_even, s_even);
        let odd = _mm256_madd_epi16(u_odd, s_odd);
        _mm256_add_epi32(acc, _mm256_add_epi32(even, odd))
    }
}

/// AVX-VNNI's `vpdpbusd` (VEX encoding): exact, one instruction.
pub(in crate::kernels) struct AvxVnni;

impl Dot for AvxVnni {
    const EXACT: bool = true;

    #[inline(always)]
    unsafe fn dot(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
        _mm256_dpbusd_avx_epi32(acc, u, s)
    }
}

/// AVX512-VNNI's `vpdpbusd`: the tiles on 512-bit registers (see
/// [`super::zmm`]); `dot` is the 256-bit form (EVEX, AVX512-VL), which
/// only the product test runs.
pub(in crate::kernels) struct Avx512Vnni;

impl Dot for Avx512Vnni {
    const EXACT: bool = true;

    #[inline(always)]
    unsafe fn dot(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(acc, u, s)
    }

    #[inline(always)]
    unsafe fn tile<const R: usize, const ACT_LEFT: bool>(
        l: [*const u8; R],
        panel: *const u8,
        kq: usize,
    ) -> Acc<R> {
        zmm::tile_one::<R, ACT_LEFT>(l, panel, kq)
    }

    #[inline(always)]
    unsafe fn linear(
        a: &ByteRows,
        rows: std::ops::Range<usize>,
        panels: std::ops::Range<usize>,
        w: &PackedWeight,
        sink: &Sink,
    ) {
        zmm::linear_u8(a, rows, panels, w, sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every product against its definition on bytes that saturate
    /// `vpmaddubsw` (211 · 71 + 171 · 107 = 33278) and the extremes.
    #[test]
    fn exact_products_equal_the_definition() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        let mut seed = 17u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 24) as u8
        };
        let mut cases: Vec<([u8; 32], [i8; 32])> = vec![
            ([255; 32], [-128; 32]),
            ([255; 32], [127; 32]),
            (
                std::array::from_fn(|i| [211, 171][i % 2]),
                std::array::from_fn(|i| [71, 107][i % 2]),
            ),
        ];
        cases.extend((0..200).map(|_| {
            (
                std::array::from_fn(|_| next()),
                std::array::from_fn(|_| next() as i8),
            )
        }));
        for (u, s) in cases {
            let want: Vec<i32> = (0..8)
                .map(|l| {
                    1000 + (0..4)
                        .map(|j| u[4 * l + j] as i32 * s[4 * l + j] as i32)
                        .sum::<i32>()
                })
                .collect();
            let run = |f: unsafe fn(__m256i, __m256i, __m256i) -> __m256i| {
                let mut out = [0i32; 8];
                // SAFETY: AVX2 is present (checked above); the callers
                // below check the VNNI features.
                unsafe {
                    let acc = _mm256_set1_epi32(1000);
                    let v = f(
                        acc,
                        _mm256_loadu_si256(u.as_ptr().cast()),
                        _mm256_loadu_si256(s.as_ptr().cast()),
                    );
                    _mm256_storeu_si256(out.as_mut_ptr().cast(), v);
                }
                out.to_vec()
            };
            assert_eq!(run(widened), want, "{u:?} {s:?}");
            if std::is_x86_feature_detected!("avxvnni") {
                assert_eq!(run(avx_vnni), want, "{u:?} {s:?}");
            }
            if std::is_x86_feature_detected!("avx512vnni")
                && std::is_x86_feature_detected!("avx512vl")
            {
                assert_eq!(run(avx512_vnni), want, "{u:?} {s:?}");
            }
            if u.iter().all(|&v| v < 128) {
                assert_eq!(run(madd), want, "{u:?} {s:?}");
            }
        }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn widened(a: __m256i, u: __m256i, s: __m256i) -> __m256i {
        Widened::dot(a, u, s)
    }

    #[target_feature(enable = "avx2")]
    unsafe fn madd(a: __m256i, u: __m256i, s: __m256i) -> __m256i {
        Madd::dot(a, u, s)
    }

    #[target_feature(enable = "avx2,avxvnni")]
    unsafe fn avx_vnni(a: __m256i, u: __m256i, s: __m256i) -> __m256i {
        AvxVnni::dot(a, u, s)
    }

    #[target_feature(enable = "avx2,avx512vnni,avx512vl")]
    unsafe fn avx512_vnni(a: __m256i, u: __m256i, s: __m256i) -> __m256i {
        Avx512Vnni::dot(a, u, s)
    }
}
