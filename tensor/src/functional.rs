//! The tensor-level pieces of `torch.nn.functional` that the autograd
//! crate builds on: [`Reduction`], the binary cross-entropy kernels (the
//! forward values autograd's losses differentiate), and the fused LSTM
//! layer kernels.
//!
//! The functional API itself (`linear`, `embedding`, the losses, the
//! recurrent cells) is written once, over variables, in
//! `torchlet_autograd::functional` (re-exported by `torchlet_nn::functional`
//! with the layers). On plain tensors, wrap them in `Variable::constant`:
//! with no parameter involved nothing is recorded, so it costs what the
//! tensor ops cost.
//!
//! ```
//! use torchlet_tensor::{functional as F, Tensor};
//! let p = Tensor::from_vec(vec![0.9f32, 0.2], &[2]).unwrap();
//! let y = Tensor::from_vec(vec![1.0f32, 0.0], &[2]).unwrap();
//! let loss = F::binary_cross_entropy(&p, &y, None, F::Reduction::Mean).unwrap();
//! let want = -(0.9f32.ln() + 0.8f32.ln()) / 2.0;
//! assert!((loss.item::<f32>().unwrap() - want).abs() < 1e-6);
//! ```

use crate::error::{Result, TensorError};
use crate::tensor::Tensor;

pub use crate::ops::{
    lstm_sequence, lstm_sequence_backward, lstm_sequence_padded, LstmSequence, LstmSequenceGrads,
    LstmTrace,
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

#[cfg(test)]
mod tests {
    use super::*;

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
