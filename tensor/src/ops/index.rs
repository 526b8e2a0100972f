//! Joining and indexing: cat, stack, index_select, gather, scatter,
//! scatter_add, index_add, where, masked_fill.

use std::borrow::Borrow;

use crate::dtype::{DType, Element};
use crate::error::{Result, TensorError};
use crate::layout::{broadcast_shapes, normalize_dim, normalize_insert_dim};
use crate::tensor::{with_dtype, with_numeric, Tensor};

/// Checks that `index` is int64 and returns its values, each wrapped
/// (negative counts from the end) and bounds-checked against `size`.
fn index_values(op: &'static str, index: &Tensor, dim: usize, size: usize) -> Result<Vec<usize>> {
    if index.dtype() != DType::I64 {
        return Err(TensorError::dtype(
            op,
            "an int64 index tensor",
            index.dtype(),
        ));
    }
    index
        .values::<i64>()
        .iter()
        .map(|&i| {
            let w = if i < 0 { i + size as i64 } else { i };
            if w < 0 || w >= size as i64 {
                Err(TensorError::IndexOutOfRange {
                    op,
                    index: i,
                    dim,
                    size,
                })
            } else {
                Ok(w as usize)
            }
        })
        .collect()
}

impl Tensor {
    /// Joins tensors along an existing dimension (`torch.cat`). All must
    /// have the same shape except along `dim`; dtypes are promoted.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let a = Tensor::ones(&[2, 1]);
    /// let b = Tensor::zeros(&[2, 2]);
    /// let c = Tensor::cat(&[&a, &b], 1).unwrap();
    /// assert_eq!(c.shape(), &[2, 3]);
    /// assert_eq!(c.to_vec::<f32>().unwrap(), vec![1., 0., 0., 1., 0., 0.]);
    /// ```
    pub fn cat<T: Borrow<Tensor>>(tensors: &[T], dim: i64) -> Result<Tensor> {
        let ts: Vec<&Tensor> = tensors.iter().map(|t| t.borrow()).collect();
        let Some(first) = ts
            .iter()
            .find(|t| !(t.dim() == 1 && t.numel() == 0))
            .or(ts.first())
        else {
            return Err(TensorError::invalid(
                "cat",
                "expected a non-empty list of tensors",
            ));
        };
        if first.dim() == 0 {
            return Err(TensorError::invalid(
                "cat",
                "zero-dimensional tensors cannot be concatenated",
            ));
        }
        let d = normalize_dim("cat", dim, first.dim())?;
        // PyTorch skips 1-D empty tensors (legacy behaviour).
        let parts: Vec<&Tensor> = ts
            .iter()
            .copied()
            .filter(|t| !(t.dim() == 1 && t.numel() == 0 && first.dim() != 1))
            .collect();
        let mut out_shape = first.shape().to_vec();
        out_shape[d] = 0;
        let mut dtype = parts[0].dtype();
        for t in &parts {
            let ok = t.dim() == first.dim()
                && t.shape()
                    .iter()
                    .zip(first.shape())
                    .enumerate()
                    .all(|(i, (a, b))| i == d || a == b);
            if !ok {
                return Err(TensorError::shapes(
                    "cat",
                    &parts.iter().map(|t| t.shape()).collect::<Vec<_>>(),
                    format!("sizes of tensors must match except in dimension {d}"),
                ));
            }
            out_shape[d] = out_shape[d].checked_add(t.shape()[d]).ok_or_else(|| {
                TensorError::invalid("cat", format!("the sizes in dimension {d} overflow"))
            })?;
            dtype = DType::promote(dtype, t.dtype());
        }
        let outer: usize = out_shape[..d].iter().product();
        Ok(with_dtype!(dtype, E => {
            let vals: Vec<_> = parts.iter().map(|t| t.to_dtype(dtype)).collect();
            let slices: Vec<_> = vals.iter().map(|t| t.values::<E>()).collect();
            let rows: Vec<usize> = vals.iter().map(|t| t.shape()[d..].iter().product()).collect();
            let mut out: Vec<E> = Vec::with_capacity(out_shape.iter().product());
            for o in 0..outer {
                for (s, &r) in slices.iter().zip(&rows) {
                    out.extend_from_slice(&s[o * r..(o + 1) * r]);
                }
            }
            Tensor::from_data(out, &out_shape)
        }))
    }

    /// Joins same-shaped tensors along a new dimension (`torch.stack`).
    pub fn stack<T: Borrow<Tensor>>(tensors: &[T], dim: i64) -> Result<Tensor> {
        let ts: Vec<&Tensor> = tensors.iter().map(|t| t.borrow()).collect();
        let Some(first) = ts.first() else {
            return Err(TensorError::invalid(
                "stack",
                "expected a non-empty list of tensors",
            ));
        };
        if let Some(bad) = ts.iter().find(|t| t.shape() != first.shape()) {
            return Err(TensorError::shapes(
                "stack",
                &[first.shape(), bad.shape()],
                "stack expects each tensor to be equal size",
            ));
        }
        let d = normalize_insert_dim("stack", dim, first.dim())?;
        let expanded: Vec<Tensor> = ts
            .iter()
            .map(|t| t.unsqueeze(d as i64))
            .collect::<Result<_>>()?;
        Tensor::cat(&expanded, d as i64)
    }

    /// The entries of dimension `dim` listed in the 1-D int64 `index`
    /// (`torch.index_select`).
    pub fn index_select(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        if index.dim() > 1 {
            return Err(TensorError::invalid(
                "index_select",
                format!("index must be 0-D or 1-D, got shape {:?}", index.shape()),
            ));
        }
        let d = normalize_dim("index_select", dim, self.dim())?;
        let size = self.shape().get(d).copied().unwrap_or(1);
        let idx = index_values("index_select", index, d, size)?;
        if self.dim() == 0 && idx.len() != 1 {
            return Err(TensorError::invalid(
                "index_select",
                format!(
                    "index to scalar can have only 1 value, got {} value(s)",
                    idx.len()
                ),
            ));
        }
        let mut out_shape = self.shape().to_vec();
        if !out_shape.is_empty() {
            out_shape[d] = idx.len();
        }
        let outer: usize = self.shape()[..d.min(self.dim())].iter().product();
        let inner: usize = self
            .shape()
            .get(d + 1..)
            .map(|s| s.iter().product())
            .unwrap_or(1);
        Ok(with_dtype!(self.dtype(), E => {
            let src = self.values::<E>();
            let mut out: Vec<E> = Vec::with_capacity(outer * idx.len() * inner);
            for o in 0..outer {
                for &i in &idx {
                    let start = (o * size + i) * inner;
                    out.extend_from_slice(&src[start..start + inner]);
                }
            }
            Tensor::from_data(out, &out_shape)
        }))
    }

    /// `out[i][j][k] = self[index[i][j][k]][j][k]` for `dim = 0`, and so on
    /// (`torch.gather`). `index` has the rank of `self` and is no larger in
    /// any dimension but `dim`.
    pub fn gather(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        if let Some(scalars) = as_vectors("gather", self, dim, index, None)? {
            let out = scalars.input.gather(0, &scalars.index)?;
            return out.reshape_to(index.shape());
        }
        let index = &empty_as_int64(index);
        let d = normalize_dim("gather", dim, self.dim())?;
        check_index_shape("gather", self, index, d)?;
        let size = self.shape().get(d).copied().unwrap_or(1);
        let idx = index_values("gather", index, d, size)?;
        let ishape = index.shape().to_vec();
        Ok(with_dtype!(self.dtype(), E => {
            let src = self.contiguous();
            let data = src.values::<E>();
            let strides = src.strides().to_vec();
            let out: Vec<E> = for_each_index(&ishape, d, &idx, &strides).map(|off| data[off]).collect();
            Tensor::from_data(out, &ishape)
        }))
    }

    /// A copy of `self` with `src` values written at the positions
    /// `index` names along `dim` (`torch.scatter`). With repeated indices
    /// the last write wins.
    pub fn scatter(&self, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl("scatter", dim, index, src, false)
    }

    /// A copy of `self` with `src` values added at the positions `index`
    /// names along `dim` (`torch.scatter_add`); repeated indices accumulate.
    pub fn scatter_add(&self, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl("scatter_add", dim, index, src, true)
    }

    fn scatter_impl(
        &self,
        op: &'static str,
        dim: i64,
        index: &Tensor,
        src: &Tensor,
        add: bool,
    ) -> Result<Tensor> {
        if let Some(scalars) = as_vectors(op, self, dim, index, Some(src))? {
            let src = scalars.src.as_ref().expect("given a src");
            let out = scalars
                .input
                .scatter_impl(op, 0, &scalars.index, src, add)?;
            return out.reshape_to(self.shape());
        }
        let index = &empty_as_int64(index);
        let d = normalize_dim(op, dim, self.dim())?;
        check_index_shape(op, self, index, d)?;
        if index.dim() != src.dim() || index.shape().iter().zip(src.shape()).any(|(i, s)| i > s) {
            return Err(TensorError::shapes(
                op,
                &[index.shape(), src.shape()],
                "index must not be larger than src in any dimension",
            ));
        }
        let size = self.shape().get(d).copied().unwrap_or(1);
        let idx = index_values(op, index, d, size)?;
        let ishape = index.shape().to_vec();
        let dtype = if add {
            DType::promote(self.dtype(), src.dtype())
        } else {
            self.dtype()
        };
        let base = self.to_dtype(dtype).deep_clone();
        let strides = base.strides().to_vec();
        // Source values in index order (src may be larger than index).
        let src = src.to_dtype(dtype);
        let narrowed = ishape
            .iter()
            .enumerate()
            .try_fold(src, |t, (k, &n)| t.narrow(k as i64, 0, n))?;
        Ok(with_dtype!(dtype, E => {
            let vals = narrowed.values::<E>().into_owned();
            let mut data = base.values::<E>().into_owned();
            for (off, v) in for_each_index(&ishape, d, &idx, &strides).zip(vals) {
                data[off] = if add { add_elem(data[off], v) } else { v };
            }
            Tensor::from_data(data, base.shape())
        }))
    }

    /// A copy of `self` with the rows of `source` added at the entries of
    /// dimension `dim` named by the 1-D `index` (`torch.index_add`); repeated
    /// indices accumulate. The backward of `index_select` and `embedding`.
    pub fn index_add(&self, dim: i64, index: &Tensor, source: &Tensor) -> Result<Tensor> {
        let d = normalize_dim("index_add", dim, self.dim())?;
        let size = self.shape().get(d).copied().unwrap_or(1);
        let idx = index_values("index_add", index, d, size)?;
        let mut want = self.shape().to_vec();
        if !want.is_empty() {
            want[d] = idx.len();
        }
        if source.shape() != want.as_slice() {
            return Err(TensorError::shapes(
                "index_add",
                &[self.shape(), index.shape(), source.shape()],
                format!("source should have shape {want:?}"),
            ));
        }
        let dtype = DType::promote(self.dtype(), source.dtype());
        let outer: usize = self.shape()[..d.min(self.dim())].iter().product();
        let inner: usize = self
            .shape()
            .get(d + 1..)
            .map(|s| s.iter().product())
            .unwrap_or(1);
        Ok(
            with_numeric!(if dtype == DType::Bool { DType::I64 } else { dtype }, E => {
                let mut data = self.to_dtype(E::DTYPE).values::<E>().into_owned();
                let s = source.to_dtype(E::DTYPE);
                let src = s.values::<E>();
                for o in 0..outer {
                    for (k, &i) in idx.iter().enumerate() {
                        let dst = &mut data[(o * size + i) * inner..][..inner];
                        let row = &src[(o * idx.len() + k) * inner..][..inner];
                        for (a, &b) in dst.iter_mut().zip(row) {
                            *a += b;
                        }
                    }
                }
                Tensor::from_data(data, self.shape())
            }),
        )
    }

    /// `a` where `cond` is true, `b` elsewhere, all broadcast together
    /// (`torch.where(cond, a, b)`).
    pub fn where_cond(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        if cond.dtype() != DType::Bool {
            return Err(TensorError::dtype(
                "where",
                "a bool condition",
                cond.dtype(),
            ));
        }
        let shape = crate::layout::broadcast_shapes("where", cond.shape(), a.shape())?;
        let shape = crate::layout::broadcast_shapes("where", &shape, b.shape())?;
        let dtype = DType::promote(a.dtype(), b.dtype());
        let c = cond
            .broadcast_to("where", &shape)?
            .values::<bool>()
            .into_owned();
        let (a, b) = (
            a.to_dtype(dtype).broadcast_to("where", &shape)?,
            b.to_dtype(dtype).broadcast_to("where", &shape)?,
        );
        Ok(with_dtype!(dtype, E => {
            let (va, vb) = (a.values::<E>(), b.values::<E>());
            let out: Vec<E> = c.iter().zip(va.iter().zip(vb.iter())).map(|(&c, (&x, &y))| if c { x } else { y }).collect();
            Tensor::from_data(out, &shape)
        }))
    }

    /// A copy with `value` wherever the (broadcastable) bool `mask` is true
    /// (`tensor.masked_fill(mask, value)`).
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Result<Tensor> {
        if mask.dtype() != DType::Bool {
            return Err(TensorError::dtype(
                "masked_fill",
                "a bool mask",
                mask.dtype(),
            ));
        }
        // Out of place, the result takes the broadcast shape of both (a
        // `[5]` tensor with a `[5, 5]` mask gives `[5, 5]`), as PyTorch's.
        let shape = broadcast_shapes("masked_fill", self.shape(), mask.shape())?;
        let base = self.broadcast_to("masked_fill", &shape)?;
        let m = mask.broadcast_to("masked_fill", &shape)?;
        let m = m.values::<bool>();
        Ok(with_dtype!(self.dtype(), E => {
            let v = E::from_f64(value);
            let out: Vec<E> = base.values::<E>().iter().zip(m.iter()).map(|(&x, &k)| if k { v } else { x }).collect();
            Tensor::from_data(out, &shape)
        }))
    }
}

/// `a + b` for any element type (bool: or).
#[inline(always)]
fn add_elem<E: Element>(a: E, b: E) -> E {
    E::from_f64(a.to_f64() + b.to_f64())
}

/// PyTorch's gather/scatter shape rule: same rank, and `index` no larger
/// than `self` in every dimension but `dim`.
/// `gather`/`scatter` operands with 0-d ones made 1-d, as PyTorch treats
/// them (a 0-d input, or a 0-d index beside a 1-d input); `None` when no
/// operand is 0-d there.
struct AsVectors {
    input: Tensor,
    index: Tensor,
    src: Option<Tensor>,
}

fn as_vectors(
    op: &'static str,
    input: &Tensor,
    dim: i64,
    index: &Tensor,
    src: Option<&Tensor>,
) -> Result<Option<AsVectors>> {
    let zero_d = input.dim() == 0
        || (input.dim() == 1 && (index.dim() == 0 || src.is_some_and(|s| s.dim() == 0)));
    if !zero_d {
        return Ok(None);
    }
    normalize_dim(op, dim, 1)?; // a 0-d input takes dim 0 or -1
    let vector = |t: &Tensor| {
        if t.dim() == 0 {
            t.reshape(&[1])
        } else {
            Ok(t.clone())
        }
    };
    Ok(Some(AsVectors {
        input: vector(input)?,
        index: vector(&empty_as_int64(index))?,
        src: src.map(vector).transpose()?,
    }))
}

/// An empty index of any dtype as int64: PyTorch checks the index dtype
/// of `gather`/`scatter` only when there are indices.
fn empty_as_int64(index: &Tensor) -> Tensor {
    if index.numel() == 0 && index.dtype() != DType::I64 {
        Tensor::zeros_dtype(index.shape(), DType::I64)
    } else {
        index.clone()
    }
}

fn check_index_shape(op: &'static str, t: &Tensor, index: &Tensor, d: usize) -> Result<()> {
    let ok = index.dim() == t.dim()
        && index
            .shape()
            .iter()
            .zip(t.shape())
            .enumerate()
            .all(|(k, (i, s))| k == d || i <= s);
    if ok {
        Ok(())
    } else {
        Err(TensorError::shapes(op, &[t.shape(), index.shape()], format!("index must have the same rank and be no larger than the input outside dimension {d}")))
    }
}

/// Storage offsets (in a tensor with `strides`) of every position of an
/// index tensor of shape `ishape`, with coordinate `d` replaced by the
/// index value.
fn for_each_index<'a>(
    ishape: &'a [usize],
    d: usize,
    idx: &'a [usize],
    strides: &'a [usize],
) -> impl Iterator<Item = usize> + 'a {
    let mut pos = vec![0usize; ishape.len()];
    let n = idx.len();
    (0..n).map(move |k| {
        let off: usize = pos
            .iter()
            .zip(strides)
            .enumerate()
            .map(|(j, (&p, &s))| if j == d { idx[k] * s } else { p * s })
            .sum();
        for j in (0..pos.len()).rev() {
            pos[j] += 1;
            if pos[j] < ishape[j] {
                break;
            }
            pos[j] = 0;
        }
        off
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: &[f32], s: &[usize]) -> Tensor {
        Tensor::from_slice(v, s).unwrap()
    }
    fn i(v: &[i64], s: &[usize]) -> Tensor {
        Tensor::from_slice(v, s).unwrap()
    }

    #[test]
    fn cat_and_stack() {
        let a = f(&[1., 2., 3., 4.], &[2, 2]);
        let b = f(&[5., 6.], &[1, 2]);
        assert_eq!(
            Tensor::cat(&[&a, &b], 0).unwrap().to_vec::<f32>().unwrap(),
            vec![1., 2., 3., 4., 5., 6.]
        );
        assert!(Tensor::cat(&[&a, &b], 1).is_err());
        let s = Tensor::stack(&[a.clone(), a.clone()], -1).unwrap();
        assert_eq!(s.shape(), &[2, 2, 2]);
        assert_eq!(s.get::<f32>(&[1, 0, 1]).unwrap(), 3.0);
        assert!(Tensor::stack(&[&a, &b], 0).is_err());
        // dtype promotion
        let c = Tensor::cat(&[&a, &i(&[7, 8], &[1, 2])], 0).unwrap();
        assert_eq!(c.dtype(), DType::F32);
    }

    #[test]
    fn cat_split_inverse() {
        let x = Tensor::arange(0i64, 30, 1)
            .unwrap()
            .reshape(&[5, 6])
            .unwrap();
        for dim in [0i64, 1] {
            let parts = x.split(2, dim).unwrap();
            let back = Tensor::cat(&parts, dim).unwrap();
            assert_eq!(back.to_vec::<i64>().unwrap(), x.to_vec::<i64>().unwrap());
        }
    }

    #[test]
    fn selecting_and_gathering() {
        let x = f(&[0., 1., 2., 3., 4., 5.], &[3, 2]);
        let s = x.index_select(0, &i(&[2, 0, -1], &[3])).unwrap();
        assert_eq!(s.to_vec::<f32>().unwrap(), vec![4., 5., 0., 1., 4., 5.]);
        assert!(x.index_select(0, &i(&[3], &[1])).is_err());
        assert!(x.index_select(0, &f(&[0.], &[1])).is_err());
        let g = x.gather(1, &i(&[1, 0, 0, 0, 1, 1], &[3, 2])).unwrap();
        assert_eq!(g.to_vec::<f32>().unwrap(), vec![1., 0., 2., 2., 5., 5.]);
        let z = Tensor::zeros(&[3, 2]);
        let sa = z
            .scatter_add(1, &i(&[1, 1, 0, 0, 0, 1], &[3, 2]), &x)
            .unwrap();
        assert_eq!(sa.to_vec::<f32>().unwrap(), vec![0., 1., 5., 0., 4., 5.]);
        let sc = z.scatter(0, &i(&[2, 0], &[1, 2]), &x).unwrap();
        assert_eq!(sc.to_vec::<f32>().unwrap(), vec![0., 1., 0., 0., 0., 0.]);
        let ia = Tensor::zeros(&[3, 2])
            .index_add(0, &i(&[0, 0], &[2]), &f(&[1., 2., 3., 4.], &[2, 2]))
            .unwrap();
        assert_eq!(ia.to_vec::<f32>().unwrap(), vec![4., 6., 0., 0., 0., 0.]);
    }

    #[test]
    fn where_and_masked_fill() {
        let c = Tensor::from_vec(vec![true, false], &[2]).unwrap();
        let a = f(&[1., 2., 3., 4.], &[2, 2]);
        let w = Tensor::where_cond(&c, &a, &Tensor::scalar(0.0f32)).unwrap();
        assert_eq!(w.to_vec::<f32>().unwrap(), vec![1., 0., 3., 0.]);
        let m = a.masked_fill(&c, -1.5).unwrap();
        assert_eq!(m.to_vec::<f32>().unwrap(), vec![-1.5, 2., -1.5, 4.]);
        assert!(a.masked_fill(&a, 0.0).is_err());
        assert!(Tensor::where_cond(&a, &a, &a).is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn cat_inverts_split(
                shape in proptest::collection::vec(1usize..6, 1..4),
                dim in 0usize..3,
                size in 1usize..4,
            ) {
                let d = (dim % shape.len()) as i64;
                let n: usize = shape.iter().product();
                let x = Tensor::arange(0i64, n as i64, 1).unwrap().reshape_to(&shape).unwrap();
                let parts = x.split(size, d).unwrap();
                prop_assert!(parts.iter().all(|p| p.shares_storage_with(&x)));
                let back = Tensor::cat(&parts, d).unwrap();
                prop_assert_eq!(back.shape(), x.shape());
                prop_assert_eq!(back.to_vec::<i64>().unwrap(), x.to_vec::<i64>().unwrap());
                // and split inverts cat
                let again = back.split(size, d).unwrap();
                for (a, b) in again.iter().zip(&parts) {
                    prop_assert_eq!(a.to_vec::<i64>().unwrap(), b.to_vec::<i64>().unwrap());
                }
            }
        }
    }
}
