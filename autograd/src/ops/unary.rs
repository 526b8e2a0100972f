//! Elementwise math and activations with their derivatives.
//!
//! First-order backward passes reuse the saved forward output where the
//! derivative is a function of it (exp, tanh, sigmoid, ...); with
//! `create_graph` they recompute it from the input with differentiable ops,
//! so second derivatives are exact.

use torchlet_tensor::Tensor;

use crate::graph::{record, Ctx};
use crate::trace::{AtenOp, TraceArg};
use crate::variable::Variable;

/// The op's output as a variable: the saved tensor for a first-order pass,
/// recomputed differentiably (`f(input)`) when building a graph.
fn output_of(c: &Ctx<'_>, f: impl FnOnce(&Variable) -> Variable) -> Variable {
    if c.create_graph {
        f(&c.inputs[0])
    } else {
        Variable::constant(c.output.clone())
    }
}

/// A constant float mask (1 where `m` holds) in the input's dtype.
fn mask(m: Tensor, like: &Variable) -> Variable {
    Variable::constant(m.to_dtype(like.dtype().to_float()))
}

/// Records a unary op whose gradient is `grad * local(ctx)`.
fn unary(
    x: &Variable,
    name: &'static str,
    out: Tensor,
    local: impl Fn(&Ctx<'_>) -> crate::Result<Variable> + Send + Sync + 'static,
) -> Variable {
    record(name, out, &[x], move |c| {
        Ok(vec![Some(c.grad.mul(&local(c)?)?)])
    })
}

impl Variable {
    /// `e^x` (`torch.exp`).
    pub fn exp(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Exp, vec![TraceArg::var(self)]),
            || {
                unary(self, "ExpBackward0", self.with_data(Tensor::exp), |c| {
                    Ok(output_of(c, |x| x.exp()))
                })
            },
        )
    }

    /// Natural logarithm (`torch.log`).
    pub fn log(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Log, vec![TraceArg::var(self)]),
            || {
                unary(self, "LogBackward0", self.with_data(Tensor::log), |c| {
                    Ok(c.inputs[0].reciprocal())
                })
            },
        )
    }

    /// `ln(1 + x)` (`torch.log1p`).
    pub fn log1p(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Log1p, vec![TraceArg::var(self)]),
            || {
                unary(self, "Log1PBackward0", self.with_data(Tensor::log1p), |c| {
                    Ok(c.inputs[0].add_scalar(1.0).reciprocal())
                })
            },
        )
    }

    /// Square root (`torch.sqrt`).
    pub fn sqrt(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Sqrt, vec![TraceArg::var(self)]),
            || {
                unary(self, "SqrtBackward0", self.with_data(Tensor::sqrt), |c| {
                    Ok(output_of(c, |x| x.sqrt()).mul_scalar(2.0).reciprocal())
                })
            },
        )
    }

    /// `1 / sqrt(x)` (`torch.rsqrt`).
    pub fn rsqrt(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Rsqrt, vec![TraceArg::var(self)]),
            || {
                unary(self, "RsqrtBackward0", self.with_data(Tensor::rsqrt), |c| {
                    let y = output_of(c, |x| x.rsqrt());
                    Ok(y.mul(&y)?.mul(&y)?.mul_scalar(-0.5))
                })
            },
        )
    }

    /// `1 / x` (`torch.reciprocal`).
    pub fn reciprocal(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Reciprocal, vec![TraceArg::var(self)]),
            || {
                unary(
                    self,
                    "ReciprocalBackward0",
                    self.with_data(Tensor::reciprocal),
                    |c| {
                        let y = output_of(c, |x| x.reciprocal());
                        Ok(y.mul(&y)?.neg())
                    },
                )
            },
        )
    }

    /// Sine (`torch.sin`).
    pub fn sin(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Sin, vec![TraceArg::var(self)]),
            || {
                unary(self, "SinBackward0", self.with_data(Tensor::sin), |c| {
                    Ok(c.inputs[0].cos())
                })
            },
        )
    }

    /// Cosine (`torch.cos`).
    pub fn cos(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Cos, vec![TraceArg::var(self)]),
            || {
                unary(self, "CosBackward0", self.with_data(Tensor::cos), |c| {
                    Ok(c.inputs[0].sin().neg())
                })
            },
        )
    }

    /// Hyperbolic tangent (`torch.tanh`).
    pub fn tanh(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Tanh, vec![TraceArg::var(self)]),
            || {
                unary(self, "TanhBackward0", self.with_data(Tensor::tanh), |c| {
                    let y = output_of(c, |x| x.tanh());
                    Ok(y.mul(&y)?.rsub_scalar(1.0))
                })
            },
        )
    }

    /// Logistic sigmoid (`torch.sigmoid`).
    pub fn sigmoid(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Sigmoid, vec![TraceArg::var(self)]),
            || {
                unary(
                    self,
                    "SigmoidBackward0",
                    self.with_data(Tensor::sigmoid),
                    |c| {
                        let y = output_of(c, |x| x.sigmoid());
                        y.mul(&y.rsub_scalar(1.0))
                    },
                )
            },
        )
    }

    /// `max(x, 0)` (`torch.relu`).
    pub fn relu(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Relu, vec![TraceArg::var(self)]),
            || {
                record(
                    "ReluBackward0",
                    self.with_data(Tensor::relu),
                    &[self],
                    |c| {
                        let x = c.inputs[0].data();
                        if !c.create_graph {
                            // One fused pass; the mask product below is the same
                            // function, written differentiably for double backward.
                            let g = x.threshold_backward(&c.grad.data(), 0.0)?;
                            return Ok(vec![Some(Variable::constant(g))]);
                        }
                        let m = mask(x.gt(&Tensor::zeros_dtype(&[], x.dtype()))?, &c.inputs[0]);
                        Ok(vec![Some(c.grad.mul(&m)?)])
                    },
                )
            },
        )
    }

    /// `x * sigmoid(x)` (`F.silu`).
    pub fn silu(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Silu, vec![TraceArg::var(self)]),
            || {
                unary(self, "SiluBackward0", self.with_data(Tensor::silu), |c| {
                    let x = &c.inputs[0];
                    let s = x.sigmoid();
                    // s + x s (1 - s)
                    s.add(&x.mul(&s)?.mul(&s.rsub_scalar(1.0))?)
                })
            },
        )
    }

    /// `ln(1 + e^x)`, linear above 20 (`F.softplus`).
    pub fn softplus(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Softplus, vec![TraceArg::var(self)]),
            || {
                unary(
                    self,
                    "SoftplusBackward0",
                    self.with_data(Tensor::softplus),
                    |c| {
                        let x = &c.inputs[0];
                        let linear = x.data().gt(&Tensor::full_dtype(&[], 20.0, x.dtype()))?;
                        x.sigmoid().masked_fill(&Variable::constant(linear), 1.0)
                    },
                )
            },
        )
    }

    /// `x * x` (`torch.square`).
    pub fn square(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Square, vec![TraceArg::var(self)]),
            || {
                unary(self, "PowBackward0", self.with_data(Tensor::square), |c| {
                    Ok(c.inputs[0].mul_scalar(2.0))
                })
            },
        )
    }

    /// `|x|` (`torch.abs`); gradient `sign(x)` (0 at 0).
    pub fn abs(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Abs, vec![TraceArg::var(self)]),
            || {
                unary(self, "AbsBackward0", self.with_data(Tensor::abs), |c| {
                    Ok(mask(c.inputs[0].data().sign(), &c.inputs[0]))
                })
            },
        )
    }

    /// The error function (`torch.erf`).
    pub fn erf(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Erf, vec![TraceArg::var(self)]),
            || {
                unary(self, "ErfBackward0", self.with_data(Tensor::erf), |c| {
                    let x = &c.inputs[0];
                    // 2/sqrt(pi) * exp(-x²)
                    Ok(x.square()
                        .neg()
                        .exp()
                        .mul_scalar(std::f64::consts::FRAC_2_SQRT_PI))
                })
            },
        )
    }

    /// Exact GELU, `x Φ(x)` (`F.gelu`).
    pub fn gelu(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Gelu { tanh: false }, vec![TraceArg::var(self)]),
            || {
                unary(self, "GeluBackward0", self.with_data(Tensor::gelu), |c| {
                    let x = &c.inputs[0];
                    // Φ(x) + x φ(x)
                    let cdf = x
                        .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
                        .erf()
                        .add_scalar(1.0)
                        .mul_scalar(0.5);
                    let pdf = x
                        .square()
                        .mul_scalar(-0.5)
                        .exp()
                        .mul_scalar(1.0 / (2.0 * std::f64::consts::PI).sqrt());
                    cdf.add(&x.mul(&pdf)?)
                })
            },
        )
    }

    /// GELU's tanh approximation (`F.gelu(x, approximate="tanh")`).
    pub fn gelu_tanh(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Gelu { tanh: true }, vec![TraceArg::var(self)]),
            || {
                unary(
                    self,
                    "GeluBackward0",
                    self.with_data(Tensor::gelu_tanh),
                    |c| {
                        let x = &c.inputs[0];
                        let k = (2.0 / std::f64::consts::PI).sqrt();
                        let x2 = x.square();
                        let inner = x.add(&x2.mul(x)?.mul_scalar(0.044715))?.mul_scalar(k);
                        let t = inner.tanh();
                        // 0.5 (1 + t) + 0.5 x (1 - t²) k (1 + 3·0.044715 x²)
                        let left = t.add_scalar(1.0).mul_scalar(0.5);
                        let dinner = x2.mul_scalar(3.0 * 0.044715).add_scalar(1.0).mul_scalar(k);
                        let right = x
                            .mul(&t.square().rsub_scalar(1.0))?
                            .mul(&dinner)?
                            .mul_scalar(0.5);
                        left.add(&right)
                    },
                )
            },
        )
    }

    /// `x` for `x >= 0`, `slope * x` otherwise (`F.leaky_relu`).
    pub fn leaky_relu(&self, negative_slope: f64) -> Variable {
        crate::trace::traced(
            || (AtenOp::LeakyRelu(negative_slope), vec![TraceArg::var(self)]),
            || {
                unary(
                    self,
                    "LeakyReluBackward0",
                    self.data().leaky_relu(negative_slope),
                    move |c| {
                        let x = c.inputs[0].data();
                        let pos = x
                            .gt(&Tensor::zeros_dtype(&[], x.dtype()))?
                            .to_dtype(x.dtype().to_float());
                        // 1 where x > 0, slope elsewhere
                        Ok(Variable::constant(
                            pos.mul_scalar(1.0 - negative_slope)
                                .add_scalar(negative_slope),
                        ))
                    },
                )
            },
        )
    }

    /// `x` for `x > 0`, `alpha (e^x - 1)` otherwise (`F.elu`).
    pub fn elu(&self, alpha: f64) -> Variable {
        crate::trace::traced(
            || (AtenOp::Elu(alpha), vec![TraceArg::var(self)]),
            || {
                unary(self, "EluBackward0", self.data().elu(alpha), move |c| {
                    let x = &c.inputs[0];
                    let pos = mask(x.data().gt(&Tensor::zeros_dtype(&[], x.dtype()))?, x);
                    // pos + (1 - pos) * alpha e^x
                    let neg = x
                        .exp()
                        .mul_scalar(alpha)
                        .mul(&Variable::constant(pos.data().rsub_scalar(1.0)))?;
                    neg.add(&pos)
                })
            },
        )
    }

    /// Each element limited to `[min, max]` (`torch.clamp`); the gradient
    /// passes where `min <= x <= max`.
    pub fn clamp(&self, min: f64, max: f64) -> Variable {
        crate::trace::traced(
            || {
                (
                    AtenOp::Clamp {
                        min: min.is_finite().then_some(min),
                        max: max.is_finite().then_some(max),
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                unary(
                    self,
                    "ClampBackward1",
                    self.data().clamp(min, max),
                    move |c| {
                        let x = c.inputs[0].data();
                        let lo = x.ge(&Tensor::full_dtype(&[], min, x.dtype()))?;
                        let hi = x.le(&Tensor::full_dtype(&[], max, x.dtype()))?;
                        Ok(mask(lo.logical_and(&hi)?, &c.inputs[0]))
                    },
                )
            },
        )
    }

    /// Each element at least `min`.
    pub fn clamp_min(&self, min: f64) -> Variable {
        self.clamp(min, f64::INFINITY)
    }

    /// Each element at most `max`.
    pub fn clamp_max(&self, max: f64) -> Variable {
        self.clamp(f64::NEG_INFINITY, max)
    }
}
