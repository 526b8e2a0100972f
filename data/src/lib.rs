//! # torchlet-data
//!
//! `torch.utils.data` for torchlet: the [`Dataset`] trait, dataset
//! combinators, samplers and a [`DataLoader`] that prepares batches on
//! worker threads.
//!
//! | PyTorch | torchlet-data |
//! |---|---|
//! | `Dataset`, `TensorDataset`, `Subset`, `ConcatDataset` | [`Dataset`], [`TensorDataset`], [`Subset`], [`ConcatDataset`] (and [`MapDataset`] for per-sample transforms) |
//! | `random_split(ds, [0.8, 0.2], generator)` | [`random_split`] / [`random_split_fractions`] (seeded) |
//! | `IterableDataset` | [`IterableDataset`], batched by [`IterableLoader`] |
//! | `SequentialSampler`, `RandomSampler`, `WeightedRandomSampler`, `SubsetRandomSampler`, `BatchSampler` | the same names, all implementing [`Sampler`] or [`BatchSampling`] |
//! | `default_collate`, `collate_fn=` | [`DefaultCollate`] ([`Stack`]), or any closure `Fn(Vec<Item>) -> Result<Batch>` ([`Collate`]) |
//! | `DataLoader(ds, batch_size, shuffle, num_workers, ...)` | [`DataLoader::builder`] |
//!
//! ## Determinism
//!
//! Every random choice (shuffling, sampling, splitting) is a pure function
//! of a seed and, for samplers, an epoch number. A [`DataLoader`] counts
//! its epochs (each [`DataLoader::iter`] starts the next one), so epochs
//! see different permutations while two loaders built with the same seed
//! see the same sequence. Batch order and contents do not depend on
//! `num_workers`. Random streams do not match PyTorch's Mersenne Twister.
//!
//! ## Example
//!
//! ```
//! use torchlet_data::{DataLoader, Dataset, Result};
//! use torchlet_tensor::Tensor;
//!
//! /// Ten 2×2 "images" whose pixels all equal their index, with class `i % 3`.
//! struct Toy;
//!
//! impl Dataset for Toy {
//!     type Item = (Tensor, i64);
//!     fn len(&self) -> usize { 10 }
//!     fn get(&self, index: usize) -> Result<(Tensor, i64)> {
//!         Ok((Tensor::full(&[1, 2, 2], index as f32), (index % 3) as i64))
//!     }
//! }
//!
//! fn main() -> Result<()> {
//!     let loader = DataLoader::builder(Toy)
//!         .batch_size(4)
//!         .shuffle(true)
//!         .seed(7)
//!         .num_workers(2)
//!         .build()?;
//!     assert_eq!(loader.len(), 3); // 4 + 4 + 2
//!     let mut seen = 0;
//!     for batch in &loader {
//!         let (images, labels) = batch?;
//!         assert_eq!(images.shape()[1..], [1, 2, 2]);
//!         assert_eq!(labels.shape(), &[images.shape()[0]]);
//!         seen += images.shape()[0];
//!     }
//!     assert_eq!(seen, 10);
//!     Ok(())
//! }
//! ```
#![warn(missing_docs)]

mod collate;
mod dataset;
mod error;
mod iterable;
mod loader;
mod sampler;
mod split;

pub use collate::{Collate, DefaultCollate, Stack};
pub use dataset::{ConcatDataset, Dataset, MapDataset, Subset, TensorDataset};
pub use error::{DataError, Result};
pub use iterable::{from_fn, FromFn, IterableDataset, IterableLoader, IterableLoaderIter};
pub use loader::{DataLoader, DataLoaderBuilder, DataLoaderIter};
pub use sampler::{
    BatchSampler, BatchSampling, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
    WeightedRandomSampler,
};
pub use split::{random_split, random_split_fractions};
