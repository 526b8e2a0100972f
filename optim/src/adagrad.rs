//! Adagrad (`torch.optim.Adagrad`).

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
    fn validate(&self) -> Result<()> {
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

#[derive(Clone, Default)]
struct AdagradState {
    step: u64,
    sum: Option<Tensor>,
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
/// w.mul(&w).unwrap().sum().unwrap().backward().unwrap();
/// opt.step().unwrap(); // 1 - 0.1 * 2 / 2
/// assert!((w.data().item::<f32>().unwrap() - 0.9).abs() < 1e-6);
/// ```
pub struct Adagrad {
    groups: Vec<ParamGroup<AdagradOptions>>,
    state: Vec<Vec<AdagradState>>,
}

impl Adagrad {
    /// Adagrad over one group of `params`.
    pub fn new(params: Vec<Variable>, options: AdagradOptions) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params, options)])
    }

    /// Adagrad over several groups, each with its own options.
    pub fn with_groups(groups: Vec<ParamGroup<AdagradOptions>>) -> Result<Self> {
        for g in &groups {
            g.options.validate()?;
        }
        let state = groups
            .iter()
            .map(|g| vec![AdagradState::default(); g.params.len()])
            .collect();
        Ok(Adagrad { groups, state })
    }

    /// The parameter groups and their options.
    pub fn param_groups(&self) -> &[ParamGroup<AdagradOptions>] {
        &self.groups
    }

    /// The parameter groups, for changing options between steps.
    pub fn param_groups_mut(&mut self) -> &mut [ParamGroup<AdagradOptions>] {
        &mut self.groups
    }
}

impl Optimizer for Adagrad {
    fn step(&mut self) -> Result<()> {
        for (group, states) in self.groups.iter().zip(self.state.iter_mut()) {
            let o = group.options;
            for (p, st) in group.params.iter().zip(states.iter_mut()) {
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

impl StatefulOptimizer for Adagrad {
    /// `state.{i}.step` (0-d float64) and `state.{i}.sum` for every
    /// parameter stepped at least once, and each group's `lr`, `lr_decay`,
    /// `weight_decay`, `initial_accumulator_value`, `eps`, `maximize` (and
    /// `initial_lr` when set).
    fn state_dict(&self) -> OptimizerStateDict {
        let sizes: Vec<usize> = self.groups.iter().map(|g| g.params.len()).collect();
        let mut state = BTreeMap::new();
        for (i, st) in self.state.iter().flatten().enumerate() {
            if let Some(sum) = &st.sum {
                state.insert(format!("state.{i}.step"), step_tensor(st.step));
                state.insert(format!("state.{i}.sum"), sum.clone());
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
                m.insert("lr_decay".into(), o.lr_decay.into());
                m.insert("weight_decay".into(), o.weight_decay.into());
                m.insert(
                    "initial_accumulator_value".into(),
                    o.initial_accumulator_value.into(),
                );
                m.insert("eps".into(), o.eps.into());
                m.insert("maximize".into(), o.maximize.into());
                if let Some(lr) = group.initial_lr {
                    m.insert("initial_lr".into(), lr.into());
                }
                m.insert("params".into(), params_value(&sizes, g));
                m
            })
            .collect();
        OptimizerStateDict {
            optimizer: "Adagrad".into(),
            state,
            param_groups,
        }
    }

    fn load_state_dict(&mut self, dict: &OptimizerStateDict) -> Result<()> {
        const WHAT: &str = "Adagrad";
        let sizes: Vec<usize> = self.groups.iter().map(|g| g.params.len()).collect();
        let mut options = Vec::new();
        for group in check_groups(WHAT, dict, &sizes)? {
            let o = AdagradOptions {
                lr: get_f64(WHAT, group, "lr")?,
                lr_decay: get_f64(WHAT, group, "lr_decay")?,
                weight_decay: get_f64(WHAT, group, "weight_decay")?,
                initial_accumulator_value: get_f64(WHAT, group, "initial_accumulator_value")?,
                eps: get_f64(WHAT, group, "eps")?,
                maximize: get_bool(WHAT, group, "maximize")?,
            };
            o.validate()?;
            options.push((o, get_initial_lr(WHAT, group)?));
        }
        let params = self.params();
        let per = split_state(WHAT, &dict.state, params.len(), &["step", "sum"])?;
        let mut new_states = Vec::with_capacity(params.len());
        for (i, (p, s)) in params.iter().zip(&per).enumerate() {
            if s.is_empty() {
                new_states.push(AdagradState::default());
                continue;
            }
            let (Some(step), Some(sum)) = (s.get("step"), s.get("sum")) else {
                return Err(OptimError::Usage {
                    what: WHAT,
                    message: format!("state.{i} needs both step and sum"),
                });
            };
            check_like(WHAT, &format!("state.{i}.sum"), sum, p)?;
            new_states.push(AdagradState {
                step: read_step(WHAT, &format!("state.{i}.step"), step)?,
                sum: Some(sum.contiguous()),
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
