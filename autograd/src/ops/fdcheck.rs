//! Test helpers: gradients and Hessian-vector products of ops on
//! variables checked against central finite differences in f64.

use torchlet_tensor::{DType, Tensor};

use crate::error::Result;
use crate::variable::Variable;

pub(crate) use torchlet_tensor::Generator as Rng;

/// Standard normal f64 samples.
pub(crate) fn randn(rng: &mut Rng, shape: &[usize]) -> Tensor {
    Tensor::normal_with(shape, 0.0, 1.0, DType::F64, rng)
}

/// A function of some variables, the thing under test.
pub(crate) type Op<'a> = dyn Fn(&[Variable]) -> Result<Variable> + 'a;

/// `sum(f(inputs) * r)` for a fixed random `r` (so every output element
/// weighs differently), as a scalar variable.
fn weighted_sum(f: &Op<'_>, vars: &[Variable], seed: u64) -> Variable {
    let out = f(vars).expect("the op runs");
    let r = randn(&mut Rng::new(seed ^ 0x5eed), &out.shape()).to_dtype(out.dtype());
    out.mul(&Variable::constant(r)).unwrap().sum()
}

fn float_vars(inputs: &[Tensor]) -> Vec<Variable> {
    inputs
        .iter()
        .map(|t| {
            if t.dtype().is_float() {
                Variable::parameter(t.clone())
            } else {
                Variable::constant(t.clone())
            }
        })
        .collect()
}

/// The value of `sum(f(inputs) * r)` with no graph.
fn value(f: &Op<'_>, inputs: &[Tensor], seed: u64) -> f64 {
    let vars: Vec<Variable> = inputs.iter().cloned().map(Variable::constant).collect();
    weighted_sum(f, &vars, seed)
        .data()
        .to_dtype(DType::F64)
        .item::<f64>()
        .unwrap()
}

/// First-order gradients of `sum(f(inputs) * r)` for every float input
/// (zeros where none reaches it).
fn first_order(f: &Op<'_>, inputs: &[Tensor], seed: u64) -> Vec<Tensor> {
    let vars = float_vars(inputs);
    weighted_sum(f, &vars, seed).backward().unwrap();
    vars.iter()
        .map(|v| v.grad().unwrap_or_else(|| v.data().zeros_like()))
        .collect()
}

fn with_element(t: &Tensor, i: usize, delta: f64) -> Tensor {
    let mut v = t.to_dtype(DType::F64).to_vec::<f64>().unwrap();
    v[i] += delta;
    Tensor::from_vec(v, t.shape()).unwrap().to_dtype(t.dtype())
}

/// Panics unless `got` and `want` agree within `atol + rtol * |want|`.
pub(crate) fn assert_close(what: &str, got: &Tensor, want: &Tensor, rtol: f64, atol: f64) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes differ");
    let g = got.to_dtype(DType::F64).to_vec::<f64>().unwrap();
    let w = want.to_dtype(DType::F64).to_vec::<f64>().unwrap();
    for (k, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!(
            (a - b).abs() <= atol + rtol * b.abs(),
            "{what}: element {k}: got {a}, want {b}\n got: {g:?}\nwant: {w:?}"
        );
    }
}

/// Checks the backward pass of `f` (gradients of `sum(f(x) * r)`) against
/// central differences, element by element, for every float input.
pub(crate) fn check_gradients(f: &Op<'_>, inputs: &[Tensor], seed: u64) {
    let analytic = first_order(f, inputs, seed);
    let h = 1e-5;
    for (i, x) in inputs
        .iter()
        .enumerate()
        .filter(|(_, x)| x.dtype().is_float())
    {
        let numeric: Vec<f64> = (0..x.numel())
            .map(|k| {
                let mut plus = inputs.to_vec();
                plus[i] = with_element(x, k, h);
                let mut minus = inputs.to_vec();
                minus[i] = with_element(x, k, -h);
                (value(f, &plus, seed) - value(f, &minus, seed)) / (2.0 * h)
            })
            .collect();
        let numeric = Tensor::from_vec(numeric, x.shape()).unwrap();
        assert_close(
            &format!("gradient of input {i}"),
            &analytic[i],
            &numeric,
            1e-5,
            1e-6,
        );
    }
}

/// Checks second derivatives: the Hessian of `sum(f(x) * r)` (over all
/// float inputs together) times a random direction `v`, from a backward
/// pass through the `create_graph` gradients, against central differences
/// of the first-order gradients along `v`.
pub(crate) fn check_hessian_vector(f: &Op<'_>, inputs: &[Tensor], seed: u64) {
    let mut rng = Rng::new(seed ^ 0xd1ec);
    let dirs: Vec<Tensor> = inputs
        .iter()
        .map(|x| randn(&mut rng, x.shape()).to_dtype(x.dtype()))
        .collect();
    let float: Vec<usize> = (0..inputs.len())
        .filter(|&i| inputs[i].dtype().is_float())
        .collect();

    // Analytic: d/dx <grad(x), v>.
    let vars = float_vars(inputs);
    let wrt: Vec<&Variable> = float.iter().map(|&i| &vars[i]).collect();
    let loss = weighted_sum(f, &vars, seed);
    let grads = crate::grad(&[&loss], &wrt, None, true, true).unwrap();
    let mut dot: Option<Variable> = None;
    for (g, &i) in grads.iter().zip(&float) {
        if let Some(g) = g {
            let term = g.mul(&Variable::constant(dirs[i].clone())).unwrap().sum();
            dot = Some(match dot {
                None => term,
                Some(d) => d.add(&term).unwrap(),
            });
        }
    }
    let hv: Vec<Option<Variable>> = match dot {
        Some(d) if d.requires_grad() => crate::grad(&[&d], &wrt, None, false, false).unwrap(),
        _ => vec![None; float.len()],
    };

    // Numeric: (grad(x + h v) - grad(x - h v)) / 2h.
    let h = 1e-5;
    let shifted = |sign: f64| -> Vec<Tensor> {
        let xs: Vec<Tensor> = inputs
            .iter()
            .zip(&dirs)
            .map(|(x, d)| {
                if x.dtype().is_float() {
                    x.add(&d.mul_scalar(sign * h)).unwrap()
                } else {
                    x.clone()
                }
            })
            .collect();
        first_order(f, &xs, seed)
    };
    let (plus, minus) = (shifted(1.0), shifted(-1.0));
    for (k, &i) in float.iter().enumerate() {
        let numeric = plus[i].sub(&minus[i]).unwrap().div_scalar(2.0 * h);
        let got = hv[k]
            .as_ref()
            .map_or_else(|| inputs[i].zeros_like(), |v| v.data());
        assert_close(
            &format!("Hessian-vector product, input {i}"),
            &got,
            &numeric,
            1e-4,
            1e-5,
        );
    }
}
