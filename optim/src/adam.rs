//! Adam and AdamW (`torch.optim.Adam`, `torch.optim.AdamW`).

use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

use crate::error::{check, Result};
use crate::optimizer::{grad_of, group_access, with_weight_decay, Optimizer, ParamGroup};

/// Options of [`Adam`] and [`AdamW`]. `Default` gives Adam's defaults
/// (`lr = 1e-3`, `betas = (0.9, 0.999)`, `eps = 1e-8`, no weight decay);
/// [`AdamOptions::adamw_default`] gives AdamW's (`weight_decay = 1e-2`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamOptions {
    /// Learning rate.
    pub lr: f64,
    /// Coefficients of the running averages of the gradient and its square.
    pub betas: (f64, f64),
    /// Added to the denominator for numerical stability.
    pub eps: f64,
    /// L2 penalty (Adam) or decoupled weight decay (AdamW).
    pub weight_decay: f64,
    /// Use the maximum of past squared-gradient averages (AMSGrad).
    pub amsgrad: bool,
    /// Maximize the objective instead of minimizing.
    pub maximize: bool,
}

impl Default for AdamOptions {
    fn default() -> Self {
        AdamOptions {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
        }
    }
}

impl AdamOptions {
    /// AdamW's defaults: Adam's with `weight_decay = 1e-2`.
    pub fn adamw_default() -> Self {
        AdamOptions {
            weight_decay: 1e-2,
            ..Default::default()
        }
    }

    fn validate(&self, what: &'static str) -> Result<()> {
        check(self.lr >= 0.0, what, "lr", self.lr, "must be >= 0")?;
        check(self.eps >= 0.0, what, "eps", self.eps, "must be >= 0")?;
        let (b1, b2) = self.betas;
        check(
            (0.0..1.0).contains(&b1),
            what,
            "beta1",
            b1,
            "must be in [0, 1)",
        )?;
        check(
            (0.0..1.0).contains(&b2),
            what,
            "beta2",
            b2,
            "must be in [0, 1)",
        )?;
        check(
            self.weight_decay >= 0.0,
            what,
            "weight_decay",
            self.weight_decay,
            "must be >= 0",
        )
    }
}

#[derive(Clone, Default)]
struct AdamState {
    step: u64,
    exp_avg: Option<Tensor>,
    exp_avg_sq: Option<Tensor>,
    max_exp_avg_sq: Option<Tensor>,
}

/// The shared Adam machinery; `decoupled` selects AdamW's weight decay.
struct AdamCore {
    groups: Vec<ParamGroup<AdamOptions>>,
    state: Vec<Vec<AdamState>>,
    decoupled: bool,
}

impl AdamCore {
    fn new(groups: Vec<ParamGroup<AdamOptions>>, decoupled: bool) -> Result<Self> {
        let what = if decoupled { "AdamW" } else { "Adam" };
        for g in &groups {
            g.options.validate(what)?;
        }
        let state = groups
            .iter()
            .map(|g| vec![AdamState::default(); g.params.len()])
            .collect();
        Ok(AdamCore {
            groups,
            state,
            decoupled,
        })
    }

    fn step(&mut self) -> Result<()> {
        for (group, states) in self.groups.iter().zip(self.state.iter_mut()) {
            let o = group.options;
            let (b1, b2) = o.betas;
            for (p, st) in group.params.iter().zip(states.iter_mut()) {
                let Some(g) = grad_of(p, o.maximize) else {
                    continue;
                };
                let g = if self.decoupled {
                    if o.weight_decay != 0.0 {
                        p.update_data(|t| t.mul_scalar_(1.0 - o.lr * o.weight_decay))?;
                    }
                    g
                } else {
                    with_weight_decay(g, p, o.weight_decay)?
                };
                // exp_avg.lerp_(g, 1 - beta1)
                let mut m = st.exp_avg.take().unwrap_or_else(|| g.zeros_like());
                let diff = g.sub(&m)?;
                m.add_scaled_(&diff, 1.0 - b1)?;
                // exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
                let mut v = st.exp_avg_sq.take().unwrap_or_else(|| g.zeros_like());
                v.mul_scalar_(b2);
                v.add_scaled_(&g.mul(&g)?, 1.0 - b2)?;
                st.step += 1;
                let step = st.step as f64;
                let bias_correction1 = 1.0 - b1.powf(step);
                let bias_correction2 = 1.0 - b2.powf(step);
                let step_size = o.lr / bias_correction1;
                let bc2_sqrt = bias_correction2.sqrt();
                let second = if o.amsgrad {
                    let mx = match st.max_exp_avg_sq.take() {
                        None => v.clone(),
                        Some(mx) => mx.maximum(&v)?,
                    };
                    st.max_exp_avg_sq = Some(mx.clone());
                    mx
                } else {
                    v.clone()
                };
                let denom = second.sqrt().div_scalar(bc2_sqrt).add_scalar(o.eps);
                let update = m.div(&denom)?;
                p.update_data(|t| t.add_scaled_(&update, -step_size))??;
                st.exp_avg = Some(m);
                st.exp_avg_sq = Some(v);
            }
        }
        Ok(())
    }
}

macro_rules! adam_like {
    ($name:ident, $decoupled:expr) => {
        impl $name {
            /// The optimizer over one group of `params`.
            pub fn new(params: Vec<Variable>, options: AdamOptions) -> Result<Self> {
                Self::with_groups(vec![ParamGroup::new(params, options)])
            }

            /// The optimizer over several groups, each with its own options.
            pub fn with_groups(groups: Vec<ParamGroup<AdamOptions>>) -> Result<Self> {
                Ok($name(AdamCore::new(groups, $decoupled)?))
            }

            /// The parameter groups and their options.
            pub fn param_groups(&self) -> &[ParamGroup<AdamOptions>] {
                &self.0.groups
            }

            /// The parameter groups, for changing options between steps.
            pub fn param_groups_mut(&mut self) -> &mut [ParamGroup<AdamOptions>] {
                &mut self.0.groups
            }
        }

        impl Optimizer for $name {
            fn step(&mut self) -> Result<()> {
                self.0.step()
            }

            group_access!();

            fn momentum(&self, group: usize) -> Option<f64> {
                Some(self.0.groups[group].options.betas.0)
            }

            fn set_momentum(&mut self, group: usize, momentum: f64) {
                self.0.groups[group].options.betas.0 = momentum;
            }
        }
    };
}

/// Adam with PyTorch's exact update (L2 weight decay added to the
/// gradient, optional AMSGrad):
///
/// ```text
/// g = ±grad + weight_decay * p
/// m = m + (1 - beta1) * (g - m);  v = beta2 * v + (1 - beta2) * g²
/// p = p - lr / (1 - beta1^t) * m / (sqrt(v̂) / sqrt(1 - beta2^t) + eps)
/// ```
/// where `v̂` is `v`, or its running maximum with AMSGrad.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::{Adam, AdamOptions, Optimizer};
/// use torchlet_tensor::Tensor;
/// let w = Variable::parameter(Tensor::from_vec(vec![1.0f32], &[1]).unwrap());
/// let mut opt = Adam::new(vec![w.clone()], AdamOptions { lr: 0.1, ..Default::default() }).unwrap();
/// w.mul(&w).unwrap().sum().unwrap().backward().unwrap();
/// opt.step().unwrap(); // the first Adam step moves by about lr
/// assert!((w.data().item::<f32>().unwrap() - 0.9).abs() < 1e-6);
/// ```
pub struct Adam(AdamCore);
adam_like!(Adam, false);

/// AdamW: Adam with decoupled weight decay (`p = p * (1 - lr * weight_decay)`
/// before the Adam update). Use [`AdamOptions::adamw_default`] for PyTorch's
/// defaults (`weight_decay = 1e-2`).
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::{AdamOptions, AdamW, Optimizer};
/// use torchlet_tensor::Tensor;
/// let w = Variable::parameter(Tensor::from_vec(vec![1.0f32], &[1]).unwrap());
/// let opts = AdamOptions { lr: 0.1, ..AdamOptions::adamw_default() };
/// let mut opt = AdamW::new(vec![w.clone()], opts).unwrap();
/// w.mul(&w).unwrap().sum().unwrap().backward().unwrap();
/// opt.step().unwrap();
/// assert!((w.data().item::<f32>().unwrap() - 0.899).abs() < 1e-6);
/// ```
pub struct AdamW(AdamCore);
adam_like!(AdamW, true);
