//! Running the `torchlet` binary and reading what it printed.

#![allow(dead_code)] // each test file uses a different part

use std::path::Path;
use std::process::{Command, Output};

pub mod http;

/// The `torchlet` binary cargo built for the tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_torchlet");

/// Runs `torchlet ARGS...`.
pub fn torchlet(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run torchlet")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The last `test accuracy: ...` line.
pub fn accuracy_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| l.starts_with("test accuracy: "))
        .unwrap_or_else(|| panic!("no accuracy line in:\n{text}"))
}

/// The number on the last `test accuracy: ...` line.
pub fn accuracy(text: &str) -> f64 {
    accuracy_line(text)["test accuracy: ".len()..]
        .parse()
        .unwrap()
}

/// A failure with one `error: ...` line on stderr containing `needle`,
/// and nothing on stdout.
pub fn assert_one_line_error(out: &Output, needle: &str) {
    assert!(!out.status.success());
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
    assert!(stdout(out).is_empty(), "{}", stdout(out));
}

/// A small fortunes-format folder: `n` texts per class.
pub fn tiny_fortunes(dir: &Path, n: usize) {
    let topics = [
        (
            "computers",
            "the program crashed and the computer lost my file",
        ),
        (
            "politics",
            "the senator voted against the new tax law again",
        ),
        (
            "science",
            "the physicist measured the speed of light in a lab",
        ),
        ("work", "my boss wants the report on his desk by monday"),
    ];
    for split in ["train", "test"] {
        let mut tsv = String::from("label\ttext\n");
        for i in 0..n {
            for (label, text) in topics {
                tsv.push_str(&format!("{label}\t{text} {i}\n"));
            }
        }
        std::fs::write(dir.join(format!("{split}.tsv")), tsv).unwrap();
    }
}

/// Writes the embedded MNIST test split's first digit as a 28x28 grey PNG
/// in `dir`; returns its path.
pub fn digit_png(dir: &Path) -> std::path::PathBuf {
    let test = torchlet_vision::Mnist::embedded(false).unwrap();
    let png = dir.join("digit.png");
    image::GrayImage::from_raw(28, 28, test.image_bytes(0).to_vec())
        .unwrap()
        .save(&png)
        .unwrap();
    png
}
