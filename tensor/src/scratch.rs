//! Scratch space for kernels (im2col columns, a sample's unpooled
//! convolution, a fused kernel's blocks), from a process-wide pool: a
//! kernel part takes one [`Scratch`], uses it and gives it back.
//!
//! The pool keeps one scratch per team thread and nesting level (a
//! convolution's fused epilogue takes a second scratch inside the first),
//! more if more threads ask at once, and the first time a size is asked
//! for, every pooled scratch grows to it. So once a kernel has run, running it again on the same
//! shapes allocates nothing, whichever threads run its parts (with
//! per-thread buffers, a thread running a part for the first time in the
//! second call would allocate). What the pool keeps is bounded: a request
//! over [`RETAIN_BYTES`] gets a scratch of its own, freed after use.

use std::any::Any;
use std::cell::Cell;
use std::sync::Mutex;

use crate::dtype::Float;

/// The most bytes one pooled scratch holds.
pub(crate) const RETAIN_BYTES: usize = 32 << 20;

/// A kernel's scratch buffers. `cols` comes empty (im2col zero-fills
/// what it resizes); `block` keeps its length and stale (initialized)
/// contents, for kernels that write before they read.
#[derive(Default)]
pub(crate) struct Scratch<T> {
    /// im2col columns.
    pub(crate) cols: Vec<T>,
    /// A per-sample or per-part intermediate block.
    pub(crate) block: Vec<T>,
}

/// The pooled scratches of one element type.
struct Pool<T> {
    free: Vec<Scratch<T>>,
    /// How many exist (free or in use).
    made: usize,
    /// The capacities every pooled scratch has.
    cols: usize,
    block: usize,
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool {
            free: Vec::new(),
            made: 0,
            cols: 0,
            block: 0,
        }
    }
}

fn grow<T: Float>(s: &mut Scratch<T>, cols: usize, block: usize) {
    s.cols.clear();
    s.cols.reserve(cols);
    if s.block.len() < block {
        s.block.resize(block, T::ZERO);
    }
}

impl<T: Float> Pool<T> {
    /// A scratch with room for `cols` and `block`, growing every pooled
    /// one the first time a size is needed. `depth` is how many scratches
    /// the calling thread holds with this one: the pool keeps that many
    /// per team thread, so a nested kernel that ran on one thread in the
    /// first call finds a scratch ready when every thread runs it.
    fn take(&mut self, cols: usize, block: usize, depth: usize) -> Scratch<T> {
        if cols > self.cols || block > self.block {
            self.cols = self.cols.max(cols);
            self.block = self.block.max(block);
            for s in &mut self.free {
                grow(s, self.cols, self.block);
            }
        }
        let wanted = crate::parallel::get_num_threads().max(1) * depth;
        while self.made < wanted {
            self.made += 1;
            let mut s = Scratch::default();
            grow(&mut s, self.cols, self.block);
            self.free.push(s);
        }
        self.free.reserve(self.made.saturating_sub(self.free.len()));
        match self.free.pop() {
            Some(s) => s,
            None => {
                // More parts at once than threads (several callers).
                self.made += 1;
                self.free.reserve(self.made);
                let mut s = Scratch::default();
                grow(&mut s, self.cols, self.block);
                s
            }
        }
    }

    fn give_back(&mut self, mut s: Scratch<T>) {
        grow(&mut s, self.cols, self.block);
        self.free.push(s);
    }
}

/// The f32 and f64 pools (made on first use).
type Pools = (Option<Pool<f32>>, Option<Pool<f64>>);

static POOLS: Mutex<Pools> = Mutex::new((None, None));

thread_local! {
    /// How many pooled scratches this thread holds now.
    static HELD: Cell<usize> = const { Cell::new(0) };
}

/// Counts a held scratch for the current thread until dropped (panics
/// included).
struct Held;

impl Held {
    /// Counts one more; returns the guard and the new count.
    fn take() -> (Held, usize) {
        let depth = HELD.with(|h| {
            h.set(h.get() + 1);
            h.get()
        });
        (Held, depth)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        HELD.with(|h| h.set(h.get() - 1));
    }
}

/// Runs `f` on `T`'s pool (under the lock).
fn with_pool<T: Float, R>(f: impl FnOnce(&mut Pool<T>) -> R) -> R {
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let (f32s, f64s) = &mut *pools;
    let f32s = f32s.get_or_insert_with(Pool::default);
    let f64s = f64s.get_or_insert_with(Pool::default);
    let pool: &mut Pool<T> = (f32s as &mut dyn Any)
        .downcast_mut()
        .or_else(|| (f64s as &mut dyn Any).downcast_mut())
        .expect("Float is f32 or f64");
    f(pool)
}

/// Runs `f` with a scratch whose `cols` can take `cols` elements and
/// whose `block` holds at least `block` (see [`Scratch`]).
pub(crate) fn with_scratch<T: Float, R>(
    cols: usize,
    block: usize,
    f: impl FnOnce(&mut Scratch<T>) -> R,
) -> R {
    if (cols + block) * std::mem::size_of::<T>() > RETAIN_BYTES {
        let mut own = Scratch::default();
        grow(&mut own, cols, block);
        return f(&mut own);
    }
    let (held, depth) = Held::take();
    let mut s = with_pool::<T, _>(|p| p.take(cols, block, depth));
    let out = f(&mut s);
    with_pool::<T, _>(|p| p.give_back(s));
    drop(held);
    out
}

/// Runs `f` with `len` f32s of scratch whose contents are unspecified
/// (initialized, possibly stale): for kernels built on torchlet-tensor
/// that write their scratch before reading it. Pooled like the tensor
/// kernels' own scratch, so a second run on the same sizes allocates
/// nothing, whichever threads run it.
pub fn with_scratch_f32<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    with_scratch::<f32, R>(0, len, |s| f(&mut s.block[..len]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_comes_back_with_its_capacity() {
        with_scratch::<f64, _>(1000, 10, |s| {
            assert!(s.cols.is_empty());
            assert!(s.cols.capacity() >= 1000);
            assert!(s.block.len() >= 10);
            s.cols.resize(1000, 1.0);
        });
        with_scratch::<f64, _>(10, 0, |s| {
            assert!(s.cols.is_empty());
            assert!(s.cols.capacity() >= 1000);
        });
    }

    #[test]
    fn nested_scratches_are_kept_for_every_thread() {
        // A kernel that takes a scratch inside another (a convolution and
        // its fused epilogue) run here on one thread: the pool must then
        // hold two per team thread, for when every thread runs it.
        with_scratch::<f64, _>(8, 8, |_| with_scratch::<f64, _>(8, 8, |_| ()));
        let threads = crate::parallel::get_num_threads().max(1);
        assert!(with_pool::<f64, _>(|p| p.made) >= 2 * threads);
        assert_eq!(HELD.with(Cell::get), 0);
    }

    #[test]
    fn oversized_requests_are_not_pooled() {
        let n = RETAIN_BYTES / 8 + 1;
        with_scratch::<f64, _>(0, n, |s| assert!(s.block.len() >= n));
        with_scratch::<f64, _>(0, 1, |s| assert!(s.block.len() < n));
    }
}
