//! The eager-mode workflow on captured graphs: fuse → prepare → calibrate
//! → convert, prepare_qat, stubs, and the errors on the way.

use torchlet_autograd::Variable;
use torchlet_nn::{BatchNorm2d, Conv2d, Conv2dOptions, Linear, Module, Result as NnResult};
use torchlet_quantize::{
    capture, convert, fuse_modules, get_default_qat_qconfig, get_default_qconfig, load_quantized,
    prepare, prepare_qat, quantize_per_tensor, quantized_conv2d, quantized_linear,
    quantized_max_pool2d, DeQuantStub, GraphModule, ObserverKind, ObserverOptions, PackedParams,
    QConfig, QDtype, QOp, QScheme, QuantStub,
};
use torchlet_tensor::Tensor;
mod common;

use common::{input, max_abs_diff, Small};

/// `model` captured, with its conv and bn fused.
fn fused(model: &Small) -> GraphModule {
    let mut g = capture(model, &input(2, 0)).unwrap();
    fuse_modules(&mut g, &[["conv", "bn"]]).unwrap();
    g
}

fn minmax_qconfig() -> QConfig {
    let mut q = get_default_qconfig("x86").unwrap();
    q.activation = ObserverKind::MinMax(ObserverOptions {
        reduce_range: true,
        ..ObserverOptions::default()
    });
    q
}

#[test]
fn capture_names_modules_and_finds_the_fusable_pair() {
    let model = Small::new();
    let g = capture(&model, &input(2, 0)).unwrap();
    assert_eq!(
        g.module_names(),
        [
            "conv",
            "bn",
            "relu_2",
            "maxpool2d_3",
            "flatten_4",
            "fc1",
            "relu_6",
            "fc2"
        ]
    );
    assert_eq!(
        g.fusable_groups(),
        [vec!["conv".to_string(), "bn".to_string()]]
    );
    assert!(!model.is_training(), "the training flag is restored");
}

#[test]
fn fusing_keeps_the_float_output() {
    let model = Small::new();
    let x = input(8, 3);
    let want = model
        .forward(&Variable::constant(x.clone()))
        .unwrap()
        .data();
    let mut g = capture(&model, &x).unwrap();
    fuse_modules(&mut g, &[["conv", "bn"]]).unwrap();
    assert_eq!(
        g.module_names(),
        [
            "conv",
            "relu_2",
            "maxpool2d_3",
            "flatten_4",
            "fc1",
            "relu_6",
            "fc2"
        ]
    );
    let prepared = prepare(g, &minmax_qconfig()).unwrap();
    // ReLUs fold into the conv and fc1.
    assert_eq!(
        prepared.graph().module_names(),
        ["conv", "maxpool2d_3", "flatten_4", "fc1", "fc2"]
    );
    let got = prepared.forward(&Variable::constant(x)).unwrap().data();
    assert!(
        max_abs_diff(&got, &want) < 1e-5,
        "{}",
        max_abs_diff(&got, &want)
    );
}

/// The converted model runs exactly the quantized ops a user would call
/// by hand with the same parameters.
#[test]
fn convert_equals_the_quantized_ops_composed_by_hand() {
    let model = Small::new();
    let mut g = capture(&model, &input(2, 0)).unwrap();
    let groups = g.fusable_groups();
    fuse_modules(&mut g, &groups).unwrap();
    let prepared = prepare(g, &minmax_qconfig()).unwrap();
    for i in 0..4 {
        prepared
            .forward(&Variable::constant(input(32, 10 + i)))
            .unwrap();
    }
    let q = convert(&prepared).unwrap();
    let x = input(5, 99);
    let got = q.run(&x).unwrap();

    let nodes = q.nodes();
    let QOp::Quantize { scale, zero_point } = nodes[0].op else {
        panic!("{:?}", nodes[0].op)
    };
    let mut h = quantize_per_tensor(&x, scale, zero_point, QDtype::QUInt8).unwrap();
    let weighted = q.weighted();
    let packed = |m: &str| {
        let p = weighted[m];
        let b = p.bias.as_ref().map(|b| b.to_vec::<f32>().unwrap());
        (
            PackedParams::new(&p.weight, b.as_deref()).unwrap(),
            p.scale,
            p.zero_point,
        )
    };
    let (w, s, z) = packed("conv");
    h = quantized_conv2d(&h, &w, [1, 1], [1, 1], [1, 1], s, z, true).unwrap();
    h = quantized_max_pool2d(&h, [2, 2], [2, 2], [0, 0]).unwrap();
    h = h.reshape(&[5, 64]).unwrap();
    let (w, s, z) = packed("fc1");
    h = quantized_linear(&h, &w, s, z, true).unwrap();
    let (w, s, z) = packed("fc2");
    h = quantized_linear(&h, &w, s, z, false).unwrap();
    assert_eq!(
        got.to_vec::<f32>().unwrap(),
        h.dequantize().to_vec::<f32>().unwrap()
    );

    // And it stays close to the float model.
    let want = model.forward(&Variable::constant(x)).unwrap().data();
    let scale_out = weighted["fc2"].scale as f32;
    assert!(
        max_abs_diff(&got, &want) < 6.0 * scale_out,
        "{} vs step {scale_out}",
        max_abs_diff(&got, &want)
    );
    // Weights are per-channel symmetric qint8.
    let w = &weighted["conv"].weight;
    assert_eq!(w.dtype(), QDtype::QInt8);
    assert_eq!(
        w.q_per_channel_zero_points()
            .unwrap()
            .to_vec::<i64>()
            .unwrap(),
        [0, 0, 0, 0]
    );
}

#[test]
fn the_default_histogram_qconfig_calibrates_and_converts() {
    let model = Small::new();
    let g = fused(&model);
    let prepared = prepare(g, &get_default_qconfig("x86").unwrap()).unwrap();
    for i in 0..3 {
        prepared
            .forward(&Variable::constant(input(32, 20 + i)))
            .unwrap();
    }
    let q = convert(&prepared).unwrap();
    let x = input(16, 5);
    let want = model
        .forward(&Variable::constant(x.clone()))
        .unwrap()
        .data();
    let got = q.forward(&Variable::constant(x)).unwrap().data();
    let scale_out = q.weighted()["fc2"].scale as f32;
    assert!(max_abs_diff(&got, &want) < 8.0 * scale_out);
}

#[test]
fn qat_trains_through_fake_quantization_and_converts_to_what_it_simulated() {
    let model = Small::new();
    let g = fused(&model);
    let prepared = prepare_qat(g, &get_default_qat_qconfig("x86").unwrap()).unwrap();
    let names: Vec<String> = prepared
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "conv.weight",
            "conv.bias",
            "fc1.weight",
            "fc1.bias",
            "fc2.weight",
            "fc2.bias"
        ]
    );
    let x = Variable::constant(input(16, 1));
    let y = prepared.forward(&x).unwrap();
    y.sum().backward().unwrap();
    for p in prepared.parameters() {
        let g = p.grad().expect("every parameter gets a gradient");
        assert!(g.to_vec::<f32>().unwrap().iter().any(|&v| v != 0.0));
    }
    // With observers frozen, the fake-quantized forward is what int8
    // inference computes, up to float rounding at the requantization.
    prepared.set_observers(false);
    let sim = prepared.forward(&x).unwrap().data();
    let q = convert(&prepared).unwrap();
    let got = q.run(&x.data()).unwrap();
    let step = q.weighted()["fc2"].scale as f32;
    assert!(
        max_abs_diff(&got, &sim) <= 2.0 * step + 1e-6,
        "{} vs step {step}",
        max_abs_diff(&got, &sim)
    );
}

/// conv in float, then a quantized region between the stubs, then float.
struct Stubbed {
    conv: Conv2d,
    quant: QuantStub,
    fc: Linear,
    dequant: DeQuantStub,
    head: Linear,
}

impl Module for Stubbed {
    fn forward(&self, x: &Variable) -> NnResult<Variable> {
        let y = self.conv.forward(x)?.flatten(1, -1)?;
        let y = self
            .dequant
            .forward(&self.fc.forward(&self.quant.forward(&y)?)?)?;
        self.head.forward(&y)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![("conv", &self.conv), ("fc", &self.fc), ("head", &self.head)]
    }
}

#[test]
fn stubs_bound_the_quantized_region() {
    torchlet_tensor::manual_seed(3);
    let model = Stubbed {
        conv: Conv2d::new(1, 2, 3).unwrap(),
        quant: QuantStub,
        fc: Linear::new(72, 8).unwrap(),
        dequant: DeQuantStub,
        head: Linear::new(8, 2).unwrap(),
    };
    let g = capture(&model, &input(2, 0)).unwrap();
    let prepared = prepare(g, &minmax_qconfig()).unwrap();
    prepared.forward(&Variable::constant(input(32, 4))).unwrap();
    let q = convert(&prepared).unwrap();
    let kinds: Vec<&str> = q
        .nodes()
        .iter()
        .map(|n| match &n.op {
            QOp::Float(node) => node.op.kind(),
            QOp::Quantize { .. } => "quantize",
            QOp::Linear { .. } => "qlinear",
            QOp::Dequantize => "dequantize",
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "Conv2d",
            "Flatten",
            "quantize",
            "qlinear",
            "dequantize",
            "Linear"
        ]
    );
    let x = input(4, 8);
    let want = model
        .forward(&Variable::constant(x.clone()))
        .unwrap()
        .data();
    let got = q.run(&x).unwrap();
    assert!(max_abs_diff(&got, &want) < 0.05);

    // The float layers' parameters travel in the state dict too: a model
    // of other weights, prepared but not calibrated, reloads it exactly.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stubbed.safetensors");
    q.save_safetensors(&path).unwrap();
    torchlet_tensor::manual_seed(4);
    let other = Stubbed {
        conv: Conv2d::new(1, 2, 3).unwrap(),
        quant: QuantStub,
        fc: Linear::new(72, 8).unwrap(),
        dequant: DeQuantStub,
        head: Linear::new(8, 2).unwrap(),
    };
    let skeleton = prepare(capture(&other, &input(2, 0)).unwrap(), &minmax_qconfig()).unwrap();
    let back = load_quantized(&skeleton, &path).unwrap();
    assert_eq!(
        back.run(&x).unwrap().to_vec::<f32>().unwrap(),
        got.to_vec::<f32>().unwrap()
    );
}

#[test]
fn bad_workflows_are_refused_by_name() {
    let model = Small::new();
    let g = capture(&model, &input(2, 0)).unwrap();
    let err = prepare(g.clone(), &minmax_qconfig())
        .unwrap_err()
        .to_string();
    assert!(err.contains("bn (BatchNorm2d) is not fused"), "{err}");
    let mut g2 = g.clone();
    let err = fuse_modules(&mut g2, &[["conv", "nope"]])
        .unwrap_err()
        .to_string();
    assert!(err.contains("no module \"nope\""), "{err}");
    let err = fuse_modules(&mut g2, &[["fc1", "fc2"]])
        .unwrap_err()
        .to_string();
    assert!(err.contains("fc2 is a Linear, not a BatchNorm"), "{err}");
    let mut g3 = g.clone();
    fuse_modules(&mut g3, &[["conv", "bn"]]).unwrap();
    let prepared = prepare(g3.clone(), &minmax_qconfig()).unwrap();
    let err = convert(&prepared).unwrap_err().to_string();
    assert!(
        err.contains("the model's input") && err.contains("no data"),
        "{err}"
    );
    let err = prepare_qat(g3.clone(), &minmax_qconfig())
        .unwrap_err()
        .to_string();
    assert!(err.contains("use get_default_qat_qconfig"), "{err}");
    let err = get_default_qconfig("qnnpack").unwrap_err().to_string();
    assert!(err.contains("unknown backend \"qnnpack\""), "{err}");
    let mut bad = minmax_qconfig();
    bad.weight = ObserverKind::PerChannelMinMax(
        ObserverOptions {
            dtype: QDtype::QUInt8,
            qscheme: QScheme::PerChannelAffine,
            ..ObserverOptions::default()
        },
        0,
    );
    let prepared = prepare(g3, &bad).unwrap();
    prepared.forward(&Variable::constant(input(4, 1))).unwrap();
    let err = convert(&prepared).unwrap_err().to_string();
    assert!(err.contains("conv: weights must be qint8"), "{err}");
}

#[test]
fn state_dicts_round_trip_bit_identically_and_refuse_mismatches() {
    let model = Small::new();
    let g = fused(&model);
    let prepared = prepare(g.clone(), &get_default_qconfig("x86").unwrap()).unwrap();
    prepared.forward(&Variable::constant(input(32, 2))).unwrap();
    let q = convert(&prepared).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("int8.safetensors");
    q.save_safetensors(&path).unwrap();

    // A fresh, uncalibrated preparation of the same model loads it.
    let skeleton = prepare(g, &get_default_qconfig("x86").unwrap()).unwrap();
    let back = load_quantized(&skeleton, &path).unwrap();
    assert_eq!(
        back.to_safetensors_bytes().unwrap(),
        std::fs::read(&path).unwrap()
    );
    let x = input(8, 4);
    assert_eq!(
        back.run(&x).unwrap().to_vec::<f32>().unwrap(),
        q.run(&x).unwrap().to_vec::<f32>().unwrap()
    );
    let (dict, meta) = torchlet_tensor::io::from_safetensors_bytes(&std::fs::read(&path).unwrap())
        .map(|_| unreachable!("int8 tensors are not float tensors"))
        .unwrap_or_else(|e| (e.to_string(), None::<()>));
    assert!(dict.contains("quantized state dict"), "{dict}");
    assert!(meta.is_none());

    // A float checkpoint is refused.
    let float_path = dir.path().join("f32.safetensors");
    torchlet_nn::state::save_safetensors(&model, &float_path).unwrap();
    let err = load_quantized(&skeleton, &float_path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a quantized state dict"), "{err}");
    // Another architecture is refused by key or shape.
    torchlet_tensor::manual_seed(1);
    let other = Small {
        conv: Conv2d::with_options(1, 4, [3, 3], Conv2dOptions::default().padding(1)).unwrap(),
        bn: BatchNorm2d::new(4).unwrap(),
        fc1: Linear::new(64, 8).unwrap(),
        fc2: Linear::new(8, 3).unwrap(),
    };
    other.eval();
    let mut g2 = capture(&other, &input(2, 0)).unwrap();
    fuse_modules(&mut g2, &[["conv", "bn"]]).unwrap();
    let skeleton2 = prepare(g2, &get_default_qconfig("x86").unwrap()).unwrap();
    let err = load_quantized(&skeleton2, &path).unwrap_err().to_string();
    assert!(
        err.contains("fc1.weight: shape [16, 64] in the file, the model has [8, 64]"),
        "{err}"
    );
}

#[test]
fn batches_split_across_threads_give_the_same_bits_and_errors() {
    let model = Small::new();
    let prepared = prepare(fused(&model), &minmax_qconfig()).unwrap();
    prepared.forward(&Variable::constant(input(32, 3))).unwrap();
    let q = convert(&prepared).unwrap();
    // Odd, so the pieces differ in size; large enough to be split.
    let x = input(301, 9);
    let threads_before = torchlet_tensor::get_num_threads();
    let bits = |threads: usize| {
        torchlet_tensor::set_num_threads(threads);
        let jobs = torchlet_tensor::team_jobs_on_this_thread();
        let out = q.run(&x).unwrap().to_vec::<f32>().unwrap();
        let jobs = torchlet_tensor::team_jobs_on_this_thread() - jobs;
        (out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), jobs)
    };
    let (whole, _) = bits(1);
    for threads in [2, 3] {
        let (split, jobs) = bits(threads);
        assert_eq!(split, whole, "{threads} threads");
        // One parallel region: the pieces, each op inline within them.
        assert_eq!(jobs, 1, "{threads} threads");
    }
    // A piece's error is reported for the whole batch: 10x10 images give
    // fc1 100 features instead of 64.
    let bad = Tensor::zeros(&[301, 1, 10, 10]);
    let err = q.run(&bad).unwrap_err().to_string();
    torchlet_tensor::set_num_threads(threads_before);
    assert!(err.contains("301"), "{err}");
}
