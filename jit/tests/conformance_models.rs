//! The PyTorch-trained fixtures in `conformance/models` (or the folder
//! `MODEL_FIXTURES` names) through the jit: each model, with PyTorch's
//! weights loaded, traced (text models with a free sequence dim), gives
//! the eager outputs bit for bit unoptimised and within 1e-5 (relative)
//! optimised, and PyTorch's own within the fixture's `atol`.

#[path = "../../nn/tests/common/fixture_models.rs"]
mod fixture_models;

use fixture_models::{build, fixtures_dir, tensor_of};
use serde_json::Value;
use torchlet_autograd::{no_grad, Variable};
use torchlet_jit::{trace_with, TraceOptions};
use torchlet_nn::state;
use torchlet_tensor::{DType, Tensor};

fn as_f64(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).to_vec::<f64>().unwrap()
}

#[test]
fn conformance_model_fixtures_run_through_the_jit() {
    let dir = fixtures_dir();
    let mut ran = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let name = json["model"].as_str().unwrap_or(&stem).to_string();
        let model = build(&name)
            .unwrap_or_else(|| panic!("{name}: no model of this name is built"))
            .unwrap();
        state::load_safetensors(model.as_ref(), path.with_extension("safetensors"), true).unwrap();
        model.eval();
        let input = tensor_of(&json["input"]).unwrap();
        let want_pytorch = tensor_of(&json["output"]).unwrap();
        let atol = json["atol"].as_f64().unwrap_or(1e-4);
        let mut options = TraceOptions::default();
        if input.dtype() == DType::I64 {
            options = options.sequence_dim(0, 1);
        }
        let script = trace_with(model.as_ref(), std::slice::from_ref(&input), &options)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let fast = script.optimize().unwrap();
        let eager = no_grad(|| model.forward(&Variable::constant(input.clone())))
            .unwrap()
            .data();
        let plain = script.forward(std::slice::from_ref(&input)).unwrap();
        let bits = |t: &Tensor| -> Vec<u64> { as_f64(t).iter().map(|v| v.to_bits()).collect() };
        assert_eq!(bits(&plain[0]), bits(&eager), "{name}: unoptimised");
        let got = fast.forward(std::slice::from_ref(&input)).unwrap();
        assert_eq!(got[0].shape(), want_pytorch.shape(), "{name}");
        for ((a, e), p) in as_f64(&got[0])
            .iter()
            .zip(as_f64(&eager))
            .zip(as_f64(&want_pytorch))
        {
            assert!(
                (a - e).abs() <= 1e-5 * e.abs().max(1.0),
                "{name}: {a} vs eager {e}"
            );
            assert!((a - p).abs() <= atol, "{name}: {a} vs PyTorch {p}");
        }
        ran.push(name);
    }
    assert!(!ran.is_empty(), "no fixture in {}", dir.display());
}
