//! [`ProcessGroup`]: the ranks of one job and the collectives among them
//! (`torch.distributed`'s process group), over a backend.
//!
//! A backend ([`Comm`]) starts each call at once, in the order the rank
//! makes them, and hands back a [`Pending`] result, so an `*_async`
//! call returns a [`Work`] handle while the data moves and collectives
//! still match up in the same order on every rank. The MPI backend runs
//! on the group's communication thread (MPI wants one thread to call
//! it); the `Local` backend needs none: a call puts its contribution in
//! at once and the reduction runs in [`Work::wait`] on the rank's own
//! thread.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Serialize;
use torchlet_tensor::Tensor;

use crate::error::{DistError, Result};
use crate::reduce::ReduceOp;

/// A call's result as a backend hands it back: done, or finished later
/// by [`Work::wait`] on the waiting thread.
pub(crate) enum Pending<T> {
    /// The result.
    Done(Result<T>),
    /// The rest of the call.
    Later(Later<T>),
}

/// The rest of a call: `finish` gives the result (it may block for the
/// other ranks); `ready` says whether it would not block.
pub(crate) struct Later<T> {
    pub(crate) finish: Box<dyn FnOnce() -> Result<T> + Send>,
    pub(crate) ready: Box<dyn Fn() -> bool + Send>,
}

/// What a backend does; the group checks arguments before calling it.
/// Tensors arrive contiguous; results have the caller's shape.
pub(crate) trait Comm {
    fn all_reduce(&self, t: Tensor, op: ReduceOp) -> Pending<Tensor>;
    /// The sum over the ranks of their `parts` flattened end to end, each
    /// element first divided by `divisor` (DDP's gradient average, which
    /// PyTorch divides before it sums).
    fn all_reduce_coalesced(&self, parts: Vec<Tensor>, divisor: f64) -> Pending<Tensor>;
    fn broadcast(&self, t: Tensor, src: usize) -> Pending<Tensor>;
    fn all_gather(&self, t: Tensor) -> Pending<Vec<Tensor>>;
    fn reduce_scatter(&self, inputs: Vec<Tensor>, op: ReduceOp) -> Pending<Tensor>;
    fn barrier(&self) -> Pending<()>;
    fn send(&self, t: Tensor, dst: usize, tag: i64) -> Pending<()>;
    /// A tensor shaped like `like` from `src`.
    fn recv(&self, like: Tensor, src: usize, tag: i64) -> Pending<Tensor>;
    fn broadcast_bytes(&self, bytes: Vec<u8>, src: usize) -> Pending<Vec<u8>>;
    fn all_gather_bytes(&self, bytes: Vec<u8>) -> Pending<Vec<Vec<u8>>>;
}

/// A backend whose calls finish before they return (MPI on the
/// communication thread); every such backend is a [`Comm`].
pub(crate) trait Blocking {
    fn all_reduce(&self, t: Tensor, op: ReduceOp) -> Result<Tensor>;
    fn broadcast(&self, t: Tensor, src: usize) -> Result<Tensor>;
    fn all_gather(&self, t: Tensor) -> Result<Vec<Tensor>>;
    fn reduce_scatter(&self, inputs: Vec<Tensor>, op: ReduceOp) -> Result<Tensor>;
    fn barrier(&self) -> Result<()>;
    fn send(&self, t: Tensor, dst: usize, tag: i64) -> Result<()>;
    fn recv(&self, like: Tensor, src: usize, tag: i64) -> Result<Tensor>;
    fn broadcast_bytes(&self, bytes: Vec<u8>, src: usize) -> Result<Vec<u8>>;
    fn all_gather_bytes(&self, bytes: Vec<u8>) -> Result<Vec<Vec<u8>>>;
}

impl<B: Blocking> Comm for B {
    fn all_reduce(&self, t: Tensor, op: ReduceOp) -> Pending<Tensor> {
        Pending::Done(Blocking::all_reduce(self, t, op))
    }
    fn all_reduce_coalesced(&self, parts: Vec<Tensor>, divisor: f64) -> Pending<Tensor> {
        Pending::Done(
            crate::reduce::flatten_divided(&parts, divisor)
                .and_then(|flat| Blocking::all_reduce(self, flat, ReduceOp::Sum)),
        )
    }
    fn broadcast(&self, t: Tensor, src: usize) -> Pending<Tensor> {
        Pending::Done(Blocking::broadcast(self, t, src))
    }
    fn all_gather(&self, t: Tensor) -> Pending<Vec<Tensor>> {
        Pending::Done(Blocking::all_gather(self, t))
    }
    fn reduce_scatter(&self, inputs: Vec<Tensor>, op: ReduceOp) -> Pending<Tensor> {
        Pending::Done(Blocking::reduce_scatter(self, inputs, op))
    }
    fn barrier(&self) -> Pending<()> {
        Pending::Done(Blocking::barrier(self))
    }
    fn send(&self, t: Tensor, dst: usize, tag: i64) -> Pending<()> {
        Pending::Done(Blocking::send(self, t, dst, tag))
    }
    fn recv(&self, like: Tensor, src: usize, tag: i64) -> Pending<Tensor> {
        Pending::Done(Blocking::recv(self, like, src, tag))
    }
    fn broadcast_bytes(&self, bytes: Vec<u8>, src: usize) -> Pending<Vec<u8>> {
        Pending::Done(Blocking::broadcast_bytes(self, bytes, src))
    }
    fn all_gather_bytes(&self, bytes: Vec<u8>) -> Pending<Vec<Vec<u8>>> {
        Pending::Done(Blocking::all_gather_bytes(self, bytes))
    }
}

/// Stops the whole job from any thread (other ranks' calls fail, or
/// the MPI job ends).
pub(crate) type Abort = Arc<dyn Fn(String) + Send + Sync>;

/// A job for the communication thread.
type Job = Box<dyn FnOnce(&dyn Comm) + Send>;

/// Where a group's calls run.
enum Engine {
    /// On the caller's thread (the `Local` backend).
    Direct(Arc<dyn Comm + Send + Sync>),
    /// On the group's communication thread, which owns the backend (MPI).
    Thread {
        jobs: Mutex<Option<Sender<Job>>>,
        thread: Mutex<Option<JoinHandle<()>>>,
    },
}

struct Shared {
    rank: usize,
    world_size: usize,
    abort: Abort,
    engine: Engine,
    /// Runs when the last handle goes (a `Local` rank leaves its group).
    on_drop: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Drop for Shared {
    /// Ends the communication thread and waits for it, so that the
    /// backend shuts down (MPI: finalizes) before the group is gone.
    fn drop(&mut self) {
        if let Engine::Thread { jobs, thread } = &self.engine {
            jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(t) = thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = t.join();
            }
        }
        if let Some(f) = self.on_drop.take() {
            f();
        }
    }
}

/// The ranks of a job and the collectives among them
/// (`torch.distributed.ProcessGroup`). Cheap to clone; clones are the
/// same rank's handles on the same group.
///
/// Make one per rank with [`spawn`](crate::spawn) (ranks as threads),
/// [`local_groups`](crate::local_groups) (ranks as threads you start) or
/// [`init_process_group`](crate::init_process_group) (MPI: one per
/// process).
///
/// ```
/// use torchlet_distributed::{spawn, ReduceOp};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_distributed::DistError> {
/// let sums = spawn(2, |pg| {
///     let mut t = Tensor::full(&[3], pg.rank() as f32 + 1.0);
///     pg.all_reduce(&mut t, ReduceOp::Sum)?;
///     Ok::<_, torchlet_distributed::DistError>(t.to_vec::<f32>()?)
/// })?;
/// assert_eq!(sums, vec![vec![3.0; 3], vec![3.0; 3]]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ProcessGroup {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ProcessGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ProcessGroup(rank {} of {})",
            self.shared.rank, self.shared.world_size
        )
    }
}

/// The pending result of an `*_async` call (`torch.distributed.Work`).
#[must_use = "call wait() to get the result (and any error)"]
pub struct Work<T> {
    state: WorkState<T>,
}

/// What the communication thread leaves for a `Work`.
type Slot<T> = Arc<(Mutex<Option<Finished<T>>>, Condvar)>;

/// A call's result, with when the backend started and ended the work.
pub(crate) struct Finished<T> {
    pub(crate) result: Result<T>,
    pub(crate) started: Instant,
    pub(crate) ended: Instant,
}

enum WorkState<T> {
    /// Filled by the communication thread.
    Slot(Slot<T>),
    /// Finished by `wait` on the caller's thread.
    Later(Later<T>, Abort, &'static str),
    Done(Result<T>),
}

impl<T> Work<T> {
    /// Blocks until the call is done; returns its result.
    pub fn wait(self) -> Result<T> {
        self.wait_timed().result
    }

    /// [`wait`](Self::wait), also saying when the backend worked on the
    /// call: on the communication thread, or (`Local`) in this wait.
    pub(crate) fn wait_timed(self) -> Finished<T> {
        match self.state {
            WorkState::Done(result) => {
                let now = Instant::now();
                Finished {
                    result,
                    started: now,
                    ended: now,
                }
            }
            WorkState::Later(later, abort, op) => {
                let started = Instant::now();
                let result = guarded(op, &abort, later.finish);
                Finished {
                    result,
                    started,
                    ended: Instant::now(),
                }
            }
            WorkState::Slot(slot) => {
                let (lock, done) = &*slot;
                let mut slot = lock.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if let Some(f) = slot.take() {
                        return f;
                    }
                    slot = done.wait(slot).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }

    /// Whether the call is done (`wait` would not block).
    pub fn is_completed(&self) -> bool {
        match &self.state {
            WorkState::Done(_) => true,
            WorkState::Later(later, _, _) => (later.ready)(),
            WorkState::Slot(slot) => slot.0.lock().unwrap_or_else(|e| e.into_inner()).is_some(),
        }
    }
}

/// Runs `f`, turning a panic into an error that also stops the job.
fn guarded<T>(op: &'static str, abort: &Abort, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let why = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        abort(format!("{op} panicked: {why}"));
        Err(DistError::Backend {
            op,
            message: format!("panicked: {why}"),
        })
    })
}

fn check_rank(op: &'static str, what: &str, rank: usize, world: usize) -> Result<()> {
    if rank >= world {
        return Err(DistError::invalid(
            op,
            format!("{what} rank {rank} is out of range for a group of {world} ranks"),
        ));
    }
    Ok(())
}

impl ProcessGroup {
    /// A group whose calls run on the caller's thread; `on_drop` runs
    /// when its last handle is dropped.
    pub(crate) fn direct(
        comm: Arc<dyn Comm + Send + Sync>,
        rank: usize,
        world_size: usize,
        abort: Abort,
        on_drop: impl FnOnce() + Send + Sync + 'static,
    ) -> ProcessGroup {
        ProcessGroup {
            shared: Arc::new(Shared {
                rank,
                world_size,
                abort,
                engine: Engine::Direct(comm),
                on_drop: Some(Box::new(on_drop)),
            }),
        }
    }

    /// Starts the communication thread, which makes the backend with
    /// `make` (returning it with its rank and size) and then runs the
    /// group's calls until the group is dropped.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub(crate) fn start(
        name: String,
        abort: Abort,
        make: impl FnOnce() -> Result<(Box<dyn Comm>, usize, usize)> + Send + 'static,
    ) -> Result<ProcessGroup> {
        let (tx, rx) = channel::<Job>();
        let (ready_tx, ready_rx) = channel();
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || {
                let comm = match make() {
                    Ok((comm, rank, size)) => {
                        let _ = ready_tx.send(Ok((rank, size)));
                        comm
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Ends when the group is dropped; the backend with it.
                for job in rx {
                    job(comm.as_ref());
                }
            })
            .map_err(|e| DistError::Backend {
                op: "init_process_group",
                message: format!("cannot start the communication thread: {e}"),
            })?;
        let (rank, world_size) = ready_rx.recv().map_err(|_| DistError::Backend {
            op: "init_process_group",
            message: "the communication thread stopped while starting".into(),
        })??;
        Ok(ProcessGroup {
            shared: Arc::new(Shared {
                rank,
                world_size,
                abort,
                engine: Engine::Thread {
                    jobs: Mutex::new(Some(tx)),
                    thread: Mutex::new(Some(thread)),
                },
                on_drop: None,
            }),
        })
    }

    /// This process's (or thread's) rank, `0..world_size`.
    pub fn rank(&self) -> usize {
        self.shared.rank
    }

    /// The number of ranks.
    pub fn world_size(&self) -> usize {
        self.shared.world_size
    }

    /// Stops the job: the other ranks' pending and later calls fail with
    /// `reason` (MPI: the job is aborted).
    pub fn abort(&self, reason: &str) {
        (self.shared.abort)(format!("rank {} aborted: {reason}", self.shared.rank));
    }

    /// Starts `f` on the backend (on this thread, or queued on the
    /// communication thread); a panic in it becomes an error (and stops
    /// the job).
    pub(crate) fn submit<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl FnOnce(&dyn Comm) -> Pending<T> + Send + 'static,
    ) -> Work<T> {
        let abort = Arc::clone(&self.shared.abort);
        let jobs = match &self.shared.engine {
            Engine::Direct(comm) => {
                let started = guarded(op, &abort, || Ok(f(comm.as_ref())));
                let state = match started {
                    Ok(Pending::Later(later)) => WorkState::Later(later, abort, op),
                    Ok(Pending::Done(r)) => WorkState::Done(r),
                    Err(e) => WorkState::Done(Err(e)),
                };
                return Work { state };
            }
            Engine::Thread { jobs, .. } => jobs,
        };
        let slot = Arc::new((Mutex::new(None), Condvar::new()));
        let work = Work {
            state: WorkState::Slot(Arc::clone(&slot)),
        };
        let job: Job = Box::new(move |comm: &dyn Comm| {
            let started = Instant::now();
            let result = guarded(op, &abort, || match f(comm) {
                Pending::Done(r) => r,
                Pending::Later(later) => (later.finish)(),
            });
            let (lock, done) = &*slot;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(Finished {
                result,
                started,
                ended: Instant::now(),
            });
            done.notify_all();
        });
        let jobs = jobs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Err(unsent)) = jobs.as_ref().map(|tx| tx.send(job)) {
            drop(unsent);
            // Unreachable while the group lives; said plainly if it happens.
            return Work {
                state: WorkState::Done(Err(DistError::Backend {
                    op,
                    message: "the communication thread has stopped".into(),
                })),
            };
        }
        work
    }

    // ----- collectives --------------------------------------------------------

    /// Combines every rank's `tensor` with `op` and gives each rank the
    /// result, in place (`dist.all_reduce`). Every rank must pass the same
    /// shape and dtype.
    ///
    /// The tensor is moved in rather than copied, so a backend may reuse
    /// its buffer when nothing else holds it; if the collective itself
    /// fails (the group stopped), `tensor` is left empty.
    pub fn all_reduce(&self, tensor: &mut Tensor, op: ReduceOp) -> Result<()> {
        op.check("all_reduce", tensor.dtype())?;
        let mine = std::mem::replace(tensor, Tensor::zeros(&[0]));
        *tensor = self.all_reduce_async(mine, op)?.wait()?;
        Ok(())
    }

    /// [`all_reduce`](Self::all_reduce) without blocking: the result comes
    /// from [`Work::wait`].
    pub fn all_reduce_async(&self, tensor: Tensor, op: ReduceOp) -> Result<Work<Tensor>> {
        op.check("all_reduce", tensor.dtype())?;
        let t = tensor.contiguous();
        Ok(self.submit("all_reduce", move |c| c.all_reduce(t, op)))
    }

    /// Starts the all-reduce of DDP's gradients: the sum over the ranks of
    /// `parts` flattened end to end, each divided by `divisor` first.
    pub(crate) fn all_reduce_coalesced_async(
        &self,
        parts: Vec<Tensor>,
        divisor: f64,
    ) -> Work<Tensor> {
        let parts: Vec<Tensor> = parts.iter().map(Tensor::contiguous).collect();
        self.submit("all_reduce", move |c| {
            c.all_reduce_coalesced(parts, divisor)
        })
    }

    /// Gives every rank rank `src`'s `tensor`, in place (`dist.broadcast`).
    pub fn broadcast(&self, tensor: &mut Tensor, src: usize) -> Result<()> {
        *tensor = self.broadcast_async(tensor.clone(), src)?.wait()?;
        Ok(())
    }

    /// [`broadcast`](Self::broadcast) without blocking.
    pub fn broadcast_async(&self, tensor: Tensor, src: usize) -> Result<Work<Tensor>> {
        check_rank("broadcast", "source", src, self.world_size())?;
        let t = tensor.contiguous();
        Ok(self.submit("broadcast", move |c| c.broadcast(t, src)))
    }

    /// Every rank's `tensor`, in rank order (`dist.all_gather`).
    pub fn all_gather(&self, tensor: &Tensor) -> Result<Vec<Tensor>> {
        self.all_gather_async(tensor)?.wait()
    }

    /// [`all_gather`](Self::all_gather) without blocking.
    pub fn all_gather_async(&self, tensor: &Tensor) -> Result<Work<Vec<Tensor>>> {
        let t = tensor.contiguous();
        Ok(self.submit("all_gather", move |c| c.all_gather(t)))
    }

    /// Reduces the ranks' `inputs` (one tensor per rank, all of
    /// `output`'s shape) with `op` and writes into `output` this rank's
    /// part: on rank `r`, `op` over every rank's `inputs[r]`
    /// (`dist.reduce_scatter`).
    pub fn reduce_scatter(
        &self,
        output: &mut Tensor,
        inputs: &[Tensor],
        op: ReduceOp,
    ) -> Result<()> {
        *output = self.reduce_scatter_async(output, inputs, op)?.wait()?;
        Ok(())
    }

    /// [`reduce_scatter`](Self::reduce_scatter) without blocking.
    pub fn reduce_scatter_async(
        &self,
        output: &Tensor,
        inputs: &[Tensor],
        op: ReduceOp,
    ) -> Result<Work<Tensor>> {
        const OP: &str = "reduce_scatter";
        if inputs.len() != self.world_size() {
            return Err(DistError::invalid(
                OP,
                format!(
                    "expected one input per rank ({}), got {}",
                    self.world_size(),
                    inputs.len()
                ),
            ));
        }
        if let Some((i, t)) = inputs
            .iter()
            .enumerate()
            .find(|(_, t)| t.shape() != output.shape() || t.dtype() != output.dtype())
        {
            return Err(DistError::invalid(
                OP,
                format!(
                    "input {i} is {}{:?}, the output {}{:?}",
                    t.dtype(),
                    t.shape(),
                    output.dtype(),
                    output.shape()
                ),
            ));
        }
        op.check(OP, output.dtype())?;
        let ts: Vec<Tensor> = inputs.iter().map(Tensor::contiguous).collect();
        Ok(self.submit(OP, move |c| c.reduce_scatter(ts, op)))
    }

    /// Waits until every rank has called it (`dist.barrier`).
    pub fn barrier(&self) -> Result<()> {
        self.submit("barrier", |c| c.barrier()).wait()
    }

    /// Sends `tensor` to rank `dst` (`dist.send`); pair it with a
    /// [`recv`](Self::recv) there.
    pub fn send(&self, tensor: &Tensor, dst: usize) -> Result<()> {
        self.send_tagged(tensor, dst, 0)
    }

    /// [`send`](Self::send) with a tag: a receive gets the messages of its
    /// source and tag in order.
    pub fn send_tagged(&self, tensor: &Tensor, dst: usize, tag: i64) -> Result<()> {
        check_rank("send", "destination", dst, self.world_size())?;
        if dst == self.rank() {
            return Err(DistError::invalid("send", "a rank cannot send to itself"));
        }
        let t = tensor.contiguous();
        self.submit("send", move |c| c.send(t, dst, tag)).wait()
    }

    /// Receives into `tensor` (whose shape and dtype the message must
    /// have) what rank `src` sent (`dist.recv`).
    pub fn recv(&self, tensor: &mut Tensor, src: usize) -> Result<()> {
        self.recv_tagged(tensor, src, 0)
    }

    /// [`recv`](Self::recv) of the messages sent with `tag`.
    pub fn recv_tagged(&self, tensor: &mut Tensor, src: usize, tag: i64) -> Result<()> {
        check_rank("recv", "source", src, self.world_size())?;
        if src == self.rank() {
            return Err(DistError::invalid(
                "recv",
                "a rank cannot receive from itself",
            ));
        }
        let like = tensor.clone();
        *tensor = self
            .submit("recv", move |c| c.recv(like, src, tag))
            .wait()?;
        Ok(())
    }

    // ----- objects --------------------------------------------------------------

    /// Gives every rank rank `src`'s `value` (`dist.broadcast_object_list`
    /// for one object), encoded with bincode.
    pub fn broadcast_object<T: Serialize + DeserializeOwned>(
        &self,
        value: &mut T,
        src: usize,
    ) -> Result<()> {
        const OP: &str = "broadcast_object";
        check_rank(OP, "source", src, self.world_size())?;
        let bytes = if self.rank() == src {
            encode(OP, value)?
        } else {
            Vec::new()
        };
        let got = self
            .submit(OP, move |c| c.broadcast_bytes(bytes, src))
            .wait()?;
        if self.rank() != src {
            *value = decode(OP, &got)?;
        }
        Ok(())
    }

    /// Every rank's `value`, in rank order (`dist.all_gather_object`).
    pub fn all_gather_object<T: Serialize + DeserializeOwned>(&self, value: &T) -> Result<Vec<T>> {
        const OP: &str = "all_gather_object";
        let bytes = encode(OP, value)?;
        let all = self.submit(OP, move |c| c.all_gather_bytes(bytes)).wait()?;
        all.iter().map(|b| decode(OP, b)).collect()
    }
}

fn encode<T: Serialize>(op: &'static str, value: &T) -> Result<Vec<u8>> {
    bincode::serde::encode_to_vec(value, bincode::config::standard()).map_err(|e| {
        DistError::Object {
            op,
            message: e.to_string(),
        }
    })
}

fn decode<T: DeserializeOwned>(op: &'static str, bytes: &[u8]) -> Result<T> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map_err(|e| DistError::Object {
            op,
            message: e.to_string(),
        })?;
    if used != bytes.len() {
        return Err(DistError::Object {
            op,
            message: format!("{} trailing bytes after the object", bytes.len() - used),
        });
    }
    Ok(value)
}
