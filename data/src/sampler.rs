//! Samplers (`torch.utils.data.Sampler` and friends): which dataset indices
//! an epoch visits, in which order, and how they are grouped into batches.
//!
//! Unlike PyTorch's stateful iterators, a torchlet sampler is a pure
//! function of its seed and the epoch number ([`Sampler::indices`]), so a
//! loader can replay any epoch and its worker threads never share a
//! generator.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use torchlet_tensor::DEFAULT_SEED;

use crate::error::{DataError, Result};

/// The generator for `(seed, epoch)`: distinct pairs give unrelated streams.
pub(crate) fn seeded_rng(seed: u64, epoch: u64) -> StdRng {
    StdRng::seed_from_u64(splitmix64(splitmix64(seed) ^ epoch))
}

/// SplitMix64's finalizer, a cheap bijective mixer of 64-bit values.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniformly random permutation of `0..n` (`torch.randperm`).
pub(crate) fn permutation(n: usize, rng: &mut StdRng) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    v.shuffle(rng);
    v
}

/// Chooses the dataset indices of one epoch (`torch.utils.data.Sampler`).
pub trait Sampler: Send + Sync {
    /// How many indices an epoch yields.
    fn len(&self) -> usize;

    /// The indices of epoch `epoch`, in visiting order; a pure function of
    /// the sampler's configuration and `epoch`.
    fn indices(&self, epoch: u64) -> Vec<usize>;

    /// Whether an epoch yields no index.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

macro_rules! forward_sampler {
    ($($ptr:ty),*) => {$(
        impl<S: Sampler + ?Sized> Sampler for $ptr {
            fn len(&self) -> usize {
                (**self).len()
            }
            fn indices(&self, epoch: u64) -> Vec<usize> {
                (**self).indices(epoch)
            }
        }
    )*};
}

forward_sampler!(Box<S>, Arc<S>);

/// A fixed list of indices is a sampler that visits them in order, every
/// epoch.
impl Sampler for Vec<usize> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn indices(&self, _epoch: u64) -> Vec<usize> {
        self.clone()
    }
}

/// `0, 1, ..., len - 1` every epoch (`SequentialSampler`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequentialSampler {
    len: usize,
}

impl SequentialSampler {
    /// Visits a dataset of `len` samples in order.
    pub fn new(len: usize) -> SequentialSampler {
        SequentialSampler { len }
    }
}

impl Sampler for SequentialSampler {
    fn len(&self) -> usize {
        self.len
    }
    fn indices(&self, _epoch: u64) -> Vec<usize> {
        (0..self.len).collect()
    }
}

/// Random indices into a dataset of `len` samples (`RandomSampler`).
///
/// Without replacement (the default) an epoch is a permutation; asking for
/// more than `len` samples chains several permutations, as PyTorch does.
/// With replacement every index is drawn uniformly and independently.
/// A dataset of length 0 yields nothing.
///
/// ```
/// use torchlet_data::{RandomSampler, Sampler};
/// let s = RandomSampler::new(5).seed(1);
/// let mut epoch0 = s.indices(0);
/// assert_ne!(epoch0, s.indices(1)); // (with overwhelming probability)
/// epoch0.sort();
/// assert_eq!(epoch0, [0, 1, 2, 3, 4]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomSampler {
    len: usize,
    replacement: bool,
    num_samples: Option<usize>,
    seed: u64,
}

impl RandomSampler {
    /// A permutation of `0..len` per epoch, seeded with
    /// [`DEFAULT_SEED`](torchlet_tensor::DEFAULT_SEED) until [`seed`](Self::seed).
    pub fn new(len: usize) -> RandomSampler {
        RandomSampler {
            len,
            replacement: false,
            num_samples: None,
            seed: DEFAULT_SEED,
        }
    }

    /// The seed every epoch's generator derives from.
    pub fn seed(mut self, seed: u64) -> RandomSampler {
        self.seed = seed;
        self
    }

    /// Draw with replacement (independent uniform indices).
    pub fn replacement(mut self, replacement: bool) -> RandomSampler {
        self.replacement = replacement;
        self
    }

    /// Samples per epoch (default: `len`).
    pub fn num_samples(mut self, num_samples: usize) -> RandomSampler {
        self.num_samples = Some(num_samples);
        self
    }
}

impl Sampler for RandomSampler {
    fn len(&self) -> usize {
        if self.len == 0 {
            0
        } else {
            self.num_samples.unwrap_or(self.len)
        }
    }

    fn indices(&self, epoch: u64) -> Vec<usize> {
        let n = self.len;
        let wanted = Sampler::len(self);
        let mut rng = seeded_rng(self.seed, epoch);
        if self.replacement {
            return (0..wanted).map(|_| rng.random_range(0..n)).collect();
        }
        let mut out = Vec::with_capacity(wanted);
        while out.len() < wanted {
            let perm = permutation(n, &mut rng);
            let take = (wanted - out.len()).min(n);
            out.extend_from_slice(&perm[..take]);
        }
        out
    }
}

/// A random permutation of a fixed list of indices per epoch
/// (`SubsetRandomSampler`), e.g. for a validation split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubsetRandomSampler {
    indices: Vec<usize>,
    seed: u64,
}

impl SubsetRandomSampler {
    /// Shuffles `indices` each epoch, seeded with
    /// [`DEFAULT_SEED`](torchlet_tensor::DEFAULT_SEED) until [`seed`](Self::seed).
    pub fn new(indices: Vec<usize>) -> SubsetRandomSampler {
        SubsetRandomSampler {
            indices,
            seed: DEFAULT_SEED,
        }
    }

    /// The seed every epoch's generator derives from.
    pub fn seed(mut self, seed: u64) -> SubsetRandomSampler {
        self.seed = seed;
        self
    }
}

impl Sampler for SubsetRandomSampler {
    fn len(&self) -> usize {
        self.indices.len()
    }
    fn indices(&self, epoch: u64) -> Vec<usize> {
        let mut rng = seeded_rng(self.seed, epoch);
        permutation(self.indices.len(), &mut rng)
            .into_iter()
            .map(|i| self.indices[i])
            .collect()
    }
}

/// Index `i` drawn with probability `weights[i] / sum(weights)`
/// (`WeightedRandomSampler`), e.g. to rebalance classes.
///
/// Without replacement the draws are successive (each draw is proportional
/// to the weights of the indices not drawn yet), like `torch.multinomial`.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightedRandomSampler {
    /// Running totals of the weights (for draws with replacement).
    cumulative: Vec<f64>,
    weights: Vec<f64>,
    num_samples: usize,
    replacement: bool,
    seed: u64,
}

impl WeightedRandomSampler {
    /// `num_samples` indices per epoch drawn by `weights` (finite, `>= 0`,
    /// not all zero). Without replacement, at most as many samples as there
    /// are positive weights. Seeded with
    /// [`DEFAULT_SEED`](torchlet_tensor::DEFAULT_SEED) until [`seed`](Self::seed).
    pub fn new(
        weights: Vec<f64>,
        num_samples: usize,
        replacement: bool,
    ) -> Result<WeightedRandomSampler> {
        const WHAT: &str = "WeightedRandomSampler";
        if let Some(w) = weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
            return Err(DataError::invalid(
                WHAT,
                format!("weights must be finite and non-negative, got {w}"),
            ));
        }
        let positive = weights.iter().filter(|&&w| w > 0.0).count();
        if positive == 0 && num_samples > 0 {
            return Err(DataError::invalid(
                WHAT,
                "weights must not all be zero (or empty)",
            ));
        }
        if !replacement && num_samples > positive {
            return Err(DataError::invalid(
                WHAT,
                format!(
                    "cannot draw {num_samples} samples without replacement from {positive} indices of positive weight"
                ),
            ));
        }
        let cumulative = weights
            .iter()
            .scan(0.0, |acc, w| {
                *acc += w;
                Some(*acc)
            })
            .collect();
        Ok(WeightedRandomSampler {
            cumulative,
            weights,
            num_samples,
            replacement,
            seed: DEFAULT_SEED,
        })
    }

    /// The seed every epoch's generator derives from.
    pub fn seed(mut self, seed: u64) -> WeightedRandomSampler {
        self.seed = seed;
        self
    }

    /// The weights, as given.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

impl Sampler for WeightedRandomSampler {
    fn len(&self) -> usize {
        self.num_samples
    }

    fn indices(&self, epoch: u64) -> Vec<usize> {
        let mut rng = seeded_rng(self.seed, epoch);
        if self.replacement {
            let total = self.cumulative.last().copied().unwrap_or(0.0);
            let last = self.weights.len().saturating_sub(1);
            return (0..self.num_samples)
                .map(|_| {
                    let x = rng.random::<f64>() * total;
                    // First index whose running total exceeds x; zero
                    // weights have empty intervals and are never chosen.
                    self.cumulative.partition_point(|&c| c <= x).min(last)
                })
                .collect();
        }
        // Efraimidis–Spirakis: the k largest keys u^(1/w) are a successive
        // weighted sample without replacement. Compare ln(u)/w instead.
        let mut keyed: Vec<(f64, usize)> = self
            .weights
            .iter()
            .enumerate()
            .filter(|(_, &w)| w > 0.0)
            .map(|(i, &w)| {
                let u = 1.0 - rng.random::<f64>(); // in (0, 1]
                (u.ln() / w, i)
            })
            .collect();
        keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
        keyed
            .into_iter()
            .take(self.num_samples)
            .map(|(_, i)| i)
            .collect()
    }
}

/// Groups the indices of an epoch into batches (what
/// [`DataLoader`](crate::DataLoader) iterates over). Implement it for
/// custom batching (e.g. buckets of similar sequence lengths).
pub trait BatchSampling: Send + Sync {
    /// Number of batches per epoch.
    fn len(&self) -> usize;

    /// The batches of epoch `epoch`, each a list of dataset indices; a pure
    /// function of the configuration and `epoch`.
    fn batches(&self, epoch: u64) -> Vec<Vec<usize>>;

    /// Whether an epoch has no batch.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<B: BatchSampling + ?Sized> BatchSampling for Box<B> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        (**self).batches(epoch)
    }
}

impl<B: BatchSampling + ?Sized> BatchSampling for Arc<B> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        (**self).batches(epoch)
    }
}

/// Cuts a sampler's indices into batches of `batch_size`; the last one is
/// shorter unless `drop_last` drops it (`BatchSampler`).
///
/// ```
/// use torchlet_data::{BatchSampler, BatchSampling, SequentialSampler};
/// let b = BatchSampler::new(SequentialSampler::new(5), 2, false).unwrap();
/// assert_eq!(b.batches(0), vec![vec![0, 1], vec![2, 3], vec![4]]);
/// let b = BatchSampler::new(SequentialSampler::new(5), 2, true).unwrap();
/// assert_eq!(b.len(), 2);
/// ```
pub struct BatchSampler {
    sampler: Box<dyn Sampler>,
    batch_size: usize,
    drop_last: bool,
}

impl BatchSampler {
    /// Batches of `batch_size` (> 0) indices drawn from `sampler`.
    pub fn new(
        sampler: impl Sampler + 'static,
        batch_size: usize,
        drop_last: bool,
    ) -> Result<BatchSampler> {
        if batch_size == 0 {
            return Err(DataError::invalid(
                "BatchSampler",
                "batch_size should be a positive integer, got 0",
            ));
        }
        Ok(BatchSampler {
            sampler: Box::new(sampler),
            batch_size,
            drop_last,
        })
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Whether a short last batch is dropped.
    pub fn drop_last(&self) -> bool {
        self.drop_last
    }

    /// The sampler the indices come from.
    pub fn sampler(&self) -> &dyn Sampler {
        &*self.sampler
    }
}

impl std::fmt::Debug for BatchSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchSampler")
            .field("len", &self.sampler.len())
            .field("batch_size", &self.batch_size)
            .field("drop_last", &self.drop_last)
            .finish()
    }
}

impl BatchSampling for BatchSampler {
    fn len(&self) -> usize {
        let n = self.sampler.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    fn batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        let indices = self.sampler.indices(epoch);
        let mut batches: Vec<Vec<usize>> = indices
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect();
        if self.drop_last && batches.last().is_some_and(|b| b.len() < self.batch_size) {
            batches.pop();
        }
        batches
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sorted(mut v: Vec<usize>) -> Vec<usize> {
        v.sort_unstable();
        v
    }

    #[test]
    fn sequential_is_in_order() {
        assert_eq!(SequentialSampler::new(4).indices(3), [0, 1, 2, 3]);
        assert!(SequentialSampler::new(0).is_empty());
    }

    #[test]
    fn random_sampler_more_samples_than_len_chains_permutations() {
        let s = RandomSampler::new(4).num_samples(10).seed(5);
        let v = s.indices(0);
        assert_eq!(v.len(), 10);
        assert_eq!(sorted(v[..4].to_vec()), [0, 1, 2, 3]);
        assert_eq!(sorted(v[4..8].to_vec()), [0, 1, 2, 3]);
        let mut counts = [0; 4];
        v.iter().for_each(|&i| counts[i] += 1);
        assert!(counts.iter().all(|&c| c == 2 || c == 3), "{counts:?}");
    }

    #[test]
    fn random_sampler_with_replacement_stays_in_range_and_repeats() {
        let s = RandomSampler::new(10).replacement(true).num_samples(1000);
        let v = s.indices(0);
        assert_eq!(v.len(), 1000);
        assert!(v.iter().all(|&i| i < 10));
        // 1000 draws from 10 values must repeat; all values show up.
        assert_eq!(
            sorted(v)
                .into_iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            10
        );
        assert!(RandomSampler::new(0)
            .replacement(true)
            .indices(0)
            .is_empty());
    }

    #[test]
    fn subset_random_sampler_permutes_its_indices() {
        let s = SubsetRandomSampler::new(vec![10, 20, 30, 40]).seed(2);
        assert_eq!(sorted(s.indices(7)), [10, 20, 30, 40]);
        assert_eq!(s.indices(7), s.indices(7));
    }

    #[test]
    fn weighted_with_replacement_matches_weights() {
        // Fixed seed, 200k draws: the standard error of each frequency is
        // below 0.0011, so 0.006 is over 5 sigma.
        let weights = vec![1.0, 2.0, 0.0, 3.0, 4.0];
        let n = 200_000;
        let s = WeightedRandomSampler::new(weights.clone(), n, true)
            .unwrap()
            .seed(11);
        let mut counts = [0usize; 5];
        s.indices(0).iter().for_each(|&i| counts[i] += 1);
        for (c, w) in counts.iter().zip(&weights) {
            let freq = *c as f64 / n as f64;
            assert!((freq - w / 10.0).abs() < 0.006, "{counts:?}");
        }
        assert_eq!(counts[2], 0, "a zero weight is never drawn");
    }

    #[test]
    fn weighted_without_replacement_is_distinct_and_favours_heavy() {
        let weights = vec![100.0, 1.0, 0.0, 1.0];
        let s = WeightedRandomSampler::new(weights, 3, false)
            .unwrap()
            .seed(1);
        let mut first_is_heavy = 0;
        for epoch in 0..200 {
            let v = s.indices(epoch);
            assert_eq!(sorted(v.clone()), [0, 1, 3]);
            first_is_heavy += usize::from(v[0] == 0);
        }
        // P(first draw is index 0) = 100/102.
        assert!(first_is_heavy > 180, "{first_is_heavy}");
    }

    #[test]
    fn weighted_rejects_bad_weights() {
        assert!(WeightedRandomSampler::new(vec![1.0, -1.0], 1, true).is_err());
        assert!(WeightedRandomSampler::new(vec![1.0, f64::NAN], 1, true).is_err());
        assert!(WeightedRandomSampler::new(vec![0.0, 0.0], 1, true).is_err());
        assert!(WeightedRandomSampler::new(vec![1.0, 0.0, 1.0], 3, false).is_err());
        assert!(WeightedRandomSampler::new(vec![1.0, 0.0, 1.0], 2, false).is_ok());
    }

    #[test]
    fn batch_size_zero_is_an_error() {
        let err = BatchSampler::new(SequentialSampler::new(3), 0, false).unwrap_err();
        assert!(err.to_string().contains("batch_size"), "{err}");
    }

    proptest! {
        #[test]
        fn random_sampler_is_a_seeded_permutation(len in 0usize..300, seed: u64, epoch in 0u64..50) {
            let s = RandomSampler::new(len).seed(seed);
            let v = s.indices(epoch);
            prop_assert_eq!(&v, &s.indices(epoch));
            prop_assert_eq!(sorted(v), (0..len).collect::<Vec<_>>());
        }

        #[test]
        fn batch_sampler_lengths(len in 0usize..200, bs in 1usize..40, drop_last: bool) {
            let b = BatchSampler::new(RandomSampler::new(len), bs, drop_last).unwrap();
            let batches = b.batches(3);
            prop_assert_eq!(batches.len(), b.len());
            let expected = if drop_last { len / bs } else { len.div_ceil(bs) };
            prop_assert_eq!(batches.len(), expected);
            for (k, batch) in batches.iter().enumerate() {
                if k + 1 < batches.len() || drop_last {
                    prop_assert_eq!(batch.len(), bs);
                } else {
                    prop_assert!(!batch.is_empty() && batch.len() <= bs);
                }
            }
            let flat: Vec<usize> = batches.concat();
            if !drop_last {
                prop_assert_eq!(sorted(flat), (0..len).collect::<Vec<_>>());
            }
        }
    }
}
