//! Creating tensors: constants, ranges, identity, and `*_like` variants.

use crate::dtype::{DType, Element, Numeric};
use crate::error::{Result, TensorError};
use crate::tensor::{with_dtype, Tensor};

impl Tensor {
    /// A float32 tensor of zeros (`torch.zeros(shape)`).
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let z = Tensor::zeros(&[2, 3]);
    /// assert_eq!(z.shape(), &[2, 3]);
    /// assert_eq!(z.sum().item::<f32>().unwrap(), 0.0);
    /// ```
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::full_dtype(shape, 0.0, DType::F32)
    }

    /// A float32 tensor of ones (`torch.ones(shape)`).
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::full_dtype(shape, 1.0, DType::F32)
    }

    /// Zeros of the given dtype.
    pub fn zeros_dtype(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::full_dtype(shape, 0.0, dtype)
    }

    /// Ones of the given dtype.
    pub fn ones_dtype(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::full_dtype(shape, 1.0, dtype)
    }

    /// A tensor filled with `value`; the dtype is `T`'s
    /// (`Tensor::full(&[2], 7i64)` is int64, like `torch.full((2,), 7)`).
    pub fn full<T: Element>(shape: &[usize], value: T) -> Tensor {
        Tensor::from_data(vec![value; shape.iter().product()], shape)
    }

    /// A tensor of `dtype` filled with `value` (converted as by `to_dtype`).
    pub fn full_dtype(shape: &[usize], value: f64, dtype: DType) -> Tensor {
        with_dtype!(dtype, T => Tensor::full(shape, T::from_f64(value)))
    }

    /// Zeros with this tensor's shape and dtype.
    pub fn zeros_like(&self) -> Tensor {
        Tensor::full_dtype(self.shape(), 0.0, self.dtype())
    }

    /// Ones with this tensor's shape and dtype.
    pub fn ones_like(&self) -> Tensor {
        Tensor::full_dtype(self.shape(), 1.0, self.dtype())
    }

    /// `value` with this tensor's shape and dtype.
    pub fn full_like(&self, value: f64) -> Tensor {
        Tensor::full_dtype(self.shape(), value, self.dtype())
    }

    /// Values from `start` (inclusive) to `end` (exclusive) by `step`
    /// (`torch.arange`). The dtype is `T`'s: write `0i64` for int64 or
    /// `0.0f32` for float32.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let r = Tensor::arange(0i64, 5, 1).unwrap();
    /// assert_eq!(r.to_vec::<i64>().unwrap(), vec![0, 1, 2, 3, 4]);
    /// let f = Tensor::arange(0.0f32, 1.0, 0.25).unwrap();
    /// assert_eq!(f.to_vec::<f32>().unwrap(), vec![0.0, 0.25, 0.5, 0.75]);
    /// assert!(Tensor::arange(0i64, 5, 0).is_err());
    /// ```
    pub fn arange<T: Numeric>(start: T, end: T, step: T) -> Result<Tensor> {
        let (s, e, st) = (start.to_f64(), end.to_f64(), step.to_f64());
        if st == 0.0 || !st.is_finite() || !s.is_finite() || !e.is_finite() {
            return Err(TensorError::invalid(
                "arange",
                format!("start ({s}), end ({e}) and step ({st}) must be finite and step non-zero"),
            ));
        }
        if (e - s) * st < 0.0 {
            return Err(TensorError::invalid(
                "arange",
                format!("upper bound and larger bound inconsistent with step sign (start {s}, end {e}, step {st})"),
            ));
        }
        let n = ((e - s) / st).ceil().max(0.0) as usize;
        let data: Vec<T> = (0..n).map(|i| T::from_f64(s + i as f64 * st)).collect();
        Ok(Tensor::from_data(data, &[n]))
    }

    /// `steps` float32 values evenly spaced from `start` to `end`, both
    /// included (`torch.linspace`).
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let l = Tensor::linspace(0.0, 1.0, 5);
    /// assert_eq!(l.to_vec::<f32>().unwrap(), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    /// ```
    pub fn linspace(start: f64, end: f64, steps: usize) -> Tensor {
        let data: Vec<f32> = match steps {
            0 => vec![],
            1 => vec![start as f32],
            _ => {
                // Like PyTorch: the first half steps from start, the second
                // half back from end, so both ends are exact.
                let step = (end - start) / (steps - 1) as f64;
                let half = steps / 2;
                (0..steps)
                    .map(|i| {
                        if i < half {
                            (start + step * i as f64) as f32
                        } else {
                            (end - step * (steps - 1 - i) as f64) as f32
                        }
                    })
                    .collect()
            }
        };
        Tensor::from_data(data, &[steps])
    }

    /// The `n x n` float32 identity matrix (`torch.eye(n)`).
    pub fn eye(n: usize) -> Tensor {
        Tensor::eye_rect(n, n)
    }

    /// An `n x m` float32 matrix with ones on the diagonal (`torch.eye(n, m)`).
    pub fn eye_rect(n: usize, m: usize) -> Tensor {
        let mut data = vec![0.0f32; n * m];
        for i in 0..n.min(m) {
            data[i * m + i] = 1.0;
        }
        Tensor::from_data(data, &[n, m])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants() {
        assert_eq!(Tensor::ones(&[2, 2]).to_vec::<f32>().unwrap(), vec![1.0; 4]);
        assert_eq!(Tensor::full(&[3], 7i64).dtype(), DType::I64);
        assert_eq!(Tensor::zeros(&[0, 3]).numel(), 0);
        assert_eq!(Tensor::zeros(&[]).numel(), 1);
        let e = Tensor::eye_rect(2, 3);
        assert_eq!(e.to_vec::<f32>().unwrap(), vec![1., 0., 0., 0., 1., 0.]);
        let f = Tensor::full_dtype(&[2], 2.5, DType::F64);
        assert_eq!(f.ones_like().to_vec::<f64>().unwrap(), vec![1.0, 1.0]);
    }

    #[test]
    fn ranges() {
        let r = Tensor::arange(10i64, 0, -3).unwrap();
        assert_eq!(r.to_vec::<i64>().unwrap(), vec![10, 7, 4, 1]);
        assert!(Tensor::arange(0.0f32, 1.0, -0.1).is_err());
        assert_eq!(Tensor::arange(0i64, 0, 1).unwrap().shape(), &[0]);
        let l = Tensor::linspace(-1.0, 1.0, 3).to_vec::<f32>().unwrap();
        assert_eq!(l, vec![-1.0, 0.0, 1.0]);
        assert_eq!(
            Tensor::linspace(2.0, 3.0, 1).to_vec::<f32>().unwrap(),
            vec![2.0]
        );
    }
}
