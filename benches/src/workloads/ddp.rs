//! Data-parallel training workloads: one step is one optimizer step of a
//! global batch of 64 (forward, loss, backward with DDP's bucketed
//! all-reduce, step), on 2 `Local` ranks of one compute thread each
//! (`ddp_*_b64`), against the same step on one rank of one thread
//! without DDP (`ddp_*_b64_1rank`). Their ratio is the scaling; the
//! PyTorch twins run `torch.distributed` (gloo) under torchrun.

use std::hint::black_box;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;

use torchlet_autograd::Variable;
use torchlet_distributed::{spawn, DistributedDataParallel, ProcessGroup};
use torchlet_nn::{CrossEntropyLoss, Module, Sequential};
use torchlet_optim::{Adam, AdamOptions, Optimizer};
use torchlet_tensor::{Generator, Tensor};

use super::{lenet_model, mlp_model, mlp_sgd, workload, Workload};

/// The global batch of the DDP workloads.
pub const DDP_BATCH: usize = 64;

/// Which model a DDP workload trains.
#[derive(Clone, Copy)]
enum Net {
    Mlp,
    Lenet,
}

impl Net {
    fn model(self) -> Sequential {
        match self {
            Net::Mlp => mlp_model(),
            Net::Lenet => lenet_model(),
        }
    }

    /// The optimizer of the matching single-process workload.
    fn optimizer(self, params: Vec<Variable>) -> Box<dyn Optimizer> {
        match self {
            Net::Mlp => Box::new(mlp_sgd(params)),
            Net::Lenet => Box::new(Adam::new(params, AdamOptions::default()).unwrap()),
        }
    }

    /// Rows `rows` of the global batch (the same on every rank count).
    fn batch(self, rows: std::ops::Range<usize>) -> (Variable, Tensor) {
        let mut g = Generator::new(0);
        let shape: &[usize] = match self {
            Net::Mlp => &[DDP_BATCH, 784],
            Net::Lenet => &[DDP_BATCH, 1, 28, 28],
        };
        let x = Tensor::randn_with(shape, &mut g);
        let y = Tensor::randint_with(0, 10, &[DDP_BATCH], &mut g).unwrap();
        let n = rows.len();
        (
            Variable::constant(x.narrow(0, rows.start as i64, n).unwrap()),
            y.narrow(0, rows.start as i64, n).unwrap(),
        )
    }
}

/// One training step of `model` on `(x, y)`.
fn train_step(model: &dyn Module, opt: &mut dyn Optimizer, x: &Variable, y: &Tensor) {
    opt.zero_grad();
    let loss = CrossEntropyLoss::new()
        .forward(&model.forward(x).unwrap(), y)
        .unwrap();
    loss.backward().unwrap();
    opt.step().unwrap();
    black_box(loss);
}

/// Rank threads that each run one step per [`Ranks::step`].
struct Ranks {
    go: Vec<Sender<bool>>,
    done: Receiver<()>,
    job: Option<JoinHandle<()>>,
}

impl Ranks {
    fn start(net: Net, ranks: usize) -> Ranks {
        let (go, go_rx): (Vec<_>, Vec<_>) = (0..ranks).map(|_| channel::<bool>()).unzip();
        let go_rx: Mutex<Vec<Option<Receiver<bool>>>> =
            Mutex::new(go_rx.into_iter().map(Some).collect());
        let (done_tx, done) = channel::<()>();
        let done_tx = Mutex::new(done_tx);
        let job = std::thread::spawn(move || {
            spawn(ranks, |pg: ProcessGroup| -> Result<(), String> {
                let go = go_rx.lock().unwrap()[pg.rank()]
                    .take()
                    .expect("one receiver per rank");
                let done = done_tx.lock().unwrap().clone();
                let model =
                    DistributedDataParallel::new(net.model(), &pg).map_err(|e| e.to_string())?;
                let mut opt = net.optimizer(model.parameters());
                let per = DDP_BATCH / pg.world_size();
                let (x, y) = net.batch(pg.rank() * per..(pg.rank() + 1) * per);
                while go.recv().unwrap_or(false) {
                    train_step(&model, &mut *opt, &x, &y);
                    done.send(()).map_err(|e| e.to_string())?;
                }
                Ok(())
            })
            .expect("the DDP ranks run");
        });
        Ranks {
            go,
            done,
            job: Some(job),
        }
    }

    fn step(&self) {
        for g in &self.go {
            g.send(true).expect("the ranks are running");
        }
        for _ in &self.go {
            self.done.recv().expect("a rank finished its step");
        }
    }
}

impl Drop for Ranks {
    fn drop(&mut self) {
        for g in &self.go {
            let _ = g.send(false);
        }
        if let Some(job) = self.job.take() {
            let _ = job.join();
        }
    }
}

fn ddp(name: &'static str, net: Net) -> Workload {
    // Each rank computes on its own thread.
    torchlet_tensor::set_num_threads(1);
    let ranks = Ranks::start(net, 2);
    Workload {
        ops_per_step: Some(DDP_BATCH),
        ..workload(name, move || ranks.step())
    }
}

fn one_rank(name: &'static str, net: Net) -> Workload {
    torchlet_tensor::set_num_threads(1);
    let model = net.model();
    let mut opt = net.optimizer(model.parameters());
    let (x, y) = net.batch(0..DDP_BATCH);
    Workload {
        ops_per_step: Some(DDP_BATCH),
        ..workload(name, move || train_step(&model, &mut *opt, &x, &y))
    }
}

pub(super) fn ddp_mlp_b64() -> Workload {
    ddp("ddp_mlp_b64", Net::Mlp)
}

pub(super) fn ddp_mlp_b64_1rank() -> Workload {
    one_rank("ddp_mlp_b64_1rank", Net::Mlp)
}

pub(super) fn ddp_lenet_b64() -> Workload {
    ddp("ddp_lenet_b64", Net::Lenet)
}

pub(super) fn ddp_lenet_b64_1rank() -> Workload {
    one_rank("ddp_lenet_b64_1rank", Net::Lenet)
}
