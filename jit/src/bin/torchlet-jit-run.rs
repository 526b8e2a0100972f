//! `torchlet-jit-run MODEL INPUTS OUTPUTS`: runs a saved script on the
//! tensors of a safetensors file and writes its outputs to another.
//!
//! `INPUTS` holds one tensor per graph input, under the input's name
//! (`x`, or `x0`, `x1`, ...); `OUTPUTS` gets `output0`, `output1`, ...
//! (written to a temporary name, then renamed). This program links the
//! jit and the layers beneath it, none of the code that defined the
//! model (no vision or text models): a `.tlj` file is all a deployment
//! needs. The jit's tests run it as a fresh process.

use std::path::Path;
use std::process::ExitCode;

use torchlet_tensor::io::{from_safetensors_bytes, to_safetensors_bytes, write_atomic, TensorMap};

fn run(model: &str, inputs: &str, outputs: &str) -> Result<(), String> {
    let script = torchlet_jit::load(model).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(inputs).map_err(|e| format!("{inputs}: {e}"))?;
    let (mut given, _) = from_safetensors_bytes(&bytes).map_err(|e| format!("{inputs}: {e}"))?;
    let xs = script
        .graph()
        .inputs
        .iter()
        .map(|spec| {
            given.remove(&spec.name).ok_or_else(|| {
                format!(
                    "{inputs} has no tensor named {} (the graph's input)",
                    spec.name
                )
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let ys = script.forward(&xs).map_err(|e| e.to_string())?;
    let out: TensorMap = ys
        .into_iter()
        .enumerate()
        .map(|(i, y)| (format!("output{i}"), y))
        .collect();
    let bytes = to_safetensors_bytes(&out, None).map_err(|e| e.to_string())?;
    write_atomic(Path::new(outputs), &bytes).map_err(|e| format!("{outputs}: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, inputs, outputs] = args.as_slice() else {
        eprintln!("usage: torchlet-jit-run MODEL.tlj INPUTS.safetensors OUTPUTS.safetensors");
        return ExitCode::from(2);
    };
    match run(model, inputs, outputs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("torchlet-jit-run: {e}");
            ExitCode::FAILURE
        }
    }
}
