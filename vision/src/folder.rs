//! [`ImageFolder`]: one class per subfolder (`torchvision.datasets.ImageFolder`).

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use torchlet_tensor::Tensor;

use crate::error::{Result, VisionError};
use crate::memory::Augment;
use crate::transforms::{ToTensor, Transform};

/// The file extensions [`ImageFolder`] loads (compared case-insensitively).
pub const IMG_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// How [`ImageFolder`] converts decoded images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ColorMode {
    /// Three channels (PIL's `convert("RGB")`, torchvision's default
    /// loader): grey images are replicated, alpha is dropped.
    #[default]
    Rgb,
    /// One grey channel (`convert("L")`).
    Gray,
}

/// Images arranged one class per subfolder (`torchvision.datasets.ImageFolder`):
///
/// ```text
/// root/cat/001.png
/// root/cat/nested/xyz.jpg
/// root/dog/123.jpeg
/// ```
///
/// Classes are the subfolders of `root`, sorted by name, numbered from 0;
/// the samples are each class's image files (`.png`, `.jpg`, `.jpeg`,
/// any case, searched recursively), classes in order, and within a class
/// sorted by folder then file name — torchvision's order, so class indices
/// and sample indices agree with PyTorch's. Construction only lists the
/// files; each [`get`](torchlet_data::Dataset::get) decodes its image
/// (PNG/JPEG, with the `image` crate), converts it to float32 `[C, H, W]`
/// in `[0, 1]`, then applies the optional transform.
pub struct ImageFolder {
    root: PathBuf,
    classes: Vec<String>,
    samples: Vec<(PathBuf, usize)>,
    mode: ColorMode,
    augment: Augment,
}

impl ImageFolder {
    /// Lists the classes and image files under `root`. Fails when `root`
    /// cannot be read, has no subfolder, or a class folder holds no image.
    pub fn new(root: impl AsRef<Path>) -> Result<ImageFolder> {
        let root = root.as_ref().to_path_buf();
        let mut classes = Vec::new();
        for entry in fs::read_dir(&root).map_err(|e| VisionError::io(&root, e))? {
            let entry = entry.map_err(|e| VisionError::io(&root, e))?;
            // `metadata` follows symbolic links, as os.scandir's is_dir().
            if entry.path().is_dir() {
                classes.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        classes.sort();
        if classes.is_empty() {
            return Err(VisionError::format(
                root.display().to_string(),
                "found no class folder (ImageFolder expects one subfolder per class)",
            ));
        }
        let mut samples = Vec::new();
        let mut empty = Vec::new();
        for (index, class) in classes.iter().enumerate() {
            let before = samples.len();
            let mut visited = HashSet::new();
            collect_images(&root.join(class), index, &mut samples, &mut visited)?;
            if samples.len() == before {
                empty.push(class.as_str());
            }
        }
        if !empty.is_empty() {
            return Err(VisionError::format(
                root.display().to_string(),
                format!(
                    "found no valid file for the classes {}; supported extensions are {}",
                    empty.join(", "),
                    IMG_EXTENSIONS.map(|e| format!(".{e}")).join(", ")
                ),
            ));
        }
        Ok(ImageFolder {
            root,
            classes,
            samples,
            mode: ColorMode::Rgb,
            augment: Augment::default(),
        })
    }

    /// The folder the dataset was read from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The class names, sorted; class `i` is `classes()[i]`.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The index of class `name` (`class_to_idx[name]`).
    pub fn class_index(&self, name: &str) -> Option<usize> {
        self.classes.binary_search_by(|c| c.as_str().cmp(name)).ok()
    }

    /// Every sample's file and class index, in dataset order.
    pub fn samples(&self) -> &[(PathBuf, usize)] {
        &self.samples
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the dataset has no samples (never true after a successful
    /// [`new`](ImageFolder::new)).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Sets the colour conversion (default [`ColorMode::Rgb`]).
    pub fn color_mode(mut self, mode: ColorMode) -> ImageFolder {
        self.mode = mode;
        self
    }

    /// Sets the transform applied after decoding (e.g. `Resize` then
    /// `CenterCrop` so that images of different sizes batch together).
    pub fn with_transform(mut self, transform: impl Transform + 'static) -> ImageFolder {
        self.augment.set_transform(Arc::new(transform));
        self
    }

    /// Sets the seed of the transform's per-sample generators.
    pub fn with_seed(mut self, seed: u64) -> ImageFolder {
        self.augment.set_seed(seed);
        self
    }

    /// Sets the epoch mixed into the transform's generators.
    pub fn set_epoch(&self, epoch: u64) {
        self.augment.set_epoch(epoch);
    }

    /// Decodes sample `index` to float32 `[C, H, W]` in `[0, 1]`, without
    /// the transform. Errors name the file.
    pub fn load(&self, index: usize) -> Result<Tensor> {
        let (path, _) = self.samples.get(index).ok_or_else(|| {
            VisionError::invalid(
                "ImageFolder",
                format!(
                    "index {index} is out of range for a dataset of length {}",
                    self.len()
                ),
            )
        })?;
        load_image(path, self.mode)
    }
}

/// Decodes a PNG or JPEG file to float32 `[C, H, W]` in `[0, 1]`
/// (3 channels for [`ColorMode::Rgb`], 1 for [`ColorMode::Gray`]).
pub fn load_image(path: impl AsRef<Path>, mode: ColorMode) -> Result<Tensor> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| VisionError::io(path, e))?;
    decode_image(&bytes, &path.display().to_string(), mode)
}

/// Decodes the bytes of a PNG or JPEG image (format guessed from the
/// bytes) as [`load_image`] does; `source` names them in errors. The
/// `image` crate's default limits apply: a header that declares more
/// than 512 MiB of pixels is refused before anything is allocated.
///
/// ```
/// use torchlet_vision::folder::{decode_image, ColorMode};
/// let err = decode_image(b"not an image", "upload", ColorMode::Gray).unwrap_err();
/// assert!(err.to_string().contains("upload"));
/// ```
pub fn decode_image(bytes: &[u8], source: &str, mode: ColorMode) -> Result<Tensor> {
    let decode_err =
        |e: image::ImageError| VisionError::format(source, format!("cannot decode image: {e}"));
    let image = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| VisionError::format(source, format!("cannot read image: {e}")))?
        .decode()
        .map_err(decode_err)?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    match mode {
        ColorMode::Rgb => ToTensor::from_hwc_u8(image.to_rgb8().as_raw(), h, w, 3),
        ColorMode::Gray => ToTensor::from_hwc_u8(image.to_luma8().as_raw(), h, w, 1),
    }
}

fn is_image_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMG_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Appends the image files under `dir` (recursively, following links but
/// never visiting a folder twice), sorted as `sorted(os.walk(dir))` with
/// sorted file names.
fn collect_images(
    dir: &Path,
    class: usize,
    out: &mut Vec<(PathBuf, usize)>,
    visited: &mut HashSet<PathBuf>,
) -> Result<()> {
    // Every folder under the class, sorted by path string as os.walk's
    // tuples sort, then the files of each.
    let mut dirs = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let canonical = fs::canonicalize(&d).map_err(|e| VisionError::io(&d, e))?;
        if !visited.insert(canonical) {
            continue;
        }
        for entry in fs::read_dir(&d).map_err(|e| VisionError::io(&d, e))? {
            let path = entry.map_err(|e| VisionError::io(&d, e))?.path();
            if path.is_dir() {
                stack.push(path);
            }
        }
        dirs.push(d);
    }
    dirs.sort_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    for d in dirs {
        let mut files: Vec<PathBuf> = fs::read_dir(&d)
            .map_err(|e| VisionError::io(&d, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_image_file(p))
            .collect();
        files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        out.extend(files.into_iter().map(|p| (p, class)));
    }
    Ok(())
}

impl torchlet_data::Dataset for ImageFolder {
    type Item = (Tensor, i64);

    fn len(&self) -> usize {
        self.samples.len()
    }

    /// Decodes the image, converts it to float32 `[C, H, W]` in `[0, 1]`,
    /// applies the transform, and returns it with its class index.
    fn get(&self, index: usize) -> torchlet_data::Result<(Tensor, i64)> {
        let Some((path, class)) = self.samples.get(index) else {
            return Err(torchlet_data::DataError::Index {
                dataset: "ImageFolder",
                index,
                len: self.samples.len(),
            });
        };
        let image = self.augment.apply(load_image(path, self.mode)?, index)?;
        Ok((image, *class as i64))
    }
}

impl fmt::Debug for ImageFolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageFolder")
            .field("root", &self.root)
            .field("classes", &self.classes)
            .field("len", &self.samples.len())
            .field("mode", &self.mode)
            .finish()
    }
}
