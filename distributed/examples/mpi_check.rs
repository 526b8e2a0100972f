//! Checks the MPI backend against the `Local` one: run under
//! `mpirun -np N`, every collective's result on each rank must equal what
//! the same rank gets from a `Local` group of N threads with the same
//! inputs, and DDP must train the MLP to the same weights.
//!
//! ```text
//! cargo build --features mpi --example mpi_check
//! mpirun -np 2 --oversubscribe target/debug/examples/mpi_check          # prints "mpi_check: ok"
//! mpirun -np 2 --oversubscribe target/debug/examples/mpi_check abort    # rank 1 aborts: mpirun fails fast
//! ```
//!
//! A debug build also checks that ranks making different calls get a
//! clear error (the fingerprint round trip only debug builds make).

use serde::{Deserialize, Serialize};
use torchlet_autograd::functional::{cross_entropy, Reduction};
use torchlet_autograd::Variable;
use torchlet_distributed::{
    init_process_group, spawn, Backend, DdpOptions, DistError, DistributedDataParallel,
    ProcessGroup, ReduceOp,
};
use torchlet_nn::{Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential};
use torchlet_optim::{Optimizer, Sgd, SgdOptions};
use torchlet_tensor::{DType, Generator, Tensor};

type R<T> = Result<T, DistError>;

/// What one rank computes with its group (the same code on both backends).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Outcome {
    reduced: Vec<Vec<f64>>,
    broadcast: Vec<Vec<f64>>,
    gathered: Vec<Vec<f64>>,
    scattered: Vec<f64>,
    received: Vec<f64>,
    objects: Vec<String>,
    weights: Vec<Vec<f32>>,
}

fn values(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).to_vec::<f64>().unwrap()
}

/// Rank `rank`'s input number `k`, of `dtype`.
fn input(rank: usize, k: u64, dtype: DType) -> Tensor {
    let mut g = Generator::new(rank as u64 * 100 + k);
    let t = Tensor::randn_with(&[3, 4], &mut g).mul_scalar(4.0);
    match dtype {
        DType::I64 => t.to_dtype(DType::I64),
        d => t.to_dtype(d),
    }
}

fn run(pg: &ProcessGroup) -> R<Outcome> {
    let (rank, size) = (pg.rank(), pg.world_size());
    let mut reduced = Vec::new();
    for dtype in [DType::F32, DType::F64, DType::I64] {
        for op in [
            ReduceOp::Sum,
            ReduceOp::Avg,
            ReduceOp::Max,
            ReduceOp::Min,
            ReduceOp::Product,
        ] {
            if op == ReduceOp::Avg && dtype == DType::I64 {
                continue;
            }
            let mut t = input(rank, 1, dtype);
            pg.all_reduce(&mut t, op)?;
            reduced.push(values(&t));
        }
    }
    let mut broadcast = Vec::new();
    for src in 0..size {
        let mut t = input(rank, 2, DType::F32);
        pg.broadcast(&mut t, src)?;
        broadcast.push(values(&t));
    }
    let gathered = pg
        .all_gather(&input(rank, 3, DType::F64))?
        .iter()
        .map(values)
        .collect();
    let inputs: Vec<Tensor> = (0..size)
        .map(|k| input(rank, 10 + k as u64, DType::F32))
        .collect();
    let mut mine = Tensor::zeros(&[3, 4]);
    pg.reduce_scatter(&mut mine, &inputs, ReduceOp::Sum)?;
    // A ring: each rank sends to the next, tag 7.
    let (next, prev) = ((rank + 1) % size, (rank + size - 1) % size);
    let mut got = Tensor::zeros(&[3, 4]);
    if size > 1 {
        if rank % 2 == 0 {
            pg.send_tagged(&input(rank, 4, DType::F32), next, 7)?;
            pg.recv_tagged(&mut got, prev, 7)?;
        } else {
            pg.recv_tagged(&mut got, prev, 7)?;
            pg.send_tagged(&input(rank, 4, DType::F32), next, 7)?;
        }
    }
    let mut note = format!("from rank {rank}");
    pg.broadcast_object(&mut note, size - 1)?;
    let mut objects = pg.all_gather_object(&format!("rank {rank} of {size}"))?;
    objects.push(note);
    pg.barrier()?;
    Ok(Outcome {
        reduced,
        broadcast,
        gathered,
        scattered: values(&mine),
        received: values(&got),
        objects,
        weights: train_ddp(pg)?,
    })
}

/// 20 SGD steps of a small MLP and of a small LeNet (3 buckets each)
/// under DDP, each rank on its slice of 64 rows, then a step with an
/// unused parameter under `find_unused_parameters`.
fn train_ddp(pg: &ProcessGroup) -> R<Vec<Vec<f32>>> {
    let mlp = Sequential::new()
        .append(Linear::new(8, 16)?)
        .append(ReLU)
        .append(Linear::new(16, 3)?);
    let mut weights = train_one(pg, mlp, &[8])?;
    let lenet = Sequential::new()
        .append(Conv2d::new(1, 4, 3)?)
        .append(ReLU)
        .append(MaxPool2d::new(2))
        .append(Flatten::new())
        .append(Linear::new(16, 3)?);
    weights.extend(train_one(pg, lenet, &[1, 6, 6])?);
    weights.push(unused_step(pg)?);
    Ok(weights)
}

/// One step where rank 0 leaves a layer out (find_unused_parameters):
/// that layer's gradient is the other ranks' mean.
fn unused_step(pg: &ProcessGroup) -> R<Vec<f32>> {
    struct Branchy {
        a: Linear,
        b: Linear,
        use_b: bool,
    }
    impl Module for Branchy {
        fn forward(&self, x: &Variable) -> torchlet_nn::Result<Variable> {
            let y = self.a.forward(x)?;
            if self.use_b {
                return Ok(y.add(&self.b.forward(x)?)?);
            }
            Ok(y)
        }
        fn children(&self) -> Vec<(&str, &dyn Module)> {
            vec![("a", &self.a), ("b", &self.b)]
        }
    }
    let m = Branchy {
        a: Linear::new(3, 2)?,
        b: Linear::new(3, 2)?,
        use_b: pg.rank() != 0,
    };
    let options = DdpOptions {
        find_unused_parameters: true,
        ..DdpOptions::default()
    };
    let model = DistributedDataParallel::with_options(m, pg, options)?;
    let x = Variable::constant(Tensor::ones(&[2, 3]));
    model.forward(&x)?.sum().backward()?;
    Ok(model.parameters()[2]
        .grad()
        .expect("some rank used b")
        .to_vec::<f32>()?)
}

/// 20 SGD steps of `model` under DDP on inputs of `shape`.
fn train_one(pg: &ProcessGroup, model: Sequential, shape: &[usize]) -> R<Vec<Vec<f32>>> {
    let mut g = Generator::new(42 + pg.rank() as u64);
    for p in model.parameters() {
        p.set_data(Tensor::randn_with(&p.shape(), &mut g).mul_scalar(0.3))?;
    }
    let options = DdpOptions {
        bucket_cap_mb: 0.0002,
        ..DdpOptions::default()
    };
    let model = DistributedDataParallel::with_options(model, pg, options)?;
    let options = SgdOptions {
        lr: 0.1,
        momentum: 0.9,
        ..SgdOptions::default()
    };
    let mut opt = Sgd::new(model.parameters(), options).map_err(|e| DistError::Backend {
        op: "sgd",
        message: e.to_string(),
    })?;
    let per = 64 / pg.world_size();
    let mut full = vec![64];
    full.extend_from_slice(shape);
    for k in 0..20 {
        let mut g = Generator::new(1000 + k);
        let x = Tensor::randn_with(&full, &mut g).narrow(0, (pg.rank() * per) as i64, per)?;
        let y =
            Tensor::randint_with(0, 3, &[64], &mut g)?.narrow(0, (pg.rank() * per) as i64, per)?;
        opt.zero_grad();
        let logits = model.forward(&Variable::constant(x))?;
        cross_entropy(&logits, &y, None, -100, Reduction::Mean, 0.0)?.backward()?;
        opt.step().map_err(|e| DistError::Backend {
            op: "step",
            message: e.to_string(),
        })?;
    }
    Ok(model
        .parameters()
        .iter()
        .map(|p| p.data().to_vec::<f32>().unwrap())
        .collect())
}

fn main() {
    let pg = init_process_group(Backend::Mpi).unwrap_or_else(|e| {
        eprintln!("mpi_check: {e}");
        std::process::exit(2);
    });
    let (rank, size) = (pg.rank(), pg.world_size());
    if std::env::args().nth(1).as_deref() == Some("abort") {
        // Rank 1 fails; the others wait in a barrier that never completes
        // until mpirun stops the job.
        if rank == 1 {
            std::thread::sleep(std::time::Duration::from_millis(200));
            pg.abort("mpi_check abort mode");
        }
        let _ = pg.barrier();
        eprintln!("mpi_check: rank {rank} passed a barrier it should never pass");
        std::process::exit(3);
    }
    let got = run(&pg).unwrap_or_else(|e| panic!("rank {rank}: {e}"));
    let want = spawn(size, |local| run(&local))
        .unwrap_or_else(|e| panic!("the Local run: {e}"))
        .swap_remove(rank);
    assert_eq!(got, want, "rank {rank}: MPI and Local differ");
    assert!(got.weights.iter().flatten().all(|v| v.is_finite()));
    if cfg!(debug_assertions) && size > 1 {
        let mut t = Tensor::zeros(&[2 + rank]);
        let err = pg
            .all_reduce(&mut t, ReduceOp::Sum)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the ranks disagree"), "rank {rank}: {err}");
    }
    drop(pg);
    if rank == 0 {
        println!(
            "mpi_check: ok ({size} ranks; every collective and DDP equal the Local backend's)"
        );
    }
}
