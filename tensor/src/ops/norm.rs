//! Normalization kernels: batch norm (batch or running statistics) and
//! layer norm, with the statistics exposed for the backward pass and for
//! updating running averages.

use crate::dtype::{Element, Float, Numeric};
use crate::error::{Result, TensorError};
use crate::ops::reduce::sum_slice;
use crate::parallel::{for_each_chunk_mut, map_collect, maybe_parallel, ELEMENTWISE_PAR_THRESHOLD};
use crate::simd::with_simd;
use crate::tensor::{with_float, Tensor};

/// `Σ (v - m)²` with independent lanes, so it vectorizes.
#[inline(always)]
fn sum_sq_dev<T: Float>(x: &[T], m: T) -> T {
    let mut acc = [T::ZERO; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks
        .remainder()
        .iter()
        .fold(T::ZERO, |s, &v| s + (v - m) * (v - m));
    for ch in chunks {
        for i in 0..8 {
            acc[i] += (ch[i] - m) * (ch[i] - m);
        }
    }
    acc.iter().fold(rest, |s, &a| s + a)
}

/// `Σ g · (v - m)` with independent lanes.
#[inline(always)]
fn dot_dev<T: Float>(g: &[T], x: &[T], m: T) -> T {
    let mut acc = [T::ZERO; 8];
    let (gc, xc) = (g.chunks_exact(8), x.chunks_exact(8));
    let rest = gc
        .remainder()
        .iter()
        .zip(xc.remainder())
        .fold(T::ZERO, |s, (&g, &v)| s + g * (v - m));
    for (g, v) in gc.zip(xc) {
        for i in 0..8 {
            acc[i] += g[i] * (v[i] - m);
        }
    }
    acc.iter().fold(rest, |s, &a| s + a)
}

/// Per-channel statistics of a batch-norm input `[N, C, *]`.
#[derive(Clone, Debug)]
pub struct BatchNormStats {
    /// Mean of each channel, shape `[C]`.
    pub mean: Tensor,
    /// Biased variance of each channel (divided by the count), shape `[C]`.
    pub var: Tensor,
    /// Number of values per channel (`N * spatial`), for the unbiased
    /// variance PyTorch stores in `running_var`.
    pub count: usize,
}

/// Checks an optional per-channel parameter of length `c`.
fn check_channel(
    op: &'static str,
    name: &str,
    p: Option<&Tensor>,
    c: usize,
    x: &Tensor,
) -> Result<()> {
    if let Some(p) = p {
        if p.shape() != [c] {
            return Err(TensorError::shapes(
                op,
                &[x.shape(), p.shape()],
                format!("{name} must have shape [{c}]"),
            ));
        }
    }
    Ok(())
}

impl Tensor {
    /// Mean and biased variance of each channel (dim 1) over the batch and
    /// spatial dims of an `[N, C, *]` input.
    pub fn batch_norm_stats(&self) -> Result<BatchNormStats> {
        if self.dim() < 2 {
            return Err(TensorError::invalid(
                "batch_norm",
                format!(
                    "expected an input of shape [N, C, *], got {:?}",
                    self.shape()
                ),
            ));
        }
        let t = self.to_float();
        let (n, c) = (t.shape()[0], t.shape()[1]);
        let inner: usize = t.shape()[2..].iter().product();
        let count = n * inner;
        if count <= 1 {
            return Err(TensorError::invalid(
                "batch_norm",
                format!(
                    "expected more than 1 value per channel when training, got input size {:?}",
                    t.shape()
                ),
            ));
        }
        Ok(with_float!(t.dtype(), T => {
            let x = t.values::<T>();
            let per_channel = |ch: usize| {
                let plane = |b: usize| &x[(b * c + ch) * inner..][..inner];
                with_simd(|| {
                    let s = (0..n).fold(T::ZERO, |s, b| s + sum_slice(plane(b)));
                    let m = s / <T as Float>::from_usize(count);
                    let ss = (0..n).fold(T::ZERO, |s, b| s + sum_sq_dev(plane(b), m));
                    (m, ss / <T as Float>::from_usize(count))
                })
            };
            let stats: Vec<(T, T)> = maybe_parallel(x.len(), ELEMENTWISE_PAR_THRESHOLD, |threads| {
                map_collect(threads, c, per_channel)
            });
            let (mean, var): (Vec<T>, Vec<T>) = stats.into_iter().unzip();
            BatchNormStats { mean: Tensor::from_data(mean, &[c]), var: Tensor::from_data(var, &[c]), count }
        }))
    }

    /// The training-mode backward of [`Tensor::batch_norm`] in two passes
    /// (PyTorch's `native_batch_norm_backward`): for this input `x`
    /// `[N, C, *]`, the incoming `grad`, the batch statistics `mean` and
    /// `rstd = 1 / sqrt(var + eps)` (each `[C]`) and the optional `weight`,
    /// returns `(grad_input, grad_weight, grad_bias)` where, per channel
    /// over its `M` values,
    ///
    /// ```text
    /// grad_bias   = Σ dy
    /// grad_weight = Σ dy · (x - mean) · rstd
    /// grad_input  = (dy - Σdy / M - (x - mean) · rstd² · Σ dy·(x - mean) / M) · rstd · weight
    /// ```
    pub fn batch_norm_backward(
        &self,
        grad: &Tensor,
        mean: &Tensor,
        rstd: &Tensor,
        weight: Option<&Tensor>,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        const OP: &str = "batch_norm_backward";
        if self.dim() < 2 || grad.shape() != self.shape() {
            return Err(TensorError::shapes(
                OP,
                &[self.shape(), grad.shape()],
                "expected an input [N, C, *] and a gradient of the same shape",
            ));
        }
        let c = self.shape()[1];
        for (name, p) in [
            ("mean", Some(mean)),
            ("rstd", Some(rstd)),
            ("weight", weight),
        ] {
            check_channel(OP, name, p, c, self)?;
        }
        let dt = grad.dtype();
        if !dt.is_float() {
            return Err(TensorError::dtype(OP, "a float gradient", dt));
        }
        let n = self.shape()[0];
        let inner: usize = self.shape()[2..].iter().product();
        let count = n * inner;
        let x = self.to_dtype(dt);
        Ok(with_float!(dt, T => {
            let (x, dy) = (x.values::<T>(), grad.values::<T>());
            let vals = |p: &Tensor| p.to_dtype(dt).values::<T>().into_owned();
            let (mean, rstd) = (vals(mean), vals(rstd));
            let w = weight.map(vals);
            // Pass 1: Σ dy and Σ dy·(x - mean) per channel.
            let per_channel = |ch: usize| {
                let plane = |b: usize| (b * c + ch) * inner..(b * c + ch + 1) * inner;
                with_simd(|| {
                    (0..n).fold((T::ZERO, T::ZERO), |(s, d), b| {
                        let r = plane(b);
                        (s + sum_slice(&dy[r.clone()]), d + dot_dev(&dy[r.clone()], &x[r], mean[ch]))
                    })
                })
            };
            let sums: Vec<(T, T)> = maybe_parallel(x.len(), ELEMENTWISE_PAR_THRESHOLD, |threads| {
                map_collect(threads, c, per_channel)
            });
            let m = <T as Float>::from_usize(count.max(1));
            // Pass 2: grad_input = dy * a - x * b + k per channel.
            let coef: Vec<(T, T, T)> = (0..c)
                .map(|ch| {
                    let (sum_dy, dot) = sums[ch];
                    let scale = rstd[ch] * w.as_ref().map_or(T::ONE, |w| w[ch]);
                    let proj = dot * rstd[ch] * rstd[ch] / m;
                    // (dy - sum_dy/m - (x - mean) proj) scale
                    (scale, proj * scale, (mean[ch] * proj - sum_dy / m) * scale)
                })
                .collect();
            let mut gx = vec![T::ZERO; x.len()];
            let fill = |p: usize, out: &mut [T]| {
                let (a, b, k) = coef[p % c];
                let r = p * inner..(p + 1) * inner;
                with_simd(|| {
                    for ((o, &g), &v) in out.iter_mut().zip(&dy[r.clone()]).zip(&x[r]) {
                        *o = g * a - v * b + k;
                    }
                })
            };
            maybe_parallel(x.len(), ELEMENTWISE_PAR_THRESHOLD, |threads| {
                for_each_chunk_mut(threads, &mut gx, inner.max(1), fill)
            });
            let gw: Vec<T> = (0..c).map(|ch| sums[ch].1 * rstd[ch]).collect();
            let gb: Vec<T> = sums.iter().map(|s| s.0).collect();
            (
                Tensor::from_data(gx, self.shape()),
                Tensor::from_data(gw, &[c]),
                Tensor::from_data(gb, &[c]),
            )
        }))
    }

    /// Batch normalization of an `[N, C, *]` input (`F.batch_norm`):
    /// `(x - mean) / sqrt(var + eps) * weight + bias` per channel, with the
    /// batch's statistics when `training`, else the running ones (required
    /// then). Running statistics are not updated here: a module does that
    /// from [`Tensor::batch_norm_stats`].
    pub fn batch_norm(
        &self,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        training: bool,
        eps: f64,
    ) -> Result<Tensor> {
        if self.dim() < 2 {
            return Err(TensorError::invalid(
                "batch_norm",
                format!(
                    "expected an input of shape [N, C, *], got {:?}",
                    self.shape()
                ),
            ));
        }
        let c = self.shape()[1];
        for (name, p) in [
            ("running_mean", running_mean),
            ("running_var", running_var),
            ("weight", weight),
            ("bias", bias),
        ] {
            check_channel("batch_norm", name, p, c, self)?;
        }
        let (mean, var) = if training {
            let s = self.batch_norm_stats()?;
            (s.mean, s.var)
        } else {
            match (running_mean, running_var) {
                (Some(m), Some(v)) => (m.clone(), v.clone()),
                _ => {
                    return Err(TensorError::invalid(
                        "batch_norm",
                        "running_mean and running_var are required in eval mode",
                    ))
                }
            }
        };
        let t = self.to_float();
        Ok(with_float!(t.dtype(), T => {
            let to_vec = |p: &Tensor| p.to_dtype(<T as Element>::DTYPE).values::<T>().into_owned();
            let (mean, var) = (to_vec(&mean), to_vec(&var));
            let w = weight.map(to_vec);
            let b = bias.map(to_vec);
            // Fold everything into y = x * scale + shift per channel.
            let (scale, shift): (Vec<T>, Vec<T>) = (0..c)
                .map(|ch| {
                    let rstd = T::ONE / (var[ch] + <T as Element>::from_f64(eps)).sqrt();
                    let g = w.as_ref().map_or(T::ONE, |w| w[ch]);
                    let beta = b.as_ref().map_or(T::ZERO, |b| b[ch]);
                    (g * rstd, beta - mean[ch] * g * rstd)
                })
                .unzip();
            let inner: usize = t.shape()[2..].iter().product();
            let x = t.values::<T>();
            let mut out = Vec::with_capacity(x.len());
            for (p, plane) in x.chunks(inner.max(1)).enumerate() {
                let ch = p % c;
                let (s, h) = (scale[ch], shift[ch]);
                out.extend(plane.iter().map(|&v| v * s + h));
            }
            Tensor::from_data(out, t.shape())
        }))
    }

    /// Layer normalization over the trailing `normalized_shape` dims
    /// (`F.layer_norm`), with optional elementwise `weight` and `bias` of
    /// that shape.
    pub fn layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<Tensor> {
        let (out, _, _) = self.layer_norm_with_stats(normalized_shape, weight, bias, eps)?;
        Ok(out)
    }

    /// [`Tensor::layer_norm`] that also returns the mean and `1/std` of each
    /// normalized row (shape: the leading dims), for the backward pass.
    pub fn layer_norm_with_stats(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let k = normalized_shape.len();
        if k == 0 || k > self.dim() || self.shape()[self.dim() - k..] != *normalized_shape {
            return Err(TensorError::shapes(
                "layer_norm",
                &[self.shape(), normalized_shape],
                "normalized_shape must match the trailing dimensions of the input",
            ));
        }
        for (name, p) in [("weight", weight), ("bias", bias)] {
            if let Some(p) = p {
                if p.shape() != normalized_shape {
                    return Err(TensorError::shapes(
                        "layer_norm",
                        &[normalized_shape, p.shape()],
                        format!("{name} must have the normalized shape"),
                    ));
                }
            }
        }
        let t = self.to_float();
        let d: usize = normalized_shape.iter().product();
        let lead = &t.shape()[..t.dim() - k];
        Ok(with_float!(t.dtype(), T => {
            let w = weight.map(|p| p.to_dtype(<T as Element>::DTYPE).values::<T>().into_owned());
            let b = bias.map(|p| p.to_dtype(<T as Element>::DTYPE).values::<T>().into_owned());
            let x = t.values::<T>();
            let rows = x.len().checked_div(d).unwrap_or(0);
            let mut out = Vec::with_capacity(x.len());
            let mut means = Vec::with_capacity(rows);
            let mut rstds = Vec::with_capacity(rows);
            for row in x.chunks(d.max(1)).take(rows) {
                let m = crate::ops::reduce::sum_slice(row) / <T as Float>::from_usize(d);
                let var = row.iter().fold(T::ZERO, |s, &v| s + (v - m) * (v - m)) / <T as Float>::from_usize(d);
                let rstd = T::ONE / (var + <T as Element>::from_f64(eps)).sqrt();
                means.push(m);
                rstds.push(rstd);
                for (j, &v) in row.iter().enumerate() {
                    let mut y = (v - m) * rstd;
                    if let Some(w) = &w {
                        y *= w[j];
                    }
                    if let Some(b) = &b {
                        y += b[j];
                    }
                    out.push(y);
                }
            }
            (Tensor::from_data(out, t.shape()), Tensor::from_data(means, lead), Tensor::from_data(rstds, lead))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Generator;

    #[test]
    fn batch_norm_normalizes_each_channel() {
        let mut g = Generator::new(3);
        let x = Tensor::randn_with(&[4, 3, 5, 5], &mut g)
            .mul_scalar(3.0)
            .add_scalar(2.0);
        let y = x.batch_norm(None, None, None, None, true, 1e-5).unwrap();
        let per_channel = y.transpose(0, 1).unwrap().reshape(&[3, -1]).unwrap();
        for m in per_channel.mean_dim(1).unwrap().to_vec::<f32>().unwrap() {
            assert!(m.abs() < 1e-5, "{m}");
        }
        for v in per_channel
            .var_dim(1, 0, false)
            .unwrap()
            .to_vec::<f32>()
            .unwrap()
        {
            assert!((v - 1.0).abs() < 1e-3, "{v}");
        }
        // eval mode with running stats = identity for mean 0, var 1
        let rm = Tensor::zeros(&[3]);
        let rv = Tensor::ones(&[3]);
        let e = x
            .batch_norm(Some(&rm), Some(&rv), None, None, false, 0.0)
            .unwrap();
        assert_eq!(e.to_vec::<f32>().unwrap(), x.to_vec::<f32>().unwrap());
        assert!(x.batch_norm(None, None, None, None, false, 1e-5).is_err());
        assert!(x
            .batch_norm(None, None, Some(&Tensor::ones(&[4])), None, true, 1e-5)
            .is_err());
    }

    #[test]
    fn layer_norm_rows() {
        let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 10.0, 10.0], &[2, 3]).unwrap();
        let w = Tensor::from_vec(vec![1.0f32, 2.0, 1.0], &[3]).unwrap();
        let b = Tensor::from_vec(vec![0.0f32, 0.0, 1.0], &[3]).unwrap();
        let y = x
            .layer_norm(&[3], Some(&w), Some(&b), 0.0)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        let s = (2.0f32 / 3.0).sqrt();
        let want = [-1.0 / s, 0.0, 1.0 / s + 1.0];
        for (a, b) in y[..3].iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{a} {b}");
        }
        assert!(x.layer_norm(&[2], None, None, 1e-5).is_err());
    }
}
