//! [`BagClassifier`]: the mean of a text's token embeddings, then a linear
//! layer.

use torchlet_autograd::Variable;
use torchlet_nn::{BagMode, Dropout, EmbeddingBag, Linear, Module, Result};
use torchlet_tensor::Tensor;

use super::{check_batch, config};

/// A bag-of-embeddings text classifier (torchtext's
/// `TextClassificationModel`): `EmbeddingBag(mode='mean')` over each
/// text's tokens, padding left out, then dropout and `Linear(dim,
/// classes)`. Word order is ignored: it learns which tokens signal which
/// class. Parameters: `embed.weight`, `head.weight`, `head.bias`.
///
/// ```
/// use torchlet_tensor::Tensor;
/// use torchlet_text::models::BagClassifier;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let model = BagClassifier::new(100, 16, 4, Some(1), 0.5)?;
/// let tokens = Tensor::from_vec(vec![5i64, 9, 1, 7, 8, 2], &[2, 3])?; // 1 = <pad>
/// let logits = model.forward_tokens(&tokens)?;
/// assert_eq!(logits.shape(), [2, 4]);
/// # Ok(())
/// # }
/// ```
#[derive(Module)]
pub struct BagClassifier {
    embed: EmbeddingBag,
    dropout: Dropout,
    head: Linear,
}

impl BagClassifier {
    /// A classifier over `vocab_size` tokens with `embed_dim`-wide
    /// embeddings, `num_classes` outputs, the padding index left out of
    /// the mean, and dropout `p` on the pooled vector.
    pub fn new(
        vocab_size: usize,
        embed_dim: usize,
        num_classes: usize,
        pad_index: Option<usize>,
        dropout: f64,
    ) -> Result<BagClassifier> {
        if num_classes < 2 {
            return Err(config(
                "BagClassifier",
                format!("num_classes must be at least 2, got {num_classes}"),
            ));
        }
        let pad = pad_index.map(|p| p as i64);
        Ok(BagClassifier {
            embed: EmbeddingBag::with_padding(vocab_size, embed_dim, BagMode::Mean, pad)?,
            dropout: Dropout::new(dropout)?,
            head: Linear::new(embed_dim, num_classes)?,
        })
    }

    /// The same model with sparse embedding gradients on or off
    /// (`EmbeddingBag(sparse=True)`): `embed.weight`'s gradient holds only
    /// the rows a batch looked up, for an optimizer with sparse updates
    /// (`SparseAdam`) to touch only those.
    pub fn sparse(mut self, sparse: bool) -> BagClassifier {
        self.embed = self.embed.sparse(sparse);
        self
    }

    /// Whether `embed.weight` gets sparse gradients.
    pub fn is_sparse(&self) -> bool {
        self.embed.is_sparse()
    }

    /// The number of classes.
    pub fn num_classes(&self) -> usize {
        self.head.weight().shape()[0]
    }

    /// Logits `[N, classes]` for the int64 token indices `[N, T]` (padding
    /// is skipped, so no lengths are needed).
    pub fn forward_tokens(&self, tokens: &Tensor) -> Result<Variable> {
        check_batch("BagClassifier", tokens, None)?;
        let pooled = self.embed.forward_bags(tokens, None, None)?;
        self.head.forward(&self.dropout.forward(&pooled)?)
    }
}

impl BagClassifier {
    /// Logits `[N, classes]`; `x` holds the int64 token indices `[N, T]`.
    pub fn forward(&self, x: &Variable) -> Result<Variable> {
        self.forward_tokens(&x.data())
    }
}
