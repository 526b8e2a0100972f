//! Shapes, strides and offsets: how a tensor's elements sit in its storage,
//! plus the dimension and broadcasting rules shared by every op.

use smallvec::SmallVec;

use crate::error::{Result, TensorError};

/// Shape or strides of one tensor, stored inline up to 4 dims (NCHW) so that
/// creating a tensor (or a view) does not allocate for them.
pub(crate) type Dims = SmallVec<[usize; 4]>;

/// Where the elements of a tensor live in its storage: element
/// `[i0, i1, ...]` is at `offset + i0 * strides[0] + i1 * strides[1] + ...`.
/// Strides count elements, and are 0 along broadcast (expanded) dims.
#[derive(Debug, PartialEq, Eq)]
pub struct Layout {
    pub(crate) shape: Dims,
    pub(crate) strides: Dims,
    pub(crate) offset: usize,
}

/// `dims` as [`Dims`]. Up to 4 dims it fills the inline array with a fixed
/// unrolled loop: `SmallVec::from_slice` calls `memmove` for a few bytes,
/// which showed up at 4% of a small training step (every op clones and
/// creates layouts).
#[inline]
pub(crate) fn dims_from(dims: &[usize]) -> Dims {
    let n = dims.len();
    if n > 4 {
        return Dims::from_slice(dims);
    }
    let mut buf = [0usize; 4];
    for (i, b) in buf.iter_mut().enumerate() {
        if i < n {
            *b = dims[i];
        }
    }
    Dims::from_buf_and_len(buf, n)
}

impl Clone for Layout {
    fn clone(&self) -> Layout {
        Layout {
            shape: dims_from(&self.shape),
            strides: dims_from(&self.strides),
            offset: self.offset,
        }
    }
}

impl Layout {
    /// A row-major (C-contiguous) layout of `shape` starting at offset 0.
    pub fn contiguous(shape: &[usize]) -> Layout {
        // The shape's copy, overwritten: inline up to 4 dims like it.
        let mut strides = dims_from(shape);
        fill_contiguous_strides(&mut strides, shape);
        Layout {
            shape: dims_from(shape),
            strides,
            offset: 0,
        }
    }

    /// The size of each dimension.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The step in storage between neighbours along each dimension.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Storage index of the first element.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the elements are in row-major order with no gaps, so that
    /// they form the slice `storage[offset..offset + numel]`.
    /// Dimensions of size 1 may have any stride, as in PyTorch.
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&size, &stride) in self.shape.iter().zip(&self.strides).rev() {
            if size == 0 {
                return true;
            }
            if size != 1 && stride != expected {
                return false;
            }
            expected *= size;
        }
        true
    }

    /// Storage index of the element at `index` (already bounds-checked).
    pub(crate) fn offset_of(&self, index: &[usize]) -> usize {
        self.offset
            + index
                .iter()
                .zip(&self.strides)
                .map(|(i, s)| i * s)
                .sum::<usize>()
    }

    /// This layout viewed with shape `target` by broadcasting (stride 0 on
    /// new or size-1 dims), as `expand` does.
    pub(crate) fn broadcast_to(&self, op: &'static str, target: &[usize]) -> Result<Layout> {
        if target.len() < self.rank() {
            return Err(TensorError::shapes(
                op,
                &[&self.shape, target],
                "the target has fewer dimensions than the tensor",
            ));
        }
        if checked_numel(target).is_none() {
            return Err(TensorError::shapes(
                op,
                &[&self.shape, target],
                "the target shape has more elements than fit in memory",
            ));
        }
        let lead = target.len() - self.rank();
        let mut strides = Dims::from_elem(0, target.len());
        for (i, &t) in target.iter().enumerate() {
            if i < lead {
                continue;
            }
            let (s, st) = (self.shape[i - lead], self.strides[i - lead]);
            if s == t {
                strides[i] = if s == 1 { 0 } else { st };
            } else if s == 1 {
                strides[i] = 0;
            } else {
                return Err(TensorError::shapes(
                    op,
                    &[&self.shape, target],
                    format!(
                        "the size of dimension {} ({s}) must match the target ({t}) or be 1",
                        i - lead
                    ),
                ));
            }
        }
        Ok(Layout {
            shape: dims_from(target),
            strides,
            offset: self.offset,
        })
    }
}

/// Row-major strides of `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    fill_contiguous_strides(&mut strides, shape);
    strides
}

/// Writes `shape`'s row-major strides into `strides` (same length).
fn fill_contiguous_strides(strides: &mut [usize], shape: &[usize]) {
    let mut acc = 1usize;
    for (s, &n) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        // Saturates only for empty tensors with huge other dims, whose
        // strides are never used to address an element.
        acc = acc.saturating_mul(n.max(1));
    }
}

/// Maps a possibly negative `dim` onto `0..rank` (PyTorch's wrap rule).
/// A rank-0 tensor accepts dims -1 and 0, as in PyTorch.
pub fn normalize_dim(op: &'static str, dim: i64, rank: usize) -> Result<usize> {
    let r = rank.max(1) as i64;
    let d = if dim < 0 { dim + r } else { dim };
    if d < 0 || d >= r {
        return Err(TensorError::DimOutOfRange { op, dim, rank });
    }
    Ok(d as usize)
}

/// Like [`normalize_dim`] for ops that insert a dimension (`unsqueeze`,
/// `stack`), where `dim` may equal `rank`.
pub fn normalize_insert_dim(op: &'static str, dim: i64, rank: usize) -> Result<usize> {
    normalize_dim(op, dim, rank + 1)
}

/// The shape two shapes broadcast to (NumPy/PyTorch rules).
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(TensorError::shapes(
                op,
                &[a, b],
                format!(
                    "the size of tensor a ({da}) must match the size of tensor b ({db}) at non-singleton dimension {i}"
                ),
            ));
        };
    }
    Ok(out)
}

/// Walks `N` operands that share `shape` but have their own strides and
/// start offsets, calling `f(offsets, len, inner_strides)` once per run of
/// the innermost (coalesced) dimension. Dims that are contiguous for every
/// operand are merged first, so a contiguous tensor gives one long run.
/// Nothing is called when the shape holds no element.
pub(crate) fn for_each_run<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    offsets: [usize; N],
    mut f: impl FnMut([usize; N], usize, [usize; N]),
) {
    if shape.contains(&0) {
        return;
    }
    // Coalesce: drop size-1 dims, merge a dim into the next when every
    // operand steps over the inner dim exactly.
    let mut dims: Vec<(usize, [usize; N])> = Vec::with_capacity(shape.len());
    for (i, &n) in shape.iter().enumerate() {
        if n == 1 {
            continue;
        }
        let st: [usize; N] = std::array::from_fn(|k| strides[k][i]);
        if let Some(last) = dims.last_mut() {
            if (0..N).all(|k| last.1[k] == st[k] * n) {
                last.0 *= n;
                last.1 = st;
                continue;
            }
        }
        dims.push((n, st));
    }
    let Some(&(inner_len, inner_strides)) = dims.last() else {
        f(offsets, 1, [0; N]);
        return;
    };
    let outer = &dims[..dims.len() - 1];
    let mut index = vec![0usize; outer.len()];
    let mut cur = offsets;
    loop {
        f(cur, inner_len, inner_strides);
        // odometer increment over the outer dims
        let mut d = outer.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            for (c, s) in cur.iter_mut().zip(outer[d].1) {
                *c += s;
            }
            if index[d] < outer[d].0 {
                break;
            }
            for (c, s) in cur.iter_mut().zip(outer[d].1) {
                *c -= s * outer[d].0;
            }
            index[d] = 0;
        }
    }
}

/// The number of elements of `shape`, or `None` when it overflows
/// `usize` (a shape no tensor can have, refused before allocating).
pub(crate) fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(broadcast_shapes("t", &[4, 1], &[1, 5]).unwrap(), vec![4, 5]);
        assert_eq!(broadcast_shapes("t", &[3], &[2, 3]).unwrap(), vec![2, 3]);
        assert_eq!(broadcast_shapes("t", &[], &[2, 3]).unwrap(), vec![2, 3]);
        assert_eq!(broadcast_shapes("t", &[0, 1], &[1, 3]).unwrap(), vec![0, 3]);
        let err = broadcast_shapes("add", &[2, 3], &[4]).unwrap_err();
        assert!(err.to_string().contains("add"), "{err}");
    }

    #[test]
    fn negative_dims_wrap() {
        assert_eq!(normalize_dim("t", -1, 3).unwrap(), 2);
        assert_eq!(normalize_dim("t", -3, 3).unwrap(), 0);
        assert!(normalize_dim("t", 3, 3).is_err());
        assert!(normalize_dim("t", -4, 3).is_err());
        assert_eq!(normalize_dim("t", -1, 0).unwrap(), 0);
        assert_eq!(normalize_insert_dim("t", -1, 2).unwrap(), 2);
    }

    #[test]
    fn runs_coalesce_contiguous_dims() {
        let shape = [2, 3, 4];
        let st = contiguous_strides(&shape);
        let mut runs = vec![];
        for_each_run(&shape, [&st], [0], |o, n, s| runs.push((o[0], n, s[0])));
        assert_eq!(runs, vec![(0, 24, 1)]);
        // transposed inner dims: 6 runs of 4... rows of length 3 with stride 4
        let tshape = [2, 4, 3];
        let tst = [12, 1, 4];
        let mut offs = vec![];
        for_each_run(&tshape, [&tst], [0], |o, n, s| {
            for i in 0..n {
                offs.push(o[0] + i * s[0]);
            }
        });
        let want: Vec<usize> = (0..2)
            .flat_map(|a| (0..4).flat_map(move |b| (0..3).map(move |c| a * 12 + b + c * 4)))
            .collect();
        assert_eq!(offs, want);
    }
}
