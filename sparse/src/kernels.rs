//! The sparse × dense kernels: SpMM (`out = A B`, A in compressed rows)
//! and SDDMM (`out[p] = x[row p] · y[col p]` at A's entries), and the
//! dense transpose SDDMM needs.
//!
//! Rows are split across the thread team in parts of equal work
//! (non-zeros × width, plus the row's own output), not equal row counts:
//! on a power-law graph a few rows hold most of the edges. Each output
//! row is computed by one part in a fixed order, so results never depend
//! on the thread count.
//!
//! f32 on x86-64 CPUs with AVX2 and FMA (checked at run time) runs
//! hand-written kernels: SpMM keeps up to 64 output columns in 8 vector
//! registers while it walks a row's entries, with fused multiply-adds,
//! and both kernels prefetch the dense rows a few entries ahead (the
//! column indices say which rows come next; the gathers are what these
//! kernels wait on). Everything else (f64, other CPUs) runs portable loops
//! compiled for the baseline target and, where AVX2 is there, for AVX2.
//! The two paths may differ in the last bits (fused versus separate
//! multiply-add), never with the thread count.

use std::mem::MaybeUninit;

use torchlet_tensor::{get_num_threads, parallel_split_mut, would_parallelize, DType, Float};

use crate::pattern::Csr;

/// Output columns kept in registers at once by the portable SpMM loop.
const BLOCK: usize = 32;

/// Row bounds (`0 = b0 < b1 < ... = rows`) splitting the rows into at
/// most `parts` runs of about equal `nnz * width + width` work.
pub(crate) fn balanced_rows(crow: &[usize], width: usize, parts: usize) -> Vec<usize> {
    let rows = crow.len() - 1;
    let cost = |i: usize| (crow[i] * width + i * width) as f64;
    let total = cost(rows);
    let parts = parts.clamp(1, rows.max(1));
    let mut bounds = vec![0];
    let mut i = 0;
    for k in 1..parts {
        let goal = total * k as f64 / parts as f64;
        // First row boundary whose cumulative cost reaches the goal.
        let (mut lo, mut hi) = (i, rows);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if cost(mid) < goal {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo > i && lo < rows {
            bounds.push(lo);
            i = lo;
        }
    }
    bounds.push(rows);
    bounds
}

/// How many parts to split `work` multiply-adds into.
fn parts_for(work: usize) -> usize {
    if would_parallelize(work) {
        get_num_threads() * 4
    } else {
        1
    }
}

/// Whether `T` is f32 and this CPU runs the AVX2+FMA f32 kernels.
#[inline]
fn simd_f32<T: Float>() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        T::DTYPE == DType::F32
            && std::mem::size_of::<T>() == 4
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `s` as f32 (callers check [`simd_f32`] first).
///
/// # Safety
/// `T` must be `f32`.
#[cfg(target_arch = "x86_64")]
unsafe fn as_f32<T>(s: &[T]) -> &[f32] {
    std::slice::from_raw_parts(s.as_ptr().cast(), s.len())
}

/// `s` as uninitialized f32 (callers check [`simd_f32`] first).
///
/// # Safety
/// `T` must be `f32`.
#[cfg(target_arch = "x86_64")]
unsafe fn as_f32_mut<T>(s: &mut [MaybeUninit<T>]) -> &mut [MaybeUninit<f32>] {
    std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), s.len())
}

/// The values in entry order: `vals` itself when the pattern's entries
/// are in value order, else gathered through `csr.perm` once (in
/// parallel), so the kernels read them sequentially.
fn entry_values<'a, T: Float>(csr: &Csr, vals: &'a [T]) -> std::borrow::Cow<'a, [T]> {
    let Some(perm) = &csr.perm else {
        return std::borrow::Cow::Borrowed(vals);
    };
    let nnz = perm.len();
    let mut out: Vec<T> = Vec::with_capacity(nnz);
    let parts = parts_for(nnz).min(nnz.max(1));
    let bounds: Vec<usize> = (0..=parts).map(|k| k * nnz / parts).collect();
    parallel_split_mut(
        &mut out.spare_capacity_mut()[..nnz],
        &bounds,
        nnz,
        |part, piece| {
            for (o, &v) in piece.iter_mut().zip(&perm[bounds[part]..]) {
                o.write(vals[v]);
            }
        },
    )
    .expect("even bounds cut the output");
    // SAFETY: the parts cover 0..nnz and wrote every element.
    unsafe { out.set_len(nnz) };
    std::borrow::Cow::Owned(out)
}

/// `out = A B` where `A` (`rows × cols`, values `vals` reached through
/// `csr.perm`) is sparse and `b` is dense `[cols, n]` row-major; `out` is
/// `[rows, n]`, every element written.
pub(crate) fn spmm<T: Float>(csr: &Csr, vals: &[T], b: &[T], n: usize, out: &mut [MaybeUninit<T>]) {
    // These checks (and the pattern's: columns below `cols`, a
    // permutation of the values) keep the unchecked reads in bounds.
    assert_eq!(vals.len(), csr.col.len(), "one value per entry");
    assert_eq!(b.len(), csr.cols * n, "dense operand [cols, n]");
    assert_eq!(out.len(), csr.rows * n, "output [rows, n]");
    if n == 0 {
        return;
    }
    let vals = entry_values(csr, vals);
    let vals = &vals[..];
    let work = csr.col.len() * n + csr.rows * n;
    let rows = balanced_rows(&csr.crow, n, parts_for(work));
    let bounds: Vec<usize> = rows.iter().map(|&r| r * n).collect();
    let simd = simd_f32::<T>();
    parallel_split_mut(out, &bounds, work, |part, piece| {
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: T is f32 and the CPU has AVX2 and FMA (simd_f32);
            // the bounds are checked above.
            return unsafe {
                x86::spmm_rows_f32(
                    csr,
                    as_f32(vals),
                    as_f32(b),
                    n,
                    rows[part],
                    as_f32_mut(piece),
                )
            };
        }
        let _ = simd;
        spmm_rows_dispatch(csr, vals, b, n, rows[part], piece)
    })
    .expect("row bounds cut the output");
}

fn spmm_rows_dispatch<T: Float>(
    csr: &Csr,
    vals: &[T],
    b: &[T],
    n: usize,
    first: usize,
    out: &mut [MaybeUninit<T>],
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2.
        return unsafe { spmm_rows_avx2(csr, vals, b, n, first, out) };
    }
    spmm_rows(csr, vals, b, n, first, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn spmm_rows_avx2<T: Float>(
    csr: &Csr,
    vals: &[T],
    b: &[T],
    n: usize,
    first: usize,
    out: &mut [MaybeUninit<T>],
) {
    spmm_rows(csr, vals, b, n, first, out)
}

/// Rows `first..` of the product into `out` (whole rows), `vals` in
/// entry order: the portable loop.
#[inline(always)]
fn spmm_rows<T: Float>(
    csr: &Csr,
    vals: &[T],
    b: &[T],
    n: usize,
    first: usize,
    out: &mut [MaybeUninit<T>],
) {
    for (r, out_row) in out.chunks_exact_mut(n).enumerate() {
        let i = first + r;
        let entries = csr.crow[i]..csr.crow[i + 1];
        let mut c0 = 0;
        while c0 < n {
            let w = BLOCK.min(n - c0);
            let mut acc = [T::ZERO; BLOCK];
            if w == BLOCK {
                for p in entries.clone() {
                    let v = vals[p];
                    let src = &b[csr.col[p] * n + c0..][..BLOCK];
                    for (a, &x) in acc.iter_mut().zip(src) {
                        *a += v * x;
                    }
                }
            } else {
                for p in entries.clone() {
                    let v = vals[p];
                    let src = &b[csr.col[p] * n + c0..][..w];
                    for (a, &x) in acc[..w].iter_mut().zip(src) {
                        *a += v * x;
                    }
                }
            }
            for (o, &a) in out_row[c0..c0 + w].iter_mut().zip(&acc) {
                o.write(a);
            }
            c0 += w;
        }
    }
}

/// `out[p] = x[row(p)] · y[col(p)]` for every entry `p` of `csr` in its
/// compressed-row order, where `x` is `[rows, k]` and `y` is `[cols, k]`,
/// both row-major. `out` has one slot per entry, every one written.
pub(crate) fn sddmm<T: Float>(csr: &Csr, x: &[T], y: &[T], k: usize, out: &mut [MaybeUninit<T>]) {
    // With the pattern's own invariants these keep the reads in bounds.
    assert_eq!(out.len(), csr.col.len(), "one output per entry");
    assert_eq!(x.len(), csr.rows * k, "x is [rows, k]");
    assert_eq!(y.len(), csr.cols * k, "y is [cols, k]");
    let work = csr.col.len() * k + csr.rows;
    let rows = balanced_rows(&csr.crow, k.max(1), parts_for(work));
    let bounds: Vec<usize> = rows.iter().map(|&r| csr.crow[r]).collect();
    let simd = simd_f32::<T>();
    parallel_split_mut(out, &bounds, work, |part, piece| {
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: T is f32 and the CPU has AVX2 and FMA (simd_f32);
            // the bounds are checked above.
            return unsafe {
                x86::sddmm_rows_f32(csr, as_f32(x), as_f32(y), k, rows[part], as_f32_mut(piece))
            };
        }
        let _ = simd;
        sddmm_rows_dispatch(csr, x, y, k, rows[part], piece)
    })
    .expect("entry bounds cut the output");
}

fn sddmm_rows_dispatch<T: Float>(
    csr: &Csr,
    x: &[T],
    y: &[T],
    k: usize,
    first: usize,
    out: &mut [MaybeUninit<T>],
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2.
        return unsafe { sddmm_rows_avx2(csr, x, y, k, first, out) };
    }
    sddmm_rows(csr, x, y, k, first, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sddmm_rows_avx2<T: Float>(
    csr: &Csr,
    x: &[T],
    y: &[T],
    k: usize,
    first: usize,
    out: &mut [MaybeUninit<T>],
) {
    sddmm_rows(csr, x, y, k, first, out)
}

#[inline(always)]
fn sddmm_rows<T: Float>(
    csr: &Csr,
    x: &[T],
    y: &[T],
    k: usize,
    first: usize,
    out: &mut [MaybeUninit<T>],
) {
    let base = csr.crow[first];
    let mut i = first;
    for (q, slot) in out.iter_mut().enumerate() {
        let p = base + q;
        while csr.crow[i + 1] <= p {
            i += 1;
        }
        slot.write(dot(
            &x[i * k..(i + 1) * k],
            &y[csr.col[p] * k..(csr.col[p] + 1) * k],
        ));
    }
}

/// The `[cols, rows]` transpose of a row-major `[rows, cols]` matrix,
/// in 64 x 64 tiles, output rows split across the thread team.
pub(crate) fn transpose<T: Float>(src: &[T], rows: usize, cols: usize) -> Vec<T> {
    const TILE: usize = 64;
    assert_eq!(src.len(), rows * cols, "source is [rows, cols]");
    let len = rows * cols;
    let mut out: Vec<T> = Vec::with_capacity(len);
    if len > 0 {
        let parts = parts_for(len).min(cols.div_ceil(TILE));
        let firsts: Vec<usize> = (0..=parts)
            .map(|k| (k * cols.div_ceil(TILE) / parts * TILE).min(cols))
            .collect();
        let bounds: Vec<usize> = firsts.iter().map(|&j| j * rows).collect();
        let simd = simd_f32::<T>();
        parallel_split_mut(
            &mut out.spare_capacity_mut()[..len],
            &bounds,
            len,
            |part, piece| {
                let (j0, j1) = (firsts[part], firsts[part + 1]);
                #[cfg(target_arch = "x86_64")]
                if simd {
                    // SAFETY: T is f32 and the CPU has AVX2 (simd_f32); the
                    // piece holds output rows j0..j1, `rows` long each.
                    return unsafe {
                        x86::transpose_f32(
                            as_f32(src),
                            rows,
                            cols,
                            (j0, j1),
                            TILE,
                            as_f32_mut(piece),
                        )
                    };
                }
                let _ = simd;
                for jt in (j0..j1).step_by(TILE) {
                    for it in (0..rows).step_by(TILE) {
                        for j in jt..(jt + TILE).min(j1) {
                            let dst = &mut piece[(j - j0) * rows..][..rows];
                            for i in it..(it + TILE).min(rows) {
                                dst[i].write(src[i * cols + j]);
                            }
                        }
                    }
                }
            },
        )
        .expect("tile bounds cut the output");
    }
    // SAFETY: the parts cover every output row and wrote all of it.
    unsafe { out.set_len(len) };
    out
}

/// The AVX2+FMA f32 kernels.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use crate::pattern::Csr;

    /// How many entries ahead the dense rows are prefetched: enough
    /// gathers in flight to cover a miss to L3 or memory.
    const AHEAD: usize = 16;
    /// Dense rows up to this many bytes are prefetched whole on the
    /// first column pass (the later passes then find them in L1/L2);
    /// longer rows are prefetched one column block at a time.
    const WHOLE_ROW_BYTES: usize = 1024;

    /// Prefetches `bytes` (> 0) from `p` into all cache levels.
    #[inline(always)]
    unsafe fn prefetch(p: *const f32, bytes: usize) {
        let p = p.cast::<i8>();
        let mut off = 0;
        while off < bytes {
            _mm_prefetch::<_MM_HINT_T0>(p.add(off));
            off += 64;
        }
        // The last line, when `p` is not line-aligned.
        _mm_prefetch::<_MM_HINT_T0>(p.add(bytes - 1));
    }

    /// SpMM rows `first..` (whole rows, `out.len() / n` of them) with
    /// `vals` in entry order and `n > 0`.
    ///
    /// # Safety
    /// AVX2 and FMA are available; `vals` has one value per entry, `b`
    /// is `[csr.cols, n]`, and every column index is below `csr.cols`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn spmm_rows_f32(
        csr: &Csr,
        vals: &[f32],
        b: &[f32],
        n: usize,
        first: usize,
        out: &mut [MaybeUninit<f32>],
    ) {
        let rows = out.len() / n;
        let (crow, col) = (&csr.crow[..], &csr.col[..]);
        let last = crow[first + rows];
        let (v, bp) = (vals.as_ptr(), b.as_ptr());
        let op = out.as_mut_ptr().cast::<f32>();
        let whole_row = n * 4 <= WHOLE_ROW_BYTES;
        for r in 0..rows {
            let i = first + r;
            let rows_entries = (*crow.get_unchecked(i), *crow.get_unchecked(i + 1));
            let o = op.add(r * n);
            let mut c0 = 0;
            // Each pass covers `8 W` columns; the first one prefetches
            // the whole dense rows when they are short.
            let pf = |c0: usize, w: usize| -> (usize, usize) {
                match (whole_row, c0) {
                    (true, 0) => (0, n * 4),
                    (true, _) => (0, 0),
                    (false, _) => (c0, w * 4),
                }
            };
            let ctx = Pass {
                col,
                v,
                b: bp,
                n,
                last,
                o,
            };
            while c0 + 64 <= n {
                ctx.block::<8>(rows_entries, c0, pf(c0, 64));
                c0 += 64;
            }
            for w in [4, 2, 1] {
                if c0 + 8 * w <= n {
                    match w {
                        4 => ctx.block::<4>(rows_entries, c0, pf(c0, 32)),
                        2 => ctx.block::<2>(rows_entries, c0, pf(c0, 16)),
                        _ => ctx.block::<1>(rows_entries, c0, pf(c0, 8)),
                    }
                    c0 += 8 * w;
                }
            }
            if c0 < n {
                ctx.tail(rows_entries, c0, pf(c0, n - c0));
            }
        }
    }

    /// What one column pass over a row needs.
    struct Pass<'a> {
        col: &'a [usize],
        v: *const f32,
        b: *const f32,
        n: usize,
        /// The end of this part's entries (prefetches stay below it).
        last: usize,
        /// The output row.
        o: *mut f32,
    }

    impl Pass<'_> {
        /// Columns `c0..c0 + 8 W` of the row with entries `start..end`,
        /// prefetching `pf.1` bytes from column `pf.0` of the dense row
        /// `AHEAD` entries on.
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn block<const W: usize>(
            &self,
            (start, end): (usize, usize),
            c0: usize,
            pf: (usize, usize),
        ) {
            let mut acc = [_mm256_setzero_ps(); W];
            for p in start..end {
                if pf.1 > 0 {
                    let q = (p + AHEAD).min(self.last - 1);
                    prefetch(self.b.add(*self.col.get_unchecked(q) * self.n + pf.0), pf.1);
                }
                let v = _mm256_set1_ps(*self.v.add(p));
                let src = self.b.add(*self.col.get_unchecked(p) * self.n + c0);
                for (w, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(v, _mm256_loadu_ps(src.add(8 * w)), *a);
                }
            }
            for (w, a) in acc.iter().enumerate() {
                _mm256_storeu_ps(self.o.add(c0 + 8 * w), *a);
            }
        }

        /// The last `n - c0` (< 8) columns, with masked loads and stores.
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn tail(&self, (start, end): (usize, usize), c0: usize, pf: (usize, usize)) {
            let w = (self.n - c0) as i32;
            let mask = _mm256_setr_epi32(
                -((w > 0) as i32),
                -((w > 1) as i32),
                -((w > 2) as i32),
                -((w > 3) as i32),
                -((w > 4) as i32),
                -((w > 5) as i32),
                -((w > 6) as i32),
                0,
            );
            let mut acc = _mm256_setzero_ps();
            for p in start..end {
                if pf.1 > 0 {
                    let q = (p + AHEAD).min(self.last - 1);
                    prefetch(self.b.add(*self.col.get_unchecked(q) * self.n + pf.0), pf.1);
                }
                let v = _mm256_set1_ps(*self.v.add(p));
                let src = self.b.add(*self.col.get_unchecked(p) * self.n + c0);
                acc = _mm256_fmadd_ps(v, _mm256_maskload_ps(src, mask), acc);
            }
            _mm256_maskstore_ps(self.o.add(c0), mask, acc);
        }
    }

    /// SDDMM entries of rows `first..` (whole rows) into `out`.
    ///
    /// # Safety
    /// AVX2 and FMA are available; `x` is `[csr.rows, k]`, `y` is
    /// `[csr.cols, k]`, and every column index is below `csr.cols`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn sddmm_rows_f32(
        csr: &Csr,
        x: &[f32],
        y: &[f32],
        k: usize,
        first: usize,
        out: &mut [MaybeUninit<f32>],
    ) {
        let (crow, col) = (&csr.crow[..], &csr.col[..]);
        let base = crow[first];
        let last = base + out.len();
        let o = out.as_mut_ptr().cast::<f32>();
        let (xp, yp) = (x.as_ptr(), y.as_ptr());
        let (mut i, mut p) = (first, base);
        while p < last {
            let end = *crow.get_unchecked(i + 1);
            let xi = xp.add(i * k);
            while p < end {
                if k > 0 {
                    let q = (p + AHEAD).min(last - 1);
                    prefetch(yp.add(*col.get_unchecked(q) * k), k * 4);
                }
                *o.add(p - base) = dot_f32(xi, yp.add(*col.get_unchecked(p) * k), k);
                p += 1;
            }
            i += 1;
        }
    }

    /// Rows `j0..j1` of the `[cols, rows]` transpose of `src` (`[rows,
    /// cols]`) into `out`, in `tile x tile` tiles of 8 x 8 register
    /// transposes.
    ///
    /// # Safety
    /// AVX2 is available, `src.len() == rows * cols`, `j1 <= cols` and
    /// `out.len() == (j1 - j0) * rows`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn transpose_f32(
        src: &[f32],
        rows: usize,
        cols: usize,
        (j0, j1): (usize, usize),
        tile: usize,
        out: &mut [MaybeUninit<f32>],
    ) {
        let s = src.as_ptr();
        let d = out.as_mut_ptr().cast::<f32>();
        for jt in (j0..j1).step_by(tile) {
            let jend = (jt + tile).min(j1);
            for it in (0..rows).step_by(tile) {
                let iend = (it + tile).min(rows);
                let mut j = jt;
                while j + 8 <= jend {
                    let mut i = it;
                    while i + 8 <= iend {
                        transpose8x8(s.add(i * cols + j), cols, d.add((j - j0) * rows + i), rows);
                        i += 8;
                    }
                    for jj in j..j + 8 {
                        for ii in i..iend {
                            *d.add((jj - j0) * rows + ii) = *s.add(ii * cols + jj);
                        }
                    }
                    j += 8;
                }
                for jj in j..jend {
                    for ii in it..iend {
                        *d.add((jj - j0) * rows + ii) = *s.add(ii * cols + jj);
                    }
                }
            }
        }
    }

    /// `d[c * ds + r] = s[r * ss + c]` for `r, c < 8`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn transpose8x8(s: *const f32, ss: usize, d: *mut f32, ds: usize) {
        let r: [__m256; 8] = std::array::from_fn(|k| _mm256_loadu_ps(s.add(k * ss)));
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        let o = [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ];
        for (k, v) in o.iter().enumerate() {
            _mm256_storeu_ps(d.add(k * ds), *v);
        }
    }

    /// `a · b` over `k` floats: four 8-lane accumulators over 32-float
    /// chunks (then one over 8-float chunks), summed in a fixed tree,
    /// then the last `k % 8` products in order.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn dot_f32(a: *const f32, b: *const f32, k: usize) -> f32 {
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut j = 0;
        while j + 32 <= k {
            for (t, s) in acc.iter_mut().enumerate() {
                let (x, y) = (a.add(j + 8 * t), b.add(j + 8 * t));
                *s = _mm256_fmadd_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(y), *s);
            }
            j += 32;
        }
        while j + 8 <= k {
            acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(j)), _mm256_loadu_ps(b.add(j)), acc[0]);
            j += 8;
        }
        let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s));
        let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
        let q = _mm_add_ss(q, _mm_movehdup_ps(q));
        let mut r = _mm_cvtss_f32(q);
        while j < k {
            r = (*a.add(j)).mul_add(*b.add(j), r);
            j += 1;
        }
        r
    }
}

/// A dot product summed in 16 fixed lanes, then the lanes in a fixed
/// order: the same bits on every thread count.
#[inline(always)]
pub(crate) fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    const LANES: usize = 16;
    let mut acc = [T::ZERO; LANES];
    let split = a.len() / LANES * LANES;
    for (ca, cb) in a[..split]
        .chunks_exact(LANES)
        .zip(b[..split].chunks_exact(LANES))
    {
        for l in 0..LANES {
            acc[l] += ca[l] * cb[l];
        }
    }
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            acc[l] += acc[l + width];
        }
        width /= 2;
    }
    let mut s = acc[0];
    for (&x, &y) in a[split..].iter().zip(&b[split..]) {
        s += x * y;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_rows_follow_the_nonzeros() {
        // Row 0 holds 90 of 100 entries: it gets a part of its own.
        let mut crow = vec![0, 90];
        for i in 1..=10 {
            crow.push(90 + i);
        }
        let b = balanced_rows(&crow, 8, 4);
        assert_eq!(b[0], 0);
        assert_eq!(b[1], 1);
        assert_eq!(*b.last().unwrap(), 11);
        assert!(b.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn balanced_rows_handle_empty_and_tiny_inputs() {
        assert_eq!(balanced_rows(&[0], 4, 8), vec![0, 0]);
        assert_eq!(balanced_rows(&[0, 0, 0], 4, 8), vec![0, 1, 2]);
        assert_eq!(balanced_rows(&[0, 3], 4, 8), vec![0, 1]);
    }

    #[test]
    fn transpose_matches_the_definition_at_every_size() {
        for (rows, cols) in [(0, 5), (1, 1), (8, 8), (13, 29), (64, 100), (37, 70)] {
            let src: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
            let t = transpose(&src, rows, cols);
            for i in 0..rows {
                for j in 0..cols {
                    assert_eq!(t[j * rows + i], src[i * cols + j], "({rows}, {cols})");
                }
            }
            let src64: Vec<f64> = src.iter().map(|&v| v as f64).collect();
            let t64 = transpose(&src64, rows, cols);
            assert!(t64.iter().zip(&t).all(|(&a, &b)| a == b as f64));
        }
    }

    /// The f32 kernels (SIMD where the CPU has it) against a plain f64
    /// reference, on shapes that leave every tail: widths with a 64, 32,
    /// 16 and 8 block and a masked remainder, rows with no entries.
    #[test]
    fn spmm_and_sddmm_match_a_plain_reference() {
        use crate::pattern::Csr;
        let (rows, cols) = (37, 23);
        let mut crow = vec![0usize];
        let mut col = Vec::new();
        for i in 0..rows {
            for j in 0..cols {
                if (i * 7 + j * 3) % 5 == 0 && i % 6 != 3 {
                    col.push(j);
                }
            }
            crow.push(col.len());
        }
        let nnz = col.len();
        let perm: Vec<usize> = (0..nnz).map(|p| (p * 7) % nnz).collect();
        assert!(nnz % 7 != 0, "the perm must be a permutation");
        for perm in [None, Some(perm)] {
            let csr = Csr {
                rows,
                cols,
                crow: crow.clone(),
                col: col.clone(),
                perm,
            };
            let vals: Vec<f32> = (0..nnz).map(|v| ((v * 13) % 17) as f32 - 8.0).collect();
            for n in [1, 7, 8, 13, 64, 64 + 32 + 16 + 8 + 5, 130] {
                let b: Vec<f32> = (0..cols * n).map(|v| ((v * 5) % 11) as f32 - 5.0).collect();
                let mut out = vec![MaybeUninit::uninit(); rows * n];
                spmm(&csr, &vals, &b, n, &mut out);
                for i in 0..rows {
                    for c in 0..n {
                        let want: f64 = (crow[i]..crow[i + 1])
                            .map(|p| vals[csr.value(p)] as f64 * b[col[p] * n + c] as f64)
                            .sum();
                        // Small integers: exact in any order.
                        assert_eq!(unsafe { out[i * n + c].assume_init() } as f64, want);
                    }
                }
                let x: Vec<f32> = (0..rows * n).map(|v| ((v * 3) % 7) as f32 - 3.0).collect();
                let mut d = vec![MaybeUninit::uninit(); nnz];
                sddmm(&csr, &x, &b, n, &mut d);
                let row_of: Vec<usize> = (0..rows)
                    .flat_map(|i| std::iter::repeat_n(i, crow[i + 1] - crow[i]))
                    .collect();
                for p in 0..nnz {
                    let want: f64 = (0..n)
                        .map(|c| x[row_of[p] * n + c] as f64 * b[col[p] * n + c] as f64)
                        .sum();
                    assert_eq!(unsafe { d[p].assume_init() } as f64, want);
                }
            }
        }
    }

    #[test]
    fn dot_matches_a_plain_sum_on_integers() {
        let a: Vec<f64> = (0..37).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..37).map(|i| (i % 5) as f64).collect();
        let want: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(dot(&a, &b), want);
    }
}
