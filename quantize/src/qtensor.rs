//! [`QTensor`]: integers plus the affine map back to reals, per tensor or
//! per channel, with PyTorch's rounding.

use std::sync::Arc;

use torchlet_tensor::{normalize_dim, DType, Tensor};

use crate::error::{QuantError, Result};
use crate::kernels::{dequantize_into, quantize_into, Isa, QuantOut};

/// The integer type of a quantized tensor (`torch.quint8`, `torch.qint8`,
/// `torch.qint32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QDtype {
    /// Unsigned 8-bit, `0..=255` (activations).
    QUInt8,
    /// Signed 8-bit, `-128..=127` (weights).
    QInt8,
    /// Signed 32-bit (biases and accumulators).
    QInt32,
}

impl QDtype {
    /// The full integer range.
    pub fn range(self) -> (i64, i64) {
        match self {
            QDtype::QUInt8 => (0, 255),
            QDtype::QInt8 => (-128, 127),
            QDtype::QInt32 => (i32::MIN as i64, i32::MAX as i64),
        }
    }

    /// The range an observer uses: with `reduce_range` the 8-bit types
    /// lose their top bit (PyTorch's default for x86 activations, which
    /// keeps `u8 × s8` pair sums inside an i16).
    pub fn observer_range(self, reduce_range: bool) -> (i64, i64) {
        match (self, reduce_range) {
            (QDtype::QUInt8, true) => (0, 127),
            (QDtype::QInt8, true) => (-64, 63),
            (d, _) => d.range(),
        }
    }

    /// PyTorch's name (`torch.quint8`, ...).
    pub fn torch_name(self) -> &'static str {
        match self {
            QDtype::QUInt8 => "torch.quint8",
            QDtype::QInt8 => "torch.qint8",
            QDtype::QInt32 => "torch.qint32",
        }
    }

    /// Parses `quint8`, `qint8` or `qint32` (with or without `torch.`).
    pub fn parse(name: &str) -> Result<QDtype> {
        match name.trim_start_matches("torch.") {
            "quint8" => Ok(QDtype::QUInt8),
            "qint8" => Ok(QDtype::QInt8),
            "qint32" => Ok(QDtype::QInt32),
            other => Err(QuantError::invalid(
                "QDtype",
                format!("unknown quantized dtype {other:?} (expected quint8, qint8 or qint32)"),
            )),
        }
    }
}

/// How the scale and zero point map integers to reals.
#[derive(Clone, Debug, PartialEq)]
pub enum QParams {
    /// One scale and zero point for the whole tensor.
    PerTensor {
        /// The real step between adjacent integers.
        scale: f64,
        /// The integer that stands for real zero.
        zero_point: i64,
    },
    /// One scale and zero point per index along `axis`.
    PerChannel {
        /// One scale per channel.
        scales: Vec<f64>,
        /// One zero point per channel.
        zero_points: Vec<i64>,
        /// The channel dim.
        axis: usize,
    },
}

/// The integers of a quantized tensor, in their own width.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum QData {
    U8(Arc<Vec<u8>>),
    I8(Arc<Vec<i8>>),
    I32(Arc<Vec<i32>>),
}

/// A quantized tensor (PyTorch's quantized tensor): integers of a
/// [`QDtype`] in row-major order, their shape, and the [`QParams`] that
/// map each integer `q` to the real `(q - zero_point) * scale`.
///
/// ```
/// use torchlet_quantize::{quantize_per_tensor, QDtype};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_quantize::QuantError> {
/// let x = Tensor::from_vec(vec![0.25f32, 0.75, 1.25, 100.0], &[4])?;
/// let q = quantize_per_tensor(&x, 0.5, 1, QDtype::QInt8)?;
/// // Ties round to even, then the zero point is added and the result clamped.
/// assert_eq!(q.int_repr().to_vec::<i64>()?, [1, 3, 3, 127]);
/// assert_eq!(q.dequantize().to_vec::<f32>()?, [0.0, 1.0, 1.0, 63.0]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct QTensor {
    shape: Vec<usize>,
    dtype: QDtype,
    params: QParams,
    data: QData,
}

/// PyTorch's (fbgemm's) `quantize_val`: `zero_point + nearbyint(x * inv)`
/// in f32 with ties to even, where `inv = 1 / scale` in f32, then clamped
/// to `[qmin, qmax]`. NaN maps to the zero point.
#[inline]
pub fn quantize_value(x: f32, inv_scale: f32, zero_point: i64, qmin: i64, qmax: i64) -> i64 {
    let q = unclamped(x, inv_scale, zero_point);
    q.clamp(qmin, qmax)
}

/// The quantized value before clamping (what fake quantization's
/// gradient mask tests).
#[inline]
pub(crate) fn unclamped(x: f32, inv_scale: f32, zero_point: i64) -> i64 {
    if x.is_nan() {
        return zero_point;
    }
    (zero_point as f32 + (x * inv_scale).round_ties_even()) as i64
}

/// Checks a scale (positive and finite) and a zero point (inside
/// `range`), naming `op` and the value.
pub(crate) fn check_qparams(
    op: &'static str,
    scale: f64,
    zero_point: i64,
    range: (i64, i64),
) -> Result<()> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(QuantError::invalid(
            op,
            format!("scale must be positive and finite, got {scale}"),
        ));
    }
    if zero_point < range.0 || zero_point > range.1 {
        return Err(QuantError::invalid(
            op,
            format!(
                "zero_point {zero_point} is outside the range [{}, {}]",
                range.0, range.1
            ),
        ));
    }
    Ok(())
}

/// The float input as f32 values, refusing integer tensors.
pub(crate) fn float_values(op: &'static str, x: &Tensor) -> Result<Vec<f32>> {
    if !x.dtype().is_float() {
        return Err(QuantError::invalid(
            op,
            format!("expected a float tensor, got {}", x.dtype()),
        ));
    }
    Ok(x.to_dtype(DType::F32).contiguous().to_vec::<f32>()?)
}

fn pack(dtype: QDtype, values: Vec<i64>) -> QData {
    match dtype {
        QDtype::QUInt8 => QData::U8(Arc::new(values.into_iter().map(|v| v as u8).collect())),
        QDtype::QInt8 => QData::I8(Arc::new(values.into_iter().map(|v| v as i8).collect())),
        QDtype::QInt32 => QData::I32(Arc::new(values.into_iter().map(|v| v as i32).collect())),
    }
}

/// Quantizes `x` with one scale and zero point
/// (`torch.quantize_per_tensor(x, scale, zero_point, dtype)`): each value
/// becomes `clamp(zero_point + round_half_even(x / scale))`, exactly as
/// PyTorch's x86 engine computes it.
pub fn quantize_per_tensor(
    x: &Tensor,
    scale: f64,
    zero_point: i64,
    dtype: QDtype,
) -> Result<QTensor> {
    let op = "quantize_per_tensor";
    let range = dtype.range();
    check_qparams(op, scale, zero_point, range)?;
    let inv = 1.0f32 / scale as f32;
    // Read f32 data in place; convert other floats first.
    let copy;
    let values = match x.as_slice::<f32>() {
        Some(v) => v,
        None => {
            copy = float_values(op, x)?;
            &copy
        }
    };
    let isa = Isa::detect();
    let len = values.len();
    let data = match dtype {
        QDtype::QUInt8 => {
            let mut q = vec![0u8; len];
            quantize_into(isa, values, inv, zero_point, range, QuantOut::U8(&mut q));
            QData::U8(Arc::new(q))
        }
        QDtype::QInt8 => {
            let mut q = vec![0i8; len];
            quantize_into(isa, values, inv, zero_point, range, QuantOut::I8(&mut q));
            QData::I8(Arc::new(q))
        }
        QDtype::QInt32 => {
            let mut q = vec![0i32; len];
            quantize_into(isa, values, inv, zero_point, range, QuantOut::I32(&mut q));
            QData::I32(Arc::new(q))
        }
    };
    Ok(QTensor {
        shape: x.shape().to_vec(),
        dtype,
        params: QParams::PerTensor { scale, zero_point },
        data,
    })
}

/// Quantizes `x` with one scale and zero point per index along `axis`
/// (`torch.quantize_per_channel(x, scales, zero_points, axis, dtype)`).
/// `scales` and `zero_points` are 1-D with one entry per channel.
pub fn quantize_per_channel(
    x: &Tensor,
    scales: &Tensor,
    zero_points: &Tensor,
    axis: i64,
    dtype: QDtype,
) -> Result<QTensor> {
    let op = "quantize_per_channel";
    let axis = normalize_dim(op, axis, x.dim()).map_err(|_| {
        QuantError::invalid(
            op,
            format!(
                "axis {axis} is out of range for a tensor of {} dims",
                x.dim()
            ),
        )
    })?;
    let (scales, zero_points) =
        channel_params(op, scales, zero_points, x.shape()[axis], dtype.range())?;
    let values = float_values(op, x)?;
    let (channels, inner) = (
        x.shape()[axis],
        x.shape()[axis + 1..].iter().product::<usize>(),
    );
    let inv: Vec<f32> = scales.iter().map(|&s| 1.0f32 / s as f32).collect();
    let (qmin, qmax) = dtype.range();
    let q = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = (i / inner.max(1)) % channels.max(1);
            quantize_value(v, inv[c], zero_points[c], qmin, qmax)
        })
        .collect();
    Ok(QTensor {
        shape: x.shape().to_vec(),
        dtype,
        params: QParams::PerChannel {
            scales,
            zero_points,
            axis,
        },
        data: pack(dtype, q),
    })
}

/// Per-channel scales (as f64) and zero points, checked.
pub(crate) fn channel_params(
    op: &'static str,
    scales: &Tensor,
    zero_points: &Tensor,
    channels: usize,
    range: (i64, i64),
) -> Result<(Vec<f64>, Vec<i64>)> {
    if scales.dim() != 1 || scales.numel() != channels || !scales.dtype().is_float() {
        return Err(QuantError::invalid(
            op,
            format!(
                "scales must be a 1-D float tensor of {channels} channels, got {} {:?}",
                scales.dtype(),
                scales.shape()
            ),
        ));
    }
    if zero_points.dim() != 1 || zero_points.numel() != channels {
        return Err(QuantError::invalid(
            op,
            format!(
                "zero_points must be 1-D with {channels} channels, got shape {:?}",
                zero_points.shape()
            ),
        ));
    }
    let s = scales.to_dtype(DType::F64).contiguous().to_vec::<f64>()?;
    let z: Vec<i64> = zero_points
        .to_dtype(DType::F64)
        .contiguous()
        .to_vec::<f64>()?
        .into_iter()
        .map(|v| v.round() as i64)
        .collect();
    for (c, (&sc, &zp)) in s.iter().zip(&z).enumerate() {
        check_qparams(op, sc, zp, range).map_err(|e| match e {
            QuantError::Invalid { op, message } => {
                QuantError::invalid(op, format!("channel {c}: {message}"))
            }
            e => e,
        })?;
    }
    Ok((s, z))
}

impl QTensor {
    /// A quint8 tensor from its integers, checked (what int8 kernels
    /// produce).
    pub fn from_u8(
        values: Vec<u8>,
        shape: &[usize],
        scale: f64,
        zero_point: i64,
    ) -> Result<QTensor> {
        let op = "QTensor::from_u8";
        check_qparams(op, scale, zero_point, QDtype::QUInt8.range())?;
        if values.len() != shape.iter().product::<usize>() {
            return Err(QuantError::invalid(
                op,
                format!("{} values do not fill shape {shape:?}", values.len()),
            ));
        }
        Ok(QTensor {
            shape: shape.to_vec(),
            dtype: QDtype::QUInt8,
            params: QParams::PerTensor { scale, zero_point },
            data: QData::U8(Arc::new(values)),
        })
    }

    /// A qint8 tensor from its integers and parameters, checked (scales
    /// positive and finite, zero points in range, one per channel).
    pub fn from_i8(values: Vec<i8>, shape: &[usize], params: QParams) -> Result<QTensor> {
        let op = "QTensor::from_i8";
        if values.len() != shape.iter().product::<usize>() {
            return Err(QuantError::invalid(
                op,
                format!("{} values do not fill shape {shape:?}", values.len()),
            ));
        }
        let range = QDtype::QInt8.range();
        match &params {
            QParams::PerTensor { scale, zero_point } => {
                check_qparams(op, *scale, *zero_point, range)?
            }
            QParams::PerChannel {
                scales,
                zero_points,
                axis,
            } => {
                let channels = shape.get(*axis).copied();
                if channels != Some(scales.len()) || scales.len() != zero_points.len() {
                    return Err(QuantError::invalid(
                        op,
                        format!(
                            "{} scales and {} zero points for axis {axis} of shape {shape:?}",
                            scales.len(),
                            zero_points.len()
                        ),
                    ));
                }
                for (&s, &z) in scales.iter().zip(zero_points) {
                    check_qparams(op, s, z, range)?;
                }
            }
        }
        Ok(QTensor {
            shape: shape.to_vec(),
            dtype: QDtype::QInt8,
            params,
            data: QData::I8(Arc::new(values)),
        })
    }

    /// The same integers and parameters in another shape of as many
    /// elements (per-tensor quantization only).
    pub fn reshape(&self, shape: &[usize]) -> Result<QTensor> {
        let op = "QTensor::reshape";
        if shape.iter().product::<usize>() != self.shape.iter().product::<usize>() {
            return Err(QuantError::invalid(
                op,
                format!("cannot reshape {:?} to {shape:?}", self.shape),
            ));
        }
        if !matches!(self.params, QParams::PerTensor { .. }) {
            return Err(QuantError::invalid(
                op,
                "a per-channel tensor keeps its shape",
            ));
        }
        Ok(QTensor {
            shape: shape.to_vec(),
            ..self.clone()
        })
    }

    /// The integers of a quint8 tensor.
    pub fn as_u8(&self) -> Option<&[u8]> {
        match &self.data {
            QData::U8(v) => Some(v),
            _ => None,
        }
    }

    /// The integers of a qint8 tensor.
    pub fn as_i8(&self) -> Option<&[i8]> {
        match &self.data {
            QData::I8(v) => Some(v),
            _ => None,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The integer type.
    pub fn dtype(&self) -> QDtype {
        self.dtype
    }

    /// The scale(s) and zero point(s).
    pub fn params(&self) -> &QParams {
        &self.params
    }

    /// The integers, widened to i64, in row-major order.
    pub fn values(&self) -> Vec<i64> {
        match &self.data {
            QData::U8(v) => v.iter().map(|&x| x as i64).collect(),
            QData::I8(v) => v.iter().map(|&x| x as i64).collect(),
            QData::I32(v) => v.iter().map(|&x| x as i64).collect(),
        }
    }

    /// The integers as an int64 tensor (`int_repr()`; PyTorch gives
    /// uint8/int8/int32, which torchlet's tensors widen to int64).
    pub fn int_repr(&self) -> Tensor {
        Tensor::from_vec(self.values(), &self.shape).expect("values fit the shape")
    }

    /// The reals, f32 (`dequantize()`): `(q - zero_point) * scale`.
    pub fn dequantize(&self) -> Tensor {
        let len = self.shape.iter().product();
        let mut out = vec![0.0f32; len];
        match (&self.params, &self.data) {
            (QParams::PerTensor { scale, zero_point }, QData::U8(q)) => dequantize_into(
                Isa::detect(),
                q,
                false,
                *scale as f32,
                *zero_point as i32,
                &mut out,
            ),
            (QParams::PerTensor { scale, zero_point }, QData::I8(q)) => {
                // SAFETY: i8 and u8 have one layout.
                let bytes = unsafe { std::slice::from_raw_parts(q.as_ptr().cast::<u8>(), q.len()) };
                dequantize_into(
                    Isa::detect(),
                    bytes,
                    true,
                    *scale as f32,
                    *zero_point as i32,
                    &mut out,
                )
            }
            (QParams::PerTensor { scale, zero_point }, QData::I32(q)) => {
                let s = *scale as f32;
                for (o, &v) in out.iter_mut().zip(q.iter()) {
                    *o = s * (v as i64 - zero_point) as f32;
                }
            }
            (
                QParams::PerChannel {
                    scales,
                    zero_points,
                    axis,
                },
                data,
            ) => {
                let channels = self.shape[*axis].max(1);
                let inner = self.shape[axis + 1..].iter().product::<usize>().max(1);
                let value = |i: usize| match data {
                    QData::U8(v) => v[i] as i64,
                    QData::I8(v) => v[i] as i64,
                    QData::I32(v) => v[i] as i64,
                };
                for (i, o) in out.iter_mut().enumerate() {
                    let c = (i / inner) % channels;
                    *o = ((value(i) - zero_points[c]) as f64 * scales[c]) as f32;
                }
            }
        }
        Tensor::from_vec(out, &self.shape).expect("values fit the shape")
    }

    fn per_tensor(&self, op: &'static str) -> Result<(f64, i64)> {
        match self.params {
            QParams::PerTensor { scale, zero_point } => Ok((scale, zero_point)),
            _ => Err(QuantError::invalid(
                op,
                "the tensor is quantized per channel",
            )),
        }
    }

    fn per_channel(&self, op: &'static str) -> Result<(&[f64], &[i64], usize)> {
        match &self.params {
            QParams::PerChannel {
                scales,
                zero_points,
                axis,
            } => Ok((scales, zero_points, *axis)),
            _ => Err(QuantError::invalid(
                op,
                "the tensor is quantized per tensor",
            )),
        }
    }

    /// The scale of a per-tensor quantized tensor (`q_scale()`).
    pub fn q_scale(&self) -> Result<f64> {
        Ok(self.per_tensor("q_scale")?.0)
    }

    /// The zero point of a per-tensor quantized tensor (`q_zero_point()`).
    pub fn q_zero_point(&self) -> Result<i64> {
        Ok(self.per_tensor("q_zero_point")?.1)
    }

    /// The scales of a per-channel quantized tensor, f64
    /// (`q_per_channel_scales()`).
    pub fn q_per_channel_scales(&self) -> Result<Tensor> {
        let (s, _, _) = self.per_channel("q_per_channel_scales")?;
        Ok(Tensor::from_vec(s.to_vec(), &[s.len()])?)
    }

    /// The zero points of a per-channel quantized tensor, int64
    /// (`q_per_channel_zero_points()`).
    pub fn q_per_channel_zero_points(&self) -> Result<Tensor> {
        let (_, z, _) = self.per_channel("q_per_channel_zero_points")?;
        Ok(Tensor::from_vec(z.to_vec(), &[z.len()])?)
    }

    /// The channel axis of a per-channel quantized tensor
    /// (`q_per_channel_axis()`).
    pub fn q_per_channel_axis(&self) -> Result<usize> {
        Ok(self.per_channel("q_per_channel_axis")?.2)
    }
}
