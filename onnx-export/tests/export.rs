//! The exported graphs' structure, metadata and errors.

use torchlet_autograd::{record, Variable};
use torchlet_nn::{
    AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, Module, ReLU,
    Result as NnResult, Sequential,
};
use torchlet_onnx::proto::tensor_shape_proto::dimension::Value as DimValue;
use torchlet_onnx::{export, ExportOptions, OnnxError};
use torchlet_tensor::Tensor;

fn ops(m: &torchlet_onnx::ModelProto) -> Vec<String> {
    let g = m.graph.as_ref().unwrap();
    g.node.iter().map(|n| n.op_type().to_string()).collect()
}

#[test]
fn mlp_graph_names_and_metadata() {
    let model = Sequential::new()
        .append(Flatten::new())
        .append(Linear::new(12, 8).unwrap())
        .append(ReLU)
        .append(Dropout::new(0.5).unwrap())
        .append(Linear::new(8, 3).unwrap());
    model.train();
    let x = Variable::constant(Tensor::rand(&[2, 3, 4]));
    let m = export(&model, &x, &ExportOptions::default()).unwrap();
    // Dropout is gone in eval; the training flag is restored.
    assert_eq!(ops(&m), ["Flatten", "Gemm", "Relu", "Gemm"]);
    assert!(model.is_training());
    let g = m.graph.as_ref().unwrap();
    let inits: Vec<&str> = g.initializer.iter().map(|t| t.name()).collect();
    assert_eq!(inits, ["1.weight", "1.bias", "4.weight", "4.bias"]);
    assert_eq!(m.opset_import[0].version(), 17);
    assert_eq!(m.ir_version(), 8);
    assert_eq!(m.producer_name(), "torchlet");
    assert_eq!(m.producer_version(), env!("CARGO_PKG_VERSION"));
    assert_eq!(g.input[0].name(), "input");
    assert_eq!(g.output[0].name(), "output");
    let dims = |v: &torchlet_onnx::proto::ValueInfoProto| -> Vec<DimValue> {
        match v.r#type.as_ref().unwrap().value.as_ref().unwrap() {
            torchlet_onnx::proto::type_proto::Value::TensorType(t) => t
                .shape
                .as_ref()
                .unwrap()
                .dim
                .iter()
                .map(|d| d.value.clone().unwrap())
                .collect(),
            _ => unreachable!(),
        }
    };
    assert_eq!(
        dims(&g.input[0]),
        [
            DimValue::DimParam("batch".into()),
            DimValue::DimValue(3),
            DimValue::DimValue(4)
        ]
    );
    assert_eq!(
        dims(&g.output[0]),
        [DimValue::DimParam("batch".into()), DimValue::DimValue(3)]
    );
    // the last node writes the graph output
    assert_eq!(g.node.last().unwrap().output, ["output"]);
}

#[test]
fn batch_norm_uses_buffers_by_name() {
    let model = Sequential::new()
        .append(Conv2d::new(1, 2, 3).unwrap())
        .append(BatchNorm2d::new(2).unwrap())
        .append(AdaptiveAvgPool2d::new([1, 1]));
    let x = Variable::constant(Tensor::rand(&[1, 1, 5, 5]));
    let m = export(&model, &x, &ExportOptions::with_opset(13)).unwrap();
    assert_eq!(ops(&m), ["Conv", "BatchNormalization", "GlobalAveragePool"]);
    let g = m.graph.as_ref().unwrap();
    let bn = &g.node[1];
    assert_eq!(
        bn.input,
        [
            "/Conv_1_output",
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var"
        ]
    );
    assert_eq!(m.ir_version(), 7);
}

/// A module whose op records a graph node without telling the tracer.
struct Custom;

impl Module for Custom {
    fn forward(&self, x: &Variable) -> NnResult<Variable> {
        let w = Variable::parameter(Tensor::ones(&[1]));
        let out = x.data().mul_scalar(3.0);
        Ok(record("MyCustomOp", out, &[x, &w], |c| {
            Ok(vec![Some(c.grad.clone()), None])
        }))
    }
}

#[test]
fn an_unmapped_op_fails_naming_it() {
    let x = Variable::constant(Tensor::rand(&[2, 3]));
    let err = export(&Custom, &x, &ExportOptions::default()).unwrap_err();
    assert!(matches!(err, OnnxError::Unsupported { ref op, .. } if op == "MyCustomOp"));
    assert!(err.to_string().contains("MyCustomOp"), "{err}");

    let pool = AdaptiveAvgPool2d::new([2, 2]);
    let x = Variable::constant(Tensor::rand(&[1, 1, 5, 5]));
    let err = export(&pool, &x, &ExportOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("aten::adaptive_avg_pool2d") && msg.contains("[5, 5]"),
        "{msg}"
    );
}

#[test]
fn opset_outside_the_range_is_an_error() {
    let x = Variable::constant(Tensor::rand(&[2, 3]));
    for opset in [12, 22] {
        let err = export(&ReLU, &x, &ExportOptions::with_opset(opset)).unwrap_err();
        assert!(matches!(err, OnnxError::Options(_)), "{err}");
    }
    // an identity model still has an output
    let m = export(&Dropout::new(0.1).unwrap(), &x, &ExportOptions::default()).unwrap();
    assert_eq!(ops(&m), ["Identity"]);
}

/// An LSTM run with per-sequence lengths given as numbers: they would be
/// constants in a graph, so the export refuses them (`forward_packed`
/// takes them as a graph value).
struct Packed(torchlet_nn::LSTM);

impl Module for Packed {
    fn forward(&self, x: &Variable) -> NnResult<Variable> {
        Ok(self.0.forward_with_lengths(x, &[2, 1], None)?.0)
    }
}

#[test]
fn rnn_with_lengths_as_numbers_is_an_error_not_a_wrong_graph() {
    let lstm =
        torchlet_nn::LSTM::with_options(3, 4, torchlet_nn::RnnOptions::default().batch_first(true))
            .unwrap();
    let x = Variable::constant(Tensor::rand(&[2, 2, 3]));
    let err = export(&Packed(lstm), &x, &ExportOptions::default()).unwrap_err();
    assert!(
        matches!(err, OnnxError::Unsupported { ref op, .. } if op.starts_with("RNN with lengths given as a slice")),
        "{err}"
    );
}

/// Lengths from the input's padding: one LSTM node whose sequence_lens
/// come from the graph input through the PaddedLengths ops.
#[test]
fn packed_lstm_takes_its_sequence_lens_from_the_input() {
    let options = torchlet_text::models::RnnClassifierOptions {
        pad_index: Some(0),
        ..Default::default()
    };
    let model = torchlet_text::models::RnnClassifier::new(20, 3, options).unwrap();
    let x = Variable::constant(Tensor::from_vec(vec![5i64, 3, 0, 9, 0, 0], &[2, 3]).unwrap());
    let m = export(&model, &x, &ExportOptions::default().with_sequence_axis()).unwrap();
    let g = m.graph.as_ref().unwrap();
    let lstm = g.node.iter().find(|n| n.op_type() == "LSTM").unwrap();
    let producer = |name: &str| g.node.iter().find(|n| n.output.iter().any(|o| o == name));
    // sequence_lens = Cast(Max(ReduceMax(...), 1)): computed from the input.
    let cast = producer(&lstm.input[4]).unwrap();
    assert_eq!(cast.op_type(), "Cast");
    assert_eq!(producer(&cast.input[0]).unwrap().op_type(), "Max");
    let kinds = ops(&m);
    for op in ["Equal", "Not", "Range", "ReduceMax", "Cast"] {
        assert!(kinds.contains(&op.to_string()), "{op} not in {kinds:?}");
    }
}

/// Lengths computed from a constant, not from the input: exporting would
/// freeze them, so the export refuses.
struct ConstantLengths(torchlet_nn::GRU);

impl Module for ConstantLengths {
    fn forward(&self, x: &Variable) -> NnResult<Variable> {
        let fixed = Tensor::from_vec(vec![4i64, 4, 0, 4, 0, 0], &[2, 3]).unwrap();
        let lengths = torchlet_nn::lengths_from_padding(&fixed, 0)?;
        Ok(self.0.forward_packed(x, &lengths, None)?.0)
    }
}

#[test]
fn lengths_from_a_constant_are_an_error_not_frozen() {
    let gru =
        torchlet_nn::GRU::with_options(3, 4, torchlet_nn::RnnOptions::default().batch_first(true))
            .unwrap();
    let x = Variable::constant(Tensor::rand(&[2, 3, 3]));
    let err = export(&ConstantLengths(gru), &x, &ExportOptions::default()).unwrap_err();
    assert!(err.to_string().contains("constants of the trace"), "{err}");
}

/// EmbeddingBag over offsets has no mapping: refused by name.
struct OffsetBags(torchlet_nn::EmbeddingBag);

impl Module for OffsetBags {
    fn forward(&self, x: &Variable) -> NnResult<Variable> {
        let offsets = Tensor::from_vec(vec![0i64, 2], &[2]).unwrap();
        self.0.forward_bags(&x.data(), Some(&offsets), None)
    }
}

#[test]
fn embedding_bag_with_offsets_is_an_error_not_a_wrong_graph() {
    let bag = torchlet_nn::EmbeddingBag::with_padding(10, 4, torchlet_nn::BagMode::Mean, Some(0))
        .unwrap();
    let x = Variable::constant(Tensor::from_vec(vec![5i64, 3, 0, 9, 0, 0], &[6]).unwrap());
    let err = export(&OffsetBags(bag), &x, &ExportOptions::default()).unwrap_err();
    assert!(
        matches!(err, OnnxError::Unsupported { ref op, .. } if op.starts_with("EmbeddingBag with offsets")),
        "{err}"
    );
}

#[test]
fn embedding_with_padding_is_one_gather_whatever_the_example() {
    let emb = torchlet_nn::Embedding::with_padding(10, 4, Some(0)).unwrap();
    let x = Variable::constant(Tensor::from_vec(vec![0i64, 3, 0, 9], &[2, 2]).unwrap());
    let m = export(&emb, &x, &ExportOptions::default().with_sequence_axis()).unwrap();
    assert_eq!(ops(&m), ["Gather"]);
    let g = m.graph.as_ref().unwrap();
    let inits: Vec<&str> = g.initializer.iter().map(|t| t.name()).collect();
    assert_eq!(inits, ["weight"]);
    assert_eq!(g.node[0].input, ["weight", "input"]);
}

#[test]
fn attention_exports_its_decomposition_without_dead_nodes() {
    let mha = torchlet_nn::MultiheadAttention::new(8, 2).unwrap();
    let x = Variable::constant(Tensor::rand(&[5, 3, 8])); // [L, N, E]
    let mut options = ExportOptions::default();
    options.input_dynamic_axes = vec![(0, "sequence".into()), (1, "batch".into())];
    options.output_dynamic_axes = options.input_dynamic_axes.clone();
    let m = export(&mha, &x, &options).unwrap();
    let kinds = ops(&m);
    // the averaged attention weights are not an output: pruned
    assert!(!kinds.contains(&"ReduceMean".to_string()), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "Softmax").count(), 1);
    let g = m.graph.as_ref().unwrap();
    let inits: Vec<&str> = g.initializer.iter().map(|t| t.name()).collect();
    for want in [
        "in_proj_weight",
        "in_proj_bias",
        "out_proj.weight",
        "out_proj.bias",
    ] {
        assert!(inits.contains(&want), "{want} not in {inits:?}");
    }
}
