//! The jit workloads (issue 18): inference through a traced and
//! optimised script (`torchlet_jit::trace(..).optimize()`), each beside
//! the same model run eagerly. The PyTorch twins run `torch.jit.trace` +
//! `torch.jit.freeze` + `torch.jit.optimize_for_inference` for the script
//! rows and the plain module for the eager rows.

use std::hint::black_box;

use torchlet_autograd::{no_grad, Variable};
use torchlet_jit::{trace, trace_fn, trace_with, ScriptModule, TraceOptions};
use torchlet_nn::Module;
use torchlet_tensor::{Generator, Tensor};
use torchlet_text::models::{RnnClassifier, RnnClassifierOptions};
use torchlet_vision::models::ResNet;

use super::quantized::{lenet_model, mlp_model};
use super::{workload, Workload};

/// Elements of the `elementwise_chain4m` input: `[4096, 1024]`.
pub const CHAIN_SHAPE: [usize; 2] = [4096, 1024];

fn input(shape: &[usize]) -> Tensor {
    Tensor::randn_with(shape, &mut Generator::new(3))
}

fn scripted(name: &'static str, model: &dyn Module, shape: &[usize]) -> Workload {
    let x = input(shape);
    let script = trace(model, std::slice::from_ref(&x))
        .and_then(|s| s.optimize())
        .expect("the model traces");
    run_script(name, script, vec![x])
}

fn run_script(name: &'static str, script: ScriptModule, xs: Vec<Tensor>) -> Workload {
    workload(name, move || {
        black_box(script.forward(&xs).expect("the script runs"));
    })
}

fn eager(name: &'static str, model: Box<dyn Module>, shape: &[usize]) -> Workload {
    model.eval();
    let x = Variable::constant(input(shape));
    workload(name, move || {
        black_box(no_grad(|| model.forward(&x)).expect("the model runs"));
    })
}

fn resnet8() -> ResNet {
    torchlet_tensor::manual_seed(0);
    ResNet::resnet8(3, 10).expect("valid shape")
}

pub(super) fn lenet_infer_b1() -> Workload {
    scripted("lenet_infer_b1", &lenet_model(), &[1, 1, 28, 28])
}

pub(super) fn lenet_eager_b1() -> Workload {
    eager("lenet_eager_b1", Box::new(lenet_model()), &[1, 1, 28, 28])
}

pub(super) fn lenet_infer_b256() -> Workload {
    scripted("lenet_infer_b256", &lenet_model(), &[256, 1, 28, 28])
}

pub(super) fn lenet_eager_b256() -> Workload {
    eager(
        "lenet_eager_b256",
        Box::new(lenet_model()),
        &[256, 1, 28, 28],
    )
}

pub(super) fn mlp_infer_b64() -> Workload {
    scripted("mlp_infer_b64", &mlp_model(), &[64, 784])
}

pub(super) fn mlp_eager_b64() -> Workload {
    eager("mlp_eager_b64", Box::new(mlp_model()), &[64, 784])
}

pub(super) fn resnet8_infer_b64() -> Workload {
    scripted("resnet8_infer_b64", &resnet8(), &[64, 3, 32, 32])
}

pub(super) fn resnet8_eager_b64() -> Workload {
    eager("resnet8_eager_b64", Box::new(resnet8()), &[64, 3, 32, 32])
}

/// `gelu(x * w + b) * sigmoid(x) + x / 2` with `w`, `b` `[1024]`
/// broadcast over `x` `[4096, 1024]`.
fn chain(x: &Variable, w: &Variable, b: &Variable) -> torchlet_autograd::Result<Variable> {
    let h = x.mul(w)?.add(b)?.gelu();
    h.mul(&x.sigmoid())?.add(&x.div_scalar(2.0))
}

fn chain_params() -> (Variable, Variable) {
    let mut g = Generator::new(4);
    let n = CHAIN_SHAPE[1];
    (
        Variable::constant(Tensor::randn_with(&[n], &mut g)),
        Variable::constant(Tensor::randn_with(&[n], &mut g)),
    )
}

pub(super) fn elementwise_chain4m() -> Workload {
    let (w, b) = chain_params();
    let x = input(&CHAIN_SHAPE);
    let named = [("w".to_string(), w.clone()), ("b".to_string(), b.clone())];
    let script = trace_fn(
        |xs: &[Variable]| chain(&xs[0], &w, &b).map(|y| vec![y]),
        &named,
        std::slice::from_ref(&x),
    )
    .and_then(|s| s.optimize())
    .expect("the chain traces");
    run_script("elementwise_chain4m", script, vec![x])
}

pub(super) fn elementwise_chain4m_eager() -> Workload {
    let (w, b) = chain_params();
    let x = Variable::constant(input(&CHAIN_SHAPE));
    workload("elementwise_chain4m_eager", move || {
        black_box(no_grad(|| chain(&x, &w, &b)).expect("the chain runs"));
    })
}

/// The fortunes LSTM classifier as `torchlet text-train lstm` builds it
/// (embeddings 64, LSTM 64, 4 classes, padding index 0; vocabulary 5000),
/// and 32 right-padded sequences of 40 tokens: row `i` keeps `40 - (7i
/// mod 30)` tokens, so the lengths run 11 to 40 (`pack_padded_sequence`
/// semantics: the padding never reaches a state).
fn text_lstm() -> (RnnClassifier, Tensor) {
    torchlet_tensor::manual_seed(0);
    let options = RnnClassifierOptions {
        pad_index: Some(0),
        ..Default::default()
    };
    let model = RnnClassifier::new(5000, 4, options).expect("valid sizes");
    let (n, len) = (32, 40);
    let mut ids = Tensor::randint(1, 5000, &[n, len])
        .and_then(|t| t.to_vec::<i64>())
        .expect("int64 ids");
    for (i, row) in ids.chunks_mut(len).enumerate() {
        row[len - (7 * i) % 30..].fill(0);
    }
    (
        model,
        Tensor::from_vec(ids, &[n, len]).expect("n * len ids"),
    )
}

pub(super) fn lstm_text_infer_b32() -> Workload {
    let (model, tokens) = text_lstm();
    let options = TraceOptions::default().sequence_dim(0, 1);
    let script = trace_with(&model, std::slice::from_ref(&tokens), &options)
        .and_then(|s| s.optimize())
        .expect("the model traces");
    run_script("lstm_text_infer_b32", script, vec![tokens])
}

pub(super) fn lstm_text_eager_b32() -> Workload {
    let (model, tokens) = text_lstm();
    model.eval();
    let x = Variable::constant(tokens);
    workload("lstm_text_eager_b32", move || {
        black_box(no_grad(|| model.forward(&x)).expect("the model runs"));
    })
}
