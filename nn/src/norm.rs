//! Batch normalization.

use std::sync::atomic::{AtomicBool, Ordering};

use torchlet_autograd::{no_grad, Variable};
use torchlet_tensor::{DType, Tensor};

use crate::error::{NnError, Result};
use crate::module::Module;

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

impl BatchNorm2d {
    /// `BatchNorm2d(num_features)`: weight ones, bias zeros, running mean
    /// zeros, running variance ones, in training mode.
    pub fn new(num_features: usize) -> Result<BatchNorm2d> {
        BatchNorm2d::with_options(num_features, 1e-5, 0.1)
    }

    /// With explicit `eps` (added to the variance) and `momentum` (weight
    /// of the new batch in the running statistics).
    pub fn with_options(num_features: usize, eps: f64, momentum: f64) -> Result<BatchNorm2d> {
        if num_features == 0 {
            return Err(NnError::config(
                "BatchNorm2d",
                "num_features must be positive, got 0",
            ));
        }
        let c = [num_features];
        Ok(BatchNorm2d {
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
            "BatchNorm2d",
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

impl Module for BatchNorm2d {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let shape = x.shape();
        if shape.len() != 4 {
            return Err(NnError::input(
                "BatchNorm2d",
                format!(
                    "expected a 4-d [N, C, H, W] input, got a {}-d input of shape {shape:?}",
                    shape.len()
                ),
            ));
        }
        if shape[1] != self.num_features {
            return Err(NnError::input(
                "BatchNorm2d",
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

/// PyTorch's running-statistics update after a training batch, shared by
/// the batch-norm modules: `running = (1 - momentum) · running + momentum ·
/// batch` with the unbiased batch variance, and one more tracked batch.
/// `stats` are `[running_mean, running_var, num_batches_tracked]`.
pub(crate) fn update_running_stats(
    module: &'static str,
    x: &Tensor,
    momentum: f64,
    stats: [&Variable; 3],
) -> Result<()> {
    let [running_mean, running_var, tracked] = stats;
    let batch = x.batch_norm_stats()?;
    if batch.count <= 1 {
        return Err(NnError::input(
            module,
            format!(
                "expected more than 1 value per channel when training, got input shape {:?}",
                x.shape()
            ),
        ));
    }
    let m = momentum;
    let n = batch.count as f64;
    let mean = running_mean.data();
    let var = running_var.data();
    let new_mean = mean
        .mul_scalar(1.0 - m)
        .add(&batch.mean.to_dtype(mean.dtype()).mul_scalar(m))?;
    let new_var = var.mul_scalar(1.0 - m).add(
        &batch
            .var
            .to_dtype(var.dtype())
            .mul_scalar(m * n / (n - 1.0)),
    )?;
    let count = tracked.data().add_scalar(1.0);
    running_mean.set_data(new_mean)?;
    running_var.set_data(new_var)?;
    tracked.set_data(count)?;
    Ok(())
}
