//! State-dict loading: safetensors bytes to named tensors (name, shape,
//! dtype), then into a LeNet-5 strictly and non-strictly.
#![no_main]

use torchlet_nn::state::{from_safetensors_bytes, load_state_dict};
use torchlet_vision::models::LeNet5;

thread_local! {
    static MODEL: LeNet5 = LeNet5::new().expect("LeNet-5 builds");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = torchlet_tensor::io::from_safetensors_bytes(data);
    let Ok(dict) = from_safetensors_bytes(data) else {
        return;
    };
    MODEL.with(|model| {
        let _ = load_state_dict(model, &dict, false);
        let _ = load_state_dict(model, &dict, true);
    });
});
