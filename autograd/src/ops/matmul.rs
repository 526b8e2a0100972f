//! Matrix products with their gradients, including broadcast batch dims.

use crate::error::Result;
use crate::graph::record;
use crate::ops::sum_to;
use crate::trace::{AtenOp, TraceArg};
use crate::variable::Variable;

/// Whether a 2-D operand is stored column by column (a transposed
/// contiguous matrix, such as `weight.t()` in `linear`). Its gradient is
/// then computed in that layout, as PyTorch's `mm_mat2_backward` does:
/// `(g^T @ a)^T` instead of `a^T @ g`, so that the transpose's backward
/// hands the weight a contiguous gradient rather than a strided one that
/// every later consumer (accumulation, the optimizer) has to gather.
fn column_major(v: &Variable) -> bool {
    let t = v.data();
    let (s, shape) = (t.strides(), t.shape());
    s[0] == 1 && s[1] != 1 && shape[0] > 1 && shape[1] > 1
}

impl Variable {
    /// Matrix product with `torch.matmul`'s rules (1-D, 2-D, batched with
    /// broadcasting). Gradients: `g @ b^T` and `a^T @ g`, with vectors
    /// lifted to matrices and broadcast batch dims summed back.
    pub fn matmul(&self, other: &Variable) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::MatMul,
                    vec![TraceArg::var(self), TraceArg::var(other)],
                )
            },
            || {
                let out = self.with_data2(other, |a, b| a.matmul(b))?;
                Ok(record("MmBackward0", out, &[self, other], |c| {
                    let (a, b) = (&c.inputs[0], &c.inputs[1]);
                    let (ra, rb) = (a.dim(), b.dim());
                    // Lift to matrices as the forward did, so one formula fits all.
                    let a2 = if ra == 1 { a.unsqueeze(0)? } else { a.clone() };
                    let b2 = if rb == 1 { b.unsqueeze(1)? } else { b.clone() };
                    let mut g = c.grad.clone();
                    if ra == 1 {
                        g = g.unsqueeze(if rb == 1 { 0 } else { -2 })?;
                    }
                    if rb == 1 {
                        g = g.unsqueeze(-1)?;
                    }
                    let ga = if c.needs(0) {
                        let full = if ra == 2 && rb == 2 && column_major(a) {
                            b2.matmul(&g.t()?)?.t()?
                        } else {
                            g.matmul(&b2.transpose(-1, -2)?)?
                        };
                        let r = sum_to(&full, &a2.shape())?;
                        Some(if ra == 1 { r.squeeze(0)? } else { r })
                    } else {
                        None
                    };
                    let gb = if c.needs(1) {
                        let full = if ra == 2 && rb == 2 && column_major(b) {
                            g.t()?.matmul(&a2)?.t()?
                        } else {
                            a2.transpose(-1, -2)?.matmul(&g)?
                        };
                        let r = sum_to(&full, &b2.shape())?;
                        Some(if rb == 1 { r.squeeze(-1)? } else { r })
                    } else {
                        None
                    };
                    Ok(vec![ga, gb])
                }))
            },
        )
    }

    /// `x @ weight^T + bias` (`F.linear`), weight `[out, in]`.
    pub fn linear(&self, weight: &Variable, bias: Option<&Variable>) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Linear,
                    vec![
                        TraceArg::var(self),
                        TraceArg::var(weight),
                        TraceArg::opt(bias),
                    ],
                )
            },
            || {
                let y = self.matmul(&weight.t()?)?;
                match bias {
                    Some(b) => y.add(b),
                    None => Ok(y),
                }
            },
        )
    }
}
