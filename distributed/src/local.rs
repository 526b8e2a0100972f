//! The `Local` backend: the ranks are threads of one process meeting at
//! a shared rendezvous. Every collective is one round of [`Rendezvous::
//! exchange`] (each rank puts in its contribution and gets everyone's),
//! after which each rank computes its result from the same inputs in
//! the same order, so all ranks get the same bits. Point-to-point
//! messages go through per-destination mailboxes.
//!
//! A rank that fails or panics aborts the rendezvous (`spawn` does it),
//! and a rank whose thread ends is marked gone: ranks waiting for it wake
//! with [`DistError::Aborted`] instead of hanging, and a wait longer than
//! the group's timeout ends the same way, naming the missing ranks.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use torchlet_tensor::Tensor;

use crate::error::{DistError, Result};

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
    /// Several tensors (reduce-scatter's inputs).
    Tensors(Vec<Tensor>),
    /// Encoded bytes (objects).
    Bytes(Vec<u8>),
}

#[derive(Default)]
struct State {
    /// This round's contributions, by rank.
    slots: Vec<Option<Contribution>>,
    arrived: usize,
    /// The finished round's contributions, until every rank has read them.
    published: Option<Arc<Vec<Contribution>>>,
    readers_left: usize,
    /// Rounds finished, for messages.
    rounds: u64,
    /// Why the group stopped, once it has.
    failed: Option<String>,
    /// Ranks whose thread has ended.
    gone: Vec<bool>,
    /// Messages by (source, destination, tag).
    mail: HashMap<(usize, usize, i64), VecDeque<Tensor>>,
}

/// The meeting point of a `Local` group's ranks.
pub(crate) struct Rendezvous {
    world: usize,
    timeout: Duration,
    state: Mutex<State>,
    changed: Condvar,
}

impl Rendezvous {
    /// A rendezvous for `world` ranks that waits at most `timeout` for
    /// the others in any call.
    pub(crate) fn new(world: usize, timeout: Duration) -> Arc<Rendezvous> {
        Arc::new(Rendezvous {
            world,
            timeout,
            state: Mutex::new(State {
                slots: vec![None; world],
                gone: vec![false; world],
                ..State::default()
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the group: every waiting and later call fails with `reason`
    /// (the first reason given is kept).
    pub(crate) fn abort(&self, reason: String) {
        let mut s = self.lock();
        s.failed.get_or_insert(reason);
        self.changed.notify_all();
    }

    /// Marks `rank`'s thread as ended: calls waiting for it fail.
    pub(crate) fn leave(&self, rank: usize) {
        let mut s = self.lock();
        s.gone[rank] = true;
        self.changed.notify_all();
    }

    /// Waits on the condition variable until `done` or the deadline,
    /// failing if the group stopped or a rank `needed` says is missing
    /// has gone.
    fn wait_until<'a>(
        &self,
        op: &'static str,
        mut s: MutexGuard<'a, State>,
        deadline: Instant,
        done: impl Fn(&State) -> bool,
        missing: impl Fn(&State) -> Vec<usize>,
    ) -> Result<MutexGuard<'a, State>> {
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
                    reason: format!("rank {r} exited without joining call #{}", s.rounds + 1),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(DistError::Aborted {
                    op,
                    reason: format!(
                        "timed out after {:?} waiting for rank(s) {absent:?} in call #{}",
                        self.timeout,
                        s.rounds + 1
                    ),
                });
            }
            s = self
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// One round: puts in `rank`'s contribution, waits for every rank's,
    /// checks that all made the same call with the same signature, and
    /// returns all contributions in rank order.
    pub(crate) fn exchange(
        &self,
        rank: usize,
        mine: Contribution,
    ) -> Result<Arc<Vec<Contribution>>> {
        let op = mine.op;
        let deadline = Instant::now() + self.timeout;
        let s = self.lock();
        // The previous round must be read by everyone first.
        let mut s = self.wait_until(
            op,
            s,
            deadline,
            |s| s.published.is_none() && s.slots[rank].is_none(),
            // Every rank still to read it is inside this call: none missing.
            |_| Vec::new(),
        )?;
        s.slots[rank] = Some(mine);
        s.arrived += 1;
        if s.arrived == self.world {
            let all: Vec<Contribution> = s
                .slots
                .iter_mut()
                .map(|c| c.take().expect("arrived"))
                .collect();
            s.published = Some(Arc::new(all));
            s.arrived = 0;
            s.readers_left = self.world;
            self.changed.notify_all();
        }
        let mut s = self.wait_until(
            op,
            s,
            deadline,
            |s| s.published.is_some(),
            |s| (0..self.world).filter(|&r| s.slots[r].is_none()).collect(),
        )?;
        let all = Arc::clone(s.published.as_ref().expect("published"));
        s.readers_left -= 1;
        if s.readers_left == 0 {
            s.published = None;
            s.rounds += 1;
            self.changed.notify_all();
        }
        drop(s);
        check_agreement(&all)?;
        Ok(all)
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
        self.changed.notify_all();
        Ok(())
    }

    /// The next tensor `src` sent to `dst` with `tag`, waiting for it.
    pub(crate) fn recv(&self, src: usize, dst: usize, tag: i64) -> Result<Tensor> {
        let deadline = Instant::now() + self.timeout;
        let key = (src, dst, tag);
        let s = self.lock();
        let mut s = self.wait_until(
            "recv",
            s,
            deadline,
            |s| s.mail.get(&key).is_some_and(|q| !q.is_empty()),
            |_| vec![src],
        )?;
        Ok(s.mail
            .get_mut(&key)
            .and_then(VecDeque::pop_front)
            .expect("a message is waiting"))
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
    pub(crate) rank: usize,
    pub(crate) rendezvous: Arc<Rendezvous>,
}

fn describe(t: &Tensor) -> String {
    format!("{}{:?}", t.dtype(), t.shape())
}

impl LocalComm {
    fn round(
        &self,
        op: &'static str,
        signature: String,
        payload: Payload,
    ) -> Result<Arc<Vec<Contribution>>> {
        self.rendezvous.exchange(
            self.rank,
            Contribution {
                op,
                signature,
                payload,
            },
        )
    }
}

/// The tensor(s) and bytes of a contribution (the ranks agreed on the
/// call, so the payload kind is the expected one).
fn tensor(c: &Contribution) -> &Tensor {
    match &c.payload {
        Payload::Tensor(t) => t,
        _ => unreachable!("{} carries a tensor", c.op),
    }
}

impl crate::group::Comm for LocalComm {
    fn all_reduce(&self, t: Tensor, op: crate::ReduceOp) -> Result<Tensor> {
        let sig = format!("{op:?} of {}", describe(&t));
        let all = self.round("all_reduce", sig, Payload::Tensor(t))?;
        op.apply(&all.iter().map(tensor).collect::<Vec<_>>())
    }

    fn broadcast(&self, t: Tensor, src: usize) -> Result<Tensor> {
        let sig = format!("{} from rank {src}", describe(&t));
        let payload = if self.rank == src {
            Payload::Tensor(t)
        } else {
            Payload::Empty
        };
        let all = self.round("broadcast", sig, payload)?;
        Ok(tensor(&all[src]).clone())
    }

    fn all_gather(&self, t: Tensor) -> Result<Vec<Tensor>> {
        let sig = describe(&t);
        let all = self.round("all_gather", sig, Payload::Tensor(t))?;
        Ok(all.iter().map(|c| tensor(c).clone()).collect())
    }

    fn reduce_scatter(&self, inputs: Vec<Tensor>, op: crate::ReduceOp) -> Result<Tensor> {
        let sig = format!("{op:?} of {} x {}", inputs.len(), describe(&inputs[0]));
        let all = self.round("reduce_scatter", sig, Payload::Tensors(inputs))?;
        let mine: Vec<&Tensor> = all
            .iter()
            .map(|c| match &c.payload {
                Payload::Tensors(ts) => &ts[self.rank],
                _ => unreachable!("reduce_scatter carries tensors"),
            })
            .collect();
        op.apply(&mine)
    }

    fn barrier(&self) -> Result<()> {
        self.round("barrier", String::new(), Payload::Empty)
            .map(|_| ())
    }

    fn send(&self, t: Tensor, dst: usize, tag: i64) -> Result<()> {
        self.rendezvous.send(self.rank, dst, tag, t)
    }

    fn recv(&self, like: Tensor, src: usize, tag: i64) -> Result<Tensor> {
        let t = self.rendezvous.recv(src, self.rank, tag)?;
        if t.shape() != like.shape() || t.dtype() != like.dtype() {
            return Err(DistError::Mismatch {
                op: "recv",
                message: format!(
                    "rank {src} sent {}, rank {} expected {}",
                    describe(&t),
                    self.rank,
                    describe(&like)
                ),
            });
        }
        Ok(t)
    }

    fn broadcast_bytes(&self, bytes: Vec<u8>, src: usize) -> Result<Vec<u8>> {
        let payload = if self.rank == src {
            Payload::Bytes(bytes)
        } else {
            Payload::Empty
        };
        let all = self.round("broadcast_object", format!("from rank {src}"), payload)?;
        match &all[src].payload {
            Payload::Bytes(b) => Ok(b.clone()),
            _ => unreachable!("the source sends bytes"),
        }
    }

    fn all_gather_bytes(&self, bytes: Vec<u8>) -> Result<Vec<Vec<u8>>> {
        let all = self.round("all_gather_object", String::new(), Payload::Bytes(bytes))?;
        Ok(all
            .iter()
            .map(|c| match &c.payload {
                Payload::Bytes(b) => b.clone(),
                _ => unreachable!("all_gather_object carries bytes"),
            })
            .collect())
    }
}
