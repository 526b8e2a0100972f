//! Loss modules (`torch.nn.MSELoss`, `CrossEntropyLoss`, ...) wrapping
//! [`torchlet_autograd::functional`] with PyTorch's names and defaults.
//!
//! Each loss is built with `new()` and PyTorch's defaults, changed with
//! builder setters (`CrossEntropyLoss::new().label_smoothing(0.1)`,
//! `MSELoss::new().reduction(Reduction::Sum)`), and has a
//! `forward(input, target)` method that takes either side as a
//! [`Variable`] or a [`Tensor`] (a target straight from a `DataLoader`).
//! Class-index losses ([`CrossEntropyLoss`], [`NLLLoss`]) read int64
//! indices; targets get no gradient there.
//!
//! ```
//! use torchlet_autograd::Variable;
//! use torchlet_nn::{CrossEntropyLoss, MSELoss, Reduction};
//! use torchlet_tensor::Tensor;
//! let logits = Variable::parameter(Tensor::zeros(&[2, 3]));
//! let y = Tensor::from_vec(vec![0i64, 2], &[2]).unwrap();
//! let loss = CrossEntropyLoss::new().forward(&logits, &y).unwrap();
//! assert!((loss.item::<f32>().unwrap() - 3f32.ln()).abs() < 1e-6);
//! let sum = MSELoss::new().reduction(Reduction::Sum);
//! assert_eq!(sum.forward(&logits, &Tensor::ones(&[2, 3])).unwrap().item::<f32>().unwrap(), 6.0);
//! ```

use torchlet_autograd::{functional, Variable};
use torchlet_tensor::{broadcast_shapes, Tensor};

pub use torchlet_autograd::functional::Reduction;

use crate::error::{NnError, Result};

/// The target of a class loss as a tensor: its value. A target that
/// requires grad (soft labels being learned) is refused rather than
/// silently cut from the graph.
fn class_target(loss: &'static str, target: Variable) -> Result<Tensor> {
    if target.requires_grad() {
        return Err(NnError::Input {
            module: loss,
            message: "the target requires grad, but this loss does not differentiate \
                      with respect to its target; pass target.detach()"
                .into(),
        });
    }
    Ok(target.data())
}

pub(crate) fn reduce(loss: Variable, reduction: Reduction) -> Result<Variable> {
    Ok(match reduction {
        Reduction::None => loss,
        Reduction::Mean => loss.mean(),
        Reduction::Sum => loss.sum(),
    })
}

/// Mean squared error `(input - target)²` (`torch.nn.MSELoss`, default
/// reduction `Mean`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MSELoss {
    /// How the per-element losses are combined.
    pub reduction: Reduction,
}

impl MSELoss {
    /// `MSELoss()`: reduction `Mean`.
    pub fn new() -> MSELoss {
        MSELoss::default()
    }

    /// The loss of `input` against `target` (shapes broadcast).
    pub fn forward(
        &self,
        input: impl Into<Variable>,
        target: impl Into<Variable>,
    ) -> Result<Variable> {
        let (input, target) = (&input.into(), &target.into());
        Ok(functional::mse_loss(input, target, self.reduction)?)
    }
}

/// Mean absolute error `|input - target|` (`torch.nn.L1Loss`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct L1Loss {
    /// How the per-element losses are combined.
    pub reduction: Reduction,
}

impl L1Loss {
    /// `L1Loss()`: reduction `Mean`.
    pub fn new() -> L1Loss {
        L1Loss::default()
    }

    /// The loss of `input` against `target` (shapes broadcast).
    pub fn forward(
        &self,
        input: impl Into<Variable>,
        target: impl Into<Variable>,
    ) -> Result<Variable> {
        let (input, target) = (&input.into(), &target.into());
        Ok(functional::l1_loss(input, target, self.reduction)?)
    }
}

/// Per-element smooth-L1 with threshold `beta`: `0.5 d² / beta` where
/// `|d| < beta`, `|d| - 0.5 beta` elsewhere (plain L1 when `beta = 0`).
pub(crate) fn smooth_l1(input: &Variable, target: &Variable, beta: f64) -> Result<Variable> {
    broadcast_shapes("smooth_l1_loss", &input.shape(), &target.shape())?;
    let d = input.sub(target)?;
    let a = d.abs();
    if beta == 0.0 {
        return Ok(a);
    }
    let cond = a.data().lt(&Tensor::full_dtype(&[], beta, a.dtype()))?;
    let quad = d.square().mul_scalar(0.5 / beta);
    let lin = a.sub_scalar(0.5 * beta);
    Ok(Variable::where_cond(&cond, &quad, &lin)?)
}

/// Smooth L1 loss (`torch.nn.SmoothL1Loss`, defaults `beta = 1`, `Mean`):
/// `0.5 d² / beta` where `|d| < beta`, `|d| - 0.5 beta` elsewhere, with
/// `d = input - target`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmoothL1Loss {
    /// How the per-element losses are combined.
    pub reduction: Reduction,
    /// The threshold between the quadratic and linear parts (`>= 0`).
    pub beta: f64,
}

impl Default for SmoothL1Loss {
    fn default() -> Self {
        SmoothL1Loss {
            reduction: Reduction::Mean,
            beta: 1.0,
        }
    }
}

impl SmoothL1Loss {
    /// `SmoothL1Loss()`: `beta = 1`, reduction `Mean`.
    pub fn new() -> SmoothL1Loss {
        SmoothL1Loss::default()
    }

    /// The threshold between the quadratic and linear parts (`beta=`);
    /// fails for a negative or NaN `beta`.
    pub fn beta(mut self, beta: f64) -> Result<Self> {
        if beta.is_nan() || beta < 0.0 {
            return Err(NnError::config(
                "SmoothL1Loss",
                format!("beta must be non-negative, got {beta}"),
            ));
        }
        self.beta = beta;
        Ok(self)
    }

    /// The loss of `input` against `target` (shapes broadcast).
    pub fn forward(
        &self,
        input: impl Into<Variable>,
        target: impl Into<Variable>,
    ) -> Result<Variable> {
        let (input, target) = (&input.into(), &target.into());
        reduce(smooth_l1(input, target, self.beta)?, self.reduction)
    }
}

/// Huber loss (`torch.nn.HuberLoss`, defaults `delta = 1`, `Mean`):
/// `0.5 d²` where `|d| < delta`, `delta (|d| - 0.5 delta)` elsewhere — that
/// is `delta` times the smooth-L1 loss with `beta = delta`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HuberLoss {
    /// How the per-element losses are combined.
    pub reduction: Reduction,
    /// The threshold between the quadratic and linear parts (`> 0`).
    pub delta: f64,
}

impl Default for HuberLoss {
    fn default() -> Self {
        HuberLoss {
            reduction: Reduction::Mean,
            delta: 1.0,
        }
    }
}

impl HuberLoss {
    /// `HuberLoss()`: `delta = 1`, reduction `Mean`.
    pub fn new() -> HuberLoss {
        HuberLoss::default()
    }

    /// The threshold between the quadratic and linear parts (`delta=`);
    /// fails unless `delta > 0`.
    pub fn delta(mut self, delta: f64) -> Result<Self> {
        if delta.is_nan() || delta <= 0.0 {
            return Err(NnError::config(
                "HuberLoss",
                format!("delta must be positive, got {delta}"),
            ));
        }
        self.delta = delta;
        Ok(self)
    }

    /// The loss of `input` against `target` (shapes broadcast).
    pub fn forward(
        &self,
        input: impl Into<Variable>,
        target: impl Into<Variable>,
    ) -> Result<Variable> {
        let (input, target) = (&input.into(), &target.into());
        let l = smooth_l1(input, target, self.delta)?.mul_scalar(self.delta);
        reduce(l, self.reduction)
    }
}

/// Binary cross-entropy on probabilities (`torch.nn.BCELoss`), with an
/// optional per-element rescaling `weight` (broadcast to the input).
#[derive(Debug, Clone, Default)]
pub struct BCELoss {
    /// Per-element weights, if any.
    pub weight: Option<Tensor>,
    /// How the per-element losses are combined.
    pub reduction: Reduction,
}

impl BCELoss {
    /// `BCELoss()`: no weights, reduction `Mean`.
    pub fn new() -> BCELoss {
        BCELoss::default()
    }

    /// The loss of probabilities `input` against `target` (same shape).
    pub fn forward(
        &self,
        input: impl Into<Variable>,
        target: impl Into<Variable>,
    ) -> Result<Variable> {
        let (input, target) = (&input.into(), &target.into());
        Ok(functional::binary_cross_entropy(
            input,
            target,
            self.weight.as_ref(),
            self.reduction,
        )?)
    }
}

/// Binary cross-entropy on logits, computed stably
/// (`torch.nn.BCEWithLogitsLoss`): optional per-element `weight` and a
/// per-class `pos_weight` scaling the positive term.
#[derive(Debug, Clone, Default)]
pub struct BCEWithLogitsLoss {
    /// Per-element weights, if any.
    pub weight: Option<Tensor>,
    /// How the per-element losses are combined.
    pub reduction: Reduction,
    /// Weights of the positive examples, broadcast along the last dim.
    pub pos_weight: Option<Tensor>,
}

impl BCEWithLogitsLoss {
    /// `BCEWithLogitsLoss()`: no weights, reduction `Mean`.
    pub fn new() -> BCEWithLogitsLoss {
        BCEWithLogitsLoss::default()
    }

    /// Weights of the positive examples, broadcast along the last dim
    /// (`pos_weight=`).
    pub fn pos_weight(mut self, pos_weight: Tensor) -> Self {
        self.pos_weight = Some(pos_weight);
        self
    }

    /// The loss of logits `input` against `target` in `[0, 1]`.
    pub fn forward(
        &self,
        input: impl Into<Variable>,
        target: impl Into<Variable>,
    ) -> Result<Variable> {
        let (input, target) = (&input.into(), &target.into());
        Ok(functional::binary_cross_entropy_with_logits(
            input,
            target,
            self.weight.as_ref(),
            self.pos_weight.as_ref(),
            self.reduction,
        )?)
    }
}

/// Cross-entropy of logits (`torch.nn.CrossEntropyLoss`, defaults: no
/// class weights, `ignore_index = -100`, `Mean`, no label smoothing). The
/// target is int64 class indices (`[N]`, `[N, d...]`) or float class
/// probabilities of the input's shape.
#[derive(Debug, Clone)]
pub struct CrossEntropyLoss {
    /// Per-class weights `[C]`, if any.
    pub weight: Option<Tensor>,
    /// A class-index target value that contributes nothing.
    pub ignore_index: i64,
    /// How the per-sample losses are combined (`Mean` divides by the
    /// summed weights of the counted targets).
    pub reduction: Reduction,
    /// Mixing of the target with the uniform distribution, in `[0, 1]`.
    pub label_smoothing: f64,
}

impl Default for CrossEntropyLoss {
    fn default() -> Self {
        CrossEntropyLoss {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
            label_smoothing: 0.0,
        }
    }
}

impl CrossEntropyLoss {
    fn name(&self) -> &'static str {
        "CrossEntropyLoss"
    }

    /// `CrossEntropyLoss()` with PyTorch's defaults.
    pub fn new() -> CrossEntropyLoss {
        CrossEntropyLoss::default()
    }

    /// Mixing of the target with the uniform distribution
    /// (`label_smoothing=`, in `[0, 1]`; checked by `forward`).
    pub fn label_smoothing(mut self, label_smoothing: f64) -> Self {
        self.label_smoothing = label_smoothing;
        self
    }

    /// The loss of logits `input` (`[N, C]`, `[C]`, `[N, C, d...]`) against
    /// `target`.
    pub fn forward(
        &self,
        input: impl Into<Variable>,
        target: impl Into<Variable>,
    ) -> Result<Variable> {
        let (input, target) = (&input.into(), &class_target(self.name(), target.into())?);
        Ok(functional::cross_entropy(
            input,
            target,
            self.weight.as_ref(),
            self.ignore_index,
            self.reduction,
            self.label_smoothing,
        )?)
    }
}

/// Negative log-likelihood of log-probabilities (`torch.nn.NLLLoss`,
/// defaults: no class weights, `ignore_index = -100`, `Mean`).
#[derive(Debug, Clone)]
pub struct NLLLoss {
    /// Per-class weights `[C]`, if any.
    pub weight: Option<Tensor>,
    /// A target value that contributes nothing.
    pub ignore_index: i64,
    /// How the per-sample losses are combined (`Mean` divides by the
    /// summed weights of the counted targets).
    pub reduction: Reduction,
}

impl Default for NLLLoss {
    fn default() -> Self {
        NLLLoss {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
        }
    }
}

impl NLLLoss {
    fn name(&self) -> &'static str {
        "NLLLoss"
    }

    /// `NLLLoss()` with PyTorch's defaults.
    pub fn new() -> NLLLoss {
        NLLLoss::default()
    }

    /// The loss of log-probabilities `input` (`[N, C]`, `[N, C, d...]`)
    /// against int64 class indices `target`.
    pub fn forward(
        &self,
        input: impl Into<Variable>,
        target: impl Into<Variable>,
    ) -> Result<Variable> {
        let (input, target) = (&input.into(), &class_target(self.name(), target.into())?);
        Ok(functional::nll_loss(
            input,
            target,
            self.weight.as_ref(),
            self.ignore_index,
            self.reduction,
        )?)
    }
}

/// The builder setters losses share, named after PyTorch's keyword
/// arguments: `reduction` (all), `weight` (the BCE and class losses),
/// `ignore_index` (the class losses).
macro_rules! loss_setters {
    ($loss:ty: $($setter:ident),+) => {
        impl $loss {
            $(loss_setters!(@$setter);)+
        }
    };
    (@reduction) => {
        /// How the per-element losses are combined (`reduction=`).
        pub fn reduction(mut self, reduction: Reduction) -> Self {
            self.reduction = reduction;
            self
        }
    };
    (@weight) => {
        /// Per-element (BCE) or per-class rescaling weights (`weight=`).
        pub fn weight(mut self, weight: Tensor) -> Self {
            self.weight = Some(weight);
            self
        }
    };
    (@ignore_index) => {
        /// A class-index target value that contributes nothing
        /// (`ignore_index=`, default -100).
        pub fn ignore_index(mut self, ignore_index: i64) -> Self {
            self.ignore_index = ignore_index;
            self
        }
    };
}

loss_setters!(MSELoss: reduction);
loss_setters!(L1Loss: reduction);
loss_setters!(SmoothL1Loss: reduction);
loss_setters!(HuberLoss: reduction);
loss_setters!(BCELoss: reduction, weight);
loss_setters!(BCEWithLogitsLoss: reduction, weight);
loss_setters!(CrossEntropyLoss: reduction, weight, ignore_index);
loss_setters!(NLLLoss: reduction, weight, ignore_index);

/// How [`KLDivLoss`] combines its per-element terms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KLDivReduction {
    /// Keep one value per element.
    None,
    /// Average over all elements (PyTorch's default, though not the true
    /// KL divergence).
    #[default]
    Mean,
    /// Sum.
    Sum,
    /// Sum divided by the batch size (dim 0): the KL divergence per sample.
    BatchMean,
}

/// Kullback–Leibler divergence (`torch.nn.KLDivLoss`): `input` holds
/// log-probabilities, `target` probabilities (or log-probabilities with
/// `log_target`); the per-element term is `target · (log target - input)`,
/// `0` where `target = 0`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KLDivLoss {
    /// How the per-element terms are combined.
    pub reduction: KLDivReduction,
    /// Whether `target` is given as log-probabilities.
    pub log_target: bool,
}

impl KLDivLoss {
    /// `KLDivLoss()`: reduction `Mean`, probabilities as the target.
    pub fn new() -> KLDivLoss {
        KLDivLoss::default()
    }

    /// How the per-element terms are combined (`reduction=`; `BatchMean`
    /// gives the true KL divergence per sample).
    pub fn reduction(mut self, reduction: KLDivReduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// Whether `target` is given as log-probabilities (`log_target=`).
    pub fn log_target(mut self, log_target: bool) -> Self {
        self.log_target = log_target;
        self
    }

    /// The divergence of `target` from the distribution whose logs are
    /// `input` (shapes broadcast).
    pub fn forward(
        &self,
        input: impl Into<Variable>,
        target: impl Into<Variable>,
    ) -> Result<Variable> {
        let (input, target) = (&input.into(), &target.into());
        kl_div(input, target, self.reduction, self.log_target)
    }
}

/// The KL divergence of [`KLDivLoss`] (`F.kl_div`): per-element
/// `target · (log target - input)` (`0` where `target = 0`), or
/// `exp(target) · (target - input)` with `log_target`, then reduced.
pub(crate) fn kl_div(
    input: &Variable,
    target: &Variable,
    reduction: KLDivReduction,
    log_target: bool,
) -> Result<Variable> {
    broadcast_shapes("kl_div", &input.shape(), &target.shape())?;
    let per = if log_target {
        target.exp().mul(&target.sub(input)?)?
    } else {
        // xlogy(t, t) - t · input, with 0 · log 0 = 0.
        let t = target.data();
        let positive = t.gt(&Tensor::full_dtype(&[], 0.0, t.dtype()))?;
        let one = Variable::constant(Tensor::full_dtype(&[], 1.0, t.dtype()));
        let zero = Variable::constant(Tensor::full_dtype(&[], 0.0, t.dtype()));
        let safe = Variable::where_cond(&positive, target, &one)?;
        let tlogt = Variable::where_cond(&positive, &target.mul(&safe.log())?, &zero)?;
        tlogt.sub(&target.mul(input)?)?
    };
    Ok(match reduction {
        KLDivReduction::None => per,
        KLDivReduction::Mean => per.mean(),
        KLDivReduction::Sum => per.sum(),
        KLDivReduction::BatchMean => {
            let n = per.shape().first().copied().unwrap_or(1).max(1);
            per.sum().div_scalar(n as f64)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use torchlet_tensor::DType;

    fn var(x: &[f64], shape: &[usize]) -> Variable {
        Variable::parameter(Tensor::from_slice(x, shape).unwrap())
    }

    fn val(v: &Variable) -> Vec<f64> {
        v.data().to_dtype(DType::F64).to_vec::<f64>().unwrap()
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-9, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn regression_losses() {
        let x = var(&[0.0, 1.0, 5.0, -0.25], &[4]);
        let y = var(&[0.5, 1.0, 2.0, 0.25], &[4]);
        // d = [-0.5, 0, 3, -0.5]
        close(
            &val(&MSELoss::default().forward(&x, &y).unwrap()),
            &[9.5 / 4.0],
        );
        close(
            &val(&L1Loss::new()
                .reduction(Reduction::Sum)
                .forward(&x, &y)
                .unwrap()),
            &[4.0],
        );
        let none = Reduction::None;
        close(
            &val(&SmoothL1Loss::new()
                .reduction(none)
                .beta(1.0)
                .unwrap()
                .forward(&x, &y)
                .unwrap()),
            &[0.125, 0.0, 2.5, 0.125],
        );
        close(
            &val(&SmoothL1Loss::new()
                .reduction(none)
                .beta(0.5)
                .unwrap()
                .forward(&x, &y)
                .unwrap()),
            &[0.25, 0.0, 2.75, 0.25],
        );
        close(
            &val(&SmoothL1Loss::new()
                .reduction(none)
                .beta(0.0)
                .unwrap()
                .forward(&x, &y)
                .unwrap()),
            &[0.5, 0.0, 3.0, 0.5],
        );
        close(
            &val(&SmoothL1Loss::default().forward(&x, &y).unwrap()),
            &[2.75 / 4.0],
        );
        close(
            &val(&HuberLoss::new()
                .reduction(none)
                .delta(2.0)
                .unwrap()
                .forward(&x, &y)
                .unwrap()),
            &[0.125, 0.0, 4.0, 0.125],
        );
        close(
            &val(&HuberLoss::new()
                .reduction(none)
                .delta(0.5)
                .unwrap()
                .forward(&x, &y)
                .unwrap()),
            &[0.125, 0.0, 1.375, 0.125],
        );
        assert!(HuberLoss::new().reduction(none).delta(0.0).is_err());
        assert!(SmoothL1Loss::new().reduction(none).beta(-1.0).is_err());
        // Gradient of the smooth-L1 sum: d/beta inside, sign(d) outside.
        SmoothL1Loss::new()
            .reduction(Reduction::Sum)
            .beta(1.0)
            .unwrap()
            .forward(&x, &y)
            .unwrap()
            .backward()
            .unwrap();
        close(
            &x.grad().unwrap().to_vec::<f64>().unwrap(),
            &[-0.5, 0.0, 1.0, -0.5],
        );
    }

    #[test]
    fn binary_losses() {
        let p = var(&[0.5, 0.8], &[2]);
        let y = var(&[1.0, 0.0], &[2]);
        let want = (-(0.5f64.ln()) - 0.2f64.ln()) / 2.0;
        close(&val(&BCELoss::default().forward(&p, &y).unwrap()), &[want]);
        let w = Tensor::from_slice(&[2.0f64, 0.0], &[2]).unwrap();
        close(
            &val(&BCELoss::new()
                .weight(w)
                .reduction(Reduction::Sum)
                .forward(&p, &y)
                .unwrap()),
            &[-2.0 * 0.5f64.ln()],
        );

        let z = var(&[0.0, 2.0], &[2]);
        let sp = |v: f64| (1.0 + v.exp()).ln();
        // target 1: softplus(-x); target 0: softplus(x).
        close(
            &val(&BCEWithLogitsLoss::new()
                .reduction(Reduction::None)
                .forward(&z, &y)
                .unwrap()),
            &[sp(0.0), sp(2.0)],
        );
        let pw = Tensor::from_slice(&[3.0f64], &[1]).unwrap();
        close(
            &val(&BCEWithLogitsLoss::new()
                .reduction(Reduction::Sum)
                .pos_weight(pw)
                .forward(&z, &y)
                .unwrap()),
            &[3.0 * sp(0.0) + sp(2.0)],
        );
    }

    #[test]
    fn class_losses() {
        // Logits with log-softmax rows [ln .5, ln .25, ln .25] and uniform.
        let x = var(&[2f64.ln(), 0.0, 0.0, 0.0, 0.0, 0.0], &[2, 3]);
        let t = Tensor::from_slice(&[0i64, 2], &[2]).unwrap();
        let ce = CrossEntropyLoss::new();
        let l0 = -(0.5f64.ln());
        let l1 = 3f64.ln();
        close(&val(&ce.forward(&x, &t).unwrap()), &[(l0 + l1) / 2.0]);

        let weighted = CrossEntropyLoss {
            weight: Some(Tensor::from_slice(&[1.0f64, 1.0, 3.0], &[3]).unwrap()),
            ..Default::default()
        };
        close(
            &val(&weighted.forward(&x, &t).unwrap()),
            &[(l0 + 3.0 * l1) / 4.0],
        );

        let ignore = CrossEntropyLoss {
            ignore_index: 2,
            ..Default::default()
        };
        close(&val(&ignore.forward(&x, &t).unwrap()), &[l0]);

        // Label smoothing 0.3 over 3 classes: target mass 0.8 / 0.1 / 0.1.
        let smooth = CrossEntropyLoss {
            label_smoothing: 0.3,
            reduction: Reduction::None,
            ..Default::default()
        };
        let row0 = -(0.8 * 0.5f64.ln() + 0.2 * 0.25f64.ln());
        close(&val(&smooth.forward(&x, &t).unwrap()), &[row0, l1]);

        // Probability targets.
        let probs = Tensor::from_slice(&[0.0f64, 0.5, 0.5, 1.0, 0.0, 0.0], &[2, 3]).unwrap();
        close(
            &val(&ce.forward(&x, &probs).unwrap()),
            &[(-(0.25f64.ln()) + l1) / 2.0],
        );

        let logp = x.log_softmax(1).unwrap();
        let nll = NLLLoss::new();
        close(&val(&nll.forward(&logp, &t).unwrap()), &[(l0 + l1) / 2.0]);
        let nll_sum = NLLLoss {
            reduction: Reduction::Sum,
            ignore_index: 0,
            ..Default::default()
        };
        close(&val(&nll_sum.forward(&logp, &t).unwrap()), &[l1]);
        assert!(nll
            .forward(&logp, Tensor::from_slice(&[0i64, 3], &[2]).unwrap())
            .is_err());
    }

    #[test]
    fn kl_div() {
        let q = [0.5f64, 0.5, 0.25, 0.75];
        let logq: Vec<f64> = q.iter().map(|v| v.ln()).collect();
        let input = var(&logq, &[2, 2]);
        let p = [1.0f64, 0.0, 0.5, 0.5];
        let target = var(&p, &[2, 2]);
        let terms = [
            -(0.5f64.ln()),
            0.0,
            0.5 * (0.5f64.ln() - 0.25f64.ln()),
            0.5 * (0.5f64.ln() - 0.75f64.ln()),
        ];
        let total: f64 = terms.iter().sum();
        let kl = |r| {
            KLDivLoss::new()
                .reduction(r)
                .forward(&input, &target)
                .unwrap()
        };
        close(&val(&kl(KLDivReduction::None)), &terms);
        close(&val(&kl(KLDivReduction::Sum)), &[total]);
        close(&val(&kl(KLDivReduction::Mean)), &[total / 4.0]);
        close(&val(&kl(KLDivReduction::BatchMean)), &[total / 2.0]);
        assert_eq!(KLDivLoss::default().reduction, KLDivReduction::Mean);

        // log_target: same value from log-probabilities (where p > 0).
        let lp = var(&[0.0, -1e9, 0.5f64.ln(), 0.5f64.ln()], &[2, 2]);
        let l = KLDivLoss::new()
            .reduction(KLDivReduction::Sum)
            .log_target(true)
            .forward(&input, &lp)
            .unwrap();
        close(&val(&l), &[total]);

        // Gradient w.r.t. input is -target / (elements) for Mean.
        kl(KLDivReduction::Mean).backward().unwrap();
        let g: Vec<f64> = p.iter().map(|v| -v / 4.0).collect();
        close(&input.grad().unwrap().to_vec::<f64>().unwrap(), &g);
    }

    #[test]
    fn composed_losses_gradcheck() {
        let x = Tensor::from_slice(&[0.1f64, -2.0, 1.7, 0.4, -0.3, 3.0], &[2, 3]).unwrap();
        let y = Tensor::from_slice(&[0.3f64, 0.5, 1.2, -0.2, -0.1, 0.9], &[2, 3]).unwrap();
        let sl1 = SmoothL1Loss::new()
            .reduction(Reduction::Mean)
            .beta(0.6)
            .unwrap();
        torchlet_autograd::gradcheck(
            |v: &[Variable]| Ok(sl1.forward(&v[0], &v[1]).unwrap()),
            &[x.clone(), y.clone()],
        )
        .unwrap();
        let hub = HuberLoss::new()
            .reduction(Reduction::Sum)
            .delta(0.6)
            .unwrap();
        torchlet_autograd::gradcheck(
            |v: &[Variable]| Ok(hub.forward(&v[0], &v[1]).unwrap()),
            &[x.clone(), y],
        )
        .unwrap();
        let p = Tensor::from_slice(&[0.2f64, 0.3, 0.5, 0.6, 0.1, 0.3], &[2, 3]).unwrap();
        let kl = KLDivLoss::new().reduction(KLDivReduction::BatchMean);
        torchlet_autograd::gradcheck(
            |v: &[Variable]| Ok(kl.forward(&v[0].log_softmax(1)?, &v[1]).unwrap()),
            &[x.clone(), p.clone()],
        )
        .unwrap();
        let kl_log = KLDivLoss::new()
            .reduction(KLDivReduction::Sum)
            .log_target(true);
        torchlet_autograd::gradcheck(
            |v: &[Variable]| Ok(kl_log.forward(&v[0].log_softmax(1)?, v[1].log()).unwrap()),
            &[x, p],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}
