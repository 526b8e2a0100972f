//! The Conv2d tile loops of the AVX2 path and their panel packing.

use std::arch::x86_64::*;

use super::dot::Dot;
use super::{finish, patch, row_tiles, tile_i16};
use crate::kernels::conv::Block;
use crate::kernels::{Sink, SinkKind, TileAt, NR};

/// Where the 16 pixels of a panel go: runs of lanes `(lane, len, out)`
/// (output pixel `out` of the band), and which lanes are real pixels.
struct Runs {
    runs: [(usize, usize, usize); NR],
    count: usize,
    valid: u32,
}

impl Runs {
    fn new(block: &Block, e0: usize) -> Runs {
        let mut r = Runs {
            runs: [(0, 0, 0); NR],
            count: 0,
            valid: 0,
        };
        let (end, mut e) = ((e0 + NR).min(block.px), e0);
        while e < end {
            let (row, x) = (e / block.pitch, e % block.pitch);
            if x >= block.ow {
                e += block.pitch - x;
                continue;
            }
            let len = (block.ow - x).min(end - e);
            r.runs[r.count] = (e - e0, len, row * block.ow + x);
            r.count += 1;
            r.valid |= ((1u32 << len) - 1) << (e - e0);
            e += len;
        }
        r
    }

    /// The single run of a panel whose pixels are consecutive outputs.
    fn contiguous(&self) -> Option<(usize, usize)> {
        (self.count == 1 && self.runs[0].0 == 0).then(|| (self.runs[0].1, self.runs[0].2))
    }
}

/// A tile's rows `rows` × the panel's runs: stored directly when the
/// pixels are consecutive outputs, else through a 16-byte row buffer.
/// Channel `c`'s pixel `p` goes to `dst + c * plane + p`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store<const R: usize>(
    acc: &[[__m256i; 2]; R],
    runs: &Runs,
    (r0, rows): (usize, usize),
    (dst, plane): (usize, usize),
    sink: &Sink,
) {
    if let Some((cols, out)) = runs.contiguous() {
        let at = TileAt {
            rows,
            cols,
            dst: dst + r0 * plane + out,
            stride: plane,
            ch: r0,
            per_row: true,
        };
        return finish::<R>(acc, &at, sink);
    }
    let SinkKind::U8 { ptr, .. } = sink.kind else {
        unreachable!("convolutions requantize to quint8");
    };
    let mut tmp = [[0u8; NR]; R];
    let local = sink.with_bytes(tmp.as_mut_ptr().cast());
    let at = TileAt {
        rows,
        cols: NR,
        dst: 0,
        stride: NR,
        ch: r0,
        per_row: true,
    };
    finish::<R>(acc, &at, &local);
    for (r, row) in tmp.iter().enumerate().take(rows) {
        for &(lane, len, out) in &runs.runs[..runs.count] {
            let d = ptr.add(dst + (r0 + r) * plane + out);
            std::ptr::copy_nonoverlapping(row.as_ptr().add(lane), d, len);
        }
    }
}

/// Conv2d, byte path with product `D`: the block's pixels against all
/// `n` weight rows (`[n][kp]` s8; u8 activations clipped at 127 unless
/// `D` is exact); a band's output pixel `p` of channel `c` goes to
/// `dst + c * plane + p`. `panel` is scratch of `kp * 16` bytes.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) unsafe fn conv_u8_with<D: Dot>(
    block: &Block,
    w: &[i8],
    kp: usize,
    n: usize,
    dst: usize,
    plane: usize,
    panel: &mut [u8],
    sink: &Sink,
) {
    debug_assert!(panel.len() >= kp * NR && block.offs.len() >= kp);
    let kq = kp / 4;
    let mut fixes = Vec::new();
    for e0 in (0..block.px).step_by(NR) {
        let runs = Runs::new(block, e0);
        fixes.clear();
        if pack_panel_u8(block, e0, kq, panel.as_mut_ptr()) && !D::EXACT {
            clip_panel(&mut panel[..kq * 64], runs.valid, &mut fixes);
        }
        for (r0, mr) in row_tiles(n) {
            // (x - 127) w[c, t] for each clipped x, one pixel at a time.
            let fix = |t: &mut [[i32; NR]]| {
                for &(tk, px, e) in &fixes {
                    for (r, row) in t.iter_mut().enumerate().take(mr) {
                        let wv = w[(r0 + r) * kp + tk as usize] as i32;
                        row[px as usize] = row[px as usize].wrapping_add(e * wv);
                    }
                }
            };
            macro_rules! go {
                ($r:literal) => {{
                    let l = std::array::from_fn(|r| w.as_ptr().add((r0 + r) * kp).cast::<u8>());
                    let acc = D::tile::<$r, false>(l, panel.as_ptr(), kq);
                    let acc = if fixes.is_empty() {
                        acc
                    } else {
                        patch::<$r>(acc, |t| fix(t))
                    };
                    store::<$r>(&acc, &runs, (r0, mr), (dst, plane), sink)
                }};
            }
            with_rows!(mr, go);
        }
    }
}

/// Clips a packed panel's bytes above 127 and lists, for its `valid`
/// lanes, each one's `(t, pixel, excess)`, 32 bytes at a time (a dirty
/// panel usually holds one or two such bytes).
#[target_feature(enable = "avx2")]
unsafe fn clip_panel(panel: &mut [u8], valid: u32, fixes: &mut Vec<(u32, u32, i32)>) {
    let top = _mm256_set1_epi8(127);
    for (c, chunk) in panel.chunks_exact_mut(32).enumerate() {
        let v = _mm256_loadu_si256(chunk.as_ptr().cast());
        let mut big = _mm256_movemask_epi8(v) as u32;
        if big == 0 {
            continue;
        }
        while big != 0 {
            let b = big.trailing_zeros() as usize;
            big &= big - 1;
            let i = c * 32 + b;
            let (q, px, j) = (i / 64, i % 64 / 4, i % 4);
            if valid & (1 << px) != 0 {
                fixes.push(((4 * q + j) as u32, px as u32, chunk[b] as i32 - 127));
            }
        }
        _mm256_storeu_si256(chunk.as_mut_ptr().cast(), _mm256_min_epu8(v, top));
    }
}

/// Conv2d, i16 path: as [`conv_u8`] with `x - zero_point` widened into
/// the panel (`kp * 32` bytes) and the i16 weight rows.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
pub(in crate::kernels) unsafe fn conv_i16(
    block: &Block,
    zero_point: i32,
    w: &[i16],
    kp: usize,
    n: usize,
    dst: usize,
    plane: usize,
    panel: &mut [u8],
    sink: &Sink,
) {
    debug_assert!(panel.len() >= kp * NR * 2 && block.offs.len() >= kp);
    let pairs = kp / 2;
    let panel = panel.as_mut_ptr().cast::<i16>();
    for e0 in (0..block.px).step_by(NR) {
        let runs = Runs::new(block, e0);
        pack_panel_i16(block, e0, pairs, zero_point, panel);
        for (r0, mr) in row_tiles(n) {
            let l = w.as_ptr().add(r0 * kp);
            macro_rules! go {
                ($r:literal) => {{
                    let acc = tile_i16::<$r>(l, kp, panel, pairs);
                    store::<$r>(&acc, &runs, (r0, mr), (dst, plane), sink)
                }};
            }
            with_rows!(mr, go);
        }
    }
}

/// Pixels `e0..e0 + 16` of the block's `4 kq` rows → `[kq][16][4]` (a
/// 4 × 16 byte transpose per quad); returns whether any byte is above
/// 127.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn pack_panel_u8(block: &Block, e0: usize, kq: usize, out: *mut u8) -> bool {
    let src = block.src.as_ptr().add(e0);
    let mut any = _mm_setzero_si128();
    for q in 0..kq {
        let row = |j: usize| _mm_loadu_si128(src.add(block.offs[4 * q + j] as usize).cast());
        let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
        any = _mm_or_si128(
            any,
            _mm_or_si128(_mm_or_si128(r0, r1), _mm_or_si128(r2, r3)),
        );
        let (t0, t1) = (_mm_unpacklo_epi8(r0, r1), _mm_unpackhi_epi8(r0, r1));
        let (t2, t3) = (_mm_unpacklo_epi8(r2, r3), _mm_unpackhi_epi8(r2, r3));
        let o = out.add(q * 64);
        _mm_storeu_si128(o.cast(), _mm_unpacklo_epi16(t0, t2));
        _mm_storeu_si128(o.add(16).cast(), _mm_unpackhi_epi16(t0, t2));
        _mm_storeu_si128(o.add(32).cast(), _mm_unpacklo_epi16(t1, t3));
        _mm_storeu_si128(o.add(48).cast(), _mm_unpackhi_epi16(t1, t3));
    }
    _mm_movemask_epi8(any) != 0
}

/// Pixels `e0..e0 + 16` of the block's `2 pairs` rows → `[pairs][16][2]`
/// i16 of `value - zp`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn pack_panel_i16(block: &Block, e0: usize, pairs: usize, zp: i32, out: *mut i16) {
    let src = block.src.as_ptr().add(e0);
    let z = _mm256_set1_epi16(zp as i16);
    for u in 0..pairs {
        let widen = |j: usize| {
            let r = _mm_loadu_si128(src.add(block.offs[2 * u + j] as usize).cast());
            _mm256_sub_epi16(_mm256_cvtepu8_epi16(r), z)
        };
        let (a, b) = (widen(0), widen(1));
        // unpack works within 128-bit lanes: pixels 0-3 | 8-11 and 4-7 | 12-15.
        let (lo, hi) = (_mm256_unpacklo_epi16(a, b), _mm256_unpackhi_epi16(a, b));
        let o = out.add(u * 32);
        _mm256_storeu_si256(o.cast(), _mm256_permute2x128_si256::<0x20>(lo, hi));
        _mm256_storeu_si256(o.add(16).cast(), _mm256_permute2x128_si256::<0x31>(lo, hi));
    }
}
