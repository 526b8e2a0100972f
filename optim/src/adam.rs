//! Adam and AdamW (`torch.optim.Adam`, `torch.optim.AdamW`).

use serde_json::{Map, Value};
use torchlet_tensor::{AdamStep, Tensor};

use crate::core::{
    group_access, optimizer_common, step_entry, GroupOptions, Groups, ParamState, Saved,
};
use crate::error::{check, OptimError, Result};
use crate::optimizer::Optimizer;
use crate::sparse::refuse_sparse;
use crate::state::{get_bool, get_f64};

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

    fn check_values(&self, what: &'static str) -> Result<()> {
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

impl GroupOptions for AdamOptions {
    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn validate(&self, what: &'static str) -> Result<()> {
        self.check_values(what)
    }

    fn to_json(&self, m: &mut Map<String, Value>) {
        m.insert("lr".into(), self.lr.into());
        m.insert(
            "betas".into(),
            Value::from(vec![self.betas.0, self.betas.1]),
        );
        m.insert("eps".into(), self.eps.into());
        m.insert("weight_decay".into(), self.weight_decay.into());
        m.insert("amsgrad".into(), self.amsgrad.into());
        m.insert("maximize".into(), self.maximize.into());
    }

    fn from_json(what: &'static str, group: &Map<String, Value>) -> Result<Self> {
        let betas = read_betas(what, group)?;
        Ok(AdamOptions {
            lr: get_f64(what, group, "lr")?,
            betas,
            eps: get_f64(what, group, "eps")?,
            weight_decay: get_f64(what, group, "weight_decay")?,
            amsgrad: get_bool(what, group, "amsgrad")?,
            maximize: get_bool(what, group, "maximize")?,
        })
    }
}

/// A parameter group's `betas` pair.
pub(crate) fn read_betas(what: &'static str, group: &Map<String, Value>) -> Result<(f64, f64)> {
    match group.get("betas").and_then(Value::as_array) {
        Some(b) if b.len() == 2 && b.iter().all(Value::is_number) => Ok((
            b[0].as_f64().unwrap_or_default(),
            b[1].as_f64().unwrap_or_default(),
        )),
        _ => Err(OptimError::Usage {
            what,
            message: "parameter group: betas must be two numbers".into(),
        }),
    }
}

/// Adam's per-parameter state (PyTorch's names).
#[derive(Default)]
struct AdamState {
    step: u64,
    exp_avg: Option<Tensor>,
    exp_avg_sq: Option<Tensor>,
    max_exp_avg_sq: Option<Tensor>,
}

impl ParamState<AdamOptions> for AdamState {
    const KEYS: &'static [&'static str] = &["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"];

    fn save(&self, out: &mut Vec<(&'static str, Tensor)>) {
        if self.step == 0 {
            return;
        }
        out.push(step_entry(self.step));
        let buffers = [
            ("exp_avg", &self.exp_avg),
            ("exp_avg_sq", &self.exp_avg_sq),
            ("max_exp_avg_sq", &self.max_exp_avg_sq),
        ];
        out.extend(
            buffers
                .into_iter()
                .filter_map(|(n, t)| t.clone().map(|t| (n, t))),
        );
    }

    fn load(saved: &mut Saved<'_>, _: &AdamOptions) -> Result<Self> {
        saved.require(&["step", "exp_avg", "exp_avg_sq"])?;
        Ok(AdamState {
            step: saved.step()?,
            exp_avg: saved.buffer("exp_avg")?,
            exp_avg_sq: saved.buffer("exp_avg_sq")?,
            max_exp_avg_sq: saved.buffer("max_exp_avg_sq")?,
        })
    }
}

/// One Adam step over every group; `decoupled` selects AdamW's weight decay.
fn adam_step(core: &mut Groups<AdamOptions, AdamState>, decoupled: bool) -> Result<()> {
    for (group, states) in core.iter_mut() {
        let o = group.options;
        let (b1, b2) = o.betas;
        for (p, st) in group.params.iter().zip(states.iter_mut()) {
            refuse_sparse(p, if decoupled { "AdamW" } else { "Adam" })?;
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
                decoupled_weight_decay: decoupled,
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

macro_rules! adam_like {
    ($name:ident, $what:expr, $decoupled:expr) => {
        optimizer_common!($name, AdamOptions, $what);

        impl Optimizer for $name {
            fn step(&mut self) -> Result<()> {
                adam_step(&mut self.core, $decoupled)
            }

            group_access!();

            fn momentum(&self, group: usize) -> Option<f64> {
                Some(self.core.groups[group].options.betas.0)
            }

            fn set_momentum(&mut self, group: usize, momentum: f64) {
                self.core.groups[group].options.betas.0 = momentum;
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
/// w.mul(&w).unwrap().sum().backward().unwrap();
/// opt.step().unwrap(); // the first Adam step moves by about lr
/// assert!((w.data().item::<f32>().unwrap() - 0.9).abs() < 1e-6);
/// ```
///
/// Its state dict holds `state.{i}.step` (0-d float64), `state.{i}.exp_avg`,
/// `state.{i}.exp_avg_sq` (and `state.{i}.max_exp_avg_sq` with AMSGrad)
/// for every parameter stepped at least once, and each group's `lr`,
/// `betas`, `eps`, `weight_decay`, `amsgrad`, `maximize` (and `initial_lr`
/// when set).
pub struct Adam {
    core: Groups<AdamOptions, AdamState>,
}
adam_like!(Adam, "Adam", false);

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
/// w.mul(&w).unwrap().sum().backward().unwrap();
/// opt.step().unwrap();
/// assert!((w.data().item::<f32>().unwrap() - 0.899).abs() < 1e-6);
/// ```
pub struct AdamW {
    core: Groups<AdamOptions, AdamState>,
}
adam_like!(AdamW, "AdamW", true);

crate::core::option_builders!(AdamOptions {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
});
