//! # torchlet-data
//!
//! `torch.utils.data` for torchlet: the [`Dataset`] trait, dataset
//! combinators, samplers and a `DataLoader` that prepares batches on
//! worker threads.

use torchlet_tensor::TensorError;

/// What went wrong while reading or batching data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A tensor op failed (for example stacking samples of different shapes).
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An index past the end of a dataset.
    #[error("{dataset}: index {index} is out of range for a dataset of length {len}")]
    Index {
        /// The dataset type.
        dataset: &'static str,
        /// The offending index.
        index: usize,
        /// The dataset's length.
        len: usize,
    },
    /// An invalid argument (batch size 0, split lengths that do not add up, ...).
    #[error("{what}: {message}")]
    Invalid {
        /// The function or type that rejected it.
        what: &'static str,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A dataset's own failure (a file that cannot be read or decoded).
    #[error("{0}")]
    Source(String),
}

/// A `Result` with [`DataError`].
pub type Result<T> = std::result::Result<T, DataError>;

/// A map-style dataset (`torch.utils.data.Dataset`): `len` samples,
/// reachable by index. Datasets are shared with the loader's worker
/// threads, hence `Send + Sync`.
///
/// Image datasets (torchlet-vision) yield `(Tensor, i64)`: a `[C, H, W]`
/// float image and its class.
pub trait Dataset: Send + Sync {
    /// One sample.
    type Item: Send + 'static;

    /// The number of samples.
    fn len(&self) -> usize;

    /// Sample `index` (`0 <= index < len()`).
    fn get(&self, index: usize) -> Result<Self::Item>;

    /// Whether the dataset has no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
