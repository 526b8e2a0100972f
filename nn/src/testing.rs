//! Helpers the unit tests share.

use torchlet_autograd::Variable;
use torchlet_tensor::{DType, Tensor};

/// The values of `v` as f64.
pub(crate) fn vals(v: &Variable) -> Vec<f64> {
    v.data().to_dtype(DType::F64).to_vec::<f64>().unwrap()
}

/// Asserts that `a` and `b` have the same length and differ by less than
/// `tol` everywhere.
pub(crate) fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < tol, "{a:?} vs {b:?}");
    }
}

/// A constant of `U(0, 1)` values from the default generator.
pub(crate) fn rand(shape: &[usize]) -> Variable {
    Variable::constant(Tensor::rand(shape))
}
