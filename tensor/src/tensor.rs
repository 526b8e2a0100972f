//! The [`Tensor`] type: shared storage plus a layout, and its basic accessors.

use std::borrow::Cow;
use std::sync::Arc;

use crate::dtype::{DType, Element};
use crate::error::{Result, TensorError};
use crate::layout::{for_each_run, normalize_dim, Layout};
use crate::storage::Storage;

/// An n-dimensional array with PyTorch semantics.
///
/// A tensor is a cheap handle: an `Arc` to shared [`Storage`] plus a
/// [`Layout`] (shape, strides, offset). Cloning copies no element, and view
/// ops (`reshape` when possible, `transpose`, `permute`, `narrow`, `select`,
/// `expand`, `squeeze`, `unsqueeze`, `split`, `chunk`) return new handles on
/// the same storage. Values never change behind your back: every op returns
/// a new tensor, and the in-place `*_` methods write into the buffer only
/// when this handle owns it alone (otherwise they copy first).
///
/// ```
/// use torchlet_tensor::Tensor;
/// let m = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
/// let t = m.transpose(0, 1).unwrap(); // a view: no copy
/// assert_eq!(t.shape(), &[3, 2]);
/// assert_eq!(t.get::<f32>(&[2, 1]).unwrap(), 6.0);
/// assert_eq!(m.sum().item::<f32>().unwrap(), 21.0);
/// ```
#[derive(Clone)]
pub struct Tensor {
    pub(crate) storage: Arc<Storage>,
    pub(crate) layout: Layout,
}

/// Runs `$body` with `$T` bound to the Rust type of `$dtype`.
macro_rules! with_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}
pub(crate) use with_dtype;

/// Runs `$body` with `$T` bound to `f32` or `f64`; other dtypes are a bug
/// in the caller (it must convert to a float type first).
macro_rules! with_float {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            other => unreachable!("float kernel called with dtype {other}"),
        }
    };
}
pub(crate) use with_float;

/// Runs `$body` with `$T` bound to `f32`, `f64` or `i64`; bool is a bug in
/// the caller (it must convert first).
macro_rules! with_numeric {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            other => unreachable!("numeric kernel called with dtype {other}"),
        }
    };
}
pub(crate) use with_numeric;

impl Tensor {
    // ----- construction from data -------------------------------------------

    /// A tensor of `shape` holding `data` in row-major order.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let m = Tensor::from_vec(vec![1i64, 2, 3, 4], &[2, 2]).unwrap();
    /// assert_eq!(m.to_vec::<i64>().unwrap(), vec![1, 2, 3, 4]);
    /// assert!(Tensor::from_vec(vec![1.0f32, 2.0], &[3]).is_err());
    /// ```
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        // A shape whose element count overflows fits no data.
        if Some(data.len()) != crate::layout::checked_numel(shape) {
            return Err(TensorError::DataLength {
                op: "from_vec",
                len: data.len(),
                shape: shape.to_vec(),
            });
        }
        Ok(Tensor::from_data(data, shape))
    }

    /// Like [`Tensor::from_vec`], copying from a slice.
    pub fn from_slice<T: Element>(data: &[T], shape: &[usize]) -> Result<Tensor> {
        Tensor::from_vec(data.to_vec(), shape)
    }

    /// A rank-0 tensor (a scalar), like `torch.tensor(3.0)`.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let s = Tensor::scalar(3.5f32);
    /// assert_eq!(s.dim(), 0);
    /// assert_eq!(s.item::<f32>().unwrap(), 3.5);
    /// ```
    pub fn scalar<T: Element>(value: T) -> Tensor {
        Tensor::from_data(vec![value], &[])
    }

    /// Contiguous tensor from data whose length is known to match.
    pub(crate) fn from_data<T: Element>(data: Vec<T>, shape: &[usize]) -> Tensor {
        debug_assert_eq!(data.len(), shape.iter().product::<usize>());
        Tensor {
            storage: crate::buffers::share(T::into_storage(data)),
            layout: Layout::contiguous(shape),
        }
    }

    /// A new handle on this tensor's storage with another layout.
    pub(crate) fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor {
            storage: Arc::clone(&self.storage),
            layout,
        }
    }

    // ----- metadata ----------------------------------------------------------

    /// The size of each dimension (`tensor.shape` in PyTorch).
    pub fn shape(&self) -> &[usize] {
        &self.layout.shape
    }

    /// The size of dimension `dim` (negative counts from the end).
    pub fn size(&self, dim: i64) -> Result<usize> {
        let d = normalize_dim("size", dim, self.dim())?;
        Ok(self.shape().get(d).copied().unwrap_or(1))
    }

    /// Number of dimensions (`tensor.dim()`); 0 for a scalar.
    pub fn dim(&self) -> usize {
        self.layout.rank()
    }

    /// Number of elements (`tensor.numel()`).
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.storage.dtype()
    }

    /// Steps in storage between neighbours along each dimension.
    pub fn strides(&self) -> &[usize] {
        &self.layout.strides
    }

    /// The layout (shape, strides, offset).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The shared storage behind this tensor (and its views).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Whether the elements are row-major with no gaps.
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// Whether `self` and `other` are views of the same storage.
    pub fn shares_storage_with(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// Whether another handle (a clone or a view) holds this tensor's
    /// storage too, so that [`Tensor::as_mut_slice`] would copy first.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let t = Tensor::ones(&[4]);
    /// assert!(!t.is_storage_shared());
    /// let view = t.narrow(0, 1, 2).unwrap();
    /// assert!(t.is_storage_shared());
    /// drop(view);
    /// assert!(!t.is_storage_shared());
    /// ```
    pub fn is_storage_shared(&self) -> bool {
        Arc::strong_count(&self.storage) > 1
    }

    /// Whether `self` and `other` are the same view of the same storage
    /// (same storage, shape, strides and offset): the same values, always.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let t = Tensor::ones(&[2, 3]);
    /// assert!(t.clone().is_same_view(&t));
    /// assert!(!t.t().unwrap().is_same_view(&t));
    /// ```
    pub fn is_same_view(&self, other: &Tensor) -> bool {
        self.shares_storage_with(other) && self.layout == other.layout
    }

    // ----- element access ----------------------------------------------------

    /// The whole storage as a typed slice. Panics on a dtype mismatch, which
    /// is a bug in the crate (callers dispatch on dtype first).
    pub(crate) fn raw<T: Element>(&self) -> &[T] {
        T::slice_of(&self.storage).unwrap_or_else(|| {
            panic!(
                "internal error: tensor of dtype {} read as {}",
                self.dtype(),
                T::DTYPE
            )
        })
    }

    /// The elements in row-major order: borrowed when contiguous, copied
    /// otherwise.
    pub(crate) fn values<T: Element>(&self) -> Cow<'_, [T]> {
        let data = self.raw::<T>();
        if self.numel() == 0 {
            // A view of nothing may sit at an offset past the storage.
            Cow::Borrowed(&[])
        } else if self.layout.is_contiguous() {
            let start = self.layout.offset;
            Cow::Borrowed(&data[start..start + self.numel()])
        } else {
            Cow::Owned(gather_strided(data, &self.layout))
        }
    }

    /// The contiguous elements as a slice, when the layout allows.
    pub(crate) fn contiguous_slice<T: Element>(&self) -> Option<&[T]> {
        if self.numel() == 0 {
            Some(&[])
        } else if self.layout.is_contiguous() {
            let start = self.layout.offset;
            Some(&self.raw::<T>()[start..start + self.numel()])
        } else {
            None
        }
    }

    /// The elements as a borrowed slice, when `T` is the dtype and the
    /// tensor is contiguous (call [`Tensor::contiguous`] first otherwise);
    /// `None` else. For crates that run their own kernels over a tensor's
    /// data without copying it (torchlet-sparse).
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// assert_eq!(t.as_slice::<f32>(), Some(&[1.0f32, 2.0, 3.0, 4.0][..]));
    /// assert_eq!(t.t().unwrap().as_slice::<f32>(), None); // a strided view
    /// assert_eq!(t.as_slice::<f64>(), None); // another dtype
    /// ```
    pub fn as_slice<T: Element>(&self) -> Option<&[T]> {
        let data = T::slice_of(&self.storage)?;
        if self.layout.is_contiguous() {
            let start = self.layout.offset;
            data.get(start..start + self.numel())
        } else {
            None
        }
    }

    /// The elements as a mutable row-major slice, for kernels outside this
    /// crate that update a tensor in place (an optimizer's sparse row
    /// updates). Copy-on-write: when the storage is shared with another
    /// handle, or this tensor is a strided view, its elements are first
    /// copied into a buffer of its own, so no other tensor changes.
    /// Fails when `T` is not the dtype.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
    /// let mut b = a.clone(); // shares a's storage
    /// b.as_mut_slice::<f32>().unwrap()[0] = 9.0;
    /// assert_eq!(b.to_vec::<f32>().unwrap(), [9.0, 2.0]);
    /// assert_eq!(a.to_vec::<f32>().unwrap(), [1.0, 2.0]); // untouched
    /// ```
    pub fn as_mut_slice<T: Element>(&mut self) -> Result<&mut [T]> {
        if T::DTYPE != self.dtype() {
            return Err(TensorError::dtype(
                "as_mut_slice",
                format!("a tensor of dtype {}", T::DTYPE),
                self.dtype(),
            ));
        }
        Ok(self.unique_data::<T>().as_mut_slice())
    }

    /// The elements in row-major order as a `Vec<T>`; `T` must be the
    /// tensor's dtype (use [`Tensor::to_dtype`] to convert first).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype() {
            return Err(TensorError::dtype(
                "to_vec",
                format!("a tensor of dtype {}", T::DTYPE),
                self.dtype(),
            ));
        }
        Ok(self.values::<T>().into_owned())
    }

    /// The element at `index` (one entry per dimension, negative counts
    /// from the end), converted to `T` as Python's `float()`/`int()` would.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let m = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// assert_eq!(m.get::<f32>(&[1, 0]).unwrap(), 3.0);
    /// assert_eq!(m.get::<f32>(&[-1, -1]).unwrap(), 4.0);
    /// assert!(m.get::<f32>(&[2, 0]).is_err());
    /// ```
    pub fn get<T: Element>(&self, index: &[i64]) -> Result<T> {
        if index.len() != self.dim() {
            return Err(TensorError::invalid(
                "get",
                format!(
                    "expected {} indices for a tensor of shape {:?}, got {}",
                    self.dim(),
                    self.shape(),
                    index.len()
                ),
            ));
        }
        let mut pos = Vec::with_capacity(index.len());
        for (d, (&i, &n)) in index.iter().zip(self.shape()).enumerate() {
            let wrapped = if i < 0 { i + n as i64 } else { i };
            if wrapped < 0 || wrapped >= n as i64 {
                return Err(TensorError::IndexOutOfRange {
                    op: "get",
                    index: i,
                    dim: d,
                    size: n,
                });
            }
            pos.push(wrapped as usize);
        }
        let at = self.layout.offset_of(&pos);
        Ok(read_as::<T>(&self.storage, at))
    }

    /// The value of a one-element tensor (`tensor.item()`).
    pub fn item<T: Element>(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(TensorError::invalid(
                "item",
                format!(
                    "a tensor with {} elements (shape {:?}) cannot be converted to a scalar",
                    self.numel(),
                    self.shape()
                ),
            ));
        }
        let at = self.layout.offset_of(&vec![0; self.dim()]);
        Ok(read_as::<T>(&self.storage, at))
    }

    // ----- copies and conversions -------------------------------------------

    /// This tensor with row-major contiguous layout: the same handle when it
    /// already is, a copy otherwise.
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() && self.layout.offset == 0 && self.storage.len() == self.numel() {
            return self.clone();
        }
        if self.is_contiguous() {
            // Contiguous but a window into a larger storage: keep sharing.
            return self.clone();
        }
        with_dtype!(self.dtype(), T => {
            Tensor::from_data(gather_strided(self.raw::<T>(), &self.layout), self.shape())
        })
    }

    /// A contiguous copy that owns its storage (`tensor.clone()` in PyTorch).
    pub fn deep_clone(&self) -> Tensor {
        with_dtype!(self.dtype(), T => Tensor::from_data(self.values::<T>().into_owned(), self.shape()))
    }

    /// This tensor converted to `dtype` (`tensor.to(dtype)`): floats to
    /// integers truncate toward zero, anything to bool is `!= 0`. Returns
    /// the same handle when the dtype already matches.
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        if dtype == self.dtype() {
            return self.clone();
        }
        with_dtype!(self.dtype(), S => {
            let src = self.values::<S>();
            with_dtype!(dtype, D => {
                let out: Vec<D> = src.iter().map(|&v| cast::<S, D>(v)).collect();
                Tensor::from_data(out, self.shape())
            })
        })
    }

    /// The floating type this tensor computes in: itself when it is f32/f64,
    /// else converted to f32 (as `torch.exp(int_tensor)` is float32).
    pub(crate) fn to_float(&self) -> Tensor {
        self.to_dtype(self.dtype().to_float())
    }
}

/// Converts one element between element types.
#[inline(always)]
pub(crate) fn cast<S: Element, D: Element>(v: S) -> D {
    if S::DTYPE == D::DTYPE {
        // Same type: exact (no round trip through f64 for large i64).
        let p = &v as *const S as *const D;
        // SAFETY: `Element` is sealed and its four impls have distinct
        // DTYPEs, so equal tags mean S and D are the same type.
        unsafe { *p }
    } else {
        D::from_f64(v.to_f64())
    }
}

/// Reads storage element `at` converted to `T`.
fn read_as<T: Element>(storage: &Storage, at: usize) -> T {
    match storage {
        Storage::F32(v) => cast(v[at]),
        Storage::F64(v) => cast(v[at]),
        Storage::I64(v) => cast(v[at]),
        Storage::Bool(v) => cast(v[at]),
    }
}

/// Copies the elements of a strided layout into a new row-major vector.
/// Transposed layouts (the innermost dim strided, another dim with unit
/// stride) are copied in square tiles so reads and writes both stay in
/// cache; everything else walks runs of the innermost dim.
pub(crate) fn gather_strided<T: Element>(data: &[T], layout: &Layout) -> Vec<T> {
    let n = layout.numel();
    let rank = layout.rank();
    let last = rank.wrapping_sub(1);
    let unit = (0..rank)
        .rev()
        .find(|&d| layout.strides[d] == 1 && layout.shape[d] > 1);
    if let Some(p) = unit.filter(|&p| rank >= 2 && p != last && layout.shape[last] > 1 && n >= 1024)
    {
        return gather_tiled(data, layout, p);
    }
    let mut out = Vec::with_capacity(n);
    for_each_run(
        &layout.shape,
        [&layout.strides],
        [layout.offset],
        |o, len, s| {
            let (start, step) = (o[0], s[0]);
            if step == 1 {
                out.extend_from_slice(&data[start..start + len]);
            } else {
                out.extend((0..len).map(|i| data[start + i * step]));
            }
        },
    );
    out
}

/// Tiled copy for a layout whose dim `p` has unit stride but whose last
/// dim does not: each (p, last) plane is a transpose, done 32x32 at a time.
fn gather_tiled<T: Element>(data: &[T], layout: &Layout, p: usize) -> Vec<T> {
    const TILE: usize = 64;
    let shape = &layout.shape;
    let rank = shape.len();
    let last = rank - 1;
    let out_strides = crate::layout::contiguous_strides(shape);
    let n = layout.numel();
    // Every element is written exactly once below (the tiles cover each
    // (p, last) plane of each index of the other dims); set_len at the end.
    let mut out: Vec<T> = Vec::with_capacity(n);
    // The other dims, walked with an odometer.
    let others: Vec<usize> = (0..rank).filter(|&d| d != p && d != last).collect();
    let mut idx = vec![0usize; others.len()];
    let (np, nl) = (shape[p], shape[last]);
    let (sl, op) = (layout.strides[last], out_strides[p]);
    loop {
        let src_base = layout.offset
            + others
                .iter()
                .zip(&idx)
                .map(|(&d, &i)| i * layout.strides[d])
                .sum::<usize>();
        let dst_base: usize = others
            .iter()
            .zip(&idx)
            .map(|(&d, &i)| i * out_strides[d])
            .sum();
        // Bounds: the largest index read is src_base + (np-1) + (nl-1)*sl,
        // inside the layout's extent; the largest written is
        // dst_base + (np-1)*op + nl-1 < n. Checked once, not per element.
        assert!(
            src_base + (np - 1) + (nl - 1) * sl < data.len()
                && dst_base + (np - 1) * op + nl - 1 < n
        );
        let (src, dst) = (data.as_ptr(), out.as_mut_ptr());
        // Through a small buffer: each source row segment is read once and
        // each destination row segment written once, so power-of-two row
        // strides (which map every row to the same cache set) don't thrash.
        let mut buf = [[T::default(); TILE]; TILE];
        for i0 in (0..np).step_by(TILE) {
            let ni = TILE.min(np - i0);
            for j0 in (0..nl).step_by(TILE) {
                let nj = TILE.min(nl - j0);
                for (jj, row) in buf.iter_mut().enumerate().take(nj) {
                    let base = src_base + (j0 + jj) * sl + i0;
                    for (ii, b) in row.iter_mut().enumerate().take(ni) {
                        // SAFETY: in bounds by the assertion above.
                        *b = unsafe { *src.add(base + ii) };
                    }
                }
                for ii in 0..ni {
                    let base = dst_base + (i0 + ii) * op + j0;
                    for (jj, row) in buf.iter().enumerate().take(nj) {
                        // SAFETY: in bounds by the assertion above.
                        unsafe { *dst.add(base + jj) = row[ii] };
                    }
                }
            }
        }
        let mut k = others.len();
        loop {
            if k == 0 {
                // SAFETY: all n elements were written (see above).
                unsafe { out.set_len(n) };
                return out;
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < shape[others[k]] {
                break;
            }
            idx[k] = 0;
        }
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
