//! Stochastic gradient descent (`torch.optim.SGD`).

use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

use crate::error::{check, OptimError, Result};
use crate::optimizer::{grad_of, group_access, with_weight_decay, Optimizer, ParamGroup};

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
                let Some(g) = grad_of(p, o.maximize) else {
                    continue;
                };
                let mut g = with_weight_decay(g, p, o.weight_decay)?;
                if o.momentum != 0.0 {
                    let b = match buf.take() {
                        None => g.contiguous(),
                        Some(mut b) => {
                            b.mul_scalar_(o.momentum);
                            b.add_scaled_(&g, 1.0 - o.dampening)?;
                            b
                        }
                    };
                    if o.nesterov {
                        g.add_scaled_(&b, o.momentum)?;
                    } else {
                        g = b.clone();
                    }
                    *buf = Some(b);
                }
                p.update_data(|t| t.add_scaled_(&g, -o.lr))??;
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
