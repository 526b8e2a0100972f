//! Normalization layers that use no running statistics
//! (`torch.nn.modules.normalization`): [`LayerNorm`] and [`GroupNorm`].

use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

use crate::error::{NnError, Result};
use crate::module::Module;

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
    use crate::testing::{close, vals};
    use torchlet_tensor::DType;

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
        y.sum().backward().unwrap();
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
            |v: &[Variable]| Ok(gn.forward(&v[0]).unwrap().mul(&v[1])?.sum()),
            &[x, w],
        )
        .unwrap();
    }
}
