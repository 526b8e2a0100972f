//! Quantized ops without weights on quint8 tensors (PyTorch's
//! `torch.ao.nn.quantized.functional` and `torch.ops.quantized`): ReLU,
//! max and adaptive average pooling keep their input's scale and zero
//! point; add and cat requantize to the output's.

use crate::error::{QuantError, Result};
use crate::kernels::{max_pool2d_into, Isa};
use crate::qtensor::{quantize_value, QParams, QTensor};

fn per_tensor_u8<'a>(op: &'static str, x: &'a QTensor) -> Result<(&'a [u8], f64, i64)> {
    match (x.as_u8(), x.params()) {
        (Some(v), QParams::PerTensor { scale, zero_point }) => Ok((v, *scale, *zero_point)),
        _ => Err(QuantError::invalid(
            op,
            format!(
                "the input must be quint8 quantized per tensor, got {} {:?}",
                x.dtype().torch_name(),
                x.params()
            ),
        )),
    }
}

/// `relu` of a quint8 tensor: `max(q, zero_point)`, same parameters.
pub fn quantized_relu(x: &QTensor) -> Result<QTensor> {
    let (v, s, z) = per_tensor_u8("quantized::relu", x)?;
    let floor = z.clamp(0, 255) as u8;
    QTensor::from_u8(v.iter().map(|&q| q.max(floor)).collect(), x.shape(), s, z)
}

fn nchw(op: &'static str, shape: &[usize]) -> Result<[usize; 4]> {
    match *shape {
        [n, c, h, w] => Ok([n, c, h, w]),
        _ => Err(QuantError::invalid(
            op,
            format!("expected an [N, C, H, W] input, got {shape:?}"),
        )),
    }
}

/// `F.max_pool2d` on a quint8 tensor `[N, C, H, W]` (padding never wins,
/// as `-inf`): the largest integer of each window, same parameters.
pub fn quantized_max_pool2d(
    x: &QTensor,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Result<QTensor> {
    let op = "quantized::max_pool2d";
    let (v, s, z) = per_tensor_u8(op, x)?;
    let [n, c, h, w] = nchw(op, x.shape())?;
    if kernel.contains(&0)
        || stride.contains(&0)
        || padding[0] * 2 > kernel[0]
        || padding[1] * 2 > kernel[1]
    {
        return Err(QuantError::invalid(
            op,
            format!("kernel {kernel:?}, stride {stride:?}, padding {padding:?}: kernel and stride must be positive and padding at most half the kernel"),
        ));
    }
    let out_len = |size: usize, k: usize, p: usize, st: usize| {
        (size + 2 * p).checked_sub(k).map(|d| d / st + 1)
    };
    let (Some(oh), Some(ow)) = (
        out_len(h, kernel[0], padding[0], stride[0]),
        out_len(w, kernel[1], padding[1], stride[1]),
    ) else {
        return Err(QuantError::invalid(
            op,
            format!(
                "kernel {kernel:?} does not fit the padded input {:?}",
                x.shape()
            ),
        ));
    };
    let mut out = vec![0u8; n * c * oh * ow];
    max_pool2d_into(
        Isa::detect(),
        v,
        (h, w),
        kernel,
        stride,
        padding,
        (oh, ow),
        &mut out,
    );
    QTensor::from_u8(out, &[n, c, oh, ow], s, z)
}

/// `F.adaptive_avg_pool2d` on a quint8 tensor `[N, C, H, W]`: each
/// window's integer mean rounded half to even (PyTorch's window bounds),
/// same parameters.
pub fn quantized_adaptive_avg_pool2d(x: &QTensor, output_size: [usize; 2]) -> Result<QTensor> {
    let op = "quantized::adaptive_avg_pool2d";
    let (v, s, z) = per_tensor_u8(op, x)?;
    let [n, c, h, w] = nchw(op, x.shape())?;
    let [oh, ow] = output_size;
    if oh == 0 || ow == 0 {
        return Err(QuantError::invalid(
            op,
            format!("output size {output_size:?} must be positive"),
        ));
    }
    let start = |i: usize, out: usize, size: usize| i * size / out;
    let end = |i: usize, out: usize, size: usize| ((i + 1) * size).div_ceil(out);
    let mut out = Vec::with_capacity(n * c * oh * ow);
    for plane in v.chunks_exact(h * w) {
        for oy in 0..oh {
            let (y0, y1) = (start(oy, oh, h), end(oy, oh, h));
            for ox in 0..ow {
                let (x0, x1) = (start(ox, ow, w), end(ox, ow, w));
                let sum: u64 = plane[y0 * w..y1 * w]
                    .chunks_exact(w)
                    .map(|row| row[x0..x1].iter().map(|&q| q as u64).sum::<u64>())
                    .sum();
                let count = ((y1 - y0) * (x1 - x0)) as f64;
                out.push((sum as f64 / count).round_ties_even().clamp(0.0, 255.0) as u8);
            }
        }
    }
    QTensor::from_u8(out, &[n, c, oh, ow], s, z)
}

/// `torch.ops.quantized.add(a, b, scale, zero_point)` (with `relu`,
/// `add_relu`): the real sum of two quint8 tensors of one shape,
/// quantized to the output's parameters.
pub fn quantized_add(
    a: &QTensor,
    b: &QTensor,
    scale: f64,
    zero_point: i64,
    relu: bool,
) -> Result<QTensor> {
    let op = "quantized::add";
    let (va, sa, za) = per_tensor_u8(op, a)?;
    let (vb, sb, zb) = per_tensor_u8(op, b)?;
    if a.shape() != b.shape() {
        return Err(QuantError::invalid(
            op,
            format!("shapes {:?} and {:?} differ", a.shape(), b.shape()),
        ));
    }
    crate::qtensor::check_qparams(op, scale, zero_point, (0, 255))?;
    let (sa, sb, inv) = (sa as f32, sb as f32, 1.0f32 / scale as f32);
    let lo = if relu { zero_point } else { 0 };
    let out = va
        .iter()
        .zip(vb)
        .map(|(&x, &y)| {
            let real = (x as i64 - za) as f32 * sa + (y as i64 - zb) as f32 * sb;
            quantize_value(real, inv, zero_point, lo, 255) as u8
        })
        .collect();
    QTensor::from_u8(out, a.shape(), scale, zero_point)
}

/// `torch.ops.quantized.cat(xs, dim, scale, zero_point)`: the inputs'
/// reals requantized to the output's parameters, joined along `dim`.
pub fn quantized_cat(xs: &[&QTensor], dim: i64, scale: f64, zero_point: i64) -> Result<QTensor> {
    let op = "quantized::cat";
    let Some(first) = xs.first() else {
        return Err(QuantError::invalid(op, "needs at least one tensor"));
    };
    let rank = first.shape().len();
    let d = torchlet_tensor::normalize_dim(op, dim, rank).map_err(|_| {
        QuantError::invalid(op, format!("dim {dim} is out of range for {rank} dims"))
    })?;
    crate::qtensor::check_qparams(op, scale, zero_point, (0, 255))?;
    let mut shape = first.shape().to_vec();
    shape[d] = 0;
    for x in xs {
        let s = x.shape();
        let fits = s.len() == rank && (0..rank).all(|i| i == d || s[i] == first.shape()[i]);
        if !fits {
            return Err(QuantError::invalid(
                op,
                format!(
                    "shapes {:?} and {s:?} differ outside dim {d}",
                    first.shape()
                ),
            ));
        }
        shape[d] += s[d];
    }
    let outer: usize = shape[..d].iter().product();
    let inv = 1.0f32 / scale as f32;
    let mut parts = Vec::with_capacity(xs.len());
    for x in xs {
        let (v, s, z) = per_tensor_u8(op, x)?;
        let same = s == scale && z == zero_point;
        let q: Vec<u8> = if same {
            v.to_vec()
        } else {
            v.iter()
                .map(|&q| {
                    quantize_value((q as i64 - z) as f32 * s as f32, inv, zero_point, 0, 255) as u8
                })
                .collect()
        };
        parts.push((q, v.len() / outer.max(1)));
    }
    let mut out = Vec::with_capacity(shape.iter().product());
    for o in 0..outer {
        for (q, block) in &parts {
            out.extend_from_slice(&q[o * block..(o + 1) * block]);
        }
    }
    QTensor::from_u8(out, &shape, scale, zero_point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qtensor::{quantize_per_tensor, QDtype};
    use torchlet_tensor::Tensor;

    fn q(values: Vec<f32>, shape: &[usize], scale: f64, zp: i64) -> QTensor {
        let t = Tensor::from_vec(values, shape).unwrap();
        quantize_per_tensor(&t, scale, zp, QDtype::QUInt8).unwrap()
    }

    #[test]
    fn pooling_matches_float_pooling_of_the_dequantized_values() {
        let vals: Vec<f32> = (0..2 * 3 * 7 * 6)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.05)
            .collect();
        let x = q(vals, &[2, 3, 7, 6], 0.05, 60);
        let deq = x.dequantize();
        let got = quantized_max_pool2d(&x, [3, 2], [2, 2], [1, 1]).unwrap();
        let want = deq.max_pool2d([3, 2], [2, 2], [1, 1]).unwrap();
        assert_eq!(
            got.dequantize().to_vec::<f32>().unwrap(),
            want.to_vec::<f32>().unwrap()
        );
        // Averages of integers: within half a step of the float average.
        let got = quantized_adaptive_avg_pool2d(&x, [3, 2])
            .unwrap()
            .dequantize();
        let want = deq.adaptive_avg_pool2d([3, 2]).unwrap();
        for (g, w) in got
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .zip(want.to_vec::<f32>().unwrap())
        {
            assert!((g - w).abs() <= 0.025 + 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn add_and_cat_requantize_the_real_values() {
        let a = q(vec![-1.0, 0.5, 2.0], &[3], 0.1, 20);
        let b = q(vec![0.25, -0.5, 1.0], &[3], 0.05, 50);
        let sum = quantized_add(&a, &b, 0.2, 10, false).unwrap();
        assert_eq!(sum.dequantize().to_vec::<f32>().unwrap(), [-0.8, 0.0, 3.0]);
        let relu = quantized_add(&a, &b, 0.2, 10, true).unwrap();
        assert_eq!(relu.dequantize().to_vec::<f32>().unwrap(), [0.0, 0.0, 3.0]);
        let a2 = q(vec![1.0, 2.0, 3.0, 4.0], &[2, 2], 0.5, 0);
        let b2 = q(vec![0.5, 1.5], &[2, 1], 0.25, 0);
        let c = quantized_cat(&[&a2, &b2], 1, 0.5, 0).unwrap();
        assert_eq!(c.shape(), [2, 3]);
        // 0.5 and 1.5 land on the output's 0.5 grid (1.5 / 0.5 = 3).
        assert_eq!(
            c.dequantize().to_vec::<f32>().unwrap(),
            [1.0, 2.0, 0.5, 3.0, 4.0, 1.5]
        );
        assert!(quantized_cat(&[&a2, &a], 0, 0.5, 0).is_err());
        assert!(quantized_add(&a, &a2, 0.5, 0, false).is_err());
    }

    #[test]
    fn relu_clamps_at_the_zero_point() {
        let x = q(vec![-1.0, 0.0, 1.0], &[3], 0.5, 4);
        let y = quantized_relu(&x).unwrap();
        assert_eq!(y.dequantize().to_vec::<f32>().unwrap(), [0.0, 0.0, 1.0]);
    }
}
