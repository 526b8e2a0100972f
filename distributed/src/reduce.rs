//! Reduction operators (`torch.distributed.ReduceOp`) applied to the
//! ranks' tensors, always in rank order so that every rank computes the
//! same bits.

use torchlet_tensor::{DType, Element, Tensor};

use crate::error::{DistError, Result};

/// How [`all_reduce`](crate::ProcessGroup::all_reduce) and
/// [`reduce_scatter`](crate::ProcessGroup::reduce_scatter) combine the
/// ranks' tensors (`torch.distributed.ReduceOp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Elementwise sum.
    Sum,
    /// Elementwise mean over the ranks (float tensors only, as in PyTorch).
    Avg,
    /// Elementwise maximum.
    Max,
    /// Elementwise minimum.
    Min,
    /// Elementwise product.
    Product,
}

impl ReduceOp {
    /// Checks that `dtype` can be reduced with this op.
    pub(crate) fn check(self, op: &'static str, dtype: DType) -> Result<()> {
        match (self, dtype) {
            (_, DType::Bool) => Err(DistError::invalid(
                op,
                format!("cannot reduce a bool tensor with {self:?}; convert it to int64 first"),
            )),
            (ReduceOp::Avg, d) if !d.is_float() => Err(DistError::invalid(
                op,
                format!("ReduceOp::Avg needs a float tensor, got {d}"),
            )),
            _ => Ok(()),
        }
    }

    /// The reduction of `parts` (one per rank, same shape and dtype), in
    /// rank order.
    pub(crate) fn apply(self, parts: &[&Tensor]) -> Result<Tensor> {
        let first = parts[0];
        macro_rules! typed {
            ($T:ty) => {{
                let slices = slices::<$T>(parts)?;
                let mut out = vec![<$T>::default(); first.numel()];
                self.combine(&slices, |x| x, &mut out);
                Ok(Tensor::from_vec(out, first.shape())?)
            }};
        }
        match first.dtype() {
            DType::F32 => typed!(f32),
            DType::F64 => typed!(f64),
            DType::I64 => typed!(i64),
            other => Err(DistError::invalid(
                "all_reduce",
                format!("cannot reduce a {other} tensor"),
            )),
        }
    }

    /// Writes into `out` the reduction of `parts` (one slice per rank, in
    /// rank order) of `pre` of each element; `Avg` then divides by the
    /// number of parts. Works in blocks that stay in the L1 cache.
    pub(crate) fn combine<T: Reducible>(
        self,
        parts: &[&[T]],
        pre: impl Fn(T) -> T + Copy,
        out: &mut [T],
    ) {
        const BLOCK: usize = 2048;
        for (b, o) in out.chunks_mut(BLOCK).enumerate() {
            let range = b * BLOCK..b * BLOCK + o.len();
            o.iter_mut()
                .zip(&parts[0][range.clone()])
                .for_each(|(o, &x)| *o = pre(x));
            for &p in &parts[1..] {
                let p = p[range.clone()].iter();
                match self {
                    ReduceOp::Sum | ReduceOp::Avg => {
                        o.iter_mut().zip(p).for_each(|(o, &x)| *o = o.add(pre(x)))
                    }
                    ReduceOp::Max => o
                        .iter_mut()
                        .zip(p)
                        .for_each(|(o, &x)| *o = o.max_of(pre(x))),
                    ReduceOp::Min => o
                        .iter_mut()
                        .zip(p)
                        .for_each(|(o, &x)| *o = o.min_of(pre(x))),
                    ReduceOp::Product => o.iter_mut().zip(p).for_each(|(o, &x)| *o = o.mul(pre(x))),
                }
            }
            if self == ReduceOp::Avg {
                let world = T::from_f64(parts.len() as f64);
                o.iter_mut().for_each(|o| *o = o.div(world));
            }
        }
    }
}

/// The contiguous data of each tensor as `T`.
fn slices<'a, T: Reducible>(parts: &[&'a Tensor]) -> Result<Vec<&'a [T]>> {
    parts
        .iter()
        .map(|t| {
            t.as_slice::<T>().ok_or_else(|| {
                DistError::invalid("all_reduce", "expected contiguous tensors of one dtype")
            })
        })
        .collect()
}

/// Writes into `out` the sum over the ranks of their `parts` (one slice
/// per rank, in rank order), each element first divided by `divisor`:
/// DDP's gradient average, divided before it is summed as PyTorch does.
pub(crate) fn sum_divided_into<T: Reducible>(parts: &[&[T]], divisor: f64, out: &mut [T]) {
    let d = T::from_f64(divisor);
    // Dividing by a power of two is multiplying by its inverse: the same
    // bits, without the slow division.
    if divisor > 0.0 && divisor.log2().fract() == 0.0 {
        let inv = T::from_f64(1.0 / divisor);
        ReduceOp::Sum.combine(parts, move |x| x.mul(inv), out);
    } else {
        ReduceOp::Sum.combine(parts, move |x| x.div(d), out);
    }
}

/// `parts` flattened end to end into one new 1-D tensor, each element
/// divided by `divisor` on the way (one pass; the same bits as the
/// `Local` backend's sum takes its terms with): the buffer a backend that
/// moves one flat tensor (MPI) all-reduces for DDP.
pub(crate) fn flatten_divided(parts: &[Tensor], divisor: f64) -> Result<Tensor> {
    let dtype = parts.first().map_or(DType::F32, Tensor::dtype);
    let n: usize = parts.iter().map(Tensor::numel).sum();
    macro_rules! typed {
        ($T:ty) => {{
            let mut out = vec![<$T>::default(); n];
            let mut at = 0;
            for p in parts {
                let src = slices::<$T>(&[p])?;
                let len = src[0].len();
                sum_divided_into(&src, divisor, &mut out[at..at + len]);
                at += len;
            }
            Ok(Tensor::from_vec(out, &[n])?)
        }};
    }
    match dtype {
        DType::F32 => typed!(f32),
        DType::F64 => typed!(f64),
        other => Err(DistError::invalid(
            "all_reduce",
            format!("gradients must be float32 or float64, got {other}"),
        )),
    }
}

/// The element types the reductions run on.
pub(crate) trait Reducible: Element {
    fn add(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    /// The larger, NaN if either is (`torch.maximum`).
    fn max_of(self, o: Self) -> Self;
    /// The smaller, NaN if either is (`torch.minimum`).
    fn min_of(self, o: Self) -> Self;
}

macro_rules! float_reducible {
    ($T:ty) => {
        impl Reducible for $T {
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self + o
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self * o
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                self / o
            }
            #[inline(always)]
            fn max_of(self, o: Self) -> Self {
                if self.is_nan() || self > o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn min_of(self, o: Self) -> Self {
                if self.is_nan() || self < o {
                    self
                } else {
                    o
                }
            }
        }
    };
}
float_reducible!(f32);
float_reducible!(f64);

impl Reducible for i64 {
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self.wrapping_mul(o)
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        self / o
    }
    #[inline(always)]
    fn max_of(self, o: Self) -> Self {
        self.max(o)
    }
    #[inline(always)]
    fn min_of(self, o: Self) -> Self {
        self.min(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_op_combines_in_rank_order() {
        let a = Tensor::from_vec(vec![1.0f32, -2.0, 3.0], &[3]).unwrap();
        let b = Tensor::from_vec(vec![4.0f32, 5.0, -6.0], &[3]).unwrap();
        let got = |op: ReduceOp| op.apply(&[&a, &b]).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(got(ReduceOp::Sum), [5.0, 3.0, -3.0]);
        assert_eq!(got(ReduceOp::Avg), [2.5, 1.5, -1.5]);
        assert_eq!(got(ReduceOp::Max), [4.0, 5.0, 3.0]);
        assert_eq!(got(ReduceOp::Min), [1.0, -2.0, -6.0]);
        assert_eq!(got(ReduceOp::Product), [4.0, -10.0, -18.0]);
        let i = Tensor::from_vec(vec![1i64, 2], &[2]).unwrap();
        assert!(ReduceOp::Avg.check("all_reduce", i.dtype()).is_err());
        assert!(ReduceOp::Sum.check("all_reduce", DType::Bool).is_err());
        assert!(ReduceOp::Sum.check("all_reduce", i.dtype()).is_ok());
    }
}
