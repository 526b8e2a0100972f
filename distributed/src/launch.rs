//! Starting a job: [`spawn`] runs one closure per rank on threads of this
//! process (`torch.multiprocessing.spawn`), each with a `Local` group;
//! [`init_process_group`] gives the calling rank its group (in a spawned
//! rank, or under `mpirun` with the `mpi` feature).

use std::cell::RefCell;
use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use torchlet_tensor::{use_thread_generator, with_global_generator};

use crate::error::{DistError, Result};
use crate::group::ProcessGroup;
use crate::local::{LocalComm, Rendezvous};

/// PyTorch's default collective timeout (30 minutes): how long a call
/// waits for the other ranks before failing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Which communication engine a group runs on
/// (`init_process_group(backend=...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Ranks as threads of this process (started by [`spawn`]).
    Local {
        /// The number of ranks.
        world_size: usize,
    },
    /// One rank per MPI process (`mpirun -np N`; the `mpi` feature).
    Mpi,
}

thread_local! {
    /// The group `spawn` made for the rank running on this thread.
    static CURRENT: RefCell<Option<ProcessGroup>> = const { RefCell::new(None) };
}

/// This rank's process group for `backend` (`dist.init_process_group`).
///
/// - `Backend::Local { world_size }`: inside a rank started by [`spawn`],
///   that rank's group (`world_size` must be the spawned one).
/// - `Backend::Mpi`: the group of all processes `mpirun` started, rank
///   and size from MPI (built with the `mpi` feature).
pub fn init_process_group(backend: Backend) -> Result<ProcessGroup> {
    const OP: &str = "init_process_group";
    match backend {
        Backend::Local { world_size } => {
            let pg = CURRENT.with(|c| c.borrow().clone()).ok_or_else(|| {
                DistError::invalid(
                    OP,
                    "Backend::Local ranks are threads started by torchlet_distributed::spawn; call init_process_group inside the spawned closure",
                )
            })?;
            if pg.world_size() != world_size {
                return Err(DistError::invalid(
                    OP,
                    format!(
                        "world_size {world_size} asked, but spawn started {} ranks",
                        pg.world_size()
                    ),
                ));
            }
            Ok(pg)
        }
        Backend::Mpi => crate::mpi_backend::init(),
    }
}

/// Runs `f` on `world_size` ranks, each a thread of this process with its
/// own [`ProcessGroup`] (`Backend::Local`), and returns their results in
/// rank order. A rank that returns an error or panics stops the group:
/// the others' pending and later calls fail at once instead of waiting,
/// and `spawn` returns the failing rank's error.
///
/// Each rank has its own default random generator, as each rank is a
/// process of its own in PyTorch: it starts as a copy of the caller's,
/// and `manual_seed`, parameter initialisation and dropout in one rank
/// neither see nor disturb another's (ranks that seed and build their
/// models at the same moment get the same weights every run). Threads a
/// rank starts (`DataLoader` workers) draw from the process's generator
/// unless they install their own.
///
/// ```
/// use torchlet_distributed::{init_process_group, spawn, Backend};
/// # fn main() -> Result<(), torchlet_distributed::DistError> {
/// let ranks = spawn(3, |pg| {
///     let again = init_process_group(Backend::Local { world_size: 3 })?;
///     assert_eq!(again.rank(), pg.rank());
///     Ok::<_, torchlet_distributed::DistError>(pg.rank())
/// })?;
/// assert_eq!(ranks, [0, 1, 2]);
/// # Ok(())
/// # }
/// ```
pub fn spawn<T, E, F>(world_size: usize, f: F) -> Result<Vec<T>>
where
    T: Send,
    E: Display,
    F: Fn(ProcessGroup) -> std::result::Result<T, E> + Sync,
{
    spawn_with_timeout(world_size, DEFAULT_TIMEOUT, f)
}

/// [`spawn`] with another collective timeout than [`DEFAULT_TIMEOUT`].
pub fn spawn_with_timeout<T, E, F>(world_size: usize, timeout: Duration, f: F) -> Result<Vec<T>>
where
    T: Send,
    E: Display,
    F: Fn(ProcessGroup) -> std::result::Result<T, E> + Sync,
{
    if world_size == 0 {
        return Err(DistError::invalid("spawn", "world_size must be at least 1"));
    }
    let rendezvous = Rendezvous::new(world_size, timeout);
    let generator = with_global_generator(|g| g.clone());
    let outcomes: Vec<std::result::Result<T, String>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..world_size)
            .map(|rank| {
                let rendezvous = Arc::clone(&rendezvous);
                let generator = generator.clone();
                let f = &f;
                thread::Builder::new()
                    .name(format!("torchlet-rank-{rank}"))
                    .spawn_scoped(scope, move || {
                        let _own = use_thread_generator(generator);
                        run_rank(rank, world_size, rendezvous, f)
                    })
                    .expect("the OS can start a rank's thread")
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the rank's thread panicked".into()))
            })
            .collect()
    });
    // Report the rank that failed first-hand, not one that only saw the
    // group stop.
    let mut failures: Vec<(usize, String)> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(r, o)| o.as_ref().err().map(|e| (r, e.clone())))
        .collect();
    failures.sort_by_key(|(_, e)| e.contains("the process group stopped"));
    if let Some((rank, message)) = failures.into_iter().next() {
        return Err(DistError::Aborted {
            op: "spawn",
            reason: format!("rank {rank} failed: {message}"),
        });
    }
    Ok(outcomes.into_iter().flatten().collect())
}

/// One group per rank of a new `Local` job, in rank order, for ranks
/// that run on threads the caller starts (a thread pool, or the calling
/// thread as rank 0), with [`DEFAULT_TIMEOUT`]. Move each group to its
/// rank's thread; dropping a rank's last handle counts as that rank
/// leaving, so the others' calls that wait for it fail instead of
/// hanging. Ranks that draw random numbers need their own default
/// generators (`torchlet_tensor::use_thread_generator` on each thread).
/// [`spawn`] does all this for you and also stops the group when a rank
/// fails.
///
/// ```
/// use torchlet_distributed::{local_groups, ReduceOp};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_distributed::DistError> {
/// let mut groups = local_groups(2)?;
/// let rank1 = groups.pop().unwrap();
/// let rank0 = groups.pop().unwrap();
/// let helper = std::thread::spawn(move || {
///     let mut t = Tensor::full(&[2], 2.0f32);
///     rank1.all_reduce(&mut t, ReduceOp::Sum).map(|_| t)
/// });
/// let mut t = Tensor::full(&[2], 1.0f32);
/// rank0.all_reduce(&mut t, ReduceOp::Sum)?;
/// assert_eq!(t.to_vec::<f32>()?, [3.0, 3.0]);
/// assert_eq!(helper.join().unwrap()?.to_vec::<f32>()?, [3.0, 3.0]);
/// # Ok(())
/// # }
/// ```
pub fn local_groups(world_size: usize) -> Result<Vec<ProcessGroup>> {
    local_groups_with_timeout(world_size, DEFAULT_TIMEOUT)
}

/// [`local_groups`] with another collective timeout than
/// [`DEFAULT_TIMEOUT`].
pub fn local_groups_with_timeout(
    world_size: usize,
    timeout: Duration,
) -> Result<Vec<ProcessGroup>> {
    if world_size == 0 {
        return Err(DistError::invalid(
            "local_groups",
            "world_size must be at least 1",
        ));
    }
    let rendezvous = Rendezvous::new(world_size, timeout);
    Ok((0..world_size)
        .map(|rank| local_group(rank, world_size, &rendezvous))
        .collect())
}

/// Rank `rank`'s group on `rendezvous`.
fn local_group(rank: usize, world_size: usize, rendezvous: &Arc<Rendezvous>) -> ProcessGroup {
    let to_stop = Arc::clone(rendezvous);
    let to_leave = Arc::clone(rendezvous);
    ProcessGroup::direct(
        Arc::new(LocalComm::new(rank, Arc::clone(rendezvous))),
        rank,
        world_size,
        Arc::new(move |reason| to_stop.abort(reason)),
        move || to_leave.leave(rank),
    )
}

/// One rank's thread: its group, `f`, and the group stopped if it fails.
fn run_rank<T, E: Display>(
    rank: usize,
    world_size: usize,
    rendezvous: Arc<Rendezvous>,
    f: &(dyn Fn(ProcessGroup) -> std::result::Result<T, E> + Sync),
) -> std::result::Result<T, String> {
    let pg = local_group(rank, world_size, &rendezvous);
    CURRENT.with(|c| *c.borrow_mut() = Some(pg.clone()));
    let outcome = match catch_unwind(AssertUnwindSafe(|| f(pg))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(p) => Err(format!(
            "panicked: {}",
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    };
    CURRENT.with(|c| *c.borrow_mut() = None);
    if let Err(e) = &outcome {
        rendezvous.abort(format!("rank {rank} failed: {e}"));
    }
    rendezvous.leave(rank);
    outcome
}
