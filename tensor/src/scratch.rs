//! Per-thread scratch space for kernels (im2col columns, a sample's
//! unpooled convolution), kept between calls so that running the same
//! kernel on the same shapes again allocates nothing. What a thread keeps
//! is bounded by [`RETAIN_BYTES`]; bigger buffers are freed after use.

use std::any::Any;
use std::cell::RefCell;

use crate::dtype::Float;

/// The most bytes of scratch one thread keeps between calls.
pub(crate) const RETAIN_BYTES: usize = 32 << 20;

/// A kernel's scratch buffers (both empty when handed out; their
/// capacity is what earlier calls left).
#[derive(Default)]
pub(crate) struct Scratch<T> {
    /// im2col columns.
    pub(crate) cols: Vec<T>,
    /// A per-sample intermediate block.
    pub(crate) block: Vec<T>,
}

impl<T> Scratch<T> {
    fn clear(&mut self) {
        self.cols.clear();
        self.block.clear();
    }

    fn bytes(&self) -> usize {
        (self.cols.capacity() + self.block.capacity()) * std::mem::size_of::<T>()
    }
}

thread_local! {
    static SCRATCH: RefCell<(Scratch<f32>, Scratch<f64>)> = RefCell::new(Default::default());
}

/// Runs `f` with this thread's scratch buffers for `T`, emptied; a nested
/// call (or one during unwinding) gets fresh ones instead.
pub(crate) fn with_scratch<T: Float, R>(f: impl FnOnce(&mut Scratch<T>) -> R) -> R {
    SCRATCH.with(|cell| {
        let Ok(mut both) = cell.try_borrow_mut() else {
            return f(&mut Scratch::default());
        };
        let (f32s, f64s) = &mut *both;
        let mine: Option<&mut Scratch<T>> = (f32s as &mut dyn Any)
            .downcast_mut()
            .or_else(|| (f64s as &mut dyn Any).downcast_mut());
        let Some(scratch) = mine else {
            return f(&mut Scratch::default());
        };
        scratch.clear();
        let out = f(scratch);
        if scratch.bytes() > RETAIN_BYTES {
            *scratch = Scratch::default();
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_with_their_capacity() {
        with_scratch::<f32, _>(|s| s.cols.resize(1000, 1.0));
        with_scratch::<f32, _>(|s| {
            assert!(s.cols.is_empty());
            assert!(s.cols.capacity() >= 1000);
            // A nested call gets its own buffers.
            with_scratch::<f32, _>(|inner| assert_eq!(inner.cols.capacity(), 0));
        });
        with_scratch::<f64, _>(|s| assert_eq!(s.cols.capacity(), 0));
    }

    #[test]
    fn big_buffers_are_not_kept() {
        with_scratch::<f64, _>(|s| s.block.resize(RETAIN_BYTES / 8 + 1, 0.0));
        with_scratch::<f64, _>(|s| assert_eq!(s.block.capacity(), 0));
    }
}
