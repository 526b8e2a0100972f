//! Where a data-parallel training step's time goes: per step on rank 0,
//! the forward, backward's compute, the gradient all-reduce, how much of
//! it overlapped backward, and the optimizer step (medians over the
//! steps; [`StepTiming`] per backward). The benchmarks' MLP and LeNet-5,
//! a batch of 64 per rank, one compute thread per rank, DDP's default
//! buckets and small ones (several buckets, so that the first ones can
//! move while backward goes on).
//!
//! ```text
//! cargo run --release -p torchlet-distributed --example ddp_timeline            # 2 Local ranks
//! cargo build --release -p torchlet-distributed --features mpi --example ddp_timeline
//! mpirun -np 2 --oversubscribe target/release/examples/ddp_timeline             # 2 MPI ranks
//! ```

use std::time::{Duration, Instant};

use torchlet_autograd::Variable;
use torchlet_distributed::{DdpOptions, DistributedDataParallel, ProcessGroup, StepTiming};
use torchlet_nn::{
    Conv2d, Conv2dOptions, CrossEntropyLoss, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential,
};
use torchlet_optim::{Adam, AdamOptions, Optimizer, Sgd, SgdOptions};
use torchlet_tensor::{Generator, Tensor};

const STEPS: usize = 60;
const WARMUP: usize = 10;

fn mlp() -> Sequential {
    Sequential::new()
        .append(Linear::new(784, 256).unwrap())
        .append(ReLU)
        .append(Linear::new(256, 128).unwrap())
        .append(ReLU)
        .append(Linear::new(128, 10).unwrap())
}

fn lenet() -> Sequential {
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

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

/// Trains `name` for STEPS steps on this rank; returns rank 0's row.
fn run(pg: &ProcessGroup, name: &str, cap_mb: f64) -> Option<String> {
    let model = if name == "mlp" { mlp() } else { lenet() };
    let options = DdpOptions {
        bucket_cap_mb: cap_mb,
        ..DdpOptions::default()
    };
    let model = DistributedDataParallel::with_options(model, pg, options).unwrap();
    let mut opt: Box<dyn Optimizer> = if name == "mlp" {
        let o = SgdOptions {
            lr: 0.01,
            momentum: 0.9,
            ..SgdOptions::default()
        };
        Box::new(Sgd::new(model.parameters(), o).unwrap())
    } else {
        Box::new(Adam::new(model.parameters(), AdamOptions::default()).unwrap())
    };
    let mut g = Generator::new(pg.rank() as u64);
    let shape: &[usize] = if name == "mlp" {
        &[64, 784]
    } else {
        &[64, 1, 28, 28]
    };
    let x = Variable::constant(Tensor::randn_with(shape, &mut g));
    let y = Tensor::randint_with(0, 10, &[64], &mut g).unwrap();
    let (mut step, mut fwd, mut opt_t) = (vec![], vec![], vec![]);
    let mut timings: Vec<StepTiming> = vec![];
    for s in 0..WARMUP + STEPS {
        let t0 = Instant::now();
        opt.zero_grad();
        let loss = CrossEntropyLoss::new()
            .forward(model.forward(&x).unwrap(), &y)
            .unwrap();
        let t1 = Instant::now();
        loss.backward().unwrap();
        let t2 = Instant::now();
        opt.step().unwrap();
        let t3 = Instant::now();
        if s >= WARMUP {
            step.push(t3 - t0);
            fwd.push(t1 - t0);
            opt_t.push(t3 - t2);
            timings.push(model.last_step_timing().unwrap());
        }
    }
    let of = |f: fn(&StepTiming) -> Duration| median(timings.iter().map(f).collect());
    (pg.rank() == 0 || std::env::var_os("ALL_RANKS").is_some()).then(|| {
        format!(
            "| {name} | {cap_mb} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            timings[0].buckets.len(),
            median(step),
            median(fwd),
            of(|t| t.backward_compute),
            of(|t| t.backward_comm),
            of(|t| t.overlap),
            of(|t| t.backward_total),
            median(opt_t),
        )
    })
}

fn rows(pg: &ProcessGroup) -> Vec<String> {
    let mut out = Vec::new();
    for name in ["mlp", "lenet"] {
        for cap in [25.0, 0.05] {
            out.extend(run(pg, name, cap));
        }
    }
    out
}

fn print(backend: &str, world: usize, rows: &[String]) {
    println!("{backend}, {world} ranks x 1 thread, batch 64 per rank; medians over {STEPS} steps (ms):\n");
    println!("| model | bucket_cap_mb | buckets | step | forward | backward compute | all-reduce | overlap | backward total | optimizer |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!("{r}");
    }
}

fn main() {
    torchlet_tensor::set_num_threads(1);
    #[cfg(feature = "mpi")]
    if std::env::var_os("OMPI_COMM_WORLD_SIZE").is_some() {
        let pg = torchlet_distributed::init_process_group(torchlet_distributed::Backend::Mpi)
            .expect("MPI starts");
        let rows = rows(&pg);
        if pg.rank() == 0 {
            print("MPI", pg.world_size(), &rows);
        }
        return;
    }
    let world = 2;
    let groups = torchlet_distributed::local_groups(world).unwrap();
    let mut all: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .into_iter()
            .map(|pg| s.spawn(move || rows(&pg)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let rows0 = all.remove(0);
    print("Local", world, &rows0);
    for r in all.iter().flatten() {
        println!("rank 1: {r}");
    }
}
