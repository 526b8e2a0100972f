//! Where batches come from: the [`BatchSource`] trait and its ready-made
//! implementations.

use torchlet_data::{Collate, DataLoader, Dataset, RandomSampler, Sampler};
use torchlet_tensor::Tensor;

use crate::{Result, TrainError};

/// One batch: the inputs (e.g. float32 `[N, C, H, W]`) and the targets
/// (int64 class indices `[N]` for classification).
pub type Batch = (Tensor, Tensor);

/// The batches of one epoch.
pub type Batches<'a> = Box<dyn Iterator<Item = Result<Batch>> + 'a>;

/// A source of batches, asked once per epoch.
///
/// Implemented by [`DataLoader`]s whose batches are `(inputs, targets)`
/// (e.g. a dataset of `(Tensor, i64)` with [`DefaultCollate`](torchlet_data::DefaultCollate)),
/// by [`IndexBatches`] (a closure that builds a whole batch from a list of
/// indices — the fast path of in-memory datasets such as
/// `torchlet_vision::Mnist::batch`) and by [`FnSource`] (any closure
/// `epoch -> IntoIterator<Item = Result<Batch, E>>`).
pub trait BatchSource {
    /// The batches of epoch `epoch` (0-based). A source that shuffles
    /// should make the order a pure function of its seed and `epoch`, so
    /// runs are reproducible.
    fn batches(&self, epoch: u64) -> Result<Batches<'_>>;

    /// Batches per epoch, if known (sizes the progress bar).
    fn num_batches(&self) -> Option<usize> {
        None
    }

    /// Samples per epoch, if known (sizes the progress bar).
    fn num_samples(&self) -> Option<usize> {
        None
    }
}

impl<T: BatchSource + ?Sized> BatchSource for &T {
    fn batches(&self, epoch: u64) -> Result<Batches<'_>> {
        (**self).batches(epoch)
    }
    fn num_batches(&self) -> Option<usize> {
        (**self).num_batches()
    }
    fn num_samples(&self) -> Option<usize> {
        (**self).num_samples()
    }
}

/// A collated batch the trainer can train on: `(inputs, targets)` (a
/// dataset of pairs), or a `Vec<Tensor>` of exactly two tensors (a
/// `TensorDataset::new(vec![inputs, targets])`).
pub trait IntoBatch {
    /// The `(inputs, targets)` pair, or an error naming what was found.
    fn into_batch(self) -> Result<Batch>;
}

impl IntoBatch for (Tensor, Tensor) {
    fn into_batch(self) -> Result<Batch> {
        Ok(self)
    }
}

impl IntoBatch for Vec<Tensor> {
    fn into_batch(self) -> Result<Batch> {
        let n = self.len();
        let mut it = self.into_iter();
        match (it.next(), it.next(), it.next()) {
            (Some(x), Some(y), None) => Ok((x, y)),
            _ => Err(TrainError::Invalid(format!(
                "a batch of {n} tensors: the trainer needs two (inputs, targets)"
            ))),
        }
    }
}

impl<D, C> BatchSource for DataLoader<D, C>
where
    D: Dataset + 'static,
    C: Collate<D::Item> + 'static,
    C::Batch: IntoBatch,
{
    /// The loader's batches of epoch `epoch` ([`DataLoader::iter_epoch`]).
    fn batches(&self, epoch: u64) -> Result<Batches<'_>> {
        Ok(Box::new(self.iter_epoch(epoch).map(|b| {
            b.map_err(TrainError::from).and_then(IntoBatch::into_batch)
        })))
    }
    fn num_batches(&self) -> Option<usize> {
        Some(self.len())
    }
    fn num_samples(&self) -> Option<usize> {
        // Exact unless a custom sampler or batch sampler changes the count.
        self.batch_size()
            .map(|b| (self.len() * b).min(self.dataset().len()))
    }
}

/// Batches built by a closure from lists of indices: `fetch(&[i0, i1, ...])`
/// returns the whole batch at once, so there is no per-sample tensor.
/// Indices are visited in order, or shuffled by a [`RandomSampler`] that
/// is a pure function of `(seed, epoch)`.
///
/// ```
/// use torchlet_tensor::Tensor;
/// use torchlet_train::{BatchSource, IndexBatches};
///
/// let x = Tensor::arange(0.0, 10.0, 1.0).unwrap().reshape(&[10, 1]).unwrap();
/// let y = Tensor::from_vec((0..10).map(|i| i % 2).collect::<Vec<i64>>(), &[10]).unwrap();
/// let source = IndexBatches::new(10, 4, move |idx: &[usize]| -> torchlet_tensor::Result<_> {
///     let idx = Tensor::from_vec(idx.iter().map(|&i| i as i64).collect::<Vec<_>>(), &[idx.len()])?;
///     Ok((x.index_select(0, &idx)?, y.index_select(0, &idx)?))
/// })
/// .shuffle(true)
/// .seed(7);
/// assert_eq!(source.num_batches(), Some(3));
/// let sizes: Vec<usize> = source.batches(0).unwrap().map(|b| b.unwrap().0.shape()[0]).collect();
/// assert_eq!(sizes, [4, 4, 2]);
/// ```
pub struct IndexBatches<F> {
    len: usize,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    drop_last: bool,
    /// `(rank, world_size)`: this rank's share of each epoch.
    shard: Option<(usize, usize)>,
    fetch: F,
}

impl<F, E> IndexBatches<F>
where
    F: Fn(&[usize]) -> std::result::Result<Batch, E>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// `len` samples in batches of `batch_size` (clamped to at least 1),
    /// in order, the last batch possibly smaller.
    pub fn new(len: usize, batch_size: usize, fetch: F) -> Self {
        IndexBatches {
            len,
            batch_size: batch_size.max(1),
            shuffle: false,
            seed: torchlet_tensor::DEFAULT_SEED,
            drop_last: false,
            shard: None,
            fetch,
        }
    }

    /// Visits the samples in a new random order every epoch.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The shuffling seed (default: [`torchlet_tensor::DEFAULT_SEED`]).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Drops the last batch when it is smaller than `batch_size`.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Visits only rank `rank`'s share of each epoch when the data is
    /// split across `world_size` data-parallel ranks (with the same seed
    /// on every rank): the epoch's order, padded by repeating its first
    /// indices to a multiple of `world_size`, then every
    /// `world_size`-th index from `rank` (`DistributedSampler`'s split),
    /// so every rank gets the same number of samples and batches.
    pub fn shard(mut self, rank: usize, world_size: usize) -> Self {
        self.shard = (world_size > 1).then_some((rank % world_size, world_size));
        self
    }

    /// Samples per epoch on this rank.
    fn visited(&self) -> usize {
        match self.shard {
            Some((_, world)) => self.len.div_ceil(world),
            None => self.len,
        }
    }

    /// The indices of epoch `epoch`, in visiting order.
    pub fn indices(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = if self.shuffle {
            RandomSampler::new(self.len).seed(self.seed).indices(epoch)
        } else {
            (0..self.len).collect()
        };
        let Some((rank, world)) = self.shard else {
            return order;
        };
        let total = self.visited() * world;
        for k in 0..total - order.len().min(total) {
            let again = order[k % self.len];
            order.push(again);
        }
        order.into_iter().skip(rank).step_by(world).collect()
    }
}

impl<F, E> BatchSource for IndexBatches<F>
where
    F: Fn(&[usize]) -> std::result::Result<Batch, E>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn batches(&self, epoch: u64) -> Result<Batches<'_>> {
        let indices = self.indices(epoch);
        let n = self.num_batches().unwrap_or(0);
        let bs = self.batch_size;
        Ok(Box::new((0..n).map(move |b| {
            let end = ((b + 1) * bs).min(indices.len());
            (self.fetch)(&indices[b * bs..end]).map_err(TrainError::data)
        })))
    }
    fn num_batches(&self) -> Option<usize> {
        let n = self.visited();
        Some(if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        })
    }
    fn num_samples(&self) -> Option<usize> {
        let n = self.visited();
        Some(if self.drop_last {
            n / self.batch_size * self.batch_size
        } else {
            n
        })
    }
}

/// A closure `epoch -> IntoIterator<Item = Result<Batch, E>>` as a batch
/// source (the iterator may not borrow from the caller: capture `Arc`s or
/// cheap tensor clones).
///
/// ```
/// use torchlet_tensor::Tensor;
/// use torchlet_train::{BatchSource, FnSource};
///
/// let source = FnSource::new(|_epoch| {
///     (0..3).map(|_| Ok::<_, torchlet_tensor::TensorError>((Tensor::zeros(&[2, 4]), Tensor::zeros(&[2]).to_dtype(torchlet_tensor::DType::I64))))
/// })
/// .with_len(3, 6);
/// assert_eq!(source.batches(0).unwrap().count(), 3);
/// ```
pub struct FnSource<F> {
    f: F,
    num_batches: Option<usize>,
    num_samples: Option<usize>,
}

impl<F> FnSource<F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        FnSource {
            f,
            num_batches: None,
            num_samples: None,
        }
    }

    /// Declares the number of batches and samples per epoch (for the
    /// progress bar).
    pub fn with_len(mut self, batches: usize, samples: usize) -> Self {
        self.num_batches = Some(batches);
        self.num_samples = Some(samples);
        self
    }
}

impl<F, I, E> BatchSource for FnSource<F>
where
    F: Fn(u64) -> I,
    I: IntoIterator<Item = std::result::Result<Batch, E>>,
    I::IntoIter: 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn batches(&self, epoch: u64) -> Result<Batches<'_>> {
        Ok(Box::new(
            (self.f)(epoch)
                .into_iter()
                .map(|b| b.map_err(TrainError::data)),
        ))
    }
    fn num_batches(&self) -> Option<usize> {
        self.num_batches
    }
    fn num_samples(&self) -> Option<usize> {
        self.num_samples
    }
}
