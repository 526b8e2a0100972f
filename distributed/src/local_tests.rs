//! The `Local` backend's shared gradient sum (DDP's all-reduce): blocks
//! across part boundaries, buffer reuse, and a rank that drops its call.

use torchlet_tensor::{Generator, Tensor};

use crate::{local_groups, ProcessGroup};

/// Part sizes that cross the sum's block boundaries.
const SIZES: [usize; 3] = [70_000, 3, super::SUM_BLOCK + 5];

/// Rank `rank`'s parts for call `k`.
fn parts(rank: usize, k: u64) -> Vec<Tensor> {
    let mut g = Generator::new(100 * k + rank as u64);
    SIZES
        .iter()
        .map(|&n| Tensor::randn_with(&[n], &mut g))
        .collect()
}

/// Σ over the ranks (in rank order) of each element / world.
fn expected(world: usize, k: u64) -> Vec<f32> {
    let all: Vec<Vec<f32>> = (0..world)
        .map(|r| {
            parts(r, k)
                .iter()
                .flat_map(|t| t.to_vec::<f32>().unwrap())
                .collect()
        })
        .collect();
    (0..all[0].len())
        .map(|i| {
            let mut acc = all[0][i] / world as f32;
            for a in &all[1..] {
                acc += a[i] / world as f32;
            }
            acc
        })
        .collect()
}

/// Runs `f` on every rank of a new `Local` group, each on its own thread.
fn on_ranks<T: Send>(world: usize, f: impl Fn(ProcessGroup) -> T + Sync) -> Vec<T> {
    let groups = local_groups(world).unwrap();
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = groups
            .into_iter()
            .map(|pg| s.spawn(move || f(pg)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn every_rank_gets_the_same_bits_while_earlier_results_stay_put() {
    for world in [2, 3] {
        let got = on_ranks(world, |pg| {
            let mut kept = Vec::new();
            for k in 0..3 {
                let work = pg.all_reduce_coalesced_async(parts(pg.rank(), k), world as f64);
                // Each result is held while the next call runs: reusing
                // its buffer must not change it.
                kept.push(work.wait().unwrap());
            }
            kept.iter()
                .map(|t| t.to_vec::<f32>().unwrap())
                .collect::<Vec<_>>()
        });
        for k in 0..3 {
            let want = expected(world, k as u64);
            for (rank, results) in got.iter().enumerate() {
                assert!(
                    results[k] == want,
                    "world {world}, call {k}, rank {rank}: another sum"
                );
            }
        }
    }
}

#[test]
fn the_buffer_is_reused_once_nothing_holds_it() {
    let reused = on_ranks(2, |pg| {
        let first = pg
            .all_reduce_coalesced_async(parts(pg.rank(), 0), 2.0)
            .wait()
            .unwrap();
        let address = first.as_slice::<f32>().unwrap().as_ptr() as usize;
        drop(first);
        pg.barrier().unwrap();
        let second = pg
            .all_reduce_coalesced_async(parts(pg.rank(), 1), 2.0)
            .wait()
            .unwrap();
        assert_eq!(second.to_vec::<f32>().unwrap(), expected(2, 1));
        second.as_slice::<f32>().unwrap().as_ptr() as usize == address
    });
    assert_eq!(reused, [true, true]);
}

#[test]
fn a_rank_that_drops_its_call_leaves_the_sum_to_the_others() {
    let got = on_ranks(3, |pg| {
        let work = pg.all_reduce_coalesced_async(parts(pg.rank(), 0), 3.0);
        if pg.rank() == 1 {
            drop(work);
            None
        } else {
            Some(work.wait().unwrap().to_vec::<f32>().unwrap())
        }
    });
    let want = expected(3, 0);
    assert_eq!(got[0].as_ref(), Some(&want));
    assert_eq!(got[2].as_ref(), Some(&want));
}
