//! Intra-op parallelism: one rayon pool owned by torchlet, sized by
//! [`set_num_threads`] like `torch.set_num_threads`.
//!
//! Kernels run on the caller's thread below a size threshold (handing work
//! to a pool costs microseconds) and split across the pool above it.

use std::sync::{Arc, OnceLock, RwLock};

use rayon::ThreadPool;

/// Elementwise kernels split across threads from this many elements up.
pub(crate) const ELEMENTWISE_PAR_THRESHOLD: usize = 1 << 15;

fn pool_slot() -> &'static RwLock<Arc<ThreadPool>> {
    static POOL: OnceLock<RwLock<Arc<ThreadPool>>> = OnceLock::new();
    POOL.get_or_init(|| RwLock::new(Arc::new(build_pool(default_threads()))))
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

fn build_pool(threads: usize) -> ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("torchlet-{i}"))
        .build()
        .expect("failed to start the torchlet thread pool")
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
    let mut slot = pool_slot().write().unwrap_or_else(|e| e.into_inner());
    if slot.current_num_threads() != n {
        *slot = Arc::new(build_pool(n));
    }
}

/// The number of threads kernels use (`torch.get_num_threads`).
pub fn get_num_threads() -> usize {
    pool().current_num_threads()
}

/// The current pool.
pub(crate) fn pool() -> Arc<ThreadPool> {
    Arc::clone(&pool_slot().read().unwrap_or_else(|e| e.into_inner()))
}

/// Runs `f` inside the pool when `work` is large enough and there is more
/// than one thread; on the caller's thread otherwise. `f` receives the
/// number of threads it may use.
pub(crate) fn maybe_parallel<R: Send>(
    work: usize,
    threshold: usize,
    f: impl FnOnce(usize) -> R + Send,
) -> R {
    if work < threshold {
        return f(1);
    }
    // Already on one of our workers (nested op): stay here.
    if rayon::current_thread_index().is_some() {
        return f(rayon::current_num_threads());
    }
    let pool = pool();
    let n = pool.current_num_threads();
    if n <= 1 {
        return f(1);
    }
    pool.install(|| f(n))
}
