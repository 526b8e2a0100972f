//! `torchlet export` as an example binary, until the subcommand is wired
//! into the CLI (CI uses it to check a trained run in onnxruntime):
//!
//! ```sh
//! cargo run --release -p torchlet-cli --example export_run -- --run DIR --onnx FILE [--opset N]
//! ```

#[allow(dead_code, unused_imports)]
#[path = "../src/run.rs"]
mod run;

#[allow(dead_code)]
#[path = "../src/export.rs"]
mod export;

use std::path::PathBuf;

fn main() -> Result<(), run::BoxError> {
    let mut args = std::env::args().skip(1);
    let (mut run_dir, mut onnx, mut opset) = (None, None, torchlet_onnx::DEFAULT_OPSET);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--run" => run_dir = Some(PathBuf::from(value()?)),
            "--onnx" => onnx = Some(PathBuf::from(value()?)),
            "--opset" => opset = value()?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let usage = "usage: export_run --run DIR --onnx FILE [--opset N]";
    let (run_dir, onnx) = (run_dir.ok_or(usage)?, onnx.ok_or(usage)?);
    export::export_run(&run_dir, &onnx, opset)?;
    println!("wrote {}", onnx.display());
    Ok(())
}
