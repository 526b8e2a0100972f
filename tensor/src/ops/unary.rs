//! Elementwise unary math and activations. Float functions of integer
//! tensors compute in float32, as `torch.exp(int_tensor)` does.

use crate::dtype::{DType, Element, Float, Numeric};
use crate::simd;
use crate::tensor::{with_float, with_numeric, Tensor};

impl Tensor {
    /// `f` over every element, keeping the shape (fast path for contiguous
    /// tensors; vectorized and threaded through [`simd::map`]).
    pub(crate) fn map<S: Element, D: Element>(&self, f: impl Fn(S) -> D + Sync) -> Tensor {
        let src = self.values::<S>();
        Tensor::from_data(simd::map(&src, f), self.shape())
    }

    /// The tensor as a numeric type: bool becomes int64.
    fn numeric(&self) -> Tensor {
        if self.dtype() == DType::Bool {
            self.to_dtype(DType::I64)
        } else {
            self.clone()
        }
    }
}

/// Defines a float unary op: `|x| expr` with `x: T` where `T: Float`.
macro_rules! float_unary {
    ($(#[$doc:meta])* $name:ident, |$x:ident| $e:expr) => {
        $(#[$doc])*
        pub fn $name(&self) -> Tensor {
            let t = self.to_float();
            with_float!(t.dtype(), T => t.map::<T, T>(|$x: T| $e))
        }
    };
}

/// Defines a numeric unary op that keeps int64 (bool becomes int64).
macro_rules! numeric_unary {
    ($(#[$doc:meta])* $name:ident, |$x:ident| $e:expr) => {
        $(#[$doc])*
        pub fn $name(&self) -> Tensor {
            let t = self.numeric();
            with_numeric!(t.dtype(), T => t.map::<T, T>(|$x: T| $e))
        }
    };
}

impl Tensor {
    numeric_unary!(
        /// `-x` (`torch.neg`).
        neg, |x| T::ZERO - x);
    numeric_unary!(
        /// `|x|` (`torch.abs`).
        abs, |x| if x < T::ZERO { T::ZERO - x } else { x });
    numeric_unary!(
        /// `x * x` (`torch.square`).
        square, |x| x * x);
    numeric_unary!(
        /// `max(x, 0)`, keeping NaN (`torch.relu`).
        ///
        /// ```
        /// use torchlet_tensor::Tensor;
        /// let x = Tensor::from_vec(vec![-1.0f32, 0.5], &[2]).unwrap();
        /// assert_eq!(x.relu().to_vec::<f32>().unwrap(), vec![0.0, 0.5]);
        /// ```
        relu, |x| if x < T::ZERO { T::ZERO } else { x });
    numeric_unary!(
        /// -1, 0 or 1 by sign (`torch.sign`); NaN stays NaN.
        sign, |x| if x > T::ZERO { T::ONE } else if x < T::ZERO { T::ZERO - T::ONE } else { x });

    float_unary!(
        /// `e^x` (`torch.exp`).
        exp, |x| x.exp_fast());
    float_unary!(
        /// Natural logarithm (`torch.log`).
        log, |x| x.ln());
    float_unary!(
        /// `ln(1 + x)`, accurate near 0 (`torch.log1p`).
        log1p, |x| x.ln_1p());
    float_unary!(
        /// `e^x - 1`, accurate near 0 (`torch.expm1`).
        expm1, |x| x.exp_m1());
    float_unary!(
        /// Square root (`torch.sqrt`).
        sqrt, |x| x.sqrt());
    float_unary!(
        /// `1 / sqrt(x)` (`torch.rsqrt`).
        rsqrt, |x| T::ONE / x.sqrt());
    float_unary!(
        /// `1 / x` (`torch.reciprocal`).
        reciprocal, |x| T::ONE / x);
    float_unary!(
        /// Sine (`torch.sin`).
        sin, |x| x.sin());
    float_unary!(
        /// Cosine (`torch.cos`).
        cos, |x| x.cos());
    float_unary!(
        /// Tangent (`torch.tan`).
        tan, |x| x.tan());
    float_unary!(
        /// Hyperbolic tangent (`torch.tanh`).
        tanh, |x| x.tanh_fast());
    float_unary!(
        /// The error function (`torch.erf`).
        erf, |x| Float::erf(x));
    float_unary!(
        /// Rounds down (`torch.floor`).
        floor, |x| x.floor());
    float_unary!(
        /// Rounds up (`torch.ceil`).
        ceil, |x| x.ceil());
    float_unary!(
        /// Rounds half to even (`torch.round`).
        round, |x| x.round_ties_even());
    float_unary!(
        /// The logistic sigmoid `1 / (1 + e^-x)` (`torch.sigmoid`).
        ///
        /// ```
        /// use torchlet_tensor::Tensor;
        /// let x = Tensor::from_vec(vec![0.0f32, 1000.0, -1000.0], &[3]).unwrap();
        /// assert_eq!(x.sigmoid().to_vec::<f32>().unwrap(), vec![0.5, 1.0, 0.0]);
        /// ```
        sigmoid, |x| x.sigmoid());
    float_unary!(
        /// `x * sigmoid(x)` (`F.silu`).
        silu, |x| x * x.sigmoid());
    float_unary!(
        /// `ln(1 + e^x)`, linear above 20 (`F.softplus` with beta 1, threshold 20).
        softplus, |x| if x > T::from_f64(20.0) { x } else { x.exp().ln_1p() });
    float_unary!(
        /// Exact GELU, `x * Φ(x)` (`F.gelu`).
        gelu, |x| T::from_f64(0.5) * x * (T::ONE + Float::erf(x * T::from_f64(std::f64::consts::FRAC_1_SQRT_2))));
    float_unary!(
    /// GELU's tanh approximation (`F.gelu(x, approximate="tanh")`).
    gelu_tanh, |x| {
        let k = T::from_f64((2.0 / std::f64::consts::PI).sqrt());
        let inner = k * (x + T::from_f64(0.044715) * x * x * x);
        T::from_f64(0.5) * x * (T::ONE + inner.tanh_fast())
    });
    /// `x` for `x >= 0`, `slope * x` otherwise (`F.leaky_relu`).
    pub fn leaky_relu(&self, negative_slope: f64) -> Tensor {
        let t = self.to_float();
        with_float!(t.dtype(), T => {
            let s = T::from_f64(negative_slope);
            t.map::<T, T>(|x| if x < T::ZERO { x * s } else { x })
        })
    }

    /// The gradient of `relu`-like thresholds (`torch.ops.aten.threshold_backward`):
    /// `grad` where this tensor is greater than `threshold`, 0 elsewhere —
    /// one pass instead of a comparison, a cast and a product. `grad` must
    /// have this tensor's shape and be a float tensor.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![-1.0f32, 0.0, 2.0], &[3]).unwrap();
    /// let g = Tensor::from_vec(vec![5.0f32, 6.0, 7.0], &[3]).unwrap();
    /// assert_eq!(x.threshold_backward(&g, 0.0).unwrap().to_vec::<f32>().unwrap(), vec![0.0, 0.0, 7.0]);
    /// ```
    pub fn threshold_backward(&self, grad: &Tensor, threshold: f64) -> crate::Result<Tensor> {
        const OP: &str = "threshold_backward";
        if grad.shape() != self.shape() {
            return Err(crate::TensorError::shapes(
                OP,
                &[grad.shape(), self.shape()],
                "the gradient must have the input's shape",
            ));
        }
        if !grad.dtype().is_float() {
            return Err(crate::TensorError::dtype(
                OP,
                "a float gradient",
                grad.dtype(),
            ));
        }
        let x = self.to_dtype(grad.dtype());
        Ok(with_float!(grad.dtype(), T => {
            let th = T::from_f64(threshold);
            let (g, xv) = (grad.values::<T>(), x.values::<T>());
            Tensor::from_data(
                simd::zip_map(&g, &xv, |g: T, x: T| if x > th { g } else { T::ZERO }),
                self.shape(),
            )
        }))
    }

    /// `x` for `x > 0`, `alpha * (e^x - 1)` otherwise (`F.elu`).
    pub fn elu(&self, alpha: f64) -> Tensor {
        let t = self.to_float();
        with_float!(t.dtype(), T => {
            let a = T::from_f64(alpha);
            t.map::<T, T>(|x| if x > T::ZERO { x } else { a * x.exp_m1() })
        })
    }

    /// Each element limited to `[min, max]` (`torch.clamp`); NaN stays NaN.
    /// Integer tensors stay integers (bounds truncated).
    pub fn clamp(&self, min: f64, max: f64) -> Tensor {
        let t = self.numeric();
        with_numeric!(t.dtype(), T => {
            let (lo, hi) = (T::from_f64(min), T::from_f64(max));
            // PyTorch: min(max(x, lo), hi), so hi wins when lo > hi.
            t.map::<T, T>(|x| {
                let y = if x < lo { lo } else { x };
                if y > hi { hi } else { y }
            })
        })
    }

    /// Each element at least `min` (`torch.clamp(min=...)`).
    pub fn clamp_min(&self, min: f64) -> Tensor {
        self.clamp(min, f64::INFINITY)
    }

    /// Each element at most `max` (`torch.clamp(max=...)`).
    pub fn clamp_max(&self, max: f64) -> Tensor {
        self.clamp(f64::NEG_INFINITY, max)
    }

    /// Whether each element is NaN, as bool (`torch.isnan`).
    pub fn isnan(&self) -> Tensor {
        match self.dtype() {
            DType::F32 => self.map::<f32, bool>(|x| x.is_nan()),
            DType::F64 => self.map::<f64, bool>(|x| x.is_nan()),
            _ => Tensor::full_dtype(self.shape(), 0.0, DType::Bool),
        }
    }

    /// Whether each element is finite, as bool (`torch.isfinite`).
    pub fn isfinite(&self) -> Tensor {
        match self.dtype() {
            DType::F32 => self.map::<f32, bool>(|x| x.is_finite()),
            DType::F64 => self.map::<f64, bool>(|x| x.is_finite()),
            _ => Tensor::full_dtype(self.shape(), 1.0, DType::Bool),
        }
    }

    /// Logical not of a tensor read as booleans (`torch.logical_not`).
    pub fn logical_not(&self) -> Tensor {
        self.to_dtype(DType::Bool).map::<bool, bool>(|x| !x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            assert!((*x as f64 - y).abs() <= 1e-6 + 1e-5 * y.abs(), "{x} vs {y}");
        }
    }

    #[test]
    fn activations_match_definitions() {
        let xs = [-3.0f32, -0.5, 0.0, 0.7, 4.0];
        let x = Tensor::from_slice(&xs, &[5]).unwrap();
        let d = |f: fn(f64) -> f64| xs.iter().map(|&v| f(v as f64)).collect::<Vec<_>>();
        close(&x.exp().to_vec::<f32>().unwrap(), &d(f64::exp));
        close(&x.tanh().to_vec::<f32>().unwrap(), &d(f64::tanh));
        close(
            &x.silu().to_vec::<f32>().unwrap(),
            &d(|v| v / (1.0 + (-v).exp())),
        );
        close(
            &x.softplus().to_vec::<f32>().unwrap(),
            &d(|v| v.exp().ln_1p()),
        );
        close(
            &x.gelu().to_vec::<f32>().unwrap(),
            &d(|v| 0.5 * v * (1.0 + libm::erf(v / 2f64.sqrt()))),
        );
        close(
            &x.elu(1.5).to_vec::<f32>().unwrap(),
            &d(|v| if v > 0.0 { v } else { 1.5 * v.exp_m1() }),
        );
        close(
            &x.leaky_relu(0.1).to_vec::<f32>().unwrap(),
            &d(|v| if v < 0.0 { 0.1 * v } else { v }),
        );
        assert_eq!(
            x.clamp(-1.0, 1.0).to_vec::<f32>().unwrap(),
            vec![-1.0, -0.5, 0.0, 0.7, 1.0]
        );
    }

    #[test]
    fn integer_inputs() {
        let i = Tensor::from_vec(vec![-2i64, 0, 3], &[3]).unwrap();
        assert_eq!(i.abs().to_vec::<i64>().unwrap(), vec![2, 0, 3]);
        assert_eq!(i.relu().dtype(), DType::I64);
        assert_eq!(i.exp().dtype(), DType::F32);
        let b = Tensor::from_vec(vec![true, false], &[2]).unwrap();
        assert_eq!(b.neg().to_vec::<i64>().unwrap(), vec![-1, 0]);
        assert_eq!(b.logical_not().to_vec::<bool>().unwrap(), vec![false, true]);
    }

    #[test]
    fn strided_input_and_nan() {
        let m = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let t = m.transpose(0, 1).unwrap().square();
        assert_eq!(t.to_vec::<f32>().unwrap(), vec![1.0, 9.0, 4.0, 16.0]);
        let n = Tensor::from_vec(vec![f32::NAN], &[1]).unwrap();
        assert!(n.relu().item::<f32>().unwrap().is_nan());
        assert!(n.clamp(0.0, 1.0).item::<f32>().unwrap().is_nan());
        assert!(n.sigmoid().item::<f32>().unwrap().is_nan());
    }
}
