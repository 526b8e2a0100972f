//! Runs the PyTorch-computed quantization cases of
//! `conformance/sparse_quant.json` (format and op table in
//! `conformance/README.md`) through torchlet-quantize. The sparse cases of
//! the same file belong to torchlet-sparse's runner and are skipped here
//! by name; any other op without a mapping fails the run unless listed in
//! [`NOT_IMPLEMENTED_ALLOWED`] with the reason.
//!
//! `QUANT_CASES=path cargo test -p torchlet-quantize --test quant_conformance -- --nocapture`
//! runs another file of the same format.

#[path = "../../torchlet/tests/conformance/cases.rs"]
#[allow(dead_code)]
mod cases;

use std::panic::{catch_unwind, AssertUnwindSafe};

use cases::{Attrs, Case, Verdict};
use torchlet_autograd::Variable;
use torchlet_quantize::{
    fake_quantize_per_channel_affine, fake_quantize_per_tensor_affine, quantize_per_channel,
    quantize_per_tensor, quantized_conv2d, quantized_linear, HistogramObserver, MinMaxObserver,
    MovingAverageMinMaxObserver, Observer, ObserverOptions, PackedParams, PerChannelMinMaxObserver,
    QDtype, QScheme,
};
use torchlet_tensor::{DType, Tensor};

const DEFAULT_CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../conformance/sparse_quant.json"
);

/// Quantization ops whose cases may go unmapped, with the reason.
const NOT_IMPLEMENTED_ALLOWED: &[(&str, &str)] = &[
    (
        "quantized_linear",
        "the u8 x s8 GEMM kernels are not built yet (issue 17, in progress)",
    ),
    (
        "quantized_conv2d",
        "the u8 x s8 convolution kernels are not built yet (issue 17, in progress)",
    ),
];

fn is_sparse_op(op: &str) -> bool {
    op.starts_with("sparse_") || op.starts_with("coo_") || op == "embedding_sparse"
}

fn options(a: &Attrs, default_scheme: &str) -> Result<ObserverOptions, String> {
    let e = |e: torchlet_quantize::QuantError| e.to_string();
    Ok(ObserverOptions {
        dtype: QDtype::parse(a.str_or("dtype", "quint8")?).map_err(e)?,
        qscheme: QScheme::parse(a.str_or("qscheme", default_scheme)?).map_err(e)?,
        reduce_range: a.bool_or("reduce_range", false)?,
        ..Default::default()
    })
}

/// The observer's `[scale, zero_point]` rows after seeing every input.
fn observe(mut obs: impl Observer, inputs: &[Tensor]) -> Result<Tensor, String> {
    for x in inputs {
        obs.observe(x).map_err(|e| e.to_string())?;
    }
    let (s, z) = obs.calculate_qparams().map_err(|e| e.to_string())?;
    let s = s.to_vec::<f32>().map_err(|e| e.to_string())?;
    let z = z.to_vec::<i64>().map_err(|e| e.to_string())?;
    let rows: Vec<f32> = s
        .iter()
        .zip(&z)
        .flat_map(|(&s, &z)| [s, z as f32])
        .collect();
    Tensor::from_vec(rows, &[s.len(), 2]).map_err(|e| e.to_string())
}

/// Runs `op` on the inputs (float inputs are parameters, so fake
/// quantization's gradients can be checked). `None`: no mapping.
fn run(op: &str, a: &Attrs, x: &[Variable]) -> Option<Result<Variable, String>> {
    let e = |e: torchlet_quantize::QuantError| e.to_string();
    let data: Vec<Tensor> = x.iter().map(|v| v.data()).collect();
    let out = (|| -> Result<Variable, String> {
        Ok(match op {
            "quantize_per_tensor" | "dequantize_per_tensor" => {
                let dtype = QDtype::parse(a.str_or("dtype", "quint8")?).map_err(e)?;
                let q =
                    quantize_per_tensor(&data[0], a.float("scale")?, a.int("zero_point")?, dtype)
                        .map_err(e)?;
                Variable::constant(if op == "quantize_per_tensor" {
                    q.int_repr()
                } else {
                    q.dequantize()
                })
            }
            "quantize_per_channel" => {
                let dtype = QDtype::parse(a.str_or("dtype", "qint8")?).map_err(e)?;
                let q = quantize_per_channel(&data[0], &data[1], &data[2], a.int("axis")?, dtype)
                    .map_err(e)?;
                Variable::constant(q.int_repr())
            }
            "fake_quantize_per_tensor_affine" => fake_quantize_per_tensor_affine(
                &x[0],
                a.float("scale")?,
                a.int("zero_point")?,
                a.int("quant_min")?,
                a.int("quant_max")?,
            )
            .map_err(e)?,
            "fake_quantize_per_channel_affine" => fake_quantize_per_channel_affine(
                &x[0],
                &data[1],
                &data[2],
                a.int("axis")?,
                a.int("quant_min")?,
                a.int("quant_max")?,
            )
            .map_err(e)?,
            "observer_minmax" => Variable::constant(observe(
                MinMaxObserver::new(options(a, "per_tensor_affine")?).map_err(e)?,
                &data,
            )?),
            "observer_moving_average_minmax" => {
                let c = a.float_or("averaging_constant", 0.01)?;
                let obs = MovingAverageMinMaxObserver::new(options(a, "per_tensor_affine")?, c)
                    .map_err(e)?;
                Variable::constant(observe(obs, &data)?)
            }
            "observer_per_channel_minmax" => {
                let obs = PerChannelMinMaxObserver::new(
                    options(a, "per_channel_affine")?,
                    a.int_or("ch_axis", 0)?,
                )
                .map_err(e)?;
                Variable::constant(observe(obs, &data)?)
            }
            "observer_histogram" => {
                let obs = HistogramObserver::new(
                    options(a, "per_tensor_affine")?,
                    a.usize_or("bins", 2048)?,
                )
                .map_err(e)?;
                Variable::constant(observe(obs, &data)?)
            }
            "quantized_linear" | "quantized_conv2d" => {
                let xq = quantize_per_tensor(
                    &data[0],
                    a.float("input_scale")?,
                    a.int("input_zero_point")?,
                    QDtype::QUInt8,
                )
                .map_err(e)?;
                if a.str_or("weight", "")? != "per_channel_symmetric_absmax_qint8" {
                    return Err(format!(
                        "unknown weight scheme {:?}",
                        a.str_or("weight", "")?
                    ));
                }
                let w = &data[1];
                let rows = w.shape()[0];
                let flat = w.reshape(&[rows as i64, -1]).map_err(|e| e.to_string())?;
                let absmax = flat.abs().max_dim(1, false).map_err(|e| e.to_string())?.0;
                let scales = absmax.div_scalar(127.0);
                let zps = Tensor::zeros_dtype(&[rows], DType::I64);
                let wq = quantize_per_channel(w, &scales, &zps, 0, QDtype::QInt8).map_err(e)?;
                let bias = data[2].to_vec::<f32>().map_err(|e| e.to_string())?;
                let packed = PackedParams::new(&wq, Some(&bias)).map_err(e)?;
                let (os, oz) = (a.float("output_scale")?, a.int("output_zero_point")?);
                let y = if op == "quantized_linear" {
                    quantized_linear(&xq, &packed, os, oz, false)
                } else {
                    let st = a.usize_or("stride", 1)?;
                    let pd = a.usize_or("padding", 0)?;
                    quantized_conv2d(&xq, &packed, [st, st], [pd, pd], [1, 1], os, oz, false)
                }
                .map_err(e)?;
                Variable::constant(y.int_repr())
            }
            _ => return Err("unmapped".into()),
        })
    })();
    match out {
        Err(why) if why == "unmapped" => None,
        other => Some(other),
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

fn check_case(case: &Case) -> Verdict {
    let inputs: Result<Vec<Variable>, String> = case
        .inputs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let t = spec.to_tensor().map_err(|e| format!("input {i}: {e}"))?;
            Ok(if t.dtype().is_float() {
                Variable::parameter(t)
            } else {
                Variable::constant(t)
            })
        })
        .collect();
    let inputs = match inputs {
        Ok(x) => x,
        Err(e) => return Verdict::Fail(format!("bad case: {e}")),
    };
    let ran = catch_unwind(AssertUnwindSafe(
        || -> Option<Result<Vec<String>, String>> {
            let out = match run(&case.op, &case.attrs, &inputs)? {
                Ok(out) => out,
                Err(e) => return Some(Err(e)),
            };
            let mut problems = Vec::new();
            if let Err(why) = compare(&out.data(), &case.output, case) {
                problems.push(format!("output: {why}"));
            }
            if let (Some(seed), Some(want)) = (&case.grad_output, &case.grads) {
                if want.iter().any(Option::is_some) {
                    let seed = match seed.to_tensor() {
                        Ok(s) => s,
                        Err(e) => return Some(Err(e)),
                    };
                    if let Err(e) = out.backward_with(&seed) {
                        return Some(Err(format!("backward: {e}")));
                    }
                    for (i, (input, expected)) in inputs.iter().zip(want).enumerate() {
                        let Some(expected) = expected else { continue };
                        let got = input.grad().unwrap_or_else(|| input.data().zeros_like());
                        if let Err(why) = compare(&got, expected, case) {
                            problems.push(format!("grad of input {i}: {why}"));
                        }
                    }
                }
            }
            Some(Ok(problems))
        },
    ));
    match ran {
        Ok(None) => Verdict::NotImplemented,
        Ok(Some(Ok(p))) if p.is_empty() => Verdict::Pass,
        Ok(Some(Ok(p))) => Verdict::Fail(p.join("; ")),
        Ok(Some(Err(e))) => Verdict::Fail(e),
        Err(_) => Verdict::Fail("panicked".into()),
    }
}

#[test]
fn quantization_ops_match_pytorch() {
    let path = std::env::var("QUANT_CASES").unwrap_or_else(|_| DEFAULT_CASES.to_string());
    let file = cases::load(&path).unwrap_or_else(|e| panic!("{e}"));
    cases::run_cases(
        file.cases.iter().filter(|c| !is_sparse_op(&c.op)),
        check_case,
    )
    .finish("quant conformance", &path, NOT_IMPLEMENTED_ALLOWED);
}
