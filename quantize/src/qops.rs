//! Quantized Linear and Conv2d on quint8 activations and qint8 weights
//! (PyTorch's `torch.ao.nn.quantized.functional` on the x86 engine): the
//! weight is packed once, products run in [`qgemm`], and the i32 sums are
//! requantized with the bias in float, as fbgemm does.

use crate::error::{QuantError, Result};
use crate::kernels::{qgemm, requantize, PackedWeight};
use crate::qtensor::{QDtype, QParams, QTensor};

/// A qint8 weight `[out, in...]` packed for the int8 GEMM, with its
/// per-channel (or per-tensor) scales and zero points and a float bias.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedParams {
    packed: PackedWeight,
    shape: Vec<usize>,
    scales: Vec<f32>,
    zero_points: Vec<i64>,
    bias: Option<Vec<f32>>,
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
        Ok(PackedParams {
            packed: PackedWeight::new(w, n, k),
            shape,
            scales,
            zero_points,
            bias: bias.map(<[f32]>::to_vec),
        })
    }

    /// The weight's shape.
    pub fn weight_shape(&self) -> &[usize] {
        &self.shape
    }

    /// `y = requant(x_rows @ wᵀ)` for activation rows `a` `[m, k]`.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        a: &[u8],
        m: usize,
        a_scale: f64,
        a_zp: i64,
        out_scale: f64,
        out_zp: i64,
        relu: bool,
    ) -> Vec<u8> {
        let acc = self.accumulate(a, m, a_zp);
        requantize(
            &acc,
            self.packed.n(),
            a_scale as f32,
            &self.scales,
            self.bias.as_deref(),
            out_scale as f32,
            out_zp,
            relu,
        )
    }

    /// `Σ_t (a[i, t] - a_zp) (w[j, t] - w_zp[j])` for activation rows `a`
    /// `[m, k]`: `[m, n]` i32.
    pub(crate) fn accumulate(&self, a: &[u8], m: usize, a_zp: i64) -> Vec<i32> {
        let (n, k) = (self.packed.n(), self.packed.k());
        let mut acc = vec![0i32; m * n];
        qgemm(a, m, a_zp as i32, &self.packed, &mut acc);
        if self.zero_points.iter().any(|&z| z != 0) {
            // Σ (a - az)(w - wz) = Σ (a - az) w - wz Σ (a - az).
            for i in 0..m {
                let sa: i32 = a[i * k..(i + 1) * k]
                    .iter()
                    .map(|&v| v as i32 - a_zp as i32)
                    .sum();
                for j in 0..n {
                    let wz = self.zero_points[if self.zero_points.len() == 1 { 0 } else { j }];
                    acc[i * n + j] -= wz as i32 * sa;
                }
            }
        }
        acc
    }

    /// The weight scales (one, or one per output), as f32.
    pub(crate) fn scales(&self) -> &[f32] {
        &self.scales
    }

    /// The float bias.
    pub(crate) fn bias(&self) -> Option<&[f32]> {
        self.bias.as_deref()
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
    let y = w.run(a, m, s, z, out_scale, out_zp, relu);
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
    let k = c * kh * kw;
    let m = nb * oh * ow;
    let mut cols = vec![z as u8; m * k];
    for b in 0..nb {
        for y in 0..oh {
            for xx in 0..ow {
                let row = &mut cols[((b * oh + y) * ow + xx) * k..][..k];
                for ch in 0..c {
                    for i in 0..kh {
                        let iy = (y * stride[0] + i * dilation[0]) as isize - padding[0] as isize;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        for j in 0..kw {
                            let ix =
                                (xx * stride[1] + j * dilation[1]) as isize - padding[1] as isize;
                            if ix >= 0 && ix < wd as isize {
                                row[(ch * kh + i) * kw + j] =
                                    a[((b * c + ch) * h + iy as usize) * wd + ix as usize];
                            }
                        }
                    }
                }
            }
        }
    }
    let y = w.run(&cols, m, s, z, out_scale, out_zp, relu);
    // [N, OH, OW, O] -> [N, O, OH, OW]
    let mut out = vec![0u8; m * o];
    for b in 0..nb {
        for p in 0..oh * ow {
            for ch in 0..o {
                out[(b * o + ch) * oh * ow + p] = y[(b * oh * ow + p) * o + ch];
            }
        }
    }
    QTensor::from_u8(out, &[nb, o, oh, ow], out_scale, out_zp)
}
