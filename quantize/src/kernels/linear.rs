//! The Linear driver: activation rows `[m, k]` times packed weights
//! `[n, k]`ᵀ, split into blocks of rows and weight panels across the
//! thread team.

use std::cell::RefCell;

use torchlet_tensor::get_num_threads;

use super::{
    count_above_127, par_for, portable, split, Epilogue, Isa, PackedWeight, Padded, MR, NR,
};

/// The activations of one call as the byte path reads them: each row
/// where it is (rows of the input, or copies padded to a multiple of 4
/// and clipped at 127), and per row the excess `(t, a[i, t] - 127)` of
/// the clipped values, which the tiles add back.
#[derive(Default)]
pub(super) struct ByteRows {
    /// Row `i` starts at address `at[i]` (in the input or `copies`).
    at: Vec<usize>,
    copies: Vec<u8>,
    /// Row `i`'s excess is `excess[start[i]..start[i + 1]]` (no `start`
    /// when nothing was clipped).
    start: Vec<u32>,
    excess: Vec<(u32, i32)>,
    /// The i16 path's rows (`a - zero_point`).
    wide: Vec<i16>,
}

impl ByteRows {
    /// Where row `i` starts (`kp` bytes can be read).
    pub(super) fn row(&self, i: usize) -> *const u8 {
        self.at[i] as *const u8
    }

    /// The clipped excess of rows `rows`, one list per row (`None` when
    /// there is none).
    pub(super) fn excess(
        &self,
        rows: std::ops::Range<usize>,
    ) -> Option<impl Iterator<Item = &[(u32, i32)]>> {
        if self.start.is_empty() || self.start[rows.start] == self.start[rows.end] {
            return None;
        }
        Some(rows.map(|i| &self.excess[self.start[i] as usize..self.start[i + 1] as usize]))
    }

    /// The rows of `a` (`[m, k]`, `big` values above 127, clipped unless
    /// `exact`): in place when `k` is a multiple of 4 and the row has
    /// nothing to clip, else copied.
    fn fill(&mut self, a: &[u8], m: usize, k: usize, kp: usize, big: usize, exact: bool) {
        let big = if exact { 0 } else { big };
        let top = if exact { u8::MAX } else { 127 };
        self.copies.clear();
        self.start.clear();
        self.excess.clear();
        self.at.clear();
        // Offsets into `copies` (tagged) until it stops growing.
        const COPY: usize = 1 << (usize::BITS - 1);
        if k == 0 {
            // Nothing is read.
            self.at.resize(m, a.as_ptr() as usize);
            return;
        }
        for (i, src) in a.chunks_exact(k).enumerate().take(m) {
            let dirty = big > 0 && src.iter().fold(0u8, |acc, &v| acc | v) > 127;
            if big > 0 {
                self.start.push(self.excess.len() as u32);
            }
            if !dirty && kp == k {
                self.at.push(a[i * k..].as_ptr() as usize);
                continue;
            }
            self.at.push(COPY | self.copies.len());
            // Vectorizes; the excess is rare.
            self.copies.extend(src.iter().map(|&v| v.min(top)));
            self.copies.resize(self.copies.len() + kp - k, 0);
            if dirty {
                let excess = src.iter().enumerate().filter(|(_, &v)| v > 127);
                self.excess
                    .extend(excess.map(|(t, &v)| (t as u32, v as i32 - 127)));
            }
        }
        if big > 0 {
            self.start.push(self.excess.len() as u32);
        }
        let base = self.copies.as_ptr() as usize;
        for at in &mut self.at {
            if *at & COPY != 0 {
                *at = base + (*at & !COPY);
            }
        }
    }
}

thread_local! {
    /// Reused between calls on this thread.
    static ROWS: RefCell<ByteRows> = RefCell::default();
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
    // fix of 16 sums per weight panel) or the product is exact, the i16
    // path otherwise.
    let big = if w.has_zero_points() {
        usize::MAX
    } else if isa.exact_bytes() {
        0
    } else {
        count_above_127(a)
    };
    let byte_path = big <= m * k / 100;

    // The byte path takes the zero point out afterwards.
    let corr: Vec<i32> = if byte_path {
        w.zero_point_correction(a_zp)
    } else {
        Vec::new()
    };
    let mut pad = Padded::default();
    let sink = epi.sink(n, &corr, &mut pad);
    let kp = w.kp();
    let panels = n.div_ceil(NR);
    // Blocks: rows that fit L2, at least a few parts per thread.
    let l2_rows = (L2_BYTES / (kp.max(1) * if byte_path { 1 } else { 2 })).max(MR);
    let row_blocks = m
        .div_ceil(l2_rows)
        .max((4 * get_num_threads()).min(m.div_ceil(MR)));
    let col_blocks = (4 * get_num_threads()).div_ceil(row_blocks).min(panels);
    let (row_parts, rows) = split(m, row_blocks, MR);
    let (col_parts, cols) = split(panels, col_blocks, 1);
    let parts = row_parts * col_parts;
    let run = |a8: &ByteRows, a16: &[i16]| {
        par_for(parts, work, |p| {
            let (r, c) = (rows(p / col_parts), cols(p % col_parts));
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU runs `isa`; rows and panels are in range, so
            // every tile writes inside the output, and every row can be
            // read `kp` bytes long.
            unsafe {
                if byte_path {
                    super::avx2::linear_u8(isa, a8, r, c, w, &sink)
                } else {
                    super::avx2::linear_i16(a16, r, c, w, &sink)
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = (a8, a16, r, c);
        })
    };
    ROWS.with(|buf| {
        let mut guard = buf.try_borrow_mut();
        let mut fresh = ByteRows::default();
        let buf = guard.as_deref_mut().unwrap_or(&mut fresh);
        if byte_path {
            buf.fill(a, m, k, kp, big, isa.exact_bytes());
            run(buf, &[]);
        } else {
            buf.wide.clear();
            buf.wide.resize(m * kp, 0);
            portable::widen_rows(a, k, a_zp, &mut buf.wide, kp);
            run(&ByteRows::default(), &buf.wide);
        }
    });
}
