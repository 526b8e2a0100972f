//! [`MultiheadAttention`] (`torch.nn.MultiheadAttention`, which PyTorch
//! keeps in `activation.py`).

use std::sync::atomic::{AtomicBool, Ordering};

use torchlet_autograd::{functional as af, Variable};
use torchlet_tensor::{DType, Tensor};

use crate::error::{NnError, Result};
use crate::init::{xavier_uniform_, zeros_};
use crate::linear::Linear;
use crate::module::Module;

/// Adds an attention mask to `scores`: a bool mask puts `-inf` where it is
/// true (the position may not be attended), a float mask is added.
fn apply_mask(scores: Variable, mask: &Tensor, what: &'static str) -> Result<Variable> {
    match mask.dtype() {
        DType::Bool => {
            Ok(scores.masked_fill(&Variable::constant(mask.clone()), f64::NEG_INFINITY)?)
        }
        d if d.is_float() => Ok(scores.add(&Variable::constant(mask.to_dtype(scores.dtype())))?),
        d => Err(NnError::input(
            "MultiheadAttention",
            format!("{what} must be bool or floating-point, got dtype {d}"),
        )),
    }
}

/// Multi-head scaled dot-product attention (`torch.nn.MultiheadAttention`
/// with `kdim = vdim = embed_dim`): the query, key and value are projected
/// by the three `[E, E]` blocks of `in_proj_weight` (`[3E, E]`, plus
/// `in_proj_bias` `[3E]`), split into `num_heads` heads of
/// `E / num_heads` dims, attended with `softmax(QKᵀ/√head_dim) V` (dropout
/// on the attention weights in training mode), re-joined and projected by
/// `out_proj` (a [`Linear`]).
///
/// Initialisation as PyTorch's `_reset_parameters`: `xavier_uniform_` on
/// `in_proj_weight`, zero `in_proj_bias` and `out_proj.bias`, and
/// `out_proj.weight` from the default [`Linear`] initialisation.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{MultiheadAttention, Result};
/// use torchlet_tensor::Tensor;
///
/// # fn main() -> Result<()> {
/// let mha = MultiheadAttention::new(8, 2)?;
/// // Sequence-first [L, N, E] (batch_first = false, PyTorch's default).
/// let q = Variable::constant(Tensor::rand(&[3, 2, 8]));
/// let kv = Variable::constant(Tensor::rand(&[5, 2, 8]));
/// let (out, weights) = mha.forward(&q, &kv, &kv, None, None)?;
/// assert_eq!(out.shape(), [3, 2, 8]);
/// assert_eq!(weights.shape(), [2, 3, 5]);
/// # Ok(())
/// # }
/// ```
pub struct MultiheadAttention {
    embed_dim: usize,
    num_heads: usize,
    dropout: f64,
    batch_first: bool,
    in_proj_weight: Variable,
    in_proj_bias: Option<Variable>,
    out_proj: Linear,
    training: AtomicBool,
}

impl MultiheadAttention {
    /// `MultiheadAttention(embed_dim, num_heads)`: no dropout, biases,
    /// sequence-first inputs.
    pub fn new(embed_dim: usize, num_heads: usize) -> Result<MultiheadAttention> {
        MultiheadAttention::with_options(embed_dim, num_heads, 0.0, true, false)
    }

    /// `MultiheadAttention(embed_dim, num_heads, dropout, bias,
    /// batch_first=...)`; fails unless `embed_dim` is a positive multiple of
    /// `num_heads` and `dropout` is in `[0, 1]`.
    pub fn with_options(
        embed_dim: usize,
        num_heads: usize,
        dropout: f64,
        bias: bool,
        batch_first: bool,
    ) -> Result<MultiheadAttention> {
        if embed_dim == 0 || num_heads == 0 || !embed_dim.is_multiple_of(num_heads) {
            return Err(NnError::config(
                "MultiheadAttention",
                format!(
                    "embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads})"
                ),
            ));
        }
        if !(0.0..=1.0).contains(&dropout) {
            return Err(NnError::config(
                "MultiheadAttention",
                format!("dropout probability has to be between 0 and 1, but got {dropout}"),
            ));
        }
        let in_proj_weight = Variable::parameter(Tensor::zeros(&[3 * embed_dim, embed_dim]));
        xavier_uniform_(&in_proj_weight, 1.0)?;
        let in_proj_bias = bias.then(|| Variable::parameter(Tensor::zeros(&[3 * embed_dim])));
        let out_proj = Linear::with_bias(embed_dim, embed_dim, bias)?;
        if let Some(b) = out_proj.bias() {
            zeros_(b)?;
        }
        Ok(MultiheadAttention {
            embed_dim,
            num_heads,
            dropout,
            batch_first,
            in_proj_weight,
            in_proj_bias,
            out_proj,
            training: AtomicBool::new(true),
        })
    }

    /// The model dimension `E`.
    pub fn embed_dim(&self) -> usize {
        self.embed_dim
    }

    /// The number of heads.
    pub fn num_heads(&self) -> usize {
        self.num_heads
    }

    /// The dimension of one head, `E / num_heads`.
    pub fn head_dim(&self) -> usize {
        self.embed_dim / self.num_heads
    }

    /// The dropout probability on the attention weights.
    pub fn dropout(&self) -> f64 {
        self.dropout
    }

    /// Whether inputs are `[N, L, E]` (else `[L, N, E]`).
    pub fn batch_first(&self) -> bool {
        self.batch_first
    }

    /// The stacked query/key/value projection, `[3E, E]`.
    pub fn in_proj_weight(&self) -> &Variable {
        &self.in_proj_weight
    }

    /// The stacked projection bias, `[3E]`, if the layer has biases.
    pub fn in_proj_bias(&self) -> Option<&Variable> {
        self.in_proj_bias.as_ref()
    }

    /// The output projection.
    pub fn out_proj(&self) -> &Linear {
        &self.out_proj
    }

    /// Attends `query` to `key`/`value`; returns the output (shaped like
    /// `query`) and the attention weights averaged over the heads
    /// (`[N, L, S]`, or `[L, S]` for unbatched inputs), as PyTorch's
    /// `forward(query, key, value, key_padding_mask, need_weights=True,
    /// attn_mask, average_attn_weights=True)`.
    ///
    /// Inputs are `[L, N, E]`/`[S, N, E]` (`[N, L, E]`/`[N, S, E]` with
    /// `batch_first`) or unbatched `[L, E]`/`[S, E]`. `key_padding_mask`
    /// is `[N, S]` (`[S]` unbatched) and `attn_mask` `[L, S]` or
    /// `[N · num_heads, L, S]`; a bool mask marks with `true` the positions
    /// that may not be attended, a float mask is added to the scores. A
    /// query whose every key is masked gets NaN weights, as in PyTorch.
    pub fn forward(
        &self,
        query: &Variable,
        key: &Variable,
        value: &Variable,
        key_padding_mask: Option<&Tensor>,
        attn_mask: Option<&Tensor>,
    ) -> Result<(Variable, Variable)> {
        let (qs, ks, vs) = (query.shape(), key.shape(), value.shape());
        let e = self.embed_dim;
        let rank = qs.len();
        let bad_shapes = (rank != 2 && rank != 3)
            || ks.len() != rank
            || ks != vs
            || qs[rank - 1] != e
            || ks[rank - 1] != e
            || (rank == 3
                && qs[usize::from(!self.batch_first)] != ks[usize::from(!self.batch_first)]);
        if bad_shapes {
            return Err(NnError::input(
                "MultiheadAttention",
                format!(
                    "expected query, key and value of shapes [L, N, {e}], [S, N, {e}], [S, N, {e}] ([N, *, {e}] with batch_first, or unbatched [*, {e}]), got {qs:?}, {ks:?} and {vs:?}"
                ),
            ));
        }
        let batched = rank == 3;
        let to_nle = |x: &Variable| -> Result<Variable> {
            Ok(if !batched {
                x.unsqueeze(0)?
            } else if self.batch_first {
                x.clone()
            } else {
                x.transpose(0, 1)?
            })
        };
        let (q, k, v) = (to_nle(query)?, to_nle(key)?, to_nle(value)?);
        let (n, l, s) = (q.shape()[0], q.shape()[1], k.shape()[1]);
        let (h, hd) = (self.num_heads, self.head_dim());

        let w = &self.in_proj_weight;
        let part = |x: &Variable, i: usize| x.narrow(0, (i * e) as i64, e);
        let project = |x: &Variable, i: usize| -> Result<Variable> {
            let b = self.in_proj_bias.as_ref().map(|b| part(b, i)).transpose()?;
            Ok(af::linear(x, &part(w, i)?, b.as_ref())?)
        };
        let heads = |x: &Variable, len: usize| -> Result<Variable> {
            Ok(x.reshape(&[n as i64, len as i64, h as i64, hd as i64])?
                .permute(&[0, 2, 1, 3])?)
        };
        let qh = heads(&project(&q, 0)?, l)?;
        let kh = heads(&project(&k, 1)?, s)?;
        let vh = heads(&project(&v, 2)?, s)?;

        let mut scores = qh
            .matmul(&kh.transpose(-1, -2)?)?
            .mul_scalar(1.0 / (hd as f64).sqrt());
        if let Some(m) = attn_mask {
            let ms = m.shape();
            let m4 = if ms == [l, s] {
                m.clone()
            } else if ms == [n * h, l, s] {
                m.reshape(&[n as i64, h as i64, l as i64, s as i64])?
            } else {
                return Err(NnError::input(
                    "MultiheadAttention",
                    format!(
                        "expected attn_mask of shape [{l}, {s}] or [{}, {l}, {s}], got {ms:?}",
                        n * h
                    ),
                ));
            };
            scores = apply_mask(scores, &m4, "attn_mask")?;
        }
        if let Some(m) = key_padding_mask {
            let want: Vec<usize> = if batched { vec![n, s] } else { vec![s] };
            if m.shape() != want {
                return Err(NnError::input(
                    "MultiheadAttention",
                    format!(
                        "expected key_padding_mask of shape {want:?}, got {:?}",
                        m.shape()
                    ),
                ));
            }
            let m4 = m.reshape(&[n as i64, 1, 1, s as i64])?;
            scores = apply_mask(scores, &m4, "key_padding_mask")?;
        }
        let mut attn = scores.softmax(-1)?;
        if self.dropout > 0.0 && self.is_training() {
            attn = crate::functional::dropout(&attn, self.dropout, true, None)?;
        }
        let joined = attn
            .matmul(&vh)?
            .permute(&[0, 2, 1, 3])?
            .reshape(&[n as i64, l as i64, e as i64])?;
        let out = self.out_proj.forward(&joined)?;
        let weights = attn.mean_dim(1)?;
        Ok(if !batched {
            (out.squeeze(0)?, weights.squeeze(0)?)
        } else if self.batch_first {
            (out, weights)
        } else {
            (out.transpose(0, 1)?, weights)
        })
    }
}

impl Module for MultiheadAttention {
    /// Self-attention without masks: the output of
    /// [`MultiheadAttention::forward`]`(x, x, x, None, None)`.
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(MultiheadAttention::forward(self, x, x, x, None, None)?.0)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![("out_proj", &self.out_proj)]
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        let mut out = vec![("in_proj_weight", self.in_proj_weight.clone())];
        out.extend(
            self.in_proj_bias
                .iter()
                .map(|b| ("in_proj_bias", b.clone())),
        );
        out
    }

    fn set_local_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{close, rand, vals};

    #[test]
    fn init_names_and_shapes() {
        let mha = MultiheadAttention::new(6, 3).unwrap();
        let names: Vec<String> = mha.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "in_proj_weight",
                "in_proj_bias",
                "out_proj.weight",
                "out_proj.bias"
            ]
        );
        assert_eq!(mha.in_proj_weight().shape(), [18, 6]);
        let a = (6.0f64 / 24.0).sqrt();
        assert!(vals(mha.in_proj_weight()).iter().all(|x| x.abs() <= a));
        assert!(vals(mha.in_proj_bias().unwrap()).iter().all(|&x| x == 0.0));
        assert!(vals(mha.out_proj().bias().unwrap())
            .iter()
            .all(|&x| x == 0.0));
        assert!(MultiheadAttention::new(6, 4).is_err());
        assert_eq!(
            MultiheadAttention::with_options(6, 3, 0.0, false, false)
                .unwrap()
                .parameters()
                .len(),
            2
        );

        let (out, w) = mha
            .forward(
                &rand(&[3, 2, 6]),
                &rand(&[5, 2, 6]),
                &rand(&[5, 2, 6]),
                None,
                None,
            )
            .unwrap();
        assert_eq!((out.shape(), w.shape()), (vec![3, 2, 6], vec![2, 3, 5]));
        let bf = MultiheadAttention::with_options(6, 2, 0.0, true, true).unwrap();
        let (out, w) = bf
            .forward(
                &rand(&[2, 3, 6]),
                &rand(&[2, 5, 6]),
                &rand(&[2, 5, 6]),
                None,
                None,
            )
            .unwrap();
        assert_eq!((out.shape(), w.shape()), (vec![2, 3, 6], vec![2, 3, 5]));
        let (out, w) = bf
            .forward(&rand(&[3, 6]), &rand(&[5, 6]), &rand(&[5, 6]), None, None)
            .unwrap();
        assert_eq!((out.shape(), w.shape()), (vec![3, 6], vec![3, 5]));
        for row in vals(&w).chunks(5) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5);
        }
        assert!(bf
            .forward(
                &rand(&[2, 3, 6]),
                &rand(&[3, 5, 6]),
                &rand(&[3, 5, 6]),
                None,
                None
            )
            .is_err());
        assert!(bf
            .forward(
                &rand(&[2, 3, 4]),
                &rand(&[2, 5, 4]),
                &rand(&[2, 5, 4]),
                None,
                None
            )
            .is_err());
    }

    /// One head with identity projections: softmax(QKᵀ/√d) V.
    fn identity_mha() -> MultiheadAttention {
        let mha = MultiheadAttention::new(2, 1).unwrap();
        let eye3 = [
            1.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0,
        ];
        mha.in_proj_weight()
            .set_data(Tensor::from_slice(&eye3, &[6, 2]).unwrap())
            .unwrap();
        mha.out_proj().weight().set_data(Tensor::eye(2)).unwrap();
        mha
    }

    #[test]
    fn hand_checked_single_head() {
        let mha = identity_mha();
        let q = [1.0f64, 0.0, 0.0, 2.0];
        let k = [1.0f64, 1.0, -1.0, 0.5, 0.0, 0.0];
        let v = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0];
        let var = |x: &[f64], s: &[usize]| {
            Variable::constant(Tensor::from_slice(x, s).unwrap().to_dtype(DType::F32))
        };
        // Unbatched: [L = 2, E], [S = 3, E].
        let (out, w) = mha
            .forward(
                &var(&q, &[2, 2]),
                &var(&k, &[3, 2]),
                &var(&v, &[3, 2]),
                None,
                None,
            )
            .unwrap();
        let mut want_w = Vec::new();
        let mut want_o = Vec::new();
        for i in 0..2 {
            let sc: Vec<f64> = (0..3)
                .map(|j| (q[2 * i] * k[2 * j] + q[2 * i + 1] * k[2 * j + 1]) / 2f64.sqrt())
                .collect();
            let m = sc.iter().cloned().fold(f64::MIN, f64::max);
            let z: f64 = sc.iter().map(|s| (s - m).exp()).sum();
            let p: Vec<f64> = sc.iter().map(|s| (s - m).exp() / z).collect();
            for d in 0..2 {
                want_o.push((0..3).map(|j| p[j] * v[2 * j + d]).sum::<f64>());
            }
            want_w.extend(p);
        }
        close(&vals(&w), &want_w, 1e-6);
        close(&vals(&out), &want_o, 1e-5);
    }

    #[test]
    fn masks() {
        let mha = identity_mha();
        let x = rand(&[3, 1, 2]);
        // Causal bool mask: true above the diagonal.
        let causal = Tensor::from_slice(
            &[false, true, true, false, false, true, false, false, false],
            &[3, 3],
        )
        .unwrap();
        let (_, w) = mha.forward(&x, &x, &x, None, Some(&causal)).unwrap();
        let w = vals(&w);
        for (i, x) in w.iter().enumerate() {
            if i % 3 > i / 3 {
                assert_eq!(*x, 0.0);
            }
        }
        assert!((w[0] - 1.0).abs() < 1e-6);
        // The same as an additive float mask, and as a per-head mask.
        let float = Tensor::zeros(&[3, 3])
            .masked_fill(&causal, f64::NEG_INFINITY)
            .unwrap();
        let (_, wf) = mha.forward(&x, &x, &x, None, Some(&float)).unwrap();
        close(&vals(&wf), &w, 1e-7);
        let per_head = causal.reshape(&[1, 3, 3]).unwrap();
        let (_, wh) = mha.forward(&x, &x, &x, None, Some(&per_head)).unwrap();
        close(&vals(&wh), &w, 1e-7);
        assert!(mha
            .forward(&x, &x, &x, None, Some(&Tensor::zeros(&[2, 3])))
            .is_err());

        // Key padding: batch 0 ignores key 2, batch 1 ignores key 0.
        let xb = rand(&[3, 2, 2]);
        let pad = Tensor::from_slice(&[false, false, true, true, false, false], &[2, 3]).unwrap();
        let (_, w) = mha.forward(&xb, &xb, &xb, Some(&pad), None).unwrap();
        let w = vals(&w); // [2, 3, 3]
        for i in 0..3 {
            assert_eq!(w[i * 3 + 2], 0.0);
            assert_eq!(w[9 + i * 3], 0.0);
        }
        assert!(mha
            .forward(
                &xb,
                &xb,
                &xb,
                Some(&Tensor::zeros_dtype(&[2, 3], DType::I64)),
                None
            )
            .is_err());
        assert!(mha
            .forward(
                &xb,
                &xb,
                &xb,
                Some(&Tensor::zeros_dtype(&[3, 2], DType::Bool)),
                None
            )
            .is_err());
    }

    #[test]
    fn gradient_reaches_every_parameter() {
        let mha = MultiheadAttention::with_options(4, 2, 0.0, true, true).unwrap();
        let q = Variable::parameter(Tensor::rand(&[2, 3, 4]));
        let kv = Variable::parameter(Tensor::rand(&[2, 5, 4]));
        let (out, _) = mha.forward(&q, &kv, &kv, None, None).unwrap();
        out.mul(&rand(&[2, 3, 4]))
            .unwrap()
            .sum()
            .backward()
            .unwrap();
        for (name, p) in mha
            .named_parameters()
            .into_iter()
            .chain([("query".to_string(), q), ("key".to_string(), kv)])
        {
            let g = p.grad().unwrap_or_else(|| panic!("no gradient for {name}"));
            assert_eq!(g.shape(), p.shape());
            assert!(
                vals(&Variable::constant(g)).iter().any(|&x| x != 0.0),
                "{name}"
            );
        }

        // Dropout on the weights only in training mode.
        let d = MultiheadAttention::with_options(4, 2, 0.5, true, true).unwrap();
        let x = rand(&[1, 6, 4]);
        d.eval();
        let (a, _) = d.forward(&x, &x, &x, None, None).unwrap();
        let (b, _) = d.forward(&x, &x, &x, None, None).unwrap();
        assert_eq!(vals(&a), vals(&b));
        d.train();
        let (_, w) = d.forward(&x, &x, &x, None, None).unwrap();
        assert!(vals(&w).contains(&0.0));
    }

    #[test]
    fn gradcheck_inputs() {
        let mha = MultiheadAttention::new(4, 2).unwrap();
        for p in mha.parameters() {
            p.set_data(p.data().to_dtype(DType::F64)).unwrap();
        }
        let f64s = |s: &[usize]| Tensor::rand(s).to_dtype(DType::F64);
        let pad = Tensor::from_slice(&[false, true, false, false, false, true], &[2, 3]).unwrap();
        torchlet_autograd::gradcheck(
            |v: &[Variable]| {
                let (out, w) = mha.forward(&v[0], &v[1], &v[2], Some(&pad), None).unwrap();
                out.sum().add(&w.square().sum())
            },
            &[f64s(&[2, 2, 4]), f64s(&[3, 2, 4]), f64s(&[3, 2, 4])],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}
