//! Broadcasting binary ops: arithmetic, `pow`, `maximum`/`minimum` and
//! comparisons, with PyTorch's type promotion. Operator sugar (`&a + &b`)
//! lives at the bottom and panics with the same message the method returns.

use std::borrow::Cow;

use crate::dtype::{is_nan, DType, Element};
use crate::error::{Result, TensorError};
use crate::layout::{broadcast_shapes, for_each_run};
use crate::simd;
use crate::tensor::{with_dtype, with_float, with_numeric, Tensor};

/// `f` over the broadcast of `a` and `b` (both already of element type
/// `T`), producing elements of type `U`. Fast paths: equal contiguous
/// shapes, and one side a single element; otherwise one strided walk.
pub(crate) fn broadcast_zip<T: Element, U: Element>(
    op: &'static str,
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(T, T) -> U + Sync,
) -> Result<Tensor> {
    if let (Some(x), Some(y)) = (a.contiguous_slice::<T>(), b.contiguous_slice::<T>()) {
        if a.shape() == b.shape() {
            return Ok(Tensor::from_data(simd::zip_map(x, y, f), a.shape()));
        }
    }
    let shape = broadcast_shapes(op, a.shape(), b.shape())?;
    if let (Some(x), Some(y)) = (a.contiguous_slice::<T>(), b.contiguous_slice::<T>()) {
        if y.len() == 1 && x.len() == shape.iter().product::<usize>() {
            let s = y[0];
            return Ok(Tensor::from_data(simd::map(x, |v| f(v, s)), &shape));
        }
        if x.len() == 1 && y.len() == shape.iter().product::<usize>() {
            let s = x[0];
            return Ok(Tensor::from_data(simd::map(y, |v| f(s, v)), &shape));
        }
    }
    let la = a.layout.broadcast_to(op, &shape)?;
    let lb = b.layout.broadcast_to(op, &shape)?;
    let (da, db) = (a.raw::<T>(), b.raw::<T>());
    let mut out: Vec<U> = Vec::with_capacity(shape.iter().product());
    for_each_run(
        &shape,
        [&la.strides, &lb.strides],
        [la.offset, lb.offset],
        |o, n, s| match (s[0], s[1]) {
            (1, 1) => out.extend(
                da[o[0]..o[0] + n]
                    .iter()
                    .zip(&db[o[1]..o[1] + n])
                    .map(|(&x, &y)| f(x, y)),
            ),
            (1, 0) => {
                let y = db[o[1]];
                out.extend(da[o[0]..o[0] + n].iter().map(|&x| f(x, y)))
            }
            (0, 1) => {
                let x = da[o[0]];
                out.extend(db[o[1]..o[1] + n].iter().map(|&y| f(x, y)))
            }
            (sa, sb) => out.extend((0..n).map(|i| f(da[o[0] + i * sa], db[o[1] + i * sb]))),
        },
    );
    Ok(Tensor::from_data(out, &shape))
}

/// Both operands converted to `dtype`, borrowed when already there.
fn both_as<'a>(a: &'a Tensor, b: &'a Tensor, dtype: DType) -> (Cow<'a, Tensor>, Cow<'a, Tensor>) {
    let conv = |t: &'a Tensor| {
        if t.dtype() == dtype {
            Cow::Borrowed(t)
        } else {
            Cow::Owned(t.to_dtype(dtype))
        }
    };
    (conv(a), conv(b))
}

/// The dtype arithmetic runs in: the promoted type, with bool lifted to
/// int64 (PyTorch rejects `-` on bools; adding them as integers is the
/// unsurprising choice).
fn arith_dtype(a: &Tensor, b: &Tensor) -> DType {
    match DType::promote(a.dtype(), b.dtype()) {
        DType::Bool => DType::I64,
        d => d,
    }
}

macro_rules! arith_op {
    ($(#[$doc:meta])* $name:ident, $op:literal, |$x:ident, $y:ident| $e:expr) => {
        $(#[$doc])*
        pub fn $name(&self, other: &Tensor) -> Result<Tensor> {
            let (a, b) = both_as(self, other, arith_dtype(self, other));
            with_numeric!(a.dtype(), T => broadcast_zip::<T, T>($op, &a, &b, |$x, $y| $e))
        }
    };
}

/// The right-hand side of a comparison or of `pow`: a tensor or a number,
/// as PyTorch's `Tensor | Number` (`x.gt(0.0)`, `x.pow(2)`, `x.eq(&y)`).
///
/// A number beside a float tensor takes the tensor's dtype, as PyTorch's
/// wrapped scalars do: `x_f32.gt(0.1)` compares with `0.1f32`, not
/// `0.1f64`. Beside an integer or bool tensor, an integer (`2`) stays
/// int64 and a float (`2.0`) is float32, so `int_tensor.pow(2)` is int64
/// and `int_tensor.pow(2.0)` float32, as in PyTorch.
///
/// ```
/// use torchlet_tensor::Tensor;
/// let x = Tensor::from_vec(vec![-1.0f32, 0.5, 2.0], &[3]).unwrap();
/// assert_eq!(x.gt(0.0).unwrap().to_vec::<bool>().unwrap(), [false, true, true]);
/// assert_eq!(x.pow(2).unwrap().to_vec::<f32>().unwrap(), [1.0, 0.25, 4.0]);
/// assert_eq!(x.eq(&x).unwrap().to_vec::<bool>().unwrap(), [true; 3]);
/// ```
#[derive(Clone, Copy, Debug)]
pub enum Operand<'a> {
    /// A tensor, broadcast against the other side.
    Tensor(&'a Tensor),
    /// An integer (`2`, `-1`).
    Int(i64),
    /// A floating-point number (`2.0`, `0.5`).
    Float(f64),
}

impl<'a> From<&'a Tensor> for Operand<'a> {
    fn from(t: &'a Tensor) -> Operand<'a> {
        Operand::Tensor(t)
    }
}

impl<'a> From<&&'a Tensor> for Operand<'a> {
    fn from(t: &&'a Tensor) -> Operand<'a> {
        Operand::Tensor(t)
    }
}

macro_rules! number_operand {
    ($variant:ident as $as:ty: $($t:ty),*) => {$(
        impl From<$t> for Operand<'_> {
            fn from(v: $t) -> Self {
                Operand::$variant(v as $as)
            }
        }
    )*};
}
number_operand!(Float as f64: f64, f32);
number_operand!(Int as i64: i64, i32, u8);

impl<'a> Operand<'a> {
    /// The right-hand side as a tensor: a number becomes a 0-d tensor of
    /// `lhs`'s dtype when that is a float type, else int64 (an integer) or
    /// float32 (a float).
    pub fn to_tensor(self, lhs: &Tensor) -> Cow<'a, Tensor> {
        let float_lhs = lhs.dtype().is_float();
        match self {
            Operand::Tensor(t) => Cow::Borrowed(t),
            Operand::Int(v) if float_lhs => {
                Cow::Owned(Tensor::full_dtype(&[], v as f64, lhs.dtype()))
            }
            Operand::Int(v) => Cow::Owned(Tensor::scalar(v)),
            Operand::Float(v) if float_lhs => Cow::Owned(Tensor::full_dtype(&[], v, lhs.dtype())),
            Operand::Float(v) => Cow::Owned(Tensor::full_dtype(&[], v, DType::F32)),
        }
    }

    /// A number held as `f64` (a traced scalar, an old `*_scalar`
    /// argument) as an operand: an integral value within `i64` is an
    /// integer, anything else a float.
    pub fn number(v: f64) -> Operand<'static> {
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            Operand::Int(v as i64)
        } else {
            Operand::Float(v)
        }
    }
}

macro_rules! compare_op {
    ($(#[$doc:meta])* $name:ident, $op:literal, |$x:ident, $y:ident| $e:expr) => {
        $(#[$doc])*
        ///
        /// `other` is a tensor or a number ([`Operand`]).
        #[allow(clippy::bool_comparison)] // the bool instance compares bools
        pub fn $name<'a>(&self, other: impl Into<Operand<'a>>) -> Result<Tensor> {
            let other = other.into().to_tensor(self);
            let other = other.as_ref();
            let (a, b) = both_as(self, other, DType::promote(self.dtype(), other.dtype()));
            with_dtype!(a.dtype(), T => broadcast_zip::<T, bool>($op, &a, &b, |$x, $y| $e))
        }
    };
}

impl Tensor {
    arith_op!(
        /// `self + other` with broadcasting and type promotion (`torch.add`).
        ///
        /// ```
        /// use torchlet_tensor::Tensor;
        /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]).unwrap();
        /// let b = Tensor::from_vec(vec![10.0f32, 20.0, 30.0], &[3]).unwrap();
        /// let c = a.add(&b).unwrap();
        /// assert_eq!(c.shape(), &[2, 3]);
        /// assert_eq!(c.to_vec::<f32>().unwrap(), vec![11., 21., 31., 12., 22., 32.]);
        /// assert!(a.add(&Tensor::zeros(&[3, 3])).is_err()); // 2 and 3 don't broadcast
        /// ```
        add, "add", |x, y| x + y);
    arith_op!(
        /// `self - other` with broadcasting (`torch.sub`).
        sub, "sub", |x, y| x - y);
    arith_op!(
        /// `self * other` with broadcasting (`torch.mul`).
        mul, "mul", |x, y| x * y);
    arith_op!(
        /// The larger of each pair of elements; NaN if either is NaN (`torch.maximum`).
        maximum, "maximum", |x, y| if is_nan(x) || x > y { x } else { y });
    arith_op!(
        /// The smaller of each pair of elements; NaN if either is NaN (`torch.minimum`).
        minimum, "minimum", |x, y| if is_nan(x) || x < y { x } else { y });

    /// True division `self / other` (`torch.div`): integer inputs give a
    /// float32 result, as in PyTorch.
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = both_as(
            self,
            other,
            DType::promote(self.dtype(), other.dtype()).to_float(),
        );
        with_float!(a.dtype(), T => broadcast_zip::<T, T>("div", &a, &b, |x, y| x / y))
    }

    /// `self ** exponent` elementwise (`torch.pow`): the exponent is a
    /// tensor (broadcast) or a number (`x.pow(2)`, `x.pow(0.5)`). On an
    /// integer tensor an integer exponent keeps int64 (a negative one is
    /// an error, as in PyTorch) and a float exponent gives float32.
    pub fn pow<'a>(&self, exponent: impl Into<Operand<'a>>) -> Result<Tensor> {
        match exponent.into() {
            Operand::Float(v) if !self.dtype().is_float() => {
                let base = self.to_dtype(DType::F32);
                base.pow_tensor(&Operand::Float(v).to_tensor(&base))
            }
            other => self.pow_tensor(&other.to_tensor(self)),
        }
    }

    fn pow_tensor(&self, other: &Tensor) -> Result<Tensor> {
        let dtype = arith_dtype(self, other);
        let (a, b) = both_as(self, other, dtype);
        match dtype {
            DType::I64 => {
                if b.values::<i64>().iter().any(|&e| e < 0) {
                    return Err(TensorError::invalid(
                        "pow",
                        "integers to negative integer powers are not allowed",
                    ));
                }
                broadcast_zip::<i64, i64>("pow", &a, &b, |x, y| {
                    x.wrapping_pow(y.min(u32::MAX as i64) as u32)
                })
            }
            _ => {
                with_float!(dtype, T => broadcast_zip::<T, T>("pow", &a, &b, num_traits::Float::powf))
            }
        }
    }

    compare_op!(
        /// `self == other` elementwise, as a bool tensor (`torch.eq`).
        eq, "eq", |x, y| x == y);
    compare_op!(
        /// `self != other` elementwise (`torch.ne`).
        ne, "ne", |x, y| x != y);
    compare_op!(
        /// `self < other` elementwise (`torch.lt`).
        lt, "lt", |x, y| x < y);
    compare_op!(
        /// `self <= other` elementwise (`torch.le`).
        le, "le", |x, y| x <= y);
    compare_op!(
        /// `self > other` elementwise (`torch.gt`).
        gt, "gt", |x, y| x > y);
    compare_op!(
        /// `self >= other` elementwise (`torch.ge`).
        ge, "ge", |x, y| x >= y);

    /// Whether both tensors have the same shape and equal elements
    /// (`torch.equal`; NaN equals nothing, dtypes are promoted).
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
    /// assert!(a.equal(&a.clone()));
    /// assert!(!a.equal(&a.reshape(&[2, 1]).unwrap()));
    /// assert!(!a.equal(&Tensor::from_vec(vec![1.0f32, 2.5], &[2]).unwrap()));
    /// ```
    pub fn equal(&self, other: &Tensor) -> bool {
        self.shape() == other.shape()
            && self
                .eq(other)
                .and_then(|same| same.to_vec::<bool>())
                .is_ok_and(|same| same.iter().all(|&b| b))
    }

    /// Logical and of two tensors read as booleans (`torch.logical_and`).
    pub fn logical_and(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = both_as(self, other, DType::Bool);
        broadcast_zip::<bool, bool>("logical_and", &a, &b, |x, y| x & y)
    }

    /// Logical or of two tensors read as booleans (`torch.logical_or`).
    pub fn logical_or(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = both_as(self, other, DType::Bool);
        broadcast_zip::<bool, bool>("logical_or", &a, &b, |x, y| x | y)
    }

    /// A 0-d tensor holding `value` in this tensor's dtype (float32 for
    /// int/bool tensors when `value` is not integral; int64 otherwise), as
    /// PyTorch converts a number beside a tensor.
    pub fn scalar_like(&self, value: f64) -> Tensor {
        let dtype = match self.dtype() {
            DType::F32 | DType::F64 => self.dtype(),
            _ if value.fract() != 0.0 || !value.is_finite() => DType::F32,
            _ => DType::I64,
        };
        Tensor::full_dtype(&[], value, dtype)
    }

    /// `self + value` (`tensor + 2.5`).
    pub fn add_scalar(&self, value: f64) -> Tensor {
        self.add(&self.scalar_like(value))
            .expect("a scalar broadcasts to any shape")
    }

    /// `self - value`.
    pub fn sub_scalar(&self, value: f64) -> Tensor {
        self.sub(&self.scalar_like(value))
            .expect("a scalar broadcasts to any shape")
    }

    /// `value - self` (`2.5 - tensor`).
    pub fn rsub_scalar(&self, value: f64) -> Tensor {
        self.scalar_like(value)
            .sub(self)
            .expect("a scalar broadcasts to any shape")
    }

    /// `self * value`.
    pub fn mul_scalar(&self, value: f64) -> Tensor {
        self.mul(&self.scalar_like(value))
            .expect("a scalar broadcasts to any shape")
    }

    /// `self / value` (true division).
    pub fn div_scalar(&self, value: f64) -> Tensor {
        self.div(&self.scalar_like(value))
            .expect("a scalar broadcasts to any shape")
    }

    /// `self ** value`. Float exponents on integer tensors give float32.
    #[deprecated(
        since = "0.1.0",
        note = "use `pow(value)`, which takes a number or a tensor"
    )]
    pub fn pow_scalar(&self, value: f64) -> Tensor {
        // The old rule: int tensors stay int for non-negative integral values.
        let exponent = match Operand::number(value) {
            Operand::Int(v) if v < 0 => Operand::Float(value),
            e => e,
        };
        self.pow(exponent)
            .expect("a scalar broadcasts and is a valid exponent")
    }
}

macro_rules! operator {
    ($trait:ident, $fn:ident, $method:ident, $scalar:ident) => {
        impl std::ops::$trait<&Tensor> for &Tensor {
            type Output = Tensor;
            /// Panics with the op's error message when shapes don't broadcast.
            fn $fn(self, rhs: &Tensor) -> Tensor {
                self.$method(rhs).unwrap_or_else(|e| panic!("{e}"))
            }
        }
        impl std::ops::$trait<Tensor> for Tensor {
            type Output = Tensor;
            fn $fn(self, rhs: Tensor) -> Tensor {
                std::ops::$trait::$fn(&self, &rhs)
            }
        }
        impl std::ops::$trait<&Tensor> for Tensor {
            type Output = Tensor;
            fn $fn(self, rhs: &Tensor) -> Tensor {
                std::ops::$trait::$fn(&self, rhs)
            }
        }
        impl std::ops::$trait<Tensor> for &Tensor {
            type Output = Tensor;
            fn $fn(self, rhs: Tensor) -> Tensor {
                std::ops::$trait::$fn(self, &rhs)
            }
        }
        impl std::ops::$trait<f64> for &Tensor {
            type Output = Tensor;
            fn $fn(self, rhs: f64) -> Tensor {
                self.$scalar(rhs)
            }
        }
        impl std::ops::$trait<f64> for Tensor {
            type Output = Tensor;
            fn $fn(self, rhs: f64) -> Tensor {
                self.$scalar(rhs)
            }
        }
    };
}

operator!(Add, add, add, add_scalar);
operator!(Sub, sub, sub, sub_scalar);
operator!(Mul, mul, mul, mul_scalar);
operator!(Div, div, div, div_scalar);

impl std::ops::Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}

impl std::ops::Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(data: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_slice(data, shape).unwrap()
    }

    #[test]
    fn broadcasting_shapes_and_values() {
        let a = f(&[1., 2., 3., 4.], &[4, 1]);
        let b = f(&[10., 20., 30., 40., 50.], &[1, 5]);
        let c = a.mul(&b).unwrap();
        assert_eq!(c.shape(), &[4, 5]);
        assert_eq!(c.get::<f32>(&[3, 4]).unwrap(), 200.0);
        // strided operand: transposed view
        let m = f(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        let t = m.transpose(0, 1).unwrap();
        let s = t.sub(&f(&[1., 1.], &[2])).unwrap();
        assert_eq!(s.to_vec::<f32>().unwrap(), vec![0., 3., 1., 4., 2., 5.]);
    }

    #[test]
    fn promotion() {
        let i = Tensor::from_vec(vec![1i64, 2, 3], &[3]).unwrap();
        let x = f(&[0.5, 0.5, 0.5], &[3]);
        assert_eq!(i.add(&x).unwrap().dtype(), DType::F32);
        assert_eq!(i.div(&i).unwrap().dtype(), DType::F32);
        assert_eq!(
            i.div_scalar(2.0).to_vec::<f32>().unwrap(),
            vec![0.5, 1.0, 1.5]
        );
        assert_eq!(i.mul_scalar(2.0).dtype(), DType::I64);
        assert_eq!(i.mul_scalar(0.5).dtype(), DType::F32);
        // PyTorch: int ** 2 stays int64, int ** 2.0 is float32, int ** -1 fails.
        assert_eq!(i.pow(2).unwrap().to_vec::<i64>().unwrap(), vec![1, 4, 9]);
        assert_eq!(
            i.pow(2.0).unwrap().to_vec::<f32>().unwrap(),
            vec![1.0, 4.0, 9.0]
        );
        assert!(i.pow(-1).is_err());
        assert_eq!(
            i.pow(-1.0).unwrap().to_vec::<f32>().unwrap(),
            vec![1.0, 0.5, 1.0 / 3.0]
        );
        assert!(i
            .pow(&Tensor::from_vec(vec![-1i64], &[1]).unwrap())
            .is_err());
        // Comparisons: an int against a float number compares as float.
        assert_eq!(
            i.gt(1.5).unwrap().to_vec::<bool>().unwrap(),
            [false, true, true]
        );
        assert_eq!(
            i.eq(2).unwrap().to_vec::<bool>().unwrap(),
            [false, true, false]
        );
        // The deprecated pow_scalar keeps its old rule.
        #[allow(deprecated)]
        let old = i.pow_scalar(2.0);
        assert_eq!(old.dtype(), DType::I64);
        let d = Tensor::from_vec(vec![1.0f64], &[1]).unwrap();
        assert_eq!(x.add(&d).unwrap().dtype(), DType::F64);
        assert_eq!(i.lt(&x).unwrap().dtype(), DType::Bool);
    }

    #[test]
    fn nan_propagation_and_operators() {
        let a = f(&[f32::NAN, 1.0, 2.0], &[3]);
        let b = f(&[0.0, f32::NAN, 1.0], &[3]);
        let mx = a.maximum(&b).unwrap().to_vec::<f32>().unwrap();
        assert!(mx[0].is_nan() && mx[1].is_nan() && mx[2] == 2.0);
        let mn = a.minimum(&b).unwrap().to_vec::<f32>().unwrap();
        assert!(mn[0].is_nan() && mn[1].is_nan() && mn[2] == 1.0);
        let s = &(&a + &b) * 2.0;
        assert_eq!(s.get::<f32>(&[2]).unwrap(), 6.0);
        assert_eq!((-&b).get::<f32>(&[2]).unwrap(), -1.0);
    }

    #[test]
    #[should_panic(expected = "add")]
    fn operator_panics_with_message() {
        let _ = &Tensor::zeros(&[2]) + &Tensor::zeros(&[3]);
    }

    #[test]
    fn mismatch_error_names_op_and_shapes() {
        let e = Tensor::zeros(&[2, 3])
            .mul(&Tensor::zeros(&[4]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("mul") && e.contains("[2, 3]") && e.contains("[4]"),
            "{e}"
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn broadcasting_equals_explicit_expand(
                a_shape in proptest::collection::vec(1usize..4, 0..4),
                mask in proptest::collection::vec(any::<bool>(), 4),
                seed in 0u64..1000,
            ) {
                // b: a's shape with some dims set to 1, and maybe fewer dims
                let mut b_shape: Vec<usize> = a_shape.iter().zip(&mask).map(|(&n, &m)| if m { 1 } else { n }).collect();
                if seed % 3 == 0 && !b_shape.is_empty() { b_shape.remove(0); }
                let mut g = crate::Generator::new(seed);
                let a = Tensor::randn_with(&a_shape, &mut g);
                let b = Tensor::randn_with(&b_shape, &mut g);
                let dims: Vec<i64> = a_shape.iter().map(|&n| n as i64).collect();
                let be = b.expand(&dims).unwrap().contiguous();
                for (x, y) in [(a.add(&b), a.add(&be)), (a.mul(&b), a.mul(&be)), (b.sub(&a), be.sub(&a)), (b.div(&a), be.div(&a))] {
                    let (x, y) = (x.unwrap(), y.unwrap());
                    prop_assert_eq!(x.shape(), y.shape());
                    prop_assert_eq!(x.to_vec::<f32>().unwrap(), y.to_vec::<f32>().unwrap());
                }
            }
        }
    }
}
