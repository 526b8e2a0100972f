//! `torch.nn.functional` as free functions over [`Variable`]s.
//!
//! Everything of [`torchlet_autograd::functional`] is re-exported (the
//! losses, [`linear`], [`embedding`], the recurrent cells, [`Reduction`]);
//! this module adds the convolutions, poolings, normalizations,
//! activations, [`dropout`] and the losses whose logic lives in this crate
//! ([`smooth_l1_loss`], [`huber_loss`], [`kl_div`]). Each is the same
//! computation as the matching module's forward pass, without the
//! module's parameters.
//!
//! ```
//! use torchlet_autograd::Variable;
//! use torchlet_nn::functional as F;
//! use torchlet_nn::Result;
//! use torchlet_tensor::Tensor;
//!
//! # fn main() -> Result<()> {
//! let x = Variable::parameter(Tensor::from_slice(&[-1.0f32, 2.0, 0.5, -3.0], &[1, 1, 2, 2])?);
//! let w = Variable::parameter(Tensor::ones(&[2, 1, 1, 1]));
//! let y = F::relu(&F::conv2d(&x, &w, None, [1, 1], [0, 0], [1, 1], 1)?);
//! assert_eq!(y.shape(), [1, 2, 2, 2]);
//! let p = F::log_softmax(&y.flatten(1, -1)?, 1)?;
//! let target = Tensor::from_slice(&[3i64], &[1])?;
//! let loss = F::nll_loss(&p, &target, None, -100, F::Reduction::Mean)?;
//! loss.backward()?;
//! assert_eq!(x.grad().unwrap().shape(), [1, 1, 2, 2]);
//! # Ok(())
//! # }
//! ```

use torchlet_autograd::Variable;
use torchlet_tensor::{with_global_generator, Generator, Tensor};

pub use torchlet_autograd::functional::*;

pub use crate::loss::KLDivReduction;

use crate::error::{NnError, Result};

/// 1-d convolution (`F.conv1d`): input `[N, C_in, L]` (or `[C_in, L]`),
/// weight `[C_out, C_in / groups, k]`, optional bias `[C_out]`.
pub fn conv1d(
    x: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
) -> Result<Variable> {
    Ok(x.conv1d(weight, bias, stride, padding, dilation, groups)?)
}

/// 2-d convolution (`F.conv2d`): input `[N, C_in, H, W]` (or
/// `[C_in, H, W]`), weight `[C_out, C_in / groups, kH, kW]`, optional bias
/// `[C_out]`.
pub fn conv2d(
    x: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
) -> Result<Variable> {
    Ok(x.conv2d(weight, bias, stride, padding, dilation, groups)?)
}

/// 2-d transposed convolution (`F.conv_transpose2d`): weight
/// `[C_in, C_out / groups, kH, kW]`, optional bias `[C_out]`.
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose2d(
    x: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
    stride: [usize; 2],
    padding: [usize; 2],
    output_padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
) -> Result<Variable> {
    Ok(x.conv_transpose2d(
        weight,
        bias,
        stride,
        padding,
        output_padding,
        dilation,
        groups,
    )?)
}

/// 2-d max pooling (`F.max_pool2d(x, kernel, stride, padding)`) over
/// `[N, C, H, W]` or `[C, H, W]`.
pub fn max_pool2d(
    x: &Variable,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Result<Variable> {
    Ok(x.max_pool2d(kernel, stride, padding)?)
}

/// 2-d average pooling (`F.avg_pool2d(x, kernel, stride, padding)`, zero
/// padding counted).
pub fn avg_pool2d(
    x: &Variable,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Result<Variable> {
    Ok(x.avg_pool2d(kernel, stride, padding)?)
}

/// Adaptive 2-d average pooling to `output_size` (`F.adaptive_avg_pool2d`).
pub fn adaptive_avg_pool2d(x: &Variable, output_size: [usize; 2]) -> Result<Variable> {
    Ok(x.adaptive_avg_pool2d(output_size)?)
}

/// Batch normalization of an `[N, C, *]` input (`F.batch_norm`). With
/// `training` the batch statistics are used (the running ones, optional
/// then, are only checked — unlike PyTorch they are not updated in place;
/// [`BatchNorm2d`](crate::BatchNorm2d) and
/// [`BatchNorm1d`](crate::BatchNorm1d) do that); otherwise `running_mean`
/// and `running_var` are required.
pub fn batch_norm(
    x: &Variable,
    running_mean: Option<&Tensor>,
    running_var: Option<&Tensor>,
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    training: bool,
    eps: f64,
) -> Result<Variable> {
    Ok(x.batch_norm(running_mean, running_var, weight, bias, training, eps)?)
}

/// Layer normalization over the trailing `normalized_shape` dims
/// (`F.layer_norm`), optional elementwise `weight` and `bias` of that shape.
pub fn layer_norm(
    x: &Variable,
    normalized_shape: &[usize],
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    eps: f64,
) -> Result<Variable> {
    Ok(x.layer_norm(normalized_shape, weight, bias, eps)?)
}

/// Group normalization (`F.group_norm`) of an `[N, C, *]` input whose `C`
/// divides by `num_groups`, with optional per-channel `weight` and `bias`
/// (`[C]`); the same computation as [`GroupNorm`](crate::GroupNorm).
pub fn group_norm(
    x: &Variable,
    num_groups: usize,
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    eps: f64,
) -> Result<Variable> {
    let shape = x.shape();
    if shape.len() < 2 || num_groups == 0 || !shape[1].is_multiple_of(num_groups) {
        return Err(NnError::input(
            "group_norm",
            format!(
                "expected an [N, C, *] input with C divisible by num_groups = {num_groups}, got shape {shape:?}"
            ),
        ));
    }
    for (name, p) in [("weight", weight), ("bias", bias)] {
        if let Some(p) = p.filter(|p| p.shape() != [shape[1]]) {
            return Err(NnError::input(
                "group_norm",
                format!(
                    "expected {name} of shape [{}], got {:?}",
                    shape[1],
                    p.shape()
                ),
            ));
        }
    }
    crate::normalization::group_norm(x, num_groups, weight, bias, eps)
}

/// `max(x, 0)` elementwise (`F.relu`).
pub fn relu(x: &Variable) -> Variable {
    x.relu()
}

/// `1 / (1 + e^-x)` elementwise (`F.sigmoid`).
pub fn sigmoid(x: &Variable) -> Variable {
    x.sigmoid()
}

/// Hyperbolic tangent elementwise (`F.tanh`).
pub fn tanh(x: &Variable) -> Variable {
    x.tanh()
}

/// Exact GELU `x Φ(x)` elementwise (`F.gelu`, `approximate='none'`).
pub fn gelu(x: &Variable) -> Variable {
    x.gelu()
}

/// `x σ(x)` elementwise (`F.silu`).
pub fn silu(x: &Variable) -> Variable {
    x.silu()
}

/// `x` where positive, `negative_slope · x` elsewhere (`F.leaky_relu`).
pub fn leaky_relu(x: &Variable, negative_slope: f64) -> Variable {
    x.leaky_relu(negative_slope)
}

/// `x` where positive, `alpha (e^x - 1)` elsewhere (`F.elu`).
pub fn elu(x: &Variable, alpha: f64) -> Variable {
    x.elu(alpha)
}

/// Softmax along `dim` (`F.softmax`).
pub fn softmax(x: &Variable, dim: i64) -> Result<Variable> {
    Ok(x.softmax(dim)?)
}

/// Log-softmax along `dim` (`F.log_softmax`).
pub fn log_softmax(x: &Variable, dim: i64) -> Result<Variable> {
    Ok(x.log_softmax(dim)?)
}

/// Dropout (`F.dropout(x, p, training)`): with `training`, each element is
/// zeroed with probability `p` and the rest scaled by `1 / (1 - p)`;
/// otherwise `x` is returned unchanged. Masks come from `generator`, or
/// from the default generator when it is `None`. Fails unless `p` is in
/// `[0, 1]`.
pub fn dropout(
    x: &Variable,
    p: f64,
    training: bool,
    generator: Option<&mut Generator>,
) -> Result<Variable> {
    if !(0.0..=1.0).contains(&p) {
        return Err(NnError::config(
            "dropout",
            format!("dropout probability has to be between 0 and 1, but got {p}"),
        ));
    }
    if !training {
        return Ok(x.clone());
    }
    match generator {
        Some(g) => crate::dropout::dropout(x, p, g),
        None => with_global_generator(|g| crate::dropout::dropout(x, p, g)),
    }
}

/// Smooth L1 loss (`F.smooth_l1_loss`): `0.5 d² / beta` where
/// `|d| < beta`, `|d| - 0.5 beta` elsewhere, `d = input - target`; the
/// same as [`SmoothL1Loss`](crate::SmoothL1Loss). Fails for a negative
/// `beta`.
pub fn smooth_l1_loss(
    input: &Variable,
    target: &Variable,
    reduction: Reduction,
    beta: f64,
) -> Result<Variable> {
    crate::SmoothL1Loss::new()
        .reduction(reduction)
        .beta(beta)?
        .forward(input, target)
}

/// Huber loss (`F.huber_loss`): `0.5 d²` where `|d| < delta`,
/// `delta (|d| - 0.5 delta)` elsewhere; the same as
/// [`HuberLoss`](crate::HuberLoss). Fails unless `delta > 0`.
pub fn huber_loss(
    input: &Variable,
    target: &Variable,
    reduction: Reduction,
    delta: f64,
) -> Result<Variable> {
    crate::HuberLoss::new()
        .reduction(reduction)
        .delta(delta)?
        .forward(input, target)
}

/// Kullback–Leibler divergence (`F.kl_div(input, target, reduction,
/// log_target)`): `input` holds log-probabilities, `target` probabilities
/// (or log-probabilities with `log_target`); the same as
/// [`KLDivLoss`](crate::KLDivLoss).
pub fn kl_div(
    input: &Variable,
    target: &Variable,
    reduction: KLDivReduction,
    log_target: bool,
) -> Result<Variable> {
    crate::loss::kl_div(input, target, reduction, log_target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::vals;
    use crate::{GroupNorm, HuberLoss, KLDivLoss, LayerNorm, Module, SmoothL1Loss, GELU};

    fn var(x: &[f64], shape: &[usize]) -> Variable {
        Variable::parameter(Tensor::from_slice(x, shape).unwrap())
    }

    #[test]
    fn matches_modules() {
        let x = var(&[0.1, -2.0, 1.7, 0.4, -0.3, 3.0, 0.2, 0.9], &[2, 4]);
        let y = var(&[0.3, 0.5, 1.2, -0.2, -0.1, 0.9, 0.0, 1.0], &[2, 4]);
        let r = Reduction::Mean;
        assert_eq!(
            vals(&smooth_l1_loss(&x, &y, r, 0.5).unwrap()),
            vals(
                &SmoothL1Loss::new()
                    .reduction(r)
                    .beta(0.5)
                    .unwrap()
                    .forward(&x, &y)
                    .unwrap()
            )
        );
        assert_eq!(
            vals(&huber_loss(&x, &y, r, 0.5).unwrap()),
            vals(
                &HuberLoss::new()
                    .reduction(r)
                    .delta(0.5)
                    .unwrap()
                    .forward(&x, &y)
                    .unwrap()
            )
        );
        assert!(huber_loss(&x, &y, r, 0.0).is_err());
        let lp = x.log_softmax(1).unwrap();
        let p = y.softmax(1).unwrap();
        let kr = KLDivReduction::BatchMean;
        assert_eq!(
            vals(&kl_div(&lp, &p, kr, false).unwrap()),
            vals(&KLDivLoss::new().reduction(kr).forward(&lp, &p).unwrap())
        );
        let g = GroupNorm::new(2, 4).unwrap();
        let x3 = x.reshape(&[1, 4, 2]).unwrap();
        assert_eq!(
            vals(&group_norm(&x3, 2, g.weight(), g.bias(), 1e-5).unwrap()),
            vals(&g.forward(&x3).unwrap())
        );
        assert!(group_norm(&x3, 3, None, None, 1e-5).is_err());
        let ln = LayerNorm::new(&[4]).unwrap();
        assert_eq!(
            vals(&layer_norm(&x, &[4], ln.weight(), ln.bias(), 1e-5).unwrap()),
            vals(&ln.forward(&x).unwrap())
        );
        assert_eq!(vals(&gelu(&x)), vals(&GELU.forward(&x).unwrap()));
        assert_eq!(vals(&relu(&x))[1], 0.0);
        assert_eq!(vals(&leaky_relu(&x, 0.1))[1], -0.2);
        let s = vals(&softmax(&x, 1).unwrap());
        assert!((s[..4].iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // Re-exported from the autograd crate.
        let w = var(&[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0], &[2, 4]);
        assert_eq!(vals(&linear(&x, &w, None).unwrap()), [0.1, -2.0, -0.3, 3.0]);
        assert!(mse_loss(&x, &y, Reduction::Sum).is_ok());
    }

    #[test]
    fn dropout_modes() {
        let x = Variable::constant(Tensor::ones(&[1000]));
        assert_eq!(vals(&dropout(&x, 0.5, false, None).unwrap()), vals(&x));
        assert!(dropout(&x, 1.5, true, None).is_err());
        let mut g1 = Generator::new(7);
        let mut g2 = Generator::new(7);
        let a = vals(&dropout(&x, 0.3, true, Some(&mut g1)).unwrap());
        let b = vals(&dropout(&x, 0.3, true, Some(&mut g2)).unwrap());
        assert_eq!(a, b);
        let kept = a.iter().filter(|&&v| v != 0.0).count();
        assert!((600..800).contains(&kept), "{kept}");
        for v in a.iter().filter(|&&v| v != 0.0) {
            assert!((v - 1.0 / 0.7).abs() < 1e-6);
        }
        assert!(vals(&dropout(&x, 1.0, true, None).unwrap())
            .iter()
            .all(|&v| v == 0.0));
    }

    #[test]
    fn conv_and_pool_shapes() {
        let x = Variable::parameter(Tensor::rand(&[2, 3, 8, 8]));
        let w = Variable::parameter(Tensor::rand(&[4, 3, 3, 3]));
        let y = conv2d(&x, &w, None, [1, 1], [1, 1], [1, 1], 1).unwrap();
        assert_eq!(y.shape(), [2, 4, 8, 8]);
        assert_eq!(
            max_pool2d(&y, [2, 2], [2, 2], [0, 0]).unwrap().shape(),
            [2, 4, 4, 4]
        );
        assert_eq!(
            avg_pool2d(&y, [2, 2], [2, 2], [0, 0]).unwrap().shape(),
            [2, 4, 4, 4]
        );
        assert_eq!(
            adaptive_avg_pool2d(&y, [1, 1]).unwrap().shape(),
            [2, 4, 1, 1]
        );
        let wt = Variable::parameter(Tensor::rand(&[4, 2, 2, 2]));
        let up = conv_transpose2d(&y, &wt, None, [2, 2], [0, 0], [0, 0], [1, 1], 1).unwrap();
        assert_eq!(up.shape(), [2, 2, 16, 16]);
        let x1 = Variable::parameter(Tensor::rand(&[2, 3, 10]));
        let w1 = Variable::parameter(Tensor::rand(&[5, 3, 3]));
        assert_eq!(
            conv1d(&x1, &w1, None, 2, 0, 1, 1).unwrap().shape(),
            [2, 5, 4]
        );
        let rm = Tensor::zeros(&[4]);
        let rv = Tensor::ones(&[4]);
        let bn = batch_norm(&y, Some(&rm), Some(&rv), None, None, false, 1e-5).unwrap();
        assert_eq!(bn.shape(), y.shape());
    }
}
