//! The collectives of a `Local` group: values on 1 to 3 ranks, async
//! calls, objects, point-to-point, and the failures that must not hang.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use torchlet_distributed::{
    init_process_group, spawn, spawn_with_timeout, Backend, DistError, ProcessGroup, ReduceOp,
};
use torchlet_tensor::Tensor;

type R<T> = Result<T, DistError>;

fn vals(t: &Tensor) -> Vec<f32> {
    t.to_vec::<f32>().unwrap()
}

/// Rank r's tensor: `[r*10, r*10 + 1, ...]`, shape [2, 3].
fn ranked(pg: &ProcessGroup) -> Tensor {
    let base = pg.rank() as f32 * 10.0;
    Tensor::from_vec((0..6).map(|i| base + i as f32).collect(), &[2, 3]).unwrap()
}

#[test]
fn all_reduce_gives_every_rank_the_same_reduction() {
    for world in 1..=3 {
        let out = spawn(world, |pg| -> R<Vec<Vec<f32>>> {
            let mut res = Vec::new();
            for op in [
                ReduceOp::Sum,
                ReduceOp::Avg,
                ReduceOp::Max,
                ReduceOp::Min,
                ReduceOp::Product,
            ] {
                let mut t = ranked(&pg);
                pg.all_reduce(&mut t, op)?;
                assert_eq!(t.shape(), [2, 3]);
                res.push(vals(&t));
            }
            Ok(res)
        })
        .unwrap();
        for i in 0..6 {
            let xs: Vec<f32> = (0..world).map(|r| r as f32 * 10.0 + i as f32).collect();
            let want = [
                xs.iter().sum::<f32>(),
                xs.iter().sum::<f32>() / world as f32,
                xs.iter().cloned().fold(f32::MIN, f32::max),
                xs.iter().cloned().fold(f32::MAX, f32::min),
                xs.iter().product::<f32>(),
            ];
            for per_rank in &out {
                for (k, w) in want.iter().enumerate() {
                    assert_eq!(per_rank[k][i], *w, "world {world}, op {k}, element {i}");
                }
            }
        }
    }
}

#[test]
fn broadcast_all_gather_and_reduce_scatter() {
    /// Per rank: the broadcast, the gathered tensors, the scattered part.
    type Seen = (Vec<f32>, Vec<Vec<f32>>, Vec<f32>);
    let out = spawn(3, |pg| -> R<Seen> {
        let mut b = ranked(&pg);
        pg.broadcast(&mut b, 2)?;
        let gathered = pg.all_gather(&ranked(&pg))?;
        // inputs[k] on rank r is [r + k]; rank k gets the sum over r.
        let inputs: Vec<Tensor> = (0..3)
            .map(|k| Tensor::full(&[2], (pg.rank() + k) as f32))
            .collect();
        let mut mine = Tensor::zeros(&[2]);
        pg.reduce_scatter(&mut mine, &inputs, ReduceOp::Sum)?;
        Ok((vals(&b), gathered.iter().map(vals).collect(), vals(&mine)))
    })
    .unwrap();
    for (rank, (b, gathered, mine)) in out.iter().enumerate() {
        assert_eq!(b, &[20.0, 21.0, 22.0, 23.0, 24.0, 25.0]);
        for (r, g) in gathered.iter().enumerate() {
            assert_eq!(g[0], r as f32 * 10.0);
        }
        let want = (0..3).map(|r| (r + rank) as f32).sum::<f32>();
        assert_eq!(mine, &[want, want]);
    }
}

#[test]
fn async_calls_run_in_order_and_wait_in_any_order() {
    let out = spawn(2, |pg| -> R<Vec<f32>> {
        let works: Vec<_> = (0..5)
            .map(|k| pg.all_reduce_async(Tensor::full(&[4], (k + pg.rank()) as f32), ReduceOp::Sum))
            .collect::<R<_>>()?;
        let mut sums = Vec::new();
        for w in works.into_iter().rev() {
            sums.push(w.wait()?.to_vec::<f32>()?[0]);
        }
        Ok(sums)
    })
    .unwrap();
    // k + 0 + k + 1, waited from k = 4 down.
    assert_eq!(out[0], [9.0, 7.0, 5.0, 3.0, 1.0]);
    assert_eq!(out[1], out[0]);
}

#[test]
fn empty_non_contiguous_and_integer_tensors() {
    spawn(2, |pg| -> R<()> {
        let mut e = Tensor::zeros(&[0, 3]);
        pg.all_reduce(&mut e, ReduceOp::Sum)?;
        assert_eq!(e.shape(), [0, 3]);
        // A transposed view reduces by value, keeping its shape.
        let mut t = ranked(&pg).transpose(0, 1)?;
        pg.all_reduce(&mut t, ReduceOp::Sum)?;
        assert_eq!(t.shape(), [3, 2]);
        assert_eq!(vals(&t), [10.0, 16.0, 12.0, 18.0, 14.0, 20.0]);
        let mut i = Tensor::from_vec(vec![pg.rank() as i64 + 1, 5], &[2])?;
        pg.all_reduce(&mut i, ReduceOp::Product)?;
        assert_eq!(i.to_vec::<i64>()?, [2, 25]);
        let err = pg
            .all_reduce(&mut i, ReduceOp::Avg)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs a float tensor"), "{err}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn objects_and_point_to_point() {
    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct Meta {
        name: String,
        sizes: Vec<u32>,
    }
    let out = spawn(2, |pg| -> R<(Meta, Vec<Meta>, Vec<f32>)> {
        let mut m = Meta {
            name: format!("rank {}", pg.rank()),
            sizes: vec![pg.rank() as u32; 3],
        };
        let all = pg.all_gather_object(&m)?;
        pg.broadcast_object(&mut m, 1)?;
        let got = if pg.rank() == 0 {
            pg.send_tagged(&Tensor::full(&[2], 7.0f32), 1, 5)?;
            pg.send(&Tensor::full(&[2], 3.0f32), 1)?;
            let mut back = Tensor::zeros(&[1]);
            pg.recv(&mut back, 1)?;
            vals(&back)
        } else {
            // Tags keep messages apart: tag 0 first although sent second.
            let mut a = Tensor::zeros(&[2]);
            pg.recv(&mut a, 0)?;
            let mut b = Tensor::zeros(&[2]);
            pg.recv_tagged(&mut b, 0, 5)?;
            pg.send(&Tensor::full(&[1], 1.0f32), 0)?;
            [vals(&a), vals(&b)].concat()
        };
        Ok((m, all, got))
    })
    .unwrap();
    for (m, all, _) in &out {
        assert_eq!(m.name, "rank 1");
        assert_eq!(all[0].sizes, [0, 0, 0]);
        assert_eq!(all[1].name, "rank 1");
    }
    assert_eq!(out[0].2, [1.0]);
    assert_eq!(out[1].2, [3.0, 3.0, 7.0, 7.0]);
}

#[test]
fn disagreeing_ranks_get_a_clear_error_on_every_rank() {
    let err = spawn(2, |pg| -> R<()> {
        let mut t = Tensor::zeros(&[2 + pg.rank()]);
        let e = pg
            .all_reduce(&mut t, ReduceOp::Sum)
            .unwrap_err()
            .to_string();
        assert!(e.contains("the ranks disagree"), "{e}");
        assert!(e.contains("float32[2]") && e.contains("float32[3]"), "{e}");
        if pg.rank() == 0 {
            pg.barrier()?;
        } else {
            let mut t = Tensor::zeros(&[1]);
            pg.broadcast(&mut t, 0)?;
        }
        Ok(())
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("rank 0 called barrier, rank 1 called broadcast"),
        "{err}"
    );
}

#[test]
fn a_failing_rank_stops_the_others_at_once() {
    for panics in [false, true] {
        let start = Instant::now();
        let err = spawn(3, |pg| -> R<()> {
            if pg.rank() == 1 {
                std::thread::sleep(Duration::from_millis(50));
                if panics {
                    panic!("out of memory in rank 1");
                }
                return Err(DistError::Backend {
                    op: "train",
                    message: "the data file is corrupt".into(),
                });
            }
            let mut t = Tensor::zeros(&[4]);
            let e = pg.all_reduce(&mut t, ReduceOp::Sum).unwrap_err();
            assert!(matches!(e, DistError::Aborted { .. }), "{e}");
            // Later calls fail too.
            assert!(pg.barrier().is_err());
            Err(e)
        })
        .unwrap_err()
        .to_string();
        let cause = if panics {
            "out of memory in rank 1"
        } else {
            "the data file is corrupt"
        };
        assert!(
            err.contains("rank 1 failed") && err.contains(cause),
            "{err}"
        );
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}

#[test]
fn a_rank_that_exits_or_stalls_does_not_hang_the_others() {
    let err = spawn(2, |pg| -> R<()> {
        if pg.rank() == 0 {
            pg.barrier()?;
        }
        Ok(())
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("rank 1 exited without joining"), "{err}");
    let start = Instant::now();
    let err = spawn_with_timeout(2, Duration::from_millis(200), |pg| -> R<()> {
        if pg.rank() == 1 {
            std::thread::sleep(Duration::from_millis(1500));
        }
        pg.barrier()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("timed out") && err.contains("[1]"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn bad_arguments_are_refused_before_anything_is_sent() {
    spawn(2, |pg| -> R<()> {
        let mut t = Tensor::zeros(&[2]);
        let e = pg.broadcast(&mut t, 2).unwrap_err().to_string();
        assert!(
            e.contains("source rank 2 is out of range for a group of 2"),
            "{e}"
        );
        let e = pg.send(&t, pg.rank()).unwrap_err().to_string();
        assert!(e.contains("itself"), "{e}");
        let e = pg
            .reduce_scatter(&mut t, &[Tensor::zeros(&[2])], ReduceOp::Sum)
            .unwrap_err()
            .to_string();
        assert!(e.contains("one input per rank (2), got 1"), "{e}");
        let e = init_process_group(Backend::Local { world_size: 4 })
            .unwrap_err()
            .to_string();
        assert!(e.contains("spawn started 2 ranks"), "{e}");
        Ok(())
    })
    .unwrap();
    let e = init_process_group(Backend::Local { world_size: 2 })
        .unwrap_err()
        .to_string();
    assert!(e.contains("inside the spawned closure"), "{e}");
    assert!(spawn(0, |_| -> R<()> { Ok(()) }).is_err());
}

#[test]
fn each_rank_seeds_and_draws_from_its_own_generator() {
    use torchlet_tensor::{manual_seed, use_thread_generator, Generator};
    // The caller's generator (this test thread's own, so that other tests
    // drawing at the same time cannot move it) is where every rank starts.
    let _caller = use_thread_generator(Generator::new(5));
    let want_first = Tensor::rand_with(&[4], &mut Generator::new(5));
    let ranks = spawn(2, |pg| -> Result<usize, DistError> {
        assert_eq!(vals(&Tensor::rand(&[4])), vals(&want_first));
        // Ranks reseeding and drawing at once: with one shared generator
        // one rank's reseed lands between the other's draws.
        let mut agree = 0;
        for i in 0..300u64 {
            let seed = 100 * i + pg.rank() as u64;
            manual_seed(seed);
            let got = Tensor::randn(&[64]);
            agree += usize::from(
                vals(&got) == vals(&Tensor::randn_with(&[64], &mut Generator::new(seed))),
            );
        }
        Ok(agree)
    })
    .unwrap();
    assert_eq!(ranks, [300, 300]);
    // The caller's generator did not move.
    assert_eq!(vals(&Tensor::rand(&[4])), vals(&want_first));
}
