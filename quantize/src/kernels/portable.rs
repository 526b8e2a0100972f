//! Scalar kernels: the fallback on CPUs without AVX2 and the reference
//! the AVX2 paths are tested against. They sum `(a - a_zp) (w - w_zp)`
//! directly in i32, so they need no zero-point corrections.

use std::ops::Range;

use super::conv::ConvShape;
use super::{PackedWeight, Sink, TileAt};

/// `a - zp` widened to i16, rows of `k` into rows of `kp` (zero-padded).
pub(super) fn widen_rows(a: &[u8], k: usize, zp: i32, out: &mut [i16], kp: usize) {
    for (dst, src) in out.chunks_exact_mut(kp).zip(a.chunks_exact(k.max(1))) {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = (v as i32 - zp) as i16;
        }
    }
}

fn dot(a: &[i16], b: &[i16]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
}

/// Linear outputs of rows `rows` into `sink`.
pub(super) fn linear_rows(a: &[u8], a_zp: i32, rows: Range<usize>, w: &PackedWeight, sink: &Sink) {
    let (n, k, kp) = (w.n(), w.k(), w.kp());
    let wide = &w.wide().rows;
    let mut row = vec![0i16; kp];
    for i in rows {
        widen_rows(&a[i * k..(i + 1) * k], k, a_zp, &mut row, kp);
        let at = TileAt {
            rows: 1,
            cols: n,
            dst: i * n,
            stride: n,
            ch: 0,
            per_row: false,
        };
        for j in 0..n {
            sink.put(&at, 0, j, dot(&row, &wide[j * kp..(j + 1) * kp]));
        }
    }
}

/// Conv2d outputs of image `b`, output rows `oy`, into `sink` (NCHW).
pub(super) fn conv_rows(
    x: &[u8],
    a_zp: i32,
    s: &ConvShape,
    b: usize,
    oy: Range<usize>,
    w: &PackedWeight,
    sink: &Sink,
) {
    let (n, kp) = (w.n(), w.kp());
    let wide = &w.wide().rows;
    let plane = s.oh * s.ow;
    let mut col = vec![0i16; kp];
    for y in oy {
        for xo in 0..s.ow {
            for (t, c) in col.iter_mut().enumerate().take(s.c * s.kh * s.kw) {
                let (ch, ky, kx) = (t / (s.kh * s.kw), t / s.kw % s.kh, t % s.kw);
                let iy = (y * s.stride[0] + ky * s.dilation[0]) as isize - s.padding[0] as isize;
                let ix = (xo * s.stride[1] + kx * s.dilation[1]) as isize - s.padding[1] as isize;
                let inside = (0..s.h as isize).contains(&iy) && (0..s.w as isize).contains(&ix);
                *c = if inside {
                    (x[((b * s.c + ch) * s.h + iy as usize) * s.w + ix as usize] as i32 - a_zp)
                        as i16
                } else {
                    0 // the zero point's padding is real zero
                };
            }
            let at = TileAt {
                rows: n,
                cols: 1,
                dst: b * n * plane + y * s.ow + xo,
                stride: plane,
                ch: 0,
                per_row: true,
            };
            for o in 0..n {
                sink.put(&at, o, 0, dot(&col, &wide[o * kp..(o + 1) * kp]));
            }
        }
    }
}
