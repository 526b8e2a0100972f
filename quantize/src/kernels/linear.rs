//! The Linear driver: activation rows `[m, k]` times packed weights
//! `[n, k]`ᵀ, split into blocks of rows and weight panels across the
//! thread team.

use std::cell::RefCell;

use torchlet_tensor::get_num_threads;

use super::{
    count_above_127, par_for, portable, split, Epilogue, Isa, PackedWeight, Padded, MR, NR,
};

/// The activations of one call as the byte path reads them: rows padded
/// to a multiple of 4, values above 127 clipped, and per row the clipped
/// excess `(t, a[i, t] - 127)` the tiles add back.
#[derive(Default)]
pub(super) struct Clipped {
    bytes: Vec<u8>,
    wide: Vec<i16>,
    /// Row `i`'s excess is `excess[start[i]..start[i + 1]]`.
    start: Vec<u32>,
    excess: Vec<(u32, i32)>,
}

impl Clipped {
    /// The clipped excess of rows `rows` (`None` when there is none).
    pub(super) fn rows(
        &self,
        rows: std::ops::Range<usize>,
    ) -> Option<impl Iterator<Item = (usize, &[(u32, i32)])>> {
        if self.start.is_empty() || self.start[rows.start] == self.start[rows.end] {
            return None;
        }
        Some(rows.map(|i| {
            (
                i,
                &self.excess[self.start[i] as usize..self.start[i + 1] as usize],
            )
        }))
    }
}

thread_local! {
    /// Reused between calls on this thread.
    static CLIPPED: RefCell<Clipped> = RefCell::default();
}

/// Rows of activations kept in L2 while the weight panels pass over them.
const L2_BYTES: usize = 192 * 1024;

/// `epi(Σ_t (a[i, t] - a_zp) (w[j, t] - w_zp[j]))` for `a` `[m, k]` u8.
pub(crate) fn linear(isa: Isa, a: &[u8], m: usize, a_zp: i32, w: &PackedWeight, mut epi: Epilogue) {
    let (n, k) = (w.n(), w.k());
    assert_eq!(a.len(), m * k, "activations must hold m * k values");
    assert_eq!(epi.len(), m * n, "the output must hold m * n values");
    if m == 0 || n == 0 {
        return;
    }
    let work = m * n * k / 8;
    if isa == Isa::Portable {
        let mut pad = Padded::default();
        let sink = epi.sink(n, &[], &mut pad);
        let (parts, rows) = split(m, 4 * get_num_threads(), 1);
        par_for(parts, work, |p| {
            portable::linear_rows(a, a_zp, rows(p), w, &sink)
        });
        return;
    }
    // The byte path while values above 127 are rare (each costs a scalar
    // fix of 16 sums per weight panel), the i16 path otherwise.
    let big = if w.has_zero_points() {
        usize::MAX
    } else {
        count_above_127(a)
    };
    let byte_path = big <= m * k / 100;

    // Σ (a - z) w = Σ a w - z Σ w: the byte path takes z out afterwards.
    let corr: Vec<i32> = if byte_path {
        w.row_sums()
            .iter()
            .map(|&s| s.wrapping_mul(-a_zp))
            .collect()
    } else {
        Vec::new()
    };
    let mut pad = Padded::default();
    let sink = epi.sink(n, &corr, &mut pad);
    let kp = w.kp();
    let panels = n.div_ceil(NR);
    // Blocks: rows that fit L2, at least a few parts per thread.
    let l2_rows = (L2_BYTES / (kp * if byte_path { 1 } else { 2 })).max(MR);
    let row_blocks = m
        .div_ceil(l2_rows)
        .max((4 * get_num_threads()).min(m.div_ceil(MR)));
    let col_blocks = (4 * get_num_threads()).div_ceil(row_blocks).min(panels);
    let (row_parts, rows) = split(m, row_blocks, MR);
    let (col_parts, cols) = split(panels, col_blocks, 1);
    let parts = row_parts * col_parts;
    let run = |a8: &[u8], a16: &[i16], clipped: Option<&Clipped>| {
        par_for(parts, work, |p| {
            let (r, c) = (rows(p / col_parts), cols(p % col_parts));
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 is present (`isa`); rows and panels are in range,
            // so every tile writes inside the output.
            unsafe {
                if byte_path {
                    super::avx2::linear_u8(a8, r, c, w, clipped, &sink)
                } else {
                    super::avx2::linear_i16(a16, r, c, w, &sink)
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = (a8, a16, clipped, r, c);
        })
    };
    CLIPPED.with(|buf| {
        let mut guard = buf.try_borrow_mut();
        let mut fresh = Clipped::default();
        let buf = guard.as_deref_mut().unwrap_or(&mut fresh);
        if !byte_path {
            buf.wide.clear();
            buf.wide.resize(m * kp, 0);
            portable::widen_rows(a, k, a_zp, &mut buf.wide, kp);
            run(&[], &buf.wide, None);
        } else if big == 0 && kp == k {
            run(a, &[], None);
        } else {
            clip(a, m, k, kp, big, buf);
            run(&buf.bytes, &[], Some(&*buf));
        }
    });
}

/// Fills `buf` with `a`'s rows padded to `kp`, clipped at 127, and the
/// excess lists when `big` values are above 127.
fn clip(a: &[u8], m: usize, k: usize, kp: usize, big: usize, buf: &mut Clipped) {
    buf.bytes.clear();
    buf.bytes.resize(m * kp, 0);
    buf.start.clear();
    buf.excess.clear();
    for (dst, src) in buf.bytes.chunks_exact_mut(kp).zip(a.chunks_exact(k)) {
        if big == 0 {
            dst[..k].copy_from_slice(src);
            continue;
        }
        buf.start.push(buf.excess.len() as u32);
        // Both loops vectorize; the excess is rare.
        let mut any = 0u8;
        for (d, &v) in dst.iter_mut().zip(src) {
            any |= v;
            *d = v.min(127);
        }
        if any > 127 {
            for (t, &v) in src.iter().enumerate() {
                if v > 127 {
                    buf.excess.push((t as u32, v as i32 - 127));
                }
            }
        }
    }
    if big > 0 {
        buf.start.push(buf.excess.len() as u32);
    }
}
