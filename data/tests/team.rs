//! DataLoader workers leave the tensor thread team to the training loop:
//! kernels called from a worker run on that worker alone (PyTorch sets one
//! thread in its workers), so the training step's kernels keep the team
//! while batches load. Its own test binary: the thread count is
//! process-wide.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use torchlet_data::{DataLoader, Dataset, Result};
use torchlet_tensor::{set_num_threads, team_jobs_on_this_thread, Generator, Tensor};

/// Each `get` runs a product large enough to be split across the team
/// (128³ multiply-adds), and counts the team jobs its thread ran.
struct Busy {
    a: Tensor,
    worker_team_jobs: Arc<AtomicU64>,
}

impl Dataset for Busy {
    type Item = (Tensor, i64);

    fn len(&self) -> usize {
        64
    }

    fn get(&self, index: usize) -> Result<(Tensor, i64)> {
        let before = team_jobs_on_this_thread();
        let y = self.a.matmul(&self.a).expect("square product");
        let ran = team_jobs_on_this_thread() - before;
        self.worker_team_jobs.fetch_add(ran, Ordering::Relaxed);
        Ok((y.sum(), index as i64))
    }
}

#[test]
fn loader_workers_run_kernels_inline_and_the_step_keeps_the_team() {
    set_num_threads(2);
    let a = Tensor::randn_with(&[128, 128], &mut Generator::new(3));
    let worker_team_jobs = Arc::new(AtomicU64::new(0));
    let loader = DataLoader::builder(Busy {
        a: a.clone(),
        worker_team_jobs: Arc::clone(&worker_team_jobs),
    })
    .batch_size(4)
    .num_workers(2)
    .build()
    .unwrap();

    let (mut steps, mut step_jobs) = (0u64, 0u64);
    for batch in loader.iter() {
        batch.unwrap();
        // The "training step": products the team splits, while the workers
        // keep loading the next batches.
        for _ in 0..4 {
            let before = team_jobs_on_this_thread();
            let _ = a.matmul(&a).unwrap();
            step_jobs += team_jobs_on_this_thread() - before;
            steps += 1;
        }
    }
    assert_eq!(steps, 64);
    assert_eq!(
        worker_team_jobs.load(Ordering::Relaxed),
        0,
        "a loader worker ran a kernel on the team"
    );
    assert_eq!(
        step_jobs, steps,
        "a training-step kernel ran inline although only loader workers competed for the team"
    );
}
