//! softmax and log_softmax along a dimension, numerically stable (the max
//! is subtracted first, so inputs of ±1000 are fine).

use std::mem::MaybeUninit;

use crate::dtype::Float;
use crate::error::Result;
use crate::layout::normalize_dim;
use crate::parallel::{for_each_chunk_mut, maybe_parallel, ELEMENTWISE_PAR_THRESHOLD};
use crate::simd::{run_kernel, Kernel};
use crate::tensor::{with_float, Tensor};

/// Largest element of a row, with 32 independent lanes (four AVX registers)
/// so it vectorizes without a single dependency chain, and whether the row
/// holds a NaN or +inf (PyTorch's softmax of such a row is all NaN).
///
/// NaN is skipped by the max; a sum of `v * 0` (0 unless some `v` is NaN
/// or infinite) looks for it. Both in one loop over 16-lane halves: with
/// two 32-lane arrays the compiler kept the lanes on the stack.
#[inline(always)]
fn row_max<T: Float>(x: &[T]) -> (T, bool) {
    let mut lanes = [T::neg_infinity(); 32];
    let mut probe = [T::ZERO; 16];
    let mut chunks = x.chunks_exact(32);
    for c in &mut chunks {
        for i in 0..32 {
            lanes[i] = if c[i] > lanes[i] { c[i] } else { lanes[i] };
        }
        for i in 0..16 {
            probe[i] += c[i] * T::ZERO + c[i + 16] * T::ZERO;
        }
    }
    let tail = chunks.remainder();
    let m = tail
        .iter()
        .fold(T::neg_infinity(), |m, &v| if v > m { v } else { m });
    let m = lanes.iter().fold(m, |m, &v| if v > m { v } else { m });
    let tail_probe = tail.iter().fold(T::ZERO, |p, &v| p + v * T::ZERO);
    let probe = probe.iter().fold(tail_probe, |s, &v| s + v);
    // -inf entries (attention masks) trip the probe too; only NaN or +inf
    // make the row NaN. +inf is the max; a NaN needs another look, a pass
    // without an early exit so that it vectorizes (masked rows are common).
    let bad = probe != T::ZERO
        && (m == T::infinity() || x.iter().fold(false, |nan, &v| nan | v.is_nan()));
    (m, bad)
}

/// Sum of a row with 32 independent lanes.
#[inline(always)]
fn row_sum<T: Float>(x: &[T]) -> T {
    let mut lanes = [T::ZERO; 32];
    let mut chunks = x.chunks_exact(32);
    for c in &mut chunks {
        for i in 0..32 {
            lanes[i] += c[i];
        }
    }
    let tail = chunks.remainder().iter().fold(T::ZERO, |s, &v| s + v);
    lanes.iter().fold(tail, |s, &v| s + v)
}

/// softmax (or log_softmax) of one contiguous row, written into `out`
/// (uninitialized on entry, fully written on return). Passes over a row
/// that sits in L1: max, exp, sum, scale; each a simple loop that
/// vectorizes on its own.
#[inline(always)]
fn softmax_row<T: Float>(x: &[T], out: &mut [MaybeUninit<T>], log: bool) {
    let (m, nan_or_inf) = row_max(x);
    if nan_or_inf {
        // PyTorch: the max is NaN or +inf, `x - max` holds a NaN, and so
        // does every sum after it.
        for o in out.iter_mut() {
            o.write(T::nan());
        }
        return;
    }
    // A row of -inf gives NaN like PyTorch; keep m finite otherwise.
    let m = if m.is_infinite() { T::ZERO } else { m };
    for (o, &v) in out.iter_mut().zip(x) {
        o.write((v - m).exp_nonpositive());
    }
    // SAFETY: every element of `out` was written just above.
    let out = unsafe { &mut *(out as *mut [MaybeUninit<T>] as *mut [T]) };
    let total = row_sum(out);
    if log {
        let lse = m + total.ln();
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v - lse;
        }
    } else {
        let inv = T::ONE / total;
        for o in out.iter_mut() {
            *o *= inv;
        }
    }
}

/// One row for [`run_kernel`] (AVX-512 where the CPU has it).
struct SoftmaxRow<'a, T> {
    x: &'a [T],
    out: &'a mut [MaybeUninit<T>],
    log: bool,
}

impl<T: Float> Kernel for SoftmaxRow<'_, T> {
    type Out = ();

    #[inline(always)]
    fn run(self) {
        softmax_row(self.x, self.out, self.log)
    }
}

impl Tensor {
    /// `exp(x) / sum(exp(x))` along `dim` (`torch.softmax(x, dim)`).
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1000.0f32, 1000.0, 0.0, 0.0], &[2, 2]).unwrap();
    /// let s = x.softmax(1).unwrap(); // across each row
    /// assert_eq!(s.to_vec::<f32>().unwrap(), vec![0.5, 0.5, 0.5, 0.5]);
    /// ```
    pub fn softmax(&self, dim: i64) -> Result<Tensor> {
        self.softmax_impl("softmax", dim, false)
    }

    /// `x - logsumexp(x)` along `dim` (`torch.log_softmax(x, dim)`).
    pub fn log_softmax(&self, dim: i64) -> Result<Tensor> {
        self.softmax_impl("log_softmax", dim, true)
    }

    fn softmax_impl(&self, op: &'static str, dim: i64, log: bool) -> Result<Tensor> {
        let t = self.to_float();
        let d = normalize_dim(op, dim, t.dim())?;
        if t.dim() == 0 {
            return Ok(with_float!(t.dtype(), T => {
                let v = t.item::<T>()?;
                #[allow(clippy::eq_op)] // v - v keeps NaN and inf -> NaN, as PyTorch
                let z = v - v;
                Tensor::scalar(if log { z } else { z.exp() })
            }));
        }
        // Work on rows: move `dim` last when it isn't already.
        let last = d == t.dim() - 1;
        let moved = if last {
            t.clone()
        } else {
            t.transpose(d as i64, -1)?
        };
        let r = moved.shape()[moved.dim() - 1];
        let out = with_float!(t.dtype(), T => {
            let src = moved.values::<T>();
            let mut out: Vec<T> = Vec::with_capacity(src.len());
            let dst = &mut out.spare_capacity_mut()[..src.len()];
            if r > 0 {
                maybe_parallel(src.len(), ELEMENTWISE_PAR_THRESHOLD, |threads| {
                    for_each_chunk_mut(threads, dst, r, |i, o: &mut [MaybeUninit<T>]| {
                        run_kernel(SoftmaxRow { x: &src[i * r..(i + 1) * r], out: o, log })
                    })
                });
            }
            // SAFETY: every row (and so every element) was written above.
            unsafe { out.set_len(src.len()) };
            Tensor::from_data(out, moved.shape())
        });
        if last {
            Ok(out)
        } else {
            Ok(out.transpose(d as i64, -1)?.contiguous())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_definition_along_each_dim() {
        let v: Vec<f32> = (0..24).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let x = Tensor::from_vec(v.clone(), &[2, 3, 4]).unwrap();
        for d in 0..3i64 {
            let s = x.softmax(d).unwrap();
            let l = x.log_softmax(d).unwrap();
            let e = x.exp();
            let want = e.div(&e.sum_keepdim(d).unwrap()).unwrap();
            for ((a, b), c) in s
                .to_vec::<f32>()
                .unwrap()
                .iter()
                .zip(want.to_vec::<f32>().unwrap())
                .zip(l.to_vec::<f32>().unwrap())
            {
                assert!((a - b).abs() < 1e-6);
                assert!((c - b.ln()).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn stable_at_extremes() {
        let x = Tensor::from_vec(vec![-1000.0f32, 0.0, 1000.0], &[3]).unwrap();
        assert_eq!(
            x.softmax(0).unwrap().to_vec::<f32>().unwrap(),
            vec![0.0, 0.0, 1.0]
        );
        let l = x.log_softmax(0).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(l, vec![-2000.0, -1000.0, 0.0]);
        assert!(x.softmax(1).is_err());
    }

    #[test]
    fn rows_with_nan_or_inf_are_nan_as_in_pytorch() {
        // PyTorch 2.15: softmax and log_softmax of a row holding a NaN (any
        // payload) or +inf are all NaN; -inf entries give 0 / -inf; a row
        // of -inf is NaN. Rows long enough for the vector lanes, and short;
        // with and without a -inf (a mask) beside the bad value.
        let nan_payload = f32::from_bits(0x7fc0_0101);
        for (len, masked) in [(4usize, false), (70, false), (4, true), (70, true)] {
            for (k, bad) in [f32::NAN, nan_payload, f32::INFINITY]
                .into_iter()
                .enumerate()
            {
                let mut v: Vec<f32> = (0..len).map(|i| i as f32 * 0.1).collect();
                if masked {
                    v[(len / 2 + k + 1) % len] = f32::NEG_INFINITY;
                }
                v[(len / 2 + k) % len] = bad;
                let x = Tensor::from_vec(v, &[1, len]).unwrap();
                for log in [false, true] {
                    let y = x.softmax_impl("softmax", 1, log).unwrap();
                    let y = y.to_vec::<f32>().unwrap();
                    assert!(y.iter().all(|v| v.is_nan()), "{bad:?} in {len}: {y:?}");
                }
            }
            let mut v: Vec<f32> = (0..len).map(|i| i as f32 * 0.1).collect();
            v[1] = f32::NEG_INFINITY;
            let x = Tensor::from_vec(v, &[1, len]).unwrap();
            assert_eq!(x.softmax(1).unwrap().to_vec::<f32>().unwrap()[1], 0.0);
            let l = x.log_softmax(1).unwrap().to_vec::<f32>().unwrap();
            assert!(l[1] == f32::NEG_INFINITY && l[0].is_finite());
            let all = Tensor::full(&[1, len], f32::NEG_INFINITY);
            assert!(all.softmax(1).unwrap().to_vec::<f32>().unwrap()[0].is_nan());
        }
    }

    proptest! {
        #[test]
        fn rows_sum_to_one(v in proptest::collection::vec(-50.0f32..50.0, 1..64), cols in 1usize..8) {
            let rows = v.len() / cols;
            prop_assume!(rows > 0);
            let x = Tensor::from_slice(&v[..rows * cols], &[rows, cols]).unwrap();
            let s = x.softmax(-1).unwrap().sum_dim(1).unwrap().to_vec::<f32>().unwrap();
            for total in s {
                prop_assert!((total - 1.0).abs() < 1e-5);
            }
        }
    }
}
