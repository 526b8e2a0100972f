//! The `torchlet` binary end to end: train (MLP, 1 epoch, embedded MNIST),
//! eval, predict, and the one-line errors.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{accuracy_line, assert_one_line_error, stderr, stdout, torchlet};

struct Trained {
    _dir: tempfile::TempDir,
    run: PathBuf,
    stdout: String,
}

/// One training run shared by the tests (the first test to ask trains).
fn trained() -> &'static Trained {
    static RUN: OnceLock<Trained> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let out = torchlet(&[
            "train",
            "--model",
            "mlp",
            "--epochs",
            "1",
            "--out",
            run.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "train failed: {}", stderr(&out));
        Trained {
            _dir: dir,
            run,
            stdout: stdout(&out),
        }
    })
}

#[test]
fn train_writes_the_run_folder_and_reports_accuracy() {
    let t = trained();
    let line = accuracy_line(&t.stdout);
    assert_eq!(
        t.stdout.lines().last(),
        Some(line),
        "accuracy line comes last"
    );
    assert!(line.starts_with("test accuracy: 0."), "{line}");
    let acc: f64 = line["test accuracy: ".len()..].parse().unwrap();
    assert!(acc > 0.85, "{line}");
    assert_eq!(line.len(), "test accuracy: 0.XXXX".len());
    assert_eq!(
        t.stdout
            .lines()
            .filter(|l| l.starts_with("epoch 1/1:"))
            .count(),
        1
    );

    let mut files: Vec<String> = std::fs::read_dir(&t.run)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "config.json",
            "curves.png",
            "metrics.csv",
            "model.onnx",
            "model.safetensors"
        ],
        "exactly the five files, no temporary leftovers"
    );

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model"], "mlp");
    assert_eq!(config["optimizer"], "adam");
    assert_eq!(config["lr"], 0.001);
    assert_eq!(config["batch_size"], 64);
    assert_eq!(config["epochs"], 1);
    assert_eq!(config["seed"], 0);
    assert_eq!(config["num_classes"], 10);
    assert_eq!(config["dataset"]["name"], "mnist-embedded");
    assert_eq!(
        config["normalize"]["mean"][0].as_f64().unwrap() as f32,
        0.1307f32
    );

    let csv = std::fs::read_to_string(t.run.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "epoch,train_loss,train_acc,test_loss,test_acc,seconds"
    );
    assert_eq!(lines.len(), 2);
    let cells: Vec<f64> = lines[1].split(',').map(|c| c.parse().unwrap()).collect();
    assert_eq!(cells.len(), 6);
    assert!((cells[4] - acc).abs() < 1e-4);

    let png = image::open(t.run.join("curves.png")).unwrap();
    assert!(png.width() >= 600 && png.height() >= 300);
}

#[test]
fn eval_prints_the_same_accuracy_line() {
    let t = trained();
    let out = torchlet(&["eval", "--run", t.run.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim_end(), accuracy_line(&t.stdout));
}

/// Test image `index` of the embedded set as grey bytes and its label.
fn test_digit(index: usize) -> (Vec<u8>, i64) {
    let test = torchlet_vision::Mnist::embedded(false).unwrap();
    (
        test.image_bytes(index).to_vec(),
        test.labels()[index] as i64,
    )
}

fn save_png(path: &Path, bytes: Vec<u8>, side: u32) {
    image::GrayImage::from_raw(side, side, bytes)
        .unwrap()
        .save(path)
        .unwrap();
}

#[test]
fn predict_classifies_png_images_of_any_size() {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();
    let (digit, label) = test_digit(0);
    let plain = dir.path().join("digit.png");
    save_png(&plain, digit.clone(), 28);
    // The same digit at 56x56, dark on white (as drawn on paper).
    let big: Vec<u8> = (0..56 * 56)
        .map(|i| 255 - digit[(i / 56 / 2) * 28 + (i % 56) / 2])
        .collect();
    let paper = dir.path().join("paper.png");
    save_png(&paper, big, 56);

    let out = torchlet(&[
        "predict",
        "--run",
        t.run.to_str().unwrap(),
        plain.to_str().unwrap(),
        paper.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for line in &lines {
        assert!(line.contains(&format!("class {label} (p=")), "{line}");
        assert_eq!(line.matches(':').count(), 11, "{line}");
        let probs: f64 = line
            .split_whitespace()
            .filter_map(|w| w.split_once(':').and_then(|(_, p)| p.parse::<f64>().ok()))
            .sum();
        assert!((probs - 1.0).abs() < 1e-3, "{line}");
    }
}

#[test]
fn errors_are_one_line_with_a_non_zero_exit() {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("no-such-run");
    let out = torchlet(&["eval", "--run", missing.to_str().unwrap()]);
    assert_one_line_error(&out, "does not exist");
    let out = torchlet(&["predict", "--run", missing.to_str().unwrap(), "x.png"]);
    assert_one_line_error(&out, "does not exist");

    // A truncated checkpoint.
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::copy(t.run.join("config.json"), broken.join("config.json")).unwrap();
    let bytes = std::fs::read(t.run.join("model.safetensors")).unwrap();
    std::fs::write(broken.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let out = torchlet(&["eval", "--run", broken.to_str().unwrap()]);
    assert_one_line_error(&out, "model.safetensors");

    // A file that is not an image, and one that does not exist.
    let text = dir.path().join("note.png");
    std::fs::write(&text, "not an image").unwrap();
    let out = torchlet(&[
        "predict",
        "--run",
        t.run.to_str().unwrap(),
        text.to_str().unwrap(),
    ]);
    assert_one_line_error(&out, "note.png");
    let out = torchlet(&[
        "predict",
        "--run",
        t.run.to_str().unwrap(),
        "/no/such/image.png",
    ]);
    assert_one_line_error(&out, "image.png");
}

/// `torchlet export` writes the same graph `train` put in the run folder
/// (the numbers are checked against onnxruntime in CI), and rejects a bad
/// opset or a text run with one line.
#[test]
fn export_writes_the_run_as_onnx() {
    let t = trained();
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("mlp.onnx");
    let out = torchlet(&[
        "export",
        "--run",
        t.run.to_str().unwrap(),
        "--onnx",
        onnx.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&onnx).unwrap(),
        std::fs::read(t.run.join("model.onnx")).unwrap(),
        "export at the default opset reproduces the run's model.onnx"
    );
    let out = torchlet(&[
        "export",
        "--run",
        t.run.to_str().unwrap(),
        "--onnx",
        onnx.to_str().unwrap(),
        "--opset",
        "9",
    ]);
    assert_one_line_error(&out, "9");
    let out = torchlet(&["export", "--run", "/no/such/run", "--onnx", "x.onnx"]);
    assert_one_line_error(&out, "does not exist");
}
