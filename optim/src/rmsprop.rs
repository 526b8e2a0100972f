//! RMSprop (`torch.optim.RMSprop`).

use std::collections::BTreeMap;

use serde_json::Map;
use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

use crate::error::{check, OptimError, Result};
use crate::optimizer::{grad_of, group_access, with_weight_decay, Optimizer, ParamGroup};
use crate::state::{
    check_groups, check_like, get_bool, get_f64, get_initial_lr, params_value, read_step,
    split_state, step_tensor, OptimizerStateDict, StatefulOptimizer,
};

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
    step: u64,
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
        Some(self.groups[group].options.momentum)
    }

    fn set_momentum(&mut self, group: usize, momentum: f64) {
        self.groups[group].options.momentum = momentum;
    }
}

impl StatefulOptimizer for RmsProp {
    /// `state.{i}.step` (0-d float64) and `state.{i}.square_avg` for every
    /// parameter stepped at least once, with `state.{i}.momentum_buffer`
    /// once it has taken a step with momentum and `state.{i}.grad_avg` once
    /// it has taken a centered step; and each group's `lr`, `alpha`, `eps`,
    /// `weight_decay`, `momentum`, `centered`, `maximize` (and `initial_lr`
    /// when set), as in PyTorch's `RMSprop.state_dict()`.
    fn state_dict(&self) -> OptimizerStateDict {
        let sizes: Vec<usize> = self.groups.iter().map(|g| g.params.len()).collect();
        let mut state = BTreeMap::new();
        for (i, st) in self.state.iter().flatten().enumerate() {
            let Some(v) = &st.square_avg else {
                continue;
            };
            state.insert(format!("state.{i}.step"), step_tensor(st.step));
            state.insert(format!("state.{i}.square_avg"), v.clone());
            if let Some(b) = &st.momentum_buffer {
                state.insert(format!("state.{i}.momentum_buffer"), b.clone());
            }
            if let Some(ga) = &st.grad_avg {
                state.insert(format!("state.{i}.grad_avg"), ga.clone());
            }
        }
        let param_groups = self
            .groups
            .iter()
            .enumerate()
            .map(|(g, group)| {
                let o = group.options;
                let mut m = Map::new();
                m.insert("lr".into(), o.lr.into());
                m.insert("alpha".into(), o.alpha.into());
                m.insert("eps".into(), o.eps.into());
                m.insert("weight_decay".into(), o.weight_decay.into());
                m.insert("momentum".into(), o.momentum.into());
                m.insert("centered".into(), o.centered.into());
                m.insert("maximize".into(), o.maximize.into());
                if let Some(lr) = group.initial_lr {
                    m.insert("initial_lr".into(), lr.into());
                }
                m.insert("params".into(), params_value(&sizes, g));
                m
            })
            .collect();
        OptimizerStateDict {
            optimizer: "RMSprop".into(),
            state,
            param_groups,
        }
    }

    /// Every parameter with state needs `step` and `square_avg`, and
    /// `grad_avg` when its group is centered (PyTorch's `step()` would
    /// fail on such a state). A missing `momentum_buffer` starts from
    /// zero, as it does when momentum is switched on between steps (e.g.
    /// by [`OneCycleLr`](crate::lr_scheduler::OneCycleLr)).
    fn load_state_dict(&mut self, dict: &OptimizerStateDict) -> Result<()> {
        const WHAT: &str = "RMSprop";
        let sizes: Vec<usize> = self.groups.iter().map(|g| g.params.len()).collect();
        let mut options = Vec::new();
        for group in check_groups(WHAT, dict, &sizes)? {
            let o = RmsPropOptions {
                lr: get_f64(WHAT, group, "lr")?,
                alpha: get_f64(WHAT, group, "alpha")?,
                eps: get_f64(WHAT, group, "eps")?,
                weight_decay: get_f64(WHAT, group, "weight_decay")?,
                momentum: get_f64(WHAT, group, "momentum")?,
                centered: get_bool(WHAT, group, "centered")?,
                maximize: get_bool(WHAT, group, "maximize")?,
            };
            o.validate()?;
            options.push((o, get_initial_lr(WHAT, group)?));
        }
        let centered: Vec<bool> = options
            .iter()
            .zip(&sizes)
            .flat_map(|((o, _), &n)| std::iter::repeat_n(o.centered, n))
            .collect();
        let params = self.params();
        let per = split_state(
            WHAT,
            &dict.state,
            params.len(),
            &["step", "square_avg", "momentum_buffer", "grad_avg"],
        )?;
        let mut new_states = Vec::with_capacity(params.len());
        for (i, ((p, s), &centered)) in params.iter().zip(&per).zip(&centered).enumerate() {
            if s.is_empty() {
                new_states.push(RmsState::default());
                continue;
            }
            let required: &[&str] = if centered {
                &["step", "square_avg", "grad_avg"]
            } else {
                &["step", "square_avg"]
            };
            if let Some(k) = required.iter().find(|k| !s.contains_key(**k)) {
                return Err(OptimError::Usage {
                    what: WHAT,
                    message: format!("missing key state.{i}.{k}"),
                });
            }
            let buffer = |name: &str| -> Result<Option<Tensor>> {
                match s.get(name) {
                    None => Ok(None),
                    Some(t) => {
                        check_like(WHAT, &format!("state.{i}.{name}"), t, p)?;
                        Ok(Some(t.contiguous()))
                    }
                }
            };
            new_states.push(RmsState {
                step: read_step(WHAT, &format!("state.{i}.step"), &s["step"])?,
                square_avg: buffer("square_avg")?,
                grad_avg: buffer("grad_avg")?,
                momentum_buffer: buffer("momentum_buffer")?,
            });
        }
        let mut new_states = new_states.into_iter();
        for ((group, states), (o, initial_lr)) in self
            .groups
            .iter_mut()
            .zip(self.state.iter_mut())
            .zip(options)
        {
            group.options = o;
            group.initial_lr = initial_lr;
            for st in states.iter_mut() {
                *st = new_states.next().expect("one state per parameter");
            }
        }
        Ok(())
    }
}
