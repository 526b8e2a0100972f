//! `torchvision.utils`: a batch of images laid out as one grid
//! ([`make_grid`]) and written as a PNG ([`save_image`]), e.g. to look at
//! a convolution's kernels and feature maps.

use std::io::Cursor;
use std::path::Path;

use torchlet_tensor::{DType, Tensor};

use crate::error::{Result, VisionError};

/// Options of [`make_grid`] and [`save_image`], with torchvision's
/// defaults: 8 images per row, 2 pixels of padding of value 0, no
/// normalization.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridOptions {
    /// Images per row (`nrow`).
    pub nrow: usize,
    /// Pixels between and around the images (`padding`).
    pub padding: usize,
    /// Scale the whole batch from its minimum and maximum to `[0, 1]`
    /// (`normalize=True`; the span is at least 1e-5, so a constant batch
    /// becomes 0).
    pub normalize: bool,
    /// Value of the padding pixels (`pad_value`).
    pub pad_value: f32,
}

impl Default for GridOptions {
    fn default() -> Self {
        GridOptions {
            nrow: 8,
            padding: 2,
            normalize: false,
            pad_value: 0.0,
        }
    }
}

impl GridOptions {
    /// Sets the images per row.
    pub fn nrow(mut self, nrow: usize) -> Self {
        self.nrow = nrow;
        self
    }

    /// Sets the padding.
    pub fn padding(mut self, padding: usize) -> Self {
        self.padding = padding;
        self
    }

    /// Sets min-max normalization of the batch.
    pub fn normalize(mut self, normalize: bool) -> Self {
        self.normalize = normalize;
        self
    }

    /// Sets the padding value.
    pub fn pad_value(mut self, pad_value: f32) -> Self {
        self.pad_value = pad_value;
        self
    }
}

/// Lays out `images` (`[B, C, H, W]`, `[C, H, W]` or `[H, W]`) as one
/// `[C', H', W']` float32 image of `min(nrow, B)` columns and
/// `ceil(B / nrow)` rows, as `torchvision.utils.make_grid`: one-channel
/// images become grey RGB (`C' = 3`; other channel counts are kept), each
/// image starts `padding` pixels after the previous one, and a single
/// image comes back as it is (no padding).
///
/// ```
/// use torchlet_tensor::Tensor;
/// use torchlet_vision::utils::{make_grid, GridOptions};
/// let maps = Tensor::rand(&[6, 1, 5, 5]); // e.g. six feature maps
/// let grid = make_grid(&maps, &GridOptions::default().nrow(3)).unwrap();
/// // 3 columns, 2 rows: 3·(5 + 2) + 2 wide, 2·(5 + 2) + 2 high.
/// assert_eq!(grid.shape(), &[3, 16, 23]);
/// ```
pub fn make_grid(images: &Tensor, options: &GridOptions) -> Result<Tensor> {
    let batch = match images.dim() {
        2 => images.unsqueeze(0)?.unsqueeze(0)?,
        3 => images.unsqueeze(0)?,
        4 => images.clone(),
        _ => {
            return Err(VisionError::invalid(
                "make_grid",
                format!(
                    "expected [B, C, H, W], [C, H, W] or [H, W], got {:?}",
                    images.shape()
                ),
            ))
        }
    };
    let &[b, c, h, w] = batch.shape() else {
        unreachable!()
    };
    if b == 0 || c == 0 || h == 0 || w == 0 || options.nrow == 0 {
        return Err(VisionError::invalid(
            "make_grid",
            format!(
                "needs at least one non-empty image and nrow > 0; got {:?} with nrow {}",
                images.shape(),
                options.nrow
            ),
        ));
    }
    let mut values = batch.to_dtype(DType::F32).contiguous().to_vec::<f32>()?;
    if options.normalize {
        let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let span = (hi - lo).max(1e-5);
        values.iter_mut().for_each(|v| *v = (*v - lo) / span);
    }
    let channels = if c == 1 { 3 } else { c };
    let cols = options.nrow.min(b);
    // torchvision returns a lone image without padding.
    let p = if b == 1 { 0 } else { options.padding };
    let (gh, gw) = (b.div_ceil(cols) * (h + p) + p, cols * (w + p) + p);
    let mut grid = vec![options.pad_value; channels * gh * gw];
    for (k, image) in values.chunks(c * h * w).enumerate() {
        let (top, left) = ((k / cols) * (h + p) + p, (k % cols) * (w + p) + p);
        for ch in 0..channels {
            let plane = &image[(ch % c) * h * w..][..h * w];
            for y in 0..h {
                let at = ch * gh * gw + (top + y) * gw + left;
                grid[at..at + w].copy_from_slice(&plane[y * w..][..w]);
            }
        }
    }
    Ok(Tensor::from_vec(grid, &[channels, gh, gw])?)
}

/// Writes `images` as a PNG through [`make_grid`], as
/// `torchvision.utils.save_image`: values in `[0, 1]` map to `0..=255`
/// (rounded, clamped); the grid must have 3 channels (RGB, as one-channel
/// images become) or 4 (RGBA). The file is written to a temporary name
/// first, then renamed.
///
/// ```
/// use torchlet_tensor::Tensor;
/// use torchlet_vision::utils::{save_image, GridOptions};
/// let path = std::env::temp_dir().join("torchlet_save_image_doc.png");
/// save_image(&Tensor::rand(&[4, 1, 8, 8]), &path, &GridOptions::default()).unwrap();
/// let png = image::open(&path).unwrap();
/// assert_eq!((png.width(), png.height()), (4 * 10 + 2, 12));
/// ```
pub fn save_image(images: &Tensor, path: impl AsRef<Path>, options: &GridOptions) -> Result<()> {
    let path = path.as_ref();
    let grid = make_grid(images, options)?;
    let &[c, h, w] = grid.shape() else {
        unreachable!()
    };
    if c != 3 && c != 4 {
        return Err(VisionError::invalid(
            "save_image",
            format!(
                "a PNG needs 1, 3 or 4 channels, got images of shape {:?}",
                images.shape()
            ),
        ));
    }
    let planes = grid.to_vec::<f32>()?;
    let to_byte = |v: f32| (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
    let mut pixels = Vec::with_capacity(c * h * w);
    for i in 0..h * w {
        pixels.extend((0..c).map(|ch| to_byte(planes[ch * h * w + i])));
    }
    let (width, height) = (w as u32, h as u32);
    let image = if c == 3 {
        image::RgbImage::from_raw(width, height, pixels).map(image::DynamicImage::from)
    } else {
        image::RgbaImage::from_raw(width, height, pixels).map(image::DynamicImage::from)
    }
    .expect("one byte per channel and pixel");
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| VisionError::invalid("save_image", format!("PNG encoding failed: {e}")))?;
    torchlet_tensor::io::write_atomic(path, &png).map_err(|e| VisionError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_land_at_their_places_and_grey_becomes_rgb() {
        // Two 1x2 one-channel images, values 1..4, one row, padding 1 of 9.
        let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 1, 1, 2]).unwrap();
        let g = make_grid(&x, &GridOptions::default().padding(1).pad_value(9.0)).unwrap();
        assert_eq!(g.shape(), &[3, 3, 7]);
        let v = g.to_vec::<f32>().unwrap();
        let row1: Vec<f32> = (0..3)
            .flat_map(|ch| v[ch * 21 + 7..ch * 21 + 14].to_vec())
            .collect();
        let one = [9.0, 1.0, 2.0, 9.0, 3.0, 4.0, 9.0];
        assert_eq!(row1, [one, one, one].concat());
        assert!(v[..7].iter().all(|&p| p == 9.0));
    }

    #[test]
    fn normalize_scales_the_batch_and_rows_wrap() {
        let x = Tensor::from_vec(vec![-2.0f32, 0.0, 2.0], &[3, 1, 1, 1]).unwrap();
        let g = make_grid(
            &x,
            &GridOptions::default().nrow(2).padding(0).normalize(true),
        )
        .unwrap();
        assert_eq!(g.shape(), &[3, 2, 2]);
        // Second row: the third image, then padding (0).
        assert_eq!(g.to_vec::<f32>().unwrap()[..4], [0.0, 0.5, 1.0, 0.0]);
        assert!(make_grid(&Tensor::zeros(&[3]), &GridOptions::default()).is_err());
        assert!(make_grid(&Tensor::zeros(&[2, 1, 0, 3]), &GridOptions::default()).is_err());
        // A lone image comes back without padding; two channels are kept
        // (but make no PNG).
        let one = make_grid(&Tensor::ones(&[1, 1, 4, 5]), &GridOptions::default()).unwrap();
        assert_eq!(one.shape(), &[3, 4, 5]);
        let two = Tensor::zeros(&[2, 2, 3, 3]);
        assert_eq!(
            make_grid(&two, &GridOptions::default()).unwrap().shape(),
            &[2, 7, 12]
        );
        let path = std::env::temp_dir().join("torchlet_two_channels.png");
        assert!(save_image(&two, &path, &GridOptions::default()).is_err());
    }
}
