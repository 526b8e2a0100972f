//! Functional forms of layers, losses and recurrent cells on plain tensors
//! (`torch.nn.functional`), composed from the tensor ops. They compute
//! forward values only (inference, metrics); the autograd crate provides
//! the differentiable versions with the same names and arguments.
//!
//! ```
//! use torchlet_tensor::{functional as F, Tensor};
//! let logits = Tensor::from_vec(vec![2.0f32, 0.0, 0.0, 2.0], &[2, 2]).unwrap();
//! let target = Tensor::from_vec(vec![0i64, 1], &[2]).unwrap();
//! let loss = F::cross_entropy(&logits, &target, None, -100, F::Reduction::Mean, 0.0).unwrap();
//! assert!((loss.item::<f32>().unwrap() - 0.126928).abs() < 1e-5);
//! ```

use crate::dtype::DType;
use crate::error::{Result, TensorError};
use crate::tensor::Tensor;

pub use crate::ops::{
    lstm_sequence, lstm_sequence_backward, LstmSequence, LstmSequenceGrads, LstmTrace,
};

/// How a loss combines its per-element values (`reduction=` in PyTorch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Keep one value per element.
    None,
    /// Average (the PyTorch default).
    #[default]
    Mean,
    /// Sum.
    Sum,
}

impl std::str::FromStr for Reduction {
    type Err = TensorError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            other => Err(TensorError::invalid(
                "reduction",
                format!("expected \"none\", \"mean\" or \"sum\", got {other:?}"),
            )),
        }
    }
}

fn reduce(loss: Tensor, reduction: Reduction) -> Tensor {
    match reduction {
        Reduction::None => loss,
        Reduction::Mean => loss.mean(),
        Reduction::Sum => loss.sum(),
    }
}

/// `x @ weight^T + bias` (`F.linear`), weight `[out, in]`.
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let y = x.matmul(&weight.t()?).map_err(|_| {
        TensorError::shapes(
            "linear",
            &[x.shape(), weight.shape()],
            "the input's last dim must equal weight.shape[1]",
        )
    })?;
    match bias {
        Some(b) => y.add(b),
        None => Ok(y),
    }
}

/// Rows of `weight` (`[num_embeddings, dim]`) looked up by the int64
/// `indices` of any shape (`F.embedding`); the result has shape
/// `indices.shape + [dim]`.
pub fn embedding(indices: &Tensor, weight: &Tensor) -> Result<Tensor> {
    if weight.dim() != 2 {
        return Err(TensorError::invalid(
            "embedding",
            format!("weight must be 2-D, got shape {:?}", weight.shape()),
        ));
    }
    let rows = weight.index_select(0, &indices.flatten())?;
    let mut shape: Vec<usize> = indices.shape().to_vec();
    shape.push(weight.shape()[1]);
    rows.reshape_to(&shape)
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
    let x = classes_last(&input.to_float())?;
    let c = x.shape()[1];
    let t = target.flatten();
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
    let tv = t.values::<i64>();
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
    let safe = Tensor::from_data(safe, &[n, 1]);
    let keep = Tensor::from_data(keep, &[n]).to_dtype(x.dtype());
    let picked = x.gather(1, &safe)?.squeeze_dim(1)?;
    let w = match weight {
        Some(w) => w
            .to_dtype(x.dtype())
            .index_select(0, &safe.flatten())?
            .mul(&keep)?,
        None => keep,
    };
    let per = picked.neg().mul(&w)?;
    Ok((per.reshape_to(&want)?, w.reshape_to(&want)?))
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
    let logp = input.to_float().log_softmax(class_dim)?;
    let c = input.shape()[class_dim as usize];
    let w_b = match weight {
        // weight broadcast along the class dim
        Some(w) => {
            let mut shape = vec![1usize; input.dim()];
            shape[class_dim as usize] = c;
            Some(w.to_dtype(logp.dtype()).reshape_to(&shape)?)
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
    crate::layout::broadcast_shapes("mse_loss", input.shape(), target.shape())?;
    Ok(reduce(input.sub(target)?.square(), reduction))
}

/// Mean absolute error (`F.l1_loss`); shapes broadcast.
pub fn l1_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    crate::layout::broadcast_shapes("l1_loss", input.shape(), target.shape())?;
    Ok(reduce(input.sub(target)?.abs(), reduction))
}

/// Binary cross-entropy on probabilities (`F.binary_cross_entropy`); the
/// logs are clamped at -100 as in PyTorch, so 0 and 1 are finite.
pub fn binary_cross_entropy(
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    reduction: Reduction,
) -> Result<Tensor> {
    if input.shape() != target.shape() {
        return Err(TensorError::shapes(
            "binary_cross_entropy",
            &[input.shape(), target.shape()],
            "target and input must have the same shape",
        ));
    }
    let p = input.to_float();
    let y = target.to_dtype(p.dtype());
    let log_p = p.log().clamp_min(-100.0);
    let log_q = p.rsub_scalar(1.0).log().clamp_min(-100.0);
    let mut l = y.mul(&log_p)?.add(&y.rsub_scalar(1.0).mul(&log_q)?)?.neg();
    if let Some(w) = weight {
        l = l.mul(w)?;
    }
    Ok(reduce(l, reduction))
}

/// Binary cross-entropy on logits, computed stably
/// (`F.binary_cross_entropy_with_logits`); `pos_weight` scales the positive
/// term per class.
pub fn binary_cross_entropy_with_logits(
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    pos_weight: Option<&Tensor>,
    reduction: Reduction,
) -> Result<Tensor> {
    if input.shape() != target.shape() {
        return Err(TensorError::shapes(
            "binary_cross_entropy_with_logits",
            &[input.shape(), target.shape()],
            "target and input must have the same shape",
        ));
    }
    let x = input.to_float();
    let y = target.to_dtype(x.dtype());
    // log(1 + e^-|x|) + max(-x, 0) = -log(sigmoid(x)), stable for any x.
    let log_sig_neg = x.abs().neg().exp().log1p().add(&x.neg().clamp_min(0.0))?;
    let mut l = match pos_weight {
        Some(pw) => {
            let coef = pw
                .to_dtype(x.dtype())
                .sub_scalar(1.0)
                .mul(&y)?
                .add_scalar(1.0);
            y.rsub_scalar(1.0).mul(&x)?.add(&coef.mul(&log_sig_neg)?)?
        }
        None => y.rsub_scalar(1.0).mul(&x)?.add(&log_sig_neg)?,
    };
    if let Some(w) = weight {
        l = l.mul(w)?;
    }
    Ok(reduce(l, reduction))
}

fn affine(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    linear(x, w, b)
}

/// One step of an Elman RNN with tanh:
/// `h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)` (`torch.rnn_tanh_cell`).
pub fn rnn_tanh_cell(
    x: &Tensor,
    h: &Tensor,
    w_ih: &Tensor,
    w_hh: &Tensor,
    b_ih: Option<&Tensor>,
    b_hh: Option<&Tensor>,
) -> Result<Tensor> {
    Ok(affine(x, w_ih, b_ih)?.add(&affine(h, w_hh, b_hh)?)?.tanh())
}

/// One LSTM step with PyTorch's gate order (input, forget, cell, output):
/// returns `(h', c')` (`torch.lstm_cell`). `w_ih` is `[4H, in]`.
pub fn lstm_cell(
    x: &Tensor,
    h: &Tensor,
    c: &Tensor,
    w_ih: &Tensor,
    w_hh: &Tensor,
    b_ih: Option<&Tensor>,
    b_hh: Option<&Tensor>,
) -> Result<(Tensor, Tensor)> {
    let gates = affine(x, w_ih, b_ih)?.add(&affine(h, w_hh, b_hh)?)?;
    let g = gates.chunk(4, -1)?;
    if g.len() != 4 {
        return Err(TensorError::shapes(
            "lstm_cell",
            &[w_ih.shape()],
            "w_ih must have 4*hidden_size rows",
        ));
    }
    let (i, f, cell, o) = (g[0].sigmoid(), g[1].sigmoid(), g[2].tanh(), g[3].sigmoid());
    let c_next = f.mul(c)?.add(&i.mul(&cell)?)?;
    let h_next = o.mul(&c_next.tanh())?;
    Ok((h_next, c_next))
}

/// One GRU step with PyTorch's gate order (reset, update, new):
/// `h' = (1 - z) * n + z * h` (`torch.gru_cell`). `w_ih` is `[3H, in]`.
pub fn gru_cell(
    x: &Tensor,
    h: &Tensor,
    w_ih: &Tensor,
    w_hh: &Tensor,
    b_ih: Option<&Tensor>,
    b_hh: Option<&Tensor>,
) -> Result<Tensor> {
    let gi = affine(x, w_ih, b_ih)?.chunk(3, -1)?;
    let gh = affine(h, w_hh, b_hh)?.chunk(3, -1)?;
    if gi.len() != 3 || gh.len() != 3 {
        return Err(TensorError::shapes(
            "gru_cell",
            &[w_ih.shape(), w_hh.shape()],
            "weights must have 3*hidden_size rows",
        ));
    }
    let r = gi[0].add(&gh[0])?.sigmoid();
    let z = gi[1].add(&gh[1])?.sigmoid();
    let n = gi[2].add(&r.mul(&gh[2])?)?.tanh();
    z.rsub_scalar(1.0).mul(&n)?.add(&z.mul(h)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_variants() {
        let x = Tensor::from_vec(vec![1.0f32, 2.0, 0.5, 0.1, 0.2, 3.0], &[2, 3]).unwrap();
        let y = Tensor::from_vec(vec![1i64, 2], &[2]).unwrap();
        let lse0 = (1f32.exp() + 2f32.exp() + 0.5f32.exp()).ln();
        let lse1 = (0.1f32.exp() + 0.2f32.exp() + 3f32.exp()).ln();
        let want = ((lse0 - 2.0) + (lse1 - 3.0)) / 2.0;
        let got = cross_entropy(&x, &y, None, -100, Reduction::Mean, 0.0)
            .unwrap()
            .item::<f32>()
            .unwrap();
        assert!((got - want).abs() < 1e-6);
        // ignore the second sample
        let y2 = Tensor::from_vec(vec![1i64, -100], &[2]).unwrap();
        let got = cross_entropy(&x, &y2, None, -100, Reduction::Mean, 0.0)
            .unwrap()
            .item::<f32>()
            .unwrap();
        assert!((got - (lse0 - 2.0)).abs() < 1e-6);
        // one-hot probabilities equal class indices
        let p = Tensor::from_vec(vec![0.0f32, 1.0, 0.0, 0.0, 0.0, 1.0], &[2, 3]).unwrap();
        let got = cross_entropy(&x, &p, None, -100, Reduction::Mean, 0.0)
            .unwrap()
            .item::<f32>()
            .unwrap();
        assert!((got - want).abs() < 1e-6);
        assert!(cross_entropy(
            &x,
            &Tensor::from_vec(vec![3i64, 0], &[2]).unwrap(),
            None,
            -100,
            Reduction::Mean,
            0.0
        )
        .is_err());
    }

    #[test]
    fn bce_forms_agree() {
        let logits = Tensor::from_vec(vec![-2.0f32, 0.0, 3.0], &[3]).unwrap();
        let y = Tensor::from_vec(vec![0.0f32, 1.0, 1.0], &[3]).unwrap();
        let a = binary_cross_entropy(&logits.sigmoid(), &y, None, Reduction::Sum)
            .unwrap()
            .item::<f32>()
            .unwrap();
        let b = binary_cross_entropy_with_logits(&logits, &y, None, None, Reduction::Sum)
            .unwrap()
            .item::<f32>()
            .unwrap();
        assert!((a - b).abs() < 1e-5);
        let huge = Tensor::from_vec(vec![1000.0f32], &[1]).unwrap();
        let l = binary_cross_entropy_with_logits(
            &huge,
            &Tensor::zeros(&[1]),
            None,
            None,
            Reduction::Sum,
        )
        .unwrap();
        assert_eq!(l.item::<f32>().unwrap(), 1000.0);
    }
}
