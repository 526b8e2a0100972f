//! Lookup tables: [`Embedding`].

use torchlet_autograd::{functional, Variable};
use torchlet_tensor::{DType, Tensor};

use crate::error::{NnError, Result};
use crate::module::Module;

/// A lookup table of `num_embeddings` vectors of size `embedding_dim`
/// (`torch.nn.Embedding`): int64 indices of any shape `[*]` give
/// `[*, embedding_dim]`. `weight` `[num_embeddings, embedding_dim]` is
/// initialised from `N(0, 1)`; the row `padding_idx`, if any, starts at
/// zero and receives no gradient.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Embedding, Module, Result};
/// use torchlet_tensor::Tensor;
///
/// # fn main() -> Result<()> {
/// let emb = Embedding::with_padding(10, 3, Some(0))?;
/// let idx = Tensor::from_vec(vec![0i64, 4, 9, 4], &[2, 2])?;
/// let y = emb.forward(&Variable::constant(idx))?;
/// assert_eq!(y.shape(), [2, 2, 3]);
/// assert_eq!(y.to_vec::<f32>()?[..3], [0.0, 0.0, 0.0]);
/// # Ok(())
/// # }
/// ```
pub struct Embedding {
    num_embeddings: usize,
    embedding_dim: usize,
    padding_idx: Option<usize>,
    weight: Variable,
}

impl Embedding {
    /// A table without a padding index.
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> Result<Embedding> {
        Embedding::with_padding(num_embeddings, embedding_dim, None)
    }

    /// A table whose row `padding_idx` is zero-initialised and gets no
    /// gradient (`Embedding(n, d, padding_idx=...)`); a negative index
    /// counts from the end, as in PyTorch.
    pub fn with_padding(
        num_embeddings: usize,
        embedding_dim: usize,
        padding_idx: Option<i64>,
    ) -> Result<Embedding> {
        if num_embeddings == 0 || embedding_dim == 0 {
            return Err(NnError::config(
                "Embedding",
                format!(
                    "num_embeddings and embedding_dim must be positive, got {num_embeddings} and {embedding_dim}"
                ),
            ));
        }
        let n = num_embeddings as i64;
        let padding_idx = match padding_idx {
            None => None,
            Some(p) if (-n..n).contains(&p) => Some(if p < 0 { p + n } else { p } as usize),
            Some(p) => {
                return Err(NnError::config(
                    "Embedding",
                    format!(
                        "padding_idx must be within num_embeddings ({num_embeddings}), got {p}"
                    ),
                ))
            }
        };
        let mut w = Tensor::randn(&[num_embeddings, embedding_dim]);
        if let Some(p) = padding_idx {
            let mut data = w.to_vec::<f32>()?;
            data[p * embedding_dim..(p + 1) * embedding_dim].fill(0.0);
            w = Tensor::from_vec(data, &[num_embeddings, embedding_dim])?;
        }
        Ok(Embedding {
            num_embeddings,
            embedding_dim,
            padding_idx,
            weight: Variable::parameter(w),
        })
    }

    /// The number of rows.
    pub fn num_embeddings(&self) -> usize {
        self.num_embeddings
    }

    /// The size of each row.
    pub fn embedding_dim(&self) -> usize {
        self.embedding_dim
    }

    /// The row that gets no gradient, if any (non-negative).
    pub fn padding_idx(&self) -> Option<usize> {
        self.padding_idx
    }

    /// The table, `[num_embeddings, embedding_dim]`.
    pub fn weight(&self) -> &Variable {
        &self.weight
    }

    /// Looks up the int64 `indices` (any shape `[*]`), giving
    /// `[*, embedding_dim]`.
    pub fn forward_indices(&self, indices: &Tensor) -> Result<Variable> {
        if indices.dtype() != DType::I64 {
            return Err(NnError::input(
                "Embedding",
                format!("expected int64 indices, got dtype {}", indices.dtype()),
            ));
        }
        let idx = indices.to_vec::<i64>()?;
        if let Some(bad) = idx
            .iter()
            .find(|&&i| i < 0 || i >= self.num_embeddings as i64)
        {
            return Err(NnError::input(
                "Embedding",
                format!(
                    "index {bad} out of range for num_embeddings = {}",
                    self.num_embeddings
                ),
            ));
        }
        let out = functional::embedding(indices, &self.weight)?;
        let Some(p) = self.padding_idx else {
            return Ok(out);
        };
        if !out.requires_grad() || !idx.contains(&(p as i64)) {
            return Ok(out);
        }
        // The padding rows' values, cut off from the graph: PyTorch zeroes
        // the gradient of weight[padding_idx].
        let mut mask_shape = indices.shape().to_vec();
        mask_shape.push(1);
        let mask = Tensor::from_vec(
            idx.iter().map(|&i| i == p as i64).collect::<Vec<bool>>(),
            &mask_shape,
        )?;
        let fixed = functional::embedding(indices, &self.weight.detach())?;
        Ok(Variable::where_cond(&mask, &fixed, &out)?)
    }
}

impl Module for Embedding {
    /// `x` holds the int64 indices (a constant).
    fn forward(&self, x: &Variable) -> Result<Variable> {
        self.forward_indices(&x.data())
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        vec![("weight", self.weight.clone())]
    }
}
