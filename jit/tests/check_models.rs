//! The ONNX check set (onnx-export/tests/common) through the jit: every
//! model the jit runs gives the eager outputs bit for bit at the traced
//! batch and others (and, for sequence models traced with a free
//! sequence dim, at other lengths), also once saved and loaded.

#[path = "../../onnx-export/tests/common/models.rs"]
mod models;
#[path = "../../onnx-export/tests/common/zoo.rs"]
mod zoo;

use torchlet_autograd::no_grad;
use torchlet_jit::{trace_with, TraceOptions};

#[test]
fn check_models_give_eager_bits() {
    let mut ran = Vec::new();
    for m in models::all_models().unwrap() {
        let example = m.example(3, 1).data();
        let mut options = TraceOptions::default();
        if m.sequence {
            options = options.sequence_dim(0, 1);
        }
        let script = trace_with(m.module.as_ref(), std::slice::from_ref(&example), &options)
            .unwrap_or_else(|e| panic!("{}: {e}", m.name));
        assert_eq!(script.graph().fixed_batch, None, "{}", m.name);
        let sig = script.graph().inputs[0].signature();
        assert_eq!(sig.contains(", T"), m.sequence, "{}: {sig}", m.name);
        // Saved and loaded, the script is the same graph and weights.
        let file = tempfile::NamedTempFile::new().unwrap();
        script.save(file.path()).unwrap();
        let script = torchlet_jit::load(file.path()).unwrap_or_else(|e| panic!("{}: {e}", m.name));
        for (n, len, seed) in [(3, 0, 1), (5, 0, 2), (1, 0, 3), (4, 9, 4), (2, 1, 5)] {
            let x = if len == 0 {
                m.example(n, seed)
            } else {
                m.example_with_len(n, len, seed)
            };
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
