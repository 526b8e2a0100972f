//! Helpers shared by the model files.

#![allow(dead_code)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::Once;

/// Preemptions each execution of the two-thread models may contain
/// (`LOOM_MAX_PREEMPTIONS` overrides it).
const PREEMPTIONS: usize = 3;

/// Runs `f` under loom with the idle workers' spin time set to `spin_us`.
/// Every model of one test binary must pass the same `spin_us` (see
/// `set_spin_us`).
pub fn model(spin_us: u64, f: impl Fn() + Sync + Send + 'static) {
    model_bounded(spin_us, PREEMPTIONS, f)
}

/// `model` with at most `preemptions` preemptions per execution, for the
/// larger models.
pub fn model_bounded(spin_us: u64, preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    quiet_expected_panics();
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    // As `loom::model` does: `LOOM_LOG=trace` prints each execution.
    let log = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("LOOM_LOG"))
        .with_test_writer()
        .without_time()
        .finish();
    tracing::subscriber::with_default(log, || {
        builder.check(move || {
            torchlet_team_loom::set_spin_us(spin_us);
            f()
        })
    });
}

/// One counter per part, written by the part without synchronization of
/// its own: loom reports a data race if two threads run the same part at
/// once, or if the caller reads a count the part's thread wrote without
/// the team making that write happen before.
pub struct Hits(Vec<UnsafeCell<usize>>);

// SAFETY: the team's job is what this checks; loom's UnsafeCell flags any
// access the team does not order.
unsafe impl Sync for Hits {}

impl Hits {
    pub fn new(parts: usize) -> Hits {
        Hits((0..parts).map(|_| UnsafeCell::new(0)).collect())
    }

    pub fn hit(&self, part: usize) {
        // SAFETY: see `Sync` above.
        self.0[part].with_mut(|n| unsafe { *n += 1 });
    }

    /// Asserts that every part ran exactly once.
    pub fn assert_each_once(&self) {
        for (part, cell) in self.0.iter().enumerate() {
            // SAFETY: see `Sync` above.
            let n = cell.with(|n| unsafe { *n });
            assert_eq!(n, 1, "part {part} ran {n} times");
        }
    }
}

/// A job whose parts each wait until every part has started: it ends only
/// if every thread of the team takes a part, so a worker that sleeps
/// through the job's publication shows up as a hang (loom reports a
/// deadlock, or that the model exceeded its maximum number of branches).
/// Two threads at most: loom's exploration of two threads spinning on
/// `yield_now` at once does not end.
pub struct Gather {
    started: AtomicUsize,
    parts: usize,
}

impl Gather {
    pub fn new(parts: usize) -> Gather {
        Gather {
            started: AtomicUsize::new(0),
            parts,
        }
    }

    pub fn arrive(&self) {
        self.started.fetch_add(1, Relaxed);
        while self.started.load(Relaxed) < self.parts {
            loom::thread::yield_now();
        }
    }
}

/// The payload of the panics the models raise on purpose (with
/// `panic_any`, so that it stays a `&str`).
pub const PART_PANIC: &str = "a part panics (expected by this model)";

/// Keeps the default panic hook from printing the expected panics, once
/// per execution each.
fn quiet_expected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&PART_PANIC) {
                default(info);
            }
        }));
    });
}
