//! A whole LSTM layer and direction as one recorded op, on the fused
//! kernels of [`torchlet_tensor::functional::lstm_sequence`].
//!
//! The op records one node whose output packs the hidden states of every
//! step and the final cell state (`[T + 1, N, H]`); the returned output,
//! `h_n` and `c_n` are views of it, so their gradients meet in one buffer
//! and the backward runs once over the whole sequence.
//!
//! The fused backward is first-order. Under `create_graph` (higher-order
//! gradients) the node instead replays the recurrence step by step with
//! differentiable ops ([`lstm_sequence_unfused`]) and differentiates that,
//! so double backward stays exact.

use torchlet_tensor::functional as tf;
use torchlet_tensor::Tensor;

use crate::engine::vjp_with_graph;
use crate::error::Result;
use crate::functional::lstm_cell;
use crate::graph::{record, Ctx};
use crate::mode::is_grad_enabled;
use crate::variable::Variable;

/// The inputs of one LSTM layer and direction.
#[derive(Clone, Copy)]
pub struct LstmWeights<'a> {
    /// `[4H, I]`, gate order input, forget, cell, output.
    pub w_ih: &'a Variable,
    /// `[4H, H]`.
    pub w_hh: &'a Variable,
    /// `[4H]`, optional.
    pub b_ih: Option<&'a Variable>,
    /// `[4H]`, optional.
    pub b_hh: Option<&'a Variable>,
}

/// Runs one LSTM layer over `x` `[T, N, I]` from `h0`, `c0` `[N, H]` and
/// returns `(output [T, N, H], h_n [N, H], c_n [N, H])`; with `reverse` the
/// steps run from the last to the first (the output stays in time order).
/// Differentiable with respect to every input.
///
/// ```
/// use torchlet_autograd::functional::{lstm_sequence, LstmWeights};
/// use torchlet_autograd::Variable;
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_autograd::AutogradError> {
/// let (w_ih, w_hh) = (Variable::parameter(Tensor::rand(&[8, 3])), Variable::parameter(Tensor::rand(&[8, 2])));
/// let weights = LstmWeights { w_ih: &w_ih, w_hh: &w_hh, b_ih: None, b_hh: None };
/// let x = Variable::constant(Tensor::rand(&[5, 4, 3]));
/// let zeros = Variable::constant(Tensor::zeros(&[4, 2]));
/// let (out, h_n, _c_n) = lstm_sequence(&x, &zeros, &zeros, weights, false)?;
/// assert_eq!(out.shape(), [5, 4, 2]);
/// h_n.sum().backward()?;
/// assert_eq!(w_hh.grad().unwrap().shape(), [8, 2]);
/// # Ok(())
/// # }
/// ```
pub fn lstm_sequence(
    x: &Variable,
    h0: &Variable,
    c0: &Variable,
    w: LstmWeights<'_>,
    reverse: bool,
) -> Result<(Variable, Variable, Variable)> {
    let data = |v: Option<&Variable>| v.map(Variable::data);
    let (b_ih, b_hh) = (data(w.b_ih), data(w.b_hh));
    let run = tf::lstm_sequence(
        &x.data(),
        &h0.data(),
        &c0.data(),
        &w.w_ih.data(),
        &w.w_hh.data(),
        b_ih.as_ref(),
        b_hh.as_ref(),
        reverse,
    )?;
    let mut inputs = vec![x, h0, c0, w.w_ih, w.w_hh];
    inputs.extend(w.b_ih);
    inputs.extend(w.b_hh);
    if !is_grad_enabled() || !inputs.iter().any(|v| v.requires_grad()) {
        let c = Variable::constant;
        return Ok((c(run.output), c(run.h_n), c(run.c_n)));
    }
    let steps = run.output.shape()[0];
    let packed = Tensor::cat(&[run.output, run.c_n.unsqueeze(0)?], 0)?;
    let (has_b_ih, has_b_hh) = (w.b_ih.is_some(), w.b_hh.is_some());
    let trace = run.trace;
    let y = record("lstm_sequence", packed, &inputs, move |ctx: &Ctx<'_>| {
        if ctx.create_graph {
            return replay_backward(ctx, has_b_ih, has_b_hh, reverse);
        }
        let g = ctx.grad.data();
        let d = |i: usize| ctx.inputs[i].data();
        let grads = tf::lstm_sequence_backward(
            &trace,
            &d(0),
            &d(1),
            &d(2),
            &d(3),
            &d(4),
            &ctx.output.narrow(0, 0, steps)?,
            &g.narrow(0, 0, steps)?,
            &g.select(0, steps as i64)?,
            reverse,
        )?;
        let mut out = vec![grads.input, grads.h0, grads.c0, grads.w_ih, grads.w_hh];
        if has_b_ih {
            out.push(grads.bias.clone());
        }
        if has_b_hh {
            out.push(grads.bias);
        }
        Ok(out
            .into_iter()
            .enumerate()
            .map(|(i, g)| ctx.needs(i).then(|| Variable::constant(g)))
            .collect())
    });
    let last = if reverse { 0 } else { steps - 1 };
    Ok((
        y.narrow(0, 0, steps)?,
        y.select(0, last as i64)?,
        y.select(0, steps as i64)?,
    ))
}

/// The same layer as [`lstm_sequence`], stepped with [`lstm_cell`]: a
/// graph of ordinary differentiable ops (the reference, and the path for
/// higher-order gradients).
pub fn lstm_sequence_unfused(
    x: &Variable,
    h0: &Variable,
    c0: &Variable,
    w: LstmWeights<'_>,
    reverse: bool,
) -> Result<(Variable, Variable, Variable)> {
    let steps = x.shape().first().copied().unwrap_or(0);
    let (mut h, mut c) = (h0.clone(), c0.clone());
    let mut outs = Vec::with_capacity(steps);
    for k in 0..steps {
        let t = if reverse { steps - 1 - k } else { k };
        (h, c) = lstm_cell(
            &x.select(0, t as i64)?,
            &h,
            &c,
            w.w_ih,
            w.w_hh,
            w.b_ih,
            w.b_hh,
        )?;
        outs.push(h.clone());
    }
    if reverse {
        outs.reverse();
    }
    Ok((Variable::stack(&outs, 0)?, h, c))
}

/// The `create_graph` backward: replays the layer with differentiable ops
/// and back-propagates the incoming gradient (itself a variable that may
/// carry a graph) through the replay, recording as it goes.
fn replay_backward(
    ctx: &Ctx<'_>,
    has_b_ih: bool,
    has_b_hh: bool,
    reverse: bool,
) -> Result<Vec<Option<Variable>>> {
    let i = ctx.inputs;
    let mut k = 5;
    let mut next = |present: bool| {
        present.then(|| {
            k += 1;
            &i[k - 1]
        })
    };
    let (b_ih, b_hh) = (next(has_b_ih), next(has_b_hh));
    let w = LstmWeights {
        w_ih: &i[3],
        w_hh: &i[4],
        b_ih,
        b_hh,
    };
    let (out, _, c_n) = lstm_sequence_unfused(&i[0], &i[1], &i[2], w, reverse)?;
    let packed = Variable::cat(&[out, c_n.unsqueeze(0)?], 0)?;
    let wanted: Vec<Variable> = i.iter().filter(|v| v.requires_grad()).cloned().collect();
    let mut grads = vjp_with_graph(&[(packed, ctx.grad.clone())], &wanted)?.into_iter();
    Ok(i.iter()
        .map(|v| {
            if v.requires_grad() {
                grads.next().flatten()
            } else {
                None
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{grad, gradcheck, gradgradcheck};
    use torchlet_tensor::DType;

    fn param(shape: &[usize]) -> Variable {
        Variable::parameter(
            Tensor::rand(shape)
                .to_dtype(DType::F64)
                .sub_scalar(0.5)
                .mul_scalar(2.0),
        )
    }

    fn gap(a: &Tensor, b: &Tensor) -> f64 {
        a.sub(b)
            .unwrap()
            .abs()
            .max()
            .unwrap()
            .item::<f64>()
            .unwrap()
    }

    /// Fused and unfused layers agree on the outputs and on every
    /// gradient, for losses that use the output, `h_n` and `c_n`.
    #[test]
    fn fused_matches_unfused() {
        let (t, n, i, h) = (4, 3, 2, 3);
        let vars = [
            param(&[t, n, i]),
            param(&[n, h]),
            param(&[n, h]),
            param(&[4 * h, i]),
            param(&[4 * h, h]),
            param(&[4 * h]),
            param(&[4 * h]),
        ];
        let weights = LstmWeights {
            w_ih: &vars[3],
            w_hh: &vars[4],
            b_ih: Some(&vars[5]),
            b_hh: Some(&vars[6]),
        };
        let a = Variable::constant(Tensor::rand(&[t, n, h]).to_dtype(DType::F64));
        for reverse in [false, true] {
            let mut results = Vec::new();
            for fused in [true, false] {
                let f = if fused {
                    lstm_sequence
                } else {
                    lstm_sequence_unfused
                };
                let (out, h_n, c_n) = f(&vars[0], &vars[1], &vars[2], weights, reverse).unwrap();
                let loss = out
                    .mul(&a)
                    .unwrap()
                    .sum()
                    .add(&h_n.mul(&h_n).unwrap().sum())
                    .unwrap()
                    .add(&c_n.sum())
                    .unwrap();
                let refs: Vec<&Variable> = vars.iter().collect();
                let g = grad(&[&loss], &refs, None, false, false).unwrap();
                results.push((loss.data(), g));
            }
            assert!(gap(&results[0].0, &results[1].0) < 1e-12);
            for (k, (f, u)) in results[0].1.iter().zip(&results[1].1).enumerate() {
                let (f, u) = (f.as_ref().unwrap().data(), u.as_ref().unwrap().data());
                assert!(gap(&f, &u) < 1e-12, "input {k}, reverse {reverse}");
            }
        }
    }

    #[test]
    fn gradcheck_and_gradgradcheck() {
        let (t, n, i, h) = (3, 2, 2, 2);
        let inputs: Vec<Tensor> = [
            &[t, n, i][..],
            &[n, h],
            &[n, h],
            &[4 * h, i],
            &[4 * h, h],
            &[4 * h],
        ]
        .iter()
        .map(|s| param(s).data())
        .collect();
        let f = |v: &[Variable]| -> Result<Variable> {
            let w = LstmWeights {
                w_ih: &v[3],
                w_hh: &v[4],
                b_ih: Some(&v[5]),
                b_hh: None,
            };
            let (out, _, c_n) = lstm_sequence(&v[0], &v[1], &v[2], w, true)?;
            out.sum().add(&c_n.mul(&c_n)?.sum())
        };
        gradcheck(f, &inputs).unwrap();
        gradgradcheck(f, &inputs).unwrap();
    }

    #[test]
    fn no_graph_without_grad() {
        let x = Variable::constant(Tensor::rand(&[2, 1, 3]));
        let z = Variable::constant(Tensor::zeros(&[1, 2]));
        let (w_ih, w_hh) = (
            Variable::constant(Tensor::rand(&[8, 3])),
            Variable::constant(Tensor::rand(&[8, 2])),
        );
        let w = LstmWeights {
            w_ih: &w_ih,
            w_hh: &w_hh,
            b_ih: None,
            b_hh: None,
        };
        let (out, h_n, c_n) = lstm_sequence(&x, &z, &z, w, false).unwrap();
        assert!(!out.requires_grad() && !h_n.requires_grad() && !c_n.requires_grad());
        assert_eq!(gap(&out.data().select(0, 1).unwrap(), &h_n.data()), 0.0);
    }
}
