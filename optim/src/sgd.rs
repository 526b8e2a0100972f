//! Stochastic gradient descent (`torch.optim.SGD`).

use torchlet_autograd::{SparseGrad, Variable};
use torchlet_tensor::{SgdStep, Tensor};

use crate::core::{group_access, group_options, optimizer_common, Groups, ParamState, Saved};
use crate::error::{check, OptimError, Result};
use crate::optimizer::Optimizer;
use crate::sparse::{with_param_float, with_param_slice, Rows};

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
    fn check_values(&self) -> Result<()> {
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
/// w.mul(&w).unwrap().sum().backward().unwrap(); // grad = 2w
/// opt.step().unwrap();
/// assert_eq!(w.data().to_vec::<f32>().unwrap(), vec![0.8, 1.6]);
/// ```
pub struct Sgd {
    core: Groups<SgdOptions, SgdState>,
}

optimizer_common!(Sgd, SgdOptions, "SGD");

group_options!(
    SgdOptions,
    validate = |o, _| o.check_values(),
    floats = [momentum, dampening, weight_decay],
    flags = [nesterov, maximize]
);

/// SGD's per-parameter state: the momentum buffer, once a step with
/// momentum has run.
#[derive(Default)]
struct SgdState {
    momentum_buffer: Option<Tensor>,
    /// The momentum buffer while only sparse gradients have fed it: the
    /// rows they touched (PyTorch's buffer is then a sparse tensor too).
    sparse_buffer: Option<SparseGrad>,
}

impl ParamState<SgdOptions> for SgdState {
    const KEYS: &'static [&'static str] = &["momentum_buffer"];

    fn save(&self, out: &mut Vec<(&'static str, Tensor)>) {
        let sparse = self.sparse_buffer.as_ref().and_then(|b| b.to_dense().ok());
        out.extend(
            self.momentum_buffer
                .clone()
                .or(sparse)
                .map(|b| ("momentum_buffer", b)),
        );
    }

    fn load(saved: &mut Saved<'_>, _: &SgdOptions) -> Result<Self> {
        Ok(SgdState {
            momentum_buffer: saved.buffer("momentum_buffer")?,
            sparse_buffer: None,
        })
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) -> Result<()> {
        for (group, states) in self.core.iter_mut() {
            let o = group.options;
            for (p, st) in group.params.iter().zip(states.iter_mut()) {
                if let Some(sg) = p.sparse_grad() {
                    // PyTorch's `grad.add(param)` (weight decay) and, with a
                    // dense buffer, Nesterov's `grad.add(buf)` refuse a
                    // sparse left operand; a dense buffer otherwise takes
                    // the sparse gradient densely (`buf.add_(grad)`).
                    if o.weight_decay != 0.0 || (o.nesterov && st.momentum_buffer.is_some()) {
                        return Err(OptimError::Usage {
                            what: "SGD",
                            message: "add(sparse, dense) is not supported. Use add(dense, sparse) instead. (weight_decay and Nesterov momentum with a dense buffer do not take sparse gradients)".into(),
                        });
                    }
                    if st.momentum_buffer.is_none() {
                        sparse_sgd_step(p, &sg, &o, st)?;
                        continue;
                    }
                }
                let buf = &mut st.momentum_buffer;
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
        Some(self.core.groups[group].options.momentum)
    }

    fn set_momentum(&mut self, group: usize, momentum: f64) {
        self.core.groups[group].options.momentum = momentum;
    }
}

/// SGD on a sparse gradient, as PyTorch runs it: without momentum each
/// entry is added to its row in turn (`p.add_(grad, alpha=-lr)`); with
/// momentum the buffer stays sparse and, as in PyTorch, uncoalesced (each
/// step appends the new gradient's entries to the scaled old ones):
///
/// ```text
/// buf = g (first step) | momentum * buf + (1 - dampening) * g
/// p = p - lr * (nesterov ? g + momentum * buf : buf)
/// ```
fn sparse_sgd_step(p: &Variable, g: &SparseGrad, o: &SgdOptions, st: &mut SgdState) -> Result<()> {
    let size = p.shape();
    with_param_float!(p, "SGD", T => {
        let mut rows = Rows::<T>::raw(g)?;
        if o.maximize {
            rows = rows.negated();
        }
        if o.momentum == 0.0 {
            return with_param_slice::<T, _>(p, |w| rows.add_to(w, -o.lr));
        }
        let fresh = rows.to_grad(&size)?;
        let buf = match st.sparse_buffer.take() {
            None => fresh.clone(),
            Some(old) => old.scaled(o.momentum).concat(&fresh.scaled(1.0 - o.dampening))?,
        };
        let update = if o.nesterov {
            Rows::<T>::raw(&fresh.concat(&buf.scaled(o.momentum))?)?
        } else {
            Rows::<T>::raw(&buf)?
        };
        with_param_slice::<T, _>(p, |w| update.add_to(w, -o.lr))?;
        st.sparse_buffer = Some(buf);
        Ok(())
    })
}

crate::core::option_builders!(SgdOptions {
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
});
