//! The int8 workloads (issue 17): quantized Linear 1024³, static int8
//! inference of an MLP and of LeNet-5 (with BatchNorm, fused), dynamic
//! int8 inference of an LSTM text classifier, and the float inference
//! steps they are measured against. Models are calibrated on random
//! batches with PyTorch's x86 qconfig, as `benches/pytorch/workloads.py`
//! does with `torch.ao.quantization`.

use std::hint::black_box;

use torchlet_autograd::{no_grad, Variable};
use torchlet_nn::{
    BatchNorm2d, Conv2d, Conv2dOptions, Embedding, Flatten, Linear, MaxPool2d, Module, ReLU,
    Sequential, LSTM,
};
use torchlet_quantize::{
    capture, convert, fuse_modules, get_default_qconfig, prepare, quantize_per_channel,
    quantize_per_tensor, quantized_linear, DynamicLinear, DynamicLstm, PackedParams, QDtype,
    QuantizedModel,
};
use torchlet_tensor::{Generator, Tensor};

use super::{workload, Workload};

/// Side of the `qgemm1024` product.
pub const QGEMM_N: usize = 1024;

/// `quantized::linear` of a quint8 `[1024, 1024]` input (7-bit values, as
/// x86 calibration gives) and a per-channel qint8 `[1024, 1024]` weight.
pub(super) fn qgemm1024() -> Workload {
    let n = QGEMM_N;
    let mut g = Generator::new(0);
    let x = Tensor::rand_with(&[n, n], &mut g);
    let xq = quantize_per_tensor(&x, 1.0 / 127.0, 0, QDtype::QUInt8).unwrap();
    let w = Tensor::randn_with(&[n, n], &mut g);
    let scales = Tensor::full(&[n], 3.0 / 127.0);
    let zps = Tensor::from_vec(vec![0i64; n], &[n]).unwrap();
    let wq = quantize_per_channel(&w, &scales, &zps, 0, QDtype::QInt8).unwrap();
    let packed = PackedParams::new(&wq, None).unwrap();
    Workload {
        flops_per_step: Some(2.0 * (n * n * n) as f64),
        ..workload("qgemm1024", move || {
            black_box(quantized_linear(&xq, &packed, 0.5, 64, false).unwrap());
        })
    }
}

/// The MLP of `mlp_b256`.
pub(super) fn mlp_model() -> Sequential {
    torchlet_tensor::manual_seed(0);
    Sequential::new()
        .append(Linear::new(784, 256).unwrap())
        .append(ReLU)
        .append(Linear::new(256, 128).unwrap())
        .append(ReLU)
        .append(Linear::new(128, 10).unwrap())
}

/// LeNet-5 with BatchNorm after both convolutions (the CLI's default).
pub(super) fn lenet_model() -> Sequential {
    torchlet_tensor::manual_seed(0);
    Sequential::new()
        .append(Conv2d::with_options(1, 6, [5, 5], Conv2dOptions::default().padding(2)).unwrap())
        .append(BatchNorm2d::new(6).unwrap())
        .append(ReLU)
        .append(MaxPool2d::new(2))
        .append(Conv2d::new(6, 16, 5).unwrap())
        .append(BatchNorm2d::new(16).unwrap())
        .append(ReLU)
        .append(MaxPool2d::new(2))
        .append(Flatten::new())
        .append(Linear::new(400, 120).unwrap())
        .append(ReLU)
        .append(Linear::new(120, 84).unwrap())
        .append(ReLU)
        .append(Linear::new(84, 10).unwrap())
}

/// Static PTQ: capture, fuse, prepare with the x86 qconfig, calibrate on
/// four random batches like `x`, convert.
fn quantize_static(model: &dyn Module, x: &Tensor) -> QuantizedModel {
    model.eval();
    let mut graph = capture(model, x).unwrap();
    let groups = graph.fusable_groups();
    fuse_modules(&mut graph, &groups).unwrap();
    let prepared = prepare(graph, &get_default_qconfig("x86").unwrap()).unwrap();
    let mut g = Generator::new(7);
    for _ in 0..4 {
        let batch = Variable::constant(Tensor::randn_with(x.shape(), &mut g));
        no_grad(|| prepared.forward(&batch)).unwrap();
    }
    convert(&prepared).unwrap()
}

fn int8_inference(name: &'static str, model: Sequential, shape: &[usize]) -> Workload {
    let x = Tensor::randn(shape);
    let q = quantize_static(&model, &x);
    workload(name, move || {
        black_box(q.run(&x).unwrap());
    })
}

fn f32_inference(name: &'static str, model: Sequential, shape: &[usize]) -> Workload {
    model.eval();
    let x = Variable::constant(Tensor::randn(shape));
    workload(name, move || {
        black_box(no_grad(|| model.forward(&x)).unwrap());
    })
}

pub(super) fn mlp_int8_b256() -> Workload {
    int8_inference("mlp_int8_b256", mlp_model(), &[256, 784])
}

pub(super) fn mlp_f32_infer_b256() -> Workload {
    f32_inference("mlp_f32_infer_b256", mlp_model(), &[256, 784])
}

pub(super) fn lenet_int8_b256() -> Workload {
    int8_inference("lenet_int8_b256", lenet_model(), &[256, 1, 28, 28])
}

pub(super) fn lenet_f32_infer_b256() -> Workload {
    f32_inference("lenet_f32_infer_b256", lenet_model(), &[256, 1, 28, 28])
}

/// The `lstm_b32` classifier: Embedding(5000, 64) → LSTM(64 → 128) →
/// last hidden → Linear(128, 4), tokens `[32, 32]` sequence-first.
struct LstmClassifier {
    embedding: Embedding,
    lstm: LSTM,
    head: Linear,
    tokens: Tensor,
}

fn lstm_classifier() -> LstmClassifier {
    torchlet_tensor::manual_seed(0);
    LstmClassifier {
        embedding: Embedding::new(5000, 64).unwrap(),
        lstm: LSTM::new(64, 128).unwrap(),
        head: Linear::new(128, 4).unwrap(),
        tokens: Tensor::randint(0, 5000, &[32, 32]).unwrap(),
    }
}

pub(super) fn lstm_f32_infer_b32() -> Workload {
    let m = lstm_classifier();
    workload("lstm_f32_infer_b32", move || {
        let out = no_grad(|| {
            let emb = m.embedding.forward_indices(&m.tokens).unwrap();
            let (_, h_n, _) = m.lstm.forward_with_state(&emb, None).unwrap();
            m.head.forward(&h_n.select(0, 0).unwrap()).unwrap()
        });
        black_box(out);
    })
}

/// `quantize_dynamic(model, {LSTM, Linear})`: the embedding stays float.
pub(super) fn lstm_dynamic_int8_b32() -> Workload {
    let m = lstm_classifier();
    let p = |name: &str| {
        m.lstm
            .named_parameters()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
            .data()
    };
    let ih = DynamicLinear::new(&p("weight_ih_l0"), Some(&p("bias_ih_l0"))).unwrap();
    let hh = DynamicLinear::new(&p("weight_hh_l0"), Some(&p("bias_hh_l0"))).unwrap();
    let record = torchlet_nn::RnnRecord {
        cell: torchlet_nn::RnnCell::Lstm,
        hidden_size: 128,
        num_layers: 1,
        bidirectional: false,
        batch_first: false,
        bias: true,
        with_lengths: false,
    };
    let lstm = DynamicLstm {
        record,
        cells: vec![(ih, hh)],
    };
    let head = DynamicLinear::new(
        &m.head.weight().data(),
        m.head.bias().map(|b| b.data()).as_ref(),
    )
    .unwrap();
    let (embedding, tokens) = (m.embedding, m.tokens);
    workload("lstm_dynamic_int8_b32", move || {
        let emb = no_grad(|| embedding.forward_indices(&tokens))
            .unwrap()
            .data();
        let (_, h_n, _) = lstm.forward(&emb, None).unwrap();
        black_box(head.forward(&h_n.select(0, 0).unwrap()).unwrap());
    })
}
