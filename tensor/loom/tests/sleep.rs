//! The team's protocol with workers that sleep as soon as they find no new
//! job (spin time 0): every job after the first look is a wake-up.

mod common;

use common::{model, model_bounded, Gather, Hits};
use torchlet_team_loom::Team;

/// The spin time of every model here: none.
const SPIN_US: u64 = 0;

/// (c) A job that needs the worker (each part waits for the other), which
/// may be asleep before the job is published.
#[test]
fn a_job_wakes_the_sleeping_worker() {
    model(SPIN_US, || {
        let team = Team::new(2);
        let gather = Gather::new(2);
        let hits = Hits::new(2);
        team.run(2, &|i| {
            gather.arrive();
            hits.hit(i);
        });
        hits.assert_each_once();
    });
}

/// (b, c) Two jobs that each need the worker, which goes back to sleep in
/// between: the second publication must wake it again, and it must not
/// take the first job for a new one.
#[test]
fn each_job_wakes_the_worker_again() {
    model(SPIN_US, || {
        let team = Team::new(2);
        for _ in 0..2 {
            let gather = Gather::new(2);
            let hits = Hits::new(2);
            team.run(2, &|i| {
                gather.arrive();
                hits.hit(i);
            });
            hits.assert_each_once();
        }
    });
}

/// (d) Dropping the team after a job, its worker asleep or about to be.
#[test]
fn drop_joins_a_sleeping_worker() {
    model(SPIN_US, || {
        let team = Team::new(2);
        let hits = Hits::new(2);
        team.run(2, &|i| hits.hit(i));
        drop(team);
        hits.assert_each_once();
    });
}

/// (a) Three threads, both workers asleep or about to be: each part of a
/// three-part job runs once, whoever claims it. (A job that needs all three
/// threads is out of reach: loom's exploration of two threads spinning at
/// once on `yield_now` does not end.)
#[test]
fn three_threads_claim_each_part_once() {
    model_bounded(SPIN_US, 2, || {
        let team = Team::new(3);
        let hits = Hits::new(3);
        team.run(3, &|i| hits.hit(i));
        hits.assert_each_once();
    });
}
