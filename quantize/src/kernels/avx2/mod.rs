//! The AVX2 tiles, their output stage and the panel packing (see the
//! module docs of [`kernels`](super) for the layouts).

use std::arch::x86_64::*;

use super::conv::Block;
use super::linear::ByteRows;
use super::{Isa, PackedWeight, Sink, SinkKind, TileAt, MR, NR};
use dot::{Avx512Vnni, AvxVnni, Dot, Madd, Widened};

/// `_mm256_round_ps` mode: nearest, ties to even, no exceptions.
const NEAREST: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

/// A tile's sums: `MR` rows of 16 lanes.
type Acc<const R: usize> = [[__m256i; 2]; R];

/// Byte path: `Σ_q l_i[4q..4q+4] · panel[q]` for `R` broadcast rows
/// `l_i` against a `[kq][16][4]` panel, with product `D`. `ACT_LEFT`:
/// the rows hold the u8 activations (Linear), else the s8 weights
/// (Conv2d). Inlined into a function with `D`'s features (see [`dot`]).
#[inline(always)]
pub(super) unsafe fn tile_u8<const R: usize, const ACT_LEFT: bool, D: Dot>(
    l: [*const u8; R],
    panel: *const u8,
    kq: usize,
) -> Acc<R> {
    let mut acc = [[_mm256_setzero_si256(); 2]; R];
    for q in 0..kq {
        let b0 = _mm256_loadu_si256(panel.add(q * 64).cast());
        let b1 = _mm256_loadu_si256(panel.add(q * 64 + 32).cast());
        for (acc, row) in acc.iter_mut().zip(l) {
            let x = _mm256_set1_epi32(row.add(q * 4).cast::<i32>().read_unaligned());
            // The unsigned operand comes first.
            if ACT_LEFT {
                acc[0] = D::dot(acc[0], x, b0);
                acc[1] = D::dot(acc[1], x, b1);
            } else {
                acc[0] = D::dot(acc[0], b0, x);
                acc[1] = D::dot(acc[1], b1, x);
            }
        }
    }
    acc
}

/// i16 path: `Σ_u l[i, 2u..2u+2] · panel[u]` against a `[kp/2][16][2]`
/// i16 panel.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn tile_i16<const R: usize>(
    l: *const i16,
    ldl: usize,
    panel: *const i16,
    pairs: usize,
) -> Acc<R> {
    let mut acc = [[_mm256_setzero_si256(); 2]; R];
    for u in 0..pairs {
        let b0 = _mm256_loadu_si256(panel.add(u * 32).cast());
        let b1 = _mm256_loadu_si256(panel.add(u * 32 + 16).cast());
        for (i, acc) in acc.iter_mut().enumerate() {
            let x = _mm256_set1_epi32(l.add(i * ldl + u * 2).cast::<i32>().read_unaligned());
            acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(x, b0));
            acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(x, b1));
        }
    }
    acc
}

/// A tile's sums through memory, for the rare scalar fixes (clipped
/// activations' excess).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn patch<const R: usize>(acc: Acc<R>, f: impl FnOnce(&mut [[i32; NR]; R])) -> Acc<R> {
    let mut t = [[0i32; NR]; R];
    for (row, a) in t.iter_mut().zip(&acc) {
        _mm256_storeu_si256(row.as_mut_ptr().cast(), a[0]);
        _mm256_storeu_si256(row.as_mut_ptr().add(8).cast(), a[1]);
    }
    f(&mut t);
    let mut out = acc;
    for (a, row) in out.iter_mut().zip(&t) {
        a[0] = _mm256_loadu_si256(row.as_ptr().cast());
        a[1] = _mm256_loadu_si256(row.as_ptr().add(8).cast());
    }
    out
}

/// [`super::requant_q`] on 8 lanes: the sum, product and rounding are
/// IEEE exact, so the lanes equal the scalar form bit for bit.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn requant8(
    v: __m256i,
    multiplier: __m256,
    bias_q: __m256,
    lo: __m256,
    hi: __m256,
    zp: __m256i,
) -> __m256i {
    let real = _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(v), bias_q), multiplier);
    let q = _mm256_round_ps::<NEAREST>(real);
    let q = _mm256_and_ps(q, _mm256_cmp_ps::<_CMP_ORD_Q>(q, q));
    let q = _mm256_min_ps(_mm256_max_ps(q, lo), hi);
    _mm256_add_epi32(_mm256_cvtps_epi32(q), zp)
}

/// Sixteen i32 in `[0, 255]` as bytes, in order.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn pack_bytes(q0: __m256i, q1: __m256i) -> __m128i {
    let lo = _mm_packs_epi32(
        _mm256_castsi256_si128(q0),
        _mm256_extracti128_si256::<1>(q0),
    );
    let hi = _mm_packs_epi32(
        _mm256_castsi256_si128(q1),
        _mm256_extracti128_si256::<1>(q1),
    );
    _mm_packus_epi16(lo, hi)
}

/// Per-channel constants of tile row `i`: one broadcast (channel per
/// row) or the 16 of the tile's columns.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn consts(v: &[f32], at: &TileAt, i: usize) -> [__m256; 2] {
    if at.per_row {
        [_mm256_set1_ps(v[at.ch + i]); 2]
    } else {
        let p = v[at.ch..at.ch + NR].as_ptr();
        [_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))]
    }
}

/// The output stage of a tile (see [`super::Epilogue`]).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn finish<const R: usize>(acc: &Acc<R>, at: &TileAt, sink: &Sink) {
    for (i, row) in acc.iter().enumerate().take(at.rows) {
        let corr = if at.per_row {
            [_mm256_set1_epi32(sink.corr[at.ch + i]); 2]
        } else {
            let p = sink.corr[at.ch..at.ch + NR].as_ptr();
            [
                _mm256_loadu_si256(p.cast()),
                _mm256_loadu_si256(p.add(8).cast()),
            ]
        };
        let v = [
            _mm256_add_epi32(row[0], corr[0]),
            _mm256_add_epi32(row[1], corr[1]),
        ];
        let dst = at.dst + i * at.stride;
        let full = at.cols == NR;
        match sink.kind {
            SinkKind::U8 {
                ptr,
                zero_point,
                lo,
            } => {
                let (m, b) = (consts(sink.c1, at, i), consts(sink.c2, at, i));
                let lo = _mm256_set1_ps((lo - zero_point) as f32);
                let hi = _mm256_set1_ps((255 - zero_point) as f32);
                let zp = _mm256_set1_epi32(zero_point);
                let q0 = requant8(v[0], m[0], b[0], lo, hi, zp);
                let q1 = requant8(v[1], m[1], b[1], lo, hi, zp);
                let bytes = pack_bytes(q0, q1);
                if full {
                    _mm_storeu_si128(ptr.add(dst).cast(), bytes);
                } else {
                    let mut tmp = [0u8; NR];
                    _mm_storeu_si128(tmp.as_mut_ptr().cast(), bytes);
                    std::ptr::copy_nonoverlapping(tmp.as_ptr(), ptr.add(dst), at.cols);
                }
            }
            SinkKind::F32 { ptr, a_scale } => {
                let (ws, b) = (consts(sink.c1, at, i), consts(sink.c2, at, i));
                let s = _mm256_set1_ps(a_scale);
                let f = |j: usize| {
                    let x = _mm256_mul_ps(_mm256_cvtepi32_ps(v[j]), s);
                    _mm256_add_ps(_mm256_mul_ps(x, ws[j]), b[j])
                };
                let mut tmp = [0f32; NR];
                let out = if full { ptr.add(dst) } else { tmp.as_mut_ptr() };
                _mm256_storeu_ps(out, f(0));
                _mm256_storeu_ps(out.add(8), f(1));
                if !full {
                    std::ptr::copy_nonoverlapping(tmp.as_ptr(), ptr.add(dst), at.cols);
                }
            }
            SinkKind::I32 { ptr } => {
                let mut tmp = [0i32; NR];
                let out = if full { ptr.add(dst) } else { tmp.as_mut_ptr() };
                _mm256_storeu_si256(out.cast(), v[0]);
                _mm256_storeu_si256(out.add(8).cast(), v[1]);
                if !full {
                    std::ptr::copy_nonoverlapping(tmp.as_ptr(), ptr.add(dst), at.cols);
                }
            }
        }
    }
}

/// Calls `$body` with `R` bound to the const `$rows` (1..=MR).
macro_rules! with_rows {
    ($rows:expr, $body:ident) => {
        match $rows {
            1 => $body!(1),
            2 => $body!(2),
            3 => $body!(3),
            4 => $body!(4),
            5 => $body!(5),
            _ => $body!(6),
        }
    };
}

/// Tile heights for `len` rows: at most `MR`, as even as possible (7
/// rows are 4 + 3, not 6 + 1).
fn row_tiles(len: usize) -> impl Iterator<Item = (usize, usize)> {
    even_pieces(len, MR)
}

/// `len` split into at most `max`-long pieces, as even as possible:
/// `(start, len)` of each.
fn even_pieces(len: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let pieces = len.div_ceil(max);
    let (base, extra) = (len / pieces.max(1), len % pieces.max(1));
    (0..pieces).scan(0, move |start, t| {
        let n = base + usize::from(t < extra);
        let r = (*start, n);
        *start += n;
        Some(r)
    })
}

mod conv;
mod dot;
mod elementwise;
pub(super) mod gates;
mod zmm;

pub(super) use conv::conv_i16;
pub(super) use elementwise::{
    dequantize_bytes, max_pool_2x2, min_max, quantize_bytes, requantize_rows,
};
pub(super) use gates::lstm_units;

/// Linear, byte path: activation rows `rows` against weight panels
/// `panels` (of 16 channels), adding back the excess of values `a`
/// clipped to 127 (none when `D` is exact).
#[inline(always)]
pub(super) unsafe fn linear_u8_with<D: Dot>(
    a: &ByteRows,
    rows: std::ops::Range<usize>,
    panels: std::ops::Range<usize>,
    w: &PackedWeight,
    sink: &Sink,
) {
    let (n, kp) = (w.n(), w.kp());
    let kq = kp / 4;
    for jp in panels {
        let panel = w.panels().as_ptr().add(jp * kq * 64).cast::<u8>();
        let cols = (n - jp * NR).min(NR);
        for (r0, mr) in row_tiles(rows.len()) {
            let i = rows.start + r0;
            let at = TileAt {
                rows: mr,
                cols,
                dst: i * n + jp * NR,
                stride: n,
                ch: jp * NR,
                per_row: false,
            };
            // (a - 127) w[j, t] for each clipped a, 16 channels at a time.
            let fix = |t: &mut [[i32; NR]]| {
                for (r, excess) in a.excess(i..i + mr).into_iter().flatten().enumerate() {
                    for &(tk, e) in excess {
                        for (c, v) in t[r][..cols].iter_mut().enumerate() {
                            let wv = w.rows()[(jp * NR + c) * kp + tk as usize] as i32;
                            *v = v.wrapping_add(e * wv);
                        }
                    }
                }
            };
            let dirty = !D::EXACT && a.excess(i..i + mr).is_some();
            macro_rules! go {
                ($r:literal) => {{
                    let l = std::array::from_fn(|r| a.row(i + r));
                    let acc = D::tile::<$r, true>(l, panel, kq);
                    let acc = if dirty {
                        patch::<$r>(acc, |t| fix(t))
                    } else {
                        acc
                    };
                    finish::<$r>(&acc, &at, sink)
                }};
            }
            with_rows!(mr, go);
        }
    }
}

/// One function per byte product, compiled with its features, and the
/// dispatchers `linear_u8` / `conv_u8` that pick one by [`Isa`].
macro_rules! instances {
    ($($isa:ident: $dot:ty, $features:literal, $linear:ident, $conv:ident;)*) => {
        $(
            #[target_feature(enable = $features)]
            unsafe fn $linear(
                a: &ByteRows,
                rows: std::ops::Range<usize>,
                panels: std::ops::Range<usize>,
                w: &PackedWeight,
                sink: &Sink,
            ) {
                <$dot as Dot>::linear(a, rows, panels, w, sink)
            }

            #[allow(clippy::too_many_arguments)]
            #[target_feature(enable = $features)]
            unsafe fn $conv(
                block: &Block,
                w: &[i8],
                kp: usize,
                n: usize,
                dst: usize,
                plane: usize,
                panel: &mut [u8],
                sink: &Sink,
            ) {
                conv::conv_u8_with::<$dot>(block, w, kp, n, dst, plane, panel, sink)
            }
        )*

        /// Linear, byte path (see `linear_u8_with`) with `isa`'s product.
        ///
        /// # Safety
        /// The CPU runs `isa` (not `Portable`); rows and panels are in
        /// range and every row can be read `kp` bytes long.
        pub(super) unsafe fn linear_u8(
            isa: Isa,
            a: &ByteRows,
            rows: std::ops::Range<usize>,
            panels: std::ops::Range<usize>,
            w: &PackedWeight,
            sink: &Sink,
        ) {
            match isa {
                $(Isa::$isa => $linear(a, rows, panels, w, sink),)*
                Isa::Portable => unreachable!("the portable kernels have no byte path"),
            }
        }

        /// Conv2d, byte path (see `conv::conv_u8_with`) with `isa`'s
        /// product.
        ///
        /// # Safety
        /// As `conv::conv_u8_with`, on a CPU that runs `isa`.
        #[allow(clippy::too_many_arguments)]
        pub(super) unsafe fn conv_u8(
            isa: Isa,
            block: &Block,
            w: &[i8],
            kp: usize,
            n: usize,
            dst: usize,
            plane: usize,
            panel: &mut [u8],
            sink: &Sink,
        ) {
            match isa {
                $(Isa::$isa => $conv(block, w, kp, n, dst, plane, panel, sink),)*
                Isa::Portable => unreachable!("the portable kernels have no byte path"),
            }
        }
    };
}

instances! {
    Avx2: Madd, "avx2,fma", linear_u8_madd, conv_u8_madd;
    Avx2Exact: Widened, "avx2,fma", linear_u8_widened, conv_u8_widened;
    AvxVnni: AvxVnni, "avx2,fma,avxvnni", linear_u8_avx_vnni, conv_u8_avx_vnni;
    Avx512Vnni: Avx512Vnni, "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni", linear_u8_avx512_vnni, conv_u8_avx512_vnni;
}

/// Linear, i16 path: rows of `a` (`[m][kp]` i16, `a - zero_point`)
/// against the i16 weight panels.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn linear_i16(
    a: &[i16],
    rows: std::ops::Range<usize>,
    panels: std::ops::Range<usize>,
    w: &PackedWeight,
    sink: &Sink,
) {
    let (n, kp) = (w.n(), w.kp());
    let pairs = kp / 2;
    for jp in panels {
        let panel = w.wide().panels.as_ptr().add(jp * pairs * 32);
        for (r0, mr) in row_tiles(rows.len()) {
            let i = rows.start + r0;
            let at = TileAt {
                rows: mr,
                cols: (n - jp * NR).min(NR),
                dst: i * n + jp * NR,
                stride: n,
                ch: jp * NR,
                per_row: false,
            };
            let l = a.as_ptr().add(i * kp);
            macro_rules! go {
                ($r:literal) => {
                    finish::<$r>(&tile_i16::<$r>(l, kp, panel, pairs), &at, sink)
                };
            }
            with_rows!(mr, go);
        }
    }
}
