//! What the in-memory datasets (MNIST, CIFAR) share: `u8` pixels decoded
//! once, the per-sample transform with its seeding, and the whole-batch
//! fast path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use torchlet_tensor::{Tensor, DEFAULT_SEED};

use crate::error::{Result, VisionError};
use crate::transforms::{sample_generator, ToTensor, Transform};

/// A dataset's optional transform, its seed and the current epoch: the
/// three inputs of [`sample_generator`] besides the sample index.
pub(crate) struct Augment {
    transform: Option<Arc<dyn Transform>>,
    seed: u64,
    epoch: AtomicU64,
}

impl Default for Augment {
    fn default() -> Augment {
        Augment {
            transform: None,
            seed: DEFAULT_SEED,
            epoch: AtomicU64::new(0),
        }
    }
}

impl Augment {
    pub fn set_transform(&mut self, transform: Arc<dyn Transform>) {
        self.transform = Some(transform);
    }

    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    pub fn has_transform(&self) -> bool {
        self.transform.is_some()
    }

    /// Runs the transform (if any) on sample `index`'s image with the
    /// generator derived from `(seed, epoch, index)`.
    pub fn apply(&self, image: Tensor, index: usize) -> Result<Tensor> {
        match &self.transform {
            None => Ok(image),
            Some(t) => {
                let mut rng = sample_generator(self.seed, self.epoch(), index as u64);
                t.apply(image, &mut rng)
            }
        }
    }
}

/// `N` images of `[C, H, W]` bytes and their labels.
pub(crate) struct U8Images {
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
}

impl U8Images {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn image_bytes(&self, index: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[index * n..(index + 1) * n]
    }

    /// Image `index` as float32 `[C, H, W]` in `[0, 1]` (index checked by
    /// the caller).
    pub fn image(&self, index: usize) -> Result<Tensor> {
        let [c, h, w] = self.shape;
        ToTensor::from_chw_u8(self.image_bytes(index), c, h, w)
    }

    /// The images at `indices` as float32 `[B, C, H, W]` in `[0, 1]` and
    /// their labels as int64 `[B]`, with no transform.
    pub fn batch(&self, what: &'static str, indices: &[usize]) -> Result<(Tensor, Tensor)> {
        let n = self.image_len();
        let mut x = Vec::with_capacity(indices.len() * n);
        let mut y = Vec::with_capacity(indices.len());
        for &i in indices {
            if i >= self.len() {
                return Err(VisionError::invalid(
                    what,
                    format!(
                        "index {i} is out of range for a dataset of length {}",
                        self.len()
                    ),
                ));
            }
            x.extend(self.image_bytes(i).iter().map(|&v| v as f32 / 255.0));
            y.push(self.labels[i] as i64);
        }
        let [c, h, w] = self.shape;
        Ok((
            Tensor::from_vec(x, &[indices.len(), c, h, w])?,
            Tensor::from_vec(y, &[indices.len()])?,
        ))
    }
}

/// The methods the in-memory datasets share; `$name` is the type's name
/// in errors.
macro_rules! in_memory_dataset {
    ($ty:ident, $name:literal) => {
        impl $ty {
            /// The number of samples.
            pub fn len(&self) -> usize {
                self.data.len()
            }

            /// Whether the dataset has no samples.
            pub fn is_empty(&self) -> bool {
                self.data.len() == 0
            }

            /// The shape `[C, H, W]` of one image.
            pub fn image_shape(&self) -> [usize; 3] {
                self.data.shape
            }

            /// All pixels as bytes, image after image, each `[C, H, W]`
            /// row-major (`len() · C · H · W` bytes): the raw fast path for
            /// trainers that build whole batches themselves.
            pub fn images(&self) -> &[u8] {
                &self.data.pixels
            }

            /// The pixels of image `index` (`C · H · W` bytes); panics when
            /// `index >= len()`.
            pub fn image_bytes(&self, index: usize) -> &[u8] {
                self.data.image_bytes(index)
            }

            /// All labels, one byte per sample.
            pub fn labels(&self) -> &[u8] {
                &self.data.labels
            }

            /// The images at `indices` as float32 `[B, C, H, W]` in `[0, 1]`
            /// (ToTensor semantics) and their labels as int64 `[B]`, built in
            /// one pass straight from the bytes. The dataset's transform is
            /// *not* applied: this is the fast path for plain training.
            pub fn batch(&self, indices: &[usize]) -> $crate::Result<(Tensor, Tensor)> {
                self.data.batch($name, indices)
            }

            /// Image `index` as float32 `[C, H, W]` in `[0, 1]`, before the
            /// transform.
            pub fn image(&self, index: usize) -> $crate::Result<Tensor> {
                if index >= self.len() {
                    return Err($crate::VisionError::Invalid {
                        what: $name,
                        message: format!(
                            "index {index} is out of range for a dataset of length {}",
                            self.len()
                        ),
                    });
                }
                self.data.image(index)
            }

            /// Sets the transform applied to each image in
            /// [`get`](torchlet_data::Dataset::get) (after ToTensor).
            pub fn with_transform(
                mut self,
                transform: impl $crate::transforms::Transform + 'static,
            ) -> Self {
                self.augment.set_transform(std::sync::Arc::new(transform));
                self
            }

            /// Sets the seed of the transform's per-sample generators
            /// (default: PyTorch's default seed); see
            /// [`sample_generator`]($crate::transforms::sample_generator).
            pub fn with_seed(mut self, seed: u64) -> Self {
                self.augment.set_seed(seed);
                self
            }

            /// The seed of the transform's generators.
            pub fn seed(&self) -> u64 {
                self.augment.seed()
            }

            /// Sets the epoch mixed into the transform's generators, so each
            /// epoch sees new augmentations (call it at the start of every
            /// epoch, like `DistributedSampler.set_epoch`).
            pub fn set_epoch(&self, epoch: u64) {
                self.augment.set_epoch(epoch);
            }

            /// The current epoch (0 until [`set_epoch`](Self::set_epoch)).
            pub fn epoch(&self) -> u64 {
                self.augment.epoch()
            }

            /// Whether a transform is set.
            pub fn has_transform(&self) -> bool {
                self.augment.has_transform()
            }
        }

        impl torchlet_data::Dataset for $ty {
            type Item = (Tensor, i64);

            fn len(&self) -> usize {
                self.data.len()
            }

            /// The image (float32 `[C, H, W]` in `[0, 1]`, then the transform)
            /// and its class.
            fn get(&self, index: usize) -> torchlet_data::Result<(Tensor, i64)> {
                if index >= self.data.len() {
                    return Err(torchlet_data::DataError::Index {
                        dataset: $name,
                        index,
                        len: self.data.len(),
                    });
                }
                let image = self.augment.apply(self.data.image(index)?, index)?;
                Ok((image, self.data.labels[index] as i64))
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct($name)
                    .field("len", &self.data.len())
                    .field("image_shape", &self.data.shape)
                    .field("transform", &self.augment.has_transform())
                    .field("seed", &self.augment.seed())
                    .field("epoch", &self.augment.epoch())
                    .finish()
            }
        }
    };
}

pub(crate) use in_memory_dataset;
