//! `torch.nn.functional` over [`Variable`]s: `linear`, `embedding`, the
//! losses and the recurrent cells, with PyTorch's names, arguments, math
//! and validation. Differentiable inputs are `&Variable`; class indices,
//! lookup indices and per-class weights are plain `&Tensor`s. This is the
//! one writing of each: on plain tensors, pass `Variable::constant`s (with
//! no parameter involved nothing is recorded).
//!
//! Everything is composed from differentiable variable ops (or, for the
//! two binary cross-entropies, an elementwise op whose backward is itself
//! written with them), so `create_graph` gives exact higher-order
//! gradients.
//!
//! ```
//! use torchlet_autograd::{functional as F, Variable};
//! use torchlet_tensor::Tensor;
//! # fn main() -> Result<(), torchlet_autograd::AutogradError> {
//! let logits = Variable::parameter(Tensor::from_vec(vec![2.0f32, 0.0, 0.0, 2.0], &[2, 2])?);
//! let target = Tensor::from_vec(vec![0i64, 1], &[2])?;
//! let loss = F::cross_entropy(&logits, &target, None, -100, F::Reduction::Mean, 0.0)?;
//! loss.backward()?;
//! let g = logits.grad().unwrap().to_vec::<f32>()?; // (softmax - onehot) / N
//! assert!((g[0] + 0.0596).abs() < 1e-4);
//! # Ok(())
//! # }
//! ```

use torchlet_tensor::functional as tf;
use torchlet_tensor::{broadcast_shapes, DType, Tensor, TensorError};

use crate::error::Result;
use crate::graph::record;
use crate::ops::sum_to;
use crate::trace::{AtenOp, TraceArg};
use crate::variable::Variable;

mod embedding;

pub use crate::rnn::{lstm_sequence, lstm_sequence_unfused, LstmWeights};
pub use embedding::{embedding, embedding_sparse, embedding_sparse_masked};
pub use torchlet_tensor::functional::Reduction;

fn reduce(loss: Variable, reduction: Reduction) -> Result<Variable> {
    match reduction {
        Reduction::None => Ok(loss),
        Reduction::Mean => Ok(loss.mean()),
        Reduction::Sum => Ok(loss.sum()),
    }
}

fn dims_i64(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&n| n as i64).collect()
}

/// `x @ weight^T + bias` (`F.linear`), weight `[out, in]`.
pub fn linear(x: &Variable, weight: &Variable, bias: Option<&Variable>) -> Result<Variable> {
    crate::trace::traced(
        || {
            (
                AtenOp::Linear,
                vec![TraceArg::var(x), TraceArg::var(weight), TraceArg::opt(bias)],
            )
        },
        || {
            let (xs, ws) = (x.shape(), weight.shape());
            if ws.len() != 2 || xs.last() != ws.get(1) {
                return Err(TensorError::shapes(
                    "linear",
                    &[&xs, &ws],
                    "the input's last dim must equal weight.shape[1]",
                )
                .into());
            }
            let y = x.matmul(&weight.t()?)?;
            match bias {
                Some(b) => y.add(b),
                None => Ok(y),
            }
        },
    )
}

/// Moves the class dim (1) last and flattens: `[N, C, d...]` → `[N*d..., C]`,
/// `[C]` → `[1, C]`.
fn classes_last(input: &Variable) -> Result<Variable> {
    match input.dim() {
        0 => Err(
            TensorError::invalid("cross_entropy", "input must have at least one dimension").into(),
        ),
        1 => input.unsqueeze(0),
        2 => Ok(input.clone()),
        r => {
            let mut perm: Vec<i64> = vec![0];
            perm.extend(2..r as i64);
            perm.push(1);
            input
                .permute(&perm)?
                .reshape(&[-1, input.shape()[1] as i64])
        }
    }
}

/// Per-target losses (in the target's shape) and per-target weights (0 for
/// ignored targets, a constant).
fn nll_parts(
    op: &'static str,
    input: &Variable,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
) -> Result<(Variable, Tensor)> {
    if target.dtype() != DType::I64 {
        return Err(TensorError::dtype(op, "int64 class indices as target", target.dtype()).into());
    }
    let x = classes_last(input)?;
    let c = x.shape()[1];
    let mut want: Vec<usize> = input.shape();
    if input.dim() >= 2 {
        want.remove(1);
    } else {
        want.clear();
    }
    if target.shape() != want.as_slice() {
        return Err(TensorError::shapes(
            op,
            &[&input.shape(), target.shape()],
            format!("expected target of shape {want:?}"),
        )
        .into());
    }
    if let Some(w) = weight {
        if w.shape() != [c] {
            return Err(TensorError::shapes(
                op,
                &[&input.shape(), w.shape()],
                format!("weight must have shape [{c}]"),
            )
            .into());
        }
    }
    let mut safe = Vec::with_capacity(target.numel());
    let mut keep = Vec::with_capacity(target.numel());
    for y in target.ravel().to_vec::<i64>()? {
        if y == ignore_index {
            safe.push(0);
            keep.push(false);
        } else if y < 0 || y >= c as i64 {
            return Err(TensorError::IndexOutOfRange {
                op,
                index: y,
                dim: 1,
                size: c,
            }
            .into());
        } else {
            safe.push(y);
            keep.push(true);
        }
    }
    let n = safe.len();
    let safe = Tensor::from_vec(safe, &[n, 1])?;
    let keep = Tensor::from_vec(keep, &[n])?.to_dtype(x.dtype());
    let picked = x.gather(1, &safe)?.squeeze(1)?;
    let w = match weight {
        Some(w) => w
            .to_dtype(x.dtype())
            .index_select(0, &safe.ravel())?
            .mul(&keep)?,
        None => keep,
    };
    let per = picked.neg().mul(&Variable::constant(w.clone()))?;
    let want = dims_i64(&want);
    Ok((per.reshape(&want)?, w.reshape(&want)?))
}

/// Negative log-likelihood of `input` (log-probabilities `[N, C, d...]`)
/// at the int64 `target` classes (`F.nll_loss`). Targets equal to
/// `ignore_index` count for nothing; `Mean` divides by the summed weights
/// of the counted targets.
pub fn nll_loss(
    input: &Variable,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    reduction: Reduction,
) -> Result<Variable> {
    let (per, w) = nll_parts("nll_loss", input, target, weight, ignore_index)?;
    match reduction {
        Reduction::None => Ok(per),
        Reduction::Sum => Ok(per.sum()),
        Reduction::Mean => per.sum().div(&Variable::constant(w.sum())),
    }
}

/// Cross-entropy between `input` logits (`[N, C]`, `[C]` or `[N, C, d...]`)
/// and `target` (`F.cross_entropy`): int64 class indices (with
/// `ignore_index`), or class probabilities of the input's shape (treated
/// as constants). `label_smoothing` mixes the target with the uniform
/// distribution. The gradient flows to `input` through `log_softmax`.
pub fn cross_entropy(
    input: &Variable,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    reduction: Reduction,
    label_smoothing: f64,
) -> Result<Variable> {
    if !(0.0..=1.0).contains(&label_smoothing) {
        return Err(TensorError::invalid(
            "cross_entropy",
            format!("label_smoothing must be in [0, 1], got {label_smoothing}"),
        )
        .into());
    }
    let class_dim = if input.dim() == 1 { 0 } else { 1 };
    let logp = input.log_softmax(class_dim)?;
    let c = input.shape()[class_dim as usize];
    // weight broadcast along the class dim
    let w_b = match weight {
        Some(w) => {
            let mut shape = vec![1i64; input.dim()];
            shape[class_dim as usize] = c as i64;
            Some(Variable::constant(
                w.to_dtype(logp.dtype()).reshape(&shape)?,
            ))
        }
        None => None,
    };
    if target.dtype().is_float() {
        if target.shape() != input.shape().as_slice() {
            return Err(TensorError::shapes(
                "cross_entropy",
                &[&input.shape(), target.shape()],
                "probability targets must have the input's shape",
            )
            .into());
        }
        let t = target.to_dtype(logp.dtype());
        let t = if label_smoothing > 0.0 {
            t.mul_scalar(1.0 - label_smoothing)
                .add_scalar(label_smoothing / c as f64)
        } else {
            t
        };
        let mut prod = logp.mul(&Variable::constant(t))?;
        if let Some(w) = &w_b {
            prod = prod.mul(w)?;
        }
        let per = prod.sum_dim(class_dim)?.neg();
        return match reduction {
            Reduction::None => Ok(per),
            Reduction::Sum => Ok(per.sum()),
            Reduction::Mean => Ok(per.sum().div_scalar((input.numel() / c.max(1)) as f64)),
        };
    }
    let (nll, w) = nll_parts("cross_entropy", &logp, target, weight, ignore_index)?;
    let nll_red = match reduction {
        Reduction::None => nll,
        Reduction::Sum => nll.sum(),
        Reduction::Mean => nll.sum().div(&Variable::constant(w.sum()))?,
    };
    if label_smoothing == 0.0 {
        return Ok(nll_red);
    }
    // PyTorch: smooth = -sum_c w_c logp_c, zero where ignored, reduced with
    // the same denominator as the nll term.
    let weighted = match &w_b {
        Some(wb) => logp.mul(wb)?,
        None => logp.clone(),
    };
    let ignored = target.eq(&Tensor::scalar(ignore_index))?;
    let smooth = weighted
        .sum_dim(class_dim)?
        .neg()
        .masked_fill(&Variable::constant(ignored.clone()), 0.0)?;
    let smooth_red = match reduction {
        Reduction::None => smooth,
        Reduction::Sum => smooth.sum(),
        Reduction::Mean => {
            let denom = match weight {
                Some(_) => w.sum(),
                None => ignored.logical_not().sum().to_dtype(logp.dtype()),
            };
            smooth.sum().div(&Variable::constant(denom))?
        }
    };
    nll_red
        .mul_scalar(1.0 - label_smoothing)
        .add(&smooth_red.mul_scalar(label_smoothing / c as f64))
}

/// Mean squared error (`F.mse_loss`); shapes broadcast. Differentiable in
/// both `input` and `target`.
pub fn mse_loss(input: &Variable, target: &Variable, reduction: Reduction) -> Result<Variable> {
    broadcast_shapes("mse_loss", &input.shape(), &target.shape())?;
    reduce(input.sub(target)?.square(), reduction)
}

/// Mean absolute error (`F.l1_loss`); shapes broadcast. The gradient is
/// `sign(input - target)` (0 where they are equal).
pub fn l1_loss(input: &Variable, target: &Variable, reduction: Reduction) -> Result<Variable> {
    broadcast_shapes("l1_loss", &input.shape(), &target.shape())?;
    reduce(input.sub(target)?.abs(), reduction)
}

/// Binary cross-entropy on probabilities (`F.binary_cross_entropy`); the
/// logs are clamped at -100 as in PyTorch, so 0 and 1 are finite.
/// Gradients are PyTorch's: `(p - y) / max(p (1 - p), 1e-12)` for the input
/// (finite at 0 and 1) and `log(1 - p) - log(p)` for the target.
pub fn binary_cross_entropy(
    input: &Variable,
    target: &Variable,
    weight: Option<&Tensor>,
    reduction: Reduction,
) -> Result<Variable> {
    if input.shape() != target.shape() {
        return Err(TensorError::shapes(
            "binary_cross_entropy",
            &[&input.shape(), &target.shape()],
            "target and input must have the same shape",
        )
        .into());
    }
    let out = tf::binary_cross_entropy(&input.data(), &target.data(), None, Reduction::None)?;
    let mut l = record("BinaryCrossEntropyBackward0", out, &[input, target], |c| {
        let (p, y, g) = (&c.inputs[0], &c.inputs[1], c.grad);
        Ok(vec![
            c.needs(0)
                .then(|| {
                    let denom = p.mul(&p.rsub_scalar(1.0))?.clamp_min(1e-12);
                    g.mul(&p.sub(y)?)?.div(&denom)
                })
                .transpose()?,
            c.needs(1)
                .then(|| g.mul(&p.rsub_scalar(1.0).log().sub(&p.log())?))
                .transpose()?,
        ])
    });
    if let Some(w) = weight {
        l = l.mul(&Variable::constant(w.clone()))?;
    }
    reduce(l, reduction)
}

/// Binary cross-entropy on logits, computed stably
/// (`F.binary_cross_entropy_with_logits`); `pos_weight` scales the positive
/// term per class. Gradients are PyTorch's:
/// `(pos_weight y + 1 - y) sigmoid(x) - pos_weight y` for the input and
/// `(pos_weight - 1) softplus(-x) - x` for the target.
pub fn binary_cross_entropy_with_logits(
    input: &Variable,
    target: &Variable,
    weight: Option<&Tensor>,
    pos_weight: Option<&Tensor>,
    reduction: Reduction,
) -> Result<Variable> {
    let out = tf::binary_cross_entropy_with_logits(
        &input.data(),
        &target.data(),
        None,
        pos_weight,
        Reduction::None,
    )?;
    let pw = pos_weight.map(|p| Variable::constant(p.to_dtype(out.dtype())));
    let mut l = record(
        "BinaryCrossEntropyWithLogitsBackward0",
        out,
        &[input, target],
        move |c| {
            let (x, y, g) = (&c.inputs[0], &c.inputs[1], c.grad);
            let gx = || match &pw {
                Some(pw) => {
                    let t = pw.mul(y)?;
                    t.add(&y.rsub_scalar(1.0))?.mul(&x.sigmoid())?.sub(&t)
                }
                None => x.sigmoid().sub(y),
            };
            let gy = || match &pw {
                Some(pw) => pw.sub_scalar(1.0).mul(&x.neg().softplus())?.sub(x),
                None => Ok(x.neg()),
            };
            Ok(vec![
                c.needs(0)
                    .then(|| sum_to(&g.mul(&gx()?)?, &x.shape()))
                    .transpose()?,
                c.needs(1)
                    .then(|| sum_to(&g.mul(&gy()?)?, &y.shape()))
                    .transpose()?,
            ])
        },
    );
    if let Some(w) = weight {
        l = l.mul(&Variable::constant(w.clone()))?;
    }
    reduce(l, reduction)
}

/// One step of an Elman RNN with tanh:
/// `h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)` (`torch.rnn_tanh_cell`).
pub fn rnn_tanh_cell(
    x: &Variable,
    h: &Variable,
    w_ih: &Variable,
    w_hh: &Variable,
    b_ih: Option<&Variable>,
    b_hh: Option<&Variable>,
) -> Result<Variable> {
    Ok(linear(x, w_ih, b_ih)?.add(&linear(h, w_hh, b_hh)?)?.tanh())
}

/// One LSTM step with PyTorch's gate order (input, forget, cell, output):
/// returns `(h', c')` (`torch.lstm_cell`). `w_ih` is `[4H, in]`.
pub fn lstm_cell(
    x: &Variable,
    h: &Variable,
    c: &Variable,
    w_ih: &Variable,
    w_hh: &Variable,
    b_ih: Option<&Variable>,
    b_hh: Option<&Variable>,
) -> Result<(Variable, Variable)> {
    let gates = linear(x, w_ih, b_ih)?.add(&linear(h, w_hh, b_hh)?)?;
    let g = gates.chunk(4, -1)?;
    if g.len() != 4 {
        return Err(TensorError::shapes(
            "lstm_cell",
            &[&w_ih.shape()],
            "w_ih must have 4*hidden_size rows",
        )
        .into());
    }
    let (i, f, cell, o) = (g[0].sigmoid(), g[1].sigmoid(), g[2].tanh(), g[3].sigmoid());
    let c_next = f.mul(c)?.add(&i.mul(&cell)?)?;
    let h_next = o.mul(&c_next.tanh())?;
    Ok((h_next, c_next))
}

/// One GRU step with PyTorch's gate order (reset, update, new):
/// `h' = (1 - z) * n + z * h` (`torch.gru_cell`). `w_ih` is `[3H, in]`.
pub fn gru_cell(
    x: &Variable,
    h: &Variable,
    w_ih: &Variable,
    w_hh: &Variable,
    b_ih: Option<&Variable>,
    b_hh: Option<&Variable>,
) -> Result<Variable> {
    let gi = linear(x, w_ih, b_ih)?.chunk(3, -1)?;
    let gh = linear(h, w_hh, b_hh)?.chunk(3, -1)?;
    if gi.len() != 3 || gh.len() != 3 {
        return Err(TensorError::shapes(
            "gru_cell",
            &[&w_ih.shape(), &w_hh.shape()],
            "weights must have 3*hidden_size rows",
        )
        .into());
    }
    let r = gi[0].add(&gh[0])?.sigmoid();
    let z = gi[1].add(&gh[1])?.sigmoid();
    let n = gi[2].add(&r.mul(&gh[2])?)?.tanh();
    z.rsub_scalar(1.0).mul(&n)?.add(&z.mul(h)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::fdcheck::{assert_close, check_gradients, check_hessian_vector, randn, Rng};
    use crate::reference as tf;

    fn uniform(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Tensor {
        Tensor::uniform_with(shape, lo, hi, DType::F64, rng)
    }

    fn params(ts: &[&Tensor]) -> Vec<Variable> {
        ts.iter()
            .map(|t| Variable::parameter((*t).clone()))
            .collect()
    }

    const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

    #[test]
    fn cross_entropy_by_hand() {
        let x = Tensor::from_vec(vec![1.0f32, 2.0, 0.5, 0.1, 0.2, 3.0], &[2, 3]).unwrap();
        let y = Tensor::from_vec(vec![1i64, 2], &[2]).unwrap();
        let lse0 = (1f32.exp() + 2f32.exp() + 0.5f32.exp()).ln();
        let lse1 = (0.1f32.exp() + 0.2f32.exp() + 3f32.exp()).ln();
        let want = ((lse0 - 2.0) + (lse1 - 3.0)) / 2.0;
        let ce = |target: &Tensor| {
            let x = Variable::constant(x.clone());
            cross_entropy(&x, target, None, -100, Reduction::Mean, 0.0)
                .map(|l| l.data().item::<f32>().unwrap())
        };
        assert!((ce(&y).unwrap() - want).abs() < 1e-6);
        // ignore the second sample
        let y2 = Tensor::from_vec(vec![1i64, -100], &[2]).unwrap();
        assert!((ce(&y2).unwrap() - (lse0 - 2.0)).abs() < 1e-6);
        // one-hot probabilities equal class indices
        let p = Tensor::from_vec(vec![0.0f32, 1.0, 0.0, 0.0, 0.0, 1.0], &[2, 3]).unwrap();
        assert!((ce(&p).unwrap() - want).abs() < 1e-6);
        assert!(ce(&Tensor::from_vec(vec![3i64, 0], &[2]).unwrap()).is_err());
    }

    #[test]
    fn losses_match_the_reference_versions() {
        let mut rng = Rng::new(1);
        let x = randn(&mut rng, &[5, 4]);
        let y = randn(&mut rng, &[5, 4]);
        let p = uniform(&mut rng, &[5, 4], 0.05, 0.95);
        let q = uniform(&mut rng, &[5, 4], 0.0, 1.0);
        let w = uniform(&mut rng, &[4], 0.5, 2.0);
        let t = Tensor::from_vec(vec![0i64, 3, -100, 1, 2], &[5]).unwrap();
        let v = params(&[&x, &y, &p, &q]);
        let same = |what: &str, got: Variable, want: Tensor| {
            assert_close(what, &got.data(), &want, 1e-12, 1e-12)
        };
        for r in REDUCTIONS {
            same(
                "mse",
                mse_loss(&v[0], &v[1], r).unwrap(),
                tf::mse_loss(&x, &y, r).unwrap(),
            );
            same(
                "l1",
                l1_loss(&v[0], &v[1], r).unwrap(),
                tf::l1_loss(&x, &y, r).unwrap(),
            );
            same(
                "bce",
                binary_cross_entropy(&v[2], &v[3], Some(&w), r).unwrap(),
                torchlet_tensor::functional::binary_cross_entropy(&p, &q, Some(&w), r).unwrap(),
            );
            same(
                "bce_with_logits",
                binary_cross_entropy_with_logits(&v[0], &v[3], Some(&w), Some(&w), r).unwrap(),
                torchlet_tensor::functional::binary_cross_entropy_with_logits(
                    &x,
                    &q,
                    Some(&w),
                    Some(&w),
                    r,
                )
                .unwrap(),
            );
            same(
                "nll",
                nll_loss(&v[0], &t, Some(&w), -100, r).unwrap(),
                tf::nll_loss(&x, &t, Some(&w), -100, r).unwrap(),
            );
            for (weight, smoothing) in [(None, 0.0), (Some(&w), 0.0), (None, 0.2), (Some(&w), 0.3)]
            {
                same(
                    "cross_entropy",
                    cross_entropy(&v[0], &t, weight, -100, r, smoothing).unwrap(),
                    tf::cross_entropy(&x, &t, weight, -100, r, smoothing).unwrap(),
                );
                same(
                    "cross_entropy probs",
                    cross_entropy(&v[0], &q, weight, -100, r, smoothing).unwrap(),
                    tf::cross_entropy(&x, &q, weight, -100, r, smoothing).unwrap(),
                );
            }
        }
        // [N, C, d] inputs and a [C] input
        let x3 = randn(&mut rng, &[2, 3, 4]);
        let t3 = Tensor::from_vec(vec![0i64, 1, 2, 1, 2, 0, -100, 1], &[2, 4]).unwrap();
        let got = cross_entropy(
            &Variable::parameter(x3.clone()),
            &t3,
            None,
            -100,
            Reduction::Mean,
            0.1,
        )
        .unwrap();
        same(
            "cross_entropy 3-d",
            got,
            tf::cross_entropy(&x3, &t3, None, -100, Reduction::Mean, 0.1).unwrap(),
        );
        let x1 = randn(&mut rng, &[3]);
        let t0 = Tensor::scalar(2i64);
        let got = cross_entropy(
            &Variable::parameter(x1.clone()),
            &t0,
            None,
            -100,
            Reduction::Mean,
            0.0,
        )
        .unwrap();
        same(
            "cross_entropy 1-d",
            got,
            tf::cross_entropy(&x1, &t0, None, -100, Reduction::Mean, 0.0).unwrap(),
        );
        // validation mirrors the tensor versions
        let bad = Tensor::from_vec(vec![0i64, 4, 0, 0, 0], &[5]).unwrap();
        assert!(cross_entropy(&v[0], &bad, None, -100, Reduction::Mean, 0.0).is_err());
        assert!(cross_entropy(&v[0], &t, None, -100, Reduction::Mean, 1.5).is_err());
        assert!(nll_loss(&v[0], &t.to_dtype(DType::F64), None, -100, Reduction::Mean).is_err());
        assert!(binary_cross_entropy(
            &v[2],
            &Variable::constant(Tensor::zeros_dtype(&[4], DType::F64)),
            None,
            Reduction::Mean
        )
        .is_err());
        assert!(mse_loss(
            &v[0],
            &Variable::constant(Tensor::zeros_dtype(&[3], DType::F64)),
            Reduction::Mean
        )
        .is_err());
        assert!(embedding(&t, &v[0].reshape(&[-1]).unwrap()).is_err());
    }

    #[test]
    fn regression_loss_gradients() {
        let mut rng = Rng::new(2);
        let inputs = vec![randn(&mut rng, &[3, 4]), randn(&mut rng, &[3, 4])];
        for r in REDUCTIONS {
            let mse = move |v: &[Variable]| mse_loss(&v[0], &v[1], r);
            check_gradients(&mse, &inputs, 1);
            check_hessian_vector(&mse, &inputs, 1);
            check_gradients(&move |v: &[Variable]| l1_loss(&v[0], &v[1], r), &inputs, 2);
        }
        // broadcast target
        let inputs = vec![randn(&mut rng, &[3, 4]), randn(&mut rng, &[4])];
        check_gradients(
            &|v: &[Variable]| mse_loss(&v[0], &v[1], Reduction::Mean),
            &inputs,
            3,
        );
    }

    #[test]
    fn mse_second_derivative_is_two_over_n() {
        // d²/dx² mean((x - y)²) = 2/n on the diagonal, -2/n across to y.
        let x = Variable::parameter(Tensor::from_vec(vec![0.5f64, -1.0, 2.0, 3.0], &[4]).unwrap());
        let y = Variable::parameter(Tensor::from_vec(vec![1.0f64, 1.0, 1.0, 1.0], &[4]).unwrap());
        let loss = mse_loss(&x, &y, Reduction::Mean).unwrap();
        let gx = crate::grad(&[&loss], &[&x], None, true, true).unwrap()[0]
            .clone()
            .unwrap();
        let first = gx.to_vec::<f64>().unwrap();
        let d2 = crate::grad(&[&gx.sum()], &[&x, &y], None, false, false).unwrap();
        assert_eq!(first, vec![-0.25, -1.0, 0.5, 1.0]);
        assert_eq!(
            d2[0].as_ref().unwrap().to_vec::<f64>().unwrap(),
            vec![0.5; 4]
        );
        assert_eq!(
            d2[1].as_ref().unwrap().to_vec::<f64>().unwrap(),
            vec![-0.5; 4]
        );
    }

    #[test]
    fn binary_cross_entropy_gradients() {
        let mut rng = Rng::new(3);
        let inputs = vec![
            uniform(&mut rng, &[4, 3], 0.1, 0.9),
            uniform(&mut rng, &[4, 3], 0.0, 1.0),
        ];
        let w = uniform(&mut rng, &[3], 0.5, 2.0);
        for r in REDUCTIONS {
            let ww = w.clone();
            let f = move |v: &[Variable]| binary_cross_entropy(&v[0], &v[1], Some(&ww), r);
            check_gradients(&f, &inputs, 4);
            check_hessian_vector(&f, &inputs, 4);
        }
        let logits = vec![
            randn(&mut rng, &[4, 3]).mul_scalar(3.0),
            uniform(&mut rng, &[4, 3], 0.0, 1.0),
        ];
        let pw = uniform(&mut rng, &[3], 0.5, 3.0);
        for (r, pos) in [
            (Reduction::Mean, None),
            (Reduction::Sum, Some(pw.clone())),
            (Reduction::None, Some(pw)),
        ] {
            let ww = w.clone();
            let f = move |v: &[Variable]| {
                binary_cross_entropy_with_logits(&v[0], &v[1], Some(&ww), pos.as_ref(), r)
            };
            check_gradients(&f, &logits, 5);
            check_hessian_vector(&f, &logits, 5);
        }
        // saturated probabilities give finite gradients, as in PyTorch
        let p = Variable::parameter(Tensor::from_vec(vec![1.0f32, 0.0, 1.0], &[3]).unwrap());
        let y = Variable::parameter(Tensor::from_vec(vec![1.0f32, 0.0, 0.0], &[3]).unwrap());
        binary_cross_entropy(&p, &y, None, Reduction::Sum)
            .unwrap()
            .backward()
            .unwrap();
        let g = p.grad().unwrap().to_vec::<f32>().unwrap();
        assert_eq!(&g[..2], &[0.0, 0.0]);
        assert!(g[2].is_finite() && g[2] > 0.0);
    }

    #[test]
    fn classification_loss_gradients() {
        let mut rng = Rng::new(4);
        let x = vec![randn(&mut rng, &[5, 4])];
        let t = Tensor::from_vec(vec![0i64, 3, -100, 1, 3], &[5]).unwrap();
        let w = uniform(&mut rng, &[4], 0.5, 2.0);
        for r in REDUCTIONS {
            for (weight, smoothing) in
                [(None, 0.0), (Some(w.clone()), 0.0), (Some(w.clone()), 0.25)]
            {
                let (tt, ww) = (t.clone(), weight.clone());
                let f = move |v: &[Variable]| {
                    cross_entropy(&v[0], &tt, ww.as_ref(), -100, r, smoothing)
                };
                check_gradients(&f, &x, 6);
                check_hessian_vector(&f, &x, 6);
                let (tt, ww) = (t.clone(), weight.clone());
                check_gradients(
                    &move |v: &[Variable]| nll_loss(&v[0], &tt, ww.as_ref(), -100, r),
                    &x,
                    7,
                );
            }
        }
        // probability targets and a spatial input
        let probs = randn(&mut rng, &[5, 4]).softmax(1).unwrap();
        let f =
            move |v: &[Variable]| cross_entropy(&v[0], &probs, None, -100, Reduction::Mean, 0.1);
        check_gradients(&f, &x, 8);
        check_hessian_vector(&f, &x, 8);
        let x3 = vec![randn(&mut rng, &[2, 3, 4])];
        let t3 = Tensor::from_vec(vec![0i64, 1, 2, 1, 2, 0, -100, 1], &[2, 4]).unwrap();
        let f = move |v: &[Variable]| cross_entropy(&v[0], &t3, None, -100, Reduction::Mean, 0.1);
        check_gradients(&f, &x3, 9);
        check_hessian_vector(&f, &x3, 9);
    }

    #[test]
    fn linear_and_embedding_gradients() {
        let mut rng = Rng::new(5);
        let inputs = vec![
            randn(&mut rng, &[2, 3, 4]),
            randn(&mut rng, &[5, 4]),
            randn(&mut rng, &[5]),
        ];
        let f = |v: &[Variable]| linear(&v[0], &v[1], v.get(2));
        check_gradients(&f, &inputs, 10);
        check_hessian_vector(&f, &inputs, 10);
        assert_close(
            "linear forward",
            &f(&params(&[&inputs[0], &inputs[1], &inputs[2]]))
                .unwrap()
                .data(),
            &inputs[0]
                .matmul(&inputs[1].t().unwrap())
                .unwrap()
                .add(&inputs[2])
                .unwrap(),
            1e-12,
            1e-12,
        );
        assert!(linear(
            &Variable::constant(inputs[0].clone()),
            &Variable::constant(inputs[0].clone()),
            None
        )
        .is_err());

        let idx = Tensor::from_vec(vec![1i64, 4, 1, 0, 4, 4], &[2, 3]).unwrap();
        let table = vec![randn(&mut rng, &[6, 3])];
        let i2 = idx.clone();
        check_gradients(&move |v: &[Variable]| embedding(&i2, &v[0]), &table, 11);
        let out = embedding(&idx, &Variable::constant(table[0].clone())).unwrap();
        assert_close(
            "embedding forward",
            &out.data(),
            &table[0]
                .index_select(0, &idx.ravel())
                .unwrap()
                .reshape(&[2, 3, 3])
                .unwrap(),
            0.0,
            0.0,
        );
    }

    #[test]
    fn recurrent_cell_gradients_and_second_derivatives() {
        let mut rng = Rng::new(6);
        let (n, i, h) = (3, 4, 5);
        let rnn = vec![
            randn(&mut rng, &[n, i]),
            randn(&mut rng, &[n, h]),
            randn(&mut rng, &[h, i]).mul_scalar(0.5),
            randn(&mut rng, &[h, h]).mul_scalar(0.5),
            randn(&mut rng, &[h]),
            randn(&mut rng, &[h]),
        ];
        let f = |v: &[Variable]| rnn_tanh_cell(&v[0], &v[1], &v[2], &v[3], v.get(4), v.get(5));
        check_gradients(&f, &rnn, 12);
        check_hessian_vector(&f, &rnn, 12);
        // Forward values: the PyTorch conformance cases (rnn_tanh_cell,
        // lstm_cell, gru_cell) check them.

        let lstm = vec![
            randn(&mut rng, &[n, i]),
            randn(&mut rng, &[n, h]),
            randn(&mut rng, &[n, h]),
            randn(&mut rng, &[4 * h, i]).mul_scalar(0.5),
            randn(&mut rng, &[4 * h, h]).mul_scalar(0.5),
            randn(&mut rng, &[4 * h]),
            randn(&mut rng, &[4 * h]),
        ];
        let f = |v: &[Variable]| {
            let (h, c) = lstm_cell(&v[0], &v[1], &v[2], &v[3], &v[4], v.get(5), v.get(6))?;
            Variable::cat(&[h, c], 1)
        };
        check_gradients(&f, &lstm, 13);
        check_hessian_vector(&f, &lstm, 13);
        // d/dx of the summed output, differentiated again: the Hessian of
        // sum(h') along a direction, against finite differences
        check_hessian_vector(
            &|v: &[Variable]| {
                lstm_cell(&v[0], &v[1], &v[2], &v[3], &v[4], v.get(5), v.get(6)).map(|(h, _)| h)
            },
            &lstm[..5],
            14,
        );

        let gru = vec![
            randn(&mut rng, &[n, i]),
            randn(&mut rng, &[n, h]),
            randn(&mut rng, &[3 * h, i]).mul_scalar(0.5),
            randn(&mut rng, &[3 * h, h]).mul_scalar(0.5),
            randn(&mut rng, &[3 * h]),
            randn(&mut rng, &[3 * h]),
        ];
        let f = |v: &[Variable]| gru_cell(&v[0], &v[1], &v[2], &v[3], v.get(4), v.get(5));
        check_gradients(&f, &gru, 15);
        check_hessian_vector(&f, &gru, 15);
        let bad = Variable::constant(randn(&mut rng, &[7, i]));
        let v = params(&lstm.iter().collect::<Vec<_>>());
        assert!(lstm_cell(&v[0], &v[1], &v[2], &bad, &v[4], None, None).is_err());
    }
}
