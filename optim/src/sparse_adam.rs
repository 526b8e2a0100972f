//! SparseAdam (`torch.optim.SparseAdam`): Adam for sparse gradients,
//! updating only the rows a gradient holds.

use serde_json::{Map, Value};
use torchlet_tensor::{Float, Tensor};

use crate::adam::read_betas;
use crate::core::{
    group_access, optimizer_common, step_entry, GroupOptions, Groups, ParamState, Saved,
};
use crate::error::{check, OptimError, Result};
use crate::optimizer::Optimizer;
use crate::sparse::{state_slice, with_param_float, with_param_slice, Rows};
use crate::state::{get_bool, get_f64};

/// Options of [`SparseAdam`], with PyTorch's defaults (`lr = 1e-3`,
/// `betas = (0.9, 0.999)`, `eps = 1e-8`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SparseAdamOptions {
    /// Learning rate.
    pub lr: f64,
    /// Coefficients of the running averages of the gradient and its square.
    pub betas: (f64, f64),
    /// Added to the denominator for numerical stability.
    pub eps: f64,
    /// Maximize the objective instead of minimizing.
    pub maximize: bool,
}

impl Default for SparseAdamOptions {
    fn default() -> Self {
        SparseAdamOptions {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            maximize: false,
        }
    }
}

impl GroupOptions for SparseAdamOptions {
    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn validate(&self, what: &'static str) -> Result<()> {
        check(self.lr > 0.0, what, "lr", self.lr, "must be > 0")?;
        check(self.eps > 0.0, what, "eps", self.eps, "must be > 0")?;
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
        )
    }

    fn to_json(&self, m: &mut Map<String, Value>) {
        m.insert("lr".into(), self.lr.into());
        m.insert(
            "betas".into(),
            Value::from(vec![self.betas.0, self.betas.1]),
        );
        m.insert("eps".into(), self.eps.into());
        m.insert("maximize".into(), self.maximize.into());
    }

    fn from_json(what: &'static str, group: &Map<String, Value>) -> Result<Self> {
        Ok(SparseAdamOptions {
            lr: get_f64(what, group, "lr")?,
            betas: read_betas(what, group)?,
            eps: get_f64(what, group, "eps")?,
            maximize: get_bool(what, group, "maximize")?,
        })
    }
}

/// SparseAdam's per-parameter state (PyTorch's names; the moments are
/// dense, only their gradient's rows change each step).
#[derive(Default)]
struct SparseAdamState {
    step: u64,
    exp_avg: Option<Tensor>,
    exp_avg_sq: Option<Tensor>,
}

impl ParamState<SparseAdamOptions> for SparseAdamState {
    const KEYS: &'static [&'static str] = &["step", "exp_avg", "exp_avg_sq"];

    fn save(&self, out: &mut Vec<(&'static str, Tensor)>) {
        if self.step == 0 {
            return;
        }
        out.push(step_entry(self.step));
        out.extend(self.exp_avg.clone().map(|t| ("exp_avg", t)));
        out.extend(self.exp_avg_sq.clone().map(|t| ("exp_avg_sq", t)));
    }

    fn load(saved: &mut Saved<'_>, _: &SparseAdamOptions) -> Result<Self> {
        saved.require(&["step", "exp_avg", "exp_avg_sq"])?;
        Ok(SparseAdamState {
            step: saved.step()?,
            exp_avg: Some(saved.required_buffer("exp_avg")?),
            exp_avg_sq: Some(saved.required_buffer("exp_avg_sq")?),
        })
    }
}

/// Adam for sparse gradients, with PyTorch's exact lazy update: each step
/// coalesces the gradient and, on its rows only,
///
/// ```text
/// m = m + (1 - beta1) * (g - m);  v = v + (1 - beta2) * (g² - v)
/// p = p - lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)
/// ```
///
/// Rows the gradient does not hold keep their value and moments bit for
/// bit. A dense gradient is refused, as in PyTorch.
///
/// ```
/// use torchlet_autograd::{functional as F, Variable};
/// use torchlet_optim::{Optimizer, SparseAdam, SparseAdamOptions};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let table = Variable::parameter(Tensor::ones(&[1000, 8]));
/// let mut opt = SparseAdam::new(vec![table.clone()], SparseAdamOptions { lr: 0.1, ..Default::default() })?;
/// let rows = Tensor::from_vec(vec![3i64, 7], &[2])?;
/// F::embedding_sparse(&rows, &table, None)?.sum().backward()?;
/// opt.step()?;
/// let w = table.data().to_vec::<f32>()?;
/// assert!((w[3 * 8] - 0.9).abs() < 1e-6); // looked up: moved by lr
/// assert_eq!(w[0], 1.0); // never looked up: untouched
/// # Ok(())
/// # }
/// ```
pub struct SparseAdam {
    core: Groups<SparseAdamOptions, SparseAdamState>,
}

optimizer_common!(SparseAdam, SparseAdamOptions, "SparseAdam");

impl Optimizer for SparseAdam {
    fn step(&mut self) -> Result<()> {
        for (group, states) in self.core.iter_mut() {
            let o = group.options;
            for (p, st) in group.params.iter().zip(states.iter_mut()) {
                let Some(g) = p.sparse_grad() else {
                    if p.gradient().is_some() {
                        return Err(OptimError::Usage {
                            what: "SparseAdam",
                            message: "SparseAdam does not support dense gradients, please consider Adam instead".into(),
                        });
                    }
                    continue;
                };
                st.step += 1;
                with_param_float!(p, "SparseAdam", T => {
                    let mut rows = Rows::<T>::coalesced(&g)?;
                    if o.maximize {
                        rows = rows.negated();
                    }
                    // The moments exist from the first step on, even when
                    // its gradient holds no rows (PyTorch initializes the
                    // state before looking at the gradient).
                    let m = state_slice::<T>(&mut st.exp_avg, p, 0.0)?;
                    // Two state buffers and the parameter: take them apart.
                    let mut v_slot = st.exp_avg_sq.take();
                    let v = state_slice::<T>(&mut v_slot, p, 0.0)?;
                    let updated = if rows.rows.is_empty() {
                        Ok(())
                    } else {
                        with_param_slice::<T, _>(p, |w| sparse_adam_rows(&rows, w, m, v, &o, st.step))
                    };
                    st.exp_avg_sq = v_slot;
                    updated?;
                });
            }
        }
        Ok(())
    }

    group_access!();

    fn momentum(&self, group: usize) -> Option<f64> {
        Some(self.core.groups[group].options.betas.0)
    }

    fn set_momentum(&mut self, group: usize, momentum: f64) {
        self.core.groups[group].options.betas.0 = momentum;
    }
}

/// The update on the gradient's (coalesced) rows, in PyTorch's order of
/// float operations (scalars rounded to the dtype as its kernels do).
fn sparse_adam_rows<T: Float>(
    rows: &Rows<T>,
    w: &mut [T],
    m: &mut [T],
    v: &mut [T],
    o: &SparseAdamOptions,
    step: u64,
) {
    let (b1, b2) = o.betas;
    let bias1 = 1.0 - b1.powi(step as i32);
    let bias2 = 1.0 - b2.powi(step as i32);
    let step_size = o.lr * bias2.sqrt() / bias1;
    let (c1, c2) = (T::from_f64(1.0 - b1), T::from_f64(1.0 - b2));
    let (eps, neg_step) = (T::from_f64(o.eps), T::from_f64(-step_size));
    let width = rows.width;
    for (k, &r) in rows.rows.iter().enumerate() {
        let at = r * width..(r + 1) * width;
        let (w, m, v) = (&mut w[at.clone()], &mut m[at.clone()], &mut v[at]);
        for (j, &g) in rows.entry(k).iter().enumerate() {
            let (old_m, old_v) = (m[j], v[j]);
            let dm = (g - old_m) * c1;
            let dv = (g * g - old_v) * c2;
            m[j] = old_m + dm;
            v[j] = old_v + dv;
            let numer = dm + old_m;
            let denom = (dv + old_v).sqrt() + eps;
            w[j] += neg_step * (numer / denom);
        }
    }
}

crate::core::option_builders!(SparseAdamOptions {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    maximize: bool,
});

#[cfg(test)]
mod tests {
    use torchlet_autograd::{functional as F, Variable};
    use torchlet_tensor::Tensor;

    use super::{SparseAdam, SparseAdamOptions};
    use crate::{Optimizer, StatefulOptimizer};

    #[test]
    fn a_first_step_without_rows_still_creates_the_moments() {
        // PyTorch initializes step, exp_avg and exp_avg_sq (zeros) on a
        // parameter's first step even when its gradient holds no rows
        // (every lookup was padding), so its state dict loads back.
        let w = Variable::parameter(Tensor::ones(&[5, 2]));
        let mut opt = SparseAdam::new(vec![w.clone()], SparseAdamOptions::default()).unwrap();
        let padding = Tensor::from_vec(vec![0i64, 0], &[2]).unwrap();
        F::embedding_sparse(&padding, &w, Some(0))
            .unwrap()
            .sum()
            .backward()
            .unwrap();
        assert_eq!(w.sparse_grad().unwrap().nnz(), 0);
        opt.step().unwrap();
        assert_eq!(w.data().to_vec::<f32>().unwrap(), [1.0; 10]);
        let saved = opt.state_dict();
        let names: Vec<&str> = saved.state.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["state.0.exp_avg", "state.0.exp_avg_sq", "state.0.step"]
        );
        assert_eq!(
            saved.state["state.0.exp_avg"].to_vec::<f32>().unwrap(),
            [0.0; 10]
        );
        let mut again = SparseAdam::new(vec![w], SparseAdamOptions::default()).unwrap();
        again.load_state_dict(&saved).unwrap();
    }
}
