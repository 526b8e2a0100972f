//! The [`Dataset`] trait and the map-style combinators of
//! `torch.utils.data`: [`TensorDataset`], [`Subset`], [`ConcatDataset`],
//! plus [`MapDataset`] for per-sample transforms.

use std::sync::Arc;

use torchlet_tensor::Tensor;

use crate::error::{DataError, Result};

/// A map-style dataset (`torch.utils.data.Dataset`): `len` samples,
/// reachable by index. Datasets are shared with the loader's worker
/// threads, hence `Send + Sync`.
///
/// Image datasets (torchlet-vision) yield `(Tensor, i64)`: a `[C, H, W]`
/// float image and its class.
///
/// `get` should be a pure function of `index` (draw any randomness from a
/// seed derived from the index): then a [`DataLoader`](crate::DataLoader)
/// yields the same batches whatever its number of workers.
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

macro_rules! forward_dataset {
    ($($ptr:ty),*) => {$(
        impl<D: Dataset + ?Sized> Dataset for $ptr {
            type Item = D::Item;
            fn len(&self) -> usize {
                (**self).len()
            }
            fn get(&self, index: usize) -> Result<D::Item> {
                (**self).get(index)
            }
        }
    )*};
}

// Shared (`Arc<D>`, `&D`) and boxed (`Box<dyn Dataset<Item = T>>`) datasets
// are datasets too.
forward_dataset!(Arc<D>, Box<D>, &D);

/// Tensors that share their first dimension; sample `i` is
/// `[t[i] for t in tensors]` (`torch.utils.data.TensorDataset`).
///
/// The item is a `Vec<Tensor>` with one entry per tensor, in order; each is
/// a zero-copy view. The default collate stacks them back into a
/// `Vec<Tensor>` of batches.
///
/// ```
/// use torchlet_data::{Dataset, TensorDataset};
/// use torchlet_tensor::Tensor;
/// let x = Tensor::zeros(&[5, 3]);
/// let y = Tensor::from_vec(vec![0i64, 1, 2, 3, 4], &[5]).unwrap();
/// let ds = TensorDataset::new(vec![x, y]).unwrap();
/// let sample = ds.get(2).unwrap();
/// assert_eq!(sample[0].shape(), &[3]);
/// assert_eq!(sample[1].item::<i64>().unwrap(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct TensorDataset {
    tensors: Vec<Tensor>,
    len: usize,
}

impl TensorDataset {
    /// A dataset over `tensors`, which must be non-empty, at least 1-D and
    /// agree on their first dimension.
    pub fn new(tensors: Vec<Tensor>) -> Result<TensorDataset> {
        let Some(first) = tensors.first() else {
            return Err(DataError::invalid(
                "TensorDataset",
                "expected at least one tensor",
            ));
        };
        if let Some(t) = tensors.iter().find(|t| t.dim() == 0) {
            return Err(DataError::invalid(
                "TensorDataset",
                format!("tensors must be at least 1-D, got shape {:?}", t.shape()),
            ));
        }
        let len = first.shape()[0];
        if tensors.iter().any(|t| t.shape()[0] != len) {
            let shapes: Vec<_> = tensors.iter().map(|t| t.shape().to_vec()).collect();
            return Err(DataError::invalid(
                "TensorDataset",
                format!("size mismatch between tensors in dimension 0: shapes {shapes:?}"),
            ));
        }
        Ok(TensorDataset { tensors, len })
    }

    /// The wrapped tensors.
    pub fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }
}

impl Dataset for TensorDataset {
    type Item = Vec<Tensor>;

    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, index: usize) -> Result<Vec<Tensor>> {
        DataError::check_index("TensorDataset", index, self.len)?;
        self.tensors
            .iter()
            .map(|t| Ok(t.select(0, index as i64)?))
            .collect()
    }
}

/// The samples of `dataset` at `indices`, in that order
/// (`torch.utils.data.Subset`).
#[derive(Clone, Debug)]
pub struct Subset<D> {
    dataset: D,
    indices: Vec<usize>,
}

impl<D: Dataset> Subset<D> {
    /// A view of `dataset` through `indices`; every index must be in range.
    /// Indices may repeat.
    pub fn new(dataset: D, indices: Vec<usize>) -> Result<Subset<D>> {
        let len = dataset.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
            return Err(DataError::Index {
                dataset: "Subset",
                index: bad,
                len,
            });
        }
        Ok(Subset { dataset, indices })
    }

    /// The underlying dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    /// The indices into the underlying dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }
}

impl<D: Dataset> Dataset for Subset<D> {
    type Item = D::Item;

    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get(&self, index: usize) -> Result<D::Item> {
        DataError::check_index("Subset", index, self.indices.len())?;
        self.dataset.get(self.indices[index])
    }
}

/// Datasets of the same item type, one after another
/// (`torch.utils.data.ConcatDataset`). Mix dataset types with
/// `Box<dyn Dataset<Item = T>>`.
#[derive(Clone, Debug)]
pub struct ConcatDataset<D> {
    datasets: Vec<D>,
    /// `cumulative[k]` = total length of `datasets[..=k]`.
    cumulative: Vec<usize>,
}

impl<D: Dataset> ConcatDataset<D> {
    /// The concatenation of `datasets` (at least one).
    pub fn new(datasets: Vec<D>) -> Result<ConcatDataset<D>> {
        if datasets.is_empty() {
            return Err(DataError::invalid(
                "ConcatDataset",
                "datasets should not be an empty list",
            ));
        }
        let cumulative = datasets
            .iter()
            .scan(0usize, |total, d| {
                *total += d.len();
                Some(*total)
            })
            .collect();
        Ok(ConcatDataset {
            datasets,
            cumulative,
        })
    }

    /// The parts, in order.
    pub fn datasets(&self) -> &[D] {
        &self.datasets
    }

    /// Running totals of the parts' lengths (`cumulative_sizes`).
    pub fn cumulative_sizes(&self) -> &[usize] {
        &self.cumulative
    }
}

impl<D: Dataset> Dataset for ConcatDataset<D> {
    type Item = D::Item;

    fn len(&self) -> usize {
        self.cumulative.last().copied().unwrap_or(0)
    }

    fn get(&self, index: usize) -> Result<D::Item> {
        DataError::check_index("ConcatDataset", index, self.len())?;
        // First part whose running total exceeds `index`.
        let part = self.cumulative.partition_point(|&end| end <= index);
        let start = if part == 0 {
            0
        } else {
            self.cumulative[part - 1]
        };
        self.datasets[part].get(index - start)
    }
}

/// `dataset` with `f` applied to every sample (a per-sample transform, the
/// `transform=` argument of torchvision datasets).
///
/// ```
/// use torchlet_data::{Dataset, MapDataset, TensorDataset};
/// use torchlet_tensor::Tensor;
/// let ds = TensorDataset::new(vec![Tensor::ones(&[4, 2])]).unwrap();
/// let doubled = MapDataset::new(ds, |mut v: Vec<torchlet_tensor::Tensor>| {
///     Ok(v.remove(0).mul_scalar(2.0))
/// });
/// assert_eq!(doubled.get(0).unwrap().to_vec::<f32>().unwrap(), vec![2.0, 2.0]);
/// ```
#[derive(Clone, Debug)]
pub struct MapDataset<D, F> {
    dataset: D,
    f: F,
}

impl<D, F, T> MapDataset<D, F>
where
    D: Dataset,
    F: Fn(D::Item) -> Result<T> + Send + Sync,
    T: Send + 'static,
{
    /// `dataset` transformed by `f`.
    pub fn new(dataset: D, f: F) -> MapDataset<D, F> {
        MapDataset { dataset, f }
    }

    /// The underlying dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }
}

impl<D, F, T> Dataset for MapDataset<D, F>
where
    D: Dataset,
    F: Fn(D::Item) -> Result<T> + Send + Sync,
    T: Send + 'static,
{
    type Item = T;

    fn len(&self) -> usize {
        self.dataset.len()
    }

    fn get(&self, index: usize) -> Result<T> {
        (self.f)(self.dataset.get(index)?)
    }
}
