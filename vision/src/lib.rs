//! # torchlet-vision
//!
//! `torchvision` for torchlet: image datasets, transforms and reference
//! models.
//!
//! - **Readers** ([`idx`], [`cifar`], [`folder`]): MNIST's IDX files (raw
//!   or gzip), CIFAR-10/100 binary batches and image folders (PNG/JPEG).
//!   Malformed or truncated input gives a [`VisionError`] naming the file
//!   and the problem — never a panic, and never an allocation sized by an
//!   unchecked header.
//! - **Datasets** implementing [`torchlet_data::Dataset`] with items
//!   `(image, class)`, the image a float32 `[C, H, W]` tensor in `[0, 1]`:
//!   [`Mnist`] (including [`Mnist::embedded`], 10,000 real digits built into
//!   the crate), [`Cifar10`], [`Cifar100`], [`ImageFolder`]. The in-memory
//!   ones also expose their raw bytes and a whole-batch fast path.
//! - **Transforms** ([`transforms`]): `ToTensor`, `Normalize`, `RandomCrop`,
//!   `RandomHorizontalFlip`, `RandomRotation`, `RandomAffine`, `Resize`,
//!   `CenterCrop`, ... composed with `Compose`. Random transforms draw from a
//!   generator the dataset derives from `(seed, epoch, index)`, so
//!   augmentation is reproducible whatever the number of loader threads.
//! - **Models** ([`models`]): the MNIST MLP, LeNet-5 (optionally with
//!   BatchNorm) and CIFAR-style ResNets, with PyTorch's parameter names.
//!
//! ```
//! use torchlet_autograd::Variable;
//! use torchlet_data::Dataset;
//! use torchlet_nn::Module;
//! use torchlet_vision::models::LeNet5;
//! use torchlet_vision::transforms::{Compose, Normalize, RandomRotation};
//! use torchlet_vision::Mnist;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let train = Mnist::embedded(true)?
//!     .with_transform(
//!         Compose::new()
//!             .append(RandomRotation::new(10.0)?)
//!             .append(Normalize::new(vec![0.1307], vec![0.3081])?),
//!     )
//!     .with_seed(42);
//! train.set_epoch(0);
//! let (image, label) = train.get(3)?; // augmented, reproducibly
//! assert_eq!(image.shape(), [1, 28, 28]);
//!
//! let model = LeNet5::new()?;
//! let logits = model.forward(&Variable::constant(image.unsqueeze(0)?))?;
//! assert_eq!(logits.shape(), [1, 10]);
//! assert!((0..10).contains(&label));
//!
//! // The fast path: a whole batch straight from the bytes, no transform.
//! let (x, y) = train.batch(&(0..64).collect::<Vec<_>>())?;
//! assert_eq!(x.shape(), [64, 1, 28, 28]);
//! assert_eq!(y.shape(), [64]);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod cifar;
mod error;
pub mod folder;
pub mod idx;
mod memory;
pub mod mnist;
pub mod models;
pub mod transforms;
pub mod utils;

pub use cifar::{Cifar10, Cifar100, Cifar100Label, CIFAR10_CLASSES};
pub use error::{Result, VisionError};
pub use folder::{decode_image, load_image, ColorMode, ImageFolder};
pub use mnist::{Mnist, FASHION_MNIST_CLASSES, MNIST_CLASSES};
