//! The ONNX check set (onnx-export/tests/common) through the jit: every
//! model the jit runs gives the eager outputs bit for bit at the traced
//! batch and others, also once saved and loaded.

#[path = "../../onnx-export/tests/common/models.rs"]
mod models;
#[path = "../../onnx-export/tests/common/zoo.rs"]
mod zoo;

use torchlet_autograd::no_grad;
use torchlet_jit::trace;

#[test]
fn check_models_give_eager_bits() {
    let mut ran = Vec::new();
    for m in models::all_models().unwrap() {
        let example = m.example(3, 1).data();
        let script = trace(m.module.as_ref(), std::slice::from_ref(&example))
            .unwrap_or_else(|e| panic!("{}: {e}", m.name));
        assert_eq!(script.graph().fixed_batch, None, "{}", m.name);
        // Saved and loaded, the script is the same graph and weights.
        let file = tempfile::NamedTempFile::new().unwrap();
        script.save(file.path()).unwrap();
        let script = torchlet_jit::load(file.path()).unwrap_or_else(|e| panic!("{}: {e}", m.name));
        for (n, seed) in [(3, 1), (5, 2), (1, 3)] {
            let x = m.example(n, seed);
            let want = no_grad(|| m.module.forward(&x)).unwrap().data();
            let got = script.forward(&[x.data()]).unwrap();
            let bits = |t: &torchlet_tensor::Tensor| -> Vec<u64> {
                t.to_dtype(torchlet_tensor::DType::F64)
                    .to_vec::<f64>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            };
            assert_eq!(got[0].shape(), want.shape(), "{} batch {n}", m.name);
            assert_eq!(bits(&got[0]), bits(&want), "{} batch {n}", m.name);
        }
        ran.push(m.name);
    }
    assert_eq!(
        ran,
        [
            "text_bag",
            "bag_max",
            "bag_sum",
            "text_lstm_packed",
            "text_gru_packed",
            "mlp",
            "lenet_bn",
            "resnet8",
            "text_lstm",
            "text_bigru",
            "transformer_encoder",
            "op_zoo"
        ]
    );
}
