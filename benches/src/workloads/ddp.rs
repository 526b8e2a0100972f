//! Data-parallel training workloads: one step is one optimizer step
//! (forward, loss, backward with DDP's bucketed all-reduce, step).
//!
//! - `ddp_*_b64`: 2 `Local` ranks of one compute thread each, a batch of
//!   64 on each rank (128 samples a step), as data-parallel throughput is
//!   usually measured (a fixed batch per worker); the PyTorch twins run
//!   `torch.distributed` (gloo) under torchrun the same way.
//! - `ddp_*_b64_1rank`: the same step on one rank of one thread without
//!   DDP. The scaling is the ratio of samples per second:
//!   2 x `_1rank` time / `ddp_*_b64` time.
//! - `ddp_*_b64_nocomm`: the 2-rank step without DDP (each rank trains its
//!   own copy): the scaling's bound on this machine, without any
//!   communication.
//! - `ddp_*_b32x2`: 2 ranks of 32 (a global batch of 64, what the
//!   correctness tests compare with one process of 64): strong scaling,
//!   bounded by the per-step work every rank repeats (the optimizer step
//!   over all parameters).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use torchlet_autograd::Variable;
use torchlet_distributed::{local_groups, DistributedDataParallel, ProcessGroup};
use torchlet_nn::{CrossEntropyLoss, Module, Sequential};
use torchlet_optim::{Adam, AdamOptions, Optimizer};
use torchlet_tensor::{use_thread_generator, with_global_generator, Generator, Tensor};

use super::{lenet_model, mlp_model, mlp_sgd, workload, Workload};

/// The per-rank batch of the DDP workloads.
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

    /// Rank `rank`'s `rows` samples (random digits and labels).
    fn batch(self, rank: usize, rows: usize) -> (Variable, Tensor) {
        let mut g = Generator::new(rank as u64);
        let shape: &[usize] = match self {
            Net::Mlp => &[rows, 784],
            Net::Lenet => &[rows, 1, 28, 28],
        };
        let x = Tensor::randn_with(shape, &mut g);
        let y = Tensor::randint_with(0, 10, &[rows], &mut g).unwrap();
        (Variable::constant(x), y)
    }
}

/// One training step of `model` on `(x, y)`.
fn train_step(model: &dyn Module, opt: &mut dyn Optimizer, x: &Variable, y: &Tensor) {
    opt.zero_grad();
    let loss = CrossEntropyLoss::new()
        .forward(model.forward(x).unwrap(), y)
        .unwrap();
    loss.backward().unwrap();
    opt.step().unwrap();
    black_box(loss);
}

/// One rank's model, optimizer and rows.
struct Rank {
    model: Box<dyn Module>,
    opt: Box<dyn Optimizer>,
    x: Variable,
    y: Tensor,
}

impl Rank {
    /// Rank `pg.rank()` with `rows` samples; with `sync` false it trains
    /// its own copy of the model without DDP (the compute-only bound).
    fn new(net: Net, pg: &ProcessGroup, rows: usize, sync: bool) -> Rank {
        let model: Box<dyn Module> = if sync {
            Box::new(DistributedDataParallel::new(net.model(), pg).expect("DDP starts"))
        } else {
            Box::new(net.model())
        };
        let opt = net.optimizer(model.parameters());
        let (x, y) = net.batch(pg.rank(), rows);
        Rank { model, opt, x, y }
    }

    fn step(&mut self) {
        train_step(&*self.model, &mut *self.opt, &self.x, &self.y);
    }
}

/// The steps asked of the helper ranks, and whether to stop.
#[derive(Default)]
struct Steps {
    asked: AtomicU64,
    stop: AtomicBool,
    /// For a helper that waited long enough to sleep.
    sleep: Mutex<()>,
    wake: Condvar,
}

impl Steps {
    /// Waits (spinning first: the next step follows within microseconds)
    /// until more than `done` steps are asked; false once stopped.
    fn next(&self, done: u64) -> bool {
        let spin_end = Instant::now() + Duration::from_millis(2);
        loop {
            if self.stop.load(Ordering::Acquire) {
                return false;
            }
            if self.asked.load(Ordering::Acquire) > done {
                return true;
            }
            if Instant::now() < spin_end {
                std::hint::spin_loop();
            } else {
                let guard = self.sleep.lock().unwrap();
                if self.asked.load(Ordering::Acquire) == done && !self.stop.load(Ordering::Acquire)
                {
                    drop(
                        self.wake
                            .wait_timeout(guard, Duration::from_millis(10))
                            .unwrap(),
                    );
                }
            }
        }
    }

    fn ask(&self) {
        self.asked.fetch_add(1, Ordering::Release);
        let _guard = self.sleep.lock().unwrap();
        self.wake.notify_all();
    }

    fn finish(&self) {
        self.stop.store(true, Ordering::Release);
        let _guard = self.sleep.lock().unwrap();
        self.wake.notify_all();
    }
}

/// Rank 0 runs on the timing thread (as rank 0 of a torchrun job times
/// its own loop); the other ranks run on helper threads that start a
/// step when rank 0 does. A step ends when rank 0's ends: the ranks meet
/// in every step's all-reduce, so none runs ahead.
struct Ranks {
    rank0: Rank,
    steps: Arc<Steps>,
    helpers: Vec<JoinHandle<()>>,
}

impl Ranks {
    fn start(net: Net, world: usize, rows: usize, sync: bool) -> Ranks {
        let groups = local_groups(world).expect("a Local group");
        let steps = Arc::new(Steps::default());
        let (ready_tx, ready) = channel();
        let mut groups = groups.into_iter();
        let pg0 = groups.next().expect("rank 0");
        // Each rank builds its model from a generator of its own, as a
        // process would: drawing from the shared one at the same time
        // would make rank 0's initial weights depend on thread timing.
        let start = with_global_generator(|g| g.clone());
        let helpers = groups
            .map(|pg| {
                let steps = Arc::clone(&steps);
                let ready_tx = ready_tx.clone();
                let start = start.clone();
                std::thread::spawn(move || {
                    let _own = use_thread_generator(start);
                    let mut rank = Rank::new(net, &pg, rows, sync);
                    ready_tx.send(()).unwrap();
                    let mut done = 0;
                    while steps.next(done) {
                        rank.step();
                        done += 1;
                    }
                })
            })
            .collect::<Vec<_>>();
        let rank0 = {
            let _own = use_thread_generator(start);
            Rank::new(net, &pg0, rows, sync)
        };
        for _ in 1..world {
            ready.recv().expect("a helper rank started");
        }
        Ranks {
            rank0,
            steps,
            helpers,
        }
    }

    fn step(&mut self) {
        self.steps.ask();
        self.rank0.step();
    }
}

impl Drop for Ranks {
    fn drop(&mut self) {
        self.steps.finish();
        for h in self.helpers.drain(..) {
            let _ = h.join();
        }
    }
}

/// 2 ranks of `rows` samples each, with DDP when `sync`.
fn ddp(name: &'static str, net: Net, rows: usize, sync: bool) -> Workload {
    // Each rank computes on its own thread.
    torchlet_tensor::set_num_threads(1);
    let mut ranks = Ranks::start(net, 2, rows, sync);
    Workload {
        ops_per_step: Some(2 * rows),
        ..workload(name, move || ranks.step())
    }
}

fn one_rank(name: &'static str, net: Net) -> Workload {
    torchlet_tensor::set_num_threads(1);
    let model = net.model();
    let mut opt = net.optimizer(model.parameters());
    let (x, y) = net.batch(0, DDP_BATCH);
    Workload {
        ops_per_step: Some(DDP_BATCH),
        ..workload(name, move || train_step(&model, &mut *opt, &x, &y))
    }
}

pub(super) fn ddp_mlp_b64() -> Workload {
    ddp("ddp_mlp_b64", Net::Mlp, DDP_BATCH, true)
}

pub(super) fn ddp_mlp_b64_nocomm() -> Workload {
    ddp("ddp_mlp_b64_nocomm", Net::Mlp, DDP_BATCH, false)
}

pub(super) fn ddp_mlp_b32x2() -> Workload {
    ddp("ddp_mlp_b32x2", Net::Mlp, DDP_BATCH / 2, true)
}

pub(super) fn ddp_mlp_b64_1rank() -> Workload {
    one_rank("ddp_mlp_b64_1rank", Net::Mlp)
}

pub(super) fn ddp_lenet_b64() -> Workload {
    ddp("ddp_lenet_b64", Net::Lenet, DDP_BATCH, true)
}

pub(super) fn ddp_lenet_b64_nocomm() -> Workload {
    ddp("ddp_lenet_b64_nocomm", Net::Lenet, DDP_BATCH, false)
}

pub(super) fn ddp_lenet_b32x2() -> Workload {
    ddp("ddp_lenet_b32x2", Net::Lenet, DDP_BATCH / 2, true)
}

pub(super) fn ddp_lenet_b64_1rank() -> Workload {
    one_rank("ddp_lenet_b64_1rank", Net::Lenet)
}
