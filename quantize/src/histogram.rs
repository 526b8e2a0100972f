//! `HistogramObserver`: a running histogram of the values seen, and
//! PyTorch's search for the `[min, max]` that minimises the L2 error of
//! quantizing that histogram (`_non_linear_param_search`). The arithmetic
//! follows PyTorch's tensor dtypes: float32 where PyTorch works on float32
//! tensors, float64 where it works on Python floats.

use torchlet_tensor::Tensor;

use crate::error::{QuantError, Result};
use crate::observer::{aminmax, calculate_qparams, Observer, ObserverOptions};
use crate::qtensor::{float_values, QDtype};

/// How finely an old histogram is resampled into a wider range.
const UPSAMPLE_RATE: usize = 16;

/// `HistogramObserver` (per tensor; `bins` defaults to 2048 in PyTorch).
#[derive(Clone, Debug)]
pub struct HistogramObserver {
    options: ObserverOptions,
    bins: usize,
    histogram: Vec<f32>,
    min_val: f32,
    max_val: f32,
}

/// `torch.histc(x, bins, min, max)` in float32: values outside `[min,
/// max]` (and NaN) are skipped, `max` lands in the last bin, and equal
/// bounds widen to `[min - 1, max + 1]`.
fn histc(values: &[f32], bins: usize, min: f32, max: f32) -> Vec<f32> {
    let (lo, hi) = if min == max {
        (min - 1.0, max + 1.0)
    } else {
        (min, max)
    };
    let mut h = vec![0.0f32; bins];
    for &v in values {
        if !(v >= lo && v <= hi) {
            continue;
        }
        let mut pos = ((v - lo) * bins as f32 / (hi - lo)) as usize;
        if pos >= bins {
            pos = bins - 1;
        }
        h[pos] += 1.0;
    }
    h
}

/// `torch.linspace(start, end, steps)` in float32: the first half counted
/// from `start`, the second from `end`.
fn linspace(start: f32, end: f32, steps: usize) -> Vec<f32> {
    if steps == 1 {
        return vec![start];
    }
    let step = (end - start) / (steps - 1) as f32;
    let half = steps / 2;
    (0..steps)
        .map(|i| {
            if i < half {
                start + step * i as f32
            } else {
                end - step * (steps - i - 1) as f32
            }
        })
        .collect()
}

/// PyTorch's floor division of floats (`torch.div(a, b, rounding_mode="floor")`).
fn div_floor(a: f32, b: f32) -> f32 {
    if b == 0.0 {
        return a / b;
    }
    let m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    } else {
        (0.0f32).copysign(a / b)
    }
}

/// `density * (end³ - begin³) / 3` (the L2 norm of a uniform density).
fn l2(begin: f32, end: f32, density: f32) -> f32 {
    density * ((end * end * end - begin * begin * begin) / 3.0)
}

impl HistogramObserver {
    /// A new observer with `bins` bins (per-tensor schemes only).
    pub fn new(options: ObserverOptions, bins: usize) -> Result<HistogramObserver> {
        let op = "HistogramObserver";
        if options.qscheme.is_per_channel() {
            return Err(QuantError::invalid(
                op,
                format!(
                    "supports per-tensor qschemes only, got {:?}",
                    options.qscheme
                ),
            ));
        }
        if bins == 0 {
            return Err(QuantError::invalid(op, "bins must be positive"));
        }
        options.qrange()?;
        Ok(HistogramObserver {
            options,
            bins,
            histogram: vec![0.0; bins],
            min_val: f32::INFINITY,
            max_val: f32::NEG_INFINITY,
        })
    }

    /// The number of destination bins (`2 ** bits` of the dtype).
    fn dst_nbins(&self) -> f64 {
        match self.options.dtype {
            QDtype::QInt32 => 2f64.powi(32),
            _ => 256.0,
        }
    }

    /// `_upscale_histogram`: the old histogram resampled into the new range.
    fn upscale(&self, orig_min: f32, orig_max: f32, new_min: f32, new_max: f32) -> Vec<f32> {
        let n = self.bins * UPSAMPLE_RATE;
        let fine: Vec<f32> = self
            .histogram
            .iter()
            .flat_map(|&h| std::iter::repeat_n(h / UPSAMPLE_RATE as f32, UPSAMPLE_RATE))
            .collect();
        let bin_size = (orig_max - orig_min) / n as f32;
        let mids = linspace(orig_min, orig_max, n + 1);
        let bounds = linspace(new_min, new_max, self.bins + 1);
        let mut out = vec![0.0f32; self.bins];
        for (k, w) in fine.iter().enumerate() {
            let mid = mids[k] + 0.5 * bin_size;
            // bucketize(right=True) - 1: boundaries <= mid, minus one.
            let b = bounds.partition_point(|&e| e <= mid) as i64 - 1;
            out[b.clamp(0, self.bins as i64 - 1) as usize] += w;
        }
        out
    }

    /// `_compute_quantization_error` for a candidate `[start, end]` bin range.
    fn quantization_error(&self, start: usize, end: usize) -> f64 {
        let bin_width = (self.max_val as f64 - self.min_val as f64) / self.bins as f64;
        let dst_width = bin_width * (end as f64 - start as f64 + 1.0) / self.dst_nbins();
        if dst_width == 0.0 {
            return 0.0;
        }
        let (bw, dw) = (bin_width as f32, dst_width as f32);
        let last = (self.dst_nbins() - 1.0) as f32;
        let half = (dst_width / 2.0) as f32;
        let neg_half = (-dst_width / 2.0) as f32;
        let mut total = 0.0f64;
        for (i, &h) in self.histogram.iter().enumerate() {
            let begin = (i as f32 - start as f32) * bw;
            let end_ = begin + bw;
            let of_begin = div_floor(begin, dw).clamp(0.0, last);
            let of_end = div_floor(end_, dw).clamp(0.0, last);
            let density = h / bw;
            let mut norm = l2(begin - (of_begin + 0.5) * dw, half, density);
            norm += (of_end - of_begin - 1.0) * l2(neg_half, half, density);
            let end_center = of_end * dw + half;
            norm += l2(neg_half, end_ - end_center, density);
            total += norm as f64;
        }
        total
    }

    /// `_non_linear_param_search`: the `[min, max]` whose quantization
    /// error stops falling as outlier bins are dropped from either side.
    fn param_search(&self) -> (f32, f32) {
        let bins = self.bins;
        let bin_width = (self.max_val - self.min_val) / bins as f32;
        let total: f64 = self.histogram.iter().map(|&h| h as f64).sum::<f64>() as f32 as f64;
        let mut csum = Vec::with_capacity(bins);
        let mut acc = 0.0f32;
        for &h in &self.histogram {
            acc += h;
            csum.push(acc);
        }
        let stepsize = 1e-5f64;
        let (mut alpha, mut beta) = (0.0f64, 1.0f64);
        let (mut start, mut end) = (0usize, bins - 1);
        let mut norm_min = f64::INFINITY;
        while alpha < beta {
            let next_alpha = alpha + stepsize;
            let next_beta = beta - stepsize;
            let (lo_q, hi_q) = ((next_alpha * total) as f32, (next_beta * total) as f32);
            let mut l = start;
            let mut r = end;
            while l < end && csum[l] < lo_q {
                l += 1;
            }
            while r > start && csum[r] > hi_q {
                r -= 1;
            }
            let (mut next_start, mut next_end) = (start, end);
            if (l - start) > (end - r) {
                next_start = l;
                alpha = next_alpha;
            } else {
                next_end = r;
                beta = next_beta;
            }
            if next_start == start && next_end == end {
                continue;
            }
            let norm = self.quantization_error(next_start, next_end);
            if norm > norm_min {
                break;
            }
            norm_min = norm;
            start = next_start;
            end = next_end;
        }
        (
            self.min_val + bin_width * start as f32,
            self.min_val + bin_width * (end + 1) as f32,
        )
    }
}

impl Observer for HistogramObserver {
    fn observe(&mut self, x: &Tensor) -> Result<()> {
        let mut values = float_values("HistogramObserver", x)?;
        // Infinite values are ignored (they would make the range infinite).
        values.retain(|v| v.is_finite() || v.is_nan());
        let Some((x_min, x_max)) = aminmax(&values) else {
            return Ok(());
        };
        if self.min_val == f32::INFINITY || self.max_val == f32::NEG_INFINITY {
            self.histogram = histc(&values, self.bins, x_min, x_max);
            (self.min_val, self.max_val) = (x_min, x_max);
            return Ok(());
        }
        let (new_min, new_max) = (self.min_val.min(x_min), self.max_val.max(x_max));
        let update = histc(&values, self.bins, new_min, new_max);
        if new_min == self.min_val && new_max == self.max_val {
            self.histogram
                .iter_mut()
                .zip(&update)
                .for_each(|(h, u)| *h += u);
            return Ok(());
        }
        let combined: Vec<f32> = if self.min_val == self.max_val {
            let count: f32 = self.histogram.iter().sum();
            histc(&[self.min_val], self.bins, new_min, new_max)
                .iter()
                .zip(&update)
                .map(|(o, u)| o * count + u)
                .collect()
        } else {
            self.upscale(self.min_val, self.max_val, new_min, new_max)
                .iter()
                .zip(&update)
                .map(|(o, u)| u + o)
                .collect()
        };
        self.histogram = combined;
        (self.min_val, self.max_val) = (new_min, new_max);
        Ok(())
    }

    fn calculate_qparams(&self) -> Result<(Tensor, Tensor)> {
        if self.min_val == f32::INFINITY && self.max_val == f32::NEG_INFINITY {
            return Err(QuantError::invalid(
                "calculate_qparams",
                "the observer has seen no data: run it on calibration inputs first",
            ));
        }
        let (lo, hi) = self.param_search();
        let (s, z) = calculate_qparams(&self.options, &[lo], &[hi])?;
        Ok((Tensor::from_vec(s, &[1])?, Tensor::from_vec(z, &[1])?))
    }

    fn options(&self) -> &ObserverOptions {
        &self.options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histc_matches_pytorch_edges() {
        // torch.histc(tensor([0., 1., 2., 2., 3.]), 3, 0, 3) = [1, 1, 3]
        assert_eq!(
            histc(&[0.0, 1.0, 2.0, 2.0, 3.0], 3, 0.0, 3.0),
            [1.0, 1.0, 3.0]
        );
        // Equal bounds widen by one each side.
        assert_eq!(histc(&[5.0, 5.0], 2, 5.0, 5.0), [0.0, 2.0]);
        assert_eq!(histc(&[-1.0, f32::NAN, 9.0], 2, 0.0, 3.0), [0.0, 0.0]);
    }

    #[test]
    fn floor_division_follows_pytorch() {
        assert_eq!(div_floor(7.0, 2.0), 3.0);
        assert_eq!(div_floor(-7.0, 2.0), -4.0);
        assert_eq!(div_floor(-0.0, 2.0), -0.0);
    }
}
