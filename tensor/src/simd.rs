//! Elementwise loop drivers. Each loop body is compiled twice: once for
//! the baseline target and once with AVX2+FMA, picked at run time, so the
//! same binary vectorizes 8-wide on modern x86 and still runs everywhere.
//! Large outputs are split across the torchlet thread team.

use std::mem::MaybeUninit;

use crate::buffers::take_vec;
use crate::dtype::Element;
use crate::parallel::{for_each_range, maybe_parallel, SharedMut, ELEMENTWISE_PAR_THRESHOLD};

#[inline(always)]
fn map_slice<S: Copy, D, F: Fn(S) -> D>(src: &[S], dst: &mut [MaybeUninit<D>], f: &F) {
    for (d, &s) in dst.iter_mut().zip(src) {
        d.write(f(s));
    }
}

#[inline(always)]
fn zip_slice<A: Copy, B: Copy, D, F: Fn(A, B) -> D>(
    a: &[A],
    b: &[B],
    dst: &mut [MaybeUninit<D>],
    f: &F,
) {
    for ((d, &x), &y) in dst.iter_mut().zip(a).zip(b) {
        d.write(f(x, y));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn map_slice_avx2<S: Copy, D, F: Fn(S) -> D>(src: &[S], dst: &mut [MaybeUninit<D>], f: &F) {
    map_slice(src, dst, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn zip_slice_avx2<A: Copy, B: Copy, D, F: Fn(A, B) -> D>(
    a: &[A],
    b: &[B],
    dst: &mut [MaybeUninit<D>],
    f: &F,
) {
    zip_slice(a, b, dst, f)
}

/// Whether the AVX2+FMA versions of the loops may run on this CPU.
#[inline(always)]
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn map_chunk<S: Copy, D, F: Fn(S) -> D>(src: &[S], dst: &mut [MaybeUninit<D>], f: &F) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { map_slice_avx2(src, dst, f) };
        return;
    }
    map_slice(src, dst, f)
}

fn zip_chunk<A: Copy, B: Copy, D, F: Fn(A, B) -> D>(
    a: &[A],
    b: &[B],
    dst: &mut [MaybeUninit<D>],
    f: &F,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { zip_slice_avx2(a, b, dst, f) };
        return;
    }
    zip_slice(a, b, dst, f)
}

/// Chunk length that splits `n` elements over `threads`, in whole cache lines.
fn chunk_len(n: usize, threads: usize) -> usize {
    let per = n.div_ceil(threads * 4).max(4096);
    per.next_multiple_of(16)
}

/// `f` applied to every element of `src`, into a new vector.
pub(crate) fn map<S: Copy + Sync, D: Element, F: Fn(S) -> D + Sync>(src: &[S], f: F) -> Vec<D> {
    let n = src.len();
    let mut out: Vec<D> = take_vec(n);
    let dst = &mut out.spare_capacity_mut()[..n];
    maybe_parallel(n, ELEMENTWISE_PAR_THRESHOLD, |threads| {
        if threads <= 1 {
            map_chunk(src, dst, &f);
        } else {
            let dst = SharedMut::new(dst);
            for_each_range(threads, n, chunk_len(n, threads), |r| {
                // SAFETY: the ranges of one job are disjoint.
                map_chunk(&src[r.clone()], unsafe { dst.range(r) }, &f)
            });
        }
    });
    // SAFETY: every one of the n slots was written above.
    unsafe { out.set_len(n) };
    out
}

/// `f` applied to matching elements of `a` and `b` (same length), into a
/// new vector.
pub(crate) fn zip_map<A: Copy + Sync, B: Copy + Sync, D: Element, F: Fn(A, B) -> D + Sync>(
    a: &[A],
    b: &[B],
    f: F,
) -> Vec<D> {
    assert_eq!(a.len(), b.len());
    let n = a.len();
    let mut out: Vec<D> = take_vec(n);
    let dst = &mut out.spare_capacity_mut()[..n];
    maybe_parallel(n, ELEMENTWISE_PAR_THRESHOLD, |threads| {
        if threads <= 1 {
            zip_chunk(a, b, dst, &f);
        } else {
            let dst = SharedMut::new(dst);
            for_each_range(threads, n, chunk_len(n, threads), |r| {
                // SAFETY: the ranges of one job are disjoint.
                zip_chunk(&a[r.clone()], &b[r.clone()], unsafe { dst.range(r) }, &f)
            });
        }
    });
    // SAFETY: every one of the n slots was written above.
    unsafe { out.set_len(n) };
    out
}

/// `f` applied in place to every element of `data`.
pub(crate) fn map_inplace<T: Copy + Send + Sync, F: Fn(T) -> T + Sync>(data: &mut [T], f: F) {
    fn run<T: Copy, F: Fn(T) -> T>(d: &mut [T], f: &F) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { inplace_avx2(d, f) };
            return;
        }
        inplace(d, f)
    }
    let n = data.len();
    maybe_parallel(n, ELEMENTWISE_PAR_THRESHOLD, |threads| {
        if threads <= 1 {
            run(data, &f);
        } else {
            let data = SharedMut::new(data);
            for_each_range(threads, n, chunk_len(n, threads), |r| {
                // SAFETY: the ranges of one job are disjoint.
                run(unsafe { data.range(r) }, &f)
            });
        }
    });
}

/// `f(a, b)` written into `a`, element by element (same length).
pub(crate) fn zip_inplace<A: Copy + Send + Sync, B: Copy + Sync, F: Fn(A, B) -> A + Sync>(
    a: &mut [A],
    b: &[B],
    f: F,
) {
    assert_eq!(a.len(), b.len());
    fn run<A: Copy, B: Copy, F: Fn(A, B) -> A>(a: &mut [A], b: &[B], f: &F) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { zip_inplace_avx2(a, b, f) };
            return;
        }
        zip_inplace_slice(a, b, f)
    }
    let n = a.len();
    maybe_parallel(n, ELEMENTWISE_PAR_THRESHOLD, |threads| {
        if threads <= 1 {
            run(a, b, &f);
        } else {
            let a = SharedMut::new(a);
            for_each_range(threads, n, chunk_len(n, threads), |r| {
                // SAFETY: the ranges of one job are disjoint.
                run(unsafe { a.range(r.clone()) }, &b[r], &f)
            });
        }
    });
}

#[inline(always)]
fn inplace<T: Copy, F: Fn(T) -> T>(d: &mut [T], f: &F) {
    for v in d.iter_mut() {
        *v = f(*v);
    }
}

#[inline(always)]
fn zip_inplace_slice<A: Copy, B: Copy, F: Fn(A, B) -> A>(a: &mut [A], b: &[B], f: &F) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = f(*x, y);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn inplace_avx2<T: Copy, F: Fn(T) -> T>(d: &mut [T], f: &F) {
    inplace(d, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn zip_inplace_avx2<A: Copy, B: Copy, F: Fn(A, B) -> A>(a: &mut [A], b: &[B], f: &F) {
    zip_inplace_slice(a, b, f)
}

/// Runs `body` under AVX2+FMA code generation when available. For kernels
/// (reductions, softmax rows) whose loops live in an `#[inline(always)]`
/// function.
#[inline(always)]
pub(crate) fn with_simd<R, F: FnOnce() -> R>(body: F) -> R {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn run<R, F: FnOnce() -> R>(body: F) -> R {
            body()
        }
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { run(body) };
    }
    body()
}
