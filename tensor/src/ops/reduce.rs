//! Reductions: sum, mean, prod, max/min (with indices), argmax/argmin,
//! var/std (with Bessel's `correction`), logsumexp — over all elements or
//! one dim with `keepdim`, as in PyTorch.

use crate::dtype::{is_nan, DType, Element, Float, Numeric};
use crate::error::{Result, TensorError};
use crate::layout::normalize_dim;
use crate::parallel::{for_each_chunk_mut, map_collect, maybe_parallel, ELEMENTWISE_PAR_THRESHOLD};
use crate::simd::with_simd;
use crate::tensor::{with_float, with_numeric, Tensor};

/// Sum of a slice with 16 independent accumulators (so it vectorizes) and
/// pairwise splitting above 4096 elements (so float error grows with
/// log n, not n). Large slices split across threads.
pub(crate) fn sum_slice<T: Numeric>(x: &[T]) -> T {
    #[inline(always)]
    fn lanes<T: Numeric>(x: &[T]) -> T {
        let mut acc = [T::ZERO; 16];
        let chunks = x.chunks_exact(16);
        let rem = chunks.remainder();
        for c in chunks {
            for i in 0..16 {
                acc[i] += c[i];
            }
        }
        // Pairwise fold of the lanes.
        let mut w = 16;
        while w > 1 {
            w /= 2;
            for i in 0..w {
                acc[i] += acc[i + w];
            }
        }
        rem.iter().fold(acc[0], |s, &v| s + v)
    }
    fn rec<T: Numeric>(x: &[T]) -> T {
        if x.len() <= 4096 {
            return with_simd(|| lanes(x));
        }
        let (a, b) = x.split_at(x.len() / 2);
        rec(a) + rec(b)
    }
    /// The same pairwise tree cut `depth` levels down: `leaf` sums the
    /// subtrees below the cut, so the additions and their order match
    /// `rec` exactly however the leaves are computed.
    fn tree<'a, T: Numeric>(x: &'a [T], depth: u32, leaf: &mut impl FnMut(&'a [T]) -> T) -> T {
        if x.len() <= 4096 || depth == 0 {
            return leaf(x);
        }
        let (a, b) = x.split_at(x.len() / 2);
        tree(a, depth - 1, leaf) + tree(b, depth - 1, leaf)
    }
    maybe_parallel(x.len(), ELEMENTWISE_PAR_THRESHOLD * 4, |threads| {
        if threads <= 1 {
            return rec(x);
        }
        let mut leaves = Vec::new();
        tree(x, 3, &mut |l| {
            leaves.push(l);
            T::ZERO
        });
        let sums = map_collect(threads, leaves.len(), |i| rec(leaves[i]));
        let mut next = sums.into_iter();
        tree(x, 3, &mut |_| next.next().expect("one sum per leaf"))
    })
}

/// A contiguous tensor viewed as `[outer, r, inner]` around dimension `dim`.
struct Axis {
    outer: usize,
    r: usize,
    inner: usize,
    /// The output shape with `keepdim` applied.
    out_shape: Vec<usize>,
}

fn axis(op: &'static str, t: &Tensor, dim: i64, keepdim: bool) -> Result<(usize, Axis)> {
    let d = normalize_dim(op, dim, t.dim())?;
    let shape = t.shape();
    if shape.is_empty() {
        return Ok((
            0,
            Axis {
                outer: 1,
                r: 1,
                inner: 1,
                out_shape: vec![],
            },
        ));
    }
    let mut out_shape = shape.to_vec();
    if keepdim {
        out_shape[d] = 1;
    } else {
        out_shape.remove(d);
    }
    Ok((
        d,
        Axis {
            outer: shape[..d].iter().product(),
            r: shape[d],
            inner: shape[d + 1..].iter().product(),
            out_shape,
        },
    ))
}

/// `row(slice of the r reduced elements)` for every output position. The
/// reduced dim is moved last first (a copy unless it already is).
fn reduce_rows<T: Element, U: Element + Send>(
    t: &Tensor,
    d: usize,
    ax: &Axis,
    row: impl Fn(&[T]) -> U + Sync,
) -> Tensor {
    let moved;
    let src = if ax.inner == 1 {
        t.values::<T>()
    } else {
        moved = t.movedim(d as i64, -1).expect("valid dims").contiguous();
        moved.values::<T>().into_owned().into()
    };
    let rows = ax.outer * ax.inner;
    let r = ax.r;
    let out: Vec<U> = if r == 0 {
        (0..rows).map(|_| row(&[])).collect()
    } else {
        maybe_parallel(rows * r, ELEMENTWISE_PAR_THRESHOLD, |threads| {
            map_collect(threads, rows, |i| row(&src[i * r..(i + 1) * r]))
        })
    };
    Tensor::from_data(out, &ax.out_shape)
}

/// Sum along an axis without moving it: rows of `inner` elements are added
/// (vectorized) into the output.
fn sum_axis<T: Numeric>(t: &Tensor, ax: &Axis) -> Tensor {
    let src = t.values::<T>();
    let (r, inner) = (ax.r, ax.inner);
    let mut out = vec![T::ZERO; ax.outer * inner];
    let body = |o: usize, dst: &mut [T]| {
        with_simd(|| {
            for j in 0..r {
                let row = &src[(o * r + j) * inner..][..inner];
                for (d, &v) in dst.iter_mut().zip(row) {
                    *d += v;
                }
            }
        })
    };
    if inner > 0 {
        maybe_parallel(src.len(), ELEMENTWISE_PAR_THRESHOLD, |threads| {
            for_each_chunk_mut(threads, &mut out, inner, body)
        });
    }
    Tensor::from_data(out, &ax.out_shape)
}

/// The dtype sums and products accumulate in: int64 for bool and int64.
fn sum_input(t: &Tensor) -> Tensor {
    if t.dtype() == DType::Bool {
        t.to_dtype(DType::I64)
    } else {
        t.clone()
    }
}

impl Tensor {
    /// Sum of all elements, as a scalar tensor (`tensor.sum()`). Integer
    /// and bool tensors sum to int64.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let m = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// assert_eq!(m.sum().item::<f32>().unwrap(), 10.0);
    /// ```
    pub fn sum(&self) -> Tensor {
        let t = sum_input(self);
        with_numeric!(t.dtype(), T => Tensor::scalar(sum_slice::<T>(&t.values::<T>())))
    }

    /// Sum over dimension `dim`, removing it (`tensor.sum(dim)`).
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let m = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// assert_eq!(m.sum_dim(0).unwrap().to_vec::<f32>().unwrap(), vec![4.0, 6.0]);
    /// assert_eq!(m.sum_dim(1).unwrap().to_vec::<f32>().unwrap(), vec![3.0, 7.0]);
    /// ```
    pub fn sum_dim(&self, dim: i64) -> Result<Tensor> {
        self.sum_dim_impl(dim, false)
    }

    /// Sum over dimension `dim`, keeping it with size 1 (`tensor.sum(dim, keepdim=True)`).
    pub fn sum_keepdim(&self, dim: i64) -> Result<Tensor> {
        self.sum_dim_impl(dim, true)
    }

    fn sum_dim_impl(&self, dim: i64, keepdim: bool) -> Result<Tensor> {
        let t = sum_input(self);
        let (d, ax) = axis("sum", &t, dim, keepdim)?;
        Ok(with_numeric!(t.dtype(), T => {
            if ax.inner == 1 {
                reduce_rows::<T, T>(&t, d, &ax, sum_slice::<T>)
            } else {
                sum_axis::<T>(&t, &ax)
            }
        }))
    }

    /// Sum over several dimensions (`tensor.sum(dims, keepdim)`); an empty
    /// list sums everything, as in PyTorch.
    pub fn sum_dims(&self, dims: &[i64], keepdim: bool) -> Result<Tensor> {
        if dims.is_empty() {
            let s = self.sum();
            return if keepdim {
                s.reshape_to(&vec![1; self.dim()])
            } else {
                Ok(s)
            };
        }
        let mut ds: Vec<usize> = dims
            .iter()
            .map(|&d| normalize_dim("sum", d, self.dim()))
            .collect::<Result<_>>()?;
        ds.sort_unstable();
        if ds.windows(2).any(|w| w[0] == w[1]) {
            return Err(TensorError::invalid(
                "sum",
                format!("dim {dims:?} appears multiple times in the list of dims"),
            ));
        }
        let mut out = self.clone();
        for &d in ds.iter().rev() {
            out = out.sum_dim_impl(d as i64, keepdim)?;
        }
        Ok(out)
    }

    /// Mean of all elements (`tensor.mean()`). Integer tensors are averaged
    /// in float32 (PyTorch requires a float input here; converting is the
    /// friendlier choice).
    pub fn mean(&self) -> Tensor {
        let t = self.to_float();
        let n = t.numel();
        with_float!(t.dtype(), T => {
            let s = sum_slice::<T>(&t.values::<T>());
            Tensor::scalar(s / T::from_usize(n))
        })
    }

    /// Mean over dimension `dim`, removing it (`tensor.mean(dim)`).
    pub fn mean_dim(&self, dim: i64) -> Result<Tensor> {
        self.mean_dims(&[dim], false)
    }

    /// Mean over dimension `dim`, keeping it with size 1.
    pub fn mean_keepdim(&self, dim: i64) -> Result<Tensor> {
        self.mean_dims(&[dim], true)
    }

    /// Mean over several dimensions (`tensor.mean(dims, keepdim)`).
    pub fn mean_dims(&self, dims: &[i64], keepdim: bool) -> Result<Tensor> {
        let t = self.to_float();
        let s = t.sum_dims(dims, keepdim)?;
        let count = if dims.is_empty() {
            t.numel()
        } else {
            t.numel() / s.numel().max(1)
        };
        let count = if s.numel() == 0 { 1 } else { count };
        Ok(s.div_scalar(count as f64))
    }

    /// Product over dimension `dim` (`tensor.prod(dim, keepdim)`).
    pub fn prod_dim(&self, dim: i64, keepdim: bool) -> Result<Tensor> {
        let t = sum_input(self);
        let (d, ax) = axis("prod", &t, dim, keepdim)?;
        Ok(
            with_numeric!(t.dtype(), T => reduce_rows::<T, T>(&t, d, &ax, |row| row.iter().fold(T::ONE, |p, &v| p * v))),
        )
    }

    /// Product of all elements (`tensor.prod()`).
    pub fn prod(&self) -> Tensor {
        let t = sum_input(self);
        with_numeric!(t.dtype(), T => Tensor::scalar(t.values::<T>().iter().fold(T::ONE, |p, &v| p * v)))
    }

    /// Largest element (`tensor.max()`); NaN if any element is NaN. Fails on
    /// an empty tensor.
    pub fn max(&self) -> Result<Tensor> {
        self.extreme_all("max", true)
    }

    /// Smallest element (`tensor.min()`); NaN if any element is NaN.
    pub fn min(&self) -> Result<Tensor> {
        self.extreme_all("min", false)
    }

    fn extreme_all(&self, op: &'static str, largest: bool) -> Result<Tensor> {
        if self.numel() == 0 {
            return Err(TensorError::invalid(
                op,
                "expected reduction dim to be specified for input.numel() == 0",
            ));
        }
        let flat = self.ravel();
        let (v, _) = flat.extreme_dim(op, 0, false, largest)?;
        Ok(v)
    }

    /// Largest values along `dim` and their indices (`torch.max(x, dim, keepdim)`).
    /// NaN counts as the largest; ties give the first index.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let m = Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 2.0], &[2, 2]).unwrap();
    /// let (values, indices) = m.max_dim(1, false).unwrap();
    /// assert_eq!(values.to_vec::<f32>().unwrap(), vec![5.0, 3.0]);
    /// assert_eq!(indices.to_vec::<i64>().unwrap(), vec![1, 0]);
    /// ```
    pub fn max_dim(&self, dim: i64, keepdim: bool) -> Result<(Tensor, Tensor)> {
        self.extreme_dim("max", dim, keepdim, true)
    }

    /// Smallest values along `dim` and their indices (`torch.min(x, dim, keepdim)`).
    pub fn min_dim(&self, dim: i64, keepdim: bool) -> Result<(Tensor, Tensor)> {
        self.extreme_dim("min", dim, keepdim, false)
    }

    /// Index of the largest value along `dim`, as int64, with `dim`
    /// removed (`x.argmax(dim)`); the first index among ties.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 0.0], &[2, 2]).unwrap();
    /// assert_eq!(x.argmax(1).unwrap().to_vec::<i64>().unwrap(), [1, 0]);
    /// assert_eq!(x.argmax_keepdim(1).unwrap().shape(), &[2, 1]);
    /// ```
    pub fn argmax(&self, dim: i64) -> Result<Tensor> {
        Ok(self.extreme_dim("argmax", dim, false, true)?.1)
    }

    /// [`argmax`](Tensor::argmax) keeping `dim` with size 1
    /// (`x.argmax(dim, keepdim=True)`).
    pub fn argmax_keepdim(&self, dim: i64) -> Result<Tensor> {
        Ok(self.extreme_dim("argmax", dim, true, true)?.1)
    }

    /// Index of the smallest value along `dim`, with `dim` removed
    /// (`x.argmin(dim)`).
    pub fn argmin(&self, dim: i64) -> Result<Tensor> {
        Ok(self.extreme_dim("argmin", dim, false, false)?.1)
    }

    /// [`argmin`](Tensor::argmin) keeping `dim` with size 1.
    pub fn argmin_keepdim(&self, dim: i64) -> Result<Tensor> {
        Ok(self.extreme_dim("argmin", dim, true, false)?.1)
    }

    fn extreme_dim(
        &self,
        op: &'static str,
        dim: i64,
        keepdim: bool,
        largest: bool,
    ) -> Result<(Tensor, Tensor)> {
        let t = if self.dtype() == DType::Bool {
            self.to_dtype(DType::I64)
        } else {
            self.clone()
        };
        let (d, ax) = axis(op, &t, dim, keepdim)?;
        if ax.r == 0 {
            return Err(TensorError::invalid(
                op,
                format!(
                    "cannot reduce over dimension {d} of size 0 (shape {:?})",
                    t.shape()
                ),
            ));
        }
        let pairs = with_numeric!(t.dtype(), T => {
            // Values and indices in one pass per row.
            let moved = if ax.inner == 1 { t.clone() } else { t.movedim(d as i64, -1)?.contiguous() };
            let src = moved.values::<T>();
            let (vals, idx): (Vec<T>, Vec<i64>) = src
                .chunks(ax.r)
                .map(|row| {
                    let mut best = 0usize;
                    for (i, &v) in row.iter().enumerate().skip(1) {
                        let b = row[best];
                        if is_nan(b) {
                            break;
                        }
                        let better = if largest { v > b } else { v < b };
                        if better || is_nan(v) {
                            best = i;
                        }
                    }
                    (row[best], best as i64)
                })
                .unzip();
            (Tensor::from_data(vals, &ax.out_shape), Tensor::from_data(idx, &ax.out_shape))
        });
        let values = if self.dtype() == DType::Bool {
            pairs.0.to_dtype(DType::Bool)
        } else {
            pairs.0
        };
        Ok((values, pairs.1))
    }

    /// Variance over `dim` with Bessel's `correction` (1 = unbiased, the
    /// PyTorch default; 0 = population) (`torch.var(x, dim, correction=, keepdim=)`).
    pub fn var_dim(&self, dim: i64, correction: usize, keepdim: bool) -> Result<Tensor> {
        let t = self.to_float();
        let (d, ax) = axis("var", &t, dim, keepdim)?;
        Ok(
            with_float!(t.dtype(), T => reduce_rows::<T, T>(&t, d, &ax, |row| variance(row, correction))),
        )
    }

    /// Standard deviation over `dim` (`torch.std`), see [`Tensor::var_dim`].
    pub fn std_dim(&self, dim: i64, correction: usize, keepdim: bool) -> Result<Tensor> {
        Ok(self.var_dim(dim, correction, keepdim)?.sqrt())
    }

    /// Variance of all elements with Bessel's `correction`.
    pub fn var(&self, correction: usize) -> Tensor {
        let t = self.to_float();
        with_float!(t.dtype(), T => Tensor::scalar(variance::<T>(&t.values::<T>(), correction)))
    }

    /// Standard deviation of all elements with Bessel's `correction`.
    pub fn std(&self, correction: usize) -> Tensor {
        self.var(correction).sqrt()
    }

    /// `log(sum(exp(x)))` over `dim`, computed stably (`torch.logsumexp`).
    pub fn logsumexp(&self, dim: i64, keepdim: bool) -> Result<Tensor> {
        let t = self.to_float();
        let (d, ax) = axis("logsumexp", &t, dim, keepdim)?;
        Ok(with_float!(t.dtype(), T => reduce_rows::<T, T>(&t, d, &ax, logsumexp_row::<T>)))
    }
}

/// Two-pass variance of a row: mean first, then squared deviations.
fn variance<T: Float>(row: &[T], correction: usize) -> T {
    let n = row.len();
    if n == 0 {
        return T::nan();
    }
    let mean = sum_slice(row) / T::from_usize(n);
    let ss = row
        .iter()
        .fold(T::ZERO, |s, &v| s + (v - mean) * (v - mean));
    if n <= correction {
        // PyTorch: division by a non-positive count gives inf/nan.
        return ss / T::from_f64(n as f64 - correction as f64);
    }
    ss / T::from_usize(n - correction)
}

/// Stable `log(sum(exp(row)))`: shift by the max first.
pub(crate) fn logsumexp_row<T: Float>(row: &[T]) -> T {
    let m = row.iter().fold(
        T::neg_infinity(),
        |m, &v| if v > m || v.is_nan() { v } else { m },
    );
    if m.is_infinite() || m.is_nan() {
        // All -inf gives -inf, any +inf gives +inf, NaN stays NaN: m itself.
        return m;
    }
    let s = with_simd(|| row.iter().fold(T::ZERO, |s, &v| s + (v - m).exp_fast()));
    m + s.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        Tensor::from_vec(v, shape).unwrap()
    }

    /// Naive reduction along `dim` for checking the fast paths.
    fn naive(x: &Tensor, dim: usize, f: impl Fn(&[f32]) -> f32) -> Vec<f32> {
        let s = x.shape().to_vec();
        let v = x.to_vec::<f32>().unwrap();
        let outer: usize = s[..dim].iter().product();
        let inner: usize = s[dim + 1..].iter().product();
        let mut out = vec![];
        for o in 0..outer {
            for i in 0..inner {
                let row: Vec<f32> = (0..s[dim])
                    .map(|j| v[(o * s[dim] + j) * inner + i])
                    .collect();
                out.push(f(&row));
            }
        }
        out
    }

    #[test]
    fn dim_reductions_match_naive() {
        let x = t(&[3, 4, 5]);
        for d in 0..3 {
            let sum = x.sum_dim(d as i64).unwrap().to_vec::<f32>().unwrap();
            assert_eq!(sum, naive(&x, d, |r| r.iter().sum()));
            let (mx, _) = x.max_dim(d as i64, false).unwrap();
            assert_eq!(
                mx.to_vec::<f32>().unwrap(),
                naive(&x, d, |r| r.iter().cloned().fold(f32::MIN, f32::max))
            );
            let am = x.argmax(d as i64).unwrap().to_vec::<i64>().unwrap();
            let want: Vec<i64> = naive(&x, d, |r| {
                let m = r.iter().cloned().fold(f32::MIN, f32::max);
                r.iter().position(|&v| v == m).unwrap() as f32
            })
            .into_iter()
            .map(|v| v as i64)
            .collect();
            assert_eq!(am, want);
        }
        assert_eq!(x.sum_keepdim(1).unwrap().shape(), &[3, 1, 5]);
        assert_eq!(x.sum_dims(&[0, 2], false).unwrap().shape(), &[4]);
        assert_eq!(x.sum_dims(&[0, -1], true).unwrap().shape(), &[1, 4, 1]);
    }

    #[test]
    fn large_sum_is_accurate() {
        let n = 1 << 22;
        let x = Tensor::full(&[n], 0.1f32);
        let s = x.sum().item::<f32>().unwrap();
        assert!(
            (s as f64 - 0.1f32 as f64 * n as f64).abs() < 1e-3 * n as f64 * 1e-3,
            "{s}"
        );
    }

    #[test]
    fn var_std_mean_and_ints() {
        let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4]).unwrap();
        assert!((x.var(1).item::<f32>().unwrap() - 5.0 / 3.0).abs() < 1e-6);
        assert!((x.std(0).item::<f32>().unwrap() - 1.25f32.sqrt()).abs() < 1e-6);
        assert_eq!(x.mean().item::<f32>().unwrap(), 2.5);
        let i = Tensor::from_vec(vec![1i64, 2, 3], &[3]).unwrap();
        assert_eq!(i.sum().item::<i64>().unwrap(), 6);
        assert_eq!(i.mean().dtype(), DType::F32);
        let b = Tensor::from_vec(vec![true, true, false], &[3]).unwrap();
        assert_eq!(b.sum().item::<i64>().unwrap(), 2);
        assert_eq!(
            x.mean_dims(&[0], false).unwrap().item::<f32>().unwrap(),
            2.5
        );
    }

    #[test]
    fn logsumexp_is_stable() {
        let x =
            Tensor::from_vec(vec![1000.0f32, 1000.0, -1000.0, f32::NEG_INFINITY], &[2, 2]).unwrap();
        let l = x.logsumexp(1, false).unwrap().to_vec::<f32>().unwrap();
        assert!((l[0] - (1000.0 + 2f32.ln())).abs() < 1e-3);
        assert_eq!(l[1], -1000.0);
        let all_neg_inf = Tensor::full(&[3], f32::NEG_INFINITY)
            .logsumexp(0, false)
            .unwrap();
        assert_eq!(all_neg_inf.item::<f32>().unwrap(), f32::NEG_INFINITY);
    }

    #[test]
    fn nan_and_errors() {
        let x = Tensor::from_vec(vec![1.0f32, f32::NAN, 3.0], &[3]).unwrap();
        assert!(x.max().unwrap().item::<f32>().unwrap().is_nan());
        assert_eq!(x.argmax(0).unwrap().item::<i64>().unwrap(), 1);
        assert!(Tensor::zeros(&[0]).max().is_err());
        assert!(x.sum_dim(1).is_err());
        let e = x.sum_dim(2).unwrap_err().to_string();
        assert!(e.contains("sum") && e.contains("2"), "{e}");
    }
}
