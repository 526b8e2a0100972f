//! `quantize_dynamic` on captured graphs: a padded-batch LSTM classifier
//! (embedding → packed LSTM → last hidden → Linear), its state dict, and
//! float parameters kept outside the quantized layers.

use torchlet_autograd::Variable;
use torchlet_nn::{
    lengths_from_padding, Embedding, Linear, Module, Result as NnResult, RnnOptions, LSTM,
};
use torchlet_quantize::{capture, load_quantized_dynamic, quantize_dynamic, DynamicKind, QOp};
use torchlet_tensor::Tensor;

const PAD: i64 = 0;

/// torchlet-text's RnnClassifier in small: padding id 0.
struct Classifier {
    embed: Embedding,
    lstm: LSTM,
    head: Linear,
}

impl Classifier {
    fn new(seed: u64) -> Classifier {
        torchlet_tensor::manual_seed(seed);
        let options = RnnOptions {
            bidirectional: true,
            batch_first: true,
            num_layers: 2,
            ..RnnOptions::default()
        };
        Classifier {
            embed: Embedding::with_options(30, 6, Some(PAD), None, 2.0).unwrap(),
            lstm: LSTM::with_options(6, 5, options).unwrap(),
            head: Linear::new(10, 3).unwrap(),
        }
    }
}

impl Module for Classifier {
    fn forward(&self, x: &Variable) -> NnResult<Variable> {
        let tokens = x.data();
        let lengths = lengths_from_padding(&tokens, PAD)?;
        let e = self.embed.forward_indices(&tokens)?;
        let (_, h_n, _) = self.lstm.forward_packed(&e, &lengths, None)?;
        let last = Variable::cat(&[h_n.select(0, -2)?, h_n.select(0, -1)?], -1)?;
        self.head.forward(&last)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![
            ("embed", &self.embed),
            ("lstm", &self.lstm),
            ("head", &self.head),
        ]
    }
}

fn tokens() -> Tensor {
    // Rows of lengths 5, 2, 4, 1 (right-padded with 0).
    let rows = [
        [3, 7, 1, 9, 4],
        [5, 2, 0, 0, 0],
        [8, 8, 6, 2, 0],
        [11, 0, 0, 0, 0],
    ];
    Tensor::from_vec(
        rows.concat()
            .into_iter()
            .map(|v| v as i64)
            .collect::<Vec<_>>(),
        &[4, 5],
    )
    .unwrap()
}

#[test]
fn a_packed_lstm_classifier_quantizes_dynamically_and_round_trips() {
    let model = Classifier::new(3);
    model.eval();
    let g = capture(&model, &tokens()).unwrap();
    let kinds: Vec<&str> = g.nodes().iter().map(|n| n.op.kind()).collect();
    assert_eq!(
        kinds,
        [
            "lengths_from_padding",
            "Embedding",
            "LSTM",
            "select",
            "select",
            "cat",
            "Linear"
        ]
    );
    let q = quantize_dynamic(&g, &[DynamicKind::Linear, DynamicKind::Lstm]).unwrap();
    assert!(matches!(q.nodes()[2].op, QOp::DynamicLstm(_)));
    assert!(matches!(q.nodes()[6].op, QOp::DynamicLinear(_)));

    let x = tokens();
    let want = model
        .forward(&Variable::constant(x.clone()))
        .unwrap()
        .data()
        .to_vec::<f32>()
        .unwrap();
    let got = q.run(&x).unwrap().to_vec::<f32>().unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 0.02, "{g} vs {w}");
    }

    // State dict: int8 LSTM weights under PyTorch's names, the float
    // embedding, bit-identical reload into a fresh (other-seed) model.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dyn.safetensors");
    q.save_safetensors(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let header = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).to_string();
    for key in [
        "lstm.weight_ih_l0_reverse",
        "lstm.weight_hh_l1_scale",
        "lstm.bias_ih_l1",
        "embed.weight",
        "head.weight_zero_point",
    ] {
        assert!(
            header.contains(&format!("\"{key}\"")),
            "{key} missing from {header}"
        );
    }
    let fresh = Classifier::new(99);
    fresh.eval();
    let g2 = capture(&fresh, &tokens()).unwrap();
    let back =
        load_quantized_dynamic(&g2, &[DynamicKind::Linear, DynamicKind::Lstm], &path).unwrap();
    assert_eq!(back.run(&x).unwrap().to_vec::<f32>().unwrap(), got);
    assert_eq!(back.to_safetensors_bytes().unwrap(), bytes);

    // Without DynamicKind::Lstm the LSTM has no form to run.
    let err = quantize_dynamic(&g, &[DynamicKind::Linear])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("lstm: an LSTM runs only dynamically quantized"),
        "{err}"
    );
    // Loading with another kind list reads other keys: refused by name.
    let err = load_quantized_dynamic(&g2, &[DynamicKind::Linear], &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("LSTM"), "{err}");
}

#[test]
fn static_quantization_refuses_text_ops_by_name() {
    let model = Classifier::new(1);
    model.eval();
    let g = capture(&model, &tokens()).unwrap();
    let err =
        torchlet_quantize::prepare(g, &torchlet_quantize::get_default_qconfig("x86").unwrap())
            .unwrap_err()
            .to_string();
    assert!(err.contains("has no static quantized form"), "{err}");
}
