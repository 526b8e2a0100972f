//! `torchlet train --dataset karate --model gcn` and `eval` end to end.

mod common;

use common::{accuracy, assert_one_line_error, stderr, stdout, torchlet};

/// The default run: 200 full-graph steps on members 0 and 33 classify
/// at least 90% of the other 32 members; eval reloads the same number.
#[test]
fn gcn_classifies_the_karate_club_from_two_labels() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("gcn");
    let run_s = run.to_str().unwrap();
    let out = torchlet(&["train", "--dataset", "karate", "--quiet", "--out", run_s]);
    assert!(out.status.success(), "train failed: {}", stderr(&out));
    let text = stdout(&out);
    let acc = accuracy(&text);
    assert!(acc >= 0.90, "test accuracy {acc}\n{text}");
    assert!(
        text.contains("labelled members [0, 33], 32 test members"),
        "{text}"
    );
    // One line every 20 epochs, not 200.
    assert_eq!(text.lines().filter(|l| l.starts_with("epoch ")).count(), 10);
    for file in [
        "model.safetensors",
        "config.json",
        "metrics.csv",
        "curves.png",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 201, "{csv}");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["task"], "node-classification");
    assert_eq!(config["model"], "gcn");
    assert_eq!(config["labelled"], serde_json::json!([0, 33]));
    assert_eq!(config["dataset"]["test_samples"], 32);

    let eval = torchlet(&["eval", "--run", run_s]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert_eq!(accuracy(&stdout(&eval)), acc);

    let onnx = dir.path().join("gcn.onnx");
    let out = torchlet(&["export", "--run", run_s, "--onnx", onnx.to_str().unwrap()]);
    assert_one_line_error(&out, "no ONNX lowering");
    let out = torchlet(&["predict", "--run", run_s, "x.png"]);
    assert_one_line_error(&out, "is a graph run");
}

#[test]
fn graph_options_are_checked() {
    let out = torchlet(&["train", "--dataset", "karate", "--model", "mlp"]);
    assert_one_line_error(&out, "with --dataset karate use gcn");
    let out = torchlet(&["train", "--model", "gcn"]);
    assert_one_line_error(&out, "add --dataset karate");
    let out = torchlet(&["train", "--dataset", "karate", "--batch-size", "4"]);
    assert_one_line_error(&out, "--batch-size does not apply");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("edges.tsv"), "source\ttarget\n0\t9\n").unwrap();
    std::fs::write(
        dir.path().join("members.tsv"),
        "member\tfaction\n0\t0\n1\t1\n",
    )
    .unwrap();
    let out = torchlet(&[
        "train",
        "--dataset",
        "karate",
        "--data",
        dir.path().to_str().unwrap(),
    ]);
    assert_one_line_error(&out, "edges.tsv:2: edge 0 - 9 names a member outside 0..2");
}
