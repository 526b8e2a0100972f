//! Saved scripts run in a fresh process that links no model code
//! (`torchlet-jit-run`, this crate's binary) and give the outputs the
//! model gave here: every ONNX check model, unoptimised (bit for bit) and
//! optimised (within 1e-5).

#[path = "../../onnx-export/tests/common/models.rs"]
mod models;
#[path = "../../onnx-export/tests/common/zoo.rs"]
mod zoo;

use std::process::Command;

use torchlet_autograd::no_grad;
use torchlet_jit::{trace_with, ScriptModule, TraceOptions};
use torchlet_tensor::io::{from_safetensors_bytes, to_safetensors_bytes, TensorMap};
use torchlet_tensor::{DType, Tensor};

/// Runs `script` through the binary on `x`; its first output.
fn run_elsewhere(script: &ScriptModule, x: &Tensor, dir: &std::path::Path) -> Tensor {
    let (model, inputs, outputs) = (dir.join("m.tlj"), dir.join("in.st"), dir.join("out.st"));
    script.save(&model).unwrap();
    let mut map = TensorMap::new();
    map.insert(script.graph().inputs[0].name.clone(), x.clone());
    std::fs::write(&inputs, to_safetensors_bytes(&map, None).unwrap()).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_torchlet-jit-run"))
        .args([&model, &inputs, &outputs])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let (mut out, _) = from_safetensors_bytes(&std::fs::read(&outputs).unwrap()).unwrap();
    out.remove("output0").unwrap()
}

fn as_f64(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).to_vec::<f64>().unwrap()
}

#[test]
fn saved_scripts_give_the_models_outputs_in_a_fresh_process() {
    let dir = tempfile::tempdir().unwrap();
    for m in models::all_models().unwrap() {
        let mut options = TraceOptions::default();
        if m.sequence {
            options = options.sequence_dim(0, 1);
        }
        let example = m.example(3, 1).data();
        let script = trace_with(m.module.as_ref(), std::slice::from_ref(&example), &options)
            .unwrap_or_else(|e| panic!("{}: {e}", m.name));
        let x = if m.sequence {
            m.example_with_len(4, 6, 7)
        } else {
            m.example(4, 7)
        };
        let want = no_grad(|| m.module.forward(&x)).unwrap().data();
        let got = run_elsewhere(&script, &x.data(), dir.path());
        assert_eq!(got.shape(), want.shape(), "{}", m.name);
        let bits = |t: &Tensor| -> Vec<u64> { as_f64(t).iter().map(|v| v.to_bits()).collect() };
        assert_eq!(bits(&got), bits(&want), "{}", m.name);
        let fast = run_elsewhere(&script.optimize().unwrap(), &x.data(), dir.path());
        for (a, b) in as_f64(&fast).iter().zip(as_f64(&want)) {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "{}: {a} vs {b}",
                m.name
            );
        }
    }
}

#[test]
fn the_runner_names_a_missing_input() {
    let dir = tempfile::tempdir().unwrap();
    let model = torchlet_nn::Linear::new(3, 2).unwrap();
    let script = torchlet_jit::trace(&model, &[Tensor::rand(&[2, 3])]).unwrap();
    let (path, inputs) = (dir.path().join("m.tlj"), dir.path().join("in.st"));
    script.save(&path).unwrap();
    let mut map = TensorMap::new();
    map.insert("y".to_string(), Tensor::rand(&[2, 3]));
    std::fs::write(&inputs, to_safetensors_bytes(&map, None).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_torchlet-jit-run"))
        .args([&path, &inputs, &dir.path().join("out.st")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no tensor named x"), "{err}");
}
