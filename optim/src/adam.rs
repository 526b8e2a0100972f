//! Adam and AdamW (`torch.optim.Adam`, `torch.optim.AdamW`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use torchlet_autograd::Variable;
use torchlet_tensor::{AdamStep, Tensor};

use crate::error::{check, Result};
use crate::optimizer::{group_access, Optimizer, ParamGroup};
use crate::state::{
    check_groups, check_like, get_bool, get_f64, get_initial_lr, params_value, read_step,
    split_state, step_tensor, OptimizerStateDict, StatefulOptimizer,
};

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
                let Some(g) = p.grad() else {
                    continue;
                };
                // One fused pass per parameter (the element-wise math is
                // PyTorch's, see `Tensor::adam_step_`).
                let mut m = st.exp_avg.take().unwrap_or_else(|| g.zeros_like());
                let mut v = st.exp_avg_sq.take().unwrap_or_else(|| g.zeros_like());
                let mut mx = if o.amsgrad {
                    Some(st.max_exp_avg_sq.take().unwrap_or_else(|| g.zeros_like()))
                } else {
                    None
                };
                st.step += 1;
                let h = AdamStep {
                    lr: o.lr,
                    beta1: b1,
                    beta2: b2,
                    eps: o.eps,
                    weight_decay: o.weight_decay,
                    decoupled_weight_decay: self.decoupled,
                    maximize: o.maximize,
                    step: st.step,
                };
                let g = g.to_dtype(p.dtype());
                p.update_data(|t| t.adam_step_(&g, &mut m, &mut v, mx.as_mut(), &h))??;
                st.exp_avg = Some(m);
                st.exp_avg_sq = Some(v);
                st.max_exp_avg_sq = mx;
            }
        }
        Ok(())
    }
}

impl AdamCore {
    fn what(&self) -> &'static str {
        if self.decoupled {
            "AdamW"
        } else {
            "Adam"
        }
    }

    fn state_dict(&self) -> OptimizerStateDict {
        let sizes: Vec<usize> = self.groups.iter().map(|g| g.params.len()).collect();
        let mut state = BTreeMap::new();
        for (i, st) in self.state.iter().flatten().enumerate() {
            if st.step == 0 {
                continue;
            }
            state.insert(format!("state.{i}.step"), step_tensor(st.step));
            let buffers = [
                ("exp_avg", &st.exp_avg),
                ("exp_avg_sq", &st.exp_avg_sq),
                ("max_exp_avg_sq", &st.max_exp_avg_sq),
            ];
            for (name, t) in buffers {
                if let Some(t) = t {
                    state.insert(format!("state.{i}.{name}"), t.clone());
                }
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
                m.insert("betas".into(), Value::from(vec![o.betas.0, o.betas.1]));
                m.insert("eps".into(), o.eps.into());
                m.insert("weight_decay".into(), o.weight_decay.into());
                m.insert("amsgrad".into(), o.amsgrad.into());
                m.insert("maximize".into(), o.maximize.into());
                if let Some(lr) = group.initial_lr {
                    m.insert("initial_lr".into(), lr.into());
                }
                m.insert("params".into(), params_value(&sizes, g));
                m
            })
            .collect();
        OptimizerStateDict {
            optimizer: self.what().into(),
            state,
            param_groups,
        }
    }

    fn load_state_dict(&mut self, dict: &OptimizerStateDict) -> Result<()> {
        let what = self.what();
        let sizes: Vec<usize> = self.groups.iter().map(|g| g.params.len()).collect();
        let mut options = Vec::new();
        for group in check_groups(what, dict, &sizes)? {
            let betas = match group.get("betas").and_then(Value::as_array) {
                Some(b) if b.len() == 2 && b.iter().all(Value::is_number) => (
                    b[0].as_f64().unwrap_or_default(),
                    b[1].as_f64().unwrap_or_default(),
                ),
                _ => {
                    return Err(crate::error::OptimError::Usage {
                        what,
                        message: "parameter group: betas must be two numbers".into(),
                    })
                }
            };
            let o = AdamOptions {
                lr: get_f64(what, group, "lr")?,
                betas,
                eps: get_f64(what, group, "eps")?,
                weight_decay: get_f64(what, group, "weight_decay")?,
                amsgrad: get_bool(what, group, "amsgrad")?,
                maximize: get_bool(what, group, "maximize")?,
            };
            o.validate(what)?;
            options.push((o, get_initial_lr(what, group)?));
        }
        let params: Vec<Variable> = self
            .groups
            .iter()
            .flat_map(|g| g.params.iter().cloned())
            .collect();
        let per = split_state(
            what,
            &dict.state,
            params.len(),
            &["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
        )?;
        let mut new_states = Vec::with_capacity(params.len());
        for (i, (p, s)) in params.iter().zip(&per).enumerate() {
            if s.is_empty() {
                new_states.push(AdamState::default());
                continue;
            }
            let missing = ["step", "exp_avg", "exp_avg_sq"]
                .into_iter()
                .find(|k| !s.contains_key(*k));
            if let Some(k) = missing {
                return Err(crate::error::OptimError::Usage {
                    what,
                    message: format!("missing key state.{i}.{k}"),
                });
            }
            let step = read_step(what, &format!("state.{i}.step"), &s["step"])?;
            let buffer = |name: &str| -> Result<Option<Tensor>> {
                match s.get(name) {
                    None => Ok(None),
                    Some(t) => {
                        check_like(what, &format!("state.{i}.{name}"), t, p)?;
                        Ok(Some(t.contiguous()))
                    }
                }
            };
            new_states.push(AdamState {
                step,
                exp_avg: buffer("exp_avg")?,
                exp_avg_sq: buffer("exp_avg_sq")?,
                max_exp_avg_sq: buffer("max_exp_avg_sq")?,
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

        impl StatefulOptimizer for $name {
            /// `state.{i}.step` (0-d float64), `state.{i}.exp_avg`,
            /// `state.{i}.exp_avg_sq` (and `state.{i}.max_exp_avg_sq` with
            /// AMSGrad) for every parameter stepped at least once, and each
            /// group's `lr`, `betas`, `eps`, `weight_decay`, `amsgrad`,
            /// `maximize` (and `initial_lr` when set).
            fn state_dict(&self) -> OptimizerStateDict {
                self.0.state_dict()
            }

            fn load_state_dict(&mut self, dict: &OptimizerStateDict) -> Result<()> {
                self.0.load_state_dict(dict)
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
