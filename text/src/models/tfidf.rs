//! [`TfidfClassifier`]: a linear classifier over sparse TF-IDF rows.

use torchlet_autograd::Variable;
use torchlet_nn::init::{default_bound, uniform_parameter};
use torchlet_nn::{Module, NnError, Result};
use torchlet_sparse::SparseTensor;

use super::{config, input};

/// A linear classifier over TF-IDF features (a multinomial logistic
/// regression): `logits = X W + b` with `X` the sparse rows of a
/// [`TfidfVectorizer`](crate::TfidfVectorizer) (`[N, features]` CSR),
/// `W` a dense `[features, classes]` parameter and `b` `[classes]`.
///
/// The product is sparse × dense ([`SparseTensor::mm`]): each row costs
/// its non-zeros, not the vocabulary size, and `W`'s gradient is `Xᵀ G`.
/// Parameters: `weight` `[features, classes]` and `bias`, initialised
/// like `nn.Linear`'s (uniform in ±1/√features).
///
/// ```
/// use torchlet_text::models::TfidfClassifier;
/// use torchlet_text::TfidfVectorizer;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tfidf = TfidfVectorizer::fit(&["the cat sat", "stocks fell"], Default::default())?;
/// let model = TfidfClassifier::new(tfidf.num_features(), 2)?;
/// let logits = model.forward_sparse(&tfidf.transform(&["a cat", "stocks rose"])?)?;
/// assert_eq!(logits.shape(), [2, 2]);
/// # Ok(())
/// # }
/// ```
pub struct TfidfClassifier {
    weight: Variable,
    bias: Variable,
}

impl TfidfClassifier {
    /// A classifier from `num_features` to `num_classes`.
    pub fn new(num_features: usize, num_classes: usize) -> Result<TfidfClassifier> {
        if num_features == 0 || num_classes < 2 {
            return Err(config(
                "TfidfClassifier",
                format!("needs features and at least 2 classes, got {num_features} features and {num_classes} classes"),
            ));
        }
        let bound = default_bound(num_features);
        Ok(TfidfClassifier {
            weight: uniform_parameter(&[num_features, num_classes], bound),
            bias: uniform_parameter(&[num_classes], bound),
        })
    }

    /// Number of input features.
    pub fn num_features(&self) -> usize {
        self.weight.shape()[0]
    }

    /// Logits `[N, classes]` of sparse rows `x` `[N, features]` (float32,
    /// any layout; CSR is the fastest).
    pub fn forward_sparse(&self, x: &SparseTensor) -> Result<Variable> {
        if x.dim() != 2 || x.shape()[1] != self.num_features() {
            return Err(input(
                "TfidfClassifier",
                format!(
                    "expected sparse rows [N, {}], got shape {:?}",
                    self.num_features(),
                    x.shape()
                ),
            ));
        }
        let xw = x
            .mm(&self.weight)
            .map_err(|e| NnError::Autograd(e.into()))?;
        Ok(xw.add(&self.bias)?)
    }
}

impl Module for TfidfClassifier {
    /// `x` holds dense rows `[N, features]` (the same logits as
    /// [`forward_sparse`](Self::forward_sparse) of their sparse form).
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(x.matmul(&self.weight)?.add(&self.bias)?)
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        vec![("weight", self.weight.clone()), ("bias", self.bias.clone())]
    }
}
