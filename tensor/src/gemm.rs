//! General matrix multiply on faer, the one place dense products happen
//! (matmul, batched matmul, linear, and the GEMM inside convolution).
//!
//! Small products run sequentially: handing them to threads costs more
//! than it saves. From [`GEMM_PAR_THRESHOLD`] multiply-adds up, the output
//! is split into row or column blocks, one sequential faer GEMM per thread
//! of the torchlet team. Measured with `examples/gemm_threshold` on the
//! 2-core dev machine (square f32, µs, 1 thread vs 2): 32: 1.9 vs 3.0;
//! 64: 6.7 vs 6.0; 96: 20 vs 13; 128: 48 vs 28; 256: 376 vs 201 — the
//! crossover is near 64³. (faer's own threaded GEMM, woken through rayon,
//! took 42 µs at 64 and 296 µs at 256.)

use std::mem::MaybeUninit;

use faer::{Accum, MatMut, MatRef, Par};

use crate::dtype::Float;
use crate::parallel::run_parts;

/// Products with at least this many multiply-adds (m·n·k) use threads.
pub(crate) const GEMM_PAR_THRESHOLD: usize = 64 * 64 * 64;

/// Products of at most this many multiply-adds go to faer's small-matrix
/// (nano-gemm) kernels, which sum in another order than its main kernels
/// (`NANO_GEMM_THRESHOLD` in faer 0.24's `linalg/matmul`).
const FAER_NANO_MNK: usize = 16 * 16 * 16;

/// A read-only strided matrix: element `(i, j)` is `data[offset + i*rs + j*cs]`.
#[derive(Clone, Copy)]
pub(crate) struct MatView<'a, T> {
    pub data: &'a [T],
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a, T> MatView<'a, T> {
    /// A row-major matrix over a whole slice.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        MatView {
            data,
            offset: 0,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        MatView {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Rows `lo..hi`.
    fn rows_range(self, lo: usize, hi: usize) -> Self {
        MatView {
            offset: self.offset + lo * self.rs,
            rows: hi - lo,
            ..self
        }
    }

    /// Columns `lo..hi`.
    fn cols_range(self, lo: usize, hi: usize) -> Self {
        MatView {
            offset: self.offset + lo * self.cs,
            cols: hi - lo,
            ..self
        }
    }

    fn as_faer(&self) -> MatRef<'a, T> {
        if self.rows == 0 || self.cols == 0 {
            return MatRef::from_row_major_slice(&[], self.rows, self.cols);
        }
        let last = self.offset + (self.rows - 1) * self.rs + (self.cols - 1) * self.cs;
        assert!(
            last < self.data.len(),
            "internal error: matrix view out of bounds"
        );
        // SAFETY: every element (i, j) with i < rows, j < cols lies within
        // `data` (checked above), and the slice outlives the view.
        unsafe {
            MatRef::from_raw_parts(
                self.data.as_ptr().add(self.offset),
                self.rows,
                self.cols,
                self.rs as isize,
                self.cs as isize,
            )
        }
    }
}

/// `out = a @ b` (or `out += a @ b` when `accumulate`), with `out` a
/// row-major `a.rows x b.cols` slice. `threads` caps the parallelism
/// (1 = sequential); small products ignore it.
pub(crate) fn gemm<T: Float>(
    out: &mut [T],
    a: MatView<'_, T>,
    b: MatView<'_, T>,
    accumulate: bool,
    threads: usize,
) {
    let (m, n) = (a.rows, b.cols);
    assert_eq!(out.len(), m * n);
    // SAFETY: `out` is an initialized, exclusively borrowed buffer of m*n values.
    unsafe { gemm_raw(out.as_mut_ptr(), a, b, accumulate, threads) }
}

/// `out = a @ b` into a buffer that need not be initialized (a fresh
/// `Vec::with_capacity`'s spare capacity): a product's output is written
/// whole, so zero-filling it first (a `vec![0.0; n]` memset of up to a few
/// MB per matmul) is wasted work. Every element is initialized afterwards.
pub(crate) fn gemm_uninit<T: Float>(
    out: &mut [MaybeUninit<T>],
    a: MatView<'_, T>,
    b: MatView<'_, T>,
    threads: usize,
) {
    assert_eq!(out.len(), a.rows * b.cols);
    // SAFETY: `out` holds m*n exclusively borrowed slots; with
    // `accumulate = false`, faer never reads the destination
    // (`Accum::Replace`: "the preexisting values in acc are not read") and
    // writes every element, as does the k = 0 case below.
    unsafe { gemm_raw(out.as_mut_ptr().cast::<T>(), a, b, false, threads) }
}

/// # Safety
/// `out` must point to `a.rows * b.cols` writable elements, exclusively
/// borrowed, initialized unless `accumulate` is false.
unsafe fn gemm_raw<T: Float>(
    out: *mut T,
    a: MatView<'_, T>,
    b: MatView<'_, T>,
    accumulate: bool,
    threads: usize,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    debug_assert_eq!(b.rows, k);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m * n {
                out.add(i).write(T::ZERO);
            }
        }
        return;
    }
    let threads = if m * n * k >= GEMM_PAR_THRESHOLD {
        threads
    } else {
        1
    };
    if threads <= 1 {
        return gemm_block(out, n, a, b, accumulate);
    }
    // One block of whole rows or whole columns of `out` per part; `k` is
    // never split. Columns unless the output is tall: faer works on the
    // column-major transpose of the row-major `out`, so a column block is
    // a block of its rows, the split it packs least for (square 1024:
    // 11.3 ms by columns, 12.7 by rows).
    //
    // Every element must sum in the same order as on one thread, so every
    // block has to take the kernel path the whole product takes. faer
    // picks its path from the block's shape: a block one row or column
    // wide becomes a matrix-vector product, and one of at most
    // `FAER_NANO_MNK` multiply-adds a small-matrix kernel, each summing k
    // in another order. So no block is narrower than `align` (a multiple
    // of faer's register tile) or smaller than that. Blocks are whole
    // `align` units, shared out evenly (the first `units % parts` blocks
    // take one more); the last block also takes the `len % align` columns
    // left over rather than leaving them as a thin tail.
    let out = SendPtr(out);
    let by_rows = m >= 2 * n;
    let (len, other, align) = if by_rows { (m, n, 8) } else { (n, m, 16) };
    let min_block = align
        .max((FAER_NANO_MNK + 1).div_ceil(other * k))
        .next_multiple_of(align);
    let parts = threads.min(len / min_block);
    if parts <= 1 {
        return gemm_block(out.get(), n, a, b, accumulate);
    }
    let units = len / align;
    let (per, extra) = (units / parts, units % parts);
    debug_assert!(per * align >= min_block);
    // Start of block i, in columns (or rows).
    let start = move |i: usize| align * (i * per + i.min(extra));
    run_parts(threads, parts, |i| {
        let lo = start(i);
        let hi = if i + 1 == parts { len } else { start(i + 1) };
        let out = out.get();
        // SAFETY: blocks of distinct parts are disjoint rows (or columns)
        // of `out`, inside it because lo < hi <= m (or n).
        unsafe {
            if by_rows {
                gemm_block(out.add(lo * n), n, a.rows_range(lo, hi), b, accumulate)
            } else {
                gemm_block(out.add(lo), n, a, b.cols_range(lo, hi), accumulate)
            }
        }
    });
}

/// A raw output pointer handed to the parts of a job, each of which
/// writes its own disjoint block.
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: the parts write disjoint elements (see `gemm_raw`).
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    fn get(self) -> *mut T {
        self.0
    }
}

/// `out = a @ b` (or `+=`) on this thread, `out` with row stride `ld`.
///
/// # Safety
/// `out` must point to an `a.rows x b.cols` block with row stride `ld`,
/// exclusively borrowed, initialized unless `accumulate` is false.
unsafe fn gemm_block<T: Float>(
    out: *mut T,
    ld: usize,
    a: MatView<'_, T>,
    b: MatView<'_, T>,
    accumulate: bool,
) {
    let dst: MatMut<'_, T> = MatMut::from_raw_parts_mut(out, a.rows, b.cols, ld as isize, 1);
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    faer::linalg::matmul::matmul(dst, accum, a.as_faer(), b.as_faer(), T::ONE, Par::Seq);
}
