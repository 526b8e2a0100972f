//! Batch normalization (`torch.nn.modules.batchnorm`): [`BatchNorm1d`]
//! and [`BatchNorm2d`]. Both are a private `BatchNormCore` (PyTorch's
//! `_BatchNorm`) that differs only in the input ranks it accepts;
//! `batch_norm_module!` writes their constructors, accessors and
//! [`Module`] impl.

use std::sync::atomic::{AtomicBool, Ordering};

use torchlet_autograd::{no_grad, Variable};
use torchlet_tensor::{DType, Tensor};

use crate::error::{NnError, Result};
use crate::module::Module;

/// What every batch norm is (PyTorch's `_BatchNorm`, with `affine` and
/// `track_running_stats` always on): the affine `weight` and `bias`, the
/// running statistics (buffers), `eps`, `momentum` and the training flag.
struct BatchNormCore {
    /// The module's name in errors (`"BatchNorm2d"`).
    module: &'static str,
    /// The input ranks it accepts, and how its errors describe them
    /// (`"a 4-d [N, C, H, W]"`).
    ranks: &'static [usize],
    layout: &'static str,
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

impl BatchNormCore {
    /// Weight ones, bias zeros, running mean zeros, running variance ones,
    /// no batch tracked, in training mode.
    fn new(
        module: &'static str,
        (ranks, layout): (&'static [usize], &'static str),
        num_features: usize,
        eps: f64,
        momentum: f64,
    ) -> Result<BatchNormCore> {
        if num_features == 0 {
            return Err(NnError::config(
                module,
                "num_features must be positive, got 0",
            ));
        }
        let c = [num_features];
        Ok(BatchNormCore {
            module,
            ranks,
            layout,
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

    fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }

    fn forward(&self, x: &Variable) -> Result<Variable> {
        let shape = x.shape();
        if !self.ranks.contains(&shape.len()) {
            return Err(NnError::input(
                self.module,
                format!(
                    "expected {} input, got a {}-d input of shape {shape:?}",
                    self.layout,
                    shape.len()
                ),
            ));
        }
        if shape[1] != self.num_features {
            return Err(NnError::input(
                self.module,
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

    /// PyTorch's update after a training batch: `running = (1 - momentum)
    /// · running + momentum · batch` with the unbiased batch variance, and
    /// one more tracked batch.
    fn update_running_stats(&self, x: &Tensor) -> Result<()> {
        let batch = x.batch_norm_stats()?;
        if batch.count <= 1 {
            return Err(NnError::input(
                self.module,
                format!(
                    "expected more than 1 value per channel when training, got input shape {:?}",
                    x.shape()
                ),
            ));
        }
        let m = self.momentum;
        let n = batch.count as f64;
        let mean = self.running_mean.data();
        let var = self.running_var.data();
        let new_mean = mean
            .mul_scalar(1.0 - m)
            .add(&batch.mean.to_dtype(mean.dtype()).mul_scalar(m))?;
        let new_var = var.mul_scalar(1.0 - m).add(
            &batch
                .var
                .to_dtype(var.dtype())
                .mul_scalar(m * n / (n - 1.0)),
        )?;
        let count = self.num_batches_tracked.data().add_scalar(1.0);
        self.running_mean.set_data(new_mean)?;
        self.running_var.set_data(new_var)?;
        self.num_batches_tracked.set_data(count)?;
        Ok(())
    }
}

/// The constructors, accessors and [`Module`] impl of a batch norm
/// `$t { core: BatchNormCore }` that accepts the inputs `$input` (ranks and
/// their description in errors).
macro_rules! batch_norm_module {
    ($t:ident, $input:expr) => {
        impl $t {
            #[doc = concat!("`", stringify!($t), "(num_features)`: weight ones, bias zeros, running mean")]
            /// zeros, running variance ones, in training mode.
            pub fn new(num_features: usize) -> Result<$t> {
                $t::with_options(num_features, 1e-5, 0.1)
            }

            /// With explicit `eps` (added to the variance) and `momentum`
            /// (weight of the new batch in the running statistics).
            pub fn with_options(num_features: usize, eps: f64, momentum: f64) -> Result<$t> {
                let core = BatchNormCore::new(stringify!($t), $input, num_features, eps, momentum)?;
                Ok($t { core })
            }

            /// The number of channels `C`.
            pub fn num_features(&self) -> usize {
                self.core.num_features
            }

            /// The scale `γ`, `[C]`.
            pub fn weight(&self) -> &Variable {
                &self.core.weight
            }

            /// The shift `β`, `[C]`.
            pub fn bias(&self) -> &Variable {
                &self.core.bias
            }

            /// The running mean, `[C]`.
            pub fn running_mean(&self) -> Tensor {
                self.core.running_mean.data()
            }

            /// The running (unbiased) variance, `[C]`.
            pub fn running_var(&self) -> Tensor {
                self.core.running_var.data()
            }

            /// How many training batches updated the running statistics.
            pub fn num_batches_tracked(&self) -> i64 {
                self.core.num_batches_tracked.item::<i64>().unwrap_or(0)
            }
        }

        impl Module for $t {
            fn forward(&self, x: &Variable) -> Result<Variable> {
                self.core.forward(x)
            }

            fn local_parameters(&self) -> Vec<(&str, Variable)> {
                let c = &self.core;
                vec![("weight", c.weight.clone()), ("bias", c.bias.clone())]
            }

            fn local_buffers(&self) -> Vec<(&str, Variable)> {
                let c = &self.core;
                vec![
                    ("running_mean", c.running_mean.clone()),
                    ("running_var", c.running_var.clone()),
                    ("num_batches_tracked", c.num_batches_tracked.clone()),
                ]
            }

            fn set_local_training(&self, training: bool) {
                self.core.training.store(training, Ordering::Relaxed);
            }

            fn is_training(&self) -> bool {
                self.core.is_training()
            }
        }
    };
}

/// Batch normalization over the channels of `[N, C]` or `[N, C, L]`
/// (`torch.nn.BatchNorm1d`, `momentum = 0.1`, `eps = 1e-5`, affine,
/// tracking running statistics), with the same rules as [`BatchNorm2d`]:
/// in training mode the batch's mean and biased variance normalize the
/// input and the running statistics become `(1 - momentum) · running +
/// momentum · batch` (unbiased variance for `running_var`); in evaluation
/// mode the running statistics are used.
pub struct BatchNorm1d {
    core: BatchNormCore,
}

batch_norm_module!(BatchNorm1d, (&[2, 3], "a 2-d [N, C] or 3-d [N, C, L]"));

/// Batch normalization over the channels of `[N, C, H, W]`
/// (`torch.nn.BatchNorm2d`, `momentum = 0.1`, `eps = 1e-5`, affine, tracking
/// running statistics).
///
/// In training mode the batch's mean and biased variance normalize the
/// input, and the running statistics are updated as PyTorch does:
/// `running = (1 - momentum) · running + momentum · batch`, with the
/// *unbiased* batch variance for `running_var`; `num_batches_tracked`
/// (int64) counts the updates. In evaluation mode the running statistics
/// are used.
pub struct BatchNorm2d {
    core: BatchNormCore,
}

batch_norm_module!(BatchNorm2d, (&[4], "a 4-d [N, C, H, W]"));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{close, vals};

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
}
