//! A batch sampler that groups sequences of similar length, so batches
//! carry little padding (torchtext's `BucketIterator`, the "pool" recipe).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use torchlet_data::BatchSampling;
use torchlet_tensor::DEFAULT_SEED;

use crate::error::{Result, TextError};

/// Batches of indices whose sequences have similar lengths, reshuffled
/// every epoch.
///
/// Epoch `e`: shuffle all indices with a generator derived from
/// `(seed, e)`; cut the shuffled list into pools of
/// `batch_size * pool_batches` indices; sort each pool by length (stable,
/// so equal lengths keep their shuffled order); cut each pool into
/// batches of `batch_size`; shuffle the order of the batches. Every index
/// appears exactly once per epoch (without `drop_last`), the batches are a
/// pure function of `(seed, epoch)`, and since pools are whole multiples
/// of the batch size only the very last batch can be short: there are
/// `ceil(n / batch_size)` batches (`floor` with `drop_last`, which drops
/// that short one).
///
/// With `shuffle(false)` the whole dataset is one pool sorted by length
/// (ties by index) and the batches come shortest first — for evaluation.
///
/// ```
/// use torchlet_data::BatchSampling;
/// use torchlet_text::BucketBatchSampler;
/// let lengths = vec![5, 1, 9, 2, 8, 1, 7, 3];
/// let sampler = BucketBatchSampler::new(lengths.clone(), 2)?.seed(3);
/// let batches = sampler.batches(0);
/// assert_eq!(batches.len(), 4);
/// assert_eq!(batches, sampler.batches(0)); // a pure function of (seed, epoch)
/// let mut all: Vec<usize> = batches.concat();
/// all.sort();
/// assert_eq!(all, (0..8).collect::<Vec<_>>());
///
/// let sorted = BucketBatchSampler::new(lengths, 3)?.shuffle(false);
/// assert_eq!(sorted.batches(0), vec![vec![1, 5, 3], vec![7, 0, 6], vec![4, 2]]);
/// # Ok::<(), torchlet_text::TextError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketBatchSampler {
    lengths: Vec<usize>,
    batch_size: usize,
    pool_batches: usize,
    drop_last: bool,
    shuffle: bool,
    seed: u64,
}

impl BucketBatchSampler {
    /// Batches of `batch_size` (> 0) indices into a dataset whose sample
    /// `i` has length `lengths[i]`. Defaults: pools of 100 batches,
    /// shuffled, short last batch kept, seed
    /// [`DEFAULT_SEED`](torchlet_tensor::DEFAULT_SEED).
    pub fn new(lengths: Vec<usize>, batch_size: usize) -> Result<BucketBatchSampler> {
        if batch_size == 0 {
            return Err(TextError::invalid(
                "BucketBatchSampler",
                "batch_size should be a positive integer, got 0",
            ));
        }
        Ok(BucketBatchSampler {
            lengths,
            batch_size,
            pool_batches: 100,
            drop_last: false,
            shuffle: true,
            seed: DEFAULT_SEED,
        })
    }

    /// How many batches a pool holds (at least 1): larger pools give
    /// tighter length groups but less random batches.
    pub fn pool_batches(mut self, pool_batches: usize) -> BucketBatchSampler {
        self.pool_batches = pool_batches.max(1);
        self
    }

    /// Drop the short last batch, if any.
    pub fn drop_last(mut self, drop_last: bool) -> BucketBatchSampler {
        self.drop_last = drop_last;
        self
    }

    /// Shuffle (the default) or not; see the type's docs.
    pub fn shuffle(mut self, shuffle: bool) -> BucketBatchSampler {
        self.shuffle = shuffle;
        self
    }

    /// The seed every epoch's generator derives from.
    pub fn seed(mut self, seed: u64) -> BucketBatchSampler {
        self.seed = seed;
        self
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The sequence lengths, by dataset index.
    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }
}

/// The generator of `(seed, epoch)` (SplitMix64 mixing, as torchlet-data's
/// samplers): distinct pairs give unrelated streams.
fn epoch_rng(seed: u64, epoch: u64) -> StdRng {
    fn mix(x: u64) -> u64 {
        let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    StdRng::seed_from_u64(mix(mix(seed) ^ epoch))
}

impl BatchSampling for BucketBatchSampler {
    fn len(&self) -> usize {
        let n = self.lengths.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    fn batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        let n = self.lengths.len();
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = epoch_rng(self.seed, epoch);
        let pool = if self.shuffle {
            order.shuffle(&mut rng);
            self.batch_size.saturating_mul(self.pool_batches)
        } else {
            n.max(1)
        };
        let mut batches: Vec<Vec<usize>> = Vec::with_capacity(self.len() + 1);
        for chunk in order.chunks_mut(pool) {
            chunk.sort_by_key(|&i| self.lengths[i]);
            batches.extend(chunk.chunks(self.batch_size).map(<[usize]>::to_vec));
        }
        if self.drop_last && batches.last().is_some_and(|b| b.len() < self.batch_size) {
            batches.pop();
        }
        if self.shuffle {
            batches.shuffle(&mut rng);
        }
        batches
    }
}
