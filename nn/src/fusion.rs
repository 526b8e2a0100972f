//! Folding an eval-mode BatchNorm into the convolution or linear layer
//! before it (PyTorch's `torch.nn.utils.fusion.fuse_conv_bn_weights` /
//! `fuse_linear_bn_weights`): the fused layer computes what the pair
//! computed, with one op and one set of weights (quantization's
//! `fuse_modules` and the jit's BatchNorm folding use it).

use torchlet_tensor::Tensor;

use crate::error::{NnError, Result};

fn invalid(module: &'static str, message: String) -> NnError {
    NnError::Input { module, message }
}

/// The statistics and affine parameters of an eval-mode BatchNorm.
#[derive(Clone, Copy, Debug)]
pub struct BatchNormParams<'a> {
    /// `running_mean`, one per channel.
    pub running_mean: &'a Tensor,
    /// `running_var`, one per channel.
    pub running_var: &'a Tensor,
    /// `eps`.
    pub eps: f64,
    /// `weight` (γ); ones when absent.
    pub weight: Option<&'a Tensor>,
    /// `bias` (β); zeros when absent.
    pub bias: Option<&'a Tensor>,
}

/// `w' = w * γ / sqrt(var + eps)` along the output channels (dim 0) and
/// `b' = (b - mean) * γ / sqrt(var + eps) + β`, in PyTorch's order of
/// operations, for a conv weight `[out, in, kh, kw]` or a linear weight
/// `[out, in]`; the result keeps the weight's dtype.
///
/// ```
/// use torchlet_nn::{fuse_conv_bn_weights, BatchNormParams};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_nn::NnError> {
/// let w = Tensor::ones(&[2, 1, 1, 1]);
/// let (mean, var) = (Tensor::from_vec(vec![1.0f32, 0.0], &[2])?, Tensor::from_vec(vec![3.0f32, 0.0], &[2])?);
/// let bn = BatchNormParams { running_mean: &mean, running_var: &var, eps: 1.0, weight: None, bias: None };
/// let (fw, fb) = fuse_conv_bn_weights(&w, None, &bn)?;
/// assert_eq!(fw.to_vec::<f32>()?, [0.5, 1.0]); // 1 / sqrt(3 + 1), 1 / sqrt(0 + 1)
/// assert_eq!(fb.to_vec::<f32>()?, [-0.5, 0.0]);
/// # Ok(())
/// # }
/// ```
pub fn fuse_conv_bn_weights(
    weight: &Tensor,
    bias: Option<&Tensor>,
    bn: &BatchNormParams<'_>,
) -> Result<(Tensor, Tensor)> {
    let op = "fuse_conv_bn_weights";
    if weight.dim() < 2 {
        return Err(invalid(
            op,
            format!(
                "the weight must have at least 2 dims, got {:?}",
                weight.shape()
            ),
        ));
    }
    let out = weight.shape()[0];
    let dtype = weight.dtype();
    let per_channel = |name: &str, t: Option<&Tensor>, fill: f64| -> Result<Tensor> {
        match t {
            None => Ok(Tensor::full_dtype(&[out], fill, dtype)),
            Some(t) if t.shape() == [out] => Ok(t.to_dtype(dtype)),
            Some(t) => Err(invalid(
                op,
                format!("{name} has shape {:?}, expected [{out}]", t.shape()),
            )),
        }
    };
    let mean = per_channel("running_mean", Some(bn.running_mean), 0.0)?;
    let var = per_channel("running_var", Some(bn.running_var), 1.0)?;
    let gamma = per_channel("bn weight", bn.weight, 1.0)?;
    let beta = per_channel("bn bias", bn.bias, 0.0)?;
    let b = per_channel("conv bias", bias, 0.0)?;
    if bn.eps.is_nan() || bn.eps < 0.0 {
        return Err(invalid(op, format!("eps must be >= 0, got {}", bn.eps)));
    }
    let rsqrt = var.add_scalar(bn.eps).rsqrt();
    let mut shape = vec![out as i64];
    shape.extend(std::iter::repeat_n(1, weight.dim() - 1));
    let scale = gamma.mul(&rsqrt)?;
    let fused_w = weight.mul(&scale.reshape(&shape)?)?.to_dtype(dtype);
    let fused_b = b
        .sub(&mean)?
        .mul(&rsqrt)?
        .mul(&gamma)?
        .add(&beta)?
        .to_dtype(dtype);
    Ok((fused_w, fused_b))
}

/// [`fuse_conv_bn_weights`] for a Linear weight `[out, in]` followed by a
/// BatchNorm1d (PyTorch's `fuse_linear_bn_weights`).
pub fn fuse_linear_bn_weights(
    weight: &Tensor,
    bias: Option<&Tensor>,
    bn: &BatchNormParams<'_>,
) -> Result<(Tensor, Tensor)> {
    if weight.dim() != 2 {
        return Err(invalid(
            "fuse_linear_bn_weights",
            format!("the weight must be [out, in], got {:?}", weight.shape()),
        ));
    }
    fuse_conv_bn_weights(weight, bias, bn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use torchlet_tensor::{manual_seed, DType};

    #[test]
    fn a_fused_convolution_computes_conv_then_batch_norm() {
        manual_seed(5);
        let x = Tensor::randn(&[2, 3, 6, 6]);
        let w = Tensor::randn(&[4, 3, 3, 3]);
        let b = Tensor::randn(&[4]);
        let mean = Tensor::randn(&[4]);
        let var = Tensor::rand(&[4]).add_scalar(0.5);
        let (gamma, beta) = (Tensor::randn(&[4]), Tensor::randn(&[4]));
        let bn = BatchNormParams {
            running_mean: &mean,
            running_var: &var,
            eps: 1e-5,
            weight: Some(&gamma),
            bias: Some(&beta),
        };
        let y = x.conv2d(&w, Some(&b), [1, 1], [1, 1], [1, 1], 1).unwrap();
        let c = |t: &Tensor| t.reshape(&[1, 4, 1, 1]).unwrap();
        let want = y
            .sub(&c(&mean))
            .unwrap()
            .div(&c(&var.add_scalar(1e-5).sqrt()))
            .unwrap()
            .mul(&c(&gamma))
            .unwrap()
            .add(&c(&beta))
            .unwrap();
        let (fw, fb) = fuse_conv_bn_weights(&w, Some(&b), &bn).unwrap();
        let got = x.conv2d(&fw, Some(&fb), [1, 1], [1, 1], [1, 1], 1).unwrap();
        for (g, w) in got
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .zip(want.to_vec::<f32>().unwrap())
        {
            assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{g} vs {w}");
        }
        assert_eq!(fw.dtype(), DType::F32);
    }

    #[test]
    fn mismatched_statistics_are_refused() {
        let w = Tensor::ones(&[2, 3]);
        let mean = Tensor::zeros(&[3]);
        let var = Tensor::ones(&[2]);
        let bn = BatchNormParams {
            running_mean: &mean,
            running_var: &var,
            eps: 1e-5,
            weight: None,
            bias: None,
        };
        let e = fuse_linear_bn_weights(&w, None, &bn)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("running_mean has shape [3], expected [2]"),
            "{e}"
        );
    }
}
