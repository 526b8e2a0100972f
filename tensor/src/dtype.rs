//! Element types: the runtime [`DType`] tag and the compile-time [`Element`]
//! and [`Float`] traits that kernels are generic over.

use std::fmt;

use crate::storage::Storage;

/// The element type of a tensor, chosen at run time as in PyTorch.
///
/// ```
/// use torchlet_tensor::{DType, Tensor};
/// let t = Tensor::from_vec(vec![1i64, 2, 3], &[3]).unwrap();
/// assert_eq!(t.dtype(), DType::I64);
/// assert_eq!(t.to_dtype(DType::F32).dtype(), DType::F32);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float (`torch.float32`), the default floating type.
    F32,
    /// 64-bit float (`torch.float64`).
    F64,
    /// 64-bit signed integer (`torch.int64`), used for indices and labels.
    I64,
    /// Boolean (`torch.bool`), produced by comparisons.
    Bool,
}

impl DType {
    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// Size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::Bool => 1,
        }
    }

    /// PyTorch's name for the type (`"float32"`, `"int64"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::I64 => "int64",
            DType::Bool => "bool",
        }
    }

    /// The type of the result of a binary op between tensors of types `a`
    /// and `b` (PyTorch's `torch.promote_types`): bool < i64 < f32 < f64.
    pub fn promote(a: DType, b: DType) -> DType {
        fn rank(d: DType) -> u8 {
            match d {
                DType::Bool => 0,
                DType::I64 => 1,
                DType::F32 => 2,
                DType::F64 => 3,
            }
        }
        if rank(a) >= rank(b) {
            a
        } else {
            b
        }
    }

    /// The floating type an op that needs floats computes in: the type
    /// itself when it is a float, else the default `F32` (as
    /// `torch.sqrt(int_tensor)` gives float32).
    pub fn to_float(self) -> DType {
        if self.is_float() {
            self
        } else {
            DType::F32
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Keeps the element traits closed: only this crate can add an element
/// type, so a `DTYPE` tag always names exactly one Rust type (the
/// same-type casts in `tensor.rs` rely on it).
mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for i64 {}
    impl Sealed for bool {}
}

/// A Rust type that can be a tensor element: `f32`, `f64`, `i64` or `bool`.
///
/// The trait is sealed: the set of element types is fixed by this crate,
/// so code outside it cannot claim a `DTYPE` for a type of another size.
///
/// ```compile_fail
/// use torchlet_tensor::{DType, Element};
/// #[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
/// struct Wide([u64; 4]);
/// impl Element for Wide {
///     const DTYPE: DType = DType::F32;
///     fn from_f64(_: f64) -> Self { Wide([0; 4]) }
///     fn to_f64(self) -> f64 { 0.0 }
///     fn into_storage(_: Vec<Self>) -> torchlet_tensor::Storage { torchlet_tensor::Storage::F32(Vec::new()) }
///     fn slice_of(_: &torchlet_tensor::Storage) -> Option<&[Self]> { None }
///     fn vec_of_mut(_: &mut torchlet_tensor::Storage) -> Option<&mut Vec<Self>> { None }
/// }
/// ```
pub trait Element:
    sealed::Sealed + Copy + Send + Sync + PartialEq + PartialOrd + fmt::Debug + Default + 'static
{
    /// The matching runtime tag.
    const DTYPE: DType;
    /// Converts from `f64` (truncating toward zero for integers, `!= 0` for bool).
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` (bool is 0 or 1).
    fn to_f64(self) -> f64;
    /// Wraps a vector into storage.
    #[doc(hidden)]
    fn into_storage(v: Vec<Self>) -> Storage;
    /// The storage's data when it holds this type.
    #[doc(hidden)]
    fn slice_of(s: &Storage) -> Option<&[Self]>;
    /// The storage's data, mutably, when it holds this type.
    #[doc(hidden)]
    fn vec_of_mut(s: &mut Storage) -> Option<&mut Vec<Self>>;
}

macro_rules! impl_element {
    ($t:ty, $variant:ident, $from:expr, $to:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                let f: fn(f64) -> $t = $from;
                f(v)
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                let f: fn($t) -> f64 = $to;
                f(self)
            }
            fn into_storage(v: Vec<Self>) -> Storage {
                Storage::$variant(v)
            }
            fn slice_of(s: &Storage) -> Option<&[Self]> {
                match s {
                    Storage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn vec_of_mut(s: &mut Storage) -> Option<&mut Vec<Self>> {
                match s {
                    Storage::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}

impl_element!(f32, F32, |v| v as f32, |v| v as f64);
impl_element!(f64, F64, |v| v, |v| v);
impl_element!(i64, I64, |v| v as i64, |v| v as f64);
impl_element!(bool, Bool, |v| v != 0.0, |v| if v { 1.0 } else { 0.0 });

/// A numeric element (`f32`, `f64`, `i64`): supports arithmetic.
pub trait Numeric:
    Element
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
    + std::iter::Sum
{
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// Smallest value (`-inf` for floats), the identity of `max`.
    const LOWEST: Self;
    /// Largest value (`+inf` for floats), the identity of `min`.
    const HIGHEST: Self;
}

impl Numeric for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const LOWEST: Self = f32::NEG_INFINITY;
    const HIGHEST: Self = f32::INFINITY;
}
impl Numeric for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const LOWEST: Self = f64::NEG_INFINITY;
    const HIGHEST: Self = f64::INFINITY;
}
impl Numeric for i64 {
    const ZERO: Self = 0;
    const ONE: Self = 1;
    const LOWEST: Self = i64::MIN;
    const HIGHEST: Self = i64::MAX;
}

/// A floating-point element (`f32` or `f64`): everything kernels need for
/// math functions and for GEMM through faer.
pub trait Float:
    Numeric
    + num_traits::Float
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + std::ops::SubAssign
    + std::ops::MulAssign
    + std::ops::DivAssign
    + faer::traits::RealField
{
    /// Converts a `usize` count (for means and variances).
    fn from_usize(n: usize) -> Self;
    /// The error function (for exact GELU); for f32 a vectorizable
    /// polynomial within 2 ulp.
    fn erf(self) -> Self;
    /// `e^x`; for f32 a vectorizable polynomial within 2 ulp.
    fn exp_fast(self) -> Self;
    /// `e^x` for `x <= 0` (softmax after subtracting the max), vectorizable
    /// for f32.
    fn exp_nonpositive(self) -> Self;
    /// `1 / (1 + e^-x)`, vectorizable for f32.
    fn sigmoid(self) -> Self;
    /// `tanh(x)`, vectorizable for f32.
    fn tanh_fast(self) -> Self;
}

impl Float for f32 {
    #[inline(always)]
    fn from_usize(n: usize) -> Self {
        n as f32
    }
    #[inline(always)]
    fn erf(self) -> Self {
        crate::math::erf_f32(self)
    }
    #[inline(always)]
    fn exp_fast(self) -> Self {
        crate::math::exp_f32(self)
    }
    #[inline(always)]
    fn exp_nonpositive(self) -> Self {
        crate::math::exp_nonpositive_f32(self)
    }
    #[inline(always)]
    fn sigmoid(self) -> Self {
        crate::math::sigmoid_f32(self)
    }
    #[inline(always)]
    fn tanh_fast(self) -> Self {
        crate::math::tanh_f32(self)
    }
}
impl Float for f64 {
    #[inline(always)]
    fn from_usize(n: usize) -> Self {
        n as f64
    }
    #[inline(always)]
    fn erf(self) -> Self {
        crate::math::erf_f64(self)
    }
    #[inline(always)]
    fn exp_fast(self) -> Self {
        self.exp()
    }
    #[inline(always)]
    fn exp_nonpositive(self) -> Self {
        self.exp()
    }
    #[inline(always)]
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + (-self).exp())
    }
    #[inline(always)]
    fn tanh_fast(self) -> Self {
        self.tanh()
    }
}

/// Whether `x` is NaN, for any element type (always false for integers).
#[inline(always)]
#[allow(clippy::eq_op)]
pub(crate) fn is_nan<T: PartialEq>(x: T) -> bool {
    x != x
}
