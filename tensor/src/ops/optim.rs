//! Fused optimizer updates: one pass over a parameter and its state
//! instead of a chain of whole-tensor ops (each of which reads and writes
//! every element and allocates). The arithmetic per element is PyTorch's
//! single-tensor implementation, in the same order.

use crate::dtype::{Element, Float};
use crate::error::{Result, TensorError};
use crate::parallel::{for_each_range, maybe_parallel, SharedMut, ELEMENTWISE_PAR_THRESHOLD};
use crate::simd::{run_kernel, Kernel};
use crate::tensor::{with_float, Tensor};

/// The hyper-parameters of one Adam or AdamW step
/// (`torch.optim.Adam` / `torch.optim.AdamW`, single-tensor form).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// Learning rate.
    pub lr: f64,
    /// `beta1`, the decay of the first moment.
    pub beta1: f64,
    /// `beta2`, the decay of the second moment.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// Weight decay: added to the gradient (Adam) or applied to the
    /// parameter as `p *= 1 - lr * weight_decay` (AdamW).
    pub weight_decay: f64,
    /// AdamW's decoupled weight decay instead of Adam's L2 term.
    pub decoupled_weight_decay: bool,
    /// Ascend instead of descend (`maximize=True`).
    pub maximize: bool,
    /// The step number after this update (1 for the first), for the bias
    /// corrections.
    pub step: u64,
}

impl Tensor {
    /// One Adam/AdamW update of this parameter in place, with its state
    /// `exp_avg`, `exp_avg_sq` (and `max_exp_avg_sq` for AMSGrad) updated
    /// in place too. All tensors must have the parameter's shape and float
    /// dtype. Buffers shared with other handles are copied first, as for
    /// every in-place op.
    ///
    /// ```
    /// use torchlet_tensor::{AdamStep, Tensor};
    /// let mut p = Tensor::from_vec(vec![1.0f32], &[1]).unwrap();
    /// let g = Tensor::from_vec(vec![0.5f32], &[1]).unwrap();
    /// let (mut m, mut v) = (Tensor::zeros(&[1]), Tensor::zeros(&[1]));
    /// let h = AdamStep { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0,
    ///                    decoupled_weight_decay: false, maximize: false, step: 1 };
    /// p.adam_step_(&g, &mut m, &mut v, None, &h).unwrap();
    /// // The first step moves every element by lr (times the gradient's sign).
    /// assert!((p.item::<f32>().unwrap() - 0.9).abs() < 1e-6);
    /// ```
    pub fn adam_step_(
        &mut self,
        grad: &Tensor,
        exp_avg: &mut Tensor,
        exp_avg_sq: &mut Tensor,
        max_exp_avg_sq: Option<&mut Tensor>,
        h: &AdamStep,
    ) -> Result<()> {
        const OP: &str = "adam_step_";
        if !self.dtype().is_float() {
            return Err(TensorError::dtype(OP, "a float parameter", self.dtype()));
        }
        let state: Vec<&Tensor> = [
            Some(&*exp_avg),
            Some(&*exp_avg_sq),
            max_exp_avg_sq.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        for t in std::iter::once(grad).chain(state) {
            check_like(OP, self, t)?;
        }
        with_float!(self.dtype(), T => {
            let g = grad.values::<T>();
            let k = AdamScalars::<T>::new(h);
            let p = self.unique_data::<T>();
            let m = exp_avg.unique_data::<T>();
            let v = exp_avg_sq.unique_data::<T>();
            let n = p.len();
            let mx: &mut [T] = match max_exp_avg_sq {
                Some(mx) => mx.unique_data::<T>(),
                None => &mut [],
            };
            let (p, m, v, mx) = (SharedMut::new(p), SharedMut::new(m), SharedMut::new(v), SharedMut::new(mx));
            maybe_parallel(n, ELEMENTWISE_PAR_THRESHOLD, |threads| {
                for_each_range(threads, n, n.div_ceil(threads), |r| {
                    // SAFETY: the ranges of one job are disjoint.
                    let (p, m, v) = unsafe { (p.range(r.clone()), m.range(r.clone()), v.range(r.clone())) };
                    let mx = (!mx.is_empty()).then(|| unsafe { mx.range(r.clone()) });
                    run_kernel(AdamChunk { k: &k, p, g: &g[r], m, v, mx })
                });
            });
        });
        Ok(())
    }
}

/// The hyper-parameters of one SGD step (`torch.optim.SGD`, single-tensor form).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdStep {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor (0 for plain SGD).
    pub momentum: f64,
    /// Dampening of the momentum.
    pub dampening: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
    /// Whether the momentum buffer is new: PyTorch then sets it to the
    /// gradient instead of decaying it.
    pub first_step: bool,
}

impl Tensor {
    /// One SGD update of this parameter in place, with its momentum buffer
    /// (required when `momentum != 0`) updated in place too, in one pass.
    ///
    /// ```
    /// use torchlet_tensor::{SgdStep, Tensor};
    /// let mut p = Tensor::from_vec(vec![1.0f32], &[1]).unwrap();
    /// let mut buf = Tensor::zeros(&[1]);
    /// let h = SgdStep { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.0,
    ///                   nesterov: false, maximize: false, first_step: true };
    /// p.sgd_step_(&Tensor::ones(&[1]), Some(&mut buf), &h).unwrap();
    /// assert!((p.item::<f32>().unwrap() - 0.9).abs() < 1e-6);
    /// assert_eq!(buf.item::<f32>().unwrap(), 1.0);
    /// ```
    pub fn sgd_step_(
        &mut self,
        grad: &Tensor,
        momentum_buffer: Option<&mut Tensor>,
        h: &SgdStep,
    ) -> Result<()> {
        const OP: &str = "sgd_step_";
        if !self.dtype().is_float() {
            return Err(TensorError::dtype(OP, "a float parameter", self.dtype()));
        }
        if h.momentum != 0.0 && momentum_buffer.is_none() {
            return Err(TensorError::invalid(
                OP,
                "momentum != 0 needs a momentum buffer",
            ));
        }
        for t in std::iter::once(grad).chain(momentum_buffer.as_deref()) {
            check_like(OP, self, t)?;
        }
        with_float!(self.dtype(), T => {
            let g = grad.values::<T>();
            let t = <T as Element>::from_f64;
            let k = (t(h.lr), t(h.momentum), t(1.0 - h.dampening), t(h.weight_decay));
            let p = self.unique_data::<T>();
            let n = p.len();
            let flags = (h.momentum != 0.0, h.nesterov, h.maximize, h.first_step, h.weight_decay != 0.0);
            let b: &mut [T] = match momentum_buffer {
                Some(b) if flags.0 => b.unique_data::<T>(),
                _ => &mut [],
            };
            let (p, b) = (SharedMut::new(p), SharedMut::new(b));
            maybe_parallel(n, ELEMENTWISE_PAR_THRESHOLD, |threads| {
                for_each_range(threads, n, n.div_ceil(threads), |r| {
                    // SAFETY: the ranges of one job are disjoint.
                    let p = unsafe { p.range(r.clone()) };
                    let b = (!b.is_empty()).then(|| unsafe { b.range(r.clone()) });
                    run_kernel(SgdChunk { k, flags, p, g: &g[r], b })
                });
            });
        });
        Ok(())
    }
}

/// `(lr, momentum, 1 - dampening, weight_decay)` and
/// `(momentum on, nesterov, maximize, first step, weight decay on)`.
///
/// Each flag combination gets its own copy of the loop (the flags are
/// constants inside [`sgd_loop`]), so the loop has no per-element branches
/// or bounds checks and vectorizes; a loop testing the flags per element
/// stays scalar (measured: the SGD step was 8% of `mlp_b64`).
#[inline(always)]
fn sgd_chunk<T: Float>(
    k: (T, T, T, T),
    flags: (bool, bool, bool, bool, bool),
    p: &mut [T],
    g: &[T],
    b: Option<&mut [T]>,
) {
    match b {
        Some(b) if flags.0 => match (flags.1, flags.2, flags.3, flags.4) {
            // momentum 0.9 after the first step, the common case
            (false, false, false, false) => {
                sgd_loop(k, (true, false, false, false, false), p, g, b)
            }
            (false, false, true, false) => sgd_loop(k, (true, false, false, true, false), p, g, b),
            _ => sgd_loop(k, flags, p, g, b),
        },
        _ => {
            // No momentum buffer: one scratch slot stands in for it.
            let mut unused = [T::ZERO];
            let flags = (false, flags.1, flags.2, flags.3, flags.4);
            for (p, &g) in p.iter_mut().zip(g) {
                sgd_elem(k, flags, p, g, &mut unused[0]);
            }
        }
    }
}

#[inline(always)]
fn sgd_loop<T: Float>(
    k: (T, T, T, T),
    flags: (bool, bool, bool, bool, bool),
    p: &mut [T],
    g: &[T],
    b: &mut [T],
) {
    for ((p, &g), b) in p.iter_mut().zip(g).zip(b.iter_mut()) {
        sgd_elem(k, flags, p, g, b);
    }
}

/// One element of `torch.optim.SGD`'s single-tensor update.
#[inline(always)]
fn sgd_elem<T: Float>(
    (lr, momentum, undamped, wd): (T, T, T, T),
    (with_momentum, nesterov, maximize, first, with_decay): (bool, bool, bool, bool, bool),
    p: &mut T,
    g: T,
    b: &mut T,
) {
    let mut gi = if maximize { -g } else { g };
    if with_decay {
        gi += wd * *p;
    }
    if with_momentum {
        // buf.mul_(momentum).add_(g, alpha=1 - dampening), or a copy of g
        // on the first step.
        *b = if first {
            gi
        } else {
            *b * momentum + undamped * gi
        };
        gi = if nesterov { gi + momentum * *b } else { *b };
    }
    // param.add_(g, alpha=-lr)
    *p += -lr * gi;
}

/// Checks that `t` matches the parameter's shape and dtype.
fn check_like(op: &'static str, param: &Tensor, t: &Tensor) -> Result<()> {
    if t.shape() != param.shape() {
        return Err(TensorError::shapes(
            op,
            &[param.shape(), t.shape()],
            "the gradient and the state must have the parameter's shape",
        ));
    }
    if t.dtype() != param.dtype() {
        return Err(TensorError::dtype(
            op,
            format!("the parameter's dtype {}", param.dtype()),
            t.dtype(),
        ));
    }
    Ok(())
}

/// The per-step constants, converted to the element type once (PyTorch
/// passes them to its kernels as scalars of the tensor's dtype).
struct AdamScalars<T> {
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    eps: T,
    weight_decay: T,
    decay: T,
    neg_step_size: T,
    bias_correction2_sqrt: T,
    decoupled: bool,
    maximize: bool,
}

impl<T: Float> AdamScalars<T> {
    fn new(h: &AdamStep) -> Self {
        let step = h.step as f64;
        let bias_correction1 = 1.0 - h.beta1.powf(step);
        let bias_correction2 = 1.0 - h.beta2.powf(step);
        let t = <T as Element>::from_f64;
        AdamScalars {
            one_minus_beta1: t(1.0 - h.beta1),
            beta2: t(h.beta2),
            one_minus_beta2: t(1.0 - h.beta2),
            eps: t(h.eps),
            weight_decay: t(h.weight_decay),
            decay: t(1.0 - h.lr * h.weight_decay),
            neg_step_size: t(-(h.lr / bias_correction1)),
            bias_correction2_sqrt: t(bias_correction2.sqrt()),
            decoupled: h.decoupled_weight_decay,
            maximize: h.maximize,
        }
    }
}

/// [`sgd_chunk`]'s arguments, run by [`run_kernel`] (AVX-512 where the
/// CPU has it).
struct SgdChunk<'a, T> {
    k: (T, T, T, T),
    flags: (bool, bool, bool, bool, bool),
    p: &'a mut [T],
    g: &'a [T],
    b: Option<&'a mut [T]>,
}

impl<T: Float> Kernel for SgdChunk<'_, T> {
    type Out = ();

    #[inline(always)]
    fn run(self) {
        sgd_chunk(self.k, self.flags, self.p, self.g, self.b)
    }
}

/// [`adam_chunk`]'s arguments, run by [`run_kernel`].
struct AdamChunk<'a, T> {
    k: &'a AdamScalars<T>,
    p: &'a mut [T],
    g: &'a [T],
    m: &'a mut [T],
    v: &'a mut [T],
    mx: Option<&'a mut [T]>,
}

impl<T: Float> Kernel for AdamChunk<'_, T> {
    type Out = ();

    #[inline(always)]
    fn run(self) {
        adam_chunk(self.k, self.p, self.g, self.m, self.v, self.mx)
    }
}

/// Like [`sgd_chunk`]: the common flag combinations (plain Adam, AdamW)
/// get branch-free loops that vectorize, the rest one general loop.
#[inline(always)]
fn adam_chunk<T: Float>(
    k: &AdamScalars<T>,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    mx: Option<&mut [T]>,
) {
    let with_decay = k.weight_decay != T::ZERO;
    match mx {
        Some(mx) => {
            let flags = (k.maximize, with_decay, k.decoupled);
            for ((((p, &g), m), v), mx) in p.iter_mut().zip(g).zip(m).zip(v).zip(mx) {
                adam_elem(k, flags, p, g, m, v, Some(mx));
            }
        }
        None => match (k.maximize, with_decay, k.decoupled) {
            (false, false, _) => adam_loop(k, (false, false, false), p, g, m, v),
            (false, true, true) => adam_loop(k, (false, true, true), p, g, m, v),
            flags => adam_loop(k, flags, p, g, m, v),
        },
    }
}

#[inline(always)]
fn adam_loop<T: Float>(
    k: &AdamScalars<T>,
    flags: (bool, bool, bool),
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
        adam_elem(k, flags, p, g, m, v, None);
    }
}

/// One element of `torch.optim.Adam`'s single-tensor update;
/// `flags` = (maximize, weight decay on, decoupled).
#[inline(always)]
fn adam_elem<T: Float>(
    k: &AdamScalars<T>,
    (maximize, with_decay, decoupled): (bool, bool, bool),
    p: &mut T,
    g: T,
    m: &mut T,
    v: &mut T,
    mx: Option<&mut T>,
) {
    let mut gi = if maximize { -g } else { g };
    if with_decay {
        if decoupled {
            *p *= k.decay;
        } else {
            gi += k.weight_decay * *p;
        }
    }
    // exp_avg.lerp_(g, 1 - beta1)
    *m = *m + k.one_minus_beta1 * (gi - *m);
    // exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    *v = *v * k.beta2 + k.one_minus_beta2 * gi * gi;
    let second = match mx {
        Some(mx) => {
            // torch.maximum propagates NaN from either side.
            if *v > *mx || v.is_nan() {
                *mx = *v;
            }
            *mx
        }
        None => *v,
    };
    let denom = second.sqrt() / k.bias_correction2_sqrt + k.eps;
    // param.addcdiv_(exp_avg, denom, value=-step_size)
    *p += k.neg_step_size * *m / denom;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fused update equals the op-by-op formula, for Adam with L2
    /// decay, AdamW, AMSGrad and maximize, over several steps.
    #[test]
    fn matches_the_unfused_formula() {
        let n = 70_000; // above the parallel threshold
        let init = Tensor::rand(&[n]).to_dtype(crate::DType::F64);
        for (decoupled, amsgrad, maximize) in [
            (false, false, false),
            (true, false, true),
            (false, true, false),
        ] {
            let (mut p, mut m, mut v) = (init.clone(), init.zeros_like(), init.zeros_like());
            let mut mx = init.zeros_like();
            let (mut rp, mut rm, mut rv, mut rmx) = (
                init.clone(),
                init.zeros_like(),
                init.zeros_like(),
                init.zeros_like(),
            );
            for step in 1..=3u64 {
                let g = Tensor::randn(&[n]).to_dtype(crate::DType::F64);
                let h = AdamStep {
                    lr: 0.01,
                    beta1: 0.9,
                    beta2: 0.99,
                    eps: 1e-8,
                    weight_decay: 0.1,
                    decoupled_weight_decay: decoupled,
                    maximize,
                    step,
                };
                p.adam_step_(&g, &mut m, &mut v, amsgrad.then_some(&mut mx), &h)
                    .unwrap();
                // Reference, op by op.
                let mut gr = if maximize { g.neg() } else { g.clone() };
                if decoupled {
                    rp = rp.mul_scalar(1.0 - 0.01 * 0.1);
                } else {
                    gr = gr.add(&rp.mul_scalar(0.1)).unwrap();
                }
                rm = rm.add(&gr.sub(&rm).unwrap().mul_scalar(0.1)).unwrap();
                rv = rv
                    .mul_scalar(0.99)
                    .add(&gr.mul(&gr).unwrap().mul_scalar(0.01))
                    .unwrap();
                let second = if amsgrad {
                    rmx = rmx.maximum(&rv).unwrap();
                    rmx.clone()
                } else {
                    rv.clone()
                };
                let bc1 = 1.0 - 0.9f64.powi(step as i32);
                let bc2 = 1.0 - 0.99f64.powi(step as i32);
                let denom = second.sqrt().div_scalar(bc2.sqrt()).add_scalar(1e-8);
                rp = rp
                    .sub(&rm.div(&denom).unwrap().mul_scalar(0.01 / bc1))
                    .unwrap();
            }
            let gap = p
                .sub(&rp)
                .unwrap()
                .abs()
                .max()
                .unwrap()
                .item::<f64>()
                .unwrap();
            assert!(gap < 1e-12, "{decoupled} {amsgrad} {maximize}: {gap}");
            let gap = m
                .sub(&rm)
                .unwrap()
                .abs()
                .max()
                .unwrap()
                .item::<f64>()
                .unwrap();
            assert!(gap < 1e-15);
        }
    }

    /// The fused SGD step equals PyTorch's op-by-op update for plain,
    /// momentum (first and later steps), dampened, Nesterov, weight-decay
    /// and maximize settings.
    #[test]
    fn sgd_matches_the_unfused_formula() {
        let n = 70_000;
        let init = Tensor::rand(&[n]).to_dtype(crate::DType::F64);
        for (momentum, dampening, nesterov, wd, maximize) in [
            (0.0, 0.0, false, 0.0, false),
            (0.9, 0.0, false, 0.0, false),
            (0.9, 0.3, false, 0.01, true),
            (0.8, 0.0, true, 0.01, false),
        ] {
            let (mut p, mut b) = (init.clone(), init.zeros_like());
            let (mut rp, mut rb): (Tensor, Option<Tensor>) = (init.clone(), None);
            for step in 0..3 {
                let g = Tensor::randn(&[n]).to_dtype(crate::DType::F64);
                let h = SgdStep {
                    lr: 0.1,
                    momentum,
                    dampening,
                    weight_decay: wd,
                    nesterov,
                    maximize,
                    first_step: step == 0,
                };
                let buf = (momentum != 0.0).then_some(&mut b);
                p.sgd_step_(&g, buf, &h).unwrap();
                let mut gr = if maximize { g.neg() } else { g.clone() };
                gr = gr.add(&rp.mul_scalar(wd)).unwrap();
                if momentum != 0.0 {
                    let nb = match rb.take() {
                        None => gr.clone(),
                        Some(b) => b
                            .mul_scalar(momentum)
                            .add(&gr.mul_scalar(1.0 - dampening))
                            .unwrap(),
                    };
                    gr = if nesterov {
                        gr.add(&nb.mul_scalar(momentum)).unwrap()
                    } else {
                        nb.clone()
                    };
                    rb = Some(nb);
                }
                rp = rp.sub(&gr.mul_scalar(0.1)).unwrap();
            }
            let gap = p
                .sub(&rp)
                .unwrap()
                .abs()
                .max()
                .unwrap()
                .item::<f64>()
                .unwrap();
            assert!(
                gap < 1e-12,
                "{momentum} {dampening} {nesterov} {wd} {maximize}: {gap}"
            );
            if let Some(rb) = rb {
                let gap = b
                    .sub(&rb)
                    .unwrap()
                    .abs()
                    .max()
                    .unwrap()
                    .item::<f64>()
                    .unwrap();
                assert!(gap < 1e-12);
            }
        }
    }

    #[test]
    fn shared_state_is_copied_not_written_through() {
        let mut p = Tensor::ones(&[3]);
        let keep = p.clone();
        let (mut m, mut v) = (Tensor::zeros(&[3]), Tensor::zeros(&[3]));
        let h = AdamStep {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
            step: 1,
        };
        p.adam_step_(&Tensor::ones(&[3]), &mut m, &mut v, None, &h)
            .unwrap();
        assert_eq!(keep.to_vec::<f32>().unwrap(), vec![1.0; 3]);
        assert!((p.to_vec::<f32>().unwrap()[0] - 0.9).abs() < 1e-6);
    }

    #[test]
    fn mismatched_shapes_and_dtypes_are_errors() {
        let mut p = Tensor::ones(&[3]);
        let (mut m, mut v) = (Tensor::zeros(&[3]), Tensor::zeros(&[2]));
        let h = AdamStep {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
            step: 1,
        };
        let e = p
            .adam_step_(&Tensor::ones(&[3]), &mut m, &mut v, None, &h)
            .unwrap_err();
        assert!(e.to_string().contains("adam_step_"), "{e}");
        let mut v = Tensor::zeros(&[3]).to_dtype(crate::DType::F64);
        let e = p
            .adam_step_(&Tensor::ones(&[3]), &mut m, &mut v, None, &h)
            .unwrap_err();
        assert!(e.to_string().contains("dtype"), "{e}");
    }
}
