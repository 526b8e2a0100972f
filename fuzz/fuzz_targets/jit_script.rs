//! Saved jit scripts (`torchlet jit`'s files): loaded, then run on an
//! input of the shape the script was traced with.
#![no_main]

use torchlet_jit::ScriptModule;
use torchlet_tensor::Tensor;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(script) = ScriptModule::from_bytes(data) else {
        return;
    };
    let _ = script.forward(&[Tensor::zeros(&[1, 1, 28, 28])]);
    let _ = script.forward(&[Tensor::zeros(&[2, 4])]);
    let _ = script.forward(&[]);
});
