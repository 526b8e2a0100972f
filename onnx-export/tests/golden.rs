//! The exported graphs do not change by accident: for every model of the
//! check set, at opsets 13 and 17, a fingerprint of the written file is
//! compared with `golden/structure.txt`.
//!
//! The fingerprint covers every byte of the file except the initializers'
//! values: nodes, their order, names and attributes, initializer names,
//! types and shapes, inputs, outputs and metadata. The values are left out
//! because the check models' BatchNorm statistics come from forward passes,
//! whose last bits may differ between CPUs (AVX2 and AVX-512 GEMM kernels);
//! `run_exported.rs` checks the values by running the files.
//!
//! After an intended change to the exporter's output, regenerate the file
//! and review its diff:
//!
//! ```sh
//! TORCHLET_BLESS=1 cargo test --release -p torchlet-onnx --test golden
//! ```

#[path = "common/models.rs"]
mod models;
#[path = "common/zoo.rs"]
mod zoo;

use prost::Message;
use torchlet_onnx::export;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/structure.txt");

/// FNV-1a, 64-bit.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `model_name opset fingerprint` for every check model, in order.
fn fingerprints() -> Vec<String> {
    let mut lines = Vec::new();
    for m in models::all_models().unwrap() {
        for opset in [13, 17] {
            // The options of examples/export_models.rs (what CI checks).
            let options = m.export_options(opset);
            let example = m.example(3, 1);
            let mut model = export(m.module.as_ref(), &example, &options)
                .unwrap_or_else(|e| panic!("{} at opset {opset}: {e}", m.name));
            let graph = model.graph.as_mut().expect("a graph");
            for init in &mut graph.initializer {
                init.raw_data = None;
            }
            lines.push(format!(
                "{} {opset} {:016x}",
                m.name,
                fnv1a(&model.encode_to_vec())
            ));
        }
    }
    lines
}

#[test]
fn exported_structure_matches_the_golden_file() {
    let got = fingerprints();
    if std::env::var_os("TORCHLET_BLESS").is_some() {
        std::fs::write(GOLDEN, got.join("\n") + "\n").unwrap();
        return;
    }
    let want = std::fs::read_to_string(GOLDEN)
        .unwrap_or_else(|e| panic!("{GOLDEN}: {e} (TORCHLET_BLESS=1 writes it)"));
    let want: Vec<&str> = want.lines().collect();
    let changed: Vec<String> = got
        .iter()
        .filter(|line| !want.contains(&line.as_str()))
        .cloned()
        .collect();
    assert!(
        changed.is_empty() && got.len() == want.len(),
        "exported graphs differ from {GOLDEN}: {changed:?} (after an intended change, \
         rerun with TORCHLET_BLESS=1 and review the diff)"
    );
}
