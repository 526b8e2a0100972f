//! `torchlet bench`: times named workloads and reports them as a table or
//! as the workload runner's JSON lines.

mod common;

use common::{assert_one_line_error, stdout, torchlet};

#[test]
fn json_lines_carry_the_requested_steps_threads_and_throughput() {
    let out = torchlet(&[
        "bench",
        "matmul64",
        "add4m",
        "--steps",
        "3",
        "--threads",
        "1",
        "--json",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["workload"], "matmul64");
    assert_eq!(lines[1]["workload"], "add4m");
    for l in &lines {
        assert_eq!(l["threads"], 1);
        assert_eq!(l["steps"], 3);
        let (median, p10) = (
            l["median_ms"].as_f64().unwrap(),
            l["p10_ms"].as_f64().unwrap(),
        );
        assert!(median > 0.0 && p10 > 0.0 && p10 <= median, "{l}");
    }
    // Throughput follows from the median: 2·64³ FLOP per matmul step,
    // 3 × 4M floats moved per add step.
    let gflops = 2.0 * 64f64.powi(3) / (lines[0]["median_ms"].as_f64().unwrap() * 1e-3) / 1e9;
    assert!((lines[0]["gflops"].as_f64().unwrap() - gflops).abs() < 1e-3 * gflops + 1e-3);
    let gbs = 3.0 * 4.0 * (1 << 22) as f64 / (lines[1]["median_ms"].as_f64().unwrap() * 1e-3) / 1e9;
    assert!((lines[1]["gb_per_s"].as_f64().unwrap() - gbs).abs() < 1e-3 * gbs + 1e-3);
}

#[test]
fn table_and_list() {
    let out = torchlet(&["bench", "seed_b1", "--steps", "2"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let row = text.lines().find(|l| l.starts_with("seed_b1 ")).unwrap();
    assert_eq!(row.split_whitespace().nth(3), Some("2"), "{row}");

    let list = stdout(&torchlet(&["bench", "--list"]));
    for name in ["matmul1024", "lstm_b32", "loader_w2"] {
        assert!(
            list.lines().any(|l| l.starts_with(name)),
            "{name} not in {list}"
        );
    }
}

#[test]
fn unknown_workload_is_a_one_line_error() {
    let out = torchlet(&["bench", "matmul63"]);
    assert_one_line_error(&out, "unknown workload \"matmul63\"; known: matmul64");
}
