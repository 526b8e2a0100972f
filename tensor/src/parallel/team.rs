//! A fork-join team: the calling thread plus `size - 1` persistent
//! workers that spin for a short while after each job before they sleep.
//!
//! Why not a work-stealing pool: a training step runs hundreds of kernels
//! of 10–500 µs each, back to back. Waking a sleeping thread through the
//! kernel costs several microseconds per kernel and showed up as 10–15% of
//! a step in profiles (futex wake-ups, `sched_yield`, barriers). Here the
//! caller publishes a job with one atomic store, works on it itself, and
//! workers that are still spinning from the previous kernel pick it up
//! at once — the same trade OpenMP runtimes make. An empty two-part job
//! takes about 0.7 µs on the 2-core dev machine (cache-line hand-offs).
//!
//! A job is `parts` independent calls `f(0) .. f(parts - 1)`; threads claim
//! parts one by one, so uneven parts balance out. One job runs at a time:
//! a second thread that calls in while the team is busy (another test, a
//! data-loader worker) runs its job on its own, which gives the same
//! results because kernels never make their output depend on how many
//! threads ran them.
//!
//! Every synchronization primitive here comes from `super::sync`: std's in
//! the tensor crate, loom's in `tensor/loom`, which model-checks this file
//! (publish, claim, sleep and wake-up, shutdown, panics) as it is.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use super::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};
use super::sync::thread::{self, JoinHandle};
use super::sync::{
    hint, model_sc_fence, thread_local, Arc, Condvar, Instant, Mutex, TryLockError,
    SPIN_CHECK_EVERY,
};

/// How long an idle worker spins before it goes to sleep, in µs, unless
/// [`set_spin_us`] or `TORCHLET_SPIN_US` says otherwise. Long enough to
/// bridge the gaps between kernels of one training step, short enough to
/// give the core back soon after the work ends.
pub(crate) const DEFAULT_SPIN_US: u64 = 300;

/// The spin time in force, in µs; `u64::MAX` until first read. A setting,
/// not part of the protocol: std's atomic even under loom.
static SPIN_US: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);

/// How long idle workers spin before sleeping.
pub(crate) fn spin_time() -> Duration {
    let mut us = SPIN_US.load(Relaxed);
    if us == u64::MAX {
        us = std::env::var("TORCHLET_SPIN_US")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&v: &u64| v != u64::MAX)
            .unwrap_or(DEFAULT_SPIN_US);
        // A concurrent set_spin_us wins over the environment.
        let _ = SPIN_US.compare_exchange(u64::MAX, us, Relaxed, Relaxed);
        us = SPIN_US.load(Relaxed);
    }
    Duration::from_micros(us)
}

/// Sets how long idle workers spin before sleeping (0: sleep at once).
pub(crate) fn set_spin_us(us: u64) {
    SPIN_US.store(us.min(u64::MAX - 1), Relaxed);
}

/// A value alone on its cache line pair: the words every thread writes
/// (`state`, `done`, `sleepers`) would otherwise bounce one line between
/// cores on each claim (128 bytes: Intel's adjacent-line prefetcher pulls
/// lines in pairs).
#[repr(align(128))]
struct CachePadded<T>(T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The job being run: a type-erased `&dyn Fn(usize)`, valid while any of
/// its parts is unfinished (the caller does not return before that).
struct Job {
    f: *const (dyn Fn(usize) + Sync),
}

struct Shared {
    /// `epoch << 32 | parts << 16 | next part`: claiming a part is one CAS
    /// that also proves the job is still the one this thread read.
    state: CachePadded<AtomicU64>,
    job: AtomicPtr<Job>,
    /// Parts finished in the current job.
    done: CachePadded<AtomicUsize>,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    sleepers: CachePadded<AtomicUsize>,
    sleep_lock: Mutex<()>,
    wake: Condvar,
    shutdown: AtomicBool,
}

const PARTS_MAX: usize = u16::MAX as usize;

fn unpack(state: u64) -> (u64, usize, usize) {
    (
        state >> 32,
        ((state >> 16) & 0xffff) as usize,
        (state & 0xffff) as usize,
    )
}

thread_local! {
    /// True on team workers, and on a caller while it runs a job: a kernel
    /// called from inside a job runs on its own thread.
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
}

thread_local! {
    /// Jobs this thread has published to the team (see `run`).
    static JOBS_RUN: Cell<u64> = const { Cell::new(0) };
}

/// How many jobs this thread has run across the team.
pub(crate) fn jobs_on_this_thread() -> u64 {
    JOBS_RUN.with(Cell::get)
}

/// Whether this thread is already inside a team job.
pub(crate) fn in_job() -> bool {
    IN_JOB.with(Cell::get)
}

impl Shared {
    /// Claims and runs parts of the job published as `epoch` until none
    /// are left or a newer job replaced it.
    fn work(&self, epoch: u64) {
        loop {
            let s = self.state.load(Acquire);
            let (e, parts, next) = unpack(s);
            if e != epoch || next >= parts {
                return;
            }
            if self
                .state
                .compare_exchange_weak(s, s + 1, AcqRel, Relaxed)
                .is_err()
            {
                continue;
            }
            // Read only after the claim: the claim proves the job is live
            // (its caller waits for this part), and its Acquire makes the
            // caller's job pointer visible — a pointer read before it could
            // belong to a finished job whose state word came round again.
            let job = self.job.load(Acquire);
            // SAFETY: the CAS succeeded while the state still named this
            // job with part `next` unclaimed, so the job is unfinished and
            // its caller is waiting: `job` and the closure it points to
            // are alive until this part is counted done.
            let f = unsafe { &*(*job).f };
            if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| f(next))) {
                let mut slot = self.panic.lock().unwrap_or_else(|e| e.into_inner());
                if slot.is_none() {
                    *slot = Some(p);
                } else {
                    // A second payload is dropped here, where a panicking
                    // destructor cannot escape `work` (that would leave
                    // the job unfinished and its caller unwinding early).
                    let _ = panic::catch_unwind(AssertUnwindSafe(|| drop(p)));
                }
            }
            self.done.fetch_add(1, Release);
        }
    }
}

/// The calling thread plus `size - 1` workers.
pub(crate) struct Team {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// Held by the thread whose job is running.
    busy: Mutex<()>,
    epoch: AtomicU64,
}

impl Team {
    /// Starts `size - 1` workers (none when `size <= 1`).
    pub(crate) fn new(size: usize) -> Team {
        let shared = Arc::new(Shared {
            state: CachePadded(AtomicU64::new(0)),
            job: AtomicPtr::new(std::ptr::null_mut()),
            done: CachePadded(AtomicUsize::new(0)),
            panic: Mutex::new(None),
            sleepers: CachePadded(AtomicUsize::new(0)),
            sleep_lock: Mutex::new(()),
            wake: Condvar::new(),
            shutdown: AtomicBool::new(false),
        });
        let mut team = Team {
            shared,
            workers: Vec::new(),
            busy: Mutex::new(()),
            epoch: AtomicU64::new(0),
        };
        for i in 1..size.max(1) {
            let shared = Arc::clone(&team.shared);
            let spawned = thread::Builder::new()
                .name(format!("torchlet-{i}"))
                .spawn(move || worker_loop(&shared));
            match spawned {
                Ok(handle) => team.workers.push(handle),
                Err(e) => {
                    // Stop the workers already started before giving up.
                    drop(team);
                    panic!("failed to start torchlet worker thread {i}: {e}");
                }
            }
        }
        team
    }

    /// Threads a job can use: the caller and the workers.
    pub(crate) fn size(&self) -> usize {
        self.workers.len() + 1
    }

    /// Calls `f(i)` for every `i` in `0..parts`, spread over the team, and
    /// returns when all have returned. Runs on the calling thread alone
    /// when the team has no workers, is busy with another caller's job, or
    /// when called from inside a job. A panic in any part is resumed here
    /// after every part has finished.
    pub(crate) fn run(&self, parts: usize, f: &(dyn Fn(usize) + Sync)) {
        if parts == 0 {
            return;
        }
        let guard = if parts == 1 || self.workers.is_empty() || in_job() {
            None
        } else {
            match self.busy.try_lock() {
                Ok(g) => Some(g),
                // A panic is resumed only after the guard is released, so
                // poisoning cannot happen; accept it anyway.
                Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            }
        };
        let Some(guard) = guard else {
            (0..parts).for_each(f);
            return;
        };
        if parts > PARTS_MAX {
            // More parts than the state word counts: group them.
            let group = parts.div_ceil(PARTS_MAX);
            drop(guard);
            let grouped = |g: usize| (g * group..((g + 1) * group).min(parts)).for_each(f);
            return self.run(parts.div_ceil(group), &grouped);
        }
        let sh = &*self.shared;
        // SAFETY (lifetime erasure): `job` and `f` outlive the job: this
        // function waits below until every part is done, and a worker only
        // dereferences `job` after claiming an unfinished part.
        let f: *const (dyn Fn(usize) + Sync + '_) = f;
        // SAFETY: only the lifetime changes (see above).
        let f: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(f) };
        let mut job = Job { f };
        JOBS_RUN.with(|c| c.set(c.get() + 1));
        // Never 0, the epoch workers start from.
        let epoch = self.epoch.fetch_add(1, Relaxed) % 0xffff_ffff + 1;
        sh.done.store(0, Relaxed);
        sh.job.store(&mut job, Release);
        // Store `state`, then load `sleepers`; a worker going to sleep
        // increments `sleepers`, then loads `state` (all SeqCst): one of
        // the two sees the other's write, so the worker either sees this
        // job or is seen sleeping and woken.
        sh.state.store(epoch << 32 | (parts as u64) << 16, SeqCst);
        model_sc_fence();
        if sh.sleepers.load(SeqCst) > 0 {
            let _lock = sh.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.wake.notify_all();
        }
        IN_JOB.with(|c| c.set(true));
        sh.work(epoch);
        IN_JOB.with(|c| c.set(false));
        // Wait for the parts other threads claimed (they are running now).
        let mut spins = 0u32;
        while sh.done.load(Acquire) < parts {
            if spins < 1 << 16 {
                spins += 1;
                hint::spin_loop();
            } else {
                thread::yield_now();
            }
        }
        sh.job.store(std::ptr::null_mut(), Relaxed);
        let panicked = sh.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(guard);
        if let Some(p) = panicked {
            panic::resume_unwind(p);
        }
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, SeqCst);
        {
            let _lock = self
                .shared
                .sleep_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn worker_loop(sh: &Shared) {
    IN_JOB.with(|c| c.set(true));
    let mut seen = 0u64;
    loop {
        // Spin until a new job appears, then sleep.
        let start = Instant::now();
        let spin = spin_time();
        let mut n = 0u32;
        let epoch = loop {
            let (e, _, _) = unpack(sh.state.load(Acquire));
            if e != seen {
                break Some(e);
            }
            if sh.shutdown.load(Relaxed) {
                return;
            }
            if spin.is_zero() {
                break None;
            }
            n = n.wrapping_add(1);
            if n.is_multiple_of(SPIN_CHECK_EVERY) && start.elapsed() > spin {
                break None;
            }
            hint::spin_loop();
        };
        let epoch = match epoch {
            Some(e) => e,
            None => {
                // See the publication in `Team::run`.
                sh.sleepers.fetch_add(1, SeqCst);
                model_sc_fence();
                let mut lock = sh.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    let (e, _, _) = unpack(sh.state.load(SeqCst));
                    if e != seen || sh.shutdown.load(SeqCst) {
                        break;
                    }
                    lock = sh.wake.wait(lock).unwrap_or_else(|e| e.into_inner());
                }
                drop(lock);
                sh.sleepers.fetch_sub(1, SeqCst);
                if sh.shutdown.load(SeqCst) {
                    return;
                }
                continue;
            }
        };
        seen = epoch;
        sh.work(epoch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn every_part_runs_once() {
        let team = Team::new(3);
        for parts in [1usize, 2, 3, 7, 100] {
            let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            team.run(parts, &|i| {
                hits[i].fetch_add(1, Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Relaxed) == 1), "parts {parts}");
        }
    }

    #[test]
    fn more_parts_than_the_state_word_holds() {
        let team = Team::new(2);
        let parts = PARTS_MAX * 2 + 5;
        let sum = AtomicUsize::new(0);
        team.run(parts, &|i| {
            sum.fetch_add(i, Relaxed);
        });
        assert_eq!(sum.load(Relaxed), parts * (parts - 1) / 2);
    }

    #[test]
    fn nested_jobs_run_inline() {
        let team = Team::new(2);
        let sum = AtomicUsize::new(0);
        team.run(4, &|i| {
            team.run(3, &|j| {
                sum.fetch_add(i * 3 + j, Relaxed);
            })
        });
        assert_eq!(sum.load(Relaxed), (0..12).sum::<usize>());
    }

    /// How many distinct threads ran parts of a job of slow parts.
    fn threads_used(team: &Team) -> usize {
        let seen = Mutex::new(std::collections::HashSet::new());
        // Enough slow parts that every worker takes some of them.
        team.run(64, &|_| {
            seen.lock().unwrap().insert(std::thread::current().id());
            std::thread::sleep(Duration::from_micros(200));
        });
        let n = seen.lock().unwrap().len();
        n
    }

    #[test]
    fn workers_wake_after_sleeping() {
        let team = Team::new(2);
        std::thread::sleep(spin_time() * 4);
        assert_eq!(threads_used(&team), 2);
    }

    #[test]
    fn hot_words_sit_on_their_own_cache_lines() {
        let team = Team::new(2);
        let sh = &*team.shared;
        let line = |p: *const u8| p as usize / 128;
        let state = line(std::ptr::from_ref(&*sh.state).cast());
        let done = line(std::ptr::from_ref(&*sh.done).cast());
        let sleepers = line(std::ptr::from_ref(&*sh.sleepers).cast());
        assert!(state != done && done != sleepers && state != sleepers);
    }

    #[test]
    fn with_no_spin_workers_sleep_at_once_and_still_wake() {
        // Other tests of this binary may run meanwhile: they only get
        // slower while the spin is 0.
        let before = spin_time();
        set_spin_us(0);
        assert_eq!(spin_time(), Duration::ZERO);
        let team = Team::new(2);
        for _ in 0..20 {
            std::thread::sleep(Duration::from_micros(50));
            let sum = AtomicUsize::new(0);
            team.run(8, &|i| {
                sum.fetch_add(i, Relaxed);
            });
            assert_eq!(sum.load(Relaxed), 28);
        }
        assert_eq!(threads_used(&team), 2);
        set_spin_us(before.as_micros() as u64);
    }

    #[test]
    fn a_panicking_part_reaches_the_caller_after_all_parts() {
        let team = Team::new(2);
        let done = AtomicUsize::new(0);
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            team.run(16, &|i| {
                if i == 5 {
                    panic!("part five");
                }
                done.fetch_add(1, Relaxed);
            })
        }));
        assert!(r.is_err());
        assert_eq!(done.load(Relaxed), 15);
        // The team still runs jobs on all its threads afterwards.
        assert_eq!(threads_used(&team), 2);
    }

    #[test]
    fn concurrent_callers_each_get_their_results() {
        let team = Team::new(2);
        std::thread::scope(|s| {
            for t in 0..4usize {
                let team = &team;
                s.spawn(move || {
                    for _ in 0..200 {
                        let sum = AtomicUsize::new(0);
                        team.run(10, &|i| {
                            sum.fetch_add(i + t, Relaxed);
                        });
                        assert_eq!(sum.load(Relaxed), 45 + 10 * t);
                    }
                });
            }
        });
    }
}
