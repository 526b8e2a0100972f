//! Broadcasting arithmetic and comparisons. Gradients of broadcast inputs
//! are summed back to the input's shape ([`sum_to`]).

use std::borrow::Cow;

use torchlet_tensor::{Operand, Tensor};

use crate::error::Result;
use crate::graph::record;
use crate::trace::{AtenOp, BinaryOp, TraceArg};
use crate::variable::Variable;

/// `g` summed over the dims that broadcasting added or expanded, so it has
/// `shape` (PyTorch's `sum_to_size`). Differentiable.
pub(crate) fn sum_to(g: &Variable, shape: &[usize]) -> Result<Variable> {
    let gs = g.shape();
    if gs == shape {
        return Ok(g.clone());
    }
    let lead = gs.len() - shape.len();
    let mut dims: Vec<i64> = (0..lead as i64).collect();
    for (i, &n) in shape.iter().enumerate() {
        if n == 1 && gs[lead + i] != 1 {
            dims.push((lead + i) as i64);
        }
    }
    let summed = g.sum_dims(&dims, true)?;
    let target: Vec<i64> = shape.iter().map(|&n| n as i64).collect();
    summed.reshape(&target)
}

/// The right-hand side of a comparison or of `pow` on a [`Variable`]: a
/// variable, a tensor (a constant) or a number, as PyTorch's
/// `Tensor | Number` (`x.gt(0.0)`, `x.pow(2)`, `logits.eq(&y)`).
///
/// Numbers follow [`Operand`]'s rule, PyTorch's: beside a float variable
/// a number takes its dtype; beside an integer one, `2` stays int64 and
/// `2.0` is float32.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_tensor::Tensor;
/// let x = Variable::parameter(Tensor::from_vec(vec![-1.0f32, 3.0], &[2]).unwrap());
/// assert_eq!(x.gt(0.0).unwrap().to_vec::<bool>().unwrap(), [false, true]);
/// let y = x.pow(2).unwrap(); // d/dx x^2 = 2x
/// y.sum().backward().unwrap();
/// assert_eq!(x.grad().unwrap().to_vec::<f32>().unwrap(), [-2.0, 6.0]);
/// ```
#[derive(Clone, Copy, Debug)]
pub enum VarOperand<'a> {
    /// A variable (gradients flow into it where the op has one).
    Variable(&'a Variable),
    /// A tensor, used as a constant.
    Tensor(&'a Tensor),
    /// An integer (`2`, `-1`).
    Int(i64),
    /// A floating-point number (`2.0`, `0.5`).
    Float(f64),
}

impl<'a> From<&'a Variable> for VarOperand<'a> {
    fn from(v: &'a Variable) -> Self {
        VarOperand::Variable(v)
    }
}

impl<'a> From<&'a Tensor> for VarOperand<'a> {
    fn from(t: &'a Tensor) -> Self {
        VarOperand::Tensor(t)
    }
}

impl<'a> From<&&'a Variable> for VarOperand<'a> {
    fn from(v: &&'a Variable) -> Self {
        VarOperand::Variable(v)
    }
}

impl<'a> From<&&'a Tensor> for VarOperand<'a> {
    fn from(t: &&'a Tensor) -> Self {
        VarOperand::Tensor(t)
    }
}

macro_rules! number_var_operand {
    ($variant:ident as $as:ty: $($t:ty),*) => {$(
        impl From<$t> for VarOperand<'_> {
            fn from(v: $t) -> Self {
                VarOperand::$variant(v as $as)
            }
        }
    )*};
}
number_var_operand!(Float as f64: f64, f32);
number_var_operand!(Int as i64: i64, i32, u8);

impl<'a> VarOperand<'a> {
    /// The right-hand side as a variable (a tensor or number becomes a
    /// constant; a number takes `lhs`'s dtype).
    pub fn to_variable(self, lhs: &Variable) -> Cow<'a, Variable> {
        match self {
            VarOperand::Variable(v) => Cow::Borrowed(v),
            VarOperand::Tensor(t) => Cow::Owned(Variable::constant(t.clone())),
            VarOperand::Int(v) => Cow::Owned(Variable::constant(
                lhs.with_data(|t| Operand::Int(v).to_tensor(t).into_owned()),
            )),
            VarOperand::Float(v) => Cow::Owned(Variable::constant(
                lhs.with_data(|t| Operand::Float(v).to_tensor(t).into_owned()),
            )),
        }
    }
}

impl Variable {
    /// `self + other` with broadcasting (`torch.add`).
    pub fn add(&self, other: &Variable) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Binary(BinaryOp::Add),
                    vec![TraceArg::var(self), TraceArg::var(other)],
                )
            },
            || {
                let out = self.with_data2(other, |a, b| a.add(b))?;
                Ok(record("AddBackward0", out, &[self, other], |c| {
                    let g = c.grad;
                    Ok(vec![
                        c.needs(0)
                            .then(|| sum_to(g, &c.inputs[0].shape()))
                            .transpose()?,
                        c.needs(1)
                            .then(|| sum_to(g, &c.inputs[1].shape()))
                            .transpose()?,
                    ])
                }))
            },
        )
    }

    /// `self - other` with broadcasting (`torch.sub`).
    pub fn sub(&self, other: &Variable) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Binary(BinaryOp::Sub),
                    vec![TraceArg::var(self), TraceArg::var(other)],
                )
            },
            || {
                let out = self.with_data2(other, |a, b| a.sub(b))?;
                Ok(record("SubBackward0", out, &[self, other], |c| {
                    let g = c.grad;
                    Ok(vec![
                        c.needs(0)
                            .then(|| sum_to(g, &c.inputs[0].shape()))
                            .transpose()?,
                        c.needs(1)
                            .then(|| sum_to(&g.neg(), &c.inputs[1].shape()))
                            .transpose()?,
                    ])
                }))
            },
        )
    }

    /// `self * other` with broadcasting (`torch.mul`).
    pub fn mul(&self, other: &Variable) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Binary(BinaryOp::Mul),
                    vec![TraceArg::var(self), TraceArg::var(other)],
                )
            },
            || {
                let out = self.with_data2(other, |a, b| a.mul(b))?;
                Ok(record("MulBackward0", out, &[self, other], |c| {
                    let (a, b, g) = (&c.inputs[0], &c.inputs[1], c.grad);
                    Ok(vec![
                        c.needs(0)
                            .then(|| sum_to(&g.mul(b)?, &a.shape()))
                            .transpose()?,
                        c.needs(1)
                            .then(|| sum_to(&g.mul(a)?, &b.shape()))
                            .transpose()?,
                    ])
                }))
            },
        )
    }

    /// `self / other` with broadcasting (`torch.div`, true division).
    pub fn div(&self, other: &Variable) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Binary(BinaryOp::Div),
                    vec![TraceArg::var(self), TraceArg::var(other)],
                )
            },
            || {
                let out = self.with_data2(other, |a, b| a.div(b))?;
                Ok(record("DivBackward0", out, &[self, other], |c| {
                    let (a, b, g) = (&c.inputs[0], &c.inputs[1], c.grad);
                    Ok(vec![
                        c.needs(0)
                            .then(|| sum_to(&g.div(b)?, &a.shape()))
                            .transpose()?,
                        // d(a/b)/db = -a / b²
                        c.needs(1)
                            .then(|| sum_to(&g.mul(a)?.div(&b.mul(b)?)?.neg(), &b.shape()))
                            .transpose()?,
                    ])
                }))
            },
        )
    }

    /// `self ** exponent` elementwise (`torch.pow`): the exponent is a
    /// variable, a tensor or a number (`x.pow(2)`, `x.pow(&y)`), with
    /// gradients for both sides where they require them.
    pub fn pow<'a>(&self, exponent: impl Into<VarOperand<'a>>) -> Result<Variable> {
        match exponent.into() {
            VarOperand::Int(v) => self.pow_number(Operand::Int(v)),
            VarOperand::Float(v) => self.pow_number(Operand::Float(v)),
            other => self.pow_variable(&other.to_variable(self)),
        }
    }

    fn pow_variable(&self, other: &Variable) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Binary(BinaryOp::Pow),
                    vec![TraceArg::var(self), TraceArg::var(other)],
                )
            },
            || {
                let out = self.with_data2(other, |a, b| a.pow(b))?;
                Ok(record("PowBackward1", out, &[self, other], |c| {
                    let (a, b, g) = (&c.inputs[0], &c.inputs[1], c.grad);
                    Ok(vec![
                        // b * a^(b-1)
                        c.needs(0)
                            .then(|| {
                                sum_to(
                                    &g.mul(&b.mul(&a.pow_variable(&b.sub_scalar(1.0))?)?)?,
                                    &a.shape(),
                                )
                            })
                            .transpose()?,
                        // a^b * ln a (0 where a == 0 and b > 0, as PyTorch masks it)
                        c.needs(1)
                            .then(|| {
                                let ab = a.pow_variable(b)?;
                                let ln = a.log();
                                let zero = Variable::constant(
                                    a.data()
                                        .eq(&Tensor::scalar(0.0f32))?
                                        .logical_and(&b.data().gt(&Tensor::scalar(0.0f32))?)?,
                                );
                                let term = ab.mul(&ln)?.masked_fill(&zero, 0.0)?;
                                sum_to(&g.mul(&term)?, &b.shape())
                            })
                            .transpose()?,
                    ])
                }))
            },
        )
    }

    /// Elementwise maximum (`torch.maximum`); the gradient goes to the larger
    /// input, split evenly on ties as in PyTorch.
    pub fn maximum(&self, other: &Variable) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Binary(BinaryOp::Maximum),
                    vec![TraceArg::var(self), TraceArg::var(other)],
                )
            },
            || self.extreme(other, true),
        )
    }

    /// Elementwise minimum (`torch.minimum`).
    pub fn minimum(&self, other: &Variable) -> Result<Variable> {
        crate::trace::traced(
            || {
                (
                    AtenOp::Binary(BinaryOp::Minimum),
                    vec![TraceArg::var(self), TraceArg::var(other)],
                )
            },
            || self.extreme(other, false),
        )
    }

    fn extreme(&self, other: &Variable, max: bool) -> Result<Variable> {
        let (a, b) = (self.data(), other.data());
        let out = if max { a.maximum(&b)? } else { a.minimum(&b)? };
        let name = if max {
            "MaximumBackward0"
        } else {
            "MinimumBackward0"
        };
        Ok(record(name, out, &[self, other], move |c| {
            let (a, b, g) = (c.inputs[0].data(), c.inputs[1].data(), c.grad);
            let wins = if max { a.gt(&b)? } else { a.lt(&b)? };
            let ties = a.eq(&b)?.to_dtype(g.dtype()).mul_scalar(0.5);
            let wa = wins.to_dtype(g.dtype()).add(&ties)?;
            let wb = wa.rsub_scalar(1.0);
            Ok(vec![
                c.needs(0)
                    .then(|| sum_to(&g.mul(&Variable::constant(wa))?, &c.inputs[0].shape()))
                    .transpose()?,
                c.needs(1)
                    .then(|| sum_to(&g.mul(&Variable::constant(wb))?, &c.inputs[1].shape()))
                    .transpose()?,
            ])
        }))
    }

    /// `self + value`.
    pub fn add_scalar(&self, value: f64) -> Variable {
        crate::trace::traced(
            || {
                (
                    AtenOp::Scalar {
                        op: BinaryOp::Add,
                        value,
                        reversed: false,
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let out = self.data().add_scalar(value);
                record("AddBackward1", out, &[self], |c| {
                    Ok(vec![Some(c.grad.clone())])
                })
            },
        )
    }

    /// `self - value`.
    pub fn sub_scalar(&self, value: f64) -> Variable {
        crate::trace::traced(
            || {
                (
                    AtenOp::Scalar {
                        op: BinaryOp::Sub,
                        value,
                        reversed: false,
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || self.add_scalar(-value),
        )
    }

    /// `value - self`.
    pub fn rsub_scalar(&self, value: f64) -> Variable {
        crate::trace::traced(
            || {
                (
                    AtenOp::Scalar {
                        op: BinaryOp::Sub,
                        value,
                        reversed: true,
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let out = self.data().rsub_scalar(value);
                record("RsubBackward1", out, &[self], |c| {
                    Ok(vec![Some(c.grad.neg())])
                })
            },
        )
    }

    /// `self * value`.
    pub fn mul_scalar(&self, value: f64) -> Variable {
        crate::trace::traced(
            || {
                (
                    AtenOp::Scalar {
                        op: BinaryOp::Mul,
                        value,
                        reversed: false,
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let out = self.data().mul_scalar(value);
                record("MulBackward1", out, &[self], move |c| {
                    Ok(vec![Some(c.grad.mul_scalar(value))])
                })
            },
        )
    }

    /// `self / value`.
    pub fn div_scalar(&self, value: f64) -> Variable {
        crate::trace::traced(
            || {
                (
                    AtenOp::Scalar {
                        op: BinaryOp::Div,
                        value,
                        reversed: false,
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let out = self.data().div_scalar(value);
                record("DivBackward1", out, &[self], move |c| {
                    Ok(vec![Some(c.grad.div_scalar(value))])
                })
            },
        )
    }

    /// `self ** value` (`x.pow(2.5)`).
    #[deprecated(
        since = "0.1.0",
        note = "use `pow(value)`, which takes a number, tensor or variable"
    )]
    pub fn pow_scalar(&self, value: f64) -> Variable {
        // The old rule: int values stay int for non-negative integral values.
        let exponent = match Operand::number(value) {
            Operand::Int(v) if v < 0 => Operand::Float(value),
            e => e,
        };
        self.pow_number(exponent)
            .expect("a non-negative or float exponent is valid")
    }

    /// `self ** exponent` for a number (`Operand::Int` or `Float`).
    fn pow_number(&self, exponent: Operand<'static>) -> Result<Variable> {
        let value = match exponent {
            Operand::Int(v) => v as f64,
            Operand::Float(v) => v,
            Operand::Tensor(_) => unreachable!("pow_number takes a number"),
        };
        crate::trace::traced(
            || {
                (
                    AtenOp::Scalar {
                        op: BinaryOp::Pow,
                        value,
                        reversed: false,
                    },
                    vec![TraceArg::var(self)],
                )
            },
            || {
                let out = self.with_data(|t| t.pow(exponent))?;
                Ok(record("PowBackward0", out, &[self], move |c| {
                    if value == 0.0 {
                        return Ok(vec![Some(c.grad.mul_scalar(0.0))]);
                    }
                    let less = match exponent {
                        Operand::Int(v) => Operand::Int(v - 1),
                        _ => Operand::Float(value - 1.0),
                    };
                    let x = &c.inputs[0];
                    Ok(vec![Some(
                        c.grad.mul(&x.pow_number(less)?.mul_scalar(value))?,
                    )])
                }))
            },
        )
    }

    /// `-self` (`torch.neg`).
    pub fn neg(&self) -> Variable {
        crate::trace::traced(
            || (AtenOp::Neg, vec![TraceArg::var(self)]),
            || {
                let out = self.with_data(|t| t.neg());
                record("NegBackward0", out, &[self], |c| {
                    Ok(vec![Some(c.grad.neg())])
                })
            },
        )
    }

    /// `self == other`, a constant bool variable; `other` is a
    /// variable, a tensor or a number ([`VarOperand`]).
    pub fn eq<'a>(&self, other: impl Into<VarOperand<'a>>) -> Result<Variable> {
        let other = other.into().to_variable(self);
        let other = other.as_ref();
        crate::trace::traced(
            || {
                (
                    AtenOp::Binary(BinaryOp::Eq),
                    vec![TraceArg::var(self), TraceArg::var(other)],
                )
            },
            || Ok(Variable::constant(self.with_data2(other, |a, b| a.eq(b))?)),
        )
    }

    /// `self < other`, a constant bool variable; `other` is a
    /// variable, a tensor or a number ([`VarOperand`]).
    pub fn lt<'a>(&self, other: impl Into<VarOperand<'a>>) -> Result<Variable> {
        let other = other.into().to_variable(self);
        let other = other.as_ref();
        crate::trace::traced(
            || {
                (
                    AtenOp::Binary(BinaryOp::Lt),
                    vec![TraceArg::var(self), TraceArg::var(other)],
                )
            },
            || Ok(Variable::constant(self.with_data2(other, |a, b| a.lt(b))?)),
        )
    }

    /// `self > other`, a constant bool variable; `other` is a
    /// variable, a tensor or a number ([`VarOperand`]).
    pub fn gt<'a>(&self, other: impl Into<VarOperand<'a>>) -> Result<Variable> {
        let other = other.into().to_variable(self);
        let other = other.as_ref();
        crate::trace::traced(
            || {
                (
                    AtenOp::Binary(BinaryOp::Gt),
                    vec![TraceArg::var(self), TraceArg::var(other)],
                )
            },
            || Ok(Variable::constant(self.with_data2(other, |a, b| a.gt(b))?)),
        )
    }
}

/// `a op b` for every owned/borrowed pair of variables (shapes
/// broadcast; an op error panics with its message, as an arithmetic
/// operator cannot return `Result` — call the method for a `Result`).
macro_rules! operator {
    ($trait:ident, $fn:ident, $method:ident) => {
        impl std::ops::$trait<&Variable> for &Variable {
            type Output = Variable;
            /// Panics with the op's error message when shapes don't broadcast.
            fn $fn(self, rhs: &Variable) -> Variable {
                Variable::$method(self, rhs).unwrap_or_else(|e| panic!("{e}"))
            }
        }
        impl std::ops::$trait<Variable> for Variable {
            type Output = Variable;
            /// Panics with the op's error message when shapes don't broadcast.
            fn $fn(self, rhs: Variable) -> Variable {
                std::ops::$trait::$fn(&self, &rhs)
            }
        }
        impl std::ops::$trait<&Variable> for Variable {
            type Output = Variable;
            /// Panics with the op's error message when shapes don't broadcast.
            fn $fn(self, rhs: &Variable) -> Variable {
                std::ops::$trait::$fn(&self, rhs)
            }
        }
        impl std::ops::$trait<Variable> for &Variable {
            type Output = Variable;
            /// Panics with the op's error message when shapes don't broadcast.
            fn $fn(self, rhs: Variable) -> Variable {
                std::ops::$trait::$fn(self, &rhs)
            }
        }
    };
}

operator!(Add, add, add);
operator!(Sub, sub, sub);
operator!(Mul, mul, mul);
operator!(Div, div, div);

/// `variable op tensor` and `tensor op variable` for every owned/borrowed
/// pair: the tensor joins the graph as a constant (a batch from a
/// `DataLoader` mixes with parameters without wrapping: `&w * &x`).
macro_rules! tensor_operator {
    ($trait:ident, $fn:ident) => {
        tensor_operator!(@one $trait, $fn, &Variable, &Tensor, |v, t| (v, t));
        tensor_operator!(@one $trait, $fn, Variable, &Tensor, |v, t| (&v, t));
        tensor_operator!(@one $trait, $fn, &Variable, Tensor, |v, t| (v, &t));
        tensor_operator!(@one $trait, $fn, Variable, Tensor, |v, t| (&v, &t));
        tensor_operator!(@rev $trait, $fn, &Tensor, &Variable, |t, v| (t, v));
        tensor_operator!(@rev $trait, $fn, Tensor, &Variable, |t, v| (&t, v));
        tensor_operator!(@rev $trait, $fn, &Tensor, Variable, |t, v| (t, &v));
        tensor_operator!(@rev $trait, $fn, Tensor, Variable, |t, v| (&t, &v));
    };
    (@one $trait:ident, $fn:ident, $lhs:ty, $rhs:ty, |$v:ident, $t:ident| $refs:expr) => {
        impl std::ops::$trait<$rhs> for $lhs {
            type Output = Variable;
            /// Panics with the op's error message when shapes don't broadcast.
            fn $fn(self, rhs: $rhs) -> Variable {
                let ($v, $t) = (self, rhs);
                let (v, t): (&Variable, &Tensor) = $refs;
                std::ops::$trait::$fn(v, &Variable::constant(t.clone()))
            }
        }
    };
    (@rev $trait:ident, $fn:ident, $lhs:ty, $rhs:ty, |$t:ident, $v:ident| $refs:expr) => {
        impl std::ops::$trait<$rhs> for $lhs {
            type Output = Variable;
            /// Panics with the op's error message when shapes don't broadcast.
            fn $fn(self, rhs: $rhs) -> Variable {
                let ($t, $v) = (self, rhs);
                let (t, v): (&Tensor, &Variable) = $refs;
                std::ops::$trait::$fn(&Variable::constant(t.clone()), v)
            }
        }
    };
}

tensor_operator!(Add, add);
tensor_operator!(Sub, sub);
tensor_operator!(Mul, mul);
tensor_operator!(Div, div);

/// `variable op scalar` and `scalar op variable` with `f32` and `f64`
/// scalars, owned or borrowed variables, as PyTorch's `x * 2.0`,
/// `1.0 - x` and `2.0 / x` (which is `x.reciprocal() * 2.0`, as PyTorch
/// computes it). The scalar keeps the variable's dtype.
macro_rules! scalar_operator {
    ($scalar:ty, $trait:ident, $fn:ident, |$v:ident, $s:ident| $var_op:expr, $scalar_op:expr) => {
        impl std::ops::$trait<$scalar> for &Variable {
            type Output = Variable;
            fn $fn(self, rhs: $scalar) -> Variable {
                let ($v, $s) = (self, f64::from(rhs));
                $var_op
            }
        }
        impl std::ops::$trait<$scalar> for Variable {
            type Output = Variable;
            fn $fn(self, rhs: $scalar) -> Variable {
                std::ops::$trait::$fn(&self, rhs)
            }
        }
        impl std::ops::$trait<&Variable> for $scalar {
            type Output = Variable;
            fn $fn(self, rhs: &Variable) -> Variable {
                let ($v, $s) = (rhs, f64::from(self));
                $scalar_op
            }
        }
        impl std::ops::$trait<Variable> for $scalar {
            type Output = Variable;
            fn $fn(self, rhs: Variable) -> Variable {
                std::ops::$trait::$fn(self, &rhs)
            }
        }
    };
}

macro_rules! scalar_operators {
    ($($scalar:ty),*) => {$(
        scalar_operator!($scalar, Add, add, |v, s| v.add_scalar(s), v.add_scalar(s));
        scalar_operator!($scalar, Sub, sub, |v, s| v.sub_scalar(s), v.rsub_scalar(s));
        scalar_operator!($scalar, Mul, mul, |v, s| v.mul_scalar(s), v.mul_scalar(s));
        scalar_operator!($scalar, Div, div, |v, s| v.div_scalar(s), v.reciprocal().mul_scalar(s));
    )*};
}

scalar_operators!(f32, f64);

impl std::ops::Neg for Variable {
    type Output = Variable;
    fn neg(self) -> Variable {
        Variable::neg(&self)
    }
}

impl std::ops::Neg for &Variable {
    type Output = Variable;
    fn neg(self) -> Variable {
        Variable::neg(self)
    }
}
