//! Which input dims a traced graph leaves free: the trace runs the model
//! eagerly once more on inputs grown by one along those dims, with the
//! float inputs' values changed (scaled and shifted, so constants taken
//! from the example's values show), and compares the graph's outputs.
//! Integer inputs (token ids) keep their values and get their first slice
//! repeated, so they stay valid indices.

use std::fmt::Display;

use torchlet_autograd::{no_grad, Variable};
use torchlet_tensor::{DType, Tensor};

use crate::ScriptModule;

/// `None` when the graph gives the eager model's outputs at the
/// examples' batch (dim 0 of every input) + 1, else why the batch must
/// stay fixed.
pub(crate) fn batch_check<F, E>(script: &ScriptModule, f: &F, examples: &[Tensor]) -> Option<String>
where
    F: Fn(&[Variable]) -> std::result::Result<Vec<Variable>, E>,
    E: Display,
{
    let batch = examples.first()?.shape().first().copied();
    let batch = match batch {
        Some(b) if b > 0 && examples.iter().all(|x| x.shape().first() == Some(&b)) => b,
        _ => return Some("the inputs share no batch dim (dim 0)".into()),
    };
    let grown: Vec<(usize, usize)> = (0..examples.len()).map(|i| (i, 0)).collect();
    compare(script, f, &grow(examples, &grown)).map(|why| {
        format!(
            "{why} at batch {} (traced at {batch}): an op holds the batch size",
            batch + 1
        )
    })
}

/// `Ok` when the graph gives the eager model's outputs with every
/// `(input, dim)` of `dims` one longer, else why not.
pub(crate) fn sequence_check<F, E>(
    script: &ScriptModule,
    f: &F,
    examples: &[Tensor],
    dims: &[(usize, usize)],
) -> std::result::Result<(), String>
where
    F: Fn(&[Variable]) -> std::result::Result<Vec<Variable>, E>,
    E: Display,
{
    let mut length = None;
    for &(i, d) in dims {
        let Some(x) = examples.get(i) else {
            return Err(format!("there is no input {i}"));
        };
        let Some(&n) = x.shape().get(d) else {
            return Err(format!("input {i} of shape {:?} has no dim {d}", x.shape()));
        };
        if n == 0 || *length.get_or_insert(n) != n {
            return Err(format!(
                "the sequence dims must share one positive length, dim {d} of input {i} is {n}"
            ));
        }
    }
    match compare(script, f, &grow(examples, dims)) {
        None => Ok(()),
        Some(why) => Err(format!(
            "{why} with sequences one longer: an op holds the traced length {}",
            length.unwrap_or_default()
        )),
    }
}

/// The examples with their float values changed and every `(input, dim)`
/// of `dims` grown by one (its first slice repeated at the end).
fn grow(examples: &[Tensor], dims: &[(usize, usize)]) -> Vec<Tensor> {
    examples
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let mut x = match x.dtype() {
                DType::F32 | DType::F64 => x.mul_scalar(0.75).add_scalar(0.125),
                _ => x.clone(),
            };
            for &(_, d) in dims.iter().filter(|(j, _)| *j == i) {
                let first = x.narrow(d as i64, 0, 1).expect("checked non-empty");
                x = Tensor::cat(&[x, first], d as i64).expect("same shapes");
            }
            x
        })
        .collect()
}

/// `None` when the graph and the model agree on `inputs`, else how not.
fn compare<F, E>(script: &ScriptModule, f: &F, inputs: &[Tensor]) -> Option<String>
where
    F: Fn(&[Variable]) -> std::result::Result<Vec<Variable>, E>,
    E: Display,
{
    let vars: Vec<Variable> = inputs
        .iter()
        .map(|t| Variable::constant(t.clone()))
        .collect();
    let eager = match no_grad(|| f(&vars)) {
        Ok(v) => v,
        Err(e) => return Some(format!("the model fails ({e})")),
    };
    let graph = match script.run(inputs) {
        Ok(v) => v,
        Err(e) => return Some(format!("the traced graph fails ({e})")),
    };
    if graph.len() != eager.len() {
        return Some(format!(
            "the model gives {} outputs, the traced graph {}",
            eager.len(),
            graph.len()
        ));
    }
    graph
        .iter()
        .zip(&eager)
        .position(|(g, e)| !close(g, &e.data()))
        .map(|i| format!("output {i} of the traced graph differs from the model's"))
}

/// Same shape and dtype, values within 1e-5 relative.
fn close(a: &Tensor, b: &Tensor) -> bool {
    if a.shape() != b.shape() || a.dtype() != b.dtype() {
        return false;
    }
    let as_f64 = |t: &Tensor| t.to_dtype(DType::F64).to_vec::<f64>().unwrap_or_default();
    let (a, b) = (as_f64(a), as_f64(b));
    a.iter().zip(&b).all(|(x, y)| {
        (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= 1e-5 * (1.0 + y.abs())
    })
}
