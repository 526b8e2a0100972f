//! Gradient clipping (`torch.nn.utils.clip_grad_norm_`, `clip_grad_value_`).

use torchlet_autograd::{Gradient, SparseGrad, Variable};
use torchlet_sparse::SparseTensor;
use torchlet_tensor::{DType, Tensor};

use crate::error::{check, OptimError, Result};

/// Scales the gradients of `params` so that their joint `norm_type`-norm
/// is at most `max_norm`, and returns the norm before clipping
/// (`torch.nn.utils.clip_grad_norm_`). `norm_type` is any `p > 0` or
/// `f64::INFINITY` (the largest absolute value). As in PyTorch, every
/// gradient is multiplied by `max_norm / (total_norm + 1e-6)` when that is
/// below 1. Parameters without a gradient are ignored. A sparse gradient
/// (from `Embedding` with `sparse = true`) counts by its coalesced values
/// and stays sparse.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::clip_grad_norm_;
/// use torchlet_tensor::Tensor;
/// let w = Variable::parameter(Tensor::zeros(&[2]));
/// w.set_grad(Some(Tensor::from_vec(vec![3.0f32, 4.0], &[2]).unwrap()));
/// let total = clip_grad_norm_(std::slice::from_ref(&w), 1.0, 2.0).unwrap();
/// assert!((total - 5.0).abs() < 1e-6);
/// let g = w.grad().unwrap().to_vec::<f32>().unwrap();
/// assert!((g[0] - 0.6).abs() < 1e-5 && (g[1] - 0.8).abs() < 1e-5);
/// ```
pub fn clip_grad_norm_(params: &[Variable], max_norm: f64, norm_type: f64) -> Result<f64> {
    check(
        norm_type > 0.0,
        "clip_grad_norm_",
        "norm_type",
        norm_type,
        "must be > 0 or infinity",
    )?;
    // A sparse gradient counts by its coalesced values (PyTorch's norm of
    // a sparse tensor) and is scaled as it is stored.
    let grads: Vec<_> = params
        .iter()
        .filter_map(|p| match p.gradient()? {
            Gradient::Dense(g) => Some(Ok((p, g.data(), None))),
            Gradient::Sparse(s) => Some(coalesced_values(&s).map(|v| (p, v, Some(s)))),
        })
        .collect::<Result<_>>()?;
    if grads.is_empty() {
        return Ok(0.0);
    }
    let mut total = 0.0f64;
    for (_, g, _) in &grads {
        let values = g.to_dtype(DType::F64).to_vec::<f64>()?;
        if norm_type.is_infinite() {
            for v in values {
                total = total.max(v.abs());
            }
        } else {
            total += values.iter().map(|v| v.abs().powf(norm_type)).sum::<f64>();
        }
    }
    if !norm_type.is_infinite() {
        total = total.powf(1.0 / norm_type);
    }
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        for (p, g, sparse) in grads {
            match sparse {
                Some(s) => p.set_sparse_grad(s.scaled(coef)),
                None => p.set_grad(Some(g.mul_scalar(coef))),
            }
        }
    }
    Ok(total)
}

/// A sparse gradient's values after coalescing (repeats summed).
fn coalesced_values(g: &SparseGrad) -> Result<Tensor> {
    let s = SparseTensor::from_grad(g)
        .and_then(|s| s.coalesce())
        .map_err(|e| OptimError::Autograd(e.into()))?;
    Ok(s.values().data())
}

/// Clamps every gradient of `params` into `[-clip_value, clip_value]`
/// (`torch.nn.utils.clip_grad_value_`). A sparse gradient is refused, as
/// PyTorch refuses it.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::clip_grad_value_;
/// use torchlet_tensor::Tensor;
/// let w = Variable::parameter(Tensor::zeros(&[3]));
/// w.set_grad(Some(Tensor::from_vec(vec![-3.0f32, 0.5, 4.0], &[3]).unwrap()));
/// clip_grad_value_(std::slice::from_ref(&w), 1.0).unwrap();
/// assert_eq!(w.grad().unwrap().to_vec::<f32>().unwrap(), vec![-1.0, 0.5, 1.0]);
/// ```
pub fn clip_grad_value_(params: &[Variable], clip_value: f64) -> Result<()> {
    check(
        clip_value >= 0.0,
        "clip_grad_value_",
        "clip_value",
        clip_value,
        "must be >= 0",
    )?;
    for p in params {
        match p.gradient() {
            Some(Gradient::Sparse(_)) => {
                // PyTorch's clamp has no sparse kernel.
                return Err(OptimError::Usage {
                    what: "clip_grad_value_",
                    message: "sparse gradients are not supported (PyTorch's clamp_min_ has no sparse kernel)".into(),
                });
            }
            Some(Gradient::Dense(g)) => p.set_grad(Some(g.data().clamp(-clip_value, clip_value))),
            None => {}
        }
    }
    Ok(())
}
