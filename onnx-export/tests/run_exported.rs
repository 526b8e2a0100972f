//! The hermetic check: every model of the check set is exported, written,
//! read back and run by a small ONNX interpreter (`common/interp.rs`,
//! ONNX's op semantics) on inputs of two batch sizes (and sequence
//! lengths), against torchlet's own outputs (max abs diff ≤ 1e-5).
//! onnxruntime runs the same models in `.ci/run`.

#[path = "common/interp.rs"]
mod interp;
#[path = "common/models.rs"]
mod models;
#[path = "common/zoo.rs"]
mod zoo;

use torchlet_autograd::no_grad;
use torchlet_onnx::{export_to_file, read_model};

#[test]
fn exported_models_run_with_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    for m in models::all_models()
        .unwrap()
        .into_iter()
        .filter(|m| m.hermetic)
    {
        for opset in [13, 17] {
            let options = m.export_options(opset);
            let path = dir.path().join(format!("{}_{opset}.onnx", m.name));
            export_to_file(m.module.as_ref(), &m.example(3, 1), &path, &options).unwrap();
            let model = read_model(&path).unwrap();
            for (n, len, seed) in [(3, 7, 10), (5, 11, 11)] {
                let x = m.example_with_len(n, len, seed);
                let want = no_grad(|| m.module.forward(&x)).unwrap().data();
                let got = interp::run(&model, &x.data())
                    .unwrap_or_else(|e| panic!("{} (opset {opset}): {e}", m.name));
                let diff = interp::max_abs_diff(&got, &want);
                assert!(
                    diff <= 1e-5,
                    "{} (opset {opset}), batch {n}: max abs diff {diff}",
                    m.name
                );
            }
        }
    }
}
