//! Elementwise loop drivers. Each loop body is compiled three times: for
//! the baseline target, with AVX2+FMA and with AVX-512, picked at run time
//! ([`simd_level`]), so the same binary vectorizes 16-wide on AVX-512
//! CPUs, 8-wide on other modern x86, and still runs everywhere. The loops
//! are plain Rust (no fast-math, no FMA contraction), so every level
//! computes the same bits (a NaN's sign and payload aside); only the
//! vector width differs (`tests/simd_levels.rs`). Large outputs
//! are split across the torchlet thread team.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU8, Ordering};

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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
unsafe fn map_slice_avx512<S: Copy, D, F: Fn(S) -> D>(
    src: &[S],
    dst: &mut [MaybeUninit<D>],
    f: &F,
) {
    map_slice(src, dst, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
unsafe fn zip_slice_avx512<A: Copy, B: Copy, D, F: Fn(A, B) -> D>(
    a: &[A],
    b: &[B],
    dst: &mut [MaybeUninit<D>],
    f: &F,
) {
    zip_slice(a, b, dst, f)
}

/// The vector code the elementwise loops, reductions, softmax, optimizer
/// steps and RNN cells run (see [`simd_level`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    /// The build's baseline target (SSE2 on x86-64).
    Baseline,
    /// AVX2 and FMA, 256-bit vectors.
    Avx2,
    /// AVX-512 (F, BW, VL, DQ), 512-bit vectors.
    Avx512,
}

impl SimdLevel {
    /// The level's name as `TORCHLET_SIMD` takes it.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Baseline => "baseline",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// The best level this CPU runs.
    pub fn best() -> SimdLevel {
        #[cfg(target_arch = "x86_64")]
        {
            use std::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") {
                if has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512dq") {
                    return SimdLevel::Avx512;
                }
                return SimdLevel::Avx2;
            }
        }
        SimdLevel::Baseline
    }

    /// Every level this CPU runs, lowest first (for tests and benchmarks).
    pub fn available() -> Vec<SimdLevel> {
        [SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512]
            .into_iter()
            .filter(|&l| l <= SimdLevel::best())
            .collect()
    }

    fn code(self) -> u8 {
        self as u8 + 1
    }

    fn from_code(c: u8) -> Option<SimdLevel> {
        match c {
            1 => Some(SimdLevel::Baseline),
            2 => Some(SimdLevel::Avx2),
            3 => Some(SimdLevel::Avx512),
            _ => None,
        }
    }
}

/// 0 until first read, then the level's code.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The vector level torchlet's loops run at: the best this CPU has, or
/// the one `TORCHLET_SIMD` (`baseline`, `avx2`, `avx512`) names if the
/// CPU runs it (to compare them on one machine). Every level gives the
/// same bits, a NaN's sign and payload aside.
///
/// ```
/// let level = torchlet_tensor::simd_level();
/// assert!(torchlet_tensor::SimdLevel::available().contains(&level));
/// ```
#[inline]
pub fn simd_level() -> SimdLevel {
    match SimdLevel::from_code(LEVEL.load(Ordering::Relaxed)) {
        Some(l) => l,
        None => {
            // The first reader decides; a level forced meanwhile stays.
            let l = chosen_level();
            match LEVEL.compare_exchange(0, l.code(), Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => l,
                Err(now) => SimdLevel::from_code(now).unwrap_or(l),
            }
        }
    }
}

#[cold]
fn chosen_level() -> SimdLevel {
    let best = SimdLevel::best();
    let Ok(name) = std::env::var("TORCHLET_SIMD") else {
        return best;
    };
    let wanted = [SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .find(|l| l.name() == name.trim().to_ascii_lowercase());
    match wanted {
        Some(l) if l <= best => l,
        Some(l) => {
            eprintln!("torchlet: TORCHLET_SIMD={name:?} ignored: this CPU does not run {l:?}; using {best:?}");
            best
        }
        None => {
            eprintln!("torchlet: TORCHLET_SIMD={name:?} ignored: not one of baseline, avx2, avx512; using {best:?}");
            best
        }
    }
}

/// Runs `f` with the loops at `level` (at most the CPU's best), then
/// restores the previous one: for tests comparing the levels. The level
/// is global; other threads' results do not change, only their speed.
pub fn with_simd_level<R>(level: SimdLevel, f: impl FnOnce() -> R) -> R {
    /// Puts the previous level back, even if `f` panics.
    struct Restore(SimdLevel);
    impl Drop for Restore {
        fn drop(&mut self) {
            LEVEL.store(self.0.code(), Ordering::Relaxed);
        }
    }
    let _restore = Restore(simd_level());
    LEVEL.store(level.min(SimdLevel::best()).code(), Ordering::Relaxed);
    f()
}

fn map_chunk<S: Copy, D, F: Fn(S) -> D>(src: &[S], dst: &mut [MaybeUninit<D>], f: &F) {
    // SAFETY (each arm): the CPU supports the features the function is
    // compiled for (`simd_level` never exceeds `SimdLevel::best`).
    match simd_level() {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => unsafe { map_slice_avx512(src, dst, f) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => unsafe { map_slice_avx2(src, dst, f) },
        _ => map_slice(src, dst, f),
    }
}

fn zip_chunk<A: Copy, B: Copy, D, F: Fn(A, B) -> D>(
    a: &[A],
    b: &[B],
    dst: &mut [MaybeUninit<D>],
    f: &F,
) {
    // SAFETY (each arm): as in `map_chunk`.
    match simd_level() {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => unsafe { zip_slice_avx512(a, b, dst, f) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => unsafe { zip_slice_avx2(a, b, dst, f) },
        _ => zip_slice(a, b, dst, f),
    }
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
        // SAFETY (each arm): as in `map_chunk`.
        match simd_level() {
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => unsafe { inplace_avx512(d, f) },
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => unsafe { inplace_avx2(d, f) },
            _ => inplace(d, f),
        }
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
        // SAFETY (each arm): as in `map_chunk`.
        match simd_level() {
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => unsafe { zip_inplace_avx512(a, b, f) },
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => unsafe { zip_inplace_avx2(a, b, f) },
            _ => zip_inplace_slice(a, b, f),
        }
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
unsafe fn inplace_avx512<T: Copy, F: Fn(T) -> T>(d: &mut [T], f: &F) {
    inplace(d, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
unsafe fn zip_inplace_avx512<A: Copy, B: Copy, F: Fn(A, B) -> A>(a: &mut [A], b: &[B], f: &F) {
    zip_inplace_slice(a, b, f)
}

/// A loop body compiled once per SIMD level by [`run_kernel`]: a struct
/// whose `run` is `#[inline(always)]` inlines into every copy, where a
/// closure may not. Other crates' kernels (the jit's fused loops) use it
/// too, so `TORCHLET_SIMD` governs them as it governs these.
///
/// ```
/// use torchlet_tensor::{run_kernel, Kernel};
/// struct Scale<'a>(&'a mut [f32], f32);
/// impl Kernel for Scale<'_> {
///     type Out = ();
///     #[inline(always)]
///     fn run(self) {
///         for v in self.0.iter_mut() {
///             *v *= self.1;
///         }
///     }
/// }
/// let mut v = vec![1.0f32, 2.0, 3.0];
/// run_kernel(Scale(&mut v, 2.0)); // vectorized for the CPU's level
/// assert_eq!(v, [2.0, 4.0, 6.0]);
/// ```
pub trait Kernel {
    /// What the body returns.
    type Out;
    /// The body; mark it `#[inline(always)]` so each copy vectorizes.
    fn run(self) -> Self::Out;
}

/// Runs `k` compiled for [`simd_level`]: AVX-512, AVX2+FMA or baseline.
#[inline(always)]
pub fn run_kernel<K: Kernel>(k: K) -> K::Out {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
        unsafe fn run512<K: Kernel>(k: K) -> K::Out {
            k.run()
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn run256<K: Kernel>(k: K) -> K::Out {
            k.run()
        }
        // SAFETY (each arm): as in `map_chunk`.
        match simd_level() {
            SimdLevel::Avx512 => return unsafe { run512(k) },
            SimdLevel::Avx2 => return unsafe { run256(k) },
            SimdLevel::Baseline => {}
        }
    }
    k.run()
}

/// Runs `body` under AVX2+FMA code generation when the level is AVX2 or
/// above, for kernels (sums, reductions over an axis, logsumexp) whose
/// loops live in `#[inline(always)]` functions. Not given an AVX-512 copy:
/// with a third copy LLVM stopped inlining such closures into any of them
/// (softmax ran 40x slower); kernels move to [`run_kernel`] instead.
#[inline(always)]
pub(crate) fn with_simd<R, F: FnOnce() -> R>(body: F) -> R {
    #[cfg(target_arch = "x86_64")]
    if simd_level() >= SimdLevel::Avx2 {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn run<R, F: FnOnce() -> R>(body: F) -> R {
            body()
        }
        // SAFETY: as in `map_chunk`.
        return unsafe { run(body) };
    }
    body()
}
