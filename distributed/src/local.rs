//! The `Local` backend: the ranks are threads of one process meeting at
//! a shared rendezvous. A collective call puts the rank's contribution
//! into the round of its sequence number (the calls' order on each
//! rank) and returns at once; waiting for it takes every rank's
//! contribution once all are in, checks that all made the same call,
//! and computes the result on the waiting thread from the same inputs in
//! the same order, so all ranks get the same bits. No thread sits between
//! the ranks: a waiter first spins briefly (the others are usually a few
//! microseconds away), then sleeps. Point-to-point messages go through
//! per-destination mailboxes.
//!
//! A rank that fails or panics aborts the rendezvous (`spawn` does it),
//! and a rank whose group is gone is marked gone: ranks waiting for it
//! wake with [`DistError::Aborted`] instead of hanging, and a wait longer
//! than the group's timeout ends the same way, naming the missing ranks.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use torchlet_tensor::{DType, Tensor};

use crate::error::{DistError, Result};
use crate::group::{Comm, Later, Pending};
use crate::reduce::{sum_divided_into, ReduceOp};

/// How long a waiter spins before it sleeps: ranks meet at every step's
/// all-reduce within a millisecond or so of each other, and waking a
/// sleeping thread can cost more than the whole reduction.
const SPIN: Duration = Duration::from_millis(1);

/// The elements of one block of a shared sum (64 KiB of f32: small
/// enough that even a small model's gradients split between the ranks).
const SUM_BLOCK: usize = 1 << 14;

/// What one rank puts into a round.
#[derive(Clone, Debug)]
pub(crate) struct Contribution {
    /// The collective (all ranks must make the same call).
    pub(crate) op: &'static str,
    /// What must agree across ranks beyond the call (shapes, dtype,
    /// source rank, reduce op), as text for the error message.
    pub(crate) signature: String,
    /// The data.
    pub(crate) payload: Payload,
}

/// A contribution's data.
#[derive(Clone, Debug)]
pub(crate) enum Payload {
    /// Nothing (a barrier, or a broadcast's receivers).
    Empty,
    /// One tensor.
    Tensor(Tensor),
    /// Several tensors (reduce-scatter's inputs, DDP's gradients).
    Tensors(Vec<Tensor>),
    /// Encoded bytes (objects).
    Bytes(Vec<u8>),
}

/// One collective call, by sequence number.
struct Round {
    /// The contributions so far, by rank.
    slots: Vec<Option<Contribution>>,
    arrived: usize,
    /// Every contribution, once all are in.
    published: Option<Arc<Vec<Contribution>>>,
    /// Ranks that will still read it (a dropped `Work` reads nothing).
    readers_left: usize,
    /// The result all ranks compute together (DDP's gradient sum).
    shared: Option<Arc<SharedSum>>,
}

/// A sum the waiting ranks compute together, block by block, into one
/// tensor that they all get: each rank reads only the blocks it claims,
/// instead of every rank reading every rank's whole contribution.
struct SharedSum {
    out: Tensor,
    /// `out`'s elements, which the ranks write block by block through
    /// this pointer (each block by the one rank that claimed it).
    ptr: usize,
    /// Where each part starts in `out`.
    offsets: Vec<usize>,
    blocks: usize,
    /// The next block to claim.
    next: AtomicUsize,
    /// Blocks written.
    done: AtomicUsize,
}

#[derive(Default)]
struct State {
    rounds: HashMap<u64, Round>,
    /// Why the group stopped, once it has.
    failed: Option<String>,
    /// Ranks whose group is gone.
    gone: Vec<bool>,
    /// Messages by (source, destination, tag).
    mail: HashMap<(usize, usize, i64), VecDeque<Tensor>>,
    /// Threads asleep on the condition variable.
    sleepers: usize,
    /// The last shared sum of each dtype and length, reused once nothing
    /// else holds it (the ranks' gradients were views of it).
    spare: HashMap<(DType, usize), Tensor>,
}

/// The meeting point of a `Local` group's ranks.
pub(crate) struct Rendezvous {
    world: usize,
    timeout: Duration,
    state: Mutex<State>,
    changed: Condvar,
    /// Bumped (under the lock) at every change, so that a waiter can spin
    /// on it without taking the lock.
    version: AtomicU64,
}

impl Rendezvous {
    /// A rendezvous for `world` ranks that waits at most `timeout` for
    /// the others in any call.
    pub(crate) fn new(world: usize, timeout: Duration) -> Arc<Rendezvous> {
        Arc::new(Rendezvous {
            world,
            timeout,
            state: Mutex::new(State {
                gone: vec![false; world],
                ..State::default()
            }),
            changed: Condvar::new(),
            version: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells waiters that the state changed (call with the lock held).
    fn changed(&self, s: &State) {
        self.version.fetch_add(1, Ordering::Release);
        if s.sleepers > 0 {
            self.changed.notify_all();
        }
    }

    /// Stops the group: every waiting and later call fails with `reason`
    /// (the first reason given is kept).
    pub(crate) fn abort(&self, reason: String) {
        let mut s = self.lock();
        s.failed.get_or_insert(reason);
        self.changed(&s);
    }

    /// Marks `rank` as gone: calls waiting for it fail.
    pub(crate) fn leave(&self, rank: usize) {
        let mut s = self.lock();
        s.gone[rank] = true;
        self.changed(&s);
    }

    /// Waits until `done`, spinning for [`SPIN`] and then sleeping until
    /// the deadline; fails if the group stopped or a rank `missing` names
    /// has gone.
    fn wait_until<'a>(
        &'a self,
        op: &'static str,
        deadline: Instant,
        what: impl Fn() -> String,
        done: impl Fn(&State) -> bool,
        missing: impl Fn(&State) -> Vec<usize>,
    ) -> Result<MutexGuard<'a, State>> {
        let spin_end = Instant::now() + SPIN;
        let mut s = self.lock();
        loop {
            if let Some(reason) = &s.failed {
                return Err(DistError::Aborted {
                    op,
                    reason: reason.clone(),
                });
            }
            if done(&s) {
                return Ok(s);
            }
            let absent = missing(&s);
            if let Some(&r) = absent.iter().find(|&&r| s.gone[r]) {
                return Err(DistError::Aborted {
                    op,
                    reason: format!("rank {r} exited without joining {}", what()),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(DistError::Aborted {
                    op,
                    reason: format!(
                        "timed out after {:?} waiting for rank(s) {absent:?} in {}",
                        self.timeout,
                        what()
                    ),
                });
            }
            if now < spin_end {
                let seen = self.version.load(Ordering::Acquire);
                drop(s);
                let mut spins = 0u32;
                while self.version.load(Ordering::Acquire) == seen {
                    std::hint::spin_loop();
                    spins = spins.wrapping_add(1);
                    if spins.is_multiple_of(64) {
                        if Instant::now() >= spin_end {
                            break;
                        }
                        // Let a rank that shares this core run.
                        if spins.is_multiple_of(1024) {
                            std::thread::yield_now();
                        }
                    }
                }
                s = self.lock();
            } else {
                s.sleepers += 1;
                s = self
                    .changed
                    .wait_timeout(s, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                s.sleepers -= 1;
            }
        }
    }

    /// Puts `rank`'s contribution into round `seq`; returns at once.
    fn deposit(&self, rank: usize, seq: u64, mine: Contribution) -> Result<()> {
        let mut s = self.lock();
        if let Some(reason) = &s.failed {
            return Err(DistError::Aborted {
                op: mine.op,
                reason: reason.clone(),
            });
        }
        let world = self.world;
        let round = s.rounds.entry(seq).or_insert_with(|| Round {
            slots: vec![None; world],
            arrived: 0,
            published: None,
            readers_left: world,
            shared: None,
        });
        round.slots[rank] = Some(mine);
        round.arrived += 1;
        if round.arrived == world {
            let all: Vec<Contribution> = round
                .slots
                .iter_mut()
                .map(|c| c.take().expect("arrived"))
                .collect();
            round.published = Some(Arc::new(all));
            if round.readers_left == 0 {
                retire(&mut s, seq);
            }
        }
        self.changed(&s);
        Ok(())
    }

    /// Waits until every rank's contribution to round `seq` is in;
    /// returns the lock and the contributions (the round still counts
    /// this rank as a reader).
    fn wait_published(
        &self,
        seq: u64,
        op: &'static str,
        deadline: Instant,
    ) -> Result<(MutexGuard<'_, State>, Arc<Vec<Contribution>>)> {
        let s = self.wait_until(
            op,
            deadline,
            || format!("call #{}", seq + 1),
            |s| s.rounds.get(&seq).is_some_and(|r| r.published.is_some()),
            |s| match s.rounds.get(&seq) {
                Some(r) => (0..self.world).filter(|&i| r.slots[i].is_none()).collect(),
                None => Vec::new(),
            },
        )?;
        let all = Arc::clone(s.rounds[&seq].published.as_ref().expect("published"));
        Ok((s, all))
    }

    /// Every rank's contribution to round `seq`, in rank order, once all
    /// are in; checks that all made the same call.
    fn collect(
        &self,
        seq: u64,
        op: &'static str,
        deadline: Instant,
    ) -> Result<Arc<Vec<Contribution>>> {
        let (mut s, all) = self.wait_published(seq, op, deadline)?;
        read(&mut s, seq);
        drop(s);
        check_agreement(&all)?;
        Ok(all)
    }

    /// DDP's gradient average of round `seq`: the sum over the ranks of
    /// their tensors flattened end to end, each element divided by
    /// `divisor` first. The waiting ranks split the work by blocks and
    /// all get the same tensor.
    fn sum_divided(&self, seq: u64, deadline: Instant, divisor: f64) -> Result<Tensor> {
        const OP: &str = "all_reduce";
        let (mut s, all) = self.wait_published(seq, OP, deadline)?;
        if let Err(e) = check_agreement(&all) {
            read(&mut s, seq);
            return Err(e);
        }
        let shared = match &s.rounds[&seq].shared {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared = Arc::new(start_sum(&mut s.spare, tensors(&all[0]))?);
                let round = s.rounds.get_mut(&seq).expect("published");
                round.shared = Some(Arc::clone(&shared));
                shared
            }
        };
        drop(s);
        let ranks: Vec<&[Tensor]> = all.iter().map(tensors).collect();
        loop {
            let b = shared.next.fetch_add(1, Ordering::Relaxed);
            if b >= shared.blocks {
                break;
            }
            sum_block(&shared, &ranks, b, divisor)?;
            if shared.done.fetch_add(1, Ordering::AcqRel) + 1 == shared.blocks {
                let s = self.lock();
                self.changed(&s);
            }
        }
        let mut s = self.wait_until(
            OP,
            deadline,
            || format!("call #{}", seq + 1),
            |_| shared.done.load(Ordering::Acquire) == shared.blocks,
            |_| Vec::new(),
        )?;
        read(&mut s, seq);
        Ok(shared.out.clone())
    }

    /// A rank that will not read round `seq` (its `Work` was dropped).
    fn forget(&self, seq: u64) {
        let mut s = self.lock();
        if s.rounds.contains_key(&seq) {
            read(&mut s, seq);
        }
    }

    /// Whether every rank's contribution to round `seq` is in (or the
    /// round is over).
    fn is_complete(&self, seq: u64) -> bool {
        self.lock()
            .rounds
            .get(&seq)
            .is_none_or(|r| r.published.is_some())
    }

    /// Queues `tensor` for `dst` (returns at once, like a buffered send).
    pub(crate) fn send(&self, src: usize, dst: usize, tag: i64, tensor: Tensor) -> Result<()> {
        let mut s = self.lock();
        if let Some(reason) = &s.failed {
            return Err(DistError::Aborted {
                op: "send",
                reason: reason.clone(),
            });
        }
        s.mail.entry((src, dst, tag)).or_default().push_back(tensor);
        self.changed(&s);
        Ok(())
    }

    /// The next tensor `src` sent to `dst` with `tag`, waiting for it.
    pub(crate) fn recv(&self, src: usize, dst: usize, tag: i64) -> Result<Tensor> {
        let deadline = Instant::now() + self.timeout;
        let key = (src, dst, tag);
        let mut s = self.wait_until(
            "recv",
            deadline,
            || format!("a message to rank {dst} with tag {tag}"),
            |s| s.mail.get(&key).is_some_and(|q| !q.is_empty()),
            |_| vec![src],
        )?;
        Ok(s.mail
            .get_mut(&key)
            .and_then(VecDeque::pop_front)
            .expect("a message is waiting"))
    }
}

/// One rank is done with round `seq`; the last one ends the round.
fn read(s: &mut State, seq: u64) {
    let round = s.rounds.get_mut(&seq).expect("a round being read");
    round.readers_left -= 1;
    if round.readers_left == 0 && round.published.is_some() {
        retire(s, seq);
    }
}

/// Ends round `seq`, keeping its shared sum's buffer for the next one.
fn retire(s: &mut State, seq: u64) {
    if let Some(round) = s.rounds.remove(&seq) {
        if let Some(shared) = round.shared {
            let out = shared.out.clone();
            s.spare.insert((out.dtype(), out.numel()), out);
        }
    }
}

/// The shared sum of `parts` (rank 0's; every rank's have their shapes):
/// the spare buffer of that size when no one holds it any more, else a
/// new one.
fn start_sum(spare: &mut HashMap<(DType, usize), Tensor>, parts: &[Tensor]) -> Result<SharedSum> {
    let dtype = parts.first().map_or(DType::F32, Tensor::dtype);
    let mut offsets = Vec::with_capacity(parts.len());
    let mut n = 0;
    for p in parts {
        offsets.push(n);
        n += p.numel();
    }
    let mut out = match spare.remove(&(dtype, n)) {
        Some(t) if !t.is_storage_shared() => t,
        _ => Tensor::zeros_dtype(&[n], dtype),
    };
    let ptr = match dtype {
        DType::F32 => out.as_mut_slice::<f32>()?.as_mut_ptr() as usize,
        DType::F64 => out.as_mut_slice::<f64>()?.as_mut_ptr() as usize,
        other => {
            return Err(DistError::invalid(
                "all_reduce",
                format!("gradients must be float32 or float64, got {other}"),
            ))
        }
    };
    Ok(SharedSum {
        out,
        ptr,
        offsets,
        blocks: n.div_ceil(SUM_BLOCK),
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
    })
}

/// Writes block `b` of the shared sum of the ranks' tensors.
fn sum_block(shared: &SharedSum, ranks: &[&[Tensor]], b: usize, divisor: f64) -> Result<()> {
    let n = shared.out.numel();
    let (lo, hi) = (b * SUM_BLOCK, ((b + 1) * SUM_BLOCK).min(n));
    macro_rules! typed {
        ($T:ty) => {{
            for (j, &start) in shared.offsets.iter().enumerate() {
                let len = ranks[0][j].numel();
                let (from, to) = (lo.max(start), hi.min(start + len));
                if from >= to {
                    continue;
                }
                let parts = ranks
                    .iter()
                    .map(|r| {
                        r[j].as_slice::<$T>()
                            .map(|p| &p[from - start..to - start])
                            .ok_or_else(|| {
                                DistError::invalid(
                                    "all_reduce",
                                    "expected contiguous gradients of one dtype",
                                )
                            })
                    })
                    .collect::<Result<Vec<&[$T]>>>()?;
                // SAFETY: `ptr` points at `out`'s `n` elements, which `out`
                // (held by `shared`) keeps alive; only the rank that claimed
                // block `b` writes `lo..hi`, no one reads `out` before
                // every block is done (its clones are handed out after),
                // and `from..to` lies within `lo..hi`.
                let dst = unsafe {
                    std::slice::from_raw_parts_mut((shared.ptr as *mut $T).add(from), to - from)
                };
                sum_divided_into(&parts, divisor, dst);
            }
            Ok(())
        }};
    }
    match shared.out.dtype() {
        DType::F32 => typed!(f32),
        _ => typed!(f64),
    }
}

/// Fails with the first disagreement between the ranks' calls.
fn check_agreement(all: &[Contribution]) -> Result<()> {
    let first = &all[0];
    for (r, c) in all.iter().enumerate().skip(1) {
        if c.op != first.op {
            return Err(DistError::Mismatch {
                op: first.op,
                message: format!("rank 0 called {}, rank {r} called {}", first.op, c.op),
            });
        }
        if c.signature != first.signature {
            return Err(DistError::Mismatch {
                op: first.op,
                message: format!(
                    "rank 0 passed {}, rank {r} passed {}",
                    first.signature, c.signature
                ),
            });
        }
    }
    Ok(())
}

/// A rank's side of a `Local` group.
pub(crate) struct LocalComm {
    rank: usize,
    rendezvous: Arc<Rendezvous>,
    /// The sequence number of this rank's next collective.
    next: AtomicU64,
}

impl LocalComm {
    pub(crate) fn new(rank: usize, rendezvous: Arc<Rendezvous>) -> LocalComm {
        LocalComm {
            rank,
            rendezvous,
            next: AtomicU64::new(0),
        }
    }

    /// Starts a collective: puts this rank's contribution in, and returns
    /// what finishes it: `finish` over every rank's contributions.
    fn round<T: 'static>(
        &self,
        op: &'static str,
        signature: String,
        payload: Payload,
        finish: impl FnOnce(&[Contribution]) -> Result<T> + Send + 'static,
    ) -> Pending<T> {
        self.start_round(op, signature, payload, move |rendezvous, seq, deadline| {
            finish(&rendezvous.collect(seq, op, deadline)?)
        })
    }

    /// [`round`](Self::round) with the whole finishing step given:
    /// `finish(rendezvous, seq, deadline)`.
    fn start_round<T: 'static>(
        &self,
        op: &'static str,
        signature: String,
        payload: Payload,
        finish: impl FnOnce(&Rendezvous, u64, Instant) -> Result<T> + Send + 'static,
    ) -> Pending<T> {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + self.rendezvous.timeout;
        let mine = Contribution {
            op,
            signature,
            payload,
        };
        if let Err(e) = self.rendezvous.deposit(self.rank, seq, mine) {
            return Pending::Done(Err(e));
        }
        let ticket = Ticket {
            rendezvous: Arc::clone(&self.rendezvous),
            seq,
            read: false,
        };
        let probe = Arc::clone(&self.rendezvous);
        Pending::Later(Later {
            finish: Box::new(move || {
                let mut ticket = ticket;
                ticket.read = true;
                finish(&ticket.rendezvous, seq, deadline)
            }),
            ready: Box::new(move || probe.is_complete(seq)),
        })
    }
}

/// A rank's place in a round; dropped unread, it tells the round.
struct Ticket {
    rendezvous: Arc<Rendezvous>,
    seq: u64,
    read: bool,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.read {
            self.rendezvous.forget(self.seq);
        }
    }
}

fn describe(t: &Tensor) -> String {
    format!("{}{:?}", t.dtype(), t.shape())
}

/// The tensor of a contribution (the ranks agreed on the call, so the
/// payload kind is the expected one).
fn tensor(c: &Contribution) -> &Tensor {
    match &c.payload {
        Payload::Tensor(t) => t,
        _ => unreachable!("{} carries a tensor", c.op),
    }
}

/// The tensors of a contribution.
fn tensors(c: &Contribution) -> &[Tensor] {
    match &c.payload {
        Payload::Tensors(ts) => ts,
        _ => unreachable!("{} carries tensors", c.op),
    }
}

/// The bytes of a contribution.
fn bytes(c: &Contribution) -> &[u8] {
    match &c.payload {
        Payload::Bytes(b) => b,
        _ => unreachable!("{} carries bytes", c.op),
    }
}

impl Comm for LocalComm {
    fn all_reduce(&self, t: Tensor, op: ReduceOp) -> Pending<Tensor> {
        let sig = format!("{op:?} of {}", describe(&t));
        self.round("all_reduce", sig, Payload::Tensor(t), move |all| {
            op.apply(&all.iter().map(tensor).collect::<Vec<_>>())
        })
    }

    fn all_reduce_coalesced(&self, parts: Vec<Tensor>, divisor: f64) -> Pending<Tensor> {
        let shapes: Vec<String> = parts.iter().map(describe).collect();
        let sig = format!("gradients {}", shapes.join(", "));
        self.start_round(
            "all_reduce",
            sig,
            Payload::Tensors(parts),
            move |rendezvous, seq, deadline| rendezvous.sum_divided(seq, deadline, divisor),
        )
    }

    fn broadcast(&self, t: Tensor, src: usize) -> Pending<Tensor> {
        let sig = format!("{} from rank {src}", describe(&t));
        let payload = if self.rank == src {
            Payload::Tensor(t)
        } else {
            Payload::Empty
        };
        self.round("broadcast", sig, payload, move |all| {
            Ok(tensor(&all[src]).clone())
        })
    }

    fn all_gather(&self, t: Tensor) -> Pending<Vec<Tensor>> {
        let sig = describe(&t);
        self.round("all_gather", sig, Payload::Tensor(t), |all| {
            Ok(all.iter().map(|c| tensor(c).clone()).collect())
        })
    }

    fn reduce_scatter(&self, inputs: Vec<Tensor>, op: ReduceOp) -> Pending<Tensor> {
        let sig = format!("{op:?} of {} x {}", inputs.len(), describe(&inputs[0]));
        let rank = self.rank;
        self.round(
            "reduce_scatter",
            sig,
            Payload::Tensors(inputs),
            move |all| {
                let mine: Vec<&Tensor> = all.iter().map(|c| &tensors(c)[rank]).collect();
                op.apply(&mine)
            },
        )
    }

    fn barrier(&self) -> Pending<()> {
        self.round("barrier", String::new(), Payload::Empty, |_| Ok(()))
    }

    fn send(&self, t: Tensor, dst: usize, tag: i64) -> Pending<()> {
        Pending::Done(self.rendezvous.send(self.rank, dst, tag, t))
    }

    fn recv(&self, like: Tensor, src: usize, tag: i64) -> Pending<Tensor> {
        let rank = self.rank;
        Pending::Done(self.rendezvous.recv(src, rank, tag).and_then(|t| {
            if t.shape() != like.shape() || t.dtype() != like.dtype() {
                return Err(DistError::Mismatch {
                    op: "recv",
                    message: format!(
                        "rank {src} sent {}, rank {rank} expected {}",
                        describe(&t),
                        describe(&like)
                    ),
                });
            }
            Ok(t)
        }))
    }

    fn broadcast_bytes(&self, b: Vec<u8>, src: usize) -> Pending<Vec<u8>> {
        let payload = if self.rank == src {
            Payload::Bytes(b)
        } else {
            Payload::Empty
        };
        self.round(
            "broadcast_object",
            format!("from rank {src}"),
            payload,
            move |all| Ok(bytes(&all[src]).to_vec()),
        )
    }

    fn all_gather_bytes(&self, b: Vec<u8>) -> Pending<Vec<Vec<u8>>> {
        self.round(
            "all_gather_object",
            String::new(),
            Payload::Bytes(b),
            |all| Ok(all.iter().map(|c| bytes(c).to_vec()).collect()),
        )
    }
}

#[cfg(test)]
#[path = "local_tests.rs"]
mod tests;
