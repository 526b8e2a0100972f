//! The benchmark workloads, defined once and shared by the criterion
//! benches (`benches/*.rs`) and the `workloads` runner binary.
//!
//! Each [`Spec`] builds a [`Workload`]: its inputs and model, made in
//! process from fixed seeds, and a closure that runs one step. A training
//! step is always the full step: zero_grad, forward, loss, backward,
//! optimizer step. All tensors are float32. `benches/pytorch/workloads.py`
//! defines the same workloads in PyTorch under the same names.

use std::hint::black_box;

use torchlet_autograd::functional as F;
use torchlet_autograd::Variable;
use torchlet_data::{DataLoader, Dataset, MapDataset, TensorDataset};
use torchlet_nn::{
    Conv2d, Conv2dOptions, CrossEntropyLoss, Embedding, Flatten, Linear, MaxPool2d, Module, ReLU,
    Sequential, LSTM,
};
use torchlet_optim::{Adam, AdamOptions, Optimizer, Sgd, SgdOptions};
use torchlet_tensor::functional::Reduction;
use torchlet_tensor::{Generator, Tensor};

mod ddp;
mod jit;
mod quantized;
mod sparse;

pub use quantized::QGEMM_N;
pub use sparse::{
    EMBEDDING_BATCH, EMBEDDING_DIM, EMBEDDING_ROWS, GCN_EDGES, GCN_NODES, GCN_WIDTH,
    POWERLAW_EDGES, POWERLAW_NODES, POWERLAW_WIDTH, UNIFORM_EDGES, UNIFORM_N, UNIFORM_WIDTH,
};

/// 4M elements (4 * 1024 * 1024), the size of the elementwise workloads.
pub const N4M: usize = 4 * 1024 * 1024;

/// Number of recorded adds in one step of `op_overhead`.
pub const OVERHEAD_OPS: usize = 1000;

/// Samples in one epoch of the data-loading workloads.
pub const LOADER_SAMPLES: usize = 10_000;

/// Batch size of the data-loading workloads.
pub const LOADER_BATCH: usize = 64;

/// A built workload: its state and one step to run repeatedly.
pub struct Workload {
    /// The workload's name (as in [`WORKLOADS`]).
    pub name: &'static str,
    /// Floating-point operations in one step, where that is well defined
    /// (matmul: `2 n³`).
    pub flops_per_step: Option<f64>,
    /// Bytes read plus written by one step, for memory-bound workloads.
    pub bytes_per_step: Option<f64>,
    /// How many elementary operations (recorded ops, loaded samples) one
    /// step performs, for workloads reported per operation.
    pub ops_per_step: Option<usize>,
    step: Box<dyn FnMut()>,
}

impl Workload {
    /// Runs one step.
    pub fn step(&mut self) {
        (self.step)()
    }
}

/// A named workload: how to build it and how many steps to time by default.
pub struct Spec {
    /// Name used on the command line and in the JSON output.
    pub name: &'static str,
    /// One line saying what a step does.
    pub description: &'static str,
    /// Timed steps when `--steps` is not given (a second or two of work).
    pub default_steps: usize,
    /// Whether `benches/pytorch/workloads.py` has the same workload.
    pub in_pytorch: bool,
    /// Builds the workload (inputs, model, optimizer).
    pub build: fn() -> Workload,
}

/// Every workload, in the order `--list` and `--all` use.
pub const WORKLOADS: &[Spec] = &[
    Spec {
        name: "matmul64",
        description: "64x64 @ 64x64 matmul, forward only",
        default_steps: 2000,
        in_pytorch: true,
        build: || matmul("matmul64", 64),
    },
    Spec {
        name: "matmul256",
        description: "256x256 @ 256x256 matmul, forward only",
        default_steps: 300,
        in_pytorch: true,
        build: || matmul("matmul256", 256),
    },
    Spec {
        name: "matmul1024",
        description: "1024x1024 @ 1024x1024 matmul, forward only",
        default_steps: 40,
        in_pytorch: true,
        build: || matmul("matmul1024", 1024),
    },
    Spec {
        name: "add4m",
        description: "a + b on two 4M-element tensors",
        default_steps: 100,
        in_pytorch: true,
        build: add4m,
    },
    Spec {
        name: "sigmoid4m",
        description: "sigmoid of a 4M-element tensor",
        default_steps: 100,
        in_pytorch: true,
        build: sigmoid4m,
    },
    Spec {
        name: "sum4m",
        description: "sum of a 4M-element tensor",
        default_steps: 200,
        in_pytorch: true,
        build: sum4m,
    },
    Spec {
        name: "softmax4096x1024",
        description: "softmax over dim 1 of a 4096x1024 tensor",
        default_steps: 50,
        in_pytorch: true,
        build: softmax4096x1024,
    },
    Spec {
        name: "transpose2048",
        description: "contiguous copy of a transposed 2048x2048 tensor",
        default_steps: 50,
        in_pytorch: true,
        build: transpose2048,
    },
    Spec {
        name: "op_overhead",
        description: "1000 recorded adds of two 1-element tensors with requires_grad",
        default_steps: 200,
        in_pytorch: true,
        build: op_overhead,
    },
    Spec {
        name: "seed_b1",
        description: "seed network 3-3-3-2 (sigmoid, softmax + BCE), batch 1, SGD lr 0.1",
        default_steps: 3000,
        in_pytorch: true,
        build: seed_b1,
    },
    Spec {
        name: "mlp_b64",
        description: "MLP 784-256-128-10 ReLU, cross-entropy, batch 64, SGD momentum 0.9",
        default_steps: 200,
        in_pytorch: true,
        build: || mlp("mlp_b64", 64),
    },
    Spec {
        name: "mlp_b256",
        description: "MLP 784-256-128-10 ReLU, cross-entropy, batch 256, SGD momentum 0.9",
        default_steps: 100,
        in_pytorch: true,
        build: || mlp("mlp_b256", 256),
    },
    Spec {
        name: "lenet_b64",
        description: "LeNet-5 on 1x28x28, cross-entropy, batch 64, Adam 1e-3",
        default_steps: 50,
        in_pytorch: true,
        build: lenet_b64,
    },
    Spec {
        name: "lstm_b32",
        description: "Embedding(5000,64) -> LSTM(64->128) -> Linear(128,4), seq 32, batch 32, Adam",
        default_steps: 30,
        in_pytorch: true,
        build: lstm_b32,
    },
    Spec {
        name: "loader_w0",
        description: "one shuffled epoch of 10k MNIST-sized samples, batch 64, no workers",
        default_steps: 20,
        in_pytorch: false,
        build: || loader("loader_w0", 0),
    },
    Spec {
        name: "loader_w2",
        description: "one shuffled epoch of 10k MNIST-sized samples, batch 64, 2 workers",
        default_steps: 20,
        in_pytorch: false,
        build: || loader("loader_w2", 2),
    },
    Spec {
        name: "spmm_powerlaw",
        description: "CSR power-law graph (100k nodes, 1M edges) @ dense [100000, 64], forward",
        default_steps: 40,
        in_pytorch: true,
        build: sparse::spmm_powerlaw,
    },
    Spec {
        name: "spmm_powerlaw_fb",
        description: "spmm_powerlaw forward + backward (grads of the sparse values and the dense)",
        default_steps: 20,
        in_pytorch: true,
        build: sparse::spmm_powerlaw_fb,
    },
    Spec {
        name: "spmm_uniform",
        description: "CSR [20000, 20000] density 0.1% @ dense [20000, 128], forward",
        default_steps: 40,
        in_pytorch: true,
        build: sparse::spmm_uniform,
    },
    Spec {
        name: "sddmm",
        description: "sampled_addmm on the spmm_uniform pattern, [20000, 128] @ [128, 20000]",
        default_steps: 40,
        in_pytorch: true,
        build: sparse::sddmm,
    },
    Spec {
        name: "gcn_sparse",
        description: "GCN layer A_hat @ (X W), 8k-node power-law graph, sparse A_hat, fwd + bwd",
        default_steps: 100,
        in_pytorch: true,
        build: sparse::gcn_sparse,
    },
    Spec {
        name: "gcn_dense",
        description: "the gcn_sparse layer with a dense [8000, 8000] A_hat, fwd + bwd",
        default_steps: 10,
        in_pytorch: true,
        build: sparse::gcn_dense,
    },
    Spec {
        name: "embedding_sparse_adam",
        description: "Embedding(200000, 64, sparse) on 4096 lookups, sum of squares, SparseAdam",
        default_steps: 200,
        in_pytorch: true,
        build: sparse::embedding_sparse_adam,
    },
    Spec {
        name: "qgemm1024",
        description:
            "quantized Linear: quint8 [1024, 1024] x qint8 [1024, 1024] per channel, requantized",
        default_steps: 40,
        in_pytorch: true,
        build: quantized::qgemm1024,
    },
    Spec {
        name: "mlp_int8_b256",
        description: "MLP 784-256-128-10, static int8 (x86 qconfig), inference, batch 256",
        default_steps: 200,
        in_pytorch: true,
        build: quantized::mlp_int8_b256,
    },
    Spec {
        name: "mlp_f32_infer_b256",
        description: "the mlp_int8_b256 model in float32, inference, batch 256",
        default_steps: 200,
        in_pytorch: true,
        build: quantized::mlp_f32_infer_b256,
    },
    Spec {
        name: "lenet_int8_b256",
        description:
            "LeNet-5 with BatchNorm (fused), static int8 (x86 qconfig), inference, batch 256",
        default_steps: 50,
        in_pytorch: true,
        build: quantized::lenet_int8_b256,
    },
    Spec {
        name: "lenet_f32_infer_b256",
        description: "the lenet_int8_b256 model in float32, inference, batch 256",
        default_steps: 50,
        in_pytorch: true,
        build: quantized::lenet_f32_infer_b256,
    },
    Spec {
        name: "lstm_dynamic_int8_b32",
        description:
            "the lstm_b32 classifier, LSTM and Linear dynamically quantized (int8), inference",
        default_steps: 50,
        in_pytorch: true,
        build: quantized::lstm_dynamic_int8_b32,
    },
    Spec {
        name: "lstm_f32_infer_b32",
        description: "the lstm_b32 classifier in float32, inference",
        default_steps: 50,
        in_pytorch: true,
        build: quantized::lstm_f32_infer_b32,
    },
    Spec {
        name: "ddp_mlp_b64",
        description: "DDP training step of the MLP, 2 Local ranks x 1 thread, batch 64 on each (SGD)",
        default_steps: 300,
        in_pytorch: true,
        build: ddp::ddp_mlp_b64,
    },
    Spec {
        name: "ddp_mlp_b64_1rank",
        description: "the same MLP step on 1 rank x 1 thread, batch 64, no DDP",
        default_steps: 300,
        in_pytorch: true,
        build: ddp::ddp_mlp_b64_1rank,
    },
    Spec {
        name: "ddp_mlp_b64_nocomm",
        description: "ddp_mlp_b64 without communication: each rank trains its own copy (the scaling's bound here)",
        default_steps: 300,
        in_pytorch: false,
        build: ddp::ddp_mlp_b64_nocomm,
    },
    Spec {
        name: "ddp_mlp_b32x2",
        description: "DDP training step of the MLP, global batch 64 on 2 Local ranks x 1 thread (strong scaling)",
        default_steps: 300,
        in_pytorch: false,
        build: ddp::ddp_mlp_b32x2,
    },
    Spec {
        name: "ddp_lenet_b64",
        description: "DDP training step of the LeNet-5, 2 Local ranks x 1 thread, batch 64 on each (Adam)",
        default_steps: 100,
        in_pytorch: true,
        build: ddp::ddp_lenet_b64,
    },
    Spec {
        name: "ddp_lenet_b64_1rank",
        description: "the same LeNet-5 step on 1 rank x 1 thread, batch 64, no DDP",
        default_steps: 100,
        in_pytorch: true,
        build: ddp::ddp_lenet_b64_1rank,
    },
    Spec {
        name: "ddp_lenet_b64_nocomm",
        description: "ddp_lenet_b64 without communication: each rank trains its own copy (the scaling's bound here)",
        default_steps: 100,
        in_pytorch: false,
        build: ddp::ddp_lenet_b64_nocomm,
    },
    Spec {
        name: "ddp_lenet_b32x2",
        description: "DDP training step of the LeNet-5, global batch 64 on 2 Local ranks x 1 thread (strong scaling)",
        default_steps: 100,
        in_pytorch: false,
        build: ddp::ddp_lenet_b32x2,
    },
    Spec {
        name: "lenet_infer_b1",
        description: "LeNet-5 with BatchNorm, traced and optimised (torchlet-jit), inference, batch 1",
        default_steps: 2000,
        in_pytorch: true,
        build: jit::lenet_infer_b1,
    },
    Spec {
        name: "lenet_eager_b1",
        description: "the lenet_infer_b1 model run eagerly, batch 1",
        default_steps: 2000,
        in_pytorch: true,
        build: jit::lenet_eager_b1,
    },
    Spec {
        name: "lenet_infer_b256",
        description: "LeNet-5 with BatchNorm, traced and optimised, inference, batch 256",
        default_steps: 50,
        in_pytorch: true,
        build: jit::lenet_infer_b256,
    },
    Spec {
        name: "lenet_eager_b256",
        description: "the lenet_infer_b256 model run eagerly",
        default_steps: 50,
        in_pytorch: true,
        build: jit::lenet_eager_b256,
    },
    Spec {
        name: "mlp_infer_b64",
        description: "MLP 784-256-128-10, traced and optimised, inference, batch 64",
        default_steps: 500,
        in_pytorch: true,
        build: jit::mlp_infer_b64,
    },
    Spec {
        name: "mlp_eager_b64",
        description: "the mlp_infer_b64 model run eagerly",
        default_steps: 500,
        in_pytorch: true,
        build: jit::mlp_eager_b64,
    },
    Spec {
        name: "resnet8_infer_b64",
        description: "ResNet-8 (CIFAR, 3x32x32), traced and optimised, inference, batch 64",
        default_steps: 30,
        in_pytorch: true,
        build: jit::resnet8_infer_b64,
    },
    Spec {
        name: "resnet8_eager_b64",
        description: "the resnet8_infer_b64 model run eagerly",
        default_steps: 30,
        in_pytorch: true,
        build: jit::resnet8_eager_b64,
    },
    Spec {
        name: "lstm_text_infer_b32",
        description: "the fortunes LSTM classifier (padded, packed lengths), traced with a free sequence dim and optimised, 32 x 40 tokens",
        default_steps: 50,
        in_pytorch: true,
        build: jit::lstm_text_infer_b32,
    },
    Spec {
        name: "lstm_text_eager_b32",
        description: "the lstm_text_infer_b32 model run eagerly",
        default_steps: 50,
        in_pytorch: true,
        build: jit::lstm_text_eager_b32,
    },
    Spec {
        name: "elementwise_chain4m",
        description: "gelu(x * w + b) * sigmoid(x) + x / 2, x [4096, 1024], w and b [1024], traced and optimised",
        default_steps: 50,
        in_pytorch: true,
        build: jit::elementwise_chain4m,
    },
    Spec {
        name: "elementwise_chain4m_eager",
        description: "the elementwise_chain4m expression run eagerly",
        default_steps: 50,
        in_pytorch: true,
        build: jit::elementwise_chain4m_eager,
    },
];

/// Looks a workload up by name.
pub fn find(name: &str) -> Option<&'static Spec> {
    WORKLOADS.iter().find(|s| s.name == name)
}

/// Builds the named workload, panicking on an unknown name (for benches).
pub fn build(name: &str) -> Workload {
    (find(name)
        .unwrap_or_else(|| panic!("unknown workload {name}"))
        .build)()
}

fn workload(name: &'static str, step: impl FnMut() + 'static) -> Workload {
    Workload {
        name,
        flops_per_step: None,
        bytes_per_step: None,
        ops_per_step: None,
        step: Box::new(step),
    }
}

fn matmul(name: &'static str, n: usize) -> Workload {
    let mut g = Generator::new(0);
    let a = Tensor::randn_with(&[n, n], &mut g);
    let b = Tensor::randn_with(&[n, n], &mut g);
    Workload {
        flops_per_step: Some(2.0 * (n * n * n) as f64),
        ..workload(name, move || {
            black_box(a.matmul(&b).unwrap());
        })
    }
}

fn add4m() -> Workload {
    let mut g = Generator::new(1);
    let a = Tensor::randn_with(&[N4M], &mut g);
    let b = Tensor::randn_with(&[N4M], &mut g);
    Workload {
        bytes_per_step: Some((3 * 4 * N4M) as f64),
        ..workload("add4m", move || {
            black_box(a.add(&b).unwrap());
        })
    }
}

fn sigmoid4m() -> Workload {
    let mut g = Generator::new(1);
    let a = Tensor::randn_with(&[N4M], &mut g);
    Workload {
        bytes_per_step: Some((2 * 4 * N4M) as f64),
        ..workload("sigmoid4m", move || {
            black_box(a.sigmoid());
        })
    }
}

fn sum4m() -> Workload {
    let mut g = Generator::new(1);
    let a = Tensor::randn_with(&[N4M], &mut g);
    Workload {
        bytes_per_step: Some((4 * N4M) as f64),
        ..workload("sum4m", move || {
            black_box(a.sum());
        })
    }
}

fn softmax4096x1024() -> Workload {
    let mut g = Generator::new(2);
    let x = Tensor::randn_with(&[4096, 1024], &mut g);
    Workload {
        bytes_per_step: Some((2 * 4 * 4096 * 1024) as f64),
        ..workload("softmax4096x1024", move || {
            black_box(x.softmax(1).unwrap());
        })
    }
}

fn transpose2048() -> Workload {
    let mut g = Generator::new(3);
    let t = Tensor::randn_with(&[2048, 2048], &mut g)
        .transpose(0, 1)
        .unwrap();
    Workload {
        bytes_per_step: Some((2 * 4 * 2048 * 2048) as f64),
        ..workload("transpose2048", move || {
            black_box(t.contiguous());
        })
    }
}

fn op_overhead() -> Workload {
    let a = Variable::parameter(Tensor::from_vec(vec![1.0f32], &[1]).unwrap());
    let b = Variable::parameter(Tensor::from_vec(vec![2.0f32], &[1]).unwrap());
    Workload {
        ops_per_step: Some(OVERHEAD_OPS),
        ..workload("op_overhead", move || {
            for _ in 0..OVERHEAD_OPS {
                black_box(a.add(&b).unwrap());
            }
        })
    }
}

/// The course's seed network (see `torchlet/examples/seed_mlp.rs`):
/// `[W1, b1, W2, b2, W3, b3]` with the slides' weights, input and target.
pub fn seed_network() -> (Vec<Variable>, Variable, Variable) {
    let p = |v: Vec<f32>, s: &[usize]| Variable::parameter(Tensor::from_vec(v, s).unwrap());
    let params = vec![
        p(vec![0.05; 9], &[3, 3]),
        p(vec![0.01, 0.02, 0.03], &[3]),
        p(vec![0.025; 9], &[3, 3]),
        p(vec![0.01, 0.02, 0.03], &[3]),
        p(vec![1.0; 6], &[2, 3]),
        p(vec![0.01, 0.02], &[2]),
    ];
    let x = Variable::constant(Tensor::from_vec(vec![1.5f32, 2.5, 3.0], &[3]).unwrap());
    let y = Variable::constant(Tensor::from_vec(vec![1.0f32, 0.0], &[2]).unwrap());
    (params, x, y)
}

fn seed_b1() -> Workload {
    let (p, x, y) = seed_network();
    let opts = SgdOptions {
        lr: 0.1,
        ..Default::default()
    };
    let mut opt = Sgd::new(p.clone(), opts).unwrap();
    workload("seed_b1", move || {
        opt.zero_grad();
        let h1 = p[0].matmul(&x).unwrap().add(&p[1]).unwrap().sigmoid();
        let h2 = p[2].matmul(&h1).unwrap().add(&p[3]).unwrap().sigmoid();
        let h3 = p[4]
            .matmul(&h2)
            .unwrap()
            .add(&p[5])
            .unwrap()
            .softmax(0)
            .unwrap();
        let loss = F::binary_cross_entropy(&h3, &y, None, Reduction::Mean).unwrap();
        loss.backward().unwrap();
        opt.step().unwrap();
        black_box(loss);
    })
}

fn parameters(modules: &[&dyn Module]) -> Vec<Variable> {
    modules
        .iter()
        .flat_map(|m| m.named_parameters())
        .map(|(_, p)| p)
        .collect()
}

/// A classifier's full step: zero_grad, forward, cross-entropy, backward,
/// optimizer step.
fn classifier_step(
    name: &'static str,
    mut opt: impl Optimizer + 'static,
    forward: impl Fn() -> Variable + 'static,
    target: Tensor,
) -> Workload {
    let loss_fn = CrossEntropyLoss::new();
    workload(name, move || {
        opt.zero_grad();
        let logits = forward();
        let loss = loss_fn.forward(&logits, &target).unwrap();
        loss.backward().unwrap();
        opt.step().unwrap();
        black_box(loss);
    })
}

/// The training workloads' MLP: 784-256-128-10 with ReLU.
fn mlp_model() -> Sequential {
    Sequential::new()
        .append(Linear::new(784, 256).unwrap())
        .append(ReLU)
        .append(Linear::new(256, 128).unwrap())
        .append(ReLU)
        .append(Linear::new(128, 10).unwrap())
}

/// The MLP's optimizer: SGD, lr 0.01, momentum 0.9.
fn mlp_sgd(params: Vec<Variable>) -> Sgd {
    let opts = SgdOptions {
        lr: 0.01,
        momentum: 0.9,
        ..Default::default()
    };
    Sgd::new(params, opts).unwrap()
}

fn mlp(name: &'static str, batch: usize) -> Workload {
    torchlet_tensor::manual_seed(0);
    let model = mlp_model();
    let opt = mlp_sgd(parameters(&[&model]));
    let x = Variable::constant(Tensor::randn(&[batch, 784]));
    let y = Tensor::randint(0, 10, &[batch]).unwrap();
    classifier_step(name, opt, move || model.forward(&x).unwrap(), y)
}

fn lenet_b64() -> Workload {
    torchlet_tensor::manual_seed(0);
    let model = lenet_model();
    let opt = Adam::new(parameters(&[&model]), AdamOptions::default()).unwrap();
    let x = Variable::constant(Tensor::randn(&[64, 1, 28, 28]));
    let y = Tensor::randint(0, 10, &[64]).unwrap();
    classifier_step("lenet_b64", opt, move || model.forward(&x).unwrap(), y)
}

/// The training workloads' LeNet-5 (no BatchNorm).
fn lenet_model() -> Sequential {
    Sequential::new()
        .append(Conv2d::with_options(1, 6, [5, 5], Conv2dOptions::default().padding(2)).unwrap())
        .append(ReLU)
        .append(MaxPool2d::new(2))
        .append(Conv2d::new(6, 16, 5).unwrap())
        .append(ReLU)
        .append(MaxPool2d::new(2))
        .append(Flatten::new())
        .append(Linear::new(400, 120).unwrap())
        .append(ReLU)
        .append(Linear::new(120, 84).unwrap())
        .append(ReLU)
        .append(Linear::new(84, 10).unwrap())
}

fn lstm_b32() -> Workload {
    torchlet_tensor::manual_seed(0);
    let embedding = Embedding::new(5000, 64).unwrap();
    let lstm = LSTM::new(64, 128).unwrap();
    let head = Linear::new(128, 4).unwrap();
    let opt = Adam::new(
        parameters(&[&embedding, &lstm, &head]),
        AdamOptions::default(),
    )
    .unwrap();
    // [T, N] token ids (sequence-first, LSTM's default layout).
    let tokens = Tensor::randint(0, 5000, &[32, 32]).unwrap();
    let y = Tensor::randint(0, 4, &[32]).unwrap();
    let forward = move || {
        let emb = embedding.forward_indices(&tokens).unwrap(); // [T, N, 64]
        let (_, h_n, _) = lstm.forward_with_state(&emb, None).unwrap(); // [1, N, 128]
        head.forward(&h_n.select(0, 0).unwrap()).unwrap()
    };
    classifier_step("lstm_b32", opt, forward, y)
}

/// An in-memory MNIST-sized dataset: [`LOADER_SAMPLES`] `[1, 28, 28]` f32
/// images and i64 classes held in two tensors.
pub fn mnist_like() -> impl Dataset<Item = (Tensor, i64)> {
    let mut g = Generator::new(0);
    let images = Tensor::rand_with(&[LOADER_SAMPLES, 1, 28, 28], &mut g);
    let labels = Tensor::randint_with(0, 10, &[LOADER_SAMPLES], &mut g).unwrap();
    let ds = TensorDataset::new(vec![images, labels]).unwrap();
    MapDataset::new(
        ds,
        |s: Vec<Tensor>| -> torchlet_data::Result<(Tensor, i64)> {
            Ok((s[0].clone(), s[1].item::<i64>()?))
        },
    )
}

fn loader(name: &'static str, workers: usize) -> Workload {
    let loader = DataLoader::builder(mnist_like())
        .batch_size(LOADER_BATCH)
        .shuffle(true)
        .seed(0)
        .num_workers(workers)
        .build()
        .unwrap();
    Workload {
        bytes_per_step: Some((LOADER_SAMPLES * (28 * 28 * 4 + 8)) as f64),
        ops_per_step: Some(LOADER_SAMPLES),
        ..workload(name, move || {
            for batch in loader.iter() {
                black_box(batch.unwrap());
            }
        })
    }
}
