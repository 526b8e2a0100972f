//! `torchlet quantize` end to end: an MLP run (1 epoch) to int8 by PTQ
//! and QAT; the quantized run works with eval and predict; errors.

mod common;

use std::path::Path;

use common::{accuracy, assert_one_line_error, digit_png, stderr, stdout, torchlet};

/// The label of the digit `digit_png` writes.
fn first_label() -> u8 {
    torchlet_vision::Mnist::embedded(false).unwrap().labels()[0]
}

fn train_mlp(run: &Path) {
    let out = torchlet(&[
        "train",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "train failed: {}", stderr(&out));
}

/// Asserts that the ONNX file `path` mentions each op type of `ops`;
/// returns its bytes.
fn onnx_with_ops(path: &Path, ops: &[&str]) -> Vec<u8> {
    let onnx = std::fs::read(path).unwrap();
    for op in ops {
        assert!(
            onnx.windows(op.len()).any(|w| w == op.as_bytes()),
            "{op} missing from {}",
            path.display()
        );
    }
    onnx
}

/// `torchlet export --run run --onnx out`: the bytes it wrote.
fn export_again(run: &Path, out: &Path) -> Vec<u8> {
    let o = torchlet(&[
        "export",
        "--run",
        run.to_str().unwrap(),
        "--onnx",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read(out).unwrap()
}

/// The number after `prefix` on the line that starts with it.
fn number_after(text: &str, prefix: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in {text}"));
    line[prefix.len()..].trim().parse().unwrap()
}

#[test]
fn ptq_and_qat_write_int8_runs_that_eval_and_predict_read() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train_mlp(&run);
    let ptq = dir.path().join("ptq");
    let out = torchlet(&[
        "quantize",
        "--run",
        run.to_str().unwrap(),
        "--calibration",
        "300",
        "--out",
        ptq.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let f32_acc = number_after(&text, "f32 test accuracy:");
    let int8_acc = number_after(&text, "int8 test accuracy:");
    assert!(f32_acc > 0.9, "{text}");
    assert!((f32_acc - int8_acc).abs() <= 0.01, "{text}");
    // The int8 file is about 4x smaller.
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64;
    let ratio = size(&run.join("model.safetensors")) / size(&ptq.join("model.safetensors"));
    assert!(ratio > 3.7, "{ratio}");
    assert!(text.contains("x smaller"), "{text}");

    // eval reloads the int8 model and prints the same accuracy.
    let out = torchlet(&["eval", "--run", ptq.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(accuracy(&stdout(&out)), int8_acc);
    let config = std::fs::read_to_string(ptq.join("config.json")).unwrap();
    assert!(
        config.contains("\"method\": \"ptq\"") && config.contains("\"calibration_samples\": 300"),
        "{config}"
    );

    // predict works on it.
    let png = digit_png(dir.path());
    let out = torchlet(&[
        "predict",
        "--run",
        ptq.to_str().unwrap(),
        png.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("class {} (p=", first_label())),
        "{}",
        stdout(&out)
    );

    // QAT: one fine-tuning epoch.
    let qat = dir.path().join("qat");
    let out = torchlet(&[
        "quantize",
        "--run",
        run.to_str().unwrap(),
        "--method",
        "qat",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        qat.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        number_after(&text, "int8 test accuracy:") >= f32_acc - 0.01,
        "{text}"
    );
    let out = torchlet(&["eval", "--run", qat.to_str().unwrap()]);
    assert_eq!(
        accuracy(&stdout(&out)),
        number_after(&text, "int8 test accuracy:")
    );

    // Refusals: a quantized run again, a damaged int8 file, a float file.
    let out = torchlet(&["quantize", "--run", ptq.to_str().unwrap()]);
    assert_one_line_error(&out, "is already a quantized run");
    std::fs::copy(run.join("model.safetensors"), qat.join("model.safetensors")).unwrap();
    let out = torchlet(&["eval", "--run", qat.to_str().unwrap()]);
    assert_one_line_error(&out, "not a quantized state dict");
    std::fs::write(qat.join("model.safetensors"), b"garbage").unwrap();
    let out = torchlet(&["eval", "--run", qat.to_str().unwrap()]);
    assert_one_line_error(&out, "cannot load the int8 checkpoint");
    let missing = dir.path().join("missing");
    let out = torchlet(&["quantize", "--run", missing.to_str().unwrap()]);
    assert_one_line_error(&out, "does not exist");
}

#[test]
fn dynamic_quantization_of_mnist_and_lstm_runs() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train_mlp(&run);
    let dyn_run = dir.path().join("dyn");
    let out = torchlet(&[
        "quantize",
        "--run",
        run.to_str().unwrap(),
        "--method",
        "dynamic",
        "--out",
        dyn_run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let int8_acc = number_after(&text, "int8 test accuracy:");
    assert!(
        (number_after(&text, "f32 test accuracy:") - int8_acc).abs() <= 0.01,
        "{text}"
    );
    // The dynamic Linear layers' model.onnx (CI runs it in onnxruntime).
    let ops = ["ReduceMin", "Reciprocal", "DequantizeLinear", "Gemm"];
    onnx_with_ops(&dyn_run.join("model.onnx"), &ops);
    let out = torchlet(&["eval", "--run", dyn_run.to_str().unwrap()]);
    assert_eq!(accuracy(&stdout(&out)), int8_acc);

    // A fortunes LSTM run (tiny data, one epoch): LSTM and Linear in int8.
    let data = dir.path().join("fortunes");
    std::fs::create_dir(&data).unwrap();
    common::tiny_fortunes(&data, 6);
    let lstm = dir.path().join("lstm");
    let out = torchlet(&[
        "train",
        "--dataset",
        "fortunes",
        "--model",
        "lstm",
        "--data",
        data.to_str().unwrap(),
        "--epochs",
        "1",
        "--quiet",
        "--out",
        lstm.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let q = dir.path().join("lstm-int8");
    let out = torchlet(&[
        "quantize",
        "--run",
        lstm.to_str().unwrap(),
        "--method",
        "dynamic",
        "--out",
        q.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let int8_acc = number_after(&stdout(&out), "int8 test accuracy:");
    // model.onnx: int64 tokens in, the LSTM as a Scan over time with
    // int8 weights; `torchlet export` writes the same file again.
    let ops = ["Scan", "ReduceMin", "DequantizeLinear", "Gather"];
    let onnx = onnx_with_ops(&q.join("model.onnx"), &ops);
    assert_eq!(export_again(&q, &dir.path().join("lstm-int8.onnx")), onnx);
    let out = torchlet(&[
        "eval",
        "--run",
        q.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(accuracy(&stdout(&out)), int8_acc);
    let out = torchlet(&["quantize", "--run", lstm.to_str().unwrap()]);
    assert_one_line_error(&out, "quantize it with --method dynamic");
}

#[test]
fn a_static_int8_run_exports_as_qdq_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train_mlp(&run);
    let q = dir.path().join("q");
    let out = torchlet(&[
        "quantize",
        "--run",
        run.to_str().unwrap(),
        "--calibration",
        "200",
        "--out",
        q.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let onnx = onnx_with_ops(
        &q.join("model.onnx"),
        &["QuantizeLinear", "DequantizeLinear", "Gemm"],
    );
    assert_eq!(export_again(&q, &dir.path().join("again.onnx")), onnx);
    // --predictions: one class per test digit.
    let preds = dir.path().join("p.txt");
    let out = torchlet(&[
        "eval",
        "--run",
        q.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&preds).unwrap();
    assert_eq!(text.lines().count(), 2000);
    assert!(text.lines().all(|l| l.parse::<u8>().is_ok_and(|c| c < 10)));
}
