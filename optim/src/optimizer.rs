//! The [`Optimizer`] trait and [`ParamGroup`].

use torchlet_autograd::Variable;

use crate::error::Result;

/// A set of parameters optimized with their own options (PyTorch's
/// `param_groups` entry).
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::{ParamGroup, Sgd, SgdOptions};
/// use torchlet_tensor::Tensor;
/// let w = Variable::parameter(Tensor::zeros(&[2]));
/// let b = Variable::parameter(Tensor::zeros(&[1]));
/// let sgd = Sgd::with_groups(vec![
///     ParamGroup::new(vec![w], SgdOptions { lr: 0.1, ..Default::default() }),
///     ParamGroup::new(vec![b], SgdOptions { lr: 0.01, ..Default::default() }),
/// ])
/// .unwrap();
/// assert_eq!(sgd.param_groups()[1].options.lr, 0.01);
/// ```
#[derive(Clone, Debug)]
pub struct ParamGroup<O> {
    /// The parameters (leaf variables that require grad).
    pub params: Vec<Variable>,
    /// The options used for these parameters.
    pub options: O,
    /// The learning rate a scheduler started from (PyTorch's
    /// `initial_lr`), set by the first scheduler attached to the optimizer.
    pub initial_lr: Option<f64>,
}

impl<O> ParamGroup<O> {
    /// A group of `params` with `options`.
    pub fn new(params: Vec<Variable>, options: O) -> Self {
        ParamGroup {
            params,
            options,
            initial_lr: None,
        }
    }
}

/// What every optimizer offers (PyTorch's `torch.optim.Optimizer`):
/// a step, clearing gradients, and access to each group's learning rate
/// (and momentum) for the schedulers.
pub trait Optimizer {
    /// One update of every parameter that has a gradient
    /// (`optimizer.step()`); parameters without a gradient are skipped.
    fn step(&mut self) -> Result<()>;

    /// Clears every parameter's gradient (`optimizer.zero_grad()`, which
    /// sets `grad = None` by default in PyTorch).
    fn zero_grad(&mut self) {
        for p in self.params() {
            p.zero_grad();
        }
    }

    /// All parameters, group by group.
    fn params(&self) -> Vec<Variable>;

    /// The number of parameter groups.
    fn num_param_groups(&self) -> usize;

    /// The learning rate of group `group` (`param_groups[group]["lr"]`).
    fn lr(&self, group: usize) -> f64;

    /// Sets the learning rate of group `group` (what schedulers do).
    fn set_lr(&mut self, group: usize, lr: f64);

    /// The learning rate the first scheduler started from
    /// (`param_groups[group]["initial_lr"]`), if a scheduler was attached.
    fn initial_lr(&self, group: usize) -> Option<f64>;

    /// Sets or clears `initial_lr` (done by schedulers).
    fn set_initial_lr(&mut self, group: usize, lr: Option<f64>);

    /// Every group's learning rate.
    fn lrs(&self) -> Vec<f64> {
        (0..self.num_param_groups()).map(|g| self.lr(g)).collect()
    }

    /// The momentum a one-cycle schedule may cycle: SGD's and RMSprop's
    /// `momentum`, Adam's `beta1`. `None` for optimizers without one.
    fn momentum(&self, _group: usize) -> Option<f64> {
        None
    }

    /// Sets the momentum returned by [`Optimizer::momentum`] (ignored by
    /// optimizers without one).
    fn set_momentum(&mut self, _group: usize, _momentum: f64) {}
}

/// The gradient of `p` (negated when `maximize`), or `None`.
pub(crate) fn grad_of(p: &Variable, maximize: bool) -> Option<torchlet_tensor::Tensor> {
    p.grad()
        .map(|g| if maximize { g.mul_scalar(-1.0) } else { g })
}

/// `g + wd * p` when `wd != 0`.
pub(crate) fn with_weight_decay(
    g: torchlet_tensor::Tensor,
    p: &Variable,
    wd: f64,
) -> Result<torchlet_tensor::Tensor> {
    if wd == 0.0 {
        return Ok(g);
    }
    let mut g = g;
    let data = p.data();
    g.add_scaled_(&data, wd)?;
    Ok(g)
}
