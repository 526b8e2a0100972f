//! RMSprop (`torch.optim.RMSprop`).

use torchlet_tensor::Tensor;

use crate::core::{
    group_access, group_options, optimizer_common, step_entry, Groups, ParamState, Saved,
};
use crate::error::{check, Result};
use crate::optimizer::{grad_of, with_weight_decay, Optimizer};

/// Options of [`RmsProp`], with PyTorch's defaults (`lr = 1e-2`,
/// `alpha = 0.99`, `eps = 1e-8`, the rest off).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropOptions {
    /// Learning rate.
    pub lr: f64,
    /// Smoothing constant of the squared-gradient average.
    pub alpha: f64,
    /// Added to the denominator for numerical stability.
    pub eps: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Momentum factor.
    pub momentum: f64,
    /// Normalize by an estimate of the gradient's variance.
    pub centered: bool,
    /// Maximize the objective instead of minimizing.
    pub maximize: bool,
}

impl Default for RmsPropOptions {
    fn default() -> Self {
        RmsPropOptions {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
        }
    }
}

impl RmsPropOptions {
    fn check_values(&self) -> Result<()> {
        let w = "RMSprop";
        check(self.lr >= 0.0, w, "lr", self.lr, "must be >= 0")?;
        check(self.eps >= 0.0, w, "eps", self.eps, "must be >= 0")?;
        check(
            self.momentum >= 0.0,
            w,
            "momentum",
            self.momentum,
            "must be >= 0",
        )?;
        check(self.alpha >= 0.0, w, "alpha", self.alpha, "must be >= 0")?;
        check(
            self.weight_decay >= 0.0,
            w,
            "weight_decay",
            self.weight_decay,
            "must be >= 0",
        )
    }
}

group_options!(
    RmsPropOptions,
    validate = |o, _| o.check_values(),
    floats = [alpha, eps, weight_decay, momentum],
    flags = [centered, maximize]
);

/// RMSprop's per-parameter state (PyTorch's names).
#[derive(Default)]
struct RmsState {
    step: u64,
    square_avg: Option<Tensor>,
    grad_avg: Option<Tensor>,
    momentum_buffer: Option<Tensor>,
}

impl ParamState<RmsPropOptions> for RmsState {
    const KEYS: &'static [&'static str] = &["step", "square_avg", "momentum_buffer", "grad_avg"];

    fn save(&self, out: &mut Vec<(&'static str, Tensor)>) {
        let Some(v) = &self.square_avg else {
            return;
        };
        out.push(step_entry(self.step));
        out.push(("square_avg", v.clone()));
        out.extend(self.momentum_buffer.clone().map(|b| ("momentum_buffer", b)));
        out.extend(self.grad_avg.clone().map(|g| ("grad_avg", g)));
    }

    /// Needs `step` and `square_avg`, and `grad_avg` when the group is
    /// centered (PyTorch's `step()` would fail on such a state). A missing
    /// `momentum_buffer` starts from zero, as it does when momentum is
    /// switched on between steps (e.g. by
    /// [`OneCycleLr`](crate::lr_scheduler::OneCycleLr)).
    fn load(saved: &mut Saved<'_>, options: &RmsPropOptions) -> Result<Self> {
        if options.centered {
            saved.require(&["step", "square_avg", "grad_avg"])?;
        } else {
            saved.require(&["step", "square_avg"])?;
        }
        Ok(RmsState {
            step: saved.step()?,
            square_avg: saved.buffer("square_avg")?,
            grad_avg: saved.buffer("grad_avg")?,
            momentum_buffer: saved.buffer("momentum_buffer")?,
        })
    }
}

/// RMSprop with PyTorch's exact update:
///
/// ```text
/// g = ±grad + weight_decay * p
/// v = alpha * v + (1 - alpha) * g²
/// avg = sqrt(v - ḡ²) (centered, ḡ = ḡ + (1 - alpha)(g - ḡ)) | sqrt(v);  avg += eps
/// buf = momentum * buf + g / avg;  p -= lr * buf   (momentum > 0)
/// p -= lr * g / avg                                 (otherwise)
/// ```
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::{Optimizer, RmsProp, RmsPropOptions};
/// use torchlet_tensor::Tensor;
/// let w = Variable::parameter(Tensor::from_vec(vec![1.0f32], &[1]).unwrap());
/// let mut opt = RmsProp::new(vec![w.clone()], RmsPropOptions::default()).unwrap();
/// w.mul(&w).unwrap().sum().backward().unwrap();
/// opt.step().unwrap(); // 1 - 0.01 * 2 / sqrt(0.01 * 4) = 0.9
/// assert!((w.data().item::<f32>().unwrap() - 0.9).abs() < 1e-6);
/// ```
///
/// Its state dict holds, as PyTorch's `RMSprop.state_dict()` does,
/// `state.{i}.step` (0-d float64) and `state.{i}.square_avg` for every
/// parameter stepped at least once, `state.{i}.momentum_buffer` once it has
/// taken a step with momentum and `state.{i}.grad_avg` once it has taken a
/// centered step; and each group's `lr`, `alpha`, `eps`, `weight_decay`,
/// `momentum`, `centered`, `maximize` (and `initial_lr` when set).
pub struct RmsProp {
    core: Groups<RmsPropOptions, RmsState>,
}

optimizer_common!(RmsProp, RmsPropOptions, "RMSprop");

impl Optimizer for RmsProp {
    fn step(&mut self) -> Result<()> {
        for (group, states) in self.core.iter_mut() {
            let o = group.options;
            for (p, st) in group.params.iter().zip(states.iter_mut()) {
                crate::sparse::refuse_sparse(p, "RMSprop")?;
                let Some(g) = grad_of(p, o.maximize) else {
                    continue;
                };
                st.step += 1;
                let g = with_weight_decay(g, p, o.weight_decay)?;
                let mut v = st.square_avg.take().unwrap_or_else(|| g.zeros_like());
                v.mul_scalar_(o.alpha);
                v.add_scaled_(&g.mul(&g)?, 1.0 - o.alpha)?;
                let avg = if o.centered {
                    let mut ga = st.grad_avg.take().unwrap_or_else(|| g.zeros_like());
                    let diff = g.sub(&ga)?;
                    ga.add_scaled_(&diff, 1.0 - o.alpha)?;
                    let avg = v.sub(&ga.mul(&ga)?)?.sqrt();
                    st.grad_avg = Some(ga);
                    avg
                } else {
                    v.sqrt()
                };
                let avg = avg.add_scalar(o.eps);
                let step = g.div(&avg)?;
                if o.momentum > 0.0 {
                    let mut buf = st.momentum_buffer.take().unwrap_or_else(|| g.zeros_like());
                    buf.mul_scalar_(o.momentum);
                    buf.add_(&step)?;
                    p.update_data(|t| t.add_scaled_(&buf, -o.lr))??;
                    st.momentum_buffer = Some(buf);
                } else {
                    p.update_data(|t| t.add_scaled_(&step, -o.lr))??;
                }
                st.square_avg = Some(v);
            }
        }
        Ok(())
    }

    group_access!();

    fn momentum(&self, group: usize) -> Option<f64> {
        Some(self.core.groups[group].options.momentum)
    }

    fn set_momentum(&mut self, group: usize, momentum: f64) {
        self.core.groups[group].options.momentum = momentum;
    }
}

crate::core::option_builders!(RmsPropOptions {
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
});
