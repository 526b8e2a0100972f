//! Text models: a bag-of-embeddings classifier ([`BagClassifier`]), an
//! LSTM/GRU classifier that respects sequence lengths
//! ([`RnnClassifier`]), a character-level language model with
//! temperature sampling ([`CharLm`]), and a linear classifier over
//! sparse TF-IDF rows ([`TfidfClassifier`]).
//!
//! The token models take batch-first int64 token indices `[N, T]` as a
//! [`PaddedBatch`] gives them, and name their parameters as the equivalent PyTorch
//! module would (`embed.weight`, `lstm.weight_ih_l0`, `head.weight`, ...),
//! so PyTorch state dicts load unchanged.
//!
//! [`PaddedBatch`]: crate::PaddedBatch

mod bag;
mod charlm;
mod rnn;
mod tfidf;

pub use bag::BagClassifier;
pub use charlm::{CharLm, CharLmOptions};
pub use rnn::{RecurrentKind, RnnClassifier, RnnClassifierOptions};
pub use tfidf::TfidfClassifier;

use torchlet_tensor::{DType, Tensor};

use torchlet_nn::{NnError, Result};

/// Checks that `tokens` is an int64 `[N, T]` batch and that `lengths`
/// (if any) has one entry per row in `1..=T`; returns `(N, T)`.
pub(crate) fn check_batch(
    model: &'static str,
    tokens: &Tensor,
    lengths: Option<&[usize]>,
) -> Result<(usize, usize)> {
    if tokens.dtype() != DType::I64 || tokens.dim() != 2 {
        return Err(input(
            model,
            format!(
                "expected int64 token indices [N, T], got dtype {} and shape {:?}",
                tokens.dtype(),
                tokens.shape()
            ),
        ));
    }
    let (n, t) = (tokens.shape()[0], tokens.shape()[1]);
    if let Some(lengths) = lengths {
        if lengths.len() != n {
            return Err(input(
                model,
                format!("{} lengths for a batch of {n} sequences", lengths.len()),
            ));
        }
        if let Some(bad) = lengths.iter().find(|&&l| l == 0 || l > t) {
            return Err(input(
                model,
                format!("every length must be in 1..={t}, got {bad}"),
            ));
        }
    }
    Ok((n, t))
}

/// An input error of `model`.
pub(crate) fn input(model: &'static str, message: String) -> NnError {
    NnError::Input {
        module: model,
        message,
    }
}

/// A constructor error of `model`.
pub(crate) fn config(model: &'static str, message: String) -> NnError {
    NnError::Config {
        module: model,
        message,
    }
}
