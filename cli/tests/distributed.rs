//! `torchlet train --local-ranks N`: a data-parallel run whose folder is
//! a normal run (eval reproduces its accuracy), printed once; bad
//! combinations refused in one line.

mod common;

use common::{accuracy, assert_one_line_error, stderr, stdout, torchlet};

#[test]
fn a_two_rank_run_prints_once_and_saves_a_normal_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let out = torchlet(&[
        "train",
        "--model",
        "lenet",
        "--epochs",
        "1",
        "--quiet",
        "--local-ranks",
        "2",
        "--out",
        run_s,
    ]);
    assert!(out.status.success(), "train failed: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("batch 64 (2 ranks x 32)"), "{text}");
    // Rank 0 alone prints the epoch line and the summary.
    assert_eq!(text.matches("epoch 1/1").count(), 1, "{text}");
    assert_eq!(text.matches("test accuracy:").count(), 1, "{text}");
    let trained = accuracy(&text);
    assert!(trained > 0.9, "{text}");
    for file in [
        "config.json",
        "metrics.csv",
        "model.safetensors",
        "model.onnx",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let out = torchlet(&["eval", "--run", run_s]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(accuracy(&stdout(&out)), trained);
}

#[test]
fn bad_data_parallel_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out_s = dir.path().join("r").to_str().unwrap().to_string();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--local-ranks", "2", "--batch-size", "63"],
            "--batch-size 63 does not split evenly across 2 ranks",
        ),
        (
            &["--local-ranks", "2", "--dataset", "fortunes"],
            "--local-ranks and --distributed train the MNIST models",
        ),
        (&["--local-ranks", "0"], "--local-ranks must be at least 1"),
        (&["--distributed"], "Backend::Mpi needs"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["train", "--epochs", "1", "--quiet", "--out", &out_s];
        args.extend_from_slice(extra);
        let out = torchlet(&args);
        if cfg!(feature = "mpi") && extra == ["--distributed"] {
            continue;
        }
        assert_one_line_error(&out, needle);
    }
}
