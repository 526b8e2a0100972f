//! Reduction operators (`torch.distributed.ReduceOp`) applied to the
//! ranks' tensors, always in rank order so that every rank computes the
//! same bits.

use torchlet_tensor::{DType, Tensor};

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
        let (first, rest) = parts
            .split_first()
            .expect("a process group has at least one rank");
        let mut acc = first.contiguous();
        for t in rest {
            acc = match self {
                ReduceOp::Sum | ReduceOp::Avg => acc.add(t)?,
                ReduceOp::Max => acc.maximum(t)?,
                ReduceOp::Min => acc.minimum(t)?,
                ReduceOp::Product => acc.mul(t)?,
            };
        }
        if self == ReduceOp::Avg {
            acc = acc.div_scalar(parts.len() as f64);
        }
        Ok(acc)
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
