//! Elementwise loops on quantized data: quantize, dequantize,
//! requantize and 2-D max pooling, vectorized and split across the
//! thread team (each element is computed alone, so any split gives the
//! same bits).

use torchlet_tensor::parallel_split_mut;

use super::{par_for, split, Epilogue, Isa, Padded, TileAt};
use crate::qtensor::quantize_value;

/// Elements a part of an elementwise loop takes.
const CHUNK: usize = 1 << 14;

/// Calls `f(offset, piece)` on pieces of `out` of [`CHUNK`] elements,
/// across the team when `out` is large.
fn par_chunks<T: Send>(out: &mut [T], f: impl Fn(usize, &mut [T]) + Sync) {
    let len = out.len();
    let bounds: Vec<usize> = (0..=len.div_ceil(CHUNK))
        .map(|i| (i * CHUNK).min(len))
        .collect();
    parallel_split_mut(out, &bounds, len, |p, piece| f(bounds[p], piece))
        .expect("chunk bounds cut the output");
}

/// How many bytes are 128 or more (the byte GEMM path clips them to 127
/// and adds the excess back).
pub(crate) fn count_above_127(a: &[u8]) -> usize {
    // Whole chunks OR'ed first (the common answer is 0); u16 counts.
    a.chunks(4096)
        .filter(|c| c.iter().fold(0u8, |acc, &v| acc | v) > 127)
        .map(|c| c.iter().map(|&v| (v >> 7) as u16).sum::<u16>() as usize)
        .sum()
}

/// The smallest and largest non-NaN values (`f32::min`/`max` folded
/// from infinities; which zero a ±0 tie gives may differ, and nothing
/// downstream tells them apart).
pub(crate) fn min_max(isa: Isa, x: &[f32]) -> (f32, f32) {
    let (mut lo, mut hi, mut done) = (f32::INFINITY, f32::NEG_INFINITY, 0);
    #[cfg(target_arch = "x86_64")]
    if isa.avx2() {
        // SAFETY: AVX2 is present (`isa`).
        (lo, hi, done) = unsafe { super::avx2::min_max(x) };
    }
    let _ = isa;
    for &v in &x[done..] {
        (lo, hi) = (lo.min(v), hi.max(v));
    }
    (lo, hi)
}

/// The integers a quantization writes.
pub(crate) enum QuantOut<'a> {
    /// quint8.
    U8(&'a mut [u8]),
    /// qint8.
    I8(&'a mut [i8]),
    /// qint32.
    I32(&'a mut [i32]),
}

/// `out[i] = quantize_value(x[i], inv, zp, qmin, qmax)`.
pub(crate) fn quantize_into(
    isa: Isa,
    x: &[f32],
    inv: f32,
    zp: i64,
    range: (i64, i64),
    out: QuantOut,
) {
    let (qmin, qmax) = range;
    let one = |v: f32| quantize_value(v, inv, zp, qmin, qmax);
    // The vector form needs NaN products to come from NaN inputs only.
    let simd = isa != Isa::Portable && inv.is_finite() && inv != 0.0;
    match out {
        QuantOut::U8(out) => par_chunks(out, |at, piece| {
            let x = &x[at..at + piece.len()];
            let done = if simd {
                bytes::<false>(x, inv, zp, range, piece)
            } else {
                0
            };
            for (d, &v) in piece[done..].iter_mut().zip(&x[done..]) {
                *d = one(v) as u8;
            }
        }),
        QuantOut::I8(out) => par_chunks(out, |at, piece| {
            let x = &x[at..at + piece.len()];
            // SAFETY: i8 and u8 have one layout; the bytes are two's complement.
            let raw = unsafe {
                std::slice::from_raw_parts_mut(piece.as_mut_ptr().cast::<u8>(), piece.len())
            };
            let done = if simd {
                bytes::<true>(x, inv, zp, range, raw)
            } else {
                0
            };
            for (d, &v) in piece[done..].iter_mut().zip(&x[done..]) {
                *d = one(v) as i8;
            }
        }),
        QuantOut::I32(out) => par_chunks(out, |at, piece| {
            for (d, &v) in piece.iter_mut().zip(&x[at..]) {
                *d = one(v) as i32;
            }
        }),
    }
}

/// The AVX2 byte quantization (none elsewhere); returns how many it did.
fn bytes<const SIGNED: bool>(
    x: &[f32],
    inv: f32,
    zp: i64,
    (qmin, qmax): (i64, i64),
    out: &mut [u8],
) -> usize {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: only called when `Isa::detect` found AVX2.
    return unsafe {
        super::avx2::quantize_bytes::<SIGNED>(x, inv, zp as f32, (qmin as f32, qmax as f32), out)
    };
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, inv, zp, qmin, qmax, out);
        0
    }
}

/// `out[i] = scale * (q[i] - zp)` (f32) for per-tensor quint8 / qint8.
pub(crate) fn dequantize_into(
    isa: Isa,
    q: &[u8],
    signed: bool,
    scale: f32,
    zp: i32,
    out: &mut [f32],
) {
    let one = |v: u8| {
        let v = if signed { v as i8 as i64 } else { v as i64 };
        scale * (v - zp as i64) as f32
    };
    par_chunks(out, |at, piece| {
        let q = &q[at..at + piece.len()];
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if isa.avx2() {
            // SAFETY: AVX2 is present (`isa`).
            done = unsafe {
                if signed {
                    super::avx2::dequantize_bytes::<true>(q, scale, zp, piece)
                } else {
                    super::avx2::dequantize_bytes::<false>(q, scale, zp, piece)
                }
            };
        }
        let _ = isa;
        for (d, &v) in piece[done..].iter_mut().zip(&q[done..]) {
            *d = one(v);
        }
    });
}

/// The [`Epilogue`] of sums `[m, n]` already in memory.
pub(super) fn requantize_rows(isa: Isa, acc: &[i32], n: usize, mut epi: Epilogue) {
    if acc.is_empty() || n == 0 {
        return;
    }
    let m = acc.len() / n;
    let mut pad = Padded::default();
    let sink = epi.sink(n, &[], &mut pad);
    let (parts, rows) = split(m, m.div_ceil(CHUNK / n.max(1)).max(1), 1);
    par_for(parts, acc.len(), |p| {
        let r = rows(p);
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if isa.avx2() {
            // SAFETY: AVX2 is present; the rows are inside `acc` and the output.
            done = unsafe {
                super::avx2::requantize_rows(&acc[r.start * n..r.end * n], n, r.start, &sink)
            };
        }
        let _ = isa;
        for i in r {
            let at = TileAt {
                rows: 1,
                cols: n,
                dst: i * n,
                stride: n,
                ch: 0,
                per_row: false,
            };
            for j in done..n {
                sink.put(&at, 0, j, acc[i * n + j]);
            }
        }
    });
}

/// Max pooling of `planes` planes `[h, w]` into `[oh, ow]` each (padding
/// never wins: it is skipped).
#[allow(clippy::too_many_arguments)]
pub(crate) fn max_pool2d_into(
    isa: Isa,
    x: &[u8],
    (h, w): (usize, usize),
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    (oh, ow): (usize, usize),
    out: &mut [u8],
) {
    let planes = out.len() / (oh * ow).max(1);
    let per = (CHUNK / (h * w).max(1)).max(1);
    let bounds: Vec<usize> = (0..=planes.div_ceil(per))
        .map(|i| (i * per).min(planes) * oh * ow)
        .collect();
    let geom = Pool {
        h,
        w,
        ow,
        kernel,
        stride,
        padding,
    };
    parallel_split_mut(out, &bounds, x.len(), |p, piece| {
        let first = p * per;
        for (i, o) in piece.chunks_exact_mut(oh * ow).enumerate() {
            let plane = &x[(first + i) * h * w..][..h * w];
            #[cfg(target_arch = "x86_64")]
            if isa.avx2() {
                // SAFETY: AVX2 is present (`isa`); a 2×2 step-2 window
                // reads rows 2·oy and 2·oy + 1 < h, columns < 2·ow <= w.
                unsafe {
                    if kernel == [2, 2] && stride == [2, 2] && padding == [0, 0] {
                        super::avx2::max_pool_2x2(plane, w, o, ow)
                    } else {
                        pool_plane_avx2(plane, &geom, o)
                    }
                };
                continue;
            }
            let _ = isa;
            pool_plane(plane, &geom, o);
        }
    })
    .expect("plane bounds cut the output");
}

/// A pooling window's geometry.
struct Pool {
    h: usize,
    w: usize,
    ow: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pool_plane_avx2(plane: &[u8], g: &Pool, out: &mut [u8]) {
    pool_plane(plane, g, out)
}

/// One plane: the window rows' maximum per column first (vectorizes),
/// then each window's maximum along the row (the common 2×2 step 2
/// without padding as pairs, which vectorizes too).
#[inline(always)]
fn pool_plane(plane: &[u8], g: &Pool, out: &mut [u8]) {
    let w = g.w;
    let mut stack = [0u8; 512];
    let mut heap = Vec::new();
    let col_max: &mut [u8] = if w <= stack.len() {
        &mut stack[..w]
    } else {
        heap.resize(w, 0);
        &mut heap
    };
    for (oy, orow) in out.chunks_exact_mut(g.ow).enumerate() {
        let y0 = (oy * g.stride[0]).saturating_sub(g.padding[0]);
        let y1 = (oy * g.stride[0] + g.kernel[0])
            .saturating_sub(g.padding[0])
            .min(g.h);
        col_max.fill(0);
        for row in plane[y0 * w..y1 * w].chunks_exact(w) {
            for (m, &v) in col_max.iter_mut().zip(row) {
                *m = (*m).max(v);
            }
        }
        if g.kernel[1] == 2 && g.stride[1] == 2 && g.padding[1] == 0 {
            for (o, pair) in orow.iter_mut().zip(col_max.chunks_exact(2)) {
                *o = pair[0].max(pair[1]);
            }
            continue;
        }
        for (ox, o) in orow.iter_mut().enumerate() {
            let x0 = (ox * g.stride[1]).saturating_sub(g.padding[1]);
            let x1 = (ox * g.stride[1] + g.kernel[1])
                .saturating_sub(g.padding[1])
                .min(w);
            *o = col_max[x0..x1].iter().fold(0, |a, &b| a.max(b));
        }
    }
}
