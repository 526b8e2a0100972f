//! Model check of the thread team's protocol with [loom].
//!
//! `../src/parallel/team.rs` is compiled here as it ships (`#[path]`, not a
//! copy) against a `sync` module of loom's primitives instead of std's, and
//! `tests/` runs small scenarios under `loom::model`, which explores their
//! thread interleavings and the values the memory model lets each atomic
//! load return (bounded to a few preemptions):
//!
//! - publishing a job and claiming its parts: every part runs exactly once
//!   and the caller returns only after all parts finished (the parts' writes
//!   happen before it returns: loom reports a data race otherwise);
//! - consecutive jobs: a worker never runs a part of a finished job (the
//!   epoch in the state word);
//! - sleeping: a worker whose spin time ran out sleeps, and the next
//!   publish wakes it (no lost wake-up: a job that needs both threads ends);
//! - shutdown: dropping the team joins a worker that is spinning, sleeping
//!   or not started yet;
//! - panics: a panicking part reaches the caller after every part ended.
//!
//! Not modelled: the spin *time* (loom has no clock: here the clock moves
//! 1 µs per read and is read on every spin, see `sync::Instant`), more than
//! three threads or parts, and the epoch wrapping after 2^32 jobs. loom
//! gives SeqCst loads and stores only AcqRel semantics, so the handshake
//! between a publishing caller and a worker going to sleep gets a
//! `fence(SeqCst)` here (`sync::model_sc_fence`, a no-op in std's shim)
//! to restore the order the SeqCst accesses have in the shipped build.
//!
//! A separate workspace so the main build never depends on loom. Run it
//! after changing `team.rs` (CI runs it too), from the repository root:
//!
//! ```text
//! cargo test --release --manifest-path tensor/loom/Cargo.toml
//! ```
//!
//! From clean it takes under two minutes on two cores (about 50 s of it
//! building loom, a minute running the models). `LOOM_MAX_PREEMPTIONS=n` overrides the preemption bounds (3,
//! and 2 for the three-thread model; 4 takes several minutes); on a
//! failure, `LOOM_LOG=trace LOOM_LOCATION=1` on the failing test prints
//! each execution (the failing one last).
//!
//! [loom]: https://docs.rs/loom

/// What `team.rs` gets from `super::sync`: loom's versions of the names
/// `tensor/src/parallel.rs` re-exports from std.
mod sync {
    pub(crate) use loom::sync::{atomic, Arc, Condvar, Mutex};
    pub(crate) use loom::{hint, thread};
    pub(crate) use std::sync::TryLockError;

    /// `loom::thread_local!` (each loom thread needs its own values: loom
    /// runs them all on one OS thread), also taking `const { init }`, which
    /// loom's macro does not parse.
    macro_rules! loom_thread_local {
        () => {};
        ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr } $(; $($rest:tt)*)?) => {
            loom::thread_local!($(#[$attr])* $vis static $name: $t = $init);
            $($crate::sync::thread_local!($($rest)*);)?
        };
        ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr $(; $($rest:tt)*)?) => {
            loom::thread_local!($(#[$attr])* $vis static $name: $t = $init);
            $($crate::sync::thread_local!($($rest)*);)?
        };
    }
    pub(crate) use loom_thread_local as thread_local;

    /// loom treats SeqCst loads and stores as AcqRel only: without this
    /// `fence(SeqCst)` it would let the publishing caller and a worker
    /// going to sleep both miss the other's SeqCst store, a lost wake-up
    /// that the SeqCst total order rules out in the shipped build (where
    /// this is a no-op).
    pub(crate) fn model_sc_fence() {
        loom::sync::atomic::fence(atomic::Ordering::SeqCst);
    }

    /// Idle workers read the clock on every spin here.
    pub(crate) const SPIN_CHECK_EVERY: u32 = 1;

    /// A stand-in for `std::time::Instant` (loom cannot model time): each
    /// `elapsed` read is 1 µs later than the one before, so a worker with a
    /// spin time of `s` µs looks for a job `s + 1` times, then sleeps.
    pub(crate) struct Instant(std::cell::Cell<u64>);

    impl Instant {
        pub(crate) fn now() -> Instant {
            Instant(std::cell::Cell::new(0))
        }

        pub(crate) fn elapsed(&self) -> std::time::Duration {
            self.0.set(self.0.get() + 1);
            std::time::Duration::from_micros(self.0.get())
        }
    }
}

// The team's std unit tests are not compiled here (`[lib] test = false`),
// so some of its functions are unused.
#[allow(dead_code)]
#[path = "../../src/parallel/team.rs"]
mod team;

/// The team under test (`team::Team` is crate-private there, so tests
/// reach it through this).
pub struct Team(team::Team);

impl Team {
    /// The caller plus `size - 1` loom threads.
    pub fn new(size: usize) -> Team {
        Team(team::Team::new(size))
    }

    /// `team::Team::run`.
    pub fn run(&self, parts: usize, f: &(dyn Fn(usize) + Sync)) {
        self.0.run(parts, f)
    }
}

/// Sets how long idle workers spin, in µs of the fake clock (0: they sleep
/// as soon as no job is there). A process-wide setting: every model in a
/// test binary must use the same value, or executions stop being repeatable.
pub fn set_spin_us(us: u64) {
    team::set_spin_us(us)
}
