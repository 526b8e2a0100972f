//! `torchlet jit` end to end: an MLP run (1 epoch) as a script file that
//! `eval --model` and `predict --model` run with the run's own results;
//! errors.

mod common;

use common::{accuracy, assert_one_line_error, digit_png, stderr, stdout, torchlet};

#[test]
fn a_script_evaluates_and_predicts_as_its_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let out = torchlet(&[
        "train", "--model", "mlp", "--epochs", "1", "--quiet", "--out", run_s,
    ]);
    assert!(out.status.success(), "train failed: {}", stderr(&out));

    let out = torchlet(&["jit", "--run", run_s, "--print"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("traced:\ngraph(%x : f32[*, 1, 28, 28]):"),
        "{text}"
    );
    assert!(
        text.contains("optimized:\ngraph(%x : f32[*, 1, 28, 28]):"),
        "{text}"
    );
    assert!(
        text.contains("aten::sub") && text.contains("aten::linear"),
        "{text}"
    );
    // The optimized MLP's Linear + ReLU run as GEMM epilogues.
    assert!(text.contains("torchlet::linear_epilogue"), "{text}");
    assert!(text.contains("memory plan at the traced shapes:"), "{text}");
    let script = run.join("model.tlj");
    assert!(text.contains("wrote") && script.is_file(), "{text}");
    let script_s = script.to_str().unwrap();

    let run_acc = accuracy(&stdout(&torchlet(&["eval", "--run", run_s])));
    let out = torchlet(&["eval", "--model", script_s]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(accuracy(&stdout(&out)), run_acc);

    let png = digit_png(dir.path());
    let png_s = png.to_str().unwrap();
    let by_run = stdout(&torchlet(&["predict", "--run", run_s, png_s]));
    let out = torchlet(&["predict", "--model", script_s, png_s]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The same class and probabilities to four places.
    assert_eq!(stdout(&out), by_run);
}

#[test]
fn bad_script_files_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.tlj");
    std::fs::write(&bad, b"TLJIT\0\r\n\x01\0\0\0 short").unwrap();
    let out = torchlet(&["eval", "--model", bad.to_str().unwrap()]);
    assert_one_line_error(&out, "truncated");
    let out = torchlet(&["predict", "--model", "/nonexistent.tlj", "x.png"]);
    assert_one_line_error(&out, "/nonexistent.tlj");
    let out = torchlet(&["jit", "--run", dir.path().join("none").to_str().unwrap()]);
    assert_one_line_error(&out, "does not exist");
}
