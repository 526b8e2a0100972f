//! RMSprop (`torch.optim.RMSprop`).

use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

use crate::error::{check, Result};
use crate::optimizer::{grad_of, group_access, with_weight_decay, Optimizer, ParamGroup};

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
    fn validate(&self) -> Result<()> {
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

#[derive(Clone, Default)]
struct RmsState {
    square_avg: Option<Tensor>,
    grad_avg: Option<Tensor>,
    momentum_buffer: Option<Tensor>,
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
/// w.mul(&w).unwrap().sum().unwrap().backward().unwrap();
/// opt.step().unwrap(); // 1 - 0.01 * 2 / sqrt(0.01 * 4) = 0.9
/// assert!((w.data().item::<f32>().unwrap() - 0.9).abs() < 1e-6);
/// ```
pub struct RmsProp {
    groups: Vec<ParamGroup<RmsPropOptions>>,
    state: Vec<Vec<RmsState>>,
}

impl RmsProp {
    /// RMSprop over one group of `params`.
    pub fn new(params: Vec<Variable>, options: RmsPropOptions) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params, options)])
    }

    /// RMSprop over several groups, each with its own options.
    pub fn with_groups(groups: Vec<ParamGroup<RmsPropOptions>>) -> Result<Self> {
        for g in &groups {
            g.options.validate()?;
        }
        let state = groups
            .iter()
            .map(|g| vec![RmsState::default(); g.params.len()])
            .collect();
        Ok(RmsProp { groups, state })
    }

    /// The parameter groups and their options.
    pub fn param_groups(&self) -> &[ParamGroup<RmsPropOptions>] {
        &self.groups
    }

    /// The parameter groups, for changing options between steps.
    pub fn param_groups_mut(&mut self) -> &mut [ParamGroup<RmsPropOptions>] {
        &mut self.groups
    }
}

impl Optimizer for RmsProp {
    fn step(&mut self) -> Result<()> {
        for (group, states) in self.groups.iter().zip(self.state.iter_mut()) {
            let o = group.options;
            for (p, st) in group.params.iter().zip(states.iter_mut()) {
                let Some(g) = grad_of(p, o.maximize) else {
                    continue;
                };
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
        Some(self.groups[group].options.momentum)
    }

    fn set_momentum(&mut self, group: usize, momentum: f64) {
        self.groups[group].options.momentum = momentum;
    }
}
