//! [`BatchNorm1d`], [`LayerNorm`] and [`GroupNorm`].

use std::sync::atomic::{AtomicBool, Ordering};

use torchlet_autograd::{no_grad, Variable};
use torchlet_tensor::{DType, Tensor};

use crate::error::{NnError, Result};
use crate::module::Module;
use crate::norm::update_running_stats;

/// Batch normalization over the channels of `[N, C]` or `[N, C, L]`
/// (`torch.nn.BatchNorm1d`, `momentum = 0.1`, `eps = 1e-5`, affine,
/// tracking running statistics), with the same rules as
/// [`BatchNorm2d`](crate::BatchNorm2d): in training mode the batch's mean
/// and biased variance normalize the input and the running statistics
/// become `(1 - momentum) · running + momentum · batch` (unbiased variance
/// for `running_var`); in evaluation mode the running statistics are used.
pub struct BatchNorm1d {
    num_features: usize,
    eps: f64,
    momentum: f64,
    weight: Variable,
    bias: Variable,
    running_mean: Variable,
    running_var: Variable,
    num_batches_tracked: Variable,
    training: AtomicBool,
}

impl BatchNorm1d {
    /// `BatchNorm1d(num_features)`: weight ones, bias zeros, running mean
    /// zeros, running variance ones, in training mode.
    pub fn new(num_features: usize) -> Result<BatchNorm1d> {
        BatchNorm1d::with_options(num_features, 1e-5, 0.1)
    }

    /// With explicit `eps` and `momentum`.
    pub fn with_options(num_features: usize, eps: f64, momentum: f64) -> Result<BatchNorm1d> {
        if num_features == 0 {
            return Err(NnError::config(
                "BatchNorm1d",
                "num_features must be positive, got 0",
            ));
        }
        let c = [num_features];
        Ok(BatchNorm1d {
            num_features,
            eps,
            momentum,
            weight: Variable::parameter(Tensor::ones(&c)),
            bias: Variable::parameter(Tensor::zeros(&c)),
            running_mean: Variable::constant(Tensor::zeros(&c)),
            running_var: Variable::constant(Tensor::ones(&c)),
            num_batches_tracked: Variable::constant(Tensor::zeros_dtype(&[], DType::I64)),
            training: AtomicBool::new(true),
        })
    }

    /// The number of channels `C`.
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// The scale `γ`, `[C]`.
    pub fn weight(&self) -> &Variable {
        &self.weight
    }

    /// The shift `β`, `[C]`.
    pub fn bias(&self) -> &Variable {
        &self.bias
    }

    /// The running mean, `[C]`.
    pub fn running_mean(&self) -> Tensor {
        self.running_mean.data()
    }

    /// The running (unbiased) variance, `[C]`.
    pub fn running_var(&self) -> Tensor {
        self.running_var.data()
    }

    /// How many training batches updated the running statistics.
    pub fn num_batches_tracked(&self) -> i64 {
        self.num_batches_tracked.item::<i64>().unwrap_or(0)
    }

    fn update_running_stats(&self, x: &Tensor) -> Result<()> {
        update_running_stats(
            "BatchNorm1d",
            x,
            self.momentum,
            [
                &self.running_mean,
                &self.running_var,
                &self.num_batches_tracked,
            ],
        )
    }
}

impl Module for BatchNorm1d {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let shape = x.shape();
        if shape.len() != 2 && shape.len() != 3 {
            return Err(NnError::input(
                "BatchNorm1d",
                format!(
                    "expected a 2-d [N, C] or 3-d [N, C, L] input, got a {}-d input of shape {shape:?}",
                    shape.len()
                ),
            ));
        }
        if shape[1] != self.num_features {
            return Err(NnError::input(
                "BatchNorm1d",
                format!(
                    "expected {} channels, got {} (input shape {shape:?})",
                    self.num_features, shape[1]
                ),
            ));
        }
        let training = self.is_training();
        if training {
            no_grad(|| self.update_running_stats(&x.data()))?;
        }
        let (rm, rv) = (self.running_mean.data(), self.running_var.data());
        Ok(x.batch_norm(
            Some(&rm),
            Some(&rv),
            Some(&self.weight),
            Some(&self.bias),
            training,
            self.eps,
        )?)
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        vec![("weight", self.weight.clone()), ("bias", self.bias.clone())]
    }

    fn local_buffers(&self) -> Vec<(&str, Variable)> {
        vec![
            ("running_mean", self.running_mean.clone()),
            ("running_var", self.running_var.clone()),
            ("num_batches_tracked", self.num_batches_tracked.clone()),
        ]
    }

    fn set_local_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }
}

/// Layer normalization over the trailing `normalized_shape` dims
/// (`torch.nn.LayerNorm`, `eps = 1e-5`): with `elementwise_affine`, a
/// `weight` (ones) and `bias` (zeros) of shape `normalized_shape`.
pub struct LayerNorm {
    normalized_shape: Vec<usize>,
    eps: f64,
    weight: Option<Variable>,
    bias: Option<Variable>,
}

impl LayerNorm {
    /// `LayerNorm(normalized_shape)` with an elementwise affine.
    pub fn new(normalized_shape: &[usize]) -> Result<LayerNorm> {
        LayerNorm::with_options(normalized_shape, 1e-5, true)
    }

    /// `LayerNorm(normalized_shape, eps, elementwise_affine)`.
    pub fn with_options(
        normalized_shape: &[usize],
        eps: f64,
        elementwise_affine: bool,
    ) -> Result<LayerNorm> {
        if normalized_shape.is_empty() || normalized_shape.contains(&0) {
            return Err(NnError::config(
                "LayerNorm",
                format!(
                    "normalized_shape must be non-empty and positive, got {normalized_shape:?}"
                ),
            ));
        }
        let (weight, bias) = if elementwise_affine {
            (
                Some(Variable::parameter(Tensor::ones(normalized_shape))),
                Some(Variable::parameter(Tensor::zeros(normalized_shape))),
            )
        } else {
            (None, None)
        };
        Ok(LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            eps,
            weight,
            bias,
        })
    }

    /// The normalized trailing shape.
    pub fn normalized_shape(&self) -> &[usize] {
        &self.normalized_shape
    }

    /// The elementwise scale, if affine.
    pub fn weight(&self) -> Option<&Variable> {
        self.weight.as_ref()
    }

    /// The elementwise shift, if affine.
    pub fn bias(&self) -> Option<&Variable> {
        self.bias.as_ref()
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let shape = x.shape();
        let k = self.normalized_shape.len();
        if shape.len() < k || shape[shape.len() - k..] != self.normalized_shape[..] {
            return Err(NnError::input(
                "LayerNorm",
                format!(
                    "expected an input whose trailing dims are {:?}, got shape {shape:?}",
                    self.normalized_shape
                ),
            ));
        }
        Ok(x.layer_norm(
            &self.normalized_shape,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )?)
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        let mut out: Vec<(&str, Variable)> =
            self.weight.iter().map(|w| ("weight", w.clone())).collect();
        out.extend(self.bias.iter().map(|b| ("bias", b.clone())));
        out
    }
}

/// Group normalization (`torch.nn.GroupNorm`, `eps = 1e-5`): the channels
/// of `[N, C, *]` are split into `num_groups` groups, each normalized by
/// its own mean and biased variance, then scaled and shifted per channel by
/// `weight` (ones) and `bias` (zeros) when `affine`.
pub struct GroupNorm {
    num_groups: usize,
    num_channels: usize,
    eps: f64,
    weight: Option<Variable>,
    bias: Option<Variable>,
}

impl GroupNorm {
    /// `GroupNorm(num_groups, num_channels)` with an affine.
    pub fn new(num_groups: usize, num_channels: usize) -> Result<GroupNorm> {
        GroupNorm::with_options(num_groups, num_channels, 1e-5, true)
    }

    /// `GroupNorm(num_groups, num_channels, eps, affine)`.
    pub fn with_options(
        num_groups: usize,
        num_channels: usize,
        eps: f64,
        affine: bool,
    ) -> Result<GroupNorm> {
        if num_groups == 0 || num_channels == 0 || !num_channels.is_multiple_of(num_groups) {
            return Err(NnError::config(
                "GroupNorm",
                format!(
                    "num_channels ({num_channels}) must be positive and divisible by num_groups ({num_groups})"
                ),
            ));
        }
        let c = [num_channels];
        let (weight, bias) = if affine {
            (
                Some(Variable::parameter(Tensor::ones(&c))),
                Some(Variable::parameter(Tensor::zeros(&c))),
            )
        } else {
            (None, None)
        };
        Ok(GroupNorm {
            num_groups,
            num_channels,
            eps,
            weight,
            bias,
        })
    }

    /// The number of groups.
    pub fn num_groups(&self) -> usize {
        self.num_groups
    }

    /// The number of channels `C`.
    pub fn num_channels(&self) -> usize {
        self.num_channels
    }

    /// The per-channel scale, `[C]`, if affine.
    pub fn weight(&self) -> Option<&Variable> {
        self.weight.as_ref()
    }

    /// The per-channel shift, `[C]`, if affine.
    pub fn bias(&self) -> Option<&Variable> {
        self.bias.as_ref()
    }
}

impl Module for GroupNorm {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let shape = x.shape();
        if shape.len() < 2 || shape[1] != self.num_channels {
            return Err(NnError::input(
                "GroupNorm",
                format!(
                    "expected an [N, {}, *] input, got shape {shape:?}",
                    self.num_channels
                ),
            ));
        }
        group_norm(
            x,
            self.num_groups,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        let mut out: Vec<(&str, Variable)> =
            self.weight.iter().map(|w| ("weight", w.clone())).collect();
        out.extend(self.bias.iter().map(|b| ("bias", b.clone())));
        out
    }
}

/// Group normalization of an `[N, C, *]` input whose `C` divides by
/// `num_groups` (checked by the callers), with optional per-channel
/// `weight` and `bias` of shape `[C]`.
pub(crate) fn group_norm(
    x: &Variable,
    num_groups: usize,
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    eps: f64,
) -> Result<Variable> {
    let shape = x.shape();
    let n = shape[0] as i64;
    let grouped = x.reshape(&[n, num_groups as i64, -1])?;
    let mean = grouped.mean_keepdim(2)?;
    let centered = grouped.sub(&mean)?;
    let var = centered.square().mean_keepdim(2)?;
    let normed = centered.mul(&var.add_scalar(eps).rsqrt())?;
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let mut y = normed.reshape(&dims)?;
    let mut view = vec![1i64; shape.len()];
    view[1] = shape[1] as i64;
    if let Some(w) = weight {
        y = y.mul(&w.reshape(&view)?)?;
    }
    if let Some(b) = bias {
        y = y.add(&b.reshape(&view)?)?;
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(v: &Variable) -> Vec<f64> {
        v.data().to_dtype(DType::F64).to_vec::<f64>().unwrap()
    }

    fn close(a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < tol, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn batch_norm_1d() {
        let bn = BatchNorm1d::new(2).unwrap();
        // Channel 0: 1, 3 (mean 2, biased var 1, unbiased 2); channel 1: 0, 0.
        let x = Variable::constant(Tensor::from_slice(&[1.0f32, 0.0, 3.0, 0.0], &[2, 2]).unwrap());
        let y = bn.forward(&x).unwrap();
        let s = 1.0 / (1.0 + 1e-5f64).sqrt();
        close(&vals(&y), &[-s, 0.0, s, 0.0], 1e-5);
        close(
            &vals(&Variable::constant(bn.running_mean())),
            &[0.2, 0.0],
            1e-6,
        );
        close(
            &vals(&Variable::constant(bn.running_var())),
            &[0.9 + 0.2, 0.9],
            1e-6,
        );
        assert_eq!(bn.num_batches_tracked(), 1);

        // [N, C, L]: stats over N and L.
        let x3 =
            Variable::constant(Tensor::from_slice(&[1.0f32, 3.0, 5.0, 5.0], &[1, 2, 2]).unwrap());
        let y3 = bn.forward(&x3).unwrap();
        close(&vals(&y3), &[-s, s, 0.0, 0.0], 1e-5);
        bn.eval();
        let ye = bn.forward(&x).unwrap();
        let rm = vals(&Variable::constant(bn.running_mean()));
        let rv = vals(&Variable::constant(bn.running_var()));
        let want = (1.0 - rm[0]) / (rv[0] + 1e-5).sqrt();
        assert!((vals(&ye)[0] - want).abs() < 1e-5);
        let keys: Vec<String> = bn.state_dict().into_keys().collect();
        assert_eq!(
            keys,
            [
                "bias",
                "num_batches_tracked",
                "running_mean",
                "running_var",
                "weight"
            ]
        );
        assert!(bn
            .forward(&Variable::constant(Tensor::zeros(&[2, 3])))
            .is_err());
        assert!(bn
            .forward(&Variable::constant(Tensor::zeros(&[2, 2, 2, 2])))
            .is_err());
    }

    #[test]
    fn layer_norm() {
        let ln = LayerNorm::new(&[2]).unwrap();
        assert_eq!(ln.parameters().len(), 2);
        ln.weight()
            .unwrap()
            .set_data(Tensor::from_slice(&[2.0f32, 1.0], &[2]).unwrap())
            .unwrap();
        ln.bias()
            .unwrap()
            .set_data(Tensor::from_slice(&[0.0f32, 1.0], &[2]).unwrap())
            .unwrap();
        let x = Variable::constant(Tensor::from_slice(&[1.0f32, 3.0, 0.0, 0.0], &[2, 2]).unwrap());
        let s = 1.0 / (1.0 + 1e-5f64).sqrt();
        close(
            &vals(&ln.forward(&x).unwrap()),
            &[-2.0 * s, 1.0 + s, 0.0, 1.0],
            1e-5,
        );
        let plain = LayerNorm::with_options(&[2, 2], 1e-5, false).unwrap();
        assert!(plain.parameters().is_empty());
        let y = plain.forward(&x).unwrap();
        let sd = (1.5f64 + 1e-5).sqrt();
        close(&vals(&y), &[0.0, 2.0 / sd, -1.0 / sd, -1.0 / sd], 1e-5);
        assert!(ln
            .forward(&Variable::constant(Tensor::zeros(&[2, 3])))
            .is_err());
    }

    #[test]
    fn group_norm() {
        let gn = GroupNorm::new(2, 4).unwrap();
        let names: Vec<String> = gn.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
        // One sample, 4 channels of length 1: groups {1, 3} and {10, 10}.
        let x = Variable::parameter(
            Tensor::from_slice(&[1.0f32, 3.0, 10.0, 10.0], &[1, 4, 1]).unwrap(),
        );
        gn.bias()
            .unwrap()
            .set_data(Tensor::from_slice(&[0.0f32, 0.0, 0.5, 0.0], &[4]).unwrap())
            .unwrap();
        let y = gn.forward(&x).unwrap();
        assert_eq!(y.shape(), [1, 4, 1]);
        let s = 1.0 / (1.0 + 1e-5f64).sqrt();
        close(&vals(&y), &[-s, s, 0.5, 0.0], 1e-5);
        y.sum().unwrap().backward().unwrap();
        assert!(gn.weight().unwrap().grad().is_some() && x.grad().is_some());

        // Matches LayerNorm over [C/G, L] per group when there is one group.
        let one = GroupNorm::with_options(1, 2, 1e-5, false).unwrap();
        let x = Variable::constant(Tensor::randn(&[3, 2, 5]));
        let ln = LayerNorm::with_options(&[2, 5], 1e-5, false).unwrap();
        close(
            &vals(&one.forward(&x).unwrap()),
            &vals(&ln.forward(&x).unwrap()),
            1e-4,
        );
        assert!(GroupNorm::new(3, 4).is_err());
        assert!(gn
            .forward(&Variable::constant(Tensor::zeros(&[1, 3, 2])))
            .is_err());
    }

    #[test]
    fn group_norm_gradcheck() {
        let gn = GroupNorm::with_options(2, 4, 1e-5, false).unwrap();
        let x = Tensor::randn(&[2, 4, 3]).to_dtype(DType::F64);
        let w = Tensor::randn(&[2, 4, 3]).to_dtype(DType::F64);
        torchlet_autograd::gradcheck(
            |v: &[Variable]| gn.forward(&v[0]).unwrap().mul(&v[1])?.sum(),
            &[x, w],
        )
        .unwrap();
    }
}
