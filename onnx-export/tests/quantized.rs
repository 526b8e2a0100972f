//! Quantized models (torchlet-quantize's `convert`) exported as ONNX QDQ
//! graphs: their structure, and the written files run by the test's ONNX
//! interpreter (`common/interp.rs`, ONNX's QuantizeLinear /
//! DequantizeLinear semantics) against the int8 model's own outputs.

#[path = "common/interp.rs"]
mod interp;

#[path = "../../quantize/tests/common/mod.rs"]
mod small_model;

use small_model::{input, Small};

use std::sync::Mutex;

use torchlet_autograd::Variable;
use torchlet_nn::{Conv2d, Conv2dOptions, Linear, Module, Result as NnResult};
use torchlet_onnx::proto::{ModelProto, NodeProto, TensorProto};
use torchlet_onnx::{
    export_quantized, export_quantized_to_file, read_model, OnnxError, QuantizedExportOptions,
};
use torchlet_quantize::{
    capture, convert, fuse_modules, get_default_qconfig, prepare, quantize_dynamic, DeQuantStub,
    DynamicKind, QOp, QuantStub, QuantizedModel,
};
use torchlet_tensor::Tensor;

/// Residual add (with ReLU), cat, adaptive pooling, reshapes and a linear
/// layer on a 3-d input.
struct Branchy {
    conv1: Conv2d,
    conv2: Conv2d,
    fc: Linear,
}

impl Module for Branchy {
    fn forward(&self, x: &Variable) -> NnResult<Variable> {
        let y = self.conv1.forward(x)?.relu();
        let z = self.conv2.forward(&y)?.add(&y)?.relu();
        let c = Variable::cat(&[&y, &z], 1)?.adaptive_avg_pool2d([2, 2])?;
        let h = c.flatten(1, -1)?.reshape(&[-1, 2, 16])?;
        Ok(self.fc.forward(&h)?.reshape(&[-1, 6])?)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![
            ("conv1", &self.conv1),
            ("conv2", &self.conv2),
            ("fc", &self.fc),
        ]
    }
}

/// A float conv, a quantized linear between the stubs, a float head.
struct Stubbed {
    conv: Conv2d,
    fc: Linear,
    head: Linear,
}

impl Module for Stubbed {
    fn forward(&self, x: &Variable) -> NnResult<Variable> {
        let y = self.conv.forward(x)?.flatten(1, -1)?;
        let y = DeQuantStub.forward(&self.fc.forward(&QuantStub.forward(&y)?)?)?;
        self.head.forward(&y)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![("conv", &self.conv), ("fc", &self.fc), ("head", &self.head)]
    }
}

/// `[n, 1, 8, 8]` inputs in about [-0.6, 1.4].
/// capture → fuse → prepare (PyTorch's x86 qconfig) → calibrate → convert.
fn quantize(model: &dyn Module, fuse: &[[&str; 2]]) -> QuantizedModel {
    let mut g = capture(model, &input(2, 0)).unwrap();
    fuse_modules(&mut g, fuse).unwrap();
    let prepared = prepare(g, &get_default_qconfig("x86").unwrap()).unwrap();
    for i in 0..4 {
        prepared
            .forward(&Variable::constant(input(32, 10 + i)))
            .unwrap();
    }
    convert(&prepared).unwrap()
}

/// Held while a test seeds the global generator and builds its model, so
/// tests running in parallel get the same weights every time.
static SEEDED: Mutex<()> = Mutex::new(());

fn small() -> QuantizedModel {
    let _seeded = SEEDED.lock().unwrap();
    quantize(&Small::new(), &[["conv", "bn"]])
}

fn branchy() -> QuantizedModel {
    let _seeded = SEEDED.lock().unwrap();
    torchlet_tensor::manual_seed(11);
    let opts = Conv2dOptions::default().padding(1);
    let model = Branchy {
        conv1: Conv2d::with_options(1, 4, [3, 3], opts).unwrap(),
        conv2: Conv2d::with_options(4, 4, [3, 3], opts).unwrap(),
        fc: Linear::new(16, 3).unwrap(),
    };
    quantize(&model, &[])
}

/// The float `Stubbed` model with seed 3 (hold `SEEDED`).
fn stubbed_float() -> Stubbed {
    torchlet_tensor::manual_seed(3);
    Stubbed {
        conv: Conv2d::new(1, 2, 3).unwrap(),
        fc: Linear::new(72, 8).unwrap(),
        head: Linear::new(8, 2).unwrap(),
    }
}

fn stubbed() -> (QuantizedModel, Tensor) {
    let _seeded = SEEDED.lock().unwrap();
    let model = stubbed_float();
    let head = model.head.named_parameters()[0].1.data();
    (quantize(&model, &[]), head)
}

fn graph(m: &ModelProto) -> &torchlet_onnx::proto::GraphProto {
    m.graph.as_ref().unwrap()
}

fn ops(m: &ModelProto) -> Vec<&str> {
    graph(m).node.iter().map(|n| n.op_type()).collect()
}

fn init<'a>(m: &'a ModelProto, name: &str) -> &'a TensorProto {
    let found = graph(m).initializer.iter().find(|t| t.name() == name);
    found.unwrap_or_else(|| panic!("no initializer {name}"))
}

fn producer<'a>(m: &'a ModelProto, value: &str) -> &'a NodeProto {
    let found = graph(m)
        .node
        .iter()
        .find(|n| n.output.iter().any(|o| o == value));
    found.unwrap_or_else(|| panic!("nothing writes {value}"))
}

/// The last quantized op's output step (the output's resolution).
fn out_step(q: &QuantizedModel) -> f32 {
    let step = q.nodes().iter().rev().find_map(|n| match &n.op {
        QOp::Conv2d { params, .. } | QOp::Linear { params, .. } => Some(params.scale),
        QOp::Add { scale, .. } | QOp::Cat { scale, .. } => Some(*scale),
        _ => None,
    });
    step.unwrap() as f32
}

fn argmax_rows(t: &Tensor) -> Vec<usize> {
    let cols = *t.shape().last().unwrap();
    let v = t.to_vec::<f32>().unwrap();
    v.chunks(cols)
        .map(|r| (0..cols).fold(0, |b, i| if r[i] > r[b] { i } else { b }))
        .collect()
}

/// Writes the model at each opset, reads it back and runs it with the
/// interpreter on 64 inputs: the same predictions as the int8 model and
/// outputs within `tol`.
fn runs_like_torchlet(q: &QuantizedModel, tol: f32, options: &QuantizedExportOptions) {
    let dir = tempfile::tempdir().unwrap();
    let normalize = &options.normalize;
    for opset in [13, 17, 21] {
        let mut options = options.clone();
        options.base.opset = opset;
        let path = dir.path().join(format!("q{opset}.onnx"));
        export_quantized_to_file(q, &[1, 1, 8, 8], &path, &options).unwrap();
        let model = read_model(&path).unwrap();
        for (n, seed) in [(64, 100), (3, 101)] {
            let raw = input(n, seed);
            let x = match &normalize {
                Some((m, s)) => {
                    let m = Tensor::from_vec(m.clone(), &[1, m.len(), 1, 1]).unwrap();
                    let s = Tensor::from_vec(s.clone(), &[1, s.len(), 1, 1]).unwrap();
                    raw.sub(&m).unwrap().div(&s).unwrap()
                }
                None => raw.clone(),
            };
            let want = q.run(&x).unwrap();
            let got = interp::run(&model, &raw).unwrap_or_else(|e| panic!("opset {opset}: {e}"));
            assert_eq!(got.shape(), want.shape());
            let diff = interp::max_abs_diff(&got, &want);
            assert!(
                diff <= tol,
                "opset {opset}, batch {n}: max abs diff {diff} > {tol}"
            );
            assert_eq!(argmax_rows(&got), argmax_rows(&want), "opset {opset}");
        }
    }
}

#[test]
fn small_model_is_a_qdq_graph_with_int8_weights() {
    let q = small();
    let m = export_quantized(&q, &[1, 1, 8, 8], &QuantizedExportOptions::default()).unwrap();
    let (qdq, dq) = ("QuantizeLinear", "DequantizeLinear");
    #[rustfmt::skip]
    let want = [
        qdq, dq,                                       // the input
        dq, "Conv", "Add", "Relu", qdq, dq,            // conv + bn + relu, fused
        "MaxPool", qdq, dq,
        "Flatten", qdq, dq,
        dq, "Gemm", "Add", "Relu", qdq, dq,            // fc1 + relu
        dq, "Gemm", "Add", qdq, dq,                    // fc2
    ];
    assert_eq!(ops(&m), want);
    assert_eq!(m.opset_import[0].version(), 17);
    let g = graph(&m);
    assert_eq!(g.input[0].name(), "input");
    assert_eq!(g.output[0].name(), "output");
    assert_eq!(g.node.last().unwrap().output, ["output"]);

    // Weights: int8, per output channel (axis 0), zero points int8.
    let w = init(&m, "conv.weight");
    assert_eq!((w.data_type(), &w.dims[..]), (3, &[4, 1, 3, 3][..]));
    assert_eq!(w.raw_data().len(), 36);
    let ws = init(&m, "conv.weight_scale");
    assert_eq!((ws.data_type(), &ws.dims[..]), (1, &[4][..]));
    let wz = init(&m, "conv.weight_zero_point");
    assert_eq!((wz.data_type(), &wz.dims[..]), (3, &[4][..]));
    assert_eq!(producer(&m, "output").op_type(), dq);
    let conv = g.node.iter().find(|n| n.op_type() == "Conv").unwrap();
    let wdq = producer(&m, &conv.input[1]);
    assert_eq!(wdq.op_type(), dq);
    assert_eq!(
        wdq.input,
        ["conv.weight", "conv.weight_scale", "conv.weight_zero_point"]
    );
    let axis = wdq.attribute.iter().find(|a| a.name() == "axis").unwrap();
    assert_eq!(axis.i(), 0);
    // The float bias is added after the conv (shaped [C, 1, 1]), or is
    // its bias input with `bias_input`.
    let add = g
        .node
        .iter()
        .find(|n| n.input[0] == conv.output[0])
        .unwrap();
    assert_eq!((add.op_type(), &add.input[1][..]), ("Add", "conv.bias"));
    let b = init(&m, "conv.bias");
    assert_eq!((b.data_type(), &b.dims[..]), (1, &[4, 1, 1][..]));
    let options = QuantizedExportOptions {
        bias_input: true,
        ..Default::default()
    };
    let m2 = export_quantized(&q, &[1, 1, 8, 8], &options).unwrap();
    assert!(!ops(&m2).contains(&"Add"));
    let conv2 = graph(&m2).node.iter().find(|n| n.op_type() == "Conv");
    assert_eq!(conv2.unwrap().input[2], "conv.bias");
    assert_eq!(init(&m2, "conv.bias").dims, [4]);
    // The int8 values are the model's.
    let QOp::Conv2d { params, .. } = &q.nodes()[1].op else {
        panic!("{:?}", q.nodes()[1].op)
    };
    let bytes: Vec<i8> = w.raw_data().iter().map(|&b| b as i8).collect();
    assert_eq!(bytes, params.weight.as_i8().unwrap());

    // Activations: float scale, uint8 zero point, 0-d; the input's is `quant`.
    for name in ["quant", "conv", "fc1", "fc2"] {
        let s = init(&m, &format!("{name}.scale"));
        let z = init(&m, &format!("{name}.zero_point"));
        assert_eq!((s.data_type(), s.dims.len()), (1, 0), "{name}");
        assert_eq!((z.data_type(), z.dims.len(), z.raw_data().len()), (2, 0, 1));
    }
    let QOp::Quantize { scale, zero_point } = q.nodes()[0].op else {
        panic!()
    };
    let zp = init(&m, "quant.zero_point").raw_data()[0];
    assert_eq!(zp as i64, zero_point);
    let s = init(&m, "quant.scale").raw_data();
    assert_eq!(f32::from_le_bytes(s.try_into().unwrap()), scale as f32);
    // MaxPool and Flatten keep the conv's parameters.
    let maxpool_q = g
        .node
        .iter()
        .position(|n| n.op_type() == "MaxPool")
        .unwrap()
        + 1;
    assert_eq!(
        g.node[maxpool_q].input[1..],
        ["conv.scale", "conv.zero_point"]
    );
}

#[test]
fn small_model_runs_like_the_int8_model() {
    let q = small();
    for bias_input in [false, true] {
        let options = QuantizedExportOptions {
            bias_input,
            ..Default::default()
        };
        runs_like_torchlet(&q, out_step(&q) + 1e-6, &options);
    }
}

#[test]
fn add_cat_pooling_and_reshapes_run_like_the_int8_model() {
    let q = branchy();
    let m = export_quantized(&q, &[2, 1, 8, 8], &QuantizedExportOptions::default()).unwrap();
    let ops = ops(&m);
    for op in [
        "Add",
        "Concat",
        "AveragePool",
        "Reshape",
        "MatMul",
        "Transpose",
    ] {
        assert!(ops.contains(&op), "{op} in {ops:?}");
    }
    runs_like_torchlet(&q, out_step(&q) + 1e-6, &Default::default());
}

#[test]
fn float_regions_stay_float() {
    let (q, head) = stubbed();
    let m = export_quantized(&q, &[1, 1, 8, 8], &QuantizedExportOptions::default()).unwrap();
    let (qdq, dq) = ("QuantizeLinear", "DequantizeLinear");
    assert_eq!(
        ops(&m),
        ["Conv", "Flatten", qdq, dq, dq, "Gemm", "Add", qdq, dq, "Gemm"]
    );
    assert_eq!(init(&m, "conv.weight").data_type(), 1);
    assert_eq!(init(&m, "fc.weight").data_type(), 3);
    // One step of fc's output moves the head's outputs by at most its
    // largest absolute row sum.
    let cols = head.shape()[1];
    let w = head.to_vec::<f32>().unwrap();
    let row_sums = w
        .chunks(cols)
        .map(|r| r.iter().map(|v| v.abs()).sum::<f32>());
    let fc_step = q.weighted()["fc"].scale as f32;
    let tol = fc_step * row_sums.fold(0.0, f32::max) + 1e-5;
    runs_like_torchlet(&q, tol, &Default::default());
}

#[test]
fn normalization_is_folded_in_front() {
    let q = small();
    let mut options = QuantizedExportOptions {
        normalize: Some((vec![0.25], vec![0.5])),
        ..Default::default()
    };
    let m = export_quantized(&q, &[1, 1, 8, 8], &options).unwrap();
    assert_eq!(ops(&m)[..3], ["Sub", "Div", "QuantizeLinear"]);
    assert_eq!(graph(&m).node[0].input[0], "input");
    runs_like_torchlet(&q, out_step(&q) + 1e-6, &options);

    options.normalize = Some((vec![0.1, 0.2], vec![1.0]));
    let e = export_quantized(&q, &[1, 1, 8, 8], &options).unwrap_err();
    assert!(
        e.to_string().contains("2 values for 1 input channels"),
        "{e}"
    );
}

#[test]
fn batch_is_dynamic_and_options_are_checked() {
    use torchlet_onnx::proto::tensor_shape_proto::dimension::Value as Dim;
    use torchlet_onnx::proto::type_proto::Value;
    let q = small();
    let m = export_quantized(&q, &[5, 1, 8, 8], &QuantizedExportOptions::default()).unwrap();
    let g = graph(&m);
    for (v, rest) in [(&g.input[0], vec![1, 8, 8]), (&g.output[0], vec![3])] {
        let Some(Value::TensorType(t)) = &v.r#type.as_ref().unwrap().value else {
            panic!()
        };
        let dims: Vec<Dim> = t
            .shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .map(|d| d.value.clone().unwrap())
            .collect();
        let mut want = vec![Dim::DimParam("batch".into())];
        want.extend(rest.into_iter().map(Dim::DimValue));
        assert_eq!(dims, want);
    }
    let e = export_quantized(&q, &[1, 1, 8, 8], &QuantizedExportOptions::with_opset(12));
    assert!(matches!(e, Err(OnnxError::Options(_))), "{e:?}");
}

#[test]
fn adaptive_pooling_with_unequal_windows_is_refused_by_name() {
    let q = branchy();
    // 9x9 → conv (same size) → pooled to 2x2: windows of 5 and 4.
    let e = export_quantized(&q, &[1, 1, 9, 9], &QuantizedExportOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, OnnxError::Unsupported { .. }), "{msg}");
    assert!(msg.contains("adaptive") && msg.contains("[9, 9]"), "{msg}");
}

/// Before conversion the stubs are identities: the float model exports
/// through the ordinary tracer with an `Identity` for each.
#[test]
fn a_float_model_with_stubs_exports_them_as_identities() {
    let model = {
        let _seeded = SEEDED.lock().unwrap();
        stubbed_float()
    };
    let x = Variable::constant(input(2, 1));
    let proto =
        torchlet_onnx::export(&model, &x, &torchlet_onnx::ExportOptions::default()).unwrap();
    let identities = ops(&proto).iter().filter(|&&o| o == "Identity").count();
    assert_eq!(identities, 2, "{:?}", ops(&proto));
}

/// Dynamic quantization of the Linear layers: each input is quantized
/// from its own range in the graph (`ReduceMin`/`ReduceMax` → scale and
/// zero point → Q → DQ), the weights are int8 initializers, the outputs
/// float; the file runs like the int8 model.
#[test]
fn dynamic_linear_layers_export_with_their_input_ranges_in_the_graph() {
    let q = {
        let _seeded = SEEDED.lock().unwrap();
        let g = capture(&stubbed_float(), &input(2, 0)).unwrap();
        quantize_dynamic(&g, &[DynamicKind::Linear]).unwrap()
    };
    let dynamic = q
        .nodes()
        .iter()
        .filter(|n| matches!(n.op, QOp::DynamicLinear(_)));
    assert_eq!(dynamic.count(), 2);
    let m = export_quantized(&q, &[1, 1, 8, 8], &QuantizedExportOptions::default()).unwrap();
    let names = ops(&m);
    for op in [
        "ReduceMin",
        "ReduceMax",
        "Reciprocal",
        "DequantizeLinear",
        "Gemm",
        "Conv",
    ] {
        assert!(names.contains(&op), "{op} missing: {names:?}");
    }
    // int8 weights, per tensor, symmetric.
    for layer in ["fc", "head"] {
        let w = init(&m, &format!("{layer}.weight"));
        assert_eq!(
            w.data_type(),
            torchlet_onnx::proto::tensor_proto::DataType::Int8 as i32
        );
        assert_eq!(
            init(&m, &format!("{layer}.weight_zero_point")).dims,
            Vec::<i64>::new()
        );
    }
    // Float outputs, equal up to the float rounding of the products (a
    // runtime sums dequantized floats, torchlet exact integers).
    runs_like_torchlet(&q, 1e-5, &QuantizedExportOptions::default());
}

/// A dynamically quantized text LSTM (2 layers, bidirectional, padded
/// rows read up to their lengths): tokens in, the LSTM as one `Scan` per
/// layer and direction; the file runs like the int8 model at each opset.
#[test]
fn a_dynamic_lstm_exports_as_scans_that_run_like_the_int8_model() {
    use torchlet_text::models::{RecurrentKind, RnnClassifier, RnnClassifierOptions};
    let (q, inputs) = {
        let _seeded = SEEDED.lock().unwrap();
        torchlet_tensor::manual_seed(5);
        let options = RnnClassifierOptions {
            kind: RecurrentKind::Lstm,
            embed_dim: 12,
            hidden_size: 10,
            num_layers: 2,
            bidirectional: true,
            dropout: 0.0,
            pad_index: Some(1),
        };
        let model = RnnClassifier::new(40, 3, options).unwrap();
        model.eval();
        let ids = |n: usize, t: usize, lens: &[usize]| {
            let v = (0..n * t)
                .map(|e| {
                    if e % t < lens[e / t] {
                        2 + (e * 7 % 37) as i64
                    } else {
                        1
                    }
                })
                .collect();
            Tensor::from_vec(v, &[n, t]).unwrap()
        };
        let g = capture(&model, &ids(2, 4, &[4, 2])).unwrap();
        let q = quantize_dynamic(&g, &[DynamicKind::Linear, DynamicKind::Lstm]).unwrap();
        (q, [ids(4, 6, &[6, 3, 1, 5]), ids(1, 9, &[9])])
    };
    let dir = tempfile::tempdir().unwrap();
    for opset in [13, 17, 21] {
        let mut options = QuantizedExportOptions::with_opset(opset);
        options.base = options.base.with_sequence_axis();
        let path = dir.path().join(format!("lstm{opset}.onnx"));
        export_quantized_to_file(&q, &[2, 4], &path, &options).unwrap();
        let model = read_model(&path).unwrap();
        let scans = ops(&model).iter().filter(|&&o| o == "Scan").count();
        assert_eq!(scans, 4, "one Scan per layer and direction");
        assert_eq!(
            init(&model, "lstm.weight_hh_l1_reverse").data_type(),
            3,
            "int8"
        );
        for x in &inputs {
            let want = q.run(x).unwrap();
            let got = interp::run(&model, x).unwrap_or_else(|e| panic!("opset {opset}: {e}"));
            assert_eq!(got.shape(), want.shape());
            let diff = interp::max_abs_diff(&got, &want);
            assert!(
                diff <= 1e-5,
                "opset {opset}, input {:?}: max abs diff {diff}",
                x.shape()
            );
        }
    }
}
