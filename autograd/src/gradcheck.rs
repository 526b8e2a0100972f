//! Numerical gradient checking (`torch.autograd.gradcheck` and
//! `gradgradcheck`): the gradients autograd computes for a function are
//! compared with central finite differences of the function itself, in
//! f64.
//!
//! [`gradcheck`] checks first derivatives: for every float input it
//! compares the analytic vector-Jacobian products `vᵀ J` (one backward pass
//! per probe `v`) with `vᵀ (f(x + ε eⱼ) - f(x - ε eⱼ)) / 2ε` for each input
//! element `j`. Small outputs are probed with every unit vector, so the
//! whole Jacobian is compared; larger ones with a few random `v`.
//! [`gradgradcheck`] runs the same check on the first-derivative function
//! `(x, v) ↦ ∂(vᵀ f(x))/∂x`, computed with `create_graph`, which compares
//! second derivatives (and mixed ones with respect to `v`).
//!
//! ```
//! use torchlet_autograd::{gradcheck, gradgradcheck, Variable};
//! use torchlet_tensor::Tensor;
//! # fn main() -> Result<(), torchlet_autograd::AutogradError> {
//! let x = Tensor::from_vec(vec![0.3f64, -1.2, 2.0], &[3])?;
//! let w = Tensor::from_vec(vec![0.5f64, 1.5, -0.7], &[3])?;
//! // f(x, w) = tanh(x * w) + x²
//! let f = |v: &[Variable]| v[0].mul(&v[1]).map(|p| p.tanh())?.add(&v[0].square());
//! gradcheck(f, &[x.clone(), w.clone()])?;
//! gradgradcheck(f, &[x, w])?;
//! # Ok(())
//! # }
//! ```

use torchlet_tensor::{DType, Generator, Tensor};

use crate::engine::grad;
use crate::error::{AutogradError, Result};
use crate::mode::{enable_grad, is_grad_enabled, no_grad};
use crate::variable::Variable;

/// Settings of [`gradcheck_with`] and [`gradgradcheck_with`]; the defaults
/// are PyTorch's.
///
/// ```
/// use torchlet_autograd::GradcheckOptions;
/// let loose = GradcheckOptions { atol: 1e-4, rtol: 1e-2, ..GradcheckOptions::default() };
/// assert_eq!(loose.eps, 1e-6);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckOptions {
    /// Finite-difference step (`eps`, default `1e-6`).
    pub eps: f64,
    /// Absolute tolerance (`atol`, default `1e-5`).
    pub atol: f64,
    /// Relative tolerance, relative to the numerical value (`rtol`,
    /// default `1e-3`): a value passes when
    /// `|analytical - numerical| <= atol + rtol * |numerical|`.
    pub rtol: f64,
    /// Outputs with at most this many elements are probed with every unit
    /// grad_output, comparing the full Jacobian (default 32).
    pub full_jacobian_max: usize,
    /// Larger outputs are probed with this many random grad_outputs
    /// (default 2).
    pub random_probes: usize,
    /// Seed of the random grad_outputs (default 0).
    pub seed: u64,
    /// How far two backward passes with the same grad_output may differ
    /// (`nondet_tol`, default 0: the backward must be deterministic).
    pub nondet_tol: f64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            full_jacobian_max: 32,
            random_probes: 2,
            seed: 0,
            nondet_tol: 0.0,
        }
    }
}

/// Checks the gradients of `f` at `inputs` against central finite
/// differences, with the default [`GradcheckOptions`]
/// (`torch.autograd.gradcheck`).
///
/// `f` receives one variable per input: float inputs (which must be f64)
/// require grad and are checked; int64 and bool inputs (indices, masks)
/// are passed as constants. `f` must return an f64 variable; it is also
/// evaluated under [`no_grad`] with perturbed inputs for the finite
/// differences, so it should be a pure function of its inputs.
///
/// Returns `Ok(())` when every checked derivative agrees, and otherwise an
/// [`AutogradError::Graph`] naming the input, the element, the output
/// element (or random grad_output) and both values.
///
/// ```
/// use torchlet_autograd::{gradcheck, Variable};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_autograd::AutogradError> {
/// let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
/// let b = Tensor::from_vec(vec![0.5f64, -1.0, 2.0], &[3])?;
/// gradcheck(|v: &[Variable]| v[0].matmul(&v[1]), &[a, b])?;
/// # Ok(())
/// # }
/// ```
pub fn gradcheck<F>(f: F, inputs: &[Tensor]) -> Result<()>
where
    F: Fn(&[Variable]) -> Result<Variable>,
{
    gradcheck_with(f, inputs, &GradcheckOptions::default())
}

/// [`gradcheck`] with explicit tolerances, step and probes.
///
/// ```
/// use torchlet_autograd::{gradcheck_with, GradcheckOptions, Variable};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_autograd::AutogradError> {
/// let x = Tensor::from_vec(vec![0.5f64, 1.5], &[2])?;
/// let opts = GradcheckOptions { eps: 1e-7, atol: 1e-6, ..GradcheckOptions::default() };
/// gradcheck_with(|v: &[Variable]| Ok(v[0].exp().log1p()), &[x], &opts)?;
/// # Ok(())
/// # }
/// ```
pub fn gradcheck_with<F>(f: F, inputs: &[Tensor], opts: &GradcheckOptions) -> Result<()>
where
    F: Fn(&[Variable]) -> Result<Variable>,
{
    let checked = checked_inputs("gradcheck", inputs)?;

    // The analytic side: one backward pass per probe.
    let vars: Vec<Variable> = inputs
        .iter()
        .map(|t| Variable::new(t.clone(), t.dtype().is_float()))
        .collect();
    let out = enable_grad(|| f(&vars))?;
    check_output("gradcheck", &out)?;
    let out_shape = out.shape();
    let n_out = out.numel();
    let full = n_out <= opts.full_jacobian_max;
    let probes: Vec<Vec<f64>> = if full {
        (0..n_out)
            .map(|k| (0..n_out).map(|m| if m == k { 1.0 } else { 0.0 }).collect())
            .collect()
    } else {
        let mut g = Generator::new(opts.seed);
        (0..opts.random_probes.max(1))
            .map(|_| (0..n_out).map(|_| g.normal()).collect())
            .collect()
    };
    let wrt: Vec<&Variable> = checked.iter().map(|&i| &vars[i]).collect();
    let vjp = |probe: &[f64]| -> Result<Vec<Vec<f64>>> {
        if !out.requires_grad() {
            return Ok(checked
                .iter()
                .map(|&i| vec![0.0; inputs[i].numel()])
                .collect());
        }
        let v = Tensor::from_vec(probe.to_vec(), &out_shape)?;
        let grads = grad(&[&out], &wrt, Some(&[v]), true, false)?;
        grads
            .iter()
            .zip(&checked)
            .map(|(g, &i)| match g {
                None => Ok(vec![0.0; inputs[i].numel()]),
                Some(g) => {
                    let g = g.data();
                    if g.dtype() != DType::F64 {
                        return Err(fail(format!(
                            "the gradient of input {i} has dtype {}, expected f64",
                            g.dtype()
                        )));
                    }
                    if g.shape() != inputs[i].shape() {
                        return Err(fail(format!(
                            "the gradient of input {i} has shape {:?}, expected {:?}",
                            g.shape(),
                            inputs[i].shape()
                        )));
                    }
                    Ok(g.to_vec::<f64>()?)
                }
            })
            .collect()
    };
    let analytic: Vec<Vec<Vec<f64>>> = probes.iter().map(|p| vjp(p)).collect::<Result<_>>()?;

    // The backward must give the same answer twice.
    if let Some(p) = probes.first() {
        let again = vjp(p)?;
        for (k, &i) in checked.iter().enumerate() {
            for (j, (a, b)) in analytic[0][k].iter().zip(&again[k]).enumerate() {
                if !(close(*a, *b, opts.nondet_tol, 0.0) || (a.is_nan() && b.is_nan())) {
                    return Err(fail(format!(
                        "backward is not deterministic: two passes gave {a:e} and {b:e} for input {i}, element {j} {:?} (nondet_tol {:e})",
                        unravel(j, inputs[i].shape()),
                        opts.nondet_tol
                    )));
                }
            }
        }
    }

    // The numerical side: central differences, one element at a time.
    let consts: Vec<Variable> = inputs.iter().cloned().map(Variable::constant).collect();
    let eval = |i: usize, x: Tensor| -> Result<Vec<f64>> {
        let mut args = consts.clone();
        args[i] = Variable::constant(x);
        let y = no_grad(|| f(&args))?;
        if y.shape() != out_shape || y.dtype() != DType::F64 {
            return Err(fail(format!(
                "with input {i} perturbed, the output has shape {:?} and dtype {} instead of {:?} and f64",
                y.shape(),
                y.dtype(),
                out_shape
            )));
        }
        y.to_vec::<f64>()
    };
    for (k, &i) in checked.iter().enumerate() {
        let x = &inputs[i];
        let base = x.to_vec::<f64>()?;
        let mut mismatches = 0usize;
        let mut first: Option<String> = None;
        for j in 0..base.len() {
            let mut moved = base.clone();
            moved[j] = base[j] + opts.eps;
            let plus = eval(i, Tensor::from_vec(moved.clone(), x.shape())?)?;
            moved[j] = base[j] - opts.eps;
            let minus = eval(i, Tensor::from_vec(moved, x.shape())?)?;
            let column: Vec<f64> = plus
                .iter()
                .zip(&minus)
                .map(|(p, m)| (p - m) / (2.0 * opts.eps))
                .collect();
            for (p, probe) in probes.iter().enumerate() {
                let numerical: f64 = probe.iter().zip(&column).map(|(v, c)| v * c).sum();
                let analytical = analytic[p][k][j];
                if close(analytical, numerical, opts.atol, opts.rtol) {
                    continue;
                }
                mismatches += 1;
                if first.is_none() {
                    let against = if full {
                        format!("output element {p} {:?}", unravel(p, &out_shape))
                    } else {
                        format!("random grad_output {p}")
                    };
                    first = Some(format!(
                        "Jacobian mismatch for input {i} (shape {:?}), element {j} {:?}, {against}: \
                         numerical {numerical:e}, analytical {analytical:e} \
                         (|difference| {:e} > atol {:e} + rtol {:e} * |numerical|)",
                        x.shape(),
                        unravel(j, x.shape()),
                        (analytical - numerical).abs(),
                        opts.atol,
                        opts.rtol,
                    ));
                }
            }
        }
        if let Some(message) = first {
            let total = base.len() * probes.len();
            return Err(fail(format!(
                "{message}; {mismatches} of {total} compared values for this input differ"
            )));
        }
    }
    Ok(())
}

/// Checks the second derivatives of `f` at `inputs` against finite
/// differences of its first derivatives, with the default
/// [`GradcheckOptions`] (`torch.autograd.gradgradcheck`).
///
/// The first-derivative function `(x, v) ↦ ∂(Σ v ⊙ f(x))/∂x` (all float
/// inputs' gradients, flattened and concatenated), with a random `v` of
/// `f`'s output shape, is computed with `create_graph = true` and handed to
/// [`gradcheck`], so both `∂²/∂x²` and the dependence on `v` are checked.
///
/// ```
/// use torchlet_autograd::{gradgradcheck, Variable};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_autograd::AutogradError> {
/// let x = Tensor::from_vec(vec![0.2f64, -0.4, 1.1, 0.7], &[2, 2])?;
/// gradgradcheck(|v: &[Variable]| v[0].softmax(-1), &[x])?;
/// # Ok(())
/// # }
/// ```
pub fn gradgradcheck<F>(f: F, inputs: &[Tensor]) -> Result<()>
where
    F: Fn(&[Variable]) -> Result<Variable>,
{
    gradgradcheck_with(f, inputs, &GradcheckOptions::default())
}

/// [`gradgradcheck`] with explicit tolerances, step and probes.
pub fn gradgradcheck_with<F>(f: F, inputs: &[Tensor], opts: &GradcheckOptions) -> Result<()>
where
    F: Fn(&[Variable]) -> Result<Variable>,
{
    let checked = checked_inputs("gradgradcheck", inputs)?;
    let consts: Vec<Variable> = inputs.iter().cloned().map(Variable::constant).collect();
    let out = no_grad(|| f(&consts))?;
    check_output("gradgradcheck", &out)?;
    let mut g = Generator::new(opts.seed ^ 0x9e37_79b9_7f4a_7c15);
    let v = Tensor::normal_with(&out.shape(), 0.0, 1.0, DType::F64, &mut g);
    let n = inputs.len();
    let mut all = inputs.to_vec();
    all.push(v);

    let first_derivative = |vars: &[Variable]| -> Result<Variable> {
        // Recording while gradcheck's analytic pass runs; not while it
        // takes finite differences (under no_grad).
        let create = is_grad_enabled();
        enable_grad(|| {
            let xs: Vec<Variable> = vars[..n]
                .iter()
                .map(|x| {
                    if x.dtype().is_float() && !x.requires_grad() {
                        x.detach_requiring_grad()
                    } else {
                        x.clone()
                    }
                })
                .collect();
            let y = f(&xs)?;
            let wrt: Vec<&Variable> = checked.iter().map(|&i| &xs[i]).collect();
            let grads = if y.requires_grad() {
                let s = y.mul(&vars[n])?.sum();
                grad(&[&s], &wrt, None, create, create)?
            } else {
                vec![None; wrt.len()]
            };
            let flat: Vec<Variable> = grads
                .into_iter()
                .zip(&checked)
                .map(|(g, &i)| match g {
                    Some(g) => g.ravel(),
                    None => {
                        Variable::constant(Tensor::zeros_dtype(&[inputs[i].numel()], DType::F64))
                    }
                })
                .collect();
            Variable::cat(&flat, 0)
        })
    };
    gradcheck_with(first_derivative, &all, opts).map_err(|e| match e {
        AutogradError::Graph { message, .. } => AutogradError::Graph {
            op: "gradgradcheck",
            message: format!("{message} (input {n} is the random grad_output; the output is the first derivatives, flattened)"),
        },
        other => other,
    })
}

/// The indices of the inputs to check (the float ones), which must be f64.
fn checked_inputs(op: &'static str, inputs: &[Tensor]) -> Result<Vec<usize>> {
    let mut checked = Vec::new();
    for (i, t) in inputs.iter().enumerate() {
        match t.dtype() {
            DType::F64 => checked.push(i),
            DType::F32 => {
                return Err(AutogradError::graph(
                    op,
                    format!("input {i} is f32; finite differences need f64 inputs (convert with to_dtype(DType::F64))"),
                ))
            }
            _ => {}
        }
    }
    if checked.is_empty() {
        return Err(AutogradError::graph(op, "no f64 input to check"));
    }
    Ok(checked)
}

fn check_output(op: &'static str, out: &Variable) -> Result<()> {
    if out.dtype() != DType::F64 {
        return Err(AutogradError::graph(
            op,
            format!(
                "the function returned a {} output; it must return f64",
                out.dtype()
            ),
        ));
    }
    Ok(())
}

fn fail(message: String) -> AutogradError {
    AutogradError::graph("gradcheck", message)
}

/// `|a - b| <= atol + rtol |b|`, with equal values (infinities included)
/// passing and NaN failing.
fn close(a: f64, b: f64, atol: f64, rtol: f64) -> bool {
    a == b || (a - b).abs() <= atol + rtol * b.abs()
}

/// The multi-index of flat (row-major) position `flat` in `shape`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (d, &n) in shape.iter().enumerate().rev() {
        if n > 0 {
            index[d] = flat % n;
            flat /= n;
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unravel_is_row_major() {
        assert_eq!(unravel(5, &[2, 3]), vec![1, 2]);
        assert_eq!(unravel(0, &[]), Vec::<usize>::new());
    }

    #[test]
    fn close_handles_infinities_and_nan() {
        assert!(close(f64::INFINITY, f64::INFINITY, 0.0, 0.0));
        assert!(!close(f64::NAN, f64::NAN, 1.0, 1.0));
        assert!(close(1.0005, 1.0, 0.0, 1e-3));
    }
}
