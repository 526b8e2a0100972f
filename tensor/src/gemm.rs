//! General matrix multiply on faer, the one place dense products happen
//! (matmul, batched matmul, linear, and the GEMM inside convolution).
//!
//! Small products run sequentially: handing them to threads costs more
//! than it saves. From [`GEMM_PAR_THRESHOLD`] multiply-adds up, faer splits
//! the work over the torchlet pool. Measured with `examples/gemm_threshold`
//! on the 2-core dev machine (square f32, µs, 1 thread vs 2):
//! 64: 7.9 vs 41.7; 128: 72 vs 110; 160: 131 vs 121; 192: 222 vs 161;
//! 256: 549 vs 296 — the crossover is near 150³.

use std::mem::MaybeUninit;

use faer::{Accum, MatMut, MatRef, Par};

use crate::dtype::Float;

/// Products with at least this many multiply-adds (m·n·k) use threads.
pub(crate) const GEMM_PAR_THRESHOLD: usize = 160 * 160 * 160;

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
    // Row-major m x n: row stride n, column stride 1.
    let dst: MatMut<'_, T> = MatMut::from_raw_parts_mut(out, m, n, n as isize, 1);
    let par = if threads > 1 && m * n * k >= GEMM_PAR_THRESHOLD {
        Par::rayon(threads)
    } else {
        Par::Seq
    };
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    faer::linalg::matmul::matmul(dst, accum, a.as_faer(), b.as_faer(), T::ONE, par);
}
