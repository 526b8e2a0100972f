//! `torchlet train --local-ranks N` and `mpirun -np N torchlet train
//! --distributed`: the MNIST recipe on data-parallel ranks (DDP with the
//! batch split across ranks; rank 0 prints and writes the run folder).

use torchlet_distributed::{init_process_group, spawn, Backend, ProcessGroup};
use torchlet_nn::Module;

use crate::run::{BoxError, Msg};
use crate::train::{train_mnist, TrainArgs};

/// `--local-ranks N`: N ranks as threads of this process. Each computes
/// on its own thread unless `--threads` says otherwise (the ranks then
/// share one thread team).
pub fn train_local(args: &TrainArgs, name: &str, ranks: usize) -> Result<(), BoxError> {
    if ranks == 0 {
        return Err(Msg("--local-ranks must be at least 1".into()).into());
    }
    let batch = args.batch_size.unwrap_or(64);
    if !batch.is_multiple_of(ranks) {
        return Err(Msg(format!(
            "--batch-size {batch} does not split evenly across {ranks} ranks"
        ))
        .into());
    }
    if args.threads.is_none() {
        torchlet_tensor::set_num_threads(1);
    }
    spawn(ranks, |pg| train_mnist(args, name, Some(&pg)))?;
    Ok(())
}

/// `--distributed`: this process's rank of the MPI job.
pub fn train_mpi(args: &TrainArgs, name: &str) -> Result<(), BoxError> {
    let pg = init_process_group(Backend::Mpi)?;
    let result = train_mnist(args, name, Some(&pg));
    if let Err(e) = &result {
        // The other ranks would wait for this one: stop the job.
        pg.abort(&e.to_string());
    }
    result
}

/// Fails unless every rank holds the same parameters (DDP's promise,
/// checked once at the end of a run). Buffers may differ: BatchNorm's
/// running statistics are each rank's own until the next forward copies
/// rank 0's, and rank 0's are the ones saved.
pub fn check_same_weights(group: &ProcessGroup, model: &dyn Module) -> Result<(), BoxError> {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for (name, p) in model.named_parameters() {
        let bytes = name.bytes().chain(
            p.data()
                .to_dtype(torchlet_tensor::DType::F64)
                .to_vec::<f64>()?
                .into_iter()
                .flat_map(|v| v.to_bits().to_le_bytes()),
        );
        for b in bytes {
            hash = (hash ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    let all = group.all_gather_object(&hash)?;
    if let Some(r) = all.iter().position(|&h| h != hash) {
        return Err(Msg(format!(
            "data-parallel training ended with different weights on rank {r} and rank {}",
            group.rank()
        ))
        .into());
    }
    Ok(())
}
