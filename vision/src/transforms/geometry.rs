//! Geometric transforms: crops, flips, rotation, affine, resize.

use torchlet_tensor::{Generator, Tensor};

use super::functional::{
    self, affine_planes, crop_planes, inverse_affine_matrix, Interpolation, Planes,
};
use super::Transform;
use crate::error::{Result, VisionError};

fn positive_size(what: &'static str, height: usize, width: usize) -> Result<()> {
    if height == 0 || width == 0 {
        return Err(VisionError::invalid(
            what,
            format!("size must be positive, got {height}x{width}"),
        ));
    }
    Ok(())
}

/// A uniform draw in `[low, high]` (torch's `uniform_(low, high)`).
fn uniform(rng: &mut Generator, low: f64, high: f64) -> f64 {
    low + (high - low) * rng.uniform()
}

/// A random `height × width` window (`transforms.RandomCrop`), after
/// optional padding with a constant `fill`.
///
/// The padded image must be at least the crop size (or `pad_if_needed`
/// pads it up to it: by the missing amount on *both* sides, as
/// torchvision does). The top offset is drawn uniformly from
/// `0..=H_padded - height`, then the left one from `0..=W_padded - width`.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomCrop {
    size: [usize; 2],
    /// `[left, top, right, bottom]`.
    padding: [usize; 4],
    pad_if_needed: bool,
    fill: f32,
}

impl RandomCrop {
    /// A square `size × size` crop, no padding (`RandomCrop(size)`).
    pub fn new(size: usize) -> Result<RandomCrop> {
        RandomCrop::rect(size, size)
    }

    /// A `height × width` crop, no padding.
    pub fn rect(height: usize, width: usize) -> Result<RandomCrop> {
        positive_size("RandomCrop", height, width)?;
        Ok(RandomCrop {
            size: [height, width],
            padding: [0; 4],
            pad_if_needed: false,
            fill: 0.0,
        })
    }

    /// Pads all four borders by `padding` first (`RandomCrop(32, padding=4)`).
    pub fn padding(self, padding: usize) -> RandomCrop {
        self.padding_ltrb([padding; 4])
    }

    /// Pads `[left, top, right, bottom]` first.
    pub fn padding_ltrb(mut self, padding: [usize; 4]) -> RandomCrop {
        self.padding = padding;
        self
    }

    /// Pads an image smaller than the crop up to it instead of failing.
    pub fn pad_if_needed(mut self, pad: bool) -> RandomCrop {
        self.pad_if_needed = pad;
        self
    }

    /// The value of padded pixels (default 0).
    pub fn fill(mut self, fill: f32) -> RandomCrop {
        self.fill = fill;
        self
    }
}

impl Transform for RandomCrop {
    fn apply(&self, image: Tensor, rng: &mut Generator) -> Result<Tensor> {
        let p = Planes::from_tensor(&image, "RandomCrop")?;
        let [th, tw] = self.size;
        let [mut left, mut top, right, bottom] = self.padding.map(|v| v as i64);
        let mut h = p.h as i64 + top + bottom;
        let mut w = p.w as i64 + left + right;
        if self.pad_if_needed {
            if h < th as i64 {
                let d = th as i64 - h;
                top += d;
                h += 2 * d;
            }
            if w < tw as i64 {
                let d = tw as i64 - w;
                left += d;
                w += 2 * d;
            }
        }
        if h < th as i64 || w < tw as i64 {
            return Err(VisionError::invalid(
                "RandomCrop",
                format!(
                    "required crop size {th}x{tw} is larger than the (padded) input image size {h}x{w} (input shape {:?})",
                    image.shape()
                ),
            ));
        }
        let i = rng.int_below(0, h - th as i64 + 1);
        let j = rng.int_below(0, w - tw as i64 + 1);
        crop_planes(&p, i - top, j - left, th, tw, self.fill).into_tensor()
    }
}

/// The central `height × width` window (`transforms.CenterCrop`); see
/// [`functional::center_crop`] for the rounding and the padding of a crop
/// larger than the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CenterCrop {
    size: [usize; 2],
}

impl CenterCrop {
    /// A square `size × size` crop.
    pub fn new(size: usize) -> Result<CenterCrop> {
        CenterCrop::rect(size, size)
    }

    /// A `height × width` crop.
    pub fn rect(height: usize, width: usize) -> Result<CenterCrop> {
        positive_size("CenterCrop", height, width)?;
        Ok(CenterCrop {
            size: [height, width],
        })
    }
}

impl Transform for CenterCrop {
    fn apply(&self, image: Tensor, _rng: &mut Generator) -> Result<Tensor> {
        functional::center_crop(&image, self.size[0], self.size[1])
    }
}

/// Mirrors the image left to right with probability `p`
/// (`transforms.RandomHorizontalFlip`, default `p = 0.5`): flips when a
/// uniform draw in `[0, 1)` is below `p`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomHorizontalFlip {
    p: f64,
}

impl RandomHorizontalFlip {
    /// Flips with probability `p` (one uniform draw per call).
    pub fn new(p: f64) -> RandomHorizontalFlip {
        RandomHorizontalFlip { p }
    }
}

impl Default for RandomHorizontalFlip {
    fn default() -> Self {
        RandomHorizontalFlip::new(0.5)
    }
}

impl Transform for RandomHorizontalFlip {
    fn apply(&self, image: Tensor, rng: &mut Generator) -> Result<Tensor> {
        if rng.uniform() < self.p {
            functional::hflip(&image)
        } else {
            Ok(image)
        }
    }
}

/// Mirrors the image top to bottom with probability `p`
/// (`transforms.RandomVerticalFlip`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomVerticalFlip {
    p: f64,
}

impl RandomVerticalFlip {
    /// Flips with probability `p` (one uniform draw per call).
    pub fn new(p: f64) -> RandomVerticalFlip {
        RandomVerticalFlip { p }
    }
}

impl Default for RandomVerticalFlip {
    fn default() -> Self {
        RandomVerticalFlip::new(0.5)
    }
}

impl Transform for RandomVerticalFlip {
    fn apply(&self, image: Tensor, rng: &mut Generator) -> Result<Tensor> {
        if rng.uniform() < self.p {
            functional::vflip(&image)
        } else {
            Ok(image)
        }
    }
}

/// Rotation by an angle drawn uniformly from `[min, max]` degrees,
/// counter-clockwise about the centre, same output size
/// (`transforms.RandomRotation`, `expand=False`); uncovered pixels get
/// `fill` (default 0). Default interpolation: nearest, as torchvision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomRotation {
    degrees: [f64; 2],
    interpolation: Interpolation,
    fill: f32,
}

impl RandomRotation {
    /// Angles in `[-degrees, degrees]` (`RandomRotation(degrees)`);
    /// `degrees` must be non-negative.
    pub fn new(degrees: f64) -> Result<RandomRotation> {
        if degrees.is_nan() || degrees < 0.0 {
            return Err(VisionError::invalid(
                "RandomRotation",
                format!("a single degrees value must be non-negative, got {degrees}"),
            ));
        }
        RandomRotation::range(-degrees, degrees)
    }

    /// Angles in `[min, max]` degrees.
    pub fn range(min: f64, max: f64) -> Result<RandomRotation> {
        if min.is_nan() || max.is_nan() || min > max {
            return Err(VisionError::invalid(
                "RandomRotation",
                format!("degrees range [{min}, {max}] is empty"),
            ));
        }
        Ok(RandomRotation {
            degrees: [min, max],
            interpolation: Interpolation::Nearest,
            fill: 0.0,
        })
    }

    /// Sets the interpolation.
    pub fn interpolation(mut self, interpolation: Interpolation) -> RandomRotation {
        self.interpolation = interpolation;
        self
    }

    /// Sets the value of uncovered pixels.
    pub fn fill(mut self, fill: f32) -> RandomRotation {
        self.fill = fill;
        self
    }
}

impl Transform for RandomRotation {
    fn apply(&self, image: Tensor, rng: &mut Generator) -> Result<Tensor> {
        let angle = uniform(rng, self.degrees[0], self.degrees[1]);
        functional::rotate(&image, angle, self.interpolation, self.fill)
    }
}

/// A random affine transform about the centre (`transforms.RandomAffine`):
/// rotation angle from `degrees`, then (if set) a translation of up to
/// `translate · [W, H]` pixels (rounded to whole pixels), a scale factor
/// and shears, each drawn uniformly in this order. Uncovered pixels get
/// `fill`. Default interpolation: nearest, as torchvision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomAffine {
    degrees: [f64; 2],
    translate: Option<[f64; 2]>,
    scale: Option<[f64; 2]>,
    shear_x: Option<[f64; 2]>,
    shear_y: Option<[f64; 2]>,
    interpolation: Interpolation,
    fill: f32,
}

impl RandomAffine {
    /// Rotation in `[-degrees, degrees]` (clockwise positive, as
    /// `F.affine`), nothing else (`RandomAffine(degrees)`).
    pub fn new(degrees: f64) -> Result<RandomAffine> {
        if degrees.is_nan() || degrees < 0.0 {
            return Err(VisionError::invalid(
                "RandomAffine",
                format!("a single degrees value must be non-negative, got {degrees}"),
            ));
        }
        Ok(RandomAffine {
            degrees: [-degrees, degrees],
            translate: None,
            scale: None,
            shear_x: None,
            shear_y: None,
            interpolation: Interpolation::Nearest,
            fill: 0.0,
        })
    }

    /// Horizontal and vertical shifts up to `fx · W` and `fy · H` pixels
    /// (`translate=(fx, fy)`, each in `[0, 1]`).
    pub fn translate(mut self, fx: f64, fy: f64) -> Result<RandomAffine> {
        if !(0.0..=1.0).contains(&fx) || !(0.0..=1.0).contains(&fy) {
            return Err(VisionError::invalid(
                "RandomAffine",
                format!("translation values must be between 0 and 1, got ({fx}, {fy})"),
            ));
        }
        self.translate = Some([fx, fy]);
        Ok(self)
    }

    /// A scale factor drawn from `[min, max]` (`scale=(min, max)`, positive).
    pub fn scale(mut self, min: f64, max: f64) -> Result<RandomAffine> {
        if !(min > 0.0 && min <= max) {
            return Err(VisionError::invalid(
                "RandomAffine",
                format!("scale range must be positive and non-empty, got ({min}, {max})"),
            ));
        }
        self.scale = Some([min, max]);
        Ok(self)
    }

    /// A shear parallel to the x axis drawn from `[min, max]` degrees.
    pub fn shear(mut self, min: f64, max: f64) -> Result<RandomAffine> {
        check_range("shear", min, max)?;
        self.shear_x = Some([min, max]);
        Ok(self)
    }

    /// A shear parallel to the y axis drawn from `[min, max]` degrees.
    pub fn shear_y(mut self, min: f64, max: f64) -> Result<RandomAffine> {
        check_range("shear_y", min, max)?;
        self.shear_y = Some([min, max]);
        Ok(self)
    }

    /// Sets the interpolation.
    pub fn interpolation(mut self, interpolation: Interpolation) -> RandomAffine {
        self.interpolation = interpolation;
        self
    }

    /// Sets the value of uncovered pixels.
    pub fn fill(mut self, fill: f32) -> RandomAffine {
        self.fill = fill;
        self
    }
}

fn check_range(name: &str, min: f64, max: f64) -> Result<()> {
    if min.is_nan() || max.is_nan() || min > max {
        return Err(VisionError::invalid(
            "RandomAffine",
            format!("{name} range [{min}, {max}] is empty"),
        ));
    }
    Ok(())
}

impl Transform for RandomAffine {
    fn apply(&self, image: Tensor, rng: &mut Generator) -> Result<Tensor> {
        let p = Planes::from_tensor(&image, "RandomAffine")?;
        let angle = uniform(rng, self.degrees[0], self.degrees[1]);
        let translate = match self.translate {
            Some([fx, fy]) => {
                let (mx, my) = (fx * p.w as f64, fy * p.h as f64);
                [
                    uniform(rng, -mx, mx).round_ties_even(),
                    uniform(rng, -my, my).round_ties_even(),
                ]
            }
            None => [0.0, 0.0],
        };
        let scale = self.scale.map_or(1.0, |[a, b]| uniform(rng, a, b));
        let shear = [
            self.shear_x.map_or(0.0, |[a, b]| uniform(rng, a, b)),
            self.shear_y.map_or(0.0, |[a, b]| uniform(rng, a, b)),
        ];
        let m = inverse_affine_matrix([0.0; 2], angle, translate, scale, shear);
        affine_planes(&p, m, self.interpolation, self.fill).into_tensor()
    }
}

/// Resizing (`transforms.Resize`, `antialias=False`), bilinear by default;
/// see [`functional::resize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resize {
    size: ResizeTo,
    interpolation: Interpolation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResizeTo {
    Exact([usize; 2]),
    Shorter(usize),
}

impl Resize {
    /// To exactly `height × width` (`Resize((h, w))`).
    pub fn new(height: usize, width: usize) -> Result<Resize> {
        positive_size("Resize", height, width)?;
        Ok(Resize {
            size: ResizeTo::Exact([height, width]),
            interpolation: Interpolation::Bilinear,
        })
    }

    /// The shorter side to `size`, keeping the aspect ratio (`Resize(size)`):
    /// the longer side becomes `floor(size · long / short)`.
    pub fn shorter_side(size: usize) -> Result<Resize> {
        positive_size("Resize", size, size)?;
        Ok(Resize {
            size: ResizeTo::Shorter(size),
            interpolation: Interpolation::Bilinear,
        })
    }

    /// Sets the interpolation.
    pub fn interpolation(mut self, interpolation: Interpolation) -> Resize {
        self.interpolation = interpolation;
        self
    }

    /// The output `[height, width]` for an input of `height × width`.
    pub fn output_size(&self, height: usize, width: usize) -> [usize; 2] {
        match self.size {
            ResizeTo::Exact(hw) => hw,
            ResizeTo::Shorter(s) => {
                let (short, long) = (height.min(width), height.max(width));
                let new_long = (s as f64 * long as f64 / short.max(1) as f64) as usize;
                if height <= width {
                    [s, new_long]
                } else {
                    [new_long, s]
                }
            }
        }
    }
}

impl Transform for Resize {
    fn apply(&self, image: Tensor, _rng: &mut Generator) -> Result<Tensor> {
        let shape = image.shape();
        if shape.len() < 2 {
            return Err(VisionError::invalid(
                "Resize",
                format!("expected an image tensor [..., H, W], got shape {shape:?}"),
            ));
        }
        let [h, w] = self.output_size(shape[shape.len() - 2], shape[shape.len() - 1]);
        functional::resize(&image, h, w, self.interpolation)
    }
}
