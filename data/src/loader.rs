//! `torch.utils.data.DataLoader`: batches of a [`Dataset`], optionally
//! prepared ahead of time on worker threads.

use std::collections::HashMap;
use std::iter::FusedIterator;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use torchlet_tensor::{use_thread_generator, with_global_generator, Generator, DEFAULT_SEED};

use crate::collate::{Collate, DefaultCollate};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::sampler::{BatchSampler, BatchSampling, RandomSampler, Sampler, SequentialSampler};

/// Loads one batch from its dataset indices (dataset `get` + collate),
/// with the dataset and collate types erased.
type Fetch<B> = dyn Fn(&[usize]) -> Result<B> + Send + Sync;

/// Iterates over a dataset in batches (`torch.utils.data.DataLoader`).
///
/// Built with [`DataLoader::builder`]. Each call to [`iter`](Self::iter)
/// (or `for batch in &loader`) runs one epoch; epochs are numbered from 0
/// and each one's order is derived from the seed and the epoch number, so
/// shuffled epochs differ from each other yet replay identically for the
/// same seed. The batches, their order and contents, do not depend on
/// `num_workers`, unless [`Dataset::get`] draws from the default random
/// generator (`Tensor::rand`, say). Without workers such draws come from
/// the caller's generator, as in PyTorch; with workers each batch is
/// loaded under a default generator of its own, seeded with one number
/// the epoch's iterator draws from the caller's generator plus the batch
/// index, so the draws repeat from run to run whichever worker loads the
/// batch (PyTorch seeds each worker with that number plus the worker id,
/// but it also gives batch `i` to worker `i % num_workers`).
///
/// ```
/// use torchlet_data::{DataLoader, TensorDataset};
/// use torchlet_tensor::Tensor;
/// let x = Tensor::arange(0.0f32, 10.0, 1.0).unwrap().reshape(&[10, 1]).unwrap();
/// let loader = DataLoader::builder(TensorDataset::new(vec![x]).unwrap())
///     .batch_size(4)
///     .drop_last(true)
///     .build()
///     .unwrap();
/// let batches: Vec<_> = loader.iter().collect::<Result<_, _>>().unwrap();
/// assert_eq!(batches.len(), 2);
/// assert_eq!(batches[1][0].to_vec::<f32>().unwrap(), vec![4.0, 5.0, 6.0, 7.0]);
/// ```
pub struct DataLoader<D, C = DefaultCollate> {
    dataset: Arc<D>,
    collate: Arc<C>,
    batch_sampler: Box<dyn BatchSampling>,
    batch_size: Option<usize>,
    num_workers: usize,
    prefetch_factor: usize,
    next_epoch: AtomicU64,
}

impl<D: Dataset> DataLoader<D> {
    /// Starts configuring a loader over `dataset` (batch size 1, no
    /// shuffling, no workers, [`DefaultCollate`]).
    pub fn builder(dataset: D) -> DataLoaderBuilder<D> {
        DataLoaderBuilder {
            dataset,
            collate: DefaultCollate,
            batch_size: None,
            shuffle: false,
            seed: DEFAULT_SEED,
            drop_last: false,
            sampler: None,
            batch_sampler: None,
            num_workers: 0,
            prefetch_factor: 2,
        }
    }
}

impl<D, C> DataLoader<D, C>
where
    D: Dataset + 'static,
    C: Collate<D::Item> + 'static,
{
    /// Number of batches per epoch (`len(loader)`).
    pub fn len(&self) -> usize {
        self.batch_sampler.len()
    }

    /// Whether an epoch has no batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    /// The batch size, or `None` with a custom batch sampler.
    pub fn batch_size(&self) -> Option<usize> {
        self.batch_size
    }

    /// Number of worker threads (0: batches are loaded in the caller's thread).
    pub fn num_workers(&self) -> usize {
        self.num_workers
    }

    /// The epoch the next [`iter`](Self::iter) will run.
    pub fn epoch(&self) -> u64 {
        self.next_epoch.load(Ordering::Relaxed)
    }

    /// Makes the next [`iter`](Self::iter) run epoch `epoch` (e.g. when
    /// resuming training from a checkpoint).
    pub fn set_epoch(&self, epoch: u64) {
        self.next_epoch.store(epoch, Ordering::Relaxed);
    }

    /// Runs the next epoch: its number is [`epoch`](Self::epoch), which
    /// then advances by one.
    pub fn iter(&self) -> DataLoaderIter<C::Batch> {
        let epoch = self.next_epoch.fetch_add(1, Ordering::Relaxed);
        self.iter_epoch(epoch)
    }

    /// The batches of epoch `epoch`, without touching the epoch counter.
    ///
    /// With workers, they start loading the first
    /// `num_workers * prefetch_factor` batches right away.
    pub fn iter_epoch(&self, epoch: u64) -> DataLoaderIter<C::Batch> {
        let dataset = Arc::clone(&self.dataset);
        let collate = Arc::clone(&self.collate);
        let fetch: Arc<Fetch<C::Batch>> = Arc::new(move |indices: &[usize]| {
            let items = indices
                .iter()
                .map(|&i| dataset.get(i))
                .collect::<Result<Vec<_>>>()?;
            collate.collate(items)
        });
        DataLoaderIter::new(
            self.batch_sampler.batches(epoch),
            fetch,
            self.num_workers,
            self.num_workers * self.prefetch_factor,
        )
    }
}

impl<D, C> IntoIterator for &DataLoader<D, C>
where
    D: Dataset + 'static,
    C: Collate<D::Item> + 'static,
{
    type Item = Result<C::Batch>;
    type IntoIter = DataLoaderIter<C::Batch>;

    /// [`DataLoader::iter`]: the next epoch.
    fn into_iter(self) -> DataLoaderIter<C::Batch> {
        self.iter()
    }
}

impl<D, C> std::fmt::Debug for DataLoader<D, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataLoader")
            .field("batches", &self.batch_sampler.len())
            .field("batch_size", &self.batch_size)
            .field("num_workers", &self.num_workers)
            .field("prefetch_factor", &self.prefetch_factor)
            .field("next_epoch", &self.next_epoch)
            .finish_non_exhaustive()
    }
}

/// Configures a [`DataLoader`]; [`build`](Self::build) checks the options.
///
/// As in PyTorch, `batch_sampler` excludes `batch_size`, `shuffle`,
/// `sampler` and `drop_last`, and `sampler` excludes `shuffle`.
#[must_use]
pub struct DataLoaderBuilder<D, C = DefaultCollate> {
    dataset: D,
    collate: C,
    batch_size: Option<usize>,
    shuffle: bool,
    seed: u64,
    drop_last: bool,
    sampler: Option<Box<dyn Sampler>>,
    batch_sampler: Option<Box<dyn BatchSampling>>,
    num_workers: usize,
    prefetch_factor: usize,
}

impl<D: Dataset, C> DataLoaderBuilder<D, C> {
    /// Samples per batch (default 1; must be positive).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = Some(batch_size);
        self
    }

    /// Visit the dataset in a new random order each epoch.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The seed of the shuffling (default
    /// [`DEFAULT_SEED`](torchlet_tensor::DEFAULT_SEED)); epoch `e` uses a
    /// permutation derived from `(seed, e)`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Drop the last batch when it is short.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Draw indices from `sampler` instead of in order or shuffled.
    pub fn sampler(mut self, sampler: impl Sampler + 'static) -> Self {
        self.sampler = Some(Box::new(sampler));
        self
    }

    /// Take whole batches of indices from `batch_sampler`.
    pub fn batch_sampler(mut self, batch_sampler: impl BatchSampling + 'static) -> Self {
        self.batch_sampler = Some(Box::new(batch_sampler));
        self
    }

    /// Threads that load batches ahead of the consumer (default 0: load in
    /// the caller's thread, on demand).
    pub fn num_workers(mut self, num_workers: usize) -> Self {
        self.num_workers = num_workers;
        self
    }

    /// Batches loaded ahead per worker (default 2, must be positive); at
    /// most `num_workers * prefetch_factor` batches wait in memory.
    pub fn prefetch_factor(mut self, prefetch_factor: usize) -> Self {
        self.prefetch_factor = prefetch_factor;
        self
    }

    /// Merge samples with `collate` instead of the current collate function.
    pub fn collate<C2: Collate<D::Item>>(self, collate: C2) -> DataLoaderBuilder<D, C2> {
        DataLoaderBuilder {
            dataset: self.dataset,
            collate,
            batch_size: self.batch_size,
            shuffle: self.shuffle,
            seed: self.seed,
            drop_last: self.drop_last,
            sampler: self.sampler,
            batch_sampler: self.batch_sampler,
            num_workers: self.num_workers,
            prefetch_factor: self.prefetch_factor,
        }
    }

    /// The loader, or [`DataError::Invalid`] for inconsistent options.
    pub fn build(self) -> Result<DataLoader<D, C>>
    where
        C: Collate<D::Item>,
    {
        const WHAT: &str = "DataLoader";
        if self.prefetch_factor == 0 && self.num_workers > 0 {
            return Err(DataError::invalid(
                WHAT,
                "prefetch_factor must be positive when num_workers > 0",
            ));
        }
        if self.sampler.is_some() && self.shuffle {
            return Err(DataError::invalid(
                WHAT,
                "sampler option is mutually exclusive with shuffle",
            ));
        }
        let (batch_sampler, batch_size): (Box<dyn BatchSampling>, _) = match self.batch_sampler {
            Some(bs) => {
                if self.batch_size.is_some()
                    || self.shuffle
                    || self.sampler.is_some()
                    || self.drop_last
                {
                    return Err(DataError::invalid(
                        WHAT,
                        "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last",
                    ));
                }
                (bs, None)
            }
            None => {
                let batch_size = self.batch_size.unwrap_or(1);
                let n = self.dataset.len();
                let sampler: Box<dyn Sampler> = match self.sampler {
                    Some(s) => s,
                    None if self.shuffle => Box::new(RandomSampler::new(n).seed(self.seed)),
                    None => Box::new(SequentialSampler::new(n)),
                };
                let bs = BatchSampler::new(sampler, batch_size, self.drop_last).map_err(|_| {
                    DataError::invalid(WHAT, "batch_size should be a positive integer, got 0")
                })?;
                (Box::new(bs), Some(batch_size))
            }
        };
        Ok(DataLoader {
            dataset: Arc::new(self.dataset),
            collate: Arc::new(self.collate),
            batch_sampler,
            batch_size,
            num_workers: self.num_workers,
            prefetch_factor: self.prefetch_factor,
            next_epoch: AtomicU64::new(0),
        })
    }
}

/// One epoch of a [`DataLoader`]: yields `Result<Batch>` in sampler order.
///
/// A failing `get` or collate yields that error as the batch's item and
/// iteration goes on with the next batch (stop with `?` to abort the
/// epoch); a panic in a worker thread becomes a [`DataError::Source`].
/// Dropping the iterator early stops the workers and joins them (after they
/// finish the batch in hand).
pub struct DataLoaderIter<B: Send + 'static> {
    batches: Vec<Vec<usize>>,
    /// Next batch to yield.
    next: usize,
    fetch: Arc<Fetch<B>>,
    workers: Option<Workers<B>>,
}

/// The worker threads of one epoch and the queues around them.
struct Workers<B: Send + 'static> {
    /// Batch indices to load; dropping it tells the workers to exit.
    tasks: Option<Sender<(usize, Vec<usize>)>>,
    results: Receiver<(usize, Result<B>)>,
    /// Batches that arrived before their turn.
    ready: HashMap<usize, Result<B>>,
    /// Next batch to hand to the workers.
    sent: usize,
    /// Most batches in flight or waiting at once.
    limit: usize,
    cancel: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
}

impl<B: Send + 'static> DataLoaderIter<B> {
    fn new(
        batches: Vec<Vec<usize>>,
        fetch: Arc<Fetch<B>>,
        num_workers: usize,
        limit: usize,
    ) -> DataLoaderIter<B> {
        let mut it = DataLoaderIter {
            batches,
            next: 0,
            fetch,
            workers: None,
        };
        // No threads for an epoch they could not speed up.
        let num_workers = num_workers.min(it.batches.len());
        if num_workers > 0 {
            let base_seed = with_global_generator(|g| g.int_below(0, i64::MAX)) as u64;
            it.workers = Workers::spawn(num_workers, limit.max(1), &it.fetch, base_seed);
            it.dispatch();
        }
        it
    }

    /// Hands batches to the workers until `limit` are in flight or waiting.
    fn dispatch(&mut self) {
        let Some(w) = self.workers.as_mut() else {
            return;
        };
        while w.sent < self.batches.len() && w.sent - self.next < w.limit {
            let indices = std::mem::take(&mut self.batches[w.sent]);
            if let Some(tasks) = &w.tasks {
                // Fails only if every worker has exited; `next` then reports it.
                let _ = tasks.send((w.sent, indices));
            }
            w.sent += 1;
        }
    }

    /// Receives batches until batch `self.next` is there.
    fn wait_for_next(&mut self) -> Result<B> {
        let w = self.workers.as_mut().expect("workers are running");
        if let Some(batch) = w.ready.remove(&self.next) {
            return batch;
        }
        loop {
            match w.results.recv() {
                Ok((i, batch)) if i == self.next => return batch,
                Ok((i, batch)) => {
                    w.ready.insert(i, batch);
                }
                Err(_) => {
                    return Err(DataError::Source(
                        "DataLoader: worker threads exited unexpectedly".into(),
                    ))
                }
            }
        }
    }
}

impl<B: Send + 'static> Workers<B> {
    /// Starts up to `n` worker threads; `None` if none could start (the
    /// iterator then loads batches in the caller's thread).
    /// Batch `i` is loaded with the default generator seeded `base_seed + i`.
    fn spawn(n: usize, limit: usize, fetch: &Arc<Fetch<B>>, base_seed: u64) -> Option<Workers<B>> {
        let (task_tx, task_rx) = channel::<(usize, Vec<usize>)>();
        let task_rx = Arc::new(Mutex::new(task_rx));
        let (result_tx, results) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let handles: Vec<JoinHandle<()>> = (0..n)
            .filter_map(|k| {
                let tasks = Arc::clone(&task_rx);
                let results = result_tx.clone();
                let cancel = Arc::clone(&cancel);
                let fetch = Arc::clone(fetch);
                std::thread::Builder::new()
                    .name(format!("torchlet-data-worker-{k}"))
                    // Kernels in a worker run on the worker alone (PyTorch
                    // sets one thread in its workers): the tensor team stays
                    // free for the training step running meanwhile.
                    .spawn(move || {
                        torchlet_tensor::run_inline(|| {
                            worker_loop(k, &tasks, &results, &cancel, &*fetch, base_seed)
                        })
                    })
                    .ok()
            })
            .collect();
        if handles.is_empty() {
            return None;
        }
        Some(Workers {
            tasks: Some(task_tx),
            results,
            ready: HashMap::new(),
            sent: 0,
            limit,
            cancel,
            handles,
        })
    }
}

/// A worker: loads the batches it receives until the task queue closes,
/// the consumer goes away or the epoch is cancelled.
fn worker_loop<B>(
    id: usize,
    tasks: &Mutex<Receiver<(usize, Vec<usize>)>>,
    results: &Sender<(usize, Result<B>)>,
    cancel: &AtomicBool,
    fetch: &Fetch<B>,
    base_seed: u64,
) {
    loop {
        // The lock is held only while waiting for a task, never while a
        // task runs, so a panic cannot poison it.
        let task = tasks.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((i, indices)) = task else {
            return;
        };
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let seed = base_seed.wrapping_add(i as u64);
        let _own = use_thread_generator(Generator::new(seed));
        let batch = catch_unwind(AssertUnwindSafe(|| fetch(&indices))).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(DataError::Source(format!(
                "DataLoader worker {id} panicked while loading batch {i}: {msg}"
            )))
        });
        if results.send((i, batch)).is_err() {
            return;
        }
    }
}

impl<B: Send + 'static> Iterator for DataLoaderIter<B> {
    type Item = Result<B>;

    fn next(&mut self) -> Option<Result<B>> {
        if self.next >= self.batches.len() {
            self.shutdown();
            return None;
        }
        let batch = if self.workers.is_some() {
            self.wait_for_next()
        } else {
            let indices = std::mem::take(&mut self.batches[self.next]);
            (self.fetch)(&indices)
        };
        self.next += 1;
        self.dispatch();
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.batches.len() - self.next;
        (left, Some(left))
    }
}

impl<B: Send + 'static> ExactSizeIterator for DataLoaderIter<B> {}

impl<B: Send + 'static> FusedIterator for DataLoaderIter<B> {}

impl<B: Send + 'static> DataLoaderIter<B> {
    /// Stops and joins the workers, dropping batches loaded ahead.
    fn shutdown(&mut self) {
        if let Some(mut w) = self.workers.take() {
            w.cancel.store(true, Ordering::Relaxed);
            // Closing the task queue wakes every idle worker.
            w.tasks = None;
            for h in w.handles.drain(..) {
                // Panics are caught inside the loop; nothing to report here.
                let _ = h.join();
            }
        }
    }

    /// Number of live worker threads (0 once the epoch ended or was dropped).
    pub fn num_live_workers(&self) -> usize {
        self.workers.as_ref().map_or(0, |w| w.handles.len())
    }
}

impl<B: Send + 'static> Drop for DataLoaderIter<B> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl<B: Send + 'static> std::fmt::Debug for DataLoaderIter<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataLoaderIter")
            .field("batches", &self.batches.len())
            .field("next", &self.next)
            .field("workers", &self.num_live_workers())
            .finish()
    }
}
