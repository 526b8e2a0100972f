//! [`TransformerEncoderLayer`] (`torch.nn.modules.transformer`), its
//! options and its feed-forward activation.

use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

use crate::attention::MultiheadAttention;
use crate::dropout::Dropout;
use crate::error::Result;
use crate::linear::Linear;
use crate::module::Module;
use crate::normalization::LayerNorm;

/// The feed-forward activation of a [`TransformerEncoderLayer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TransformerActivation {
    /// `relu` (PyTorch's default).
    #[default]
    Relu,
    /// Exact `gelu`.
    Gelu,
}

/// The options of a [`TransformerEncoderLayer`] beyond `d_model` and
/// `nhead`, with PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransformerEncoderLayerOptions {
    /// Width of the feed-forward block (default 2048).
    pub dim_feedforward: usize,
    /// Dropout probability, in attention and after each block (default 0.1).
    pub dropout: f64,
    /// The feed-forward activation (default relu).
    pub activation: TransformerActivation,
    /// `eps` of both layer norms (default `1e-5`).
    pub layer_norm_eps: f64,
    /// Whether inputs are `[N, S, E]` (default false: `[S, N, E]`).
    pub batch_first: bool,
    /// Pre-norm (`x + block(norm(x))`) instead of post-norm
    /// (`norm(x + block(x))`, the default).
    pub norm_first: bool,
}

impl Default for TransformerEncoderLayerOptions {
    fn default() -> Self {
        TransformerEncoderLayerOptions {
            dim_feedforward: 2048,
            dropout: 0.1,
            activation: TransformerActivation::Relu,
            layer_norm_eps: 1e-5,
            batch_first: false,
            norm_first: false,
        }
    }
}

/// One Transformer encoder layer (`torch.nn.TransformerEncoderLayer`):
/// self-attention then a `linear1 → activation → dropout → linear2`
/// feed-forward block, each with dropout, a residual connection and a
/// layer norm (after the residual by default, before the block with
/// `norm_first`). Parameter names follow PyTorch: `self_attn.*`,
/// `linear1.*`, `linear2.*`, `norm1.*`, `norm2.*`.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Module, Result, TransformerEncoderLayer, TransformerEncoderLayerOptions};
/// use torchlet_tensor::Tensor;
///
/// # fn main() -> Result<()> {
/// let opts = TransformerEncoderLayerOptions { dim_feedforward: 16, batch_first: true, ..Default::default() };
/// let layer = TransformerEncoderLayer::with_options(8, 2, opts)?;
/// layer.eval();
/// let y = layer.forward(&Variable::constant(Tensor::rand(&[2, 5, 8])))?;
/// assert_eq!(y.shape(), [2, 5, 8]);
/// # Ok(())
/// # }
/// ```
pub struct TransformerEncoderLayer {
    self_attn: MultiheadAttention,
    linear1: Linear,
    dropout: Dropout,
    linear2: Linear,
    norm1: LayerNorm,
    norm2: LayerNorm,
    dropout1: Dropout,
    dropout2: Dropout,
    activation: TransformerActivation,
    norm_first: bool,
}

impl TransformerEncoderLayer {
    /// `TransformerEncoderLayer(d_model, nhead)` with the default options.
    pub fn new(d_model: usize, nhead: usize) -> Result<TransformerEncoderLayer> {
        TransformerEncoderLayer::with_options(d_model, nhead, Default::default())
    }

    /// `TransformerEncoderLayer(d_model, nhead, ...)` with explicit options.
    pub fn with_options(
        d_model: usize,
        nhead: usize,
        options: TransformerEncoderLayerOptions,
    ) -> Result<TransformerEncoderLayer> {
        let o = options;
        let norm = || LayerNorm::with_options(&[d_model], o.layer_norm_eps, true);
        Ok(TransformerEncoderLayer {
            self_attn: MultiheadAttention::with_options(
                d_model,
                nhead,
                o.dropout,
                true,
                o.batch_first,
            )?,
            linear1: Linear::new(d_model, o.dim_feedforward)?,
            dropout: Dropout::new(o.dropout)?,
            linear2: Linear::new(o.dim_feedforward, d_model)?,
            norm1: norm()?,
            norm2: norm()?,
            dropout1: Dropout::new(o.dropout)?,
            dropout2: Dropout::new(o.dropout)?,
            activation: o.activation,
            norm_first: o.norm_first,
        })
    }

    /// The self-attention block.
    pub fn self_attn(&self) -> &MultiheadAttention {
        &self.self_attn
    }

    /// The first feed-forward projection, `[dim_feedforward, d_model]`.
    pub fn linear1(&self) -> &Linear {
        &self.linear1
    }

    /// The second feed-forward projection, `[d_model, dim_feedforward]`.
    pub fn linear2(&self) -> &Linear {
        &self.linear2
    }

    /// The layer norm of the attention block.
    pub fn norm1(&self) -> &LayerNorm {
        &self.norm1
    }

    /// The layer norm of the feed-forward block.
    pub fn norm2(&self) -> &LayerNorm {
        &self.norm2
    }

    fn sa_block(
        &self,
        x: &Variable,
        attn_mask: Option<&Tensor>,
        key_padding_mask: Option<&Tensor>,
    ) -> Result<Variable> {
        let (y, _) = self
            .self_attn
            .forward(x, x, x, key_padding_mask, attn_mask)?;
        self.dropout1.forward(&y)
    }

    fn ff_block(&self, x: &Variable) -> Result<Variable> {
        let h = self.linear1.forward(x)?;
        let h = match self.activation {
            TransformerActivation::Relu => h.relu(),
            TransformerActivation::Gelu => h.gelu(),
        };
        let y = self.linear2.forward(&self.dropout.forward(&h)?)?;
        self.dropout2.forward(&y)
    }

    /// The layer on `src` (`[S, N, E]`, `[N, S, E]` with `batch_first`, or
    /// unbatched `[S, E]`) with an optional `src_mask` (`[S, S]` or
    /// `[N · nhead, S, S]`) and `src_key_padding_mask` (`[N, S]`), as
    /// [`MultiheadAttention::forward`] reads them.
    pub fn forward_with_masks(
        &self,
        src: &Variable,
        src_mask: Option<&Tensor>,
        src_key_padding_mask: Option<&Tensor>,
    ) -> Result<Variable> {
        if self.norm_first {
            let x = src.add(&self.sa_block(
                &self.norm1.forward(src)?,
                src_mask,
                src_key_padding_mask,
            )?)?;
            Ok(x.add(&self.ff_block(&self.norm2.forward(&x)?)?)?)
        } else {
            let x = self.norm1.forward(&src.add(&self.sa_block(
                src,
                src_mask,
                src_key_padding_mask,
            )?)?)?;
            self.norm2.forward(&x.add(&self.ff_block(&x)?)?)
        }
    }
}

impl Module for TransformerEncoderLayer {
    /// [`TransformerEncoderLayer::forward_with_masks`] without masks.
    fn forward(&self, x: &Variable) -> Result<Variable> {
        self.forward_with_masks(x, None, None)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![
            ("self_attn", &self.self_attn),
            ("linear1", &self.linear1),
            ("dropout", &self.dropout),
            ("linear2", &self.linear2),
            ("norm1", &self.norm1),
            ("norm2", &self.norm2),
            ("dropout1", &self.dropout1),
            ("dropout2", &self.dropout2),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{close, rand, vals};
    use torchlet_tensor::DType;

    #[test]
    fn encoder_layer() {
        let opts = TransformerEncoderLayerOptions {
            dim_feedforward: 8,
            dropout: 0.0,
            ..Default::default()
        };
        let layer = TransformerEncoderLayer::with_options(4, 2, opts).unwrap();
        let names: Vec<String> = layer
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "self_attn.in_proj_weight",
                "self_attn.in_proj_bias",
                "self_attn.out_proj.weight",
                "self_attn.out_proj.bias",
                "linear1.weight",
                "linear1.bias",
                "linear2.weight",
                "linear2.bias",
                "norm1.weight",
                "norm1.bias",
                "norm2.weight",
                "norm2.bias"
            ]
        );
        assert_eq!(
            TransformerEncoderLayerOptions::default().dim_feedforward,
            2048
        );
        let x = Variable::parameter(Tensor::rand(&[5, 2, 4]));
        let y = layer.forward(&x).unwrap();
        assert_eq!(y.shape(), [5, 2, 4]);
        // Post-norm: each token's features are normalized by norm2.
        for row in vals(&y).chunks(4) {
            let mean = row.iter().sum::<f64>() / 4.0;
            let var = row.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / 4.0;
            assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-3, "{row:?}");
        }
        y.mul(&rand(&[5, 2, 4])).unwrap().sum().backward().unwrap();
        for (name, p) in layer.named_parameters() {
            assert!(p.grad().is_some(), "no gradient for {name}");
        }
        assert!(x.grad().is_some());

        // A padded key does not influence the other positions.
        let pad = Tensor::from_slice(&[false, false, false, false, true], &[1, 5]).unwrap();
        let a = rand(&[5, 1, 4]);
        let mut bv = vals(&a);
        bv[16..].copy_from_slice(&[9.0, -9.0, 3.0, 1.0]);
        let b = Variable::constant(
            Tensor::from_slice(&bv, &[5, 1, 4])
                .unwrap()
                .to_dtype(DType::F32),
        );
        let ya = vals(&layer.forward_with_masks(&a, None, Some(&pad)).unwrap());
        let yb = vals(&layer.forward_with_masks(&b, None, Some(&pad)).unwrap());
        close(&ya[..16], &yb[..16], 1e-5);
        assert!(ya[16..] != yb[16..]);

        // Pre-norm with gelu, batch-first, unbatched input; dropout off in eval.
        let pre = TransformerEncoderLayer::with_options(
            4,
            1,
            TransformerEncoderLayerOptions {
                dim_feedforward: 6,
                activation: TransformerActivation::Gelu,
                batch_first: true,
                norm_first: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(pre.is_training());
        pre.eval();
        assert!(!pre.self_attn().is_training());
        let u = rand(&[3, 4]);
        let y1 = vals(&pre.forward(&u).unwrap());
        assert_eq!(y1, vals(&pre.forward(&u).unwrap()));
        assert_eq!(y1.len(), 12);
    }
}
