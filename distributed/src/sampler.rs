//! [`DistributedSampler`]: each rank's share of a dataset's indices per
//! epoch (`torch.utils.data.distributed.DistributedSampler`), in PyTorch's
//! order for the same seed and epoch.

use torchlet_data::Sampler;

use crate::error::{DistError, Result};
use crate::group::ProcessGroup;
use crate::mt19937::randperm;

/// Rank `rank`'s indices of a dataset of `len` samples split across
/// `num_replicas` ranks (`DistributedSampler`): every epoch the indices
/// are shuffled with the seed `seed + epoch` (PyTorch's generator and
/// `randperm`, so the order is PyTorch's), padded by repeating the first
/// ones to a multiple of `num_replicas` (or cut down to one with
/// `drop_last`), and rank `r` takes every `num_replicas`-th from `r`.
///
/// As a [`Sampler`], it gets the epoch number from the `DataLoader`;
/// [`set_epoch`](Self::set_epoch) and [`epoch_indices`](Self::epoch_indices)
/// are for reading the indices yourself.
///
/// ```
/// use torchlet_distributed::DistributedSampler;
/// use torchlet_data::Sampler;
/// # fn main() -> Result<(), torchlet_distributed::DistError> {
/// let s = DistributedSampler::new(10, 3, 1)?.shuffle(false);
/// // 10 samples over 3 ranks: 4 each, padded with samples 0 and 1.
/// assert_eq!(s.indices(0), [1, 4, 7, 0]);
/// assert_eq!(s.len(), 4);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributedSampler {
    len: usize,
    num_replicas: usize,
    rank: usize,
    shuffle: bool,
    seed: u64,
    drop_last: bool,
    epoch: u64,
}

impl DistributedSampler {
    /// Rank `rank` of `num_replicas` over `len` samples, shuffled with
    /// seed 0, padding the last round (PyTorch's defaults).
    pub fn new(len: usize, num_replicas: usize, rank: usize) -> Result<DistributedSampler> {
        if num_replicas == 0 || rank >= num_replicas {
            return Err(DistError::invalid(
                "DistributedSampler",
                format!(
                    "invalid rank {rank}, rank should be in the interval [0, {}]",
                    num_replicas as i64 - 1
                ),
            ));
        }
        Ok(DistributedSampler {
            len,
            num_replicas,
            rank,
            shuffle: true,
            seed: 0,
            drop_last: false,
            epoch: 0,
        })
    }

    /// [`new`](Self::new) with the group's rank and size.
    pub fn for_group(len: usize, group: &ProcessGroup) -> Result<DistributedSampler> {
        DistributedSampler::new(len, group.world_size(), group.rank())
    }

    /// Whether to shuffle every epoch (default true).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The shuffling seed; every rank must use the same (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Drop the tail that does not split evenly instead of padding it
    /// with repeated samples (default false).
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// The epoch [`epoch_indices`](Self::epoch_indices) shuffles for.
    pub fn set_epoch(&mut self, epoch: u64) {
        self.epoch = epoch;
    }

    /// The indices of the epoch set with [`set_epoch`](Self::set_epoch).
    pub fn epoch_indices(&self) -> Vec<usize> {
        self.indices(self.epoch)
    }

    /// Samples per rank per epoch.
    fn num_samples(&self) -> usize {
        let n = self.num_replicas;
        if self.drop_last && !self.len.is_multiple_of(n) {
            // PyTorch: ceil((len - n) / n), 0 when len < n.
            self.len.saturating_sub(n).div_ceil(n)
        } else {
            self.len.div_ceil(n)
        }
    }
}

impl Sampler for DistributedSampler {
    fn len(&self) -> usize {
        self.num_samples()
    }

    fn indices(&self, epoch: u64) -> Vec<usize> {
        let mut all = if self.shuffle {
            randperm(self.len, self.seed.wrapping_add(epoch))
        } else {
            (0..self.len).collect()
        };
        let total = self.num_samples() * self.num_replicas;
        if self.drop_last {
            all.truncate(total);
        } else if !all.is_empty() {
            let mut k = 0;
            while all.len() < total {
                all.push(all[k]);
                k += 1;
            }
        }
        all.into_iter()
            .skip(self.rank)
            .step_by(self.num_replicas)
            .collect()
    }
}
