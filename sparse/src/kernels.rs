//! The sparse × dense kernels: SpMM (`out = A B`, A in compressed rows)
//! and SDDMM (`out[p] = x[row p] · y[col p]` at A's entries).
//!
//! Rows are split across the thread team in parts of equal work
//! (non-zeros × width, plus the row's own output), not equal row counts:
//! on a power-law graph a few rows hold most of the edges. Each output
//! row is computed by one part in a fixed order, so results never depend
//! on the thread count. The loops are compiled twice, for the baseline
//! target and for AVX2 (picked at run time), and keep a block of output
//! columns in registers while they walk a row's entries.

use torchlet_tensor::{get_num_threads, parallel_split_mut, would_parallelize, Float};

use crate::pattern::Csr;

/// Output columns kept in registers at once (4 AVX2 registers of f32).
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

/// `out = A B` where `A` (`rows × cols`, values `vals` reached through
/// `csr.perm`) is sparse and `b` is dense `[cols, n]` row-major; `out` is
/// `[rows, n]` and fully overwritten.
pub(crate) fn spmm<T: Float>(csr: &Csr, vals: &[T], b: &[T], n: usize, out: &mut [T]) {
    debug_assert_eq!(b.len(), csr.cols * n);
    debug_assert_eq!(out.len(), csr.rows * n);
    let work = csr.col.len() * n + csr.rows * n;
    let rows = balanced_rows(&csr.crow, n, parts_for(work));
    let bounds: Vec<usize> = rows.iter().map(|&r| r * n).collect();
    parallel_split_mut(out, &bounds, work, |part, piece| {
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
    out: &mut [T],
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
    out: &mut [T],
) {
    spmm_rows(csr, vals, b, n, first, out)
}

/// Rows `first..` of the product into `out` (whole rows).
#[inline(always)]
fn spmm_rows<T: Float>(csr: &Csr, vals: &[T], b: &[T], n: usize, first: usize, out: &mut [T]) {
    if n == 0 {
        return;
    }
    for (r, out_row) in out.chunks_exact_mut(n).enumerate() {
        let i = first + r;
        let entries = csr.crow[i]..csr.crow[i + 1];
        let mut c0 = 0;
        while c0 + BLOCK <= n {
            let mut acc = [T::ZERO; BLOCK];
            for p in entries.clone() {
                let v = vals[csr.value(p)];
                let src = &b[csr.col[p] * n + c0..][..BLOCK];
                for (a, &x) in acc.iter_mut().zip(src) {
                    *a += v * x;
                }
            }
            out_row[c0..c0 + BLOCK].copy_from_slice(&acc);
            c0 += BLOCK;
        }
        if c0 < n {
            let tail = &mut out_row[c0..];
            tail.iter_mut().for_each(|o| *o = T::ZERO);
            for p in entries {
                let v = vals[csr.value(p)];
                let src = &b[csr.col[p] * n + c0..][..n - c0];
                for (a, &x) in tail.iter_mut().zip(src) {
                    *a += v * x;
                }
            }
        }
    }
}

/// `out[p] = x[row(p)] · y[col(p)]` for every entry `p` of `csr` in its
/// compressed-row order, where `x` is `[rows, k]` and `y` is `[cols, k]`,
/// both row-major. `out` has one slot per entry.
pub(crate) fn sddmm<T: Float>(csr: &Csr, x: &[T], y: &[T], k: usize, out: &mut [T]) {
    debug_assert_eq!(out.len(), csr.col.len());
    let work = csr.col.len() * k + csr.rows;
    let rows = balanced_rows(&csr.crow, k.max(1), parts_for(work));
    let bounds: Vec<usize> = rows.iter().map(|&r| csr.crow[r]).collect();
    parallel_split_mut(out, &bounds, work, |part, piece| {
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
    out: &mut [T],
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
    out: &mut [T],
) {
    sddmm_rows(csr, x, y, k, first, out)
}

#[inline(always)]
fn sddmm_rows<T: Float>(csr: &Csr, x: &[T], y: &[T], k: usize, first: usize, out: &mut [T]) {
    let base = csr.crow[first];
    let mut i = first;
    for (q, slot) in out.iter_mut().enumerate() {
        let p = base + q;
        while csr.crow[i + 1] <= p {
            i += 1;
        }
        *slot = dot(
            &x[i * k..(i + 1) * k],
            &y[csr.col[p] * k..(csr.col[p] + 1) * k],
        );
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
            acc[l] = acc[l] + acc[l + width];
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
    fn dot_matches_a_plain_sum_on_integers() {
        let a: Vec<f64> = (0..37).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..37).map(|i| (i % 5) as f64).collect();
        let want: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(dot(&a, &b), want);
    }
}
