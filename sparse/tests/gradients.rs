//! Every differentiable sparse op checked against finite differences
//! (gradcheck, and gradgradcheck where the backward is itself
//! differentiable), in f64, on fixed patterns with the values as inputs.

use torchlet_autograd::{
    gradcheck_with, gradgradcheck_with, AutogradError, GradcheckOptions, Variable,
};
use torchlet_sparse::{sparse_coo_tensor, SparseError, SparseTensor, ToSparse};
use torchlet_tensor::{manual_seed, DType, Tensor};

fn opts() -> GradcheckOptions {
    GradcheckOptions {
        atol: 1e-6,
        rtol: 1e-4,
        ..Default::default()
    }
}

fn ag(e: SparseError) -> AutogradError {
    e.into()
}

fn randn(shape: &[usize]) -> Tensor {
    Tensor::randn(shape).to_dtype(DType::F64)
}

/// A `rows x cols` pattern with these `(row, col)` entries (repeats allowed).
fn pattern(entries: &[(i64, i64)]) -> Tensor {
    let mut idx: Vec<i64> = entries.iter().map(|e| e.0).collect();
    idx.extend(entries.iter().map(|e| e.1));
    Tensor::from_vec(idx, &[2, entries.len()]).unwrap()
}

const ENTRIES: &[(i64, i64)] = &[(0, 1), (2, 0), (1, 3), (0, 3), (2, 2), (3, 1)];
const REPEATS: &[(i64, i64)] = &[(2, 2), (0, 1), (2, 2), (3, 0), (0, 1)];

/// The sparse `[4, 4]` matrix with `values` on `entries`, in `layout`.
fn matrix(
    entries: &[(i64, i64)],
    values: &Variable,
    layout: &str,
) -> Result<SparseTensor, AutogradError> {
    let s = sparse_coo_tensor(&pattern(entries), values.clone(), &[4, 4]).map_err(ag)?;
    match layout {
        "coo" => Ok(s),
        "csr" => s.to_sparse_csr().map_err(ag),
        "csc" => s.to_sparse_csc().map_err(ag),
        _ => unreachable!(),
    }
}

fn check(
    f: impl Fn(&[Variable]) -> Result<Variable, AutogradError>,
    inputs: &[Tensor],
    twice: bool,
) {
    gradcheck_with(&f, inputs, &opts()).unwrap();
    if twice {
        gradgradcheck_with(&f, inputs, &opts()).unwrap();
    }
}

#[test]
fn mm_sparse_dense_in_every_layout() {
    manual_seed(1);
    for layout in ["coo", "csr", "csc"] {
        for entries in [ENTRIES, REPEATS] {
            let n = entries.len();
            let f = move |x: &[Variable]| matrix(entries, &x[0], layout)?.mm(&x[1]).map_err(ag);
            check(f, &[randn(&[n]), randn(&[4, 3])], true);
        }
    }
}

#[test]
fn rmm_dense_sparse() {
    manual_seed(2);
    for layout in ["coo", "csr", "csc"] {
        let f = move |x: &[Variable]| matrix(ENTRIES, &x[0], layout)?.rmm(&x[1]).map_err(ag);
        check(f, &[randn(&[6]), randn(&[3, 4])], true);
    }
}

#[test]
fn mm_of_two_sparse_matrices() {
    manual_seed(3);
    for layout in ["coo", "csr"] {
        let f = move |x: &[Variable]| {
            let a = matrix(ENTRIES, &x[0], layout)?;
            let b = matrix(REPEATS, &x[1], layout)?;
            a.mm_sparse(&b)
                .and_then(|c| c.to_dense_variable())
                .map_err(ag)
        };
        check(f, &[randn(&[6]), randn(&[5])], true);
    }
}

#[test]
fn addmm_and_sampled_addmm() {
    manual_seed(4);
    let f = |x: &[Variable]| {
        matrix(ENTRIES, &x[1], "csr")?
            .addmm(&x[0], &x[2], 0.5, 2.0)
            .map_err(ag)
    };
    check(f, &[randn(&[4, 2]), randn(&[6]), randn(&[4, 2])], true);
    for layout in ["coo", "csr"] {
        let f = move |x: &[Variable]| {
            matrix(ENTRIES, &x[0], layout)?
                .sampled_addmm(&x[1], &x[2], 0.7, 1.5)
                .and_then(|s| s.to_dense_variable())
                .map_err(ag)
        };
        check(f, &[randn(&[6]), randn(&[4, 3]), randn(&[3, 4])], true);
    }
}

#[test]
fn sums_over_all_and_some_dims() {
    manual_seed(5);
    for dims in [vec![], vec![0], vec![1], vec![-1, 0]] {
        let f = move |x: &[Variable]| {
            let s = matrix(REPEATS, &x[0], "coo")?;
            if dims.is_empty() {
                s.sum().map_err(ag)
            } else {
                s.sum_dims(&dims).and_then(|r| r.into_dense()).map_err(ag)
            }
        };
        check(f, &[randn(&[5])], true);
    }
}

#[test]
fn softmax_and_log_softmax_over_the_specified_elements() {
    manual_seed(6);
    for dim in [0, 1, -1] {
        for log in [false, true] {
            let f = move |x: &[Variable]| {
                let s = matrix(ENTRIES, &x[0], "coo")?;
                let r = if log {
                    s.log_softmax(dim)
                } else {
                    s.softmax(dim)
                };
                r.and_then(|r| r.to_dense_variable()).map_err(ag)
            };
            check(f, &[randn(&[6])], true);
        }
    }
}

#[test]
fn softmax_of_a_hybrid_tensor_along_sparse_and_dense_dims() {
    manual_seed(7);
    let idx = Tensor::from_vec(vec![0i64, 2, 3, 2], &[1, 4]).unwrap();
    for dim in [0, 1] {
        let idx = idx.clone();
        let f = move |x: &[Variable]| {
            sparse_coo_tensor(&idx, x[0].clone(), &[5, 3])
                .and_then(|s| s.softmax(dim))
                .and_then(|s| s.to_dense_variable())
                .map_err(ag)
        };
        check(f, &[randn(&[4, 3])], true);
    }
}

#[test]
fn add_mul_and_scalar_mul() {
    manual_seed(8);
    let f = |x: &[Variable]| {
        let a = matrix(ENTRIES, &x[0], "coo")?;
        let b = matrix(REPEATS, &x[1], "coo")?;
        a.add(&b).and_then(|s| s.to_dense_variable()).map_err(ag)
    };
    check(f, &[randn(&[6]), randn(&[5])], true);
    let f = |x: &[Variable]| {
        matrix(REPEATS, &x[0], "csr")?
            .mul_dense(&x[1])
            .and_then(|s| s.mul_scalar(-1.5))
            .and_then(|s| s.to_dense_variable())
            .map_err(ag)
    };
    check(f, &[randn(&[5]), randn(&[4, 4])], true);
}

#[test]
fn conversions_selections_and_transposes_pass_gradients() {
    manual_seed(9);
    let f = |x: &[Variable]| {
        let s = matrix(REPEATS, &x[0], "coo")?;
        let moved = (|| {
            s.coalesce()?
                .to_sparse_csc()?
                .t()?
                .to_sparse_csr()?
                .to_sparse_coo()
        })()
        .map_err(ag)?;
        moved.to_dense_variable().map_err(ag)
    };
    check(f, &[randn(&[5])], true);
    let index = Tensor::from_vec(vec![3i64, 0, 3], &[3]).unwrap();
    let f = move |x: &[Variable]| {
        let s = matrix(ENTRIES, &x[0], "csr")?;
        s.index_select(0, &index)
            .and_then(|s| s.narrow(1, 1, 3))
            .and_then(|s| s.to_dense_variable())
            .map_err(ag)
    };
    check(f, &[randn(&[6])], true);
    // Dense -> sparse: the gradient reaches the dense elements kept.
    let f = |x: &[Variable]| x[0].to_sparse_csr().and_then(|s| s.mm(&x[1])).map_err(ag);
    check(f, &[randn(&[4, 4]), randn(&[4, 2])], true);
}

#[test]
fn a_dense_input_gets_no_gradient_where_it_was_zero() {
    let x = Variable::parameter(Tensor::from_vec(vec![1.0f32, 0.0, 0.0, 2.0], &[2, 2]).unwrap());
    let s = x.to_sparse().unwrap();
    let b = Variable::constant(Tensor::ones(&[2, 3]));
    s.mm(&b).unwrap().sum().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec::<f32>().unwrap(),
        [3.0, 0.0, 0.0, 3.0]
    );
}
