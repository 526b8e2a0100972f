//! Zero-copy views: reshape/view, flatten, transpose, permute, narrow,
//! select, expand, squeeze, unsqueeze, split and chunk. Each returns a new
//! handle on the same storage; only `reshape` copies, and only when the
//! layout cannot express the new shape.

use smallvec::SmallVec;

use crate::error::{Result, TensorError};
use crate::layout::{contiguous_strides, normalize_dim, normalize_insert_dim, Dims, Layout};
use crate::tensor::Tensor;

impl Tensor {
    /// The tensor with a new shape holding the same elements in row-major
    /// order (`tensor.reshape`); one entry may be `-1` (inferred). A view
    /// when the layout allows, a copy otherwise.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let m = Tensor::arange(0i64, 9, 1).unwrap().reshape(&[3, 3]).unwrap();
    /// assert_eq!(m.reshape(&[1, 9]).unwrap().shape(), &[1, 9]);
    /// assert_eq!(m.reshape(&[-1]).unwrap().shape(), &[9]);
    /// assert!(m.reshape(&[2, 5]).is_err());
    /// ```
    pub fn reshape(&self, shape: &[i64]) -> Result<Tensor> {
        let shape = infer_shape("reshape", shape, self.shape())?;
        match view_strides(&self.layout, &shape) {
            Some(strides) => Ok(self.with_layout(Layout {
                shape,
                strides,
                offset: self.layout.offset,
            })),
            None => Ok(self.contiguous().with_layout(Layout::contiguous(&shape))),
        }
    }

    /// Like [`Tensor::reshape`] but never copies: fails when the layout
    /// cannot express the new shape (`tensor.view`).
    pub fn view(&self, shape: &[i64]) -> Result<Tensor> {
        let shape = infer_shape("view", shape, self.shape())?;
        match view_strides(&self.layout, &shape) {
            Some(strides) => Ok(self.with_layout(Layout {
                shape,
                strides,
                offset: self.layout.offset,
            })),
            None => Err(TensorError::shapes(
                "view",
                &[self.shape(), &shape],
                format!(
                    "view size is not compatible with input tensor's size and stride {:?}; use reshape instead",
                    self.strides()
                ),
            )),
        }
    }

    /// Reshapes to the shape of `other`.
    pub fn reshape_as(&self, other: &Tensor) -> Result<Tensor> {
        let shape: Vec<i64> = other.shape().iter().map(|&n| n as i64).collect();
        self.reshape(&shape)
    }

    /// All dimensions flattened into one (`tensor.ravel()`, or
    /// `tensor.flatten()` with no arguments).
    pub fn ravel(&self) -> Tensor {
        self.reshape(&[-1]).unwrap_or_else(|_| {
            // Only fails for zero elements with -1; keep shape [0].
            self.contiguous()
                .with_layout(Layout::contiguous(&[self.numel()]))
        })
    }

    /// Dimensions `start_dim..=end_dim` flattened into one
    /// (`tensor.flatten(start_dim, end_dim)`; PyTorch's `flatten(x, 1)` is
    /// `x.flatten(1, -1)`, and [`ravel`](Tensor::ravel) flattens all).
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let x = Tensor::zeros(&[2, 3, 4, 5]);
    /// assert_eq!(x.flatten(1, -1).unwrap().shape(), &[2, 60]);
    /// assert_eq!(x.flatten(1, 2).unwrap().shape(), &[2, 12, 5]);
    /// assert!(x.flatten(2, 1).is_err());
    /// ```
    pub fn flatten(&self, start_dim: i64, end_dim: i64) -> Result<Tensor> {
        if self.dim() == 0 {
            return self.reshape(&[1]);
        }
        let s = normalize_dim("flatten", start_dim, self.dim())?;
        let e = normalize_dim("flatten", end_dim, self.dim())?;
        if s > e {
            return Err(TensorError::invalid(
                "flatten",
                format!("start_dim ({start_dim}) cannot come after end_dim ({end_dim})"),
            ));
        }
        let shape = self.shape();
        let mut new = crate::layout::dims_from(&shape[..s]);
        new.push(shape[s..=e].iter().product());
        new.extend_from_slice(&shape[e + 1..]);
        self.reshape_to(&new)
    }

    /// Old name of [`flatten`](Tensor::flatten).
    #[deprecated(since = "0.1.0", note = "use `flatten(start_dim, end_dim)`")]
    pub fn flatten_dims(&self, start_dim: i64, end_dim: i64) -> Result<Tensor> {
        self.flatten(start_dim, end_dim)
    }

    /// Reshape to a fully known shape.
    pub(crate) fn reshape_to(&self, shape: &[usize]) -> Result<Tensor> {
        let s: SmallVec<[i64; 4]> = shape.iter().map(|&n| n as i64).collect();
        self.reshape(&s)
    }

    /// Dimensions `dim0` and `dim1` swapped (`tensor.transpose`); a view.
    pub fn transpose(&self, dim0: i64, dim1: i64) -> Result<Tensor> {
        if self.dim() == 0 {
            normalize_dim("transpose", dim0, 0)?;
            normalize_dim("transpose", dim1, 0)?;
            return Ok(self.clone());
        }
        let a = normalize_dim("transpose", dim0, self.dim())?;
        let b = normalize_dim("transpose", dim1, self.dim())?;
        let mut l = self.layout.clone();
        l.shape.swap(a, b);
        l.strides.swap(a, b);
        Ok(self.with_layout(l))
    }

    /// The transpose of a matrix (`tensor.t()`): rank ≤ 2 only.
    pub fn t(&self) -> Result<Tensor> {
        match self.dim() {
            0 | 1 => Ok(self.clone()),
            2 => self.transpose(0, 1),
            r => Err(TensorError::invalid(
                "t",
                format!(
                    "expects a tensor with <= 2 dimensions, but self is {r}D (shape {:?})",
                    self.shape()
                ),
            )),
        }
    }

    /// Dimensions reordered so that output dim `i` is input dim `dims[i]`
    /// (`tensor.permute`); a view.
    pub fn permute(&self, dims: &[i64]) -> Result<Tensor> {
        if dims.len() != self.dim() {
            return Err(TensorError::invalid(
                "permute",
                format!(
                    "number of dims {:?} doesn't match the tensor's rank {} (shape {:?})",
                    dims,
                    self.dim(),
                    self.shape()
                ),
            ));
        }
        let mut seen = vec![false; dims.len()];
        let mut l = Layout {
            shape: Dims::new(),
            strides: Dims::new(),
            offset: self.layout.offset,
        };
        for &d in dims {
            let d = normalize_dim("permute", d, self.dim())?;
            if std::mem::replace(&mut seen[d], true) {
                return Err(TensorError::invalid(
                    "permute",
                    format!("dims {dims:?} repeat dimension {d}"),
                ));
            }
            l.shape.push(self.layout.shape[d]);
            l.strides.push(self.layout.strides[d]);
        }
        Ok(self.with_layout(l))
    }

    /// Dimension `source` moved to position `destination`, the others
    /// keeping their order (`tensor.movedim`); a view.
    pub fn movedim(&self, source: i64, destination: i64) -> Result<Tensor> {
        let r = self.dim();
        let s = normalize_dim("movedim", source, r)?;
        let d = normalize_dim("movedim", destination, r)?;
        if r == 0 {
            return Ok(self.clone());
        }
        let mut order: Vec<i64> = (0..r as i64).filter(|&i| i != s as i64).collect();
        order.insert(d, s as i64);
        self.permute(&order)
    }

    /// `length` entries of dimension `dim` from `start` (`tensor.narrow`);
    /// a negative `start` counts from the end. A view.
    pub fn narrow(&self, dim: i64, start: i64, length: usize) -> Result<Tensor> {
        let d = normalize_dim("narrow", dim, self.dim())?;
        if self.dim() == 0 {
            return Err(TensorError::invalid(
                "narrow",
                "cannot be applied to a 0-dim tensor",
            ));
        }
        let size = self.layout.shape[d];
        let s = if start < 0 {
            start + size as i64
        } else {
            start
        };
        if s < 0 || s as usize + length > size {
            return Err(TensorError::invalid(
                "narrow",
                format!("start ({start}) + length ({length}) exceeds dimension {d} of size {size}"),
            ));
        }
        let mut l = self.layout.clone();
        l.offset += s as usize * l.strides[d];
        l.shape[d] = length;
        Ok(self.with_layout(l))
    }

    /// Entry `index` of dimension `dim`, removing that dimension
    /// (`tensor.select`, `x[:, i]`); a view.
    pub fn select(&self, dim: i64, index: i64) -> Result<Tensor> {
        if self.dim() == 0 {
            return Err(TensorError::invalid(
                "select",
                "cannot be applied to a 0-dim tensor",
            ));
        }
        let d = normalize_dim("select", dim, self.dim())?;
        let size = self.layout.shape[d];
        let i = if index < 0 {
            index + size as i64
        } else {
            index
        };
        if i < 0 || i >= size as i64 {
            return Err(TensorError::IndexOutOfRange {
                op: "select",
                index,
                dim: d,
                size,
            });
        }
        let mut l = self.layout.clone();
        l.offset += i as usize * l.strides[d];
        l.shape.remove(d);
        l.strides.remove(d);
        Ok(self.with_layout(l))
    }

    /// The tensor broadcast to `shape` without copying (`tensor.expand`);
    /// `-1` keeps a dimension's size. New dimensions are added in front.
    pub fn expand(&self, shape: &[i64]) -> Result<Tensor> {
        if shape.len() < self.dim() {
            return Err(TensorError::invalid(
                "expand",
                format!(
                    "the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
                    shape.len(),
                    self.dim()
                ),
            ));
        }
        let lead = shape.len() - self.dim();
        let mut target = Vec::with_capacity(shape.len());
        for (i, &s) in shape.iter().enumerate() {
            if s == -1 {
                if i < lead {
                    return Err(TensorError::invalid(
                        "expand",
                        format!("-1 is not allowed in a leading, non-existing dimension ({i})"),
                    ));
                }
                target.push(self.layout.shape[i - lead]);
            } else if s < 0 {
                return Err(TensorError::invalid("expand", format!("invalid size {s}")));
            } else {
                target.push(s as usize);
            }
        }
        let l = self.layout.broadcast_to("expand", &target)?;
        Ok(self.with_layout(l))
    }

    /// Expands to the shape of `other`.
    pub fn expand_as(&self, other: &Tensor) -> Result<Tensor> {
        let l = self.layout.broadcast_to("expand_as", other.shape())?;
        Ok(self.with_layout(l))
    }

    /// Broadcasts to a known shape (internal helper for binary ops).
    pub(crate) fn broadcast_to(&self, op: &'static str, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        Ok(self.with_layout(self.layout.broadcast_to(op, shape)?))
    }

    /// All dimensions of size 1 removed (`tensor.squeeze()` with no
    /// arguments).
    pub fn squeeze_all(&self) -> Tensor {
        let mut l = self.layout.clone();
        let keep: Vec<bool> = l.shape.iter().map(|&n| n != 1).collect();
        let mut k = keep.iter();
        l.strides.retain(|_| *k.next().unwrap());
        l.shape.retain(|n| *n != 1);
        self.with_layout(l)
    }

    /// Old name of [`squeeze`](Tensor::squeeze).
    #[deprecated(since = "0.1.0", note = "use `squeeze(dim)`")]
    pub fn squeeze_dim(&self, dim: i64) -> Result<Tensor> {
        self.squeeze(dim)
    }

    /// Dimension `dim` removed if its size is 1, else unchanged
    /// (`tensor.squeeze(dim)`; [`squeeze_all`](Tensor::squeeze_all)
    /// removes every size-1 dim).
    pub fn squeeze(&self, dim: i64) -> Result<Tensor> {
        let d = normalize_dim("squeeze", dim, self.dim())?;
        if self.dim() == 0 || self.layout.shape[d] != 1 {
            return Ok(self.clone());
        }
        let mut l = self.layout.clone();
        l.shape.remove(d);
        l.strides.remove(d);
        Ok(self.with_layout(l))
    }

    /// A dimension of size 1 inserted at `dim` (`tensor.unsqueeze`);
    /// `dim` may be in `[-rank-1, rank]`.
    pub fn unsqueeze(&self, dim: i64) -> Result<Tensor> {
        let d = normalize_insert_dim("unsqueeze", dim, self.dim())?;
        let mut l = self.layout.clone();
        let stride = if d < l.rank() {
            l.strides[d] * l.shape[d]
        } else {
            1
        };
        l.shape.insert(d, 1);
        l.strides.insert(d, stride);
        Ok(self.with_layout(l))
    }

    /// Pieces of `split_size` entries along `dim` (the last may be
    /// smaller), as views (`tensor.split(split_size, dim)`).
    pub fn split(&self, split_size: usize, dim: i64) -> Result<Vec<Tensor>> {
        let d = normalize_dim("split", dim, self.dim())?;
        let size = self.size(d as i64)?;
        if split_size == 0 && size > 0 {
            return Err(TensorError::invalid(
                "split",
                "split_size can only be 0 if the dimension size is 0",
            ));
        }
        if size == 0 {
            return Ok(vec![self.clone()]);
        }
        let mut out = Vec::new();
        let mut start = 0;
        while start < size {
            let len = split_size.min(size - start);
            out.push(self.narrow(d as i64, start as i64, len)?);
            start += len;
        }
        Ok(out)
    }

    /// Pieces with the given sizes along `dim`, which must add up to the
    /// dimension's size (`tensor.split([sizes], dim)`).
    pub fn split_sizes(&self, sizes: &[usize], dim: i64) -> Result<Vec<Tensor>> {
        let d = normalize_dim("split", dim, self.dim())?;
        let size = self.size(d as i64)?;
        if sizes.iter().sum::<usize>() != size {
            return Err(TensorError::invalid(
                "split",
                format!("split sizes {sizes:?} must sum to the size of dimension {d} ({size})"),
            ));
        }
        let mut start = 0;
        sizes
            .iter()
            .map(|&len| {
                let t = self.narrow(d as i64, start as i64, len);
                start += len;
                t
            })
            .collect()
    }

    /// `chunks` pieces of (nearly) equal size along `dim`
    /// (`tensor.chunk(chunks, dim)`); fewer when the dimension is small.
    pub fn chunk(&self, chunks: usize, dim: i64) -> Result<Vec<Tensor>> {
        if chunks == 0 {
            return Err(TensorError::invalid(
                "chunk",
                "number of chunks must be greater than 0",
            ));
        }
        let size = self.size(dim)?;
        self.split(size.div_ceil(chunks).max(1), dim)
    }
}

/// Resolves a shape that may hold one `-1` against `numel` elements.
fn infer_shape(op: &'static str, shape: &[i64], from: &[usize]) -> Result<Dims> {
    let numel: usize = from.iter().product();
    let mut infer = None;
    let mut known = 1usize;
    for (i, &s) in shape.iter().enumerate() {
        if s == -1 {
            if infer.replace(i).is_some() {
                return Err(TensorError::invalid(
                    op,
                    format!("only one dimension can be inferred in {shape:?}"),
                ));
            }
        } else if s < 0 {
            return Err(TensorError::invalid(
                op,
                format!("invalid shape dimension {s} in {shape:?}"),
            ));
        } else {
            known = known.checked_mul(s as usize).ok_or_else(|| {
                TensorError::invalid(
                    op,
                    format!("shape {shape:?} has more elements than fit in memory"),
                )
            })?;
        }
    }
    let mut out: Dims = shape.iter().map(|&s| s.max(0) as usize).collect();
    if let Some(i) = infer {
        if known == 0 || !numel.is_multiple_of(known) {
            return Err(TensorError::shapes(
                op,
                &[from],
                format!("shape {shape:?} is invalid for input of size {numel}"),
            ));
        }
        out[i] = numel / known;
    } else if known != numel {
        return Err(TensorError::shapes(
            op,
            &[from],
            format!("shape {shape:?} is invalid for input of size {numel}"),
        ));
    }
    Ok(out)
}

/// Strides that express `new_shape` over the same elements as `layout`
/// without copying, or `None` (PyTorch's `computeStride`): each group of
/// old dims that is contiguous in memory can be split into any new dims
/// of the same total size.
fn view_strides(layout: &Layout, new_shape: &[usize]) -> Option<Dims> {
    let (old_shape, old_strides) = (&layout.shape, &layout.strides);
    let numel: usize = old_shape.iter().product();
    if numel == 0 || old_shape.is_empty() {
        return Some(Dims::from_vec(contiguous_strides(new_shape)));
    }
    let mut new_strides = Dims::from_elem(0, new_shape.len());
    let mut view_d = new_shape.len() as isize - 1;
    let mut chunk_base_stride = *old_strides.last().unwrap();
    let mut tensor_numel = 1usize;
    let mut view_numel = 1usize;
    for tensor_d in (0..old_shape.len()).rev() {
        tensor_numel *= old_shape[tensor_d];
        let at_chunk_end = tensor_d == 0
            || (old_shape[tensor_d - 1] != 1
                && old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride);
        if at_chunk_end {
            while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1) {
                new_strides[view_d as usize] = view_numel * chunk_base_stride;
                view_numel *= new_shape[view_d as usize];
                view_d -= 1;
            }
            if view_numel != tensor_numel {
                return None;
            }
            if tensor_d > 0 {
                chunk_base_stride = old_strides[tensor_d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    if view_d != -1 {
        return None;
    }
    Some(new_strides)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize]) -> Tensor {
        let n = shape.iter().product::<usize>() as i64;
        Tensor::arange(0i64, n, 1)
            .unwrap()
            .reshape_to(shape)
            .unwrap()
    }

    #[test]
    fn views_share_storage() {
        let x = t(&[2, 3, 4]);
        let views = [
            x.reshape(&[6, 4]).unwrap(),
            x.transpose(0, 2).unwrap(),
            x.permute(&[1, 2, 0]).unwrap(),
            x.narrow(1, 1, 2).unwrap(),
            x.select(-1, 2).unwrap(),
            x.unsqueeze(0).unwrap().expand(&[5, -1, -1, -1]).unwrap(),
            x.unsqueeze(-1).unwrap().squeeze_all(),
            x.ravel(),
        ];
        for v in &views {
            assert!(v.shares_storage_with(&x));
        }
        let tr = x.transpose(0, 2).unwrap();
        assert_eq!(tr.get::<i64>(&[3, 2, 1]).unwrap(), 4 * 2 + 12 + 3);
        // reshape of a transposed tensor must copy
        let r = tr.reshape(&[-1]).unwrap();
        assert!(!r.shares_storage_with(&x));
        assert_eq!(r.get::<i64>(&[1]).unwrap(), 12);
        assert!(tr.view(&[-1]).is_err());
    }

    #[test]
    fn split_chunk_narrow() {
        let x = t(&[5, 2]);
        let parts = x.split(2, 0).unwrap();
        assert_eq!(
            parts.iter().map(|p| p.shape()[0]).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        let ch = x.chunk(2, 0).unwrap();
        assert_eq!(
            ch.iter().map(|p| p.shape()[0]).collect::<Vec<_>>(),
            vec![3, 2]
        );
        assert_eq!(
            x.narrow(0, -2, 2).unwrap().to_vec::<i64>().unwrap(),
            vec![6, 7, 8, 9]
        );
        assert!(x.narrow(0, 4, 2).is_err());
        assert!(x.split_sizes(&[1, 1], 0).is_err());
        assert_eq!(x.split_sizes(&[1, 4], 0).unwrap()[1].shape(), &[4, 2]);
    }

    #[test]
    fn squeeze_unsqueeze_expand() {
        let x = t(&[2, 1, 3]);
        assert_eq!(x.squeeze(1).unwrap().shape(), &[2, 3]);
        assert_eq!(x.squeeze(0).unwrap().shape(), &[2, 1, 3]);
        assert_eq!(x.unsqueeze(3).unwrap().shape(), &[2, 1, 3, 1]);
        assert!(x.unsqueeze(4).is_err());
        let e = x.expand(&[2, 4, 3]).unwrap();
        assert_eq!(e.strides()[1], 0);
        assert_eq!(e.get::<i64>(&[1, 3, 2]).unwrap(), 5);
        assert!(x.expand(&[3, 1, 3]).is_err());
        assert!(x.permute(&[0, 0, 1]).is_err());
        assert!(x.transpose(0, 3).is_err());
    }

    #[test]
    fn flatten_dims_and_zero_size() {
        let x = t(&[2, 3, 4, 5]);
        assert_eq!(x.flatten(1, -1).unwrap().shape(), &[2, 60]);
        assert_eq!(x.flatten(1, 2).unwrap().shape(), &[2, 12, 5]);
        assert!(x.flatten(2, 1).is_err());
        let z = Tensor::zeros(&[0, 3]);
        assert_eq!(z.reshape(&[3, 0]).unwrap().shape(), &[3, 0]);
        assert_eq!(z.ravel().shape(), &[0]);
        assert!(z.reshape(&[-1, 0]).is_err());
        assert_eq!(Tensor::scalar(1.0f32).ravel().shape(), &[1]);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn shape_strategy() -> impl Strategy<Value = Vec<usize>> {
            proptest::collection::vec(1usize..7, 1..5)
        }

        proptest! {
            #[test]
            fn transpose_contiguous_roundtrip(shape in shape_strategy(), a in 0usize..4, b in 0usize..4) {
                let r = shape.len();
                let (a, b) = ((a % r) as i64, (b % r) as i64);
                let x = t(&shape);
                let back = x.transpose(a, b).unwrap().contiguous().transpose(a, b).unwrap();
                prop_assert_eq!(back.to_vec::<i64>().unwrap(), x.to_vec::<i64>().unwrap());
            }

            #[test]
            fn permuted_copy_matches_indexing(shape in proptest::collection::vec(1usize..40, 2..4), seed in 0u64..100) {
                let x = t(&shape);
                let mut order: Vec<i64> = (0..shape.len() as i64).collect();
                // a seeded rotation/swap of the dims
                order.rotate_left(seed as usize % shape.len());
                if seed % 2 == 1 { order.swap(0, shape.len() - 1); }
                let p = x.permute(&order).unwrap();
                let c = p.contiguous().to_vec::<i64>().unwrap();
                // element k of the copy is p at the row-major index k
                let ps = p.shape().to_vec();
                for (k, &v) in c.iter().enumerate().step_by(7) {
                    let mut rem = k;
                    let mut idx = vec![0i64; ps.len()];
                    for d in (0..ps.len()).rev() { idx[d] = (rem % ps[d]) as i64; rem /= ps[d]; }
                    prop_assert_eq!(p.get::<i64>(&idx).unwrap(), v);
                }
            }

            #[test]
            fn reshape_roundtrip(shape in shape_strategy()) {
                let x = t(&shape);
                let flat = x.reshape(&[-1]).unwrap();
                let dims: Vec<i64> = shape.iter().map(|&n| n as i64).collect();
                prop_assert_eq!(flat.reshape(&dims).unwrap().to_vec::<i64>().unwrap(), x.to_vec::<i64>().unwrap());
                // through a transposed view (forces a copy) and back
                if shape.len() >= 2 {
                    let tr = x.transpose(0, -1).unwrap();
                    let tdims: Vec<i64> = tr.shape().iter().map(|&n| n as i64).collect();
                    let again = tr.reshape(&[-1]).unwrap().reshape(&tdims).unwrap();
                    prop_assert_eq!(again.to_vec::<i64>().unwrap(), tr.to_vec::<i64>().unwrap());
                }
            }
        }
    }
}
