//! In-place updates (`add_`, `mul_`, ... as in PyTorch) for optimizers and
//! accumulators. They write into the buffer only when this handle is its
//! sole owner and is contiguous; otherwise they first copy (so a view or a
//! clone held elsewhere never changes behind its owner's back).

use std::sync::Arc;

use crate::dtype::{DType, Element};
use crate::error::{Result, TensorError};
use crate::simd;
use crate::tensor::{with_dtype, with_numeric, Tensor};

impl Tensor {
    /// Makes this handle the sole owner of a contiguous buffer holding
    /// exactly its elements, copying only when needed, and returns it.
    pub(crate) fn unique_data<T: Element>(&mut self) -> &mut Vec<T> {
        let exact = self.layout.is_contiguous()
            && self.layout.offset == 0
            && self.storage.len() == self.numel();
        if !exact || Arc::get_mut(&mut self.storage).is_none() {
            *self = self.deep_clone();
        }
        let storage = Arc::get_mut(&mut self.storage).expect("a fresh copy has one owner");
        T::vec_of_mut(storage).expect("dtype checked by the caller")
    }

    /// `other` broadcast to this tensor's shape and converted to its dtype,
    /// as the right-hand side of an in-place op.
    fn rhs_for(&self, op: &'static str, other: &Tensor) -> Result<Tensor> {
        if !self.dtype().is_float() && other.dtype().is_float() {
            return Err(TensorError::invalid(
                op,
                format!(
                    "result type {} can't be cast to the desired output type {}",
                    other.dtype(),
                    self.dtype()
                ),
            ));
        }
        other
            .to_dtype(self.dtype())
            .broadcast_to(op, self.shape())
            .map_err(|_| {
                TensorError::shapes(
                    op,
                    &[self.shape(), other.shape()],
                    "the right-hand side must broadcast to the tensor's shape",
                )
            })
    }

    fn zip_(
        &mut self,
        op: &'static str,
        other: &Tensor,
        f: impl Fn(f64, f64) -> f64 + Sync,
    ) -> Result<()> {
        if self.dtype() == DType::Bool {
            return Err(TensorError::dtype(op, "a numeric tensor", DType::Bool));
        }
        let rhs = self.rhs_for(op, other)?;
        with_numeric!(self.dtype(), T => {
            let r = rhs.values::<T>();
            let data = self.unique_data::<T>();
            simd::zip_inplace(data, &r, |a: T, b: T| <T as Element>::from_f64(f(a.to_f64(), b.to_f64())));
        });
        Ok(())
    }

    /// `self += other` (`tensor.add_(other)`); `other` broadcasts to `self`.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let mut acc = Tensor::zeros(&[2]);
    /// acc.add_(&Tensor::ones(&[2])).unwrap();
    /// acc.add_(&Tensor::ones(&[2])).unwrap();
    /// assert_eq!(acc.to_vec::<f32>().unwrap(), vec![2.0, 2.0]);
    /// ```
    pub fn add_(&mut self, other: &Tensor) -> Result<()> {
        self.add_scaled_(other, 1.0)
    }

    /// `self += alpha * other` (`tensor.add_(other, alpha=alpha)`).
    pub fn add_scaled_(&mut self, other: &Tensor, alpha: f64) -> Result<()> {
        if self.dtype() == DType::Bool {
            return Err(TensorError::dtype("add_", "a numeric tensor", DType::Bool));
        }
        let rhs = self.rhs_for("add_", other)?;
        with_numeric!(self.dtype(), T => {
            let r = rhs.values::<T>();
            let a = <T as Element>::from_f64(alpha);
            let data = self.unique_data::<T>();
            if alpha == 1.0 {
                simd::zip_inplace(data, &r, |x: T, y: T| x + y);
            } else {
                simd::zip_inplace(data, &r, |x: T, y: T| x + a * y);
            }
        });
        Ok(())
    }

    /// `self -= other` (`tensor.sub_(other)`).
    pub fn sub_(&mut self, other: &Tensor) -> Result<()> {
        self.add_scaled_(other, -1.0)
    }

    /// `self *= other` (`tensor.mul_(other)`).
    pub fn mul_(&mut self, other: &Tensor) -> Result<()> {
        if self.dtype().is_float() {
            let rhs = self.rhs_for("mul_", other)?;
            crate::tensor::with_float!(self.dtype(), T => {
                let r = rhs.values::<T>();
                simd::zip_inplace(self.unique_data::<T>(), &r, |x: T, y: T| x * y);
            });
            return Ok(());
        }
        self.zip_("mul_", other, |a, b| a * b)
    }

    /// `self /= other` (`tensor.div_(other)`); float tensors only.
    pub fn div_(&mut self, other: &Tensor) -> Result<()> {
        if !self.dtype().is_float() {
            return Err(TensorError::dtype(
                "div_",
                "a float tensor (true division)",
                self.dtype(),
            ));
        }
        let rhs = self.rhs_for("div_", other)?;
        crate::tensor::with_float!(self.dtype(), T => {
            let r = rhs.values::<T>();
            simd::zip_inplace(self.unique_data::<T>(), &r, |x: T, y: T| x / y);
        });
        Ok(())
    }

    /// `self *= value` (`tensor.mul_(value)`).
    pub fn mul_scalar_(&mut self, value: f64) {
        with_dtype!(self.dtype(), T => {
            if T::DTYPE == DType::Bool {
                let v = value != 0.0;
                simd::map_inplace(self.unique_data::<bool>(), |x| x & v);
            } else {
                let v = <T as Element>::from_f64(value);
                let data = self.unique_data::<T>();
                simd::map_inplace(data, |x: T| <T as Element>::from_f64(x.to_f64() * v.to_f64()));
            }
        })
    }

    /// `self += value` (`tensor.add_(value)`).
    pub fn add_scalar_(&mut self, value: f64) {
        with_dtype!(self.dtype(), T => {
            let data = self.unique_data::<T>();
            simd::map_inplace(data, |x: T| <T as Element>::from_f64(x.to_f64() + value));
        })
    }

    /// Every element set to `value` (`tensor.fill_(value)`).
    pub fn fill_(&mut self, value: f64) {
        with_dtype!(self.dtype(), T => {
            let v = <T as Element>::from_f64(value);
            self.unique_data::<T>().fill(v);
        })
    }

    /// Every element set to zero (`tensor.zero_()`).
    pub fn zero_(&mut self) {
        self.fill_(0.0)
    }

    /// The values of `src` (broadcast and converted) copied into this
    /// tensor (`tensor.copy_(src)`).
    pub fn copy_(&mut self, src: &Tensor) -> Result<()> {
        let rhs = src
            .to_dtype(self.dtype())
            .broadcast_to("copy_", self.shape())?;
        with_dtype!(self.dtype(), T => {
            let r = rhs.values::<T>().into_owned();
            *self.unique_data::<T>() = r;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_in_place_when_unique() {
        let mut a = Tensor::ones(&[1 << 16]);
        let ptr = a.raw::<f32>().as_ptr();
        a.add_scaled_(&Tensor::full(&[1], 2.0f32), -0.5).unwrap();
        assert_eq!(a.raw::<f32>().as_ptr(), ptr, "no reallocation");
        assert!(a.to_vec::<f32>().unwrap().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn shared_buffers_are_not_modified() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let mut view = a.transpose(0, 1).unwrap();
        view.mul_scalar_(10.0);
        assert_eq!(a.to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(view.to_vec::<f32>().unwrap(), vec![10.0, 30.0, 20.0, 40.0]);
        let mut c = a.clone();
        c.fill_(0.0);
        assert_eq!(a.sum().item::<f32>().unwrap(), 10.0);
    }

    #[test]
    fn errors_and_broadcast() {
        let mut i = Tensor::from_vec(vec![1i64, 2], &[2]).unwrap();
        assert!(i.add_(&Tensor::ones(&[2])).is_err());
        i.add_(&Tensor::from_vec(vec![5i64], &[1]).unwrap())
            .unwrap();
        assert_eq!(i.to_vec::<i64>().unwrap(), vec![6, 7]);
        let mut m = Tensor::ones(&[2, 3]);
        assert!(m.add_(&Tensor::ones(&[2])).is_err());
        m.mul_(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).unwrap())
            .unwrap();
        assert_eq!(m.sum().item::<f32>().unwrap(), 12.0);
        m.copy_(&Tensor::zeros(&[3])).unwrap();
        assert_eq!(m.sum().item::<f32>().unwrap(), 0.0);
    }
}
