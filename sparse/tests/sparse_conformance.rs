//! Runs the PyTorch-computed sparse cases of `conformance/sparse_quant.json`
//! (format and op table in `conformance/README.md`) through torchlet-sparse.
//!
//! Sparse operands arrive dense and are converted with the case's layout;
//! they become sparse leaves that require grad, so their gradients are
//! checked on their own pattern (densified for the comparison). Sparse
//! outputs are compared densified. The quantization cases of the same
//! file belong to torchlet-quantize's runner and are skipped here by name;
//! any other op without a mapping fails the run.
//!
//! `SPARSE_CASES=path cargo test -p torchlet-sparse --test sparse_conformance -- --nocapture`
//! runs another file of the same format.

#[path = "../../torchlet/tests/conformance/cases.rs"]
#[allow(dead_code)]
mod cases;

use std::panic::{catch_unwind, AssertUnwindSafe};

use cases::{Attrs, Case, Verdict};
use torchlet_autograd::{functional as AF, Variable};
use torchlet_sparse::{sparse_coo_tensor, SparseTensor, ToSparse};
use torchlet_tensor::{DType, Tensor};

const DEFAULT_CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../conformance/sparse_quant.json"
);

/// Ops of the shared case file that another crate's runner owns.
const QUANTIZE_OPS: &[&str] = &[
    "quantize_per_tensor",
    "dequantize_per_tensor",
    "quantize_per_channel",
    "fake_quantize_per_tensor_affine",
    "fake_quantize_per_channel_affine",
    "observer_minmax",
    "observer_moving_average_minmax",
    "observer_per_channel_minmax",
    "observer_histogram",
    "quantized_linear",
    "quantized_conv2d",
];

/// An input as the op sees it, kept to read its gradient afterwards.
enum Operand {
    Dense(Variable),
    Sparse(SparseTensor),
}

impl Operand {
    fn dense(&self) -> &Variable {
        match self {
            Operand::Dense(v) => v,
            Operand::Sparse(_) => panic!("case runner: expected a dense operand"),
        }
    }

    fn sparse(&self) -> &SparseTensor {
        match self {
            Operand::Sparse(s) => s,
            Operand::Dense(_) => panic!("case runner: expected a sparse operand"),
        }
    }

    /// The accumulated gradient, densified (zeros when none arrived).
    fn grad(&self) -> Result<Tensor, String> {
        match self {
            Operand::Dense(v) => Ok(v.grad().unwrap_or_else(|| v.data().zeros_like())),
            Operand::Sparse(s) => match s.grad() {
                Some(g) => g.to_dense().map_err(|e| e.to_string()),
                None => Ok(Tensor::zeros_dtype(s.shape(), s.dtype())),
            },
        }
    }
}

/// Which inputs of `op` are sparse, or `None` for an unmapped op.
fn sparse_inputs(op: &str) -> Option<&'static [usize]> {
    Some(match op {
        "sparse_mm" | "sparse_sum" | "sparse_softmax" | "sparse_log_softmax"
        | "sparse_mul_dense" => &[0],
        "sparse_addmm" => &[1],
        "sparse_mm_sparse" | "sparse_add" => &[0, 1],
        "sparse_sampled_addmm" => &[0],
        "coo_coalesce_indices" | "coo_coalesce_values" | "embedding_sparse" => &[],
        _ => return None,
    })
}

fn to_layout(t: &Tensor, layout: &str) -> Result<SparseTensor, String> {
    let s = match layout {
        "coo" => t.to_sparse(),
        "csr" => t.to_sparse_csr(),
        "csc" => t.to_sparse_csc(),
        other => return Err(format!("unknown layout {other}")),
    };
    Ok(s.map_err(|e| e.to_string())?.requires_grad_())
}

/// Runs `op`; the output is dense (sparse results densified).
fn run(op: &str, a: &Attrs, x: &[Operand]) -> Result<Variable, String> {
    let e = |e: torchlet_sparse::SparseError| e.to_string();
    let layout = a.str_or("layout", "coo")?;
    Ok(match op {
        "sparse_mm" => x[0].sparse().mm(x[1].dense()).map_err(e)?,
        "sparse_addmm" => x[1]
            .sparse()
            .addmm(
                x[0].dense(),
                x[2].dense(),
                a.float_or("beta", 1.0)?,
                a.float_or("alpha", 1.0)?,
            )
            .map_err(e)?,
        "sparse_mm_sparse" => x[0]
            .sparse()
            .mm_sparse(x[1].sparse())
            .and_then(|s| s.to_dense_variable())
            .map_err(e)?,
        "sparse_sum" => {
            let s = x[0].sparse();
            if !a.has("dim") {
                s.sum().map_err(e)?
            } else {
                let dims = a.ints("dim").or_else(|_| a.int("dim").map(|d| vec![d]))?;
                s.sum_dims(&dims).and_then(|r| r.into_dense()).map_err(e)?
            }
        }
        "sparse_softmax" => x[0]
            .sparse()
            .softmax(a.int("dim")?)
            .and_then(|s| s.to_dense_variable())
            .map_err(e)?,
        "sparse_log_softmax" => {
            // PyTorch densifies unspecified elements as 0 here too.
            x[0].sparse()
                .log_softmax(a.int("dim")?)
                .and_then(|s| s.to_dense_variable())
                .map_err(e)?
        }
        "sparse_add" => x[0]
            .sparse()
            .add(x[1].sparse())
            .and_then(|s| s.to_dense_variable())
            .map_err(e)?,
        "sparse_mul_dense" => x[0]
            .sparse()
            .mul_dense(x[1].dense())
            .and_then(|s| s.to_dense_variable())
            .map_err(e)?,
        "sparse_sampled_addmm" => x[0]
            .sparse()
            .sampled_addmm(
                x[1].dense(),
                x[2].dense(),
                a.float_or("beta", 1.0)?,
                a.float_or("alpha", 1.0)?,
            )
            .and_then(|s| s.to_dense_variable())
            .map_err(e)?,
        "coo_coalesce_indices" | "coo_coalesce_values" => {
            let size = a.usizes("size")?;
            let s = sparse_coo_tensor(&x[0].dense().data(), x[1].dense().clone(), &size)
                .and_then(|s| s.coalesce())
                .map_err(e)?;
            if op == "coo_coalesce_indices" {
                Variable::constant(s.indices().map_err(e)?)
            } else {
                s.values().clone()
            }
        }
        "embedding_sparse" => AF::embedding_sparse(&x[0].dense().data(), x[1].dense(), None)
            .map_err(|e| e.to_string())?,
        _ => return Err(format!("no mapping for {op} (layout {layout})")),
    })
}

fn check_case(case: &Case) -> Verdict {
    let Some(sparse) = sparse_inputs(&case.op) else {
        return Verdict::NotImplemented;
    };
    let layout = match case.attrs.str_or("layout", "coo") {
        Ok(l) => l.to_string(),
        Err(e) => return Verdict::Fail(format!("bad case: {e}")),
    };
    let built: Result<Vec<Operand>, String> = case
        .inputs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let t = spec.to_tensor().map_err(|e| format!("input {i}: {e}"))?;
            Ok(if sparse.contains(&i) {
                Operand::Sparse(to_layout(&t, &layout)?)
            } else if t.dtype().is_float() {
                Operand::Dense(Variable::parameter(t))
            } else {
                Operand::Dense(Variable::constant(t))
            })
        })
        .collect();
    let inputs = match built {
        Ok(x) => x,
        Err(e) => return Verdict::Fail(format!("bad case: {e}")),
    };
    let ran = catch_unwind(AssertUnwindSafe(|| -> Result<Vec<String>, String> {
        let out = run(&case.op, &case.attrs, &inputs)?;
        let mut problems = Vec::new();
        if let Err(why) = compare(&out.data(), &case.output, case) {
            problems.push(format!("output: {why}"));
        }
        let (Some(seed), Some(want)) = (&case.grad_output, &case.grads) else {
            return Ok(problems);
        };
        if want.iter().all(Option::is_none) {
            return Ok(problems);
        }
        out.backward_with(&seed.to_tensor()?)
            .map_err(|e| format!("backward: {e}"))?;
        for (i, (input, expected)) in inputs.iter().zip(want).enumerate() {
            let Some(expected) = expected else { continue };
            if let Err(why) = compare(&input.grad()?, expected, case) {
                problems.push(format!("grad of input {i}: {why}"));
            }
        }
        Ok(problems)
    }));
    match ran {
        Ok(Ok(p)) if p.is_empty() => Verdict::Pass,
        Ok(Ok(p)) => Verdict::Fail(p.join("; ")),
        Ok(Err(e)) => Verdict::Fail(e),
        Err(_) => Verdict::Fail("panicked".to_string()),
    }
}

fn compare(got: &Tensor, want: &cases::TensorSpec, case: &Case) -> Result<(), String> {
    let values = got
        .to_dtype(DType::F64)
        .to_vec::<f64>()
        .map_err(|e| e.to_string())?;
    cases::compare(
        got.dtype(),
        got.shape(),
        &values,
        want,
        case.rtol,
        case.atol,
    )
}

#[test]
fn sparse_ops_match_pytorch() {
    let path = std::env::var("SPARSE_CASES").unwrap_or_else(|_| DEFAULT_CASES.to_string());
    let file = cases::load(&path).unwrap_or_else(|e| panic!("{e}"));
    cases::run_cases(
        file.cases
            .iter()
            .filter(|c| !QUANTIZE_OPS.contains(&c.op.as_str())),
        check_case,
    )
    .finish("sparse conformance", &path, &[]);
}

#[test]
fn an_unknown_op_is_reported_not_skipped() {
    let mut file = cases::parse(
        r#"{"format": "conformance-cases/1", "oracle": "test", "cases": [
            {"id": "x/0", "op": "sparse_frobnicate", "attrs": {"layout": "coo"},
             "inputs": [{"dtype": "f32", "shape": [1], "data": [1.0]}],
             "output": {"dtype": "f32", "shape": [1], "data": [1.0]}}]}"#,
    )
    .unwrap();
    assert!(matches!(
        check_case(&file.cases.remove(0)),
        Verdict::NotImplemented
    ));
}
