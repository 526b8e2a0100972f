//! `allreduce_25mb`: the MPI backend's all-reduce of a 25 MiB f32 tensor
//! against a direct rsmpi call on the same data, interleaved, under
//! `mpirun`; prints one JSON line (rank 0) with both medians and their
//! ratio (target: torchlet within 5% of rsmpi).
//!
//! ```text
//! cargo build --release --features mpi --example allreduce_bench
//! mpirun -np 2 --oversubscribe target/release/examples/allreduce_bench [ROUNDS]
//! ```

use std::time::Instant;

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use torchlet_distributed::{init_process_group, Backend, ReduceOp};
use torchlet_tensor::Tensor;

/// 25 MiB of f32.
const N: usize = 25 * 1024 * 1024 / 4;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let pg = init_process_group(Backend::Mpi).expect("run under mpirun with the mpi feature");
    // A second handle on MPI_COMM_WORLD for the direct calls: MPI runs
    // serialized, and this thread calls it only between the group's
    // calls, which are all synchronous here.
    let world = SimpleCommunicator::world();
    let mut t = Tensor::full(&[N], pg.rank() as f32 + 1.0);
    let send = vec![pg.rank() as f32 + 1.0; N];
    let mut recv = vec![0f32; N];
    let (mut ours, mut direct) = (Vec::new(), Vec::new());
    for round in 0..rounds + 2 {
        pg.barrier().unwrap();
        let start = Instant::now();
        pg.all_reduce(&mut t, ReduceOp::Sum).unwrap();
        let a = start.elapsed().as_secs_f64() * 1e3;
        pg.barrier().unwrap();
        let start = Instant::now();
        world.all_reduce_into(&send[..], &mut recv[..], SystemOperation::sum());
        let b = start.elapsed().as_secs_f64() * 1e3;
        if round >= 2 {
            ours.push(a);
            direct.push(b);
        }
        // Keep the values bounded: every rank starts each round from 1.
        t = Tensor::full(&[N], 1.0f32);
    }
    if pg.rank() == 0 {
        let (a, b) = (median(ours), median(direct));
        println!(
            "{{\"workload\": \"allreduce_25mb\", \"ranks\": {}, \"torchlet_ms\": {a:.3}, \"rsmpi_ms\": {b:.3}, \"ratio\": {:.3}}}",
            pg.world_size(),
            a / b
        );
    }
}
