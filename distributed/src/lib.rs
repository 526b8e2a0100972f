//! # torchlet-distributed
//!
//! torchlet's `torch.distributed`: process groups whose ranks are threads
//! of one process ([`spawn`], `Backend::Local`) or MPI processes
//! (`Backend::Mpi`, the `mpi` feature), the collectives among them,
//! [`DistributedDataParallel`] and [`DistributedSampler`].
//!
//! | PyTorch | torchlet |
//! |---|---|
//! | `torch.multiprocessing.spawn(fn, nprocs=n)` | [`spawn`]`(n, f)` (threads), or [`local_groups`]`(n)` for threads you start |
//! | `dist.init_process_group("gloo")` | [`init_process_group`]`(Backend::Local { world_size })` inside [`spawn`], or `Backend::Mpi` under `mpirun` |
//! | `dist.get_rank()`, `dist.get_world_size()` | [`ProcessGroup::rank`], [`ProcessGroup::world_size`] |
//! | `dist.all_reduce(t, op=ReduceOp.SUM)` | [`ProcessGroup::all_reduce`]`(&mut t, ReduceOp::Sum)` |
//! | `dist.broadcast`, `all_gather`, `reduce_scatter`, `barrier`, `send`, `recv` | the methods of the same names |
//! | `async_op=True` → `Work.wait()` | `*_async` → [`Work::wait`] |
//! | `dist.broadcast_object_list`, `all_gather_object` | [`ProcessGroup::broadcast_object`], [`ProcessGroup::all_gather_object`] (serde + bincode) |
//!
//! ```
//! use torchlet_distributed::{spawn, ReduceOp};
//! use torchlet_tensor::Tensor;
//! # fn main() -> Result<(), torchlet_distributed::DistError> {
//! let results = spawn(2, |pg| -> Result<Vec<f32>, torchlet_distributed::DistError> {
//!     // Rank r holds [r, r]; the mean over the ranks is [0.5, 0.5].
//!     let mut t = Tensor::full(&[2], pg.rank() as f32);
//!     pg.all_reduce(&mut t, ReduceOp::Avg)?;
//!     Ok(t.to_vec::<f32>()?)
//! })?;
//! assert_eq!(results, vec![vec![0.5, 0.5]; 2]);
//! # Ok(())
//! # }
//! ```
//!
//! Calls are collective: every rank makes the same calls in the same
//! order with tensors of the same shapes and dtypes. A rank that calls
//! something else gets [`DistError::Mismatch`] (all ranks do); a rank
//! that fails stops the group, and the others get
//! [`DistError::Aborted`] instead of waiting forever.
#![warn(missing_docs)]

mod ddp;
mod error;
mod group;
mod launch;
mod local;
mod mpi_backend;
mod mt19937;
mod reduce;
mod sampler;
mod timing;

pub use ddp::{sync_buffers, DdpOptions, DistributedDataParallel, NoSync};
pub use error::{DistError, Result};
pub use group::{ProcessGroup, Work};
pub use launch::{
    init_process_group, local_groups, local_groups_with_timeout, spawn, spawn_with_timeout,
    Backend, DEFAULT_TIMEOUT,
};
pub use reduce::ReduceOp;
pub use sampler::DistributedSampler;
pub use timing::{BucketTiming, StepTiming};
