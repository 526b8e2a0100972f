//! CIFAR-10 and CIFAR-100 from their binary versions
//! (`cifar-10-batches-bin/`, `cifar-100-binary/`).
//!
//! A CIFAR-10 batch file is a sequence of 3,073-byte records: one label
//! byte (0–9), then a 32×32 colour image as 1,024 red, 1,024 green and
//! 1,024 blue bytes (planar, i.e. `[3, 32, 32]` row-major). CIFAR-100
//! records have two label bytes, the coarse (0–19) then the fine (0–99)
//! label, then the same 3,072 pixels.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use torchlet_tensor::Tensor;

use crate::error::{Result, VisionError};
use crate::memory::{in_memory_dataset, Augment, U8Images};

/// The pixels of one CIFAR image, `[3, 32, 32]`.
pub const CIFAR_IMAGE_BYTES: usize = 3 * 32 * 32;

/// torchvision's `CIFAR10.classes`.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// A decoded CIFAR batch file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarBatch {
    /// `N · 3 · 32 · 32` bytes, image after image, each `[3, 32, 32]`.
    pub pixels: Vec<u8>,
    /// The labels (CIFAR-10) or fine labels (CIFAR-100), one per image.
    pub labels: Vec<u8>,
    /// The coarse labels (CIFAR-100 only; empty for CIFAR-10).
    pub coarse_labels: Vec<u8>,
}

impl CifarBatch {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Reads a CIFAR-10 binary batch (`data_batch_1.bin`, `test_batch.bin`, ...).
pub fn read_cifar10_batch(path: impl AsRef<Path>) -> Result<CifarBatch> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| VisionError::io(path, e))?;
    parse_cifar10_batch(&bytes, &path.display().to_string())
}

/// Parses the bytes of a CIFAR-10 binary batch; `source` names them in
/// errors.
pub fn parse_cifar10_batch(bytes: &[u8], source: &str) -> Result<CifarBatch> {
    parse(bytes, source, "CIFAR-10", &[("label", 10)])
}

/// Reads a CIFAR-100 binary file (`train.bin`, `test.bin`).
pub fn read_cifar100_batch(path: impl AsRef<Path>) -> Result<CifarBatch> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| VisionError::io(path, e))?;
    parse_cifar100_batch(&bytes, &path.display().to_string())
}

/// Parses the bytes of a CIFAR-100 binary file; `source` names them in
/// errors.
pub fn parse_cifar100_batch(bytes: &[u8], source: &str) -> Result<CifarBatch> {
    parse(
        bytes,
        source,
        "CIFAR-100",
        &[("coarse label", 20), ("fine label", 100)],
    )
}

/// `labels`: the label bytes at the start of each record, with their names
/// and class counts.
fn parse(bytes: &[u8], source: &str, format: &str, labels: &[(&str, u8)]) -> Result<CifarBatch> {
    let record = labels.len() + CIFAR_IMAGE_BYTES;
    let layout = format!(
        "{record}-byte {format} records ({} label byte{} + {CIFAR_IMAGE_BYTES} pixels)",
        labels.len(),
        if labels.len() == 1 { "" } else { "s" }
    );
    if bytes.is_empty() {
        return Err(VisionError::format(
            source,
            format!("empty file, expected {layout}"),
        ));
    }
    if bytes[0] == 0x80 {
        return Err(VisionError::format(
            source,
            format!(
                "this looks like a Python pickle (the \"python version\" of {format}); use the binary version"
            ),
        ));
    }
    if !bytes.len().is_multiple_of(record) {
        return Err(VisionError::format(
            source,
            format!(
                "{} bytes is not a whole number of {layout}: truncated or not a {format} file ({} complete records, then {} stray bytes)",
                bytes.len(),
                bytes.len() / record,
                bytes.len() % record
            ),
        ));
    }
    let n = bytes.len() / record;
    let mut batch = CifarBatch {
        pixels: Vec::with_capacity(n * CIFAR_IMAGE_BYTES),
        labels: Vec::with_capacity(n),
        coarse_labels: Vec::new(),
    };
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        for (k, &(name, classes)) in labels.iter().enumerate() {
            if rec[k] >= classes {
                return Err(VisionError::format(
                    source,
                    format!(
                        "record {i} has {name} {}, expected 0..={}: not a {format} file?",
                        rec[k],
                        classes - 1
                    ),
                ));
            }
        }
        if labels.len() == 2 {
            batch.coarse_labels.push(rec[0]);
        }
        batch.labels.push(rec[labels.len() - 1]);
        batch.pixels.extend_from_slice(&rec[labels.len()..]);
    }
    Ok(batch)
}

fn check_batch(what: &'static str, batch: &CifarBatch, coarse: bool) -> Result<()> {
    let n = batch.labels.len();
    if batch.pixels.len() != n * CIFAR_IMAGE_BYTES || (coarse && batch.coarse_labels.len() != n) {
        return Err(VisionError::invalid(
            what,
            format!(
                "inconsistent batch: {} labels, {} coarse labels and {} pixel bytes ({} images)",
                n,
                batch.coarse_labels.len(),
                batch.pixels.len(),
                batch.pixels.len() as f64 / CIFAR_IMAGE_BYTES as f64
            ),
        ));
    }
    Ok(())
}

/// `dir/name` or `dir/<subdir>/name`.
fn find(dir: &Path, subdir: &str, name: &str) -> Result<PathBuf> {
    let direct = dir.join(name);
    if direct.is_file() {
        return Ok(direct);
    }
    let nested = dir.join(subdir).join(name);
    if nested.is_file() {
        return Ok(nested);
    }
    Err(VisionError::io(
        dir,
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("found no {name} (looked in the folder and in {subdir}/)"),
        ),
    ))
}

/// CIFAR-10 in memory (`torchvision.datasets.CIFAR10`): 32×32 colour
/// images `[3, 32, 32]` in 10 classes ([`CIFAR10_CLASSES`]), 50,000 for
/// training and 10,000 for testing.
///
/// As a [`Dataset`](torchlet_data::Dataset) it yields float32
/// `[3, 32, 32]` images in `[0, 1]`, then the optional transform; the raw
/// bytes and [`batch`](Cifar10::batch) are the fast path, as for
/// [`Mnist`](crate::Mnist).
pub struct Cifar10 {
    data: U8Images,
    augment: Augment,
}

in_memory_dataset!(Cifar10, "Cifar10");

impl Cifar10 {
    /// Reads the binary version from `dir` (the `cifar-10-batches-bin`
    /// folder, or its parent): `data_batch_1.bin` … `data_batch_5.bin` for
    /// `train = true`, else `test_batch.bin`.
    pub fn from_dir(dir: impl AsRef<Path>, train: bool) -> Result<Cifar10> {
        let dir = dir.as_ref();
        let names: Vec<String> = if train {
            (1..=5).map(|i| format!("data_batch_{i}.bin")).collect()
        } else {
            vec!["test_batch.bin".to_string()]
        };
        let paths = names
            .iter()
            .map(|n| find(dir, "cifar-10-batches-bin", n))
            .collect::<Result<Vec<_>>>()?;
        Cifar10::from_files(&paths)
    }

    /// Reads and concatenates CIFAR-10 batch files, in order.
    pub fn from_files(paths: &[impl AsRef<Path>]) -> Result<Cifar10> {
        let mut data = U8Images {
            pixels: Vec::new(),
            labels: Vec::new(),
            shape: [3, 32, 32],
        };
        for p in paths {
            let batch = read_cifar10_batch(p)?;
            data.pixels.extend_from_slice(&batch.pixels);
            data.labels.extend_from_slice(&batch.labels);
        }
        Ok(Cifar10 {
            data,
            augment: Augment::default(),
        })
    }

    /// A dataset from an already decoded batch (its pixel and label counts
    /// must agree).
    pub fn from_batch(batch: CifarBatch) -> Result<Cifar10> {
        check_batch("Cifar10::from_batch", &batch, false)?;
        Ok(Cifar10 {
            data: U8Images {
                pixels: batch.pixels,
                labels: batch.labels,
                shape: [3, 32, 32],
            },
            augment: Augment::default(),
        })
    }
}

/// Which CIFAR-100 label a [`Cifar100`] yields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cifar100Label {
    /// The 100 fine classes (torchvision's choice).
    #[default]
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// CIFAR-100 in memory (`torchvision.datasets.CIFAR100`): 32×32 colour
/// images in 100 fine classes grouped into 20 coarse ones, 50,000 for
/// training and 10,000 for testing.
pub struct Cifar100 {
    data: U8Images,
    augment: Augment,
    other_labels: Vec<u8>,
}

in_memory_dataset!(Cifar100, "Cifar100");

impl Cifar100 {
    /// Reads `train.bin` (`train = true`) or `test.bin` from `dir` (the
    /// `cifar-100-binary` folder, or its parent), yielding `label`s.
    pub fn from_dir(dir: impl AsRef<Path>, train: bool, label: Cifar100Label) -> Result<Cifar100> {
        let dir = dir.as_ref();
        let name = if train { "train.bin" } else { "test.bin" };
        let path = find(dir, "cifar-100-binary", name)?;
        Cifar100::from_batch(read_cifar100_batch(path)?, label)
    }

    /// A dataset from an already decoded CIFAR-100 batch (pixel, fine and
    /// coarse label counts must agree).
    pub fn from_batch(batch: CifarBatch, label: Cifar100Label) -> Result<Cifar100> {
        check_batch("Cifar100::from_batch", &batch, true)?;
        let (labels, other_labels) = match label {
            Cifar100Label::Fine => (batch.labels, batch.coarse_labels),
            Cifar100Label::Coarse => (batch.coarse_labels, batch.labels),
        };
        Ok(Cifar100 {
            data: U8Images {
                pixels: batch.pixels,
                labels,
                shape: [3, 32, 32],
            },
            augment: Augment::default(),
            other_labels,
        })
    }

    /// The labels of the other granularity (coarse when the dataset yields
    /// fine labels, and the reverse).
    pub fn other_labels(&self) -> &[u8] {
        &self.other_labels
    }
}
