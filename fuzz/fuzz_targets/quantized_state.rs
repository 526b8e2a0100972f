//! Quantized state dicts (`torchlet quantize`'s int8 model.safetensors):
//! loaded into a prepared LeNet-5, then run.
#![no_main]

use torchlet_quantize::{
    capture, fuse_modules, get_default_qconfig, load_quantized_bytes, prepare, PreparedModel,
};
use torchlet_tensor::Tensor;
use torchlet_vision::models::LeNet5;

fn prepared() -> PreparedModel {
    let model = LeNet5::new().expect("LeNet-5 builds");
    let mut graph = capture(&model, &Tensor::zeros(&[1, 1, 28, 28])).expect("LeNet-5 captures");
    let groups = graph.fusable_groups();
    fuse_modules(&mut graph, &groups).expect("its groups fuse");
    prepare(graph, &get_default_qconfig("x86").expect("x86 qconfig")).expect("it prepares")
}

thread_local! {
    static PREPARED: PreparedModel = prepared();
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    PREPARED.with(|p| {
        if let Ok(q) = load_quantized_bytes(p, data) {
            let _ = q.run(&Tensor::zeros(&[2, 1, 28, 28]));
        }
    });
});
