//! Bags of embeddings reduced to one vector each: [`EmbeddingBag`].

use std::sync::Arc;

use torchlet_autograd::ir::Attr;
use torchlet_autograd::trace::{self, OpRecord, TraceArg, Untraceable};
use torchlet_autograd::Variable;
use torchlet_tensor::{DType, Tensor};

use super::embedding::Embedding;
use crate::error::{NnError, Result};
use crate::module::Module;

/// How an [`EmbeddingBag`] reduces the vectors of one bag (PyTorch's
/// `mode='sum' | 'mean' | 'max'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BagMode {
    /// The sum of the bag's vectors (optionally weighted per sample).
    Sum,
    /// Their mean (PyTorch's default).
    #[default]
    Mean,
    /// Their elementwise maximum.
    Max,
}

/// The trace record of [`EmbeddingBag`] over 2-d bags
/// (`aten::embedding_bag`): inputs `[indices [B, L] (tensor), weight
/// [V, D]]`, output `[B, D]`; entries equal to `padding_idx` are left
/// out, and an empty bag gives zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingBagRecord {
    /// How each bag is reduced.
    pub mode: BagMode,
    /// The index left out of the bags.
    pub padding_idx: Option<i64>,
}

impl OpRecord for EmbeddingBagRecord {
    fn name(&self) -> &'static str {
        "aten::embedding_bag"
    }

    fn attrs(&self) -> Vec<(&'static str, Attr)> {
        // PyTorch's mode numbers: 0 sum, 1 mean, 2 max.
        let mode = match self.mode {
            BagMode::Sum => 0,
            BagMode::Mean => 1,
            BagMode::Max => 2,
        };
        let mut attrs = vec![("mode", Attr::Int(mode))];
        attrs.extend(self.padding_idx.map(|p| ("padding_idx", Attr::Int(p))));
        attrs
    }
}

impl EmbeddingBagRecord {
    /// Reduces the bags `input` (int64 `[B, L]`) of `weight` as the
    /// module that recorded this did, bit for bit: how a saved graph (the
    /// jit's) runs the op without the module.
    pub fn replay(&self, input: &Tensor, weight: &Variable) -> Result<Variable> {
        let table = Embedding::from_pretrained(weight.data(), true, self.padding_idx, None, 2.0)
            .map_err(|e| rename(e, "EmbeddingBag"))?;
        let bag = EmbeddingBag {
            table,
            mode: self.mode,
        };
        bag.reduce_bags(input, None, None)
    }
}

/// Sums, averages or takes the maximum of bags of embeddings without
/// materialising the looked-up `[N, L, D]` tensor for the caller
/// (`torch.nn.EmbeddingBag`): the classic bag-of-words text classifier's
/// first layer.
///
/// Bags come either as the rows of a 2-d int64 `[B, L]` input, or as a
/// 1-d input cut by `offsets` (`offsets[b]` is where bag `b` starts). The
/// entries equal to `padding_idx` are left out of their bag (a `Mean`
/// divides by the number of the others), and an empty bag gives zeros,
/// as in PyTorch. `weight` `[num_embeddings, embedding_dim]` starts from
/// `N(0, 1)` with the padding row zeroed.
///
/// ```
/// use torchlet_nn::{BagMode, EmbeddingBag, Result};
/// use torchlet_tensor::Tensor;
///
/// # fn main() -> Result<()> {
/// let bag = EmbeddingBag::with_padding(10, 4, BagMode::Mean, Some(0))?;
/// // Two sentences padded with index 0 to length 3.
/// let idx = Tensor::from_vec(vec![5i64, 7, 0, 2, 3, 9], &[2, 3])?;
/// let out = bag.forward_bags(&idx, None, None)?;
/// assert_eq!(out.shape(), [2, 4]);
/// // The first bag is the mean of rows 5 and 7 only.
/// let w = bag.weight().data();
/// let want = w.select(0, 5)?.add(&w.select(0, 7)?)?.mul_scalar(0.5);
/// let got = out.data().select(0, 0)?;
/// for (a, b) in got.to_vec::<f32>()?.iter().zip(want.to_vec::<f32>()?) {
///     assert!((a - b).abs() < 1e-6);
/// }
/// # Ok(())
/// # }
/// ```
pub struct EmbeddingBag {
    table: Embedding,
    mode: BagMode,
}

impl EmbeddingBag {
    /// A table of `num_embeddings` vectors of size `embedding_dim`
    /// reduced with `mode`, without a padding index.
    pub fn new(num_embeddings: usize, embedding_dim: usize, mode: BagMode) -> Result<EmbeddingBag> {
        EmbeddingBag::with_padding(num_embeddings, embedding_dim, mode, None)
    }

    /// As [`EmbeddingBag::new`], leaving the entries equal to
    /// `padding_idx` out of every bag (negative counts from the end).
    pub fn with_padding(
        num_embeddings: usize,
        embedding_dim: usize,
        mode: BagMode,
        padding_idx: Option<i64>,
    ) -> Result<EmbeddingBag> {
        let table = Embedding::with_padding(num_embeddings, embedding_dim, padding_idx)
            .map_err(|e| rename(e, "EmbeddingBag"))?;
        Ok(EmbeddingBag { table, mode })
    }

    /// The same bags with sparse weight gradients on or off (PyTorch's
    /// `sparse=True`): the gradient holds one row per entry that entered a
    /// bag (padding and the filler of short bags left out), so optimizers
    /// with sparse updates touch only those rows. See
    /// [`Embedding::sparse`].
    pub fn sparse(mut self, sparse: bool) -> EmbeddingBag {
        self.table = self.table.sparse(sparse);
        self
    }

    /// Whether the weight gets sparse gradients.
    pub fn is_sparse(&self) -> bool {
        self.table.is_sparse()
    }

    /// The reduction.
    pub fn mode(&self) -> BagMode {
        self.mode
    }

    /// The number of vectors in the table.
    pub fn num_embeddings(&self) -> usize {
        self.table.num_embeddings()
    }

    /// The size of each vector.
    pub fn embedding_dim(&self) -> usize {
        self.table.embedding_dim()
    }

    /// The index left out of the bags, if any.
    pub fn padding_idx(&self) -> Option<usize> {
        self.table.padding_idx()
    }

    /// The table, `[num_embeddings, embedding_dim]`.
    pub fn weight(&self) -> &Variable {
        self.table.weight()
    }

    /// Reduces each bag to one `embedding_dim` vector, giving `[B, D]`.
    ///
    /// - `input`: int64, either `[B, L]` (each row a bag; `offsets` must
    ///   be `None`) or `[M]` with `offsets`;
    /// - `offsets`: int64 `[B]`, non-decreasing, starting at 0, each at
    ///   most `M` (PyTorch's `include_last_offset=False`);
    /// - `per_sample_weights`: one weight per entry of `input` (same
    ///   shape), only with [`BagMode::Sum`]; gradients flow into it.
    ///
    /// In a trace (ONNX export) the whole reduction is one
    /// [`EmbeddingBagRecord`] over the input (so its padding mask is
    /// computed in the graph, not frozen from the example). Bags given by
    /// `offsets`, and per-sample weights, trace as an op without an ONNX
    /// mapping.
    pub fn forward_bags(
        &self,
        input: &Tensor,
        offsets: Option<&Tensor>,
        per_sample_weights: Option<&Variable>,
    ) -> Result<Variable> {
        trace::traced(
            || {
                let args = vec![
                    TraceArg::Tensor(input.clone()),
                    TraceArg::var(self.weight()),
                ];
                if offsets.is_some() || per_sample_weights.is_some() {
                    let record: Arc<dyn OpRecord> = Arc::new(Untraceable(
                        "EmbeddingBag with offsets or per_sample_weights",
                    ));
                    return (record, args);
                }
                let record = EmbeddingBagRecord {
                    mode: self.mode,
                    padding_idx: self.padding_idx().map(|p| p as i64),
                };
                (Arc::new(record) as Arc<dyn OpRecord>, args)
            },
            || self.reduce_bags(input, offsets, per_sample_weights),
        )
    }

    /// [`EmbeddingBag::forward_bags`] without the trace record.
    fn reduce_bags(
        &self,
        input: &Tensor,
        offsets: Option<&Tensor>,
        per_sample_weights: Option<&Variable>,
    ) -> Result<Variable> {
        let bad = |m: String| Err(NnError::input("EmbeddingBag", m));
        if input.dtype() != DType::I64 {
            return bad(format!(
                "expected int64 indices, got dtype {}",
                input.dtype()
            ));
        }
        if let Some(w) = per_sample_weights {
            if self.mode != BagMode::Sum {
                return bad(format!(
                    "per_sample_weights are only supported for mode Sum, got {:?}",
                    self.mode
                ));
            }
            if w.shape() != input.shape() {
                return bad(format!(
                    "per_sample_weights of shape {:?} do not match input of shape {:?}",
                    w.shape(),
                    input.shape()
                ));
            }
        }
        if self.is_sparse() && self.mode == BagMode::Max {
            return bad("sparse gradients are not supported with mode Max, as in PyTorch".into());
        }
        let bags = Bags::new(input, offsets)?;
        let padded = Tensor::from_vec(bags.padded_indices(), &[bags.count, bags.width])?;
        // [B, L, D]; the filler entries point at row 0 and are masked out.
        let keep = bags.keep(self.padding_idx());
        let vectors = if self.is_sparse() {
            let mask = Tensor::from_vec(keep.clone(), &[bags.count, bags.width])?;
            torchlet_autograd::functional::embedding_sparse_masked(&padded, self.weight(), &mask)?
        } else {
            self.table.forward_indices(&padded)?
        };
        let dim = self.embedding_dim();
        if self.mode == BagMode::Max {
            let drop = Tensor::from_vec(
                keep.iter().map(|&k| !k).collect::<Vec<bool>>(),
                &[bags.count, bags.width, 1],
            )?;
            let empty = Tensor::from_vec(
                (0..bags.count)
                    .map(|b| !keep[b * bags.width..(b + 1) * bags.width].contains(&true))
                    .collect::<Vec<bool>>(),
                &[bags.count, 1],
            )?;
            if bags.width == 0 {
                return Ok(Variable::constant(Tensor::zeros_dtype(
                    &[bags.count, dim],
                    vectors.dtype(),
                )));
            }
            let masked = vectors.masked_fill(&Variable::constant(drop), f64::NEG_INFINITY)?;
            let (max, _) = masked.max_dim(1, false)?;
            // An empty bag's maximum is -inf: PyTorch gives zeros.
            let zeros = Variable::constant(Tensor::zeros_dtype(&[bags.count, dim], max.dtype()));
            return Ok(Variable::where_cond(&empty, &zeros, &max)?);
        }
        let mut weights: Vec<f64> = keep.iter().map(|&k| f64::from(u8::from(k))).collect();
        if self.mode == BagMode::Mean {
            for row in weights.chunks_mut(bags.width.max(1)) {
                let n: f64 = row.iter().sum();
                if n > 0.0 {
                    row.iter_mut().for_each(|w| *w /= n);
                }
            }
        }
        let weights =
            Tensor::from_vec(weights, &[bags.count, bags.width, 1])?.to_dtype(vectors.dtype());
        let mut weights = Variable::constant(weights);
        if let Some(w) = per_sample_weights {
            let w = bags.pad_weights(w)?.unsqueeze(-1)?;
            weights = weights.mul(&w)?;
        }
        Ok(vectors.mul(&weights)?.sum_dim(1)?)
    }
}

impl Module for EmbeddingBag {
    /// `x` holds int64 `[B, L]` indices, one bag per row.
    fn forward(&self, x: &Variable) -> Result<Variable> {
        self.forward_bags(&x.data(), None, None)
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        vec![("weight", self.weight().clone())]
    }
}

/// Puts `EmbeddingBag` instead of `Embedding` in an error's op name.
fn rename(e: NnError, module: &'static str) -> NnError {
    match e {
        NnError::Config { message, .. } => NnError::config(module, message),
        NnError::Input { message, .. } => NnError::input(module, message),
        other => other,
    }
}

/// The bags of a forward call as a rectangular `[count, width]` layout:
/// entry `(b, j)` is `input[start[b] + j]` for `j < len[b]`.
struct Bags {
    indices: Vec<i64>,
    starts: Vec<usize>,
    lens: Vec<usize>,
    count: usize,
    width: usize,
}

impl Bags {
    fn new(input: &Tensor, offsets: Option<&Tensor>) -> Result<Bags> {
        let bad = |m: String| Err(NnError::input("EmbeddingBag", m));
        let indices = input.to_vec::<i64>()?;
        let (starts, lens) = match (input.dim(), offsets) {
            (2, None) => {
                let [b, l] = [input.shape()[0], input.shape()[1]];
                ((0..b).map(|i| i * l).collect::<Vec<usize>>(), vec![l; b])
            }
            (2, Some(_)) => {
                return bad("offsets must be None when the input is 2-d".to_string());
            }
            (1, None) => {
                return bad("a 1-d input needs offsets (where each bag starts)".to_string());
            }
            (1, Some(off)) => {
                if off.dtype() != DType::I64 || off.dim() != 1 {
                    return bad(format!(
                        "offsets must be a 1-d int64 tensor, got dtype {} and shape {:?}",
                        off.dtype(),
                        off.shape()
                    ));
                }
                let off = off.to_vec::<i64>()?;
                let m = indices.len() as i64;
                if off.first().is_some_and(|&o| o != 0) {
                    return bad(format!("offsets[0] must be 0, got {}", off[0]));
                }
                if let Some(w) = off.windows(2).find(|w| w[1] < w[0]) {
                    return bad(format!(
                        "offsets must be non-decreasing, got {} after {}",
                        w[1], w[0]
                    ));
                }
                if let Some(o) = off.iter().find(|&&o| o > m) {
                    return bad(format!("offset {o} is past the input's {m} entries"));
                }
                let ends = off.iter().skip(1).copied().chain([m]);
                let lens = off.iter().zip(ends).map(|(&s, e)| (e - s) as usize);
                (off.iter().map(|&o| o as usize).collect(), lens.collect())
            }
            (d, _) => {
                return bad(format!(
                    "expected a 1-d (with offsets) or 2-d input, got {d} dims (shape {:?})",
                    input.shape()
                ));
            }
        };
        let width = lens.iter().copied().max().unwrap_or(0);
        Ok(Bags {
            count: starts.len(),
            indices,
            starts,
            lens,
            width,
        })
    }

    /// `[count * width]` indices, filler entries 0.
    fn padded_indices(&self) -> Vec<i64> {
        let mut out = vec![0; self.count * self.width];
        for b in 0..self.count {
            let (s, l) = (self.starts[b], self.lens[b]);
            out[b * self.width..b * self.width + l].copy_from_slice(&self.indices[s..s + l]);
        }
        out
    }

    /// Whether entry `(b, j)` counts: inside its bag and not padding.
    fn keep(&self, padding_idx: Option<usize>) -> Vec<bool> {
        let mut keep = vec![false; self.count * self.width];
        for b in 0..self.count {
            let (s, l) = (self.starts[b], self.lens[b]);
            for j in 0..l {
                keep[b * self.width + j] = padding_idx != Some(self.indices[s + j] as usize);
            }
        }
        keep
    }

    /// The per-sample weights `[M]` or `[B, L]` laid out as `[count,
    /// width]` (zeros in the filler), keeping the graph.
    fn pad_weights(&self, w: &Variable) -> Result<Variable> {
        let flat = w.reshape(&[-1])?;
        if self.count * self.width == 0 {
            return Ok(Variable::constant(Tensor::zeros_dtype(
                &[self.count, self.width],
                w.dtype(),
            )));
        }
        // Gather with a filler index 0 whose value is then zeroed by the
        // bag's keep-mask (computed by the caller).
        let mut pos = vec![0i64; self.count * self.width];
        for b in 0..self.count {
            for j in 0..self.lens[b] {
                pos[b * self.width + j] = (self.starts[b] + j) as i64;
            }
        }
        let pos = Tensor::from_vec(pos, &[self.count * self.width])?;
        Ok(flat
            .index_select(0, &pos)?
            .reshape(&[self.count as i64, self.width as i64])?)
    }
}

#[cfg(test)]
mod tests;
