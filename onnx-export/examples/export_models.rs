//! Exports the ONNX check set (torchlet-text's classifiers on padded
//! batches, MLP, LeNet-5 with BatchNorm, ResNet-8, LSTM and GRU text
//! models, a Transformer encoder layer, the op zoo) into a folder, with inputs and torchlet's outputs for
//! two batch sizes as `.npy`, and a `manifest.txt` for
//! `onnx-export/scripts/check_onnx.py`:
//!
//! ```sh
//! cargo run --release -p torchlet-onnx --example export_models -- OUT_DIR [--opset N]
//! python3 onnx-export/scripts/check_onnx.py OUT_DIR
//! ```

#[path = "../tests/common/models.rs"]
mod models;
#[path = "../tests/common/npy.rs"]
mod npy;
#[path = "../tests/common/zoo.rs"]
mod zoo;

use std::error::Error;
use std::path::PathBuf;

use torchlet_autograd::no_grad;
use torchlet_onnx::{export_to_file, DEFAULT_OPSET};

/// Batch sizes the checks run (the first is the traced example).
const BATCHES: [usize; 2] = [3, 5];
/// Sequence lengths for models with a sequence axis, per batch size.
const SEQ_LENS: [usize; 2] = [7, 11];

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut opset = DEFAULT_OPSET;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--opset" => opset = args.next().ok_or("--opset needs a value")?.parse()?,
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let dir = dir.ok_or("usage: export_models OUT_DIR [--opset N]")?;
    std::fs::create_dir_all(&dir)?;
    let mut manifest = String::new();
    let mut failures = 0;
    for m in models::all_models()? {
        let options = m.export_options(opset);
        let path = dir.join(format!("{}.onnx", m.name));
        let example = m.example(BATCHES[0], 1);
        if let Err(e) = export_to_file(m.module.as_ref(), &example, &path, &options) {
            eprintln!("FAIL {}: {e}", m.name);
            failures += 1;
            continue;
        }
        for (i, &n) in BATCHES.iter().enumerate() {
            let x = m.example_with_len(n, SEQ_LENS[i], 10 + i as u64);
            let y = no_grad(|| m.module.forward(&x))?;
            npy::write_npy(&dir.join(format!("{}_in_{i}.npy", m.name)), &x.data())?;
            npy::write_npy(&dir.join(format!("{}_out_{i}.npy", m.name)), &y.data())?;
        }
        manifest.push_str(m.name);
        manifest.push('\n');
        println!("exported {}", path.display());
    }
    failures += export_dynamic_int8(&dir, opset, &mut manifest)?;
    std::fs::write(dir.join("manifest.txt"), manifest)?;
    if failures > 0 {
        return Err(format!("{failures} model(s) failed to export").into());
    }
    Ok(())
}

/// The LSTM text models dynamically quantized (int8 LSTM and Linear
/// weights, inputs quantized at every call and step): onnxruntime runs the
/// same quantization in float arithmetic of its own, so a value within
/// float rounding of a half step may land on the other step; their
/// manifest lines carry a looser tolerance.
fn export_dynamic_int8(
    dir: &std::path::Path,
    opset: i64,
    manifest: &mut String,
) -> Result<usize, Box<dyn Error>> {
    use torchlet_onnx::{export_quantized_to_file, QuantizedExportOptions};
    use torchlet_quantize::{capture, quantize_dynamic, DynamicKind};
    let mut failures = 0;
    for m in models::all_models()? {
        if !m.name.starts_with("text_lstm") {
            continue;
        }
        let name = format!("{}_int8", m.name);
        let example = m.example(BATCHES[0], 1);
        let graph = capture(m.module.as_ref(), &example.data())?;
        let q = quantize_dynamic(&graph, &[DynamicKind::Linear, DynamicKind::Lstm])?;
        let options = QuantizedExportOptions {
            base: m.export_options(opset),
            ..QuantizedExportOptions::default()
        };
        let path = dir.join(format!("{name}.onnx"));
        let shape = example.data().shape().to_vec();
        if let Err(e) = export_quantized_to_file(&q, &shape, &path, &options) {
            eprintln!("FAIL {name}: {e}");
            failures += 1;
            continue;
        }
        for (i, &n) in BATCHES.iter().enumerate() {
            let x = m.example_with_len(n, SEQ_LENS[i], 10 + i as u64).data();
            npy::write_npy(&dir.join(format!("{name}_in_{i}.npy")), &x)?;
            npy::write_npy(&dir.join(format!("{name}_out_{i}.npy")), &q.run(&x)?)?;
        }
        manifest.push_str(&format!("{name} 1e-3\n"));
        println!("exported {}", path.display());
    }
    Ok(failures)
}
