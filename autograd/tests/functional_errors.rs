//! The functional API's bad input gives an `Err` whose message names the
//! op and the shapes or the offending value (on plain tensors, passed as
//! constants, as on parameters).

use torchlet_autograd::functional as F;
use torchlet_autograd::{AutogradError, Variable};
use torchlet_tensor::Tensor;

fn f(shape: &[usize]) -> Variable {
    Variable::constant(Tensor::zeros(shape))
}

fn idx(v: &[i64]) -> Tensor {
    Tensor::from_slice(v, &[v.len()]).unwrap()
}

/// Asserts `r` failed with a message containing every needle.
fn fails<T: std::fmt::Debug>(r: Result<T, AutogradError>, needles: &[&str]) {
    let e = r.expect_err("expected an error").to_string();
    for n in needles {
        assert!(e.contains(n), "error {e:?} should mention {n:?}");
    }
}

#[test]
fn shape_mismatches() {
    fails(
        F::mse_loss(&f(&[2, 3]), &f(&[3, 2]), F::Reduction::Mean),
        &["mse_loss", "[2, 3]", "[3, 2]"],
    );
    fails(
        F::linear(&f(&[2, 3]), &f(&[4, 5]), None),
        &["linear", "[2, 3]", "[4, 5]"],
    );
}

#[test]
fn indices_out_of_range() {
    fails(
        F::embedding(&idx(&[5]), &f(&[4, 2])),
        &["index_select", "5"],
    );
    fails(
        F::cross_entropy(
            &f(&[2, 3]),
            &idx(&[0, 7]),
            None,
            -100,
            F::Reduction::Mean,
            0.0,
        ),
        &["cross_entropy", "7"],
    );
}

#[test]
fn dtype_mismatches() {
    fails(
        F::nll_loss(
            &f(&[2, 3]),
            &Tensor::zeros(&[2]),
            None,
            -100,
            F::Reduction::Mean,
        ),
        &["nll_loss", "int64"],
    );
}
