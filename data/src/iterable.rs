//! Stream-style datasets (`torch.utils.data.IterableDataset`) and their
//! batching.

use std::iter::FusedIterator;

use crate::collate::{Collate, DefaultCollate};
use crate::error::{DataError, Result};

/// A dataset read as a stream (`torch.utils.data.IterableDataset`): each
/// call to [`iter`](Self::iter) starts a fresh pass, so the dataset is an
/// iterator factory. Use it when samples come from a source without random
/// access (a log file, a generator, a socket).
pub trait IterableDataset: Send + Sync {
    /// One sample.
    type Item: Send + 'static;
    /// One pass over the samples.
    type Iter: Iterator<Item = Result<Self::Item>>;

    /// Starts a new pass.
    fn iter(&self) -> Self::Iter;
}

/// An [`IterableDataset`] made from a closure that starts a pass; see
/// [`from_fn`].
#[derive(Clone, Copy, Debug)]
pub struct FromFn<F>(F);

/// The iterable dataset whose passes are `f()`.
///
/// ```
/// use torchlet_data::{from_fn, IterableDataset};
/// let squares = from_fn(|| (0..4i64).map(|i| Ok(i * i)));
/// let pass: Vec<i64> = squares.iter().map(Result::unwrap).collect();
/// assert_eq!(pass, [0, 1, 4, 9]);
/// ```
pub fn from_fn<F, I, T>(f: F) -> FromFn<F>
where
    F: Fn() -> I + Send + Sync,
    I: IntoIterator<Item = Result<T>>,
    T: Send + 'static,
{
    FromFn(f)
}

impl<F, I, T> IterableDataset for FromFn<F>
where
    F: Fn() -> I + Send + Sync,
    I: IntoIterator<Item = Result<T>>,
    T: Send + 'static,
{
    type Item = T;
    type Iter = I::IntoIter;

    fn iter(&self) -> I::IntoIter {
        (self.0)().into_iter()
    }
}

/// Batches an [`IterableDataset`] in the caller's thread: each pass
/// collects `batch_size` samples at a time and collates them.
///
/// ```
/// use torchlet_data::{from_fn, IterableLoader};
/// let stream = from_fn(|| (0..10i64).map(Ok));
/// let loader = IterableLoader::new(stream, 4).unwrap();
/// let sizes: Vec<usize> = loader.iter().map(|b| b.unwrap().shape()[0]).collect();
/// assert_eq!(sizes, [4, 4, 2]);
/// ```
#[derive(Clone, Debug)]
pub struct IterableLoader<D, C = DefaultCollate> {
    dataset: D,
    collate: C,
    batch_size: usize,
    drop_last: bool,
}

impl<D: IterableDataset> IterableLoader<D> {
    /// Batches of `batch_size` (> 0) samples, merged by [`DefaultCollate`].
    pub fn new(dataset: D, batch_size: usize) -> Result<IterableLoader<D>> {
        if batch_size == 0 {
            return Err(DataError::invalid(
                "IterableLoader",
                "batch_size should be a positive integer, got 0",
            ));
        }
        Ok(IterableLoader {
            dataset,
            collate: DefaultCollate,
            batch_size,
            drop_last: false,
        })
    }
}

impl<D: IterableDataset, C: Collate<D::Item>> IterableLoader<D, C> {
    /// Drop the last batch of a pass when it is short.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Merge samples with `collate` instead.
    pub fn collate<C2: Collate<D::Item>>(self, collate: C2) -> IterableLoader<D, C2> {
        IterableLoader {
            dataset: self.dataset,
            collate,
            batch_size: self.batch_size,
            drop_last: self.drop_last,
        }
    }

    /// The dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    /// One pass, batched.
    pub fn iter(&self) -> IterableLoaderIter<'_, D, C> {
        IterableLoaderIter {
            source: self.dataset.iter(),
            loader: self,
            pending: Vec::with_capacity(self.batch_size),
            done: false,
        }
    }
}

/// One batched pass of an [`IterableLoader`]. A sample the source fails to
/// produce is yielded as an error of its own; the batch in progress keeps
/// filling with the samples that follow.
pub struct IterableLoaderIter<'a, D: IterableDataset, C> {
    source: D::Iter,
    loader: &'a IterableLoader<D, C>,
    /// Samples of the batch in progress.
    pending: Vec<D::Item>,
    done: bool,
}

impl<D: IterableDataset, C: Collate<D::Item>> Iterator for IterableLoaderIter<'_, D, C> {
    type Item = Result<C::Batch>;

    fn next(&mut self) -> Option<Result<C::Batch>> {
        let size = self.loader.batch_size;
        while !self.done && self.pending.len() < size {
            match self.source.next() {
                Some(Ok(item)) => self.pending.push(item),
                Some(Err(e)) => return Some(Err(e)),
                None => self.done = true,
            }
        }
        if self.pending.is_empty() || (self.loader.drop_last && self.pending.len() < size) {
            self.pending.clear();
            return None;
        }
        let items = std::mem::replace(&mut self.pending, Vec::with_capacity(size));
        Some(self.loader.collate.collate(items))
    }
}

impl<D: IterableDataset, C: Collate<D::Item>> FusedIterator for IterableLoaderIter<'_, D, C> {}

impl<D: IterableDataset, C> std::fmt::Debug for IterableLoaderIter<'_, D, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IterableLoaderIter")
            .field("batch_size", &self.loader.batch_size)
            .field("done", &self.done)
            .finish()
    }
}
