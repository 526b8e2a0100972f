//! Stochastic gradient descent (`torch.optim.SGD`).

use std::collections::BTreeMap;

use serde_json::Map;
use torchlet_autograd::Variable;
use torchlet_tensor::{SgdStep, Tensor};

use crate::error::{check, OptimError, Result};
use crate::optimizer::{group_access, Optimizer, ParamGroup};
use crate::state::{
    check_groups, check_like, get_bool, get_f64, get_initial_lr, params_value, split_state,
    OptimizerStateDict, StatefulOptimizer,
};

/// Options of [`Sgd`], with PyTorch's defaults (`lr = 1e-3`, everything
/// else off).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdOptions {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor.
    pub momentum: f64,
    /// Dampening for momentum.
    pub dampening: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
    /// Maximize the objective instead of minimizing.
    pub maximize: bool,
}

impl Default for SgdOptions {
    fn default() -> Self {
        SgdOptions {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        }
    }
}

impl SgdOptions {
    fn validate(&self) -> Result<()> {
        check(self.lr >= 0.0, "SGD", "lr", self.lr, "must be >= 0")?;
        check(
            self.momentum >= 0.0,
            "SGD",
            "momentum",
            self.momentum,
            "must be >= 0",
        )?;
        check(
            self.weight_decay >= 0.0,
            "SGD",
            "weight_decay",
            self.weight_decay,
            "must be >= 0",
        )?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(OptimError::Usage {
                what: "SGD",
                message: "nesterov momentum requires a momentum and zero dampening".into(),
            });
        }
        Ok(())
    }
}

/// SGD with optional momentum, dampening, Nesterov momentum and weight
/// decay, with exactly PyTorch's update:
///
/// ```text
/// g = ±grad + weight_decay * p
/// buf = g (first step) | momentum * buf + (1 - dampening) * g
/// g = g + momentum * buf (nesterov) | buf
/// p = p - lr * g
/// ```
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::{Optimizer, Sgd, SgdOptions};
/// use torchlet_tensor::Tensor;
/// let w = Variable::parameter(Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap());
/// let mut opt = Sgd::new(vec![w.clone()], SgdOptions { lr: 0.1, ..Default::default() }).unwrap();
/// w.mul(&w).unwrap().sum().unwrap().backward().unwrap(); // grad = 2w
/// opt.step().unwrap();
/// assert_eq!(w.data().to_vec::<f32>().unwrap(), vec![0.8, 1.6]);
/// ```
pub struct Sgd {
    groups: Vec<ParamGroup<SgdOptions>>,
    momentum_buffers: Vec<Vec<Option<Tensor>>>,
}

impl Sgd {
    /// SGD over one group of `params`.
    pub fn new(params: Vec<Variable>, options: SgdOptions) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params, options)])
    }

    /// SGD over several groups, each with its own options.
    pub fn with_groups(groups: Vec<ParamGroup<SgdOptions>>) -> Result<Self> {
        for g in &groups {
            g.options.validate()?;
        }
        let momentum_buffers = groups.iter().map(|g| vec![None; g.params.len()]).collect();
        Ok(Sgd {
            groups,
            momentum_buffers,
        })
    }

    /// The parameter groups and their options.
    pub fn param_groups(&self) -> &[ParamGroup<SgdOptions>] {
        &self.groups
    }

    /// The parameter groups, for changing options between steps.
    pub fn param_groups_mut(&mut self) -> &mut [ParamGroup<SgdOptions>] {
        &mut self.groups
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) -> Result<()> {
        for (group, bufs) in self.groups.iter().zip(self.momentum_buffers.iter_mut()) {
            let o = group.options;
            for (p, buf) in group.params.iter().zip(bufs.iter_mut()) {
                let Some(g) = p.grad() else {
                    continue;
                };
                // One fused pass per parameter (PyTorch's arithmetic, see
                // `Tensor::sgd_step_`).
                let g = g.to_dtype(p.dtype());
                let with_momentum = o.momentum != 0.0;
                let first_step = with_momentum && buf.is_none();
                let mut b = if with_momentum {
                    Some(buf.take().unwrap_or_else(|| g.zeros_like()))
                } else {
                    None
                };
                let h = SgdStep {
                    lr: o.lr,
                    momentum: o.momentum,
                    dampening: o.dampening,
                    weight_decay: o.weight_decay,
                    nesterov: o.nesterov,
                    maximize: o.maximize,
                    first_step,
                };
                p.update_data(|t| t.sgd_step_(&g, b.as_mut(), &h))??;
                if with_momentum {
                    *buf = b;
                }
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

impl StatefulOptimizer for Sgd {
    /// `state.{i}.momentum_buffer` for every parameter that has one, and
    /// each group's `lr`, `momentum`, `dampening`, `weight_decay`,
    /// `nesterov`, `maximize` (and `initial_lr` when set).
    fn state_dict(&self) -> OptimizerStateDict {
        let sizes: Vec<usize> = self.groups.iter().map(|g| g.params.len()).collect();
        let mut state = BTreeMap::new();
        for (i, buf) in self.momentum_buffers.iter().flatten().enumerate() {
            if let Some(b) = buf {
                state.insert(format!("state.{i}.momentum_buffer"), b.clone());
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
                m.insert("momentum".into(), o.momentum.into());
                m.insert("dampening".into(), o.dampening.into());
                m.insert("weight_decay".into(), o.weight_decay.into());
                m.insert("nesterov".into(), o.nesterov.into());
                m.insert("maximize".into(), o.maximize.into());
                if let Some(lr) = group.initial_lr {
                    m.insert("initial_lr".into(), lr.into());
                }
                m.insert("params".into(), params_value(&sizes, g));
                m
            })
            .collect();
        OptimizerStateDict {
            optimizer: "SGD".into(),
            state,
            param_groups,
        }
    }

    fn load_state_dict(&mut self, dict: &OptimizerStateDict) -> Result<()> {
        const WHAT: &str = "SGD";
        let sizes: Vec<usize> = self.groups.iter().map(|g| g.params.len()).collect();
        let mut options = Vec::new();
        for group in check_groups(WHAT, dict, &sizes)? {
            let o = SgdOptions {
                lr: get_f64(WHAT, group, "lr")?,
                momentum: get_f64(WHAT, group, "momentum")?,
                dampening: get_f64(WHAT, group, "dampening")?,
                weight_decay: get_f64(WHAT, group, "weight_decay")?,
                nesterov: get_bool(WHAT, group, "nesterov")?,
                maximize: get_bool(WHAT, group, "maximize")?,
            };
            o.validate()?;
            options.push((o, get_initial_lr(WHAT, group)?));
        }
        let params = self.params();
        let mut per = split_state(WHAT, &dict.state, params.len(), &["momentum_buffer"])?;
        for (i, (p, s)) in params.iter().zip(&per).enumerate() {
            if let Some(t) = s.get("momentum_buffer") {
                check_like(WHAT, &format!("state.{i}.momentum_buffer"), t, p)?;
            }
        }
        let mut per = per.iter_mut();
        for ((group, bufs), (o, initial_lr)) in self
            .groups
            .iter_mut()
            .zip(self.momentum_buffers.iter_mut())
            .zip(options)
        {
            group.options = o;
            group.initial_lr = initial_lr;
            for buf in bufs.iter_mut() {
                let s = per.next().expect("one state map per parameter");
                *buf = s.remove("momentum_buffer").map(|t| t.contiguous());
            }
        }
        Ok(())
    }
}
