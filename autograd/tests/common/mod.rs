//! What the gradcheck test files share: cases checked to first and
//! second order against finite differences, and seeded input makers.

#![allow(dead_code)] // each test file uses a different part

use torchlet_autograd::{gradcheck, gradgradcheck, Result, Variable};
use torchlet_tensor::{DType, Generator, Tensor};

pub type Func = Box<dyn Fn(&[Variable]) -> Result<Variable>>;

/// One function to check at one point.
pub struct Case {
    pub name: String,
    pub inputs: Vec<Tensor>,
    pub f: Func,
    pub second_order: bool,
}

/// A case checked to first and second order.
pub fn case(
    name: impl Into<String>,
    inputs: Vec<Tensor>,
    f: impl Fn(&[Variable]) -> Result<Variable> + 'static,
) -> Case {
    Case {
        name: name.into(),
        inputs,
        f: Box::new(f),
        second_order: true,
    }
}

/// A case checked to first order only.
pub fn first_order(
    name: impl Into<String>,
    inputs: Vec<Tensor>,
    f: impl Fn(&[Variable]) -> Result<Variable> + 'static,
) -> Case {
    Case {
        second_order: false,
        ..case(name, inputs, f)
    }
}

/// Runs every case, then fails listing all that failed.
pub fn run(cases: Vec<Case>) {
    let total = cases.len();
    let mut failures = Vec::new();
    for c in &cases {
        if let Err(e) = gradcheck(&c.f, &c.inputs) {
            failures.push(format!("{}: {e}", c.name));
        } else if c.second_order {
            if let Err(e) = gradgradcheck(&c.f, &c.inputs) {
                failures.push(format!("{} (second order): {e}", c.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------- data

pub fn normal(g: &mut Generator, shape: &[usize]) -> Tensor {
    Tensor::normal_with(shape, 0.0, 1.0, DType::F64, g)
}

pub fn uniform(g: &mut Generator, shape: &[usize], lo: f64, hi: f64) -> Tensor {
    Tensor::uniform_with(shape, lo, hi, DType::F64, g)
}

/// Normal samples (scaled by 1.5), none within `margin` of a kink.
pub fn away(g: &mut Generator, shape: &[usize], kinks: &[f64], margin: f64) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|_| loop {
            let x = 1.5 * g.normal();
            if kinks.iter().all(|k| (x - k).abs() > margin) {
                break x;
            }
        })
        .collect();
    Tensor::from_vec(v, shape).unwrap()
}

/// Values at least 0.2 apart from one another (no ties for max/min), for
/// several tensors together.
pub fn distinct(g: &mut Generator, shapes: &[&[usize]]) -> Vec<Tensor> {
    let total: usize = shapes.iter().map(|s| s.iter().product::<usize>()).sum();
    let perm = Tensor::randperm_with(total, g).to_vec::<i64>().unwrap();
    let mut values = perm
        .iter()
        .map(|&p| (p as f64 - total as f64 / 2.0) * 0.3 + 0.1 * g.uniform());
    shapes
        .iter()
        .map(|s| Tensor::from_vec(values.by_ref().take(s.iter().product()).collect(), s).unwrap())
        .collect()
}

pub fn size(g: &mut Generator, lo: usize, hi: usize) -> usize {
    g.int_below(lo as i64, hi as i64 + 1) as usize
}

pub fn shape(g: &mut Generator, rank: usize, lo: usize, hi: usize) -> Vec<usize> {
    (0..rank).map(|_| size(g, lo, hi)).collect()
}

pub fn index(values: &[i64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape).unwrap()
}

pub fn mask(values: &[bool], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape).unwrap()
}

pub fn ok(v: Variable) -> Result<Variable> {
    Ok(v)
}
