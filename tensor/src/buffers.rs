//! Output buffers reused across calls: a [`BufferPool`] that the ops run
//! inside [`BufferPool::scope`] draw their results from, so that a loop
//! running the same ops on the same shapes stops allocating after its
//! first pass (what PyTorch mobile's caching CPU allocator does for its
//! interpreter, and what the jit's executor is built on).
//!
//! Buffers are matched by dtype and exact capacity. That choice makes the
//! steady state certain rather than likely: if every value freed in a
//! pass goes back to the pool, the next pass with the same requests in the
//! same order finds a buffer for each of them, because no more buffers of
//! a size are live at any point than were live in the first pass.
//!
//! Only a tensor whose storage nobody else holds is taken back
//! ([`BufferPool::recycle`]), so reuse never changes a value someone can
//! still see: a caller keeping an output simply keeps its buffer, and the
//! pool makes a new one on the next pass.
//!
//! ```
//! use torchlet_tensor::{BufferPool, Tensor};
//! let x = Tensor::rand(&[64, 64]);
//! let mut pool = BufferPool::new();
//! let y = pool.scope(|| x.matmul(&x)).unwrap();
//! let first = y.to_vec::<f32>().unwrap();
//! assert!(pool.recycle(y)); // nobody else holds it
//! let again = pool.scope(|| x.matmul(&x)).unwrap(); // same buffer, no allocation
//! assert_eq!(again.to_vec::<f32>().unwrap(), first);
//! assert_eq!(pool.buffers(), 0); // `again` holds the buffer now
//! ```

use std::cell::RefCell;
use std::mem;
use std::sync::Arc;

use crate::dtype::Element;
pub use crate::scratch::with_scratch_f32;
use crate::storage::Storage;
use crate::tensor::Tensor;

thread_local! {
    /// The pool of the [`BufferPool::scope`] running on this thread.
    static ACTIVE: RefCell<Option<BufferPool>> = const { RefCell::new(None) };
}

/// Free output buffers, and empty shared-storage handles to wrap new
/// results in without allocating (see the module docs).
#[derive(Debug, Default)]
pub struct BufferPool {
    /// Storages no tensor refers to: free buffers, and the handles whose
    /// buffer was handed out (empty, capacity 0) for results to reuse.
    slots: Vec<Arc<Storage>>,
}

fn capacity(s: &Storage) -> usize {
    match s {
        Storage::F32(v) => v.capacity(),
        Storage::F64(v) => v.capacity(),
        Storage::I64(v) => v.capacity(),
        Storage::Bool(v) => v.capacity(),
    }
}

impl BufferPool {
    /// An empty pool.
    pub fn new() -> BufferPool {
        BufferPool::default()
    }

    /// Takes `tensor`'s buffer into the pool when no other tensor (view or
    /// copy of the handle) shares it; returns whether it did. A shared
    /// tensor is simply dropped.
    pub fn recycle(&mut self, tensor: Tensor) -> bool {
        let Tensor { mut storage, .. } = tensor;
        if Arc::get_mut(&mut storage).is_none() {
            return false;
        }
        self.slots.push(storage);
        true
    }

    /// Makes room to take back `additional` more buffers without growing
    /// (so that recycling a call's outputs at the start of the next one
    /// allocates nothing).
    pub fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
    }

    /// Runs `f` with this pool serving the outputs of the ops `f` runs on
    /// this thread (ops on other threads, and the scratch space of kernels,
    /// are unaffected). Scopes nest: the innermost pool serves.
    pub fn scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        /// Puts the pool back into `self` even if `f` panics.
        struct Restore<'a> {
            pool: &'a mut BufferPool,
            outer: Option<BufferPool>,
        }
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                let outer = self.outer.take();
                let mine = ACTIVE.with(|a| mem::replace(&mut *a.borrow_mut(), outer));
                *self.pool = mine.unwrap_or_default();
            }
        }
        let mine = mem::take(self);
        let outer = ACTIVE.with(|a| a.borrow_mut().replace(mine));
        let _restore = Restore { pool: self, outer };
        f()
    }

    /// How many free buffers the pool holds.
    pub fn buffers(&self) -> usize {
        self.slots.iter().filter(|s| capacity(s) > 0).count()
    }

    /// The bytes of the free buffers.
    pub fn bytes(&self) -> usize {
        self.slots
            .iter()
            .map(|s| capacity(s) * s.dtype().size_in_bytes())
            .sum()
    }

    /// An empty vector of `T` with room for exactly `len` elements, from a
    /// free buffer of that capacity when there is one (its handle stays,
    /// empty, for [`BufferPool::share`]).
    fn take<T: Element>(&mut self, len: usize) -> Option<Vec<T>> {
        if len == 0 {
            return None;
        }
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.dtype() == T::DTYPE && capacity(s) == len)?;
        let mut vec = mem::take(T::vec_of_mut(Arc::get_mut(slot)?)?);
        vec.clear();
        Some(vec)
    }

    /// `storage` behind a shared handle, reusing an empty one if there is.
    fn share(&mut self, storage: Storage) -> Arc<Storage> {
        let Some(at) = self.slots.iter().position(|s| capacity(s) == 0) else {
            return Arc::new(storage);
        };
        let mut shell = self.slots.swap_remove(at);
        match Arc::get_mut(&mut shell) {
            Some(slot) => {
                *slot = storage;
                shell
            }
            None => Arc::new(storage),
        }
    }
}

/// An empty vector with room for `len` elements of `T`, for an op's
/// output: inside a [`BufferPool::scope`] it reuses a free buffer of that
/// capacity, otherwise (or when none fits) it allocates.
pub fn take_vec<T: Element>(len: usize) -> Vec<T> {
    ACTIVE
        .with(|a| a.try_borrow_mut().ok()?.as_mut()?.take::<T>(len))
        .unwrap_or_else(|| Vec::with_capacity(len))
}

/// [`BufferPool::recycle`] into the pool of the scope running on this
/// thread (inside [`BufferPool::scope`]); outside one, `tensor` is
/// dropped. Returns whether the buffer was kept.
pub fn recycle(tensor: Tensor) -> bool {
    ACTIVE.with(|a| match a.try_borrow_mut() {
        Ok(mut active) => active.as_mut().is_some_and(|pool| pool.recycle(tensor)),
        Err(_) => false,
    })
}

/// [`take_vec`] filled with `len` default values (zeros).
pub(crate) fn zeroed<T: Element>(len: usize) -> Vec<T> {
    let mut out = take_vec(len);
    out.resize(len, T::default());
    out
}

/// `storage` behind a shared handle; inside a scope, a handle the pool
/// emptied earlier is reused instead of allocating a new one.
pub(crate) fn share(storage: Storage) -> Arc<Storage> {
    ACTIVE.with(|a| match a.try_borrow_mut() {
        Ok(mut active) => match active.as_mut() {
            Some(pool) => pool.share(storage),
            None => Arc::new(storage),
        },
        Err(_) => Arc::new(storage),
    })
}
