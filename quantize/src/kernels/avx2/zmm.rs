//! AVX512-VNNI tiles on 512-bit registers: one `vpdpbusd` multiplies 64
//! byte pairs, twice the 256-bit form, on the same packed panels (a
//! panel's 16 lanes × 4 bytes per `k` quad are exactly one zmm load).
//!
//! A Linear tile is up to [`MR_ZMM`] activation rows × [`PR_ZMM`] weight
//! panels (48 channels): 24 accumulators, 3 panel loads and 8 broadcasts
//! per 24 products. A Conv2d tile is one pixel panel × up to 6 weight
//! rows (`Dot::tile` of [`Avx512Vnni`](super::dot::Avx512Vnni)). The sums
//! leave through the AVX2 output stage, 16 lanes as two halves, so every
//! kind writes the same bits.

use std::arch::x86_64::*;

use super::{even_pieces, finish, Acc, ByteRows, PackedWeight, Sink, TileAt, NR};

/// The most activation rows of a Linear tile.
const MR_ZMM: usize = 8;
/// The most weight panels (16 channels each) of a Linear tile.
const PR_ZMM: usize = 3;

/// `R` rows × `P` panels of sums.
type AccZ<const R: usize, const P: usize> = [[__m512i; P]; R];

/// `Σ_q l_i[4q..4q+4] · panel_p[q]` for `R` broadcast rows against `P`
/// panels `stride` bytes apart (`ACT_LEFT`: the rows are the unsigned
/// side). Inlined into functions compiled with AVX512-VNNI.
#[inline(always)]
unsafe fn tile<const R: usize, const P: usize, const ACT_LEFT: bool>(
    l: [*const u8; R],
    panel: *const u8,
    stride: usize,
    kq: usize,
) -> AccZ<R, P> {
    let mut acc = [[_mm512_setzero_si512(); P]; R];
    let mut b = [_mm512_setzero_si512(); P];
    for q in 0..kq {
        for (p, b) in b.iter_mut().enumerate() {
            *b = _mm512_loadu_si512(panel.add(p * stride + q * 64).cast());
        }
        for (acc, row) in acc.iter_mut().zip(l) {
            let x = _mm512_set1_epi32(row.add(q * 4).cast::<i32>().read_unaligned());
            for (acc, &b) in acc.iter_mut().zip(&b) {
                *acc = if ACT_LEFT {
                    _mm512_dpbusd_epi32(*acc, x, b)
                } else {
                    _mm512_dpbusd_epi32(*acc, b, x)
                };
            }
        }
    }
    acc
}

/// Panel `p` of a tile as the AVX2 output stage takes it.
#[inline(always)]
unsafe fn halves<const R: usize, const P: usize>(acc: &AccZ<R, P>, p: usize) -> Acc<R> {
    let mut out = [[_mm256_setzero_si256(); 2]; R];
    for (o, a) in out.iter_mut().zip(acc) {
        o[0] = _mm512_castsi512_si256(a[p]);
        o[1] = _mm512_extracti64x4_epi64::<1>(a[p]);
    }
    out
}

/// A one-panel tile of `R` rows, as [`super::tile_u8`] gives it.
#[inline(always)]
pub(super) unsafe fn tile_one<const R: usize, const ACT_LEFT: bool>(
    l: [*const u8; R],
    panel: *const u8,
    kq: usize,
) -> Acc<R> {
    halves(&tile::<R, 1, ACT_LEFT>(l, panel, 0, kq), 0)
}

/// Linear, byte path: activation rows `rows` against weight panels
/// `panels` (the product is exact: nothing was clipped).
///
/// # Safety
/// The CPU has AVX512-F/BW/VL/VNNI and AVX2; rows and panels are in
/// range and every row can be read `kp` bytes long.
#[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn linear_u8(
    a: &ByteRows,
    rows: std::ops::Range<usize>,
    panels: std::ops::Range<usize>,
    w: &PackedWeight,
    sink: &Sink,
) {
    let (n, kq) = (w.n(), w.kp() / 4);
    let stride = kq * 64;
    for (p0, np) in even_pieces(panels.len(), PR_ZMM) {
        let jp = panels.start + p0;
        let panel = w.panels().as_ptr().add(jp * stride).cast::<u8>();
        for (r0, mr) in even_pieces(rows.len(), MR_ZMM) {
            let i = rows.start + r0;
            macro_rules! go {
                ($r:literal, $p:literal) => {{
                    let l: [*const u8; $r] = std::array::from_fn(|r| a.row(i + r));
                    let acc = tile::<$r, $p, true>(l, panel, stride, kq);
                    for p in 0..$p {
                        let ch = (jp + p) * NR;
                        let at = TileAt {
                            rows: mr,
                            cols: (n - ch).min(NR),
                            dst: i * n + ch,
                            stride: n,
                            ch,
                            per_row: false,
                        };
                        finish::<$r>(&halves(&acc, p), &at, sink);
                    }
                }};
            }
            macro_rules! rows {
                ($p:literal) => {
                    match mr {
                        1 => go!(1, $p),
                        2 => go!(2, $p),
                        3 => go!(3, $p),
                        4 => go!(4, $p),
                        5 => go!(5, $p),
                        6 => go!(6, $p),
                        7 => go!(7, $p),
                        _ => go!(8, $p),
                    }
                };
            }
            match np {
                1 => rows!(1),
                2 => rows!(2),
                _ => rows!(3),
            }
        }
    }
}
