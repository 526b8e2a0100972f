//! [`ToTensor`] and [`Normalize`].

use torchlet_tensor::{DType, Generator, Tensor};

use super::{functional, Transform};
use crate::error::{Result, VisionError};

/// Pixels to a float image (`transforms.ToTensor`): an `[H, W]` or
/// `[H, W, C]` image with values `0..=255` becomes a float32 `[C, H, W]`
/// tensor with values `v / 255` in `[0, 1]`.
///
/// torchlet's tensors have no `uint8` dtype, so as a [`Transform`] it
/// takes an int64 tensor holding byte values (and rejects values outside
/// `0..=255`); a float `[H, W, C]` tensor is only permuted, not scaled, as
/// torchvision does for non-`uint8` arrays. For raw bytes use
/// [`ToTensor::from_hwc_u8`] or [`ToTensor::from_chw_u8`]. The datasets of
/// this crate apply ToTensor themselves: their items are already float.
///
/// ```
/// use torchlet_vision::transforms::ToTensor;
/// // a 1x2 RGB image: a red and a white pixel, HWC bytes
/// let t = ToTensor::from_hwc_u8(&[255, 0, 0, 255, 255, 255], 1, 2, 3).unwrap();
/// assert_eq!(t.shape(), [3, 1, 2]);
/// assert_eq!(t.to_vec::<f32>().unwrap(), [1.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToTensor;

impl ToTensor {
    /// `height × width × channels` interleaved bytes (HWC, as decoders
    /// give them) to a float32 `[C, H, W]` tensor in `[0, 1]`.
    pub fn from_hwc_u8(
        data: &[u8],
        height: usize,
        width: usize,
        channels: usize,
    ) -> Result<Tensor> {
        check_len(
            "ToTensor::from_hwc_u8",
            data.len(),
            [height, width, channels],
        )?;
        let plane = height * width;
        let mut out = vec![0.0f32; data.len()];
        for (p, px) in data.chunks_exact(channels.max(1)).enumerate() {
            for (c, &v) in px.iter().enumerate() {
                out[c * plane + p] = v as f32 / 255.0;
            }
        }
        Ok(Tensor::from_vec(out, &[channels, height, width])?)
    }

    /// `channels × height × width` planar bytes (CHW, as MNIST and CIFAR
    /// store them) to a float32 `[C, H, W]` tensor in `[0, 1]`.
    pub fn from_chw_u8(
        data: &[u8],
        channels: usize,
        height: usize,
        width: usize,
    ) -> Result<Tensor> {
        check_len(
            "ToTensor::from_chw_u8",
            data.len(),
            [channels, height, width],
        )?;
        let out: Vec<f32> = data.iter().map(|&v| v as f32 / 255.0).collect();
        Ok(Tensor::from_vec(out, &[channels, height, width])?)
    }
}

fn check_len(what: &'static str, len: usize, shape: [usize; 3]) -> Result<()> {
    let n: usize = shape.iter().product();
    if len != n {
        return Err(VisionError::invalid(
            what,
            format!("{len} bytes cannot fill an image of shape {shape:?} ({n} bytes)"),
        ));
    }
    Ok(())
}

impl Transform for ToTensor {
    fn apply(&self, image: Tensor, _rng: &mut Generator) -> Result<Tensor> {
        let shape = image.shape().to_vec();
        let chw = match shape.len() {
            2 => image.unsqueeze(0)?,
            3 => image.permute(&[2, 0, 1])?,
            _ => {
                return Err(VisionError::invalid(
                    "ToTensor",
                    format!("expected an [H, W] or [H, W, C] image, got shape {shape:?}"),
                ))
            }
        };
        match chw.dtype() {
            DType::F32 => Ok(chw.contiguous()),
            DType::F64 => Ok(chw.to_dtype(DType::F32)),
            DType::I64 => {
                let values = chw.contiguous().to_vec::<i64>()?;
                if let Some(bad) = values.iter().find(|v| !(0..=255).contains(*v)) {
                    return Err(VisionError::invalid(
                        "ToTensor",
                        format!("expected byte values 0..=255 in an integer image, found {bad}"),
                    ));
                }
                let out: Vec<f32> = values.iter().map(|&v| v as f32 / 255.0).collect();
                Ok(Tensor::from_vec(out, chw.shape())?)
            }
            DType::Bool => Err(VisionError::invalid(
                "ToTensor",
                "expected an integer (byte-valued) or float image, got dtype bool",
            )),
        }
    }
}

/// Per-channel standardisation `(x - mean[c]) / std[c]`
/// (`transforms.Normalize`) of a float image `[..., C, H, W]`.
///
/// ```
/// use torchlet_tensor::{Generator, Tensor};
/// use torchlet_vision::transforms::{Normalize, Transform};
/// let n = Normalize::new(vec![0.5], vec![0.25]).unwrap();
/// let x = Tensor::from_vec(vec![0.0f32, 0.5, 1.0, 0.75], &[1, 2, 2]).unwrap();
/// let y = n.apply(x, &mut Generator::new(0)).unwrap();
/// assert_eq!(y.to_vec::<f32>().unwrap(), [-2.0, 0.0, 2.0, 1.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalize {
    /// One mean and one standard deviation per channel (or one of each for
    /// all channels). MNIST's usual values are `[0.1307]`, `[0.3081]`.
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Normalize> {
        if mean.is_empty() || std.is_empty() {
            return Err(VisionError::invalid(
                "Normalize",
                "mean and std need at least one value each",
            ));
        }
        if std.contains(&0.0) {
            return Err(VisionError::invalid(
                "Normalize",
                format!("std {std:?} contains zero, leading to division by zero"),
            ));
        }
        Ok(Normalize { mean, std })
    }

    /// The per-channel means.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// The per-channel standard deviations.
    pub fn std(&self) -> &[f32] {
        &self.std
    }
}

impl Transform for Normalize {
    fn apply(&self, image: Tensor, _rng: &mut Generator) -> Result<Tensor> {
        functional::normalize(&image, &self.mean, &self.std)
    }
}
