//! Quantized Linear and Conv2d on quint8 activations and qint8 weights
//! (PyTorch's `torch.ao.nn.quantized.functional` on the x86 engine): the
//! weight is packed once, products run in the int8 GEMM of
//! [`kernels`](crate::kernels), and each tile of i32 sums is requantized
//! with the bias in float, as fbgemm does, before it leaves the kernel.

use crate::error::{QuantError, Result};
use crate::kernels::conv::{conv2d, ConvShape};
use crate::kernels::{linear, padded, Epilogue, Isa, PackedWeight};
use crate::qtensor::{QDtype, QParams, QTensor};

/// A qint8 weight `[out, in...]` packed for the int8 GEMM, with its
/// per-channel (or per-tensor) scales and zero points and a float bias.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedParams {
    packed: PackedWeight,
    shape: Vec<usize>,
    scales: Vec<f32>,
    bias: Option<Vec<f32>>,
    /// `scales` and `bias` padded as the kernels read them.
    scales_padded: Vec<f32>,
    bias_padded: Vec<f32>,
}

impl PackedParams {
    /// Packs a qint8 `weight` (quantized per tensor, or per channel along
    /// axis 0) and an optional float `bias` of one value per output.
    pub fn new(weight: &QTensor, bias: Option<&[f32]>) -> Result<PackedParams> {
        let op = "PackedParams";
        let Some(w) = weight.as_i8() else {
            return Err(QuantError::invalid(
                op,
                format!(
                    "the weight must be qint8, got {}",
                    weight.dtype().torch_name()
                ),
            ));
        };
        let shape = weight.shape().to_vec();
        if shape.len() < 2 {
            return Err(QuantError::invalid(
                op,
                format!("the weight must have at least 2 dims, got {shape:?}"),
            ));
        }
        let n = shape[0];
        let k: usize = shape[1..].iter().product();
        let (scales, zero_points) = match weight.params() {
            QParams::PerTensor { scale, zero_point } => (vec![*scale as f32], vec![*zero_point]),
            QParams::PerChannel {
                scales,
                zero_points,
                axis: 0,
            } => (
                scales.iter().map(|&s| s as f32).collect(),
                zero_points.clone(),
            ),
            QParams::PerChannel { axis, .. } => {
                return Err(QuantError::invalid(
                    op,
                    format!("per-channel weights must use axis 0, got {axis}"),
                ))
            }
        };
        if let Some(b) = bias {
            if b.len() != n {
                return Err(QuantError::invalid(
                    op,
                    format!("bias has {} values for {n} outputs", b.len()),
                ));
            }
        }
        let zps: Vec<i32> = zero_points.iter().map(|&z| z as i32).collect();
        let scales_padded = padded(&scales, n);
        Ok(PackedParams {
            packed: PackedWeight::with_zero_points(w, n, k, &zps),
            shape,
            scales,
            bias: bias.map(<[f32]>::to_vec),
            scales_padded,
            bias_padded: padded(bias.unwrap_or(&[]), n),
        })
    }

    /// The weight's shape.
    pub fn weight_shape(&self) -> &[usize] {
        &self.shape
    }

    /// `mult[j] = a_scale * w_scale[j]` in f32, as fbgemm's output stage
    /// (padded as the kernels read it).
    fn mult(&self, a_scale: f64) -> Vec<f32> {
        let a_scale = a_scale as f32;
        self.scales_padded.iter().map(|&w| a_scale * w).collect()
    }

    /// The requantization of this layer's sums with `mult` into `out`.
    fn requant<'a>(
        &'a self,
        out: &'a mut [u8],
        mult: &'a [f32],
        out_scale: f64,
        out_zp: i64,
        relu: bool,
    ) -> Epilogue<'a> {
        Epilogue::Requant {
            out,
            mult,
            bias: &self.bias_padded,
            scale: out_scale as f32,
            zero_point: out_zp as i32,
            relu,
        }
    }

    /// `out = (Σ_t (a[i, t] - a_zp) (w[j, t] - w_zp[j])) * a_scale *
    /// w_scale[j] + bias[j]` for activation rows `a` `[m, k]`: fbgemm's
    /// float output stage (dynamic quantization), `[m, n]`.
    pub(crate) fn linear_f32(&self, a: &[u8], m: usize, a_zp: i64, a_scale: f32, out: &mut [f32]) {
        let epi = Epilogue::Float {
            out,
            a_scale,
            w_scale: &self.scales_padded,
            bias: &self.bias_padded,
        };
        linear(Isa::detect(), a, m, a_zp as i32, &self.packed, epi);
    }

    /// Outputs and reduction length `(n, k)`.
    pub(crate) fn dims(&self) -> (usize, usize) {
        (self.packed.n(), self.packed.k())
    }
}

fn activation<'a>(op: &'static str, x: &'a QTensor) -> Result<(&'a [u8], f64, i64)> {
    let (Some(a), QParams::PerTensor { scale, zero_point }) = (x.as_u8(), x.params()) else {
        return Err(QuantError::invalid(
            op,
            format!(
                "the input must be quint8 quantized per tensor, got {} {:?}",
                x.dtype().torch_name(),
                x.params()
            ),
        ));
    };
    Ok((a, *scale, *zero_point))
}

fn check_out(op: &'static str, out_scale: f64, out_zp: i64) -> Result<()> {
    crate::qtensor::check_qparams(op, out_scale, out_zp, QDtype::QUInt8.range())
}

/// `torch.ao.nn.quantized.functional.linear`: `x` `[*, in]` (quint8, per
/// tensor) times the packed weight `[out, in]`, plus bias, requantized to
/// `out_scale`/`out_zp`; `relu` fuses a ReLU (`LinearReLU`).
pub fn quantized_linear(
    x: &QTensor,
    w: &PackedParams,
    out_scale: f64,
    out_zp: i64,
    relu: bool,
) -> Result<QTensor> {
    let op = "quantized::linear";
    let (a, s, z) = activation(op, x)?;
    check_out(op, out_scale, out_zp)?;
    let k = w.packed.k();
    let shape = x.shape();
    if w.shape.len() != 2 || shape.last() != Some(&k) {
        return Err(QuantError::invalid(
            op,
            format!(
                "input of shape {shape:?} does not fit a weight of shape {:?}",
                w.shape
            ),
        ));
    }
    let m = a.len() / k.max(1);
    let mut y = vec![0u8; m * w.packed.n()];
    let mult = w.mult(s);
    let epi = w.requant(&mut y, &mult, out_scale, out_zp, relu);
    linear(Isa::detect(), a, m, z as i32, &w.packed, epi);
    let mut out_shape = shape.to_vec();
    *out_shape.last_mut().expect("at least one dim") = w.packed.n();
    QTensor::from_u8(y, &out_shape, out_scale, out_zp)
}

/// `torch.ao.nn.quantized.functional.conv2d` (groups 1): `x` `[N, C, H,
/// W]` (quint8) with the packed weight `[O, C, kh, kw]`, im2col rows
/// padded with the input's zero point (real zero), then the int8 GEMM and
/// requantization; `relu` fuses a ReLU (`ConvReLU2d`).
#[allow(clippy::too_many_arguments)]
pub fn quantized_conv2d(
    x: &QTensor,
    w: &PackedParams,
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    out_scale: f64,
    out_zp: i64,
    relu: bool,
) -> Result<QTensor> {
    let op = "quantized::conv2d";
    let (a, s, z) = activation(op, x)?;
    check_out(op, out_scale, out_zp)?;
    let shape = x.shape();
    if shape.len() != 4 || w.shape.len() != 4 || shape[1] != w.shape[1] {
        return Err(QuantError::invalid(
            op,
            format!(
                "input of shape {shape:?} does not fit a weight of shape {:?}",
                w.shape
            ),
        ));
    }
    if stride.contains(&0) || dilation.contains(&0) {
        return Err(QuantError::invalid(
            op,
            format!("stride {stride:?} and dilation {dilation:?} must be positive"),
        ));
    }
    let (nb, c, h, wd) = (shape[0], shape[1], shape[2], shape[3]);
    let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3]);
    let span = |size: usize, k: usize, d: usize, p: usize, st: usize| -> Option<usize> {
        let eff = d * (k - 1) + 1;
        (size + 2 * p >= eff).then(|| (size + 2 * p - eff) / st + 1)
    };
    let (Some(oh), Some(ow)) = (
        span(h, kh, dilation[0], padding[0], stride[0]),
        span(wd, kw, dilation[1], padding[1], stride[1]),
    ) else {
        return Err(QuantError::invalid(
            op,
            format!("the kernel {kh}x{kw} does not fit the padded input {shape:?}"),
        ));
    };
    let shape = ConvShape {
        nb,
        c,
        h,
        w: wd,
        kh,
        kw,
        stride,
        padding,
        dilation,
        oh,
        ow,
    };
    let mut out = vec![0u8; nb * o * oh * ow];
    let mult = w.mult(s);
    let epi = w.requant(&mut out, &mult, out_scale, out_zp, relu);
    conv2d(Isa::detect(), a, z as i32, &shape, &w.packed, epi);
    QTensor::from_u8(out, &[nb, o, oh, ow], out_scale, out_zp)
}
