//! Padded batches of variable-length sequences: the lengths the recurrent
//! layers stop at (`pack_padded_sequence`), and [`lengths_from_padding`],
//! which computes them from right-padded token ids as a traced op so an
//! ONNX export computes them from its input too.

use torchlet_autograd::ir::Attr;
use torchlet_autograd::trace::{self, OpRecord, TraceArg};
use torchlet_autograd::Variable;
use torchlet_tensor::{DType, Tensor};

use crate::error::{NnError, Result};

/// The trace record of [`lengths_from_padding`]
/// (`torchlet::lengths_from_padding`): each row's length in a right-padded
/// int64 batch `[N, T]`, one past its last entry that is not `pad`, at
/// least 1. Input `[tokens (tensor)]`, output int64 `[N]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaddedLengthsRecord {
    /// The padding index.
    pub pad: i64,
}

impl OpRecord for PaddedLengthsRecord {
    fn name(&self) -> &'static str {
        "torchlet::lengths_from_padding"
    }

    fn attrs(&self) -> Vec<(&'static str, Attr)> {
        vec![("pad", Attr::Int(self.pad))]
    }
}

/// Each row's length in a right-padded int64 batch `tokens` `[N, T]`: one
/// past its last entry that is not `pad`, at least 1 (an all-padding row
/// reads one step). Returns an int64 `[N]` constant for
/// [`LSTM::forward_packed`](crate::LSTM::forward_packed) and its
/// siblings; in a trace it is one op, so an exported graph computes the
/// lengths from its own input.
///
/// ```
/// use torchlet_nn::lengths_from_padding;
/// use torchlet_tensor::Tensor;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tokens = Tensor::from_vec(vec![5i64, 7, 1, 1, 4, 1, 8, 1, 1, 1, 1, 1], &[3, 4])?;
/// let lengths = lengths_from_padding(&tokens, 1)?;
/// assert_eq!(lengths.data().to_vec::<i64>()?, [2, 3, 1]);
/// # Ok(())
/// # }
/// ```
pub fn lengths_from_padding(tokens: &Tensor, pad: i64) -> Result<Variable> {
    trace::traced(
        || {
            (
                PaddedLengthsRecord { pad },
                vec![TraceArg::Tensor(tokens.clone())],
            )
        },
        || {
            if tokens.dtype() != DType::I64 || tokens.dim() != 2 {
                return Err(NnError::input(
                    "lengths_from_padding",
                    format!(
                        "expected int64 token ids [N, T], got {} of shape {:?}",
                        tokens.dtype(),
                        tokens.shape()
                    ),
                ));
            }
            let (n, t) = (tokens.shape()[0], tokens.shape()[1]);
            if t == 0 && n > 0 {
                return Err(NnError::input(
                    "lengths_from_padding",
                    format!("token ids of shape {:?} have no positions", tokens.shape()),
                ));
            }
            let ids = tokens.contiguous().to_vec::<i64>()?;
            let lengths: Vec<i64> = ids
                .chunks(t.max(1))
                .take(n)
                .map(|row| {
                    row.iter()
                        .rposition(|&i| i != pad)
                        .map_or(1, |p| p as i64 + 1)
                })
                .collect();
            Ok(Variable::constant(Tensor::from_vec(lengths, &[n])?))
        },
    )
}

/// The values of an int64 `[N]` lengths variable.
pub(crate) fn length_values(module: &'static str, lengths: &Variable) -> Result<Vec<usize>> {
    let t = lengths.data();
    if t.dtype() != DType::I64 || t.dim() != 1 {
        return Err(NnError::input(
            module,
            format!(
                "lengths must be int64 [N], got {} of shape {:?}",
                t.dtype(),
                t.shape()
            ),
        ));
    }
    t.to_vec::<i64>()?
        .into_iter()
        .map(|l| {
            usize::try_from(l)
                .map_err(|_| NnError::input(module, format!("lengths must be positive, got {l}")))
        })
        .collect()
}

/// The lengths of the sequences in a padded `[T, N, *]` batch: sequence
/// `n` is `x[..lengths[n], n]`, the rest is padding.
pub(crate) struct Lengths {
    lengths: Vec<usize>,
    /// Row `t * N + n` of a `[T * N, *]` view holds, after reversal, row
    /// `(lengths[n] - 1 - t) * N + n` (padding rows stay in place).
    reversal: Tensor,
}

impl Lengths {
    pub(crate) fn new(
        module: &'static str,
        lengths: &[usize],
        steps: usize,
        batch: usize,
    ) -> Result<Lengths> {
        if lengths.len() != batch {
            return Err(NnError::input(
                module,
                format!(
                    "expected one length per sequence ({batch}), got {} lengths",
                    lengths.len()
                ),
            ));
        }
        if let Some(bad) = lengths.iter().find(|&&l| l == 0 || l > steps) {
            return Err(NnError::input(
                module,
                format!("every length must be in 1..={steps} (the padded length), got {bad}"),
            ));
        }
        let mut reversal = Vec::with_capacity(steps * batch);
        for t in 0..steps {
            for (n, &len) in lengths.iter().enumerate() {
                let src = if t < len { len - 1 - t } else { t };
                reversal.push((src * batch + n) as i64);
            }
        }
        Ok(Lengths {
            lengths: lengths.to_vec(),
            reversal: Tensor::from_vec(reversal, &[steps * batch])?,
        })
    }

    /// Each sequence's length.
    pub(crate) fn values(&self) -> &[usize] {
        &self.lengths
    }

    /// `[N, 1]`: whether each sequence still runs at step `t`.
    pub(crate) fn active(&self, t: usize) -> Result<Tensor> {
        let active: Vec<bool> = self.lengths.iter().map(|&l| t < l).collect();
        Ok(Tensor::from_vec(active, &[self.lengths.len(), 1])?)
    }

    /// Reverses each sequence of `x` `[T, N, F]` within its length.
    pub(crate) fn reverse(&self, x: &Variable) -> Result<Variable> {
        let shape = x.shape();
        let rows = x.reshape(&[(shape[0] * shape[1]) as i64, shape[2] as i64])?;
        let reversed = rows.index_select(0, &self.reversal)?;
        Ok(reversed.reshape(&[shape[0] as i64, shape[1] as i64, shape[2] as i64])?)
    }
}
