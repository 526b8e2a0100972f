//! Lookup tables: [`Embedding`].

use torchlet_autograd::{functional, Variable};
use torchlet_tensor::{DType, Tensor};

use crate::error::{NnError, Result};
use crate::module::Module;

/// A lookup table of `num_embeddings` vectors of size `embedding_dim`
/// (`torch.nn.Embedding`): int64 indices of any shape `[*]` give
/// `[*, embedding_dim]`. `weight` `[num_embeddings, embedding_dim]` is
/// initialised from `N(0, 1)`; the row `padding_idx`, if any, starts at
/// zero and receives no gradient. With `max_norm`, every forward first
/// rescales, in place, the looked-up rows whose `norm_type`-norm exceeds
/// it (see [`Embedding::with_options`]).
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
    max_norm: Option<f64>,
    norm_type: f64,
    sparse: bool,
    weight: Variable,
}

/// `padding_idx` resolved against `num_embeddings` (negative counts from
/// the end).
fn resolve_padding(num_embeddings: usize, padding_idx: Option<i64>) -> Result<Option<usize>> {
    let n = num_embeddings as i64;
    match padding_idx {
        None => Ok(None),
        Some(p) if (-n..n).contains(&p) => Ok(Some(if p < 0 { p + n } else { p } as usize)),
        Some(p) => Err(NnError::config(
            "Embedding",
            format!("padding_idx must be within num_embeddings ({num_embeddings}), got {p}"),
        )),
    }
}

/// Rejects a negative or NaN `max_norm` and a NaN `norm_type`.
fn check_max_norm(max_norm: Option<f64>, norm_type: f64) -> Result<()> {
    if let Some(m) = max_norm {
        if m.is_nan() || m < 0.0 {
            return Err(NnError::config(
                "Embedding",
                format!("max_norm must be >= 0, got {m}"),
            ));
        }
    }
    if norm_type.is_nan() {
        return Err(NnError::config("Embedding", "norm_type must not be NaN"));
    }
    Ok(())
}

/// The `p`-norm of `row` as `torch.norm` computes it: the largest
/// (`inf`) or smallest (`-inf`) magnitude, the number of non-zeros (`0`),
/// or `(sum |x|^p)^(1/p)`, summed left to right with every intermediate
/// rounded to `dtype`. Accumulating in float32 like PyTorch matters at the
/// boundary: a row already rescaled to `max_norm` then measures exactly
/// `max_norm` and is not rescaled again. (PyTorch's vectorized sum of a
/// long row may associate differently and differ in the last bit.)
fn p_norm(row: &[f64], p: f64, dtype: DType) -> f64 {
    let r = |x: f64| {
        if dtype == DType::F32 {
            x as f32 as f64
        } else {
            x
        }
    };
    if p == f64::INFINITY {
        row.iter().fold(0.0, |m, x| m.max(x.abs()))
    } else if p == f64::NEG_INFINITY {
        row.iter().fold(f64::INFINITY, |m, x| m.min(x.abs()))
    } else if p == 0.0 {
        row.iter().filter(|x| **x != 0.0).count() as f64
    } else if p == 1.0 {
        row.iter().fold(0.0, |acc, x| r(acc + x.abs()))
    } else if p == 2.0 {
        r(row.iter().fold(0.0, |acc, x| r(acc + r(x * x))).sqrt())
    } else {
        let sum = row.iter().fold(0.0, |acc, x| r(acc + r(x.abs().powf(p))));
        r(sum.powf(1.0 / p))
    }
}

impl Embedding {
    /// A table without a padding index.
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> Result<Embedding> {
        Embedding::with_options(num_embeddings, embedding_dim, None, None, 2.0)
    }

    /// A table whose row `padding_idx` is zero-initialised and gets no
    /// gradient (`Embedding(n, d, padding_idx=...)`); a negative index
    /// counts from the end, as in PyTorch.
    pub fn with_padding(
        num_embeddings: usize,
        embedding_dim: usize,
        padding_idx: Option<i64>,
    ) -> Result<Embedding> {
        Embedding::with_options(num_embeddings, embedding_dim, padding_idx, None, 2.0)
    }

    /// A table with all of PyTorch's options (`Embedding(n, d,
    /// padding_idx, max_norm, norm_type)`; `norm_type` defaults to 2.0):
    ///
    /// - `padding_idx`: as in [`Embedding::with_padding`];
    /// - `max_norm`: on every forward, each row of `weight` referenced by
    ///   the indices whose `norm_type`-norm exceeds `max_norm` is scaled,
    ///   in place and outside the graph (PyTorch's
    ///   `torch.embedding_renorm_` under `no_grad`), by
    ///   `max_norm / (norm + 1e-7)`. Rows not looked up are left alone, and
    ///   the gradient of the lookup reaches the rescaled rows as if they
    ///   had been stored that way. A negative or NaN `max_norm` (which
    ///   PyTorch accepts, flipping rows) is an error here;
    /// - `norm_type`: the `p` of the norm (`f64::INFINITY` for the largest
    ///   magnitude).
    ///
    /// ```
    /// use torchlet_autograd::Variable;
    /// use torchlet_nn::{Embedding, Module, Result};
    /// use torchlet_tensor::Tensor;
    ///
    /// # fn main() -> Result<()> {
    /// let emb = Embedding::with_options(100, 8, None, Some(1.0), 2.0)?;
    /// let idx = Tensor::from_vec(vec![3i64, 42], &[2])?;
    /// emb.forward(&Variable::constant(idx))?;
    /// let row = emb.weight().data().select(0, 42)?;
    /// let norm = row.mul(&row)?.sum().to_dtype(torchlet_tensor::DType::F64).item::<f64>()?.sqrt();
    /// assert!(norm <= 1.0 + 1e-6);
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_options(
        num_embeddings: usize,
        embedding_dim: usize,
        padding_idx: Option<i64>,
        max_norm: Option<f64>,
        norm_type: f64,
    ) -> Result<Embedding> {
        if num_embeddings == 0 || embedding_dim == 0 {
            return Err(NnError::config(
                "Embedding",
                format!(
                    "num_embeddings and embedding_dim must be positive, got {num_embeddings} and {embedding_dim}"
                ),
            ));
        }
        let padding_idx = resolve_padding(num_embeddings, padding_idx)?;
        check_max_norm(max_norm, norm_type)?;
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
            max_norm,
            norm_type,
            sparse: false,
            weight: Variable::parameter(w),
        })
    }

    /// A table holding `embeddings` `[num_embeddings, embedding_dim]`
    /// (float32 or float64) as its weight
    /// (`Embedding.from_pretrained(embeddings, freeze, padding_idx,
    /// max_norm, norm_type)`; PyTorch's defaults are `freeze = true`,
    /// `norm_type = 2.0`). With `freeze` the weight does not require grad.
    /// The row `padding_idx` keeps its pretrained values but gets no
    /// gradient; `max_norm` and `norm_type` are as in
    /// [`Embedding::with_options`].
    ///
    /// ```
    /// use torchlet_autograd::Variable;
    /// use torchlet_nn::{Embedding, Module, Result};
    /// use torchlet_tensor::Tensor;
    ///
    /// # fn main() -> Result<()> {
    /// let table = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])?;
    /// let emb = Embedding::from_pretrained(table, true, None, None, 2.0)?;
    /// let y = emb.forward(&Variable::constant(Tensor::from_vec(vec![2i64, 0], &[2])?))?;
    /// assert_eq!(y.to_vec::<f32>()?, [5.0, 6.0, 1.0, 2.0]);
    /// assert!(!emb.weight().requires_grad());
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_pretrained(
        embeddings: Tensor,
        freeze: bool,
        padding_idx: Option<i64>,
        max_norm: Option<f64>,
        norm_type: f64,
    ) -> Result<Embedding> {
        if embeddings.dim() != 2 || embeddings.numel() == 0 {
            return Err(NnError::config(
                "Embedding.from_pretrained",
                format!(
                    "embeddings must be a non-empty 2-D tensor, got shape {:?}",
                    embeddings.shape()
                ),
            ));
        }
        if !embeddings.dtype().is_float() {
            return Err(NnError::config(
                "Embedding.from_pretrained",
                format!(
                    "embeddings must be float32 or float64, got {}",
                    embeddings.dtype()
                ),
            ));
        }
        let (num_embeddings, embedding_dim) = (embeddings.shape()[0], embeddings.shape()[1]);
        let padding_idx = resolve_padding(num_embeddings, padding_idx)?;
        check_max_norm(max_norm, norm_type)?;
        Ok(Embedding {
            num_embeddings,
            embedding_dim,
            padding_idx,
            max_norm,
            norm_type,
            sparse: false,
            weight: Variable::new(embeddings.contiguous(), !freeze),
        })
    }

    /// The same table with sparse gradients on or off (PyTorch's
    /// `sparse=True`): the weight's gradient then holds only the rows
    /// looked up (a [`torchlet_autograd::SparseGrad`], read with
    /// `weight().sparse_grad()`), without the `padding_idx` lookups.
    /// Optimizers that support it (SGD, Adagrad, SparseAdam) update only
    /// those rows; Adam refuses it, as in PyTorch.
    ///
    /// ```
    /// use torchlet_autograd::Variable;
    /// use torchlet_nn::{Embedding, Module, Result};
    /// use torchlet_tensor::Tensor;
    ///
    /// # fn main() -> Result<()> {
    /// let emb = Embedding::new(1000, 16)?.sparse(true);
    /// let idx = Tensor::from_vec(vec![5i64, 9, 5], &[3])?;
    /// emb.forward(&Variable::constant(idx))?.sum().backward()?;
    /// let g = emb.weight().sparse_grad().unwrap();
    /// assert_eq!(g.values().shape(), [3, 16]); // 3 lookups, not 1000 rows
    /// # Ok(())
    /// # }
    /// ```
    pub fn sparse(mut self, sparse: bool) -> Embedding {
        self.sparse = sparse;
        self
    }

    /// Whether the weight gets sparse gradients.
    pub fn is_sparse(&self) -> bool {
        self.sparse
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

    /// The largest norm a looked-up row may keep, if any.
    pub fn max_norm(&self) -> Option<f64> {
        self.max_norm
    }

    /// The `p` of the norm compared with [`Embedding::max_norm`] (2.0 by
    /// default).
    pub fn norm_type(&self) -> f64 {
        self.norm_type
    }

    /// The table, `[num_embeddings, embedding_dim]`.
    pub fn weight(&self) -> &Variable {
        &self.weight
    }

    /// Looks up the int64 `indices` (any shape `[*]`), giving
    /// `[*, embedding_dim]`. With a `max_norm`, the referenced rows of
    /// `weight` that exceed it are first rescaled in place.
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
        if let Some(max_norm) = self.max_norm {
            self.renorm_rows(&idx, max_norm)?;
        }
        if self.sparse {
            return Ok(functional::embedding_sparse(
                indices,
                &self.weight,
                self.padding_idx,
            )?);
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

impl Embedding {
    /// PyTorch's `embedding_renorm_`: each distinct row in `idx` whose
    /// norm exceeds `max_norm` is multiplied by `max_norm / (norm + 1e-7)`
    /// (the factor rounded to the weight's dtype, as PyTorch's `mul_` of a
    /// float tensor by a double does). Writes nothing when no row exceeds;
    /// otherwise one in-place multiply of the table by per-row factors
    /// (1 for the rows left alone).
    fn renorm_rows(&self, idx: &[i64], max_norm: f64) -> Result<()> {
        let mut rows = idx.to_vec();
        rows.sort_unstable();
        rows.dedup();
        if rows.is_empty() {
            return Ok(());
        }
        let d = self.embedding_dim;
        let dtype = self.weight.dtype();
        let values = {
            let picked = Tensor::from_vec(rows.clone(), &[rows.len()])?;
            let w = self.weight.data();
            w.index_select(0, &picked)?
                .to_dtype(DType::F64)
                .to_vec::<f64>()?
        };
        let mut scale: Option<Vec<f64>> = None;
        for (k, &r) in rows.iter().enumerate() {
            let norm = p_norm(&values[k * d..(k + 1) * d], self.norm_type, dtype);
            if norm > max_norm {
                scale.get_or_insert_with(|| vec![1.0; self.num_embeddings])[r as usize] =
                    max_norm / (norm + 1e-7);
            }
        }
        if let Some(scale) = scale {
            let scale = Tensor::from_vec(scale, &[self.num_embeddings, 1])?;
            self.weight.update_data(|w| w.mul_(&scale))??;
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(v: &[i64]) -> Variable {
        Variable::constant(Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap())
    }

    fn rows(t: &Tensor) -> Vec<Vec<f32>> {
        let d = t.shape()[1];
        t.to_vec::<f32>()
            .unwrap()
            .chunks(d)
            .map(<[f32]>::to_vec)
            .collect()
    }

    /// PyTorch's renorm of one element: `x * float(max_norm / (norm + 1e-7))`
    /// rounded to float32.
    fn renormed(x: f32, norm: f64, max_norm: f64) -> f32 {
        x * (max_norm / (norm + 1e-7)) as f32
    }

    /// Rows [3, 4] (norm 5), [0.3, 0.4] (0.5), [6, 8] (10), [1, 0] (1).
    fn table() -> Tensor {
        Tensor::from_vec(vec![3.0f32, 4.0, 0.3, 0.4, 6.0, 8.0, 1.0, 0.0], &[4, 2]).unwrap()
    }

    #[test]
    fn max_norm_renorms_referenced_rows_only() {
        let emb = Embedding::from_pretrained(table(), false, None, Some(1.0), 2.0).unwrap();
        let y = emb.forward(&idx(&[0, 1, 0, 3])).unwrap();
        // Row 0 (norm 5 > 1) becomes [0.6, 0.8]: 1 / (5 + 1e-7) rounds to
        // 0.2 in float32, and 3 * 0.2, 4 * 0.2 round to 0.6, 0.8. Row 1
        // (norm 0.5) and row 3 (exactly 1, not above max_norm) are
        // unchanged; row 2 (norm 10) is not referenced and keeps its values.
        let r0 = [renormed(3.0, 5.0, 1.0), renormed(4.0, 5.0, 1.0)];
        assert_eq!(r0, [0.6, 0.8]);
        let want = vec![r0.to_vec(), vec![0.3, 0.4], vec![6.0, 8.0], vec![1.0, 0.0]];
        assert_eq!(rows(&emb.weight().data()), want);
        // The output is a lookup of the rescaled table.
        assert_eq!(
            y.to_vec::<f32>().unwrap(),
            [r0[0], r0[1], 0.3, 0.4, r0[0], r0[1], 1.0, 0.0]
        );
        // A second forward finds row 0 at norm 1 (in float32, as PyTorch
        // computes it: 0.36000002 + 0.64000002 rounds to 1) and leaves it.
        emb.forward(&idx(&[0])).unwrap();
        assert_eq!(rows(&emb.weight().data()), want);
    }

    #[test]
    fn max_norm_gradient_flows_as_a_plain_lookup() {
        let emb = Embedding::from_pretrained(table(), false, None, Some(1.0), 2.0).unwrap();
        let y = emb.forward(&idx(&[0, 2, 0])).unwrap();
        // loss = sum(y * c): d/dweight[row] sums c over the positions
        // looking it up; the renorm itself is not differentiated.
        let c = Variable::constant(
            Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]).unwrap(),
        );
        y.mul(&c).unwrap().sum().backward().unwrap();
        let g = emb.weight().grad().unwrap();
        assert_eq!(
            rows(&g),
            vec![
                vec![6.0, 8.0],
                vec![0.0, 0.0],
                vec![3.0, 4.0],
                vec![0.0, 0.0]
            ]
        );
        // Rows 0 and 2 were both rescaled to norm 1.
        let w = rows(&emb.weight().data());
        assert_eq!(w[0], [renormed(3.0, 5.0, 1.0), renormed(4.0, 5.0, 1.0)]);
        assert_eq!(w[2], [renormed(6.0, 10.0, 1.0), renormed(8.0, 10.0, 1.0)]);
    }

    #[test]
    fn norm_type_picks_the_norm() {
        let t = || Tensor::from_vec(vec![3.0f32, -4.0], &[1, 2]).unwrap();
        // L1 norm 7 -> max_norm 3.5: about [1.5, -2].
        let emb = Embedding::from_pretrained(t(), true, None, Some(3.5), 1.0).unwrap();
        emb.forward(&idx(&[0])).unwrap();
        let want = [renormed(3.0, 7.0, 3.5), renormed(-4.0, 7.0, 3.5)];
        assert_eq!(emb.weight().data().to_vec::<f32>().unwrap(), want);
        assert!((want[0] - 1.5).abs() < 1e-6 && (want[1] + 2.0).abs() < 1e-6);
        // Max norm 4 -> max_norm 2: about [1.5, -2] again.
        let emb = Embedding::from_pretrained(t(), true, None, Some(2.0), f64::INFINITY).unwrap();
        emb.forward(&idx(&[0])).unwrap();
        let want = [renormed(3.0, 4.0, 2.0), renormed(-4.0, 4.0, 2.0)];
        assert_eq!(emb.weight().data().to_vec::<f32>().unwrap(), want);
        // L3 norm (27 + 64)^(1/3) = 4.4979...: below 5, untouched.
        let emb = Embedding::from_pretrained(t(), true, None, Some(5.0), 3.0).unwrap();
        emb.forward(&idx(&[0])).unwrap();
        assert_eq!(emb.weight().data().to_vec::<f32>().unwrap(), [3.0, -4.0]);
        assert!((p_norm(&[3.0, -4.0], 3.0, DType::F64) - 91f64.cbrt()).abs() < 1e-12);
        assert_eq!(p_norm(&[3.0, 0.0, -4.0], 0.0, DType::F64), 2.0);
        assert_eq!(p_norm(&[3.0, -4.0], f64::NEG_INFINITY, DType::F64), 3.0);
        // float32 rounding: 0.6f32² + 0.8f32² is 1 in float32, not in f64.
        let (a, b) = (0.6f32 as f64, 0.8f32 as f64);
        assert_eq!(p_norm(&[a, b], 2.0, DType::F32), 1.0);
        assert!(p_norm(&[a, b], 2.0, DType::F64) > 1.0);
    }

    #[test]
    fn with_options_renorms_random_rows_and_keeps_padding() {
        let emb = Embedding::with_options(6, 4, Some(-1), Some(0.5), 2.0).unwrap();
        assert_eq!(
            (emb.padding_idx(), emb.max_norm(), emb.norm_type()),
            (Some(5), Some(0.5), 2.0)
        );
        let before = rows(&emb.weight().data());
        emb.forward(&idx(&[1, 5, 1, 2])).unwrap();
        let after = rows(&emb.weight().data());
        for r in 0..6 {
            let norm = before[r]
                .iter()
                .map(|&x| (x as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            if [1, 2].contains(&r) && norm > 0.5 {
                let want: Vec<f32> = before[r].iter().map(|&x| renormed(x, norm, 0.5)).collect();
                // f64 vs float32 accumulation of the norm: within an ulp.
                for (a, w) in after[r].iter().zip(&want) {
                    assert!((a - w).abs() <= 1e-7, "row {r}: {a} vs {w}");
                }
            } else {
                // unreferenced rows, and the zero padding row, unchanged
                assert_eq!(after[r], before[r], "row {r}");
            }
        }
        assert_eq!(after[5], [0.0; 4]);
    }

    #[test]
    fn from_pretrained_freezes_and_keeps_the_padding_row() {
        let emb = Embedding::from_pretrained(table(), true, Some(1), None, 2.0).unwrap();
        assert!(!emb.weight().requires_grad());
        assert_eq!((emb.num_embeddings(), emb.embedding_dim()), (4, 2));
        let y = emb.forward(&idx(&[1, 2])).unwrap();
        assert!(!y.requires_grad());
        assert_eq!(y.to_vec::<f32>().unwrap(), [0.3, 0.4, 6.0, 8.0]);
        assert_eq!(emb.local_parameters()[0].0, "weight");

        // Not frozen: trainable, but the padding row gets no gradient.
        let emb = Embedding::from_pretrained(table(), false, Some(1), None, 2.0).unwrap();
        let y = emb.forward(&idx(&[1, 2, 1])).unwrap();
        y.sum().backward().unwrap();
        assert_eq!(
            rows(&emb.weight().grad().unwrap()),
            vec![
                vec![0.0, 0.0],
                vec![0.0, 0.0],
                vec![1.0, 1.0],
                vec![0.0, 0.0]
            ]
        );
    }

    #[test]
    fn bad_options_are_rejected() {
        let e = |r: Result<Embedding>| r.err().expect("an error").to_string();
        assert!(e(Embedding::with_options(4, 2, None, Some(-1.0), 2.0)).contains("max_norm"));
        assert!(e(Embedding::with_options(4, 2, None, Some(1.0), f64::NAN)).contains("norm_type"));
        assert!(e(Embedding::with_options(4, 2, Some(4), None, 2.0)).contains("padding_idx"));
        let flat = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
        assert!(e(Embedding::from_pretrained(flat, true, None, None, 2.0)).contains("2-D"));
        let ints = Tensor::from_vec(vec![1i64, 2], &[1, 2]).unwrap();
        assert!(e(Embedding::from_pretrained(ints, true, None, None, 2.0)).contains("float"));
    }
}
