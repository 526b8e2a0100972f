//! Reference implementations of the losses on plain tensors, for tests
//! only: an independent second writing of `nll_loss`, `cross_entropy`,
//! `mse_loss` and `l1_loss` (composed from tensor ops, with no autograd),
//! that the differentiable versions in `functional.rs` are checked against
//! on inputs the conformance cases do not cover (weights, label smoothing,
//! probability targets, `[N, C, d]` and `[C]` inputs).

use torchlet_tensor::functional::Reduction;
use torchlet_tensor::{DType, Result, Tensor, TensorError};

fn dims(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&n| n as i64).collect()
}

fn reduce(loss: Tensor, reduction: Reduction) -> Tensor {
    match reduction {
        Reduction::None => loss,
        Reduction::Mean => loss.mean(),
        Reduction::Sum => loss.sum(),
    }
}

/// Moves the class dim (1) last and flattens: `[N, C, d...]` → `[N*d..., C]`,
/// `[C]` → `[1, C]`.
fn classes_last(input: &Tensor) -> Result<Tensor> {
    match input.dim() {
        0 => Err(TensorError::invalid(
            "cross_entropy",
            "input must have at least one dimension",
        )),
        1 => input.unsqueeze(0),
        2 => Ok(input.clone()),
        r => {
            let mut perm: Vec<i64> = vec![0];
            perm.extend(2..r as i64);
            perm.push(1);
            input
                .permute(&perm)?
                .reshape(&[-1, input.shape()[1] as i64])
        }
    }
}

/// Negative log-likelihood of `input` (log-probabilities `[N, C, d...]`)
/// at the int64 `target` classes (`F.nll_loss`). Targets equal to
/// `ignore_index` count for nothing; `Mean` divides by the summed weights
/// of the counted targets.
pub fn nll_loss(
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    reduction: Reduction,
) -> Result<Tensor> {
    let (per, w) = nll_parts("nll_loss", input, target, weight, ignore_index)?;
    Ok(match reduction {
        Reduction::None => per,
        Reduction::Sum => per.sum(),
        Reduction::Mean => per.sum().div(&w.sum())?,
    })
}

/// Per-target losses (in the target's shape) and per-target weights (0 for
/// ignored targets).
fn nll_parts(
    op: &'static str,
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
) -> Result<(Tensor, Tensor)> {
    if target.dtype() != DType::I64 {
        return Err(TensorError::dtype(
            op,
            "int64 class indices as target",
            target.dtype(),
        ));
    }
    let x = classes_last(&input.to_dtype(input.dtype().to_float()))?;
    let c = x.shape()[1];
    let t = target.ravel();
    let mut want: Vec<usize> = input.shape().to_vec();
    if input.dim() >= 2 {
        want.remove(1);
    } else {
        want.clear();
    }
    if target.shape() != want.as_slice() {
        return Err(TensorError::shapes(
            op,
            &[input.shape(), target.shape()],
            format!("expected target of shape {want:?}"),
        ));
    }
    if let Some(w) = weight {
        if w.shape() != [c] {
            return Err(TensorError::shapes(
                op,
                &[input.shape(), w.shape()],
                format!("weight must have shape [{c}]"),
            ));
        }
    }
    let tv = t.to_vec::<i64>()?;
    let mut safe = Vec::with_capacity(tv.len());
    let mut keep = Vec::with_capacity(tv.len());
    for &y in tv.iter() {
        if y == ignore_index {
            safe.push(0);
            keep.push(false);
        } else if y < 0 || y >= c as i64 {
            return Err(TensorError::IndexOutOfRange {
                op,
                index: y,
                dim: 1,
                size: c,
            });
        } else {
            safe.push(y);
            keep.push(true);
        }
    }
    let n = safe.len();
    let safe = Tensor::from_vec(safe, &[n, 1])?;
    let keep = Tensor::from_vec(keep, &[n])?.to_dtype(x.dtype());
    let picked = x.gather(1, &safe)?.squeeze(1)?;
    let w = match weight {
        Some(w) => w
            .to_dtype(x.dtype())
            .index_select(0, &safe.ravel())?
            .mul(&keep)?,
        None => keep,
    };
    let per = picked.neg().mul(&w)?;
    Ok((per.reshape(&dims(&want))?, w.reshape(&dims(&want))?))
}

/// Cross-entropy between `input` logits (`[N, C]`, `[C]` or `[N, C, d...]`)
/// and `target` (`F.cross_entropy`): int64 class indices (with
/// `ignore_index`), or class probabilities of the input's shape.
/// `label_smoothing` mixes the target with the uniform distribution.
pub fn cross_entropy(
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    reduction: Reduction,
    label_smoothing: f64,
) -> Result<Tensor> {
    if !(0.0..=1.0).contains(&label_smoothing) {
        return Err(TensorError::invalid(
            "cross_entropy",
            format!("label_smoothing must be in [0, 1], got {label_smoothing}"),
        ));
    }
    let class_dim = if input.dim() == 1 { 0 } else { 1 };
    let logp = input
        .to_dtype(input.dtype().to_float())
        .log_softmax(class_dim)?;
    let c = input.shape()[class_dim as usize];
    let w_b = match weight {
        // weight broadcast along the class dim
        Some(w) => {
            let mut shape = vec![1usize; input.dim()];
            shape[class_dim as usize] = c;
            Some(w.to_dtype(logp.dtype()).reshape(&dims(&shape))?)
        }
        None => None,
    };
    if target.dtype().is_float() {
        // Probabilities as targets.
        if target.shape() != input.shape() {
            return Err(TensorError::shapes(
                "cross_entropy",
                &[input.shape(), target.shape()],
                "probability targets must have the input's shape",
            ));
        }
        let t = target.to_dtype(logp.dtype());
        let t = if label_smoothing > 0.0 {
            t.mul_scalar(1.0 - label_smoothing)
                .add_scalar(label_smoothing / c as f64)
        } else {
            t
        };
        let mut prod = logp.mul(&t)?;
        if let Some(w) = &w_b {
            prod = prod.mul(w)?;
        }
        let per = prod.sum_dim(class_dim)?.neg();
        return Ok(match reduction {
            Reduction::None => per,
            Reduction::Sum => per.sum(),
            Reduction::Mean => per.sum().div_scalar((input.numel() / c.max(1)) as f64),
        });
    }
    let (nll, w) = nll_parts("cross_entropy", &logp, target, weight, ignore_index)?;
    let nll_red = match reduction {
        Reduction::None => nll,
        Reduction::Sum => nll.sum(),
        Reduction::Mean => nll.sum().div(&w.sum())?,
    };
    if label_smoothing == 0.0 {
        return Ok(nll_red);
    }
    // PyTorch: smooth = -sum_c w_c logp_c, zero where ignored, reduced with
    // the same denominator as the nll term.
    let weighted = match &w_b {
        Some(wb) => logp.mul(wb)?,
        None => logp.clone(),
    };
    let ignored = target.eq(&Tensor::scalar(ignore_index))?;
    let smooth = weighted
        .sum_dim(class_dim)?
        .neg()
        .masked_fill(&ignored, 0.0)?;
    let smooth_red = match reduction {
        Reduction::None => smooth,
        Reduction::Sum => smooth.sum(),
        Reduction::Mean => {
            let denom = match weight {
                Some(_) => w.sum(),
                None => ignored.logical_not().sum().to_dtype(logp.dtype()),
            };
            smooth.sum().div(&denom)?
        }
    };
    nll_red
        .mul_scalar(1.0 - label_smoothing)
        .add(&smooth_red.mul_scalar(label_smoothing / c as f64))
}

/// Mean squared error (`F.mse_loss`); shapes broadcast.
pub fn mse_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    torchlet_tensor::broadcast_shapes("mse_loss", input.shape(), target.shape())?;
    Ok(reduce(input.sub(target)?.square(), reduction))
}

/// Mean absolute error (`F.l1_loss`); shapes broadcast.
pub fn l1_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    torchlet_tensor::broadcast_shapes("l1_loss", input.shape(), target.shape())?;
    Ok(reduce(input.sub(target)?.abs(), reduction))
}
