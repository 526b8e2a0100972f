//! The Conv2d driver. Each part takes a band of output rows of one image
//! and copies its input with the zero-point padding; the tiles read a
//! k-major block from it (row `t = (c, ky, kx)` holds the input each
//! output pixel multiplies), packed 16 pixels at a time and multiplied
//! by every weight row, so each tile row is 16 pixels of one NCHW output
//! channel, requantized and stored in place (no transpose).
//!
//! With step 1 the block needs no copy at all: over an extended grid of
//! `padded width` pixels a row, row `t` is the padded input itself from
//! offset `(c, ky, kx)`; the `kw - 1` extra pixels a row are computed
//! and dropped. Other steps copy the block (im2col).

use std::ops::Range;

use torchlet_tensor::get_num_threads;

use super::{
    count_above_127, par_for, portable, with_scratch, Epilogue, Isa, PackedWeight, Padded, NR,
};

/// A convolution's geometry (groups 1).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvShape {
    /// Batch.
    pub nb: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Step (y, x).
    pub stride: [usize; 2],
    /// Zero padding (y, x).
    pub padding: [usize; 2],
    /// Dilation (y, x).
    pub dilation: [usize; 2],
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

/// The im2col block of a band stays in L2.
const BLOCK_BYTES: usize = 96 * 1024;

/// A band's k-major block as the tiles read it: row `t` starts at
/// `src[offs[t]]` (16 bytes past any pixel can be read); pixel `e` is the
/// band's output pixel `(e / pitch) * ow + e % pitch`, or nothing when
/// `e % pitch >= ow`.
pub(crate) struct Block<'a> {
    pub(super) src: &'a [u8],
    pub(super) offs: &'a [u32],
    /// Pixels to compute.
    pub(super) px: usize,
    pub(super) pitch: usize,
    pub(super) ow: usize,
}

/// `epi` of the convolution of `x` (`[N, C, H, W]` u8, zero point `a_zp`)
/// with `w` (`[O, C·kh·kw]`); the epilogue (a requantization) writes
/// `[N, O, OH, OW]`.
pub(crate) fn conv2d(
    isa: Isa,
    x: &[u8],
    a_zp: i32,
    s: &ConvShape,
    w: &PackedWeight,
    mut epi: Epilogue,
) {
    let (n, k) = (w.n(), w.k());
    let plane = s.oh * s.ow;
    assert_eq!(k, s.c * s.kh * s.kw, "the weight must be [O, C, kh, kw]");
    assert_eq!(
        x.len(),
        s.nb * s.c * s.h * s.w,
        "the input must be [N, C, H, W]"
    );
    assert_eq!(
        epi.len(),
        s.nb * n * plane,
        "the output must be [N, O, OH, OW]"
    );
    assert!(
        matches!(epi, Epilogue::Requant { .. }),
        "convolutions requantize"
    );
    if epi.len() == 0 {
        return;
    }
    // With an exact product any bytes go. Else the byte path pads with
    // the zero point, so it must be below 128; inputs above 127 are
    // clipped and fixed per tile, while they are rare.
    let byte_path = isa != Isa::Portable
        && !w.has_zero_points()
        && (isa.exact_bytes() || (a_zp < 128 && count_above_127(x) <= x.len() / 200));
    let corr: Vec<i32> = if byte_path {
        w.zero_point_correction(a_zp)
    } else {
        Vec::new()
    };
    let mut pad = Padded::default();
    let sink = epi.sink(n, &corr, &mut pad);
    // Bands of output rows: small enough for L2, enough for the team.
    let kp = w.kp();
    let max_rows = (BLOCK_BYTES / kp.max(1) / s.ow.max(1)).max(1);
    let want = (4 * get_num_threads()).div_ceil(s.nb);
    let bands = s.oh.div_ceil(max_rows).max(want).min(s.oh);
    let band_rows = s.oh.div_ceil(bands);
    let bands = s.oh.div_ceil(band_rows);
    let work = s.nb * plane * n * k / 8;
    if !byte_path {
        // Build the i16 forms now, not inside the parallel parts.
        w.wide();
    }
    par_for(s.nb * bands, work, |u| {
        let (b, band) = (u / bands, u % bands);
        let oy = band * band_rows..((band + 1) * band_rows).min(s.oh);
        if isa == Isa::Portable {
            return portable::conv_rows(x, a_zp, s, b, oy, w, &sink);
        }
        let dst = b * n * plane + oy.start * s.ow;
        with_block(x, a_zp, s, b, oy, kp, |block, panel| {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU runs `isa`; the block can be read 16 bytes
            // past each pixel, and the band's tiles write inside image
            // `b`'s output.
            unsafe {
                if byte_path {
                    let wr = w.rows();
                    super::avx2::conv_u8(isa, block, wr, kp, n, dst, plane, panel, &sink)
                } else {
                    let wr = &w.wide().rows;
                    super::avx2::conv_i16(block, a_zp, wr, kp, n, dst, plane, panel, &sink)
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = (block, panel, dst);
        });
    });
}

/// Builds the k-major block of output rows `oy` of image `b` in this
/// thread's scratch and calls `f(block, panel scratch)`.
fn with_block(
    x: &[u8],
    a_zp: i32,
    s: &ConvShape,
    b: usize,
    oy: Range<usize>,
    kp: usize,
    f: impl FnOnce(&Block, &mut [u8]),
) {
    let k = s.c * s.kh * s.kw;
    let rows = band_rows(s, &oy);
    let wp = s.w + 2 * s.padding[1];
    // The padded band, then 64 bytes of slack for reads past its end.
    let padded = s.c * rows.len() * wp;
    let direct = s.stride == [1, 1];
    let (px, pitch) = if direct {
        ((oy.len() - 1) * wp + s.ow, wp)
    } else {
        (oy.len() * s.ow, s.ow)
    };
    let px16 = px.div_ceil(NR) * NR;
    // Rows past k read zeros (the copied block has its own).
    let zeros = if direct { px16 + NR } else { 0 };
    let stride = px16 + 32;
    let cols = if direct { 0 } else { kp * stride };
    let panel = kp * NR * 2;
    with_scratch(padded + 64 + zeros + cols + panel, kp, |buf, offs| {
        let (src, panel) = buf.split_at_mut(padded + 64 + zeros + cols);
        pad_band(x, a_zp, s, b, &rows, &mut src[..padded + 64]);
        if direct {
            src[padded + 64..].fill(0);
            for (t, o) in offs.iter_mut().enumerate() {
                let (c, ky, kx) = (t / (s.kh * s.kw), t / s.kw % s.kh, t % s.kw);
                let at = (c * rows.len() + ky * s.dilation[0]) * wp + kx * s.dilation[1];
                let at = if t < k { at } else { padded + 64 };
                *o = u32::try_from(at).expect("a band's block fits 4 GiB");
            }
        } else {
            let (padded, cols) = src.split_at_mut(padded + 64);
            im2col(padded, s, &oy, rows.len(), cols, stride, kp);
            for (t, o) in offs.iter_mut().enumerate() {
                *o = u32::try_from(padded.len() + t * stride).expect("a band's block fits 4 GiB");
            }
        }
        let block = Block {
            src,
            offs,
            px,
            pitch,
            ow: s.ow,
        };
        f(&block, panel)
    })
}

/// Input rows (padded coordinates) that output rows `oy` read.
fn band_rows(s: &ConvShape, oy: &Range<usize>) -> Range<usize> {
    oy.start * s.stride[0]..(oy.end - 1) * s.stride[0] + (s.kh - 1) * s.dilation[0] + 1
}

/// Copies input rows `rows` (padded coordinates) of image `b`, every
/// channel, with the zero point around them (`[C][rows][W + 2 pw]`).
fn pad_band(x: &[u8], a_zp: i32, s: &ConvShape, b: usize, rows: &Range<usize>, out: &mut [u8]) {
    let wp = s.w + 2 * s.padding[1];
    out.fill(a_zp as u8);
    for c in 0..s.c {
        for (r, py) in rows.clone().enumerate() {
            let Some(iy) = py.checked_sub(s.padding[0]).filter(|&iy| iy < s.h) else {
                continue;
            };
            let src = &x[((b * s.c + c) * s.h + iy) * s.w..][..s.w];
            out[(c * rows.len() + r) * wp + s.padding[1]..][..s.w].copy_from_slice(src);
        }
    }
}

/// The copied k-major block (steps other than 1) of output rows `oy`
/// from the padded band (`rows` input rows a channel); rows `k..kp` are
/// 0.
fn im2col(
    padded: &[u8],
    s: &ConvShape,
    oy: &Range<usize>,
    rows: usize,
    cols: &mut [u8],
    stride: usize,
    kp: usize,
) {
    let k = s.c * s.kh * s.kw;
    let wp = s.w + 2 * s.padding[1];
    for (t, row) in cols.chunks_exact_mut(stride).enumerate().take(kp) {
        if t >= k {
            row.fill(0);
            continue;
        }
        let (c, ky, kx) = (t / (s.kh * s.kw), t / s.kw % s.kh, t % s.kw);
        let base = (c * rows + ky * s.dilation[0]) * wp + kx * s.dilation[1];
        for r in 0..oy.len() {
            let src = &padded[base + r * s.stride[0] * wp..];
            for (ox, d) in row[r * s.ow..(r + 1) * s.ow].iter_mut().enumerate() {
                *d = src[ox * s.stride[1]];
            }
        }
    }
}
