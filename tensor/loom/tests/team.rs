//! The team's protocol with workers that spin briefly (two looks for a new
//! job) before they sleep, so both the spinning pick-up and the sleep and
//! wake-up paths run.

mod common;

use common::{model, Gather, Hits, PART_PANIC};
use std::panic::{self, AssertUnwindSafe};
use torchlet_team_loom::Team;

/// The spin time of every model here: the worker looks twice, then sleeps.
const SPIN_US: u64 = 1;

/// (a) One job of two parts on the caller and one worker: each part runs
/// exactly once, and both have finished when `run` returns.
#[test]
fn one_job_runs_each_part_once() {
    model(SPIN_US, || {
        let team = Team::new(2);
        let hits = Hits::new(2);
        team.run(2, &|i| hits.hit(i));
        hits.assert_each_once();
    });
}

/// (b) Two jobs in a row: the worker never runs a part of the first job
/// after it ended, nor a part of the second with the first's closure.
#[test]
fn consecutive_jobs_do_not_mix() {
    model(SPIN_US, || {
        let team = Team::new(2);
        let first = Hits::new(2);
        team.run(2, &|i| first.hit(i));
        first.assert_each_once();
        let second = Hits::new(2);
        team.run(2, &|i| second.hit(i));
        second.assert_each_once();
        first.assert_each_once();
    });
}

/// (c) After a first job, the worker spins, then sleeps; the second job
/// needs it (each part waits for the other), so it must wake up.
#[test]
fn the_next_job_wakes_a_sleeping_worker() {
    model(SPIN_US, || {
        let team = Team::new(2);
        team.run(2, &|_| {});
        let gather = Gather::new(2);
        let hits = Hits::new(2);
        team.run(2, &|i| {
            gather.arrive();
            hits.hit(i);
        });
        hits.assert_each_once();
    });
}

/// (d) Dropping a team whose worker has not started, spins or sleeps.
#[test]
fn drop_joins_an_idle_worker() {
    model(SPIN_US, || {
        drop(Team::new(2));
    });
}

/// (d) Dropping the team right after a job: the worker may still be in
/// the job's claim loop, spinning, or asleep.
#[test]
fn drop_after_a_job_joins_the_worker() {
    model(SPIN_US, || {
        let team = Team::new(2);
        let hits = Hits::new(2);
        team.run(2, &|i| hits.hit(i));
        drop(team);
        hits.assert_each_once();
    });
}

/// (e) A panicking part reaches the caller, after the other part ended.
#[test]
fn a_panic_reaches_the_caller_after_every_part() {
    model(SPIN_US, || {
        let team = Team::new(2);
        let hits = Hits::new(2);
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            team.run(2, &|i| {
                hits.hit(i);
                if i == 1 {
                    std::panic::panic_any(PART_PANIC);
                }
            })
        }));
        let payload = r.expect_err("the part's panic was lost");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&PART_PANIC));
        hits.assert_each_once();
    });
}

/// (e) Both parts panic: the caller gets one of the payloads, the other is
/// dropped, and the team still runs jobs afterwards.
#[test]
fn two_panics_give_the_caller_one() {
    model(SPIN_US, || {
        let team = Team::new(2);
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            team.run(2, &|_| std::panic::panic_any(PART_PANIC))
        }));
        assert!(r.is_err());
        let hits = Hits::new(2);
        team.run(2, &|i| hits.hit(i));
        hits.assert_each_once();
    });
}
