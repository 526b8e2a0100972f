//! The image kernels behind the transforms, as plain functions on tensors
//! (`torchvision.transforms.functional`).
//!
//! Every function takes a float image `[..., H, W]` (any number of leading
//! dims: `[H, W]`, `[C, H, W]` or a batch `[N, C, H, W]`; each `H × W`
//! plane is processed alike) and returns a new float32 tensor. Integer
//! images are rejected: convert them with [`ToTensor`](super::ToTensor)
//! first.

use torchlet_tensor::{DType, Tensor};

use crate::error::{Result, VisionError};

/// How a geometric transform samples the input between pixel centres.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Interpolation {
    /// The nearest pixel (`InterpolationMode.NEAREST`).
    Nearest,
    /// Bilinear interpolation of the four nearest pixels
    /// (`InterpolationMode.BILINEAR`), the default.
    #[default]
    Bilinear,
}

/// A float image as `planes` contiguous `h × w` planes, plus the leading
/// dims to restore its shape.
#[derive(Debug, Clone)]
pub(crate) struct Planes {
    pub lead: Vec<usize>,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Planes {
    /// Checks that `x` is a float image `[..., H, W]` and copies it out.
    pub fn from_tensor(x: &Tensor, what: &'static str) -> Result<Planes> {
        let shape = x.shape();
        if shape.len() < 2 {
            return Err(VisionError::invalid(
                what,
                format!("expected an image tensor [..., H, W], got shape {shape:?}"),
            ));
        }
        if !x.dtype().is_float() {
            return Err(VisionError::invalid(
                what,
                format!(
                    "expected a float image, got dtype {} (convert with ToTensor first)",
                    x.dtype()
                ),
            ));
        }
        let (lead, hw) = shape.split_at(shape.len() - 2);
        let data = if x.dtype() == DType::F32 {
            x.contiguous().to_vec::<f32>()?
        } else {
            x.to_dtype(DType::F32).to_vec::<f32>()?
        };
        Ok(Planes {
            lead: lead.to_vec(),
            h: hw[0],
            w: hw[1],
            data,
        })
    }

    /// Planes of the same leading dims and a new size, filled by `f(plane)`.
    pub fn map_planes(&self, h: usize, w: usize, mut f: impl FnMut(&[f32], &mut [f32])) -> Planes {
        let n = self.planes();
        let mut data = vec![0.0f32; n * h * w];
        if h * w > 0 && self.h * self.w > 0 {
            for (src, dst) in self
                .data
                .chunks_exact(self.h * self.w)
                .zip(data.chunks_exact_mut(h * w))
            {
                f(src, dst);
            }
        }
        Planes {
            lead: self.lead.clone(),
            h,
            w,
            data,
        }
    }

    /// The number of `h × w` planes.
    pub fn planes(&self) -> usize {
        self.lead.iter().product()
    }

    /// Back to a float32 tensor `[..., h, w]`.
    pub fn into_tensor(self) -> Result<Tensor> {
        let mut shape = self.lead;
        shape.extend([self.h, self.w]);
        Ok(Tensor::from_vec(self.data, &shape)?)
    }
}

/// Mirrors the image left to right (`F.hflip`).
pub fn hflip(image: &Tensor) -> Result<Tensor> {
    let p = Planes::from_tensor(image, "hflip")?;
    let w = p.w;
    p.map_planes(p.h, p.w, |src, dst| {
        for (s, d) in src.chunks_exact(w).zip(dst.chunks_exact_mut(w)) {
            for (dv, sv) in d.iter_mut().zip(s.iter().rev()) {
                *dv = *sv;
            }
        }
    })
    .into_tensor()
}

/// Mirrors the image top to bottom (`F.vflip`).
pub fn vflip(image: &Tensor) -> Result<Tensor> {
    let p = Planes::from_tensor(image, "vflip")?;
    let w = p.w;
    p.map_planes(p.h, p.w, |src, dst| {
        for (s, d) in src.chunks_exact(w).rev().zip(dst.chunks_exact_mut(w)) {
            d.copy_from_slice(s);
        }
    })
    .into_tensor()
}

/// The `height × width` window whose top-left corner is at (`top`,
/// `left`) (`F.crop`). The window may extend past the image (negative
/// offsets included): pixels outside it are `fill`, as torchvision pads
/// an out-of-bounds crop.
pub fn crop(
    image: &Tensor,
    top: i64,
    left: i64,
    height: usize,
    width: usize,
    fill: f32,
) -> Result<Tensor> {
    let p = Planes::from_tensor(image, "crop")?;
    crop_planes(&p, top, left, height, width, fill).into_tensor()
}

pub(crate) fn crop_planes(
    p: &Planes,
    top: i64,
    left: i64,
    height: usize,
    width: usize,
    fill: f32,
) -> Planes {
    let (h, w) = (p.h as i64, p.w as i64);
    p.map_planes(height, width, |src, dst| {
        for (i, row) in dst.chunks_exact_mut(width).enumerate() {
            let y = top + i as i64;
            for (j, d) in row.iter_mut().enumerate() {
                let x = left + j as i64;
                *d = if (0..h).contains(&y) && (0..w).contains(&x) {
                    src[(y * w + x) as usize]
                } else {
                    fill
                };
            }
        }
    })
}

/// The central `height × width` window (`F.center_crop`): the top-left
/// corner is at `round((H - height) / 2)`, `round((W - width) / 2)`
/// (Python's round, half to even); a crop larger than the image pads it
/// with zeros, `(size - H) / 2` rows above (rounded down).
pub fn center_crop(image: &Tensor, height: usize, width: usize) -> Result<Tensor> {
    let p = Planes::from_tensor(image, "center_crop")?;
    let offset = |size: usize, crop: usize| -> i64 {
        if crop > size {
            -(((crop - size) / 2) as i64)
        } else {
            ((size - crop) as f64 / 2.0).round_ties_even() as i64
        }
    };
    let (top, left) = (offset(p.h, height), offset(p.w, width));
    crop_planes(&p, top, left, height, width, 0.0).into_tensor()
}

/// `(image - mean[c]) / std[c]` for each channel `c` of `[..., C, H, W]`
/// (`F.normalize`); `mean` and `std` hold one value per channel, or one
/// for all.
pub fn normalize(image: &Tensor, mean: &[f32], std: &[f32]) -> Result<Tensor> {
    let p = Planes::from_tensor(image, "normalize")?;
    if p.lead.is_empty() {
        return Err(VisionError::invalid(
            "normalize",
            format!(
                "expected a tensor image [..., C, H, W], got shape {:?}",
                image.shape()
            ),
        ));
    }
    let c = p.lead[p.lead.len() - 1];
    for (name, v) in [("mean", mean), ("std", std)] {
        if v.len() != 1 && v.len() != c {
            return Err(VisionError::invalid(
                "normalize",
                format!(
                    "{name} has {} values but the image has {c} channels (shape {:?})",
                    v.len(),
                    image.shape()
                ),
            ));
        }
    }
    if std.contains(&0.0) {
        return Err(VisionError::invalid(
            "normalize",
            format!("std {std:?} contains zero, leading to division by zero"),
        ));
    }
    let mut plane = 0usize;
    p.map_planes(p.h, p.w, |src, dst| {
        let ch = plane % c;
        plane += 1;
        let (m, s) = (mean[ch.min(mean.len() - 1)], std[ch.min(std.len() - 1)]);
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = (v - m) / s;
        }
    })
    .into_tensor()
}

/// Resizes every plane to `height × width` (`F.resize` with
/// `antialias=False`, i.e. `F.interpolate(..., align_corners=False)`).
///
/// Bilinear: output pixel `i` samples source coordinate
/// `max((i + 0.5) · in / out - 0.5, 0)` and blends its two neighbours
/// (PyTorch's `upsample_bilinear2d`). Nearest: source `floor(i · in / out)`
/// (PyTorch's legacy `nearest`).
pub fn resize(
    image: &Tensor,
    height: usize,
    width: usize,
    interpolation: Interpolation,
) -> Result<Tensor> {
    let p = Planes::from_tensor(image, "resize")?;
    if height == 0 || width == 0 || p.h == 0 || p.w == 0 {
        return Err(VisionError::invalid(
            "resize",
            format!(
                "cannot resize an image of shape {:?} to {height}x{width}: sizes must be positive",
                image.shape()
            ),
        ));
    }
    if (p.h, p.w) == (height, width) {
        return p.into_tensor();
    }
    let (ih, iw) = (p.h, p.w);
    match interpolation {
        Interpolation::Nearest => {
            let rows = nearest_indices(ih, height);
            let cols = nearest_indices(iw, width);
            p.map_planes(height, width, |src, dst| {
                for (row, &y) in dst.chunks_exact_mut(width).zip(&rows) {
                    for (d, &x) in row.iter_mut().zip(&cols) {
                        *d = src[y * iw + x];
                    }
                }
            })
            .into_tensor()
        }
        Interpolation::Bilinear => {
            let rows = linear_taps(ih, height);
            let cols = linear_taps(iw, width);
            p.map_planes(height, width, |src, dst| {
                for (row, &(y0, y1, ly0, ly1)) in dst.chunks_exact_mut(width).zip(&rows) {
                    for (d, &(x0, x1, lx0, lx1)) in row.iter_mut().zip(&cols) {
                        let top = lx0 * src[y0 * iw + x0] + lx1 * src[y0 * iw + x1];
                        let bottom = lx0 * src[y1 * iw + x0] + lx1 * src[y1 * iw + x1];
                        *d = ly0 * top + ly1 * bottom;
                    }
                }
            })
            .into_tensor()
        }
    }
}

/// PyTorch's legacy nearest source index: `min(floor(i · scale), in - 1)`
/// with `scale = in / out` in float32.
fn nearest_indices(input: usize, output: usize) -> Vec<usize> {
    let scale = input as f32 / output as f32;
    (0..output)
        .map(|i| ((i as f32 * scale).floor() as usize).min(input - 1))
        .collect()
}

/// PyTorch's bilinear taps (align_corners=False): for each output index,
/// the two source indices and their weights, in float32 as ATen computes
/// them.
fn linear_taps(input: usize, output: usize) -> Vec<(usize, usize, f32, f32)> {
    let scale = input as f32 / output as f32;
    (0..output)
        .map(|i| {
            let src = (scale * (i as f32 + 0.5) - 0.5).max(0.0);
            let i0 = (src as usize).min(input - 1);
            let i1 = if i0 < input - 1 { i0 + 1 } else { i0 };
            let l1 = src - i0 as f32;
            (i0, i1, 1.0 - l1, l1)
        })
        .collect()
}

/// torchvision's `_get_inverse_affine_matrix`: the 2×3 matrix mapping an
/// output point to its source point, both relative to `center`, for a
/// rotation by `angle` degrees (clockwise in image coordinates), a
/// translation, a scale and shears in degrees.
pub(crate) fn inverse_affine_matrix(
    center: [f64; 2],
    angle: f64,
    translate: [f64; 2],
    scale: f64,
    shear: [f64; 2],
) -> [f64; 6] {
    let rot = angle.to_radians();
    let (sx, sy) = (shear[0].to_radians(), shear[1].to_radians());
    let [cx, cy] = center;
    let [tx, ty] = translate;
    let a = (rot - sy).cos() / sy.cos();
    let b = -(rot - sy).cos() * sx.tan() / sy.cos() - rot.sin();
    let c = (rot - sy).sin() / sy.cos();
    let d = -(rot - sy).sin() * sx.tan() / sy.cos() + rot.cos();
    let mut m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0];
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
    m[2] += cx;
    m[5] += cy;
    m
}

/// Applies an inverse affine matrix (in coordinates centred on the image,
/// as torchvision's tensor backend does) by sampling each output pixel
/// centre's source point, then blends in `fill` the way torchvision does:
/// `out = v · m + (1 - m) · fill` with `m` the same sampling of an all-ones
/// plane (bilinear), or `fill` where `m < 0.5` (nearest).
pub(crate) fn affine_planes(
    p: &Planes,
    inverse: [f64; 6],
    interpolation: Interpolation,
    fill: f32,
) -> Planes {
    let (h, w) = (p.h, p.w);
    // Each output pixel's source coordinate and weights are the same for
    // every plane: compute the taps once.
    let mut taps: Vec<[(usize, f32); 4]> = Vec::with_capacity(h * w);
    let mut mask: Vec<f32> = Vec::with_capacity(h * w);
    for i in 0..h {
        let y = i as f64 + 0.5 - h as f64 / 2.0;
        for j in 0..w {
            let x = j as f64 + 0.5 - w as f64 / 2.0;
            let xs = inverse[0] * x + inverse[1] * y + inverse[2];
            let ys = inverse[3] * x + inverse[4] * y + inverse[5];
            // grid_sample(align_corners=False) maps back to pixel indices.
            let (px, py) = (xs + w as f64 / 2.0 - 0.5, ys + h as f64 / 2.0 - 0.5);
            let mut t = [(0usize, 0.0f32); 4];
            let inside =
                |yy: i64, xx: i64| (0..h as i64).contains(&yy) && (0..w as i64).contains(&xx);
            match interpolation {
                Interpolation::Nearest => {
                    let (xn, yn) = (px.round_ties_even() as i64, py.round_ties_even() as i64);
                    if inside(yn, xn) {
                        t[0] = ((yn as usize) * w + xn as usize, 1.0);
                    }
                }
                Interpolation::Bilinear => {
                    let (x0, y0) = (px.floor(), py.floor());
                    let (fx, fy) = ((px - x0) as f32, (py - y0) as f32);
                    let (x0, y0) = (x0 as i64, y0 as i64);
                    let corners = [
                        (y0, x0, (1.0 - fx) * (1.0 - fy)),
                        (y0, x0 + 1, fx * (1.0 - fy)),
                        (y0 + 1, x0, (1.0 - fx) * fy),
                        (y0 + 1, x0 + 1, fx * fy),
                    ];
                    for (k, &(yy, xx, wgt)) in corners.iter().enumerate() {
                        if inside(yy, xx) {
                            t[k] = ((yy as usize) * w + xx as usize, wgt);
                        }
                    }
                }
            }
            mask.push(t.iter().map(|&(_, wgt)| wgt).sum());
            taps.push(t);
        }
    }
    p.map_planes(h, w, |src, dst| {
        for ((d, t), &m) in dst.iter_mut().zip(&taps).zip(&mask) {
            let v: f32 = t.iter().map(|&(idx, wgt)| wgt * src[idx]).sum();
            *d = match interpolation {
                Interpolation::Nearest if m < 0.5 => fill,
                Interpolation::Nearest => v,
                Interpolation::Bilinear => v * m + (1.0 - m) * fill,
            };
        }
    })
}

/// Rotates the image by `angle` degrees counter-clockwise about its
/// centre, keeping its size (`F.rotate`, `expand=False`); uncovered
/// pixels get `fill`.
pub fn rotate(
    image: &Tensor,
    angle: f64,
    interpolation: Interpolation,
    fill: f32,
) -> Result<Tensor> {
    let p = Planes::from_tensor(image, "rotate")?;
    let m = inverse_affine_matrix([0.0; 2], -angle, [0.0; 2], 1.0, [0.0; 2]);
    affine_planes(&p, m, interpolation, fill).into_tensor()
}

/// An affine transform about the image centre (`F.affine`): rotation by
/// `angle` degrees clockwise, translation by `translate` pixels
/// (`[x, y]`), scaling by `scale`, shear by `shear` degrees (`[x, y]`);
/// uncovered pixels get `fill`.
pub fn affine(
    image: &Tensor,
    angle: f64,
    translate: [f64; 2],
    scale: f64,
    shear: [f64; 2],
    interpolation: Interpolation,
    fill: f32,
) -> Result<Tensor> {
    if scale.is_nan() || scale <= 0.0 {
        return Err(VisionError::invalid(
            "affine",
            format!("scale must be positive, got {scale}"),
        ));
    }
    let p = Planes::from_tensor(image, "affine")?;
    let m = inverse_affine_matrix([0.0; 2], angle, translate, scale, shear);
    affine_planes(&p, m, interpolation, fill).into_tensor()
}
