//! Image transforms that compose (`torchvision.transforms`), seeded and
//! reproducible.
//!
//! # Images
//!
//! A transform maps an image tensor to an image tensor. Images are float
//! tensors `[C, H, W]` with values in `[0, 1]` — what [`ToTensor`] makes of
//! `u8` pixels, and what every dataset of this crate yields before its
//! transform. The geometric transforms also accept `[H, W]` and batches
//! `[N, C, H, W]` (one random draw for the whole batch, as in torchvision).
//!
//! # Randomness: explicit, per-sample generators
//!
//! A random transform never touches global state: [`Transform::apply`]
//! receives a [`Generator`] and draws from it, in a fixed order (e.g.
//! [`RandomCrop`] draws the top offset, then the left one). A dataset
//! builds that generator for each sample from three numbers —
//! its seed, the current epoch and the sample's index — with
//! [`sample_generator`]. So the augmentation of sample `i` in epoch `e`
//! is a pure function of `(seed, e, i)`: the same whichever worker thread
//! loads it, in whatever order, with however many threads, and a new one
//! each epoch once the trainer calls the dataset's `set_epoch(e)` (like
//! `DistributedSampler.set_epoch`). [`Compose`] passes the one generator to
//! its transforms in turn.
//!
//! The draws do not reproduce PyTorch's random streams (torch uses a
//! Mersenne Twister); the distributions and the deterministic kernels do
//! follow torchvision.
//!
//! ```
//! use torchlet_tensor::Tensor;
//! use torchlet_vision::transforms::{
//!     sample_generator, Compose, Normalize, RandomCrop, RandomHorizontalFlip, Transform,
//! };
//!
//! # fn main() -> torchlet_vision::Result<()> {
//! let augment = Compose::new()
//!     .append(RandomCrop::new(28)?.padding(4))
//!     .append(RandomHorizontalFlip::new(0.5))
//!     .append(Normalize::new(vec![0.1307], vec![0.3081])?);
//! let image = Tensor::rand(&[1, 28, 28]);
//! let a = augment.apply(image.clone(), &mut sample_generator(7, 0, 42))?;
//! let b = augment.apply(image, &mut sample_generator(7, 0, 42))?;
//! assert_eq!(a.to_vec::<f32>()?, b.to_vec::<f32>()?); // same (seed, epoch, index), same result
//! # Ok(())
//! # }
//! ```

pub mod functional;
mod geometry;
mod tensor;

pub use geometry::{
    CenterCrop, RandomAffine, RandomCrop, RandomHorizontalFlip, RandomRotation, RandomVerticalFlip,
    Resize,
};
pub use tensor::{Normalize, ToTensor};

pub use functional::Interpolation;

use std::fmt;
use std::sync::Arc;

use torchlet_tensor::{Generator, Tensor};

use crate::error::Result;

/// An image transform. Deterministic transforms ignore `rng`; random ones
/// draw from it only (see the [module docs](self) for how datasets seed
/// it), so equal generators give equal results.
pub trait Transform: Send + Sync {
    /// Transforms `image` (by convention a float `[C, H, W]` tensor).
    fn apply(&self, image: Tensor, rng: &mut Generator) -> Result<Tensor>;
}

impl<T: Transform + ?Sized> Transform for Arc<T> {
    fn apply(&self, image: Tensor, rng: &mut Generator) -> Result<Tensor> {
        (**self).apply(image, rng)
    }
}

impl<T: Transform + ?Sized> Transform for Box<T> {
    fn apply(&self, image: Tensor, rng: &mut Generator) -> Result<Tensor> {
        (**self).apply(image, rng)
    }
}

/// The generator a dataset hands its transform for sample `index` in
/// `epoch`, seeded by mixing `(seed, epoch, index)` with SplitMix64 so
/// that neighbouring samples and epochs get unrelated streams.
pub fn sample_generator(seed: u64, epoch: u64, index: u64) -> Generator {
    let mut h = splitmix64(seed);
    h = splitmix64(h ^ epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    h = splitmix64(h ^ index);
    Generator::new(h)
}

/// One step of SplitMix64 (Steele, Lea & Flood 2014): a bijective mixer
/// whose outputs look independent for consecutive inputs.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Transforms applied in order (`transforms.Compose`), all drawing from the
/// same generator.
#[derive(Default)]
pub struct Compose {
    transforms: Vec<Box<dyn Transform>>,
}

impl Compose {
    /// An empty chain (the identity).
    pub fn new() -> Compose {
        Compose::default()
    }

    /// Appends `transform` and returns the chain (builder style).
    pub fn append(mut self, transform: impl Transform + 'static) -> Compose {
        self.transforms.push(Box::new(transform));
        self
    }

    /// Appends a boxed transform.
    pub fn push(&mut self, transform: Box<dyn Transform>) {
        self.transforms.push(transform);
    }

    /// The number of transforms.
    pub fn len(&self) -> usize {
        self.transforms.len()
    }

    /// Whether the chain is empty.
    pub fn is_empty(&self) -> bool {
        self.transforms.is_empty()
    }
}

impl fmt::Debug for Compose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Compose({} transforms)", self.transforms.len())
    }
}

impl Transform for Compose {
    fn apply(&self, image: Tensor, rng: &mut Generator) -> Result<Tensor> {
        self.transforms
            .iter()
            .try_fold(image, |x, t| t.apply(x, rng))
    }
}

/// A transform from a closure (`transforms.Lambda`); the closure gets the
/// generator too, so it can be random and still reproducible.
pub struct Lambda<F> {
    f: F,
}

impl<F> Lambda<F>
where
    F: Fn(Tensor, &mut Generator) -> Result<Tensor> + Send + Sync,
{
    /// Wraps `f`.
    pub fn new(f: F) -> Lambda<F> {
        Lambda { f }
    }
}

impl<F> Transform for Lambda<F>
where
    F: Fn(Tensor, &mut Generator) -> Result<Tensor> + Send + Sync,
{
    fn apply(&self, image: Tensor, rng: &mut Generator) -> Result<Tensor> {
        (self.f)(image, rng)
    }
}

impl<F> fmt::Debug for Lambda<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lambda")
    }
}
