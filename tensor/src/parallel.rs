//! Intra-op parallelism: one team of threads owned by torchlet, sized by
//! [`set_num_threads`] like `torch.set_num_threads`.
//!
//! Kernels run on the caller's thread below a size threshold and split
//! into parts across the team above it (see [`team`] for why a spinning
//! fork-join team rather than a work-stealing pool). A kernel's result
//! never depends on how many threads ran it: parts are fixed by the data
//! size, not by the thread count, wherever the split could change rounding.

mod team;

/// The synchronization primitives of [`team`]: std's, re-exported. The loom
/// model check in `tensor/loom` compiles `team.rs` against a `sync` module
/// of loom's equivalents with the same names instead (run it after changing
/// the team; see `tensor/loom/src/lib.rs`).
mod sync {
    pub(super) use std::sync::{atomic, Arc, Condvar, Mutex, TryLockError};
    pub(super) use std::time::Instant;
    pub(super) use std::{hint, thread, thread_local};

    /// Idle workers read the clock once every this many spins (loom: 1,
    /// with a clock that advances on each read, to keep models small).
    pub(super) const SPIN_CHECK_EVERY: u32 = 256;

    /// A no-op. It stands between a SeqCst store and a SeqCst load of
    /// another atomic, the handshake between a caller publishing a job and
    /// a worker going to sleep, which SeqCst already keeps in that order.
    /// loom gives SeqCst accesses only AcqRel semantics, so its shim makes
    /// this a `fence(SeqCst)` to give the model the same order.
    #[inline(always)]
    pub(super) fn model_sc_fence() {}
}

use std::cell::Cell;
use std::ops::Range;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use team::Team;

/// Elementwise kernels split across threads from this many elements up.
pub(crate) const ELEMENTWISE_PAR_THRESHOLD: usize = 1 << 15;

fn team_slot() -> &'static RwLock<Arc<Team>> {
    static TEAM: OnceLock<RwLock<Arc<Team>>> = OnceLock::new();
    TEAM.get_or_init(|| RwLock::new(Arc::new(Team::new(default_threads()))))
}

fn default_threads() -> usize {
    std::env::var("TORCHLET_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

/// Sets the number of threads torchlet's kernels use (`torch.set_num_threads`).
/// The default is the number of CPUs, or `TORCHLET_NUM_THREADS` when set.
/// `n = 0` is treated as 1.
///
/// ```
/// torchlet_tensor::set_num_threads(1);
/// assert_eq!(torchlet_tensor::get_num_threads(), 1);
/// ```
pub fn set_num_threads(n: usize) {
    let n = n.max(1);
    let mut slot = team_slot().write().unwrap_or_else(|e| e.into_inner());
    if slot.size() != n {
        *slot = Arc::new(Team::new(n));
    }
}

/// The number of threads kernels use (`torch.get_num_threads`).
pub fn get_num_threads() -> usize {
    team().size()
}

/// Sets how long idle team workers spin, waiting for the next kernel,
/// before they sleep. The default is 300 µs, or `TORCHLET_SPIN_US` when
/// set; `Duration::ZERO` makes them sleep as soon as a job ends.
///
/// Spinning bridges the gaps between the kernels of one training step, so
/// the next kernel starts on every thread at once (waking a sleeping
/// thread costs microseconds per kernel). It also keeps the cores busy
/// for that long after the work ends: set 0 when torchlet shares the
/// machine with other busy processes, or between rare large kernels.
///
/// ```
/// use std::time::Duration;
/// torchlet_tensor::set_spin_time(Duration::ZERO);
/// assert_eq!(torchlet_tensor::get_spin_time(), Duration::ZERO);
/// torchlet_tensor::set_spin_time(Duration::from_micros(300));
/// ```
pub fn set_spin_time(spin: Duration) {
    team::set_spin_us(u64::try_from(spin.as_micros()).unwrap_or(u64::MAX));
}

/// How long idle team workers spin before sleeping (see [`set_spin_time`]).
pub fn get_spin_time() -> Duration {
    team::spin_time()
}

thread_local! {
    /// Set inside [`run_inline`]: kernels on this thread do not use the team.
    static INLINE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every kernel it calls on this thread alone, never on the
/// team, like PyTorch's `torch.set_num_threads(1)` in a DataLoader worker.
/// Results are the same (kernels never depend on the thread count); what
/// changes is that helper threads (data loading, preprocessing) leave the
/// team to the training loop instead of taking it for their own small
/// kernels. torchlet-data's loader workers run inside it.
///
/// ```
/// use torchlet_tensor::{in_inline_scope, run_inline};
/// assert!(!in_inline_scope());
/// assert!(run_inline(in_inline_scope));
/// assert!(!in_inline_scope());
/// ```
pub fn run_inline<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            INLINE.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(INLINE.with(|c| c.replace(true)));
    f()
}

/// Whether this thread is inside [`run_inline`].
pub fn in_inline_scope() -> bool {
    INLINE.with(Cell::get)
}

/// Cuts `data` at the increasing offsets `bounds` (the first 0, the last
/// `data.len()`) and calls `f(part, slice)` on each of the
/// `bounds.len() - 1` pieces, across the thread team when `work` (the
/// caller's estimate of multiply-adds or elements touched) is large
/// enough, in order on this thread otherwise. For kernels outside this
/// crate that split their output unevenly, such as a sparse product
/// whose rows are balanced by non-zeros rather than by count.
///
/// Returns an error naming the bad offset when `bounds` do not cut `data`.
///
/// ```
/// let mut out = vec![0usize; 10];
/// torchlet_tensor::parallel_split_mut(&mut out, &[0, 3, 10], 1 << 20, |part, piece| {
///     piece.iter_mut().for_each(|x| *x = part);
/// })
/// .unwrap();
/// assert_eq!(out, [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
/// ```
pub fn parallel_split_mut<T: Send>(
    data: &mut [T],
    bounds: &[usize],
    work: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) -> crate::Result<()> {
    let ok = bounds.first() == Some(&0)
        && bounds.last() == Some(&data.len())
        && bounds.windows(2).all(|w| w[0] <= w[1]);
    if !ok {
        return Err(crate::TensorError::invalid(
            "parallel_split_mut",
            format!(
                "bounds {bounds:?} must rise from 0 to the data length {}",
                data.len()
            ),
        ));
    }
    let parts = bounds.len() - 1;
    let threads = threads_for(work, ELEMENTWISE_PAR_THRESHOLD);
    let shared = SharedMut::new(data);
    run_parts(threads, parts, |p| {
        // SAFETY: the bounds rise, so the pieces are disjoint.
        f(p, unsafe { shared.range(bounds[p]..bounds[p + 1]) })
    });
    Ok(())
}

/// Whether kernels started on this thread now would use the thread team
/// for `work` units: false inside [`run_inline`], inside a team job, on
/// one thread, or below the size threshold.
pub fn would_parallelize(work: usize) -> bool {
    threads_for(work, ELEMENTWISE_PAR_THRESHOLD) > 1
}

/// How many jobs this thread has run on the team (not inline) so far; for
/// tests that check which threads use the team.
#[doc(hidden)]
pub fn team_jobs_on_this_thread() -> u64 {
    team::jobs_on_this_thread()
}

fn team() -> Arc<Team> {
    Arc::clone(&team_slot().read().unwrap_or_else(|e| e.into_inner()))
}

/// How many threads a kernel doing `work` units may use: 1 below
/// `threshold`, when already inside a parallel job (nested kernels run
/// on their own thread) or inside [`run_inline`], the team's size otherwise.
pub(crate) fn threads_for(work: usize, threshold: usize) -> usize {
    if work < threshold || team::in_job() || in_inline_scope() {
        1
    } else {
        get_num_threads()
    }
}

/// Calls `f(i)` for every `i` in `0..parts`, across the team when
/// `threads > 1` (from [`threads_for`]), in order on this thread otherwise.
pub(crate) fn run_parts(threads: usize, parts: usize, f: impl Fn(usize) + Sync) {
    if threads <= 1 || parts <= 1 {
        (0..parts).for_each(f);
    } else {
        team().run(parts, &f);
    }
}

/// Splits `0..n` into ranges of `chunk` (the last one shorter) and calls
/// `f` on each, across the team when `threads > 1`.
pub(crate) fn for_each_range(
    threads: usize,
    n: usize,
    chunk: usize,
    f: impl Fn(Range<usize>) + Sync,
) {
    let chunk = chunk.max(1);
    run_parts(threads, n.div_ceil(chunk), |i| {
        f(i * chunk..((i + 1) * chunk).min(n))
    });
}

/// Calls `f(i, chunk)` for every `chunk`-long piece of `data` (the last
/// one shorter), `i` counting from 0 — rayon's
/// `par_chunks_mut(chunk).enumerate()`. Pieces are grouped into a few
/// parts per thread when `threads > 1`.
pub(crate) fn for_each_chunk_mut<T: Send>(
    threads: usize,
    data: &mut [T],
    chunk: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let (len, chunk) = (data.len(), chunk.max(1));
    let chunks = len.div_ceil(chunk);
    if threads <= 1 || chunks <= 1 {
        data.chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
        return;
    }
    let data = SharedMut::new(data);
    for_each_range(threads, chunks, chunks.div_ceil(threads * 4), |group| {
        for i in group {
            // SAFETY: every chunk index is in exactly one group.
            f(i, unsafe {
                data.range(i * chunk..((i + 1) * chunk).min(len))
            })
        }
    });
}

/// `(0..n).map(f).collect()`, computed across the team when `threads > 1`.
pub(crate) fn map_collect<U: Send>(
    threads: usize,
    n: usize,
    f: impl Fn(usize) -> U + Sync,
) -> Vec<U> {
    if threads <= 1 {
        return (0..n).map(f).collect();
    }
    let mut out: Vec<U> = Vec::with_capacity(n);
    let dst = SharedMut::new(&mut out.spare_capacity_mut()[..n]);
    for_each_range(threads, n, n.div_ceil(threads * 4), |r| {
        // SAFETY: the ranges of one job are disjoint.
        let dst = unsafe { dst.range(r.clone()) };
        for (d, i) in dst.iter_mut().zip(r) {
            d.write(f(i));
        }
    });
    // SAFETY: the ranges cover 0..n, so every slot was written (a panic in
    // `f` propagates out of `for_each_range` before this line, leaking the
    // values already made: safe, and only on that panic).
    unsafe { out.set_len(n) };
    out
}

/// `f(threads)` where `threads` is what [`threads_for`] allows; the
/// kernel splits its work with [`run_parts`] / [`for_each_range`].
pub(crate) fn maybe_parallel<R>(work: usize, threshold: usize, f: impl FnOnce(usize) -> R) -> R {
    f(threads_for(work, threshold))
}

/// A mutable slice that parts of a parallel job write to, each through a
/// range no other part touches.
pub(crate) struct SharedMut<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: access goes through `range`, whose callers promise that
// concurrently used ranges are disjoint; `T: Send` lets values move
// between threads.
unsafe impl<T: Send> Sync for SharedMut<'_, T> {}
unsafe impl<T: Send> Send for SharedMut<'_, T> {}

impl<'a, T> SharedMut<'a, T> {
    /// Borrows `data` for the job.
    pub(crate) fn new(data: &'a mut [T]) -> Self {
        SharedMut {
            ptr: data.as_mut_ptr(),
            len: data.len(),
            _borrow: std::marker::PhantomData,
        }
    }

    /// Whether the borrowed slice is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements in `r`.
    ///
    /// # Safety
    /// No other live reference from this `SharedMut` may overlap `r`.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn range(&self, r: Range<usize>) -> &mut [T] {
        assert!(r.start <= r.end && r.end <= self.len, "range out of bounds");
        std::slice::from_raw_parts_mut(self.ptr.add(r.start), r.end - r.start)
    }
}
