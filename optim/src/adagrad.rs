//! Adagrad (`torch.optim.Adagrad`).

use torchlet_autograd::{SparseGrad, Variable};
use torchlet_tensor::{Element, Tensor};

use crate::core::{
    group_access, group_options, optimizer_common, step_entry, Groups, ParamState, Saved,
};
use crate::error::{check, OptimError, Result};
use crate::optimizer::{grad_of, with_weight_decay, Optimizer};
use crate::sparse::{state_slice, with_param_float, with_param_slice, Rows};

/// Options of [`Adagrad`], with PyTorch's defaults (`lr = 1e-2`,
/// `eps = 1e-10`, the rest zero).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdagradOptions {
    /// Learning rate.
    pub lr: f64,
    /// Learning-rate decay: step `t` uses `lr / (1 + (t - 1) * lr_decay)`.
    pub lr_decay: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Starting value of the sum of squared gradients.
    pub initial_accumulator_value: f64,
    /// Added to the denominator for numerical stability.
    pub eps: f64,
    /// Maximize the objective instead of minimizing.
    pub maximize: bool,
}

impl Default for AdagradOptions {
    fn default() -> Self {
        AdagradOptions {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
        }
    }
}

impl AdagradOptions {
    fn check_values(&self) -> Result<()> {
        let w = "Adagrad";
        check(self.lr >= 0.0, w, "lr", self.lr, "must be >= 0")?;
        check(
            self.lr_decay >= 0.0,
            w,
            "lr_decay",
            self.lr_decay,
            "must be >= 0",
        )?;
        check(
            self.weight_decay >= 0.0,
            w,
            "weight_decay",
            self.weight_decay,
            "must be >= 0",
        )?;
        check(
            self.initial_accumulator_value >= 0.0,
            w,
            "initial_accumulator_value",
            self.initial_accumulator_value,
            "must be >= 0",
        )?;
        check(self.eps >= 0.0, w, "eps", self.eps, "must be >= 0")
    }
}

group_options!(
    AdagradOptions,
    validate = |o, _| o.check_values(),
    floats = [lr_decay, weight_decay, initial_accumulator_value, eps],
    flags = [maximize]
);

/// Adagrad's per-parameter state (PyTorch's names).
#[derive(Default)]
struct AdagradState {
    step: u64,
    sum: Option<Tensor>,
}

impl ParamState<AdagradOptions> for AdagradState {
    const KEYS: &'static [&'static str] = &["step", "sum"];

    fn save(&self, out: &mut Vec<(&'static str, Tensor)>) {
        if let Some(sum) = &self.sum {
            out.push(step_entry(self.step));
            out.push(("sum", sum.clone()));
        }
    }

    fn load(saved: &mut Saved<'_>, _: &AdagradOptions) -> Result<Self> {
        saved.require(&["step", "sum"])?;
        Ok(AdagradState {
            step: saved.step()?,
            sum: Some(saved.required_buffer("sum")?),
        })
    }
}

/// Adagrad with PyTorch's exact update:
///
/// ```text
/// g = ±grad + weight_decay * p
/// clr = lr / (1 + (t - 1) * lr_decay)
/// sum = sum + g²;  p = p - clr * g / (sqrt(sum) + eps)
/// ```
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::{Adagrad, AdagradOptions, Optimizer};
/// use torchlet_tensor::Tensor;
/// let w = Variable::parameter(Tensor::from_vec(vec![1.0f32], &[1]).unwrap());
/// let mut opt = Adagrad::new(vec![w.clone()], AdagradOptions { lr: 0.1, ..Default::default() }).unwrap();
/// w.mul(&w).unwrap().sum().backward().unwrap();
/// opt.step().unwrap(); // 1 - 0.1 * 2 / 2
/// assert!((w.data().item::<f32>().unwrap() - 0.9).abs() < 1e-6);
/// ```
///
/// Its state dict holds `state.{i}.step` (0-d float64) and `state.{i}.sum`
/// for every parameter stepped at least once, and each group's `lr`,
/// `lr_decay`, `weight_decay`, `initial_accumulator_value`, `eps`,
/// `maximize` (and `initial_lr` when set).
pub struct Adagrad {
    core: Groups<AdagradOptions, AdagradState>,
}

optimizer_common!(Adagrad, AdagradOptions, "Adagrad");

impl Optimizer for Adagrad {
    fn step(&mut self) -> Result<()> {
        for (group, states) in self.core.iter_mut() {
            let o = group.options;
            for (p, st) in group.params.iter().zip(states.iter_mut()) {
                if let Some(sg) = p.sparse_grad() {
                    sparse_adagrad_step(p, &sg, &o, st)?;
                    continue;
                }
                let Some(g) = grad_of(p, o.maximize) else {
                    continue;
                };
                let mut sum = st
                    .sum
                    .take()
                    .unwrap_or_else(|| p.data().full_like(o.initial_accumulator_value));
                st.step += 1;
                let g = with_weight_decay(g, p, o.weight_decay)?;
                let clr = o.lr / (1.0 + (st.step - 1) as f64 * o.lr_decay);
                sum.add_(&g.mul(&g)?)?;
                let std = sum.sqrt().add_scalar(o.eps);
                let update = g.div(&std)?;
                p.update_data(|t| t.add_scaled_(&update, -clr))??;
                st.sum = Some(sum);
            }
        }
        Ok(())
    }

    group_access!();
}

/// Adagrad on a sparse gradient, as PyTorch runs it: the gradient is
/// coalesced (the update is not linear), then only its rows change:
/// `sum += g²; p -= clr * g / (sqrt(sum) + eps)`. Weight decay is refused
/// with sparse gradients, as in PyTorch.
fn sparse_adagrad_step(
    p: &Variable,
    g: &SparseGrad,
    o: &AdagradOptions,
    st: &mut AdagradState,
) -> Result<()> {
    if o.weight_decay != 0.0 {
        return Err(OptimError::Usage {
            what: "Adagrad",
            message: "weight_decay option is not compatible with sparse gradients".into(),
        });
    }
    st.step += 1;
    let clr = o.lr / (1.0 + (st.step - 1) as f64 * o.lr_decay);
    with_param_float!(p, "Adagrad", T => {
        let mut rows = Rows::<T>::coalesced(g)?;
        if o.maximize {
            rows = rows.negated();
        }
        let sum = state_slice::<T>(&mut st.sum, p, o.initial_accumulator_value)?;
        let (eps, neg_clr) = (T::from_f64(o.eps), T::from_f64(-clr));
        let width = rows.width;
        with_param_slice::<T, _>(p, |w| {
            for (k, &r) in rows.rows.iter().enumerate() {
                let at = r * width..(r + 1) * width;
                let (w, s) = (&mut w[at.clone()], &mut sum[at]);
                for (j, &gv) in rows.entry(k).iter().enumerate() {
                    s[j] += gv * gv;
                    let std = s[j].sqrt() + eps;
                    // `param.add_(sparse, alpha=-clr)`: one fused multiply-add.
                    w[j] = (gv / std).mul_add(neg_clr, w[j]);
                }
            }
        })
    })
}

crate::core::option_builders!(AdagradOptions {
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    initial_accumulator_value: f64,
    eps: f64,
    maximize: bool,
});
