//! DataLoader behaviour: coverage, ordering, determinism across worker
//! counts, errors and shutdown.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use torchlet_data::{
    BatchSampler, DataError, DataLoader, Dataset, Result, SequentialSampler, WeightedRandomSampler,
};
use torchlet_tensor::Tensor;

/// Sample `i` is `([1, 2, 2] image filled with i, class i)`, so a batch
/// tells which indices it holds.
struct Indexed {
    len: usize,
    /// `get` fails at this index.
    fail_at: Option<usize>,
    /// `get` panics at this index.
    panic_at: Option<usize>,
    gets: AtomicUsize,
}

impl Indexed {
    fn new(len: usize) -> Indexed {
        Indexed {
            len,
            fail_at: None,
            panic_at: None,
            gets: AtomicUsize::new(0),
        }
    }
}

impl Dataset for Indexed {
    type Item = (Tensor, i64);

    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, index: usize) -> Result<(Tensor, i64)> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        if index >= self.len {
            return Err(DataError::Index {
                dataset: "Indexed",
                index,
                len: self.len,
            });
        }
        if self.fail_at == Some(index) {
            return Err(DataError::Source(format!("cannot decode sample {index}")));
        }
        if self.panic_at == Some(index) {
            panic!("sample {index} is cursed");
        }
        Ok((Tensor::full(&[1, 2, 2], index as f32), index as i64))
    }
}

type Batch = (Tensor, Tensor);

fn labels(batch: &Batch) -> Vec<i64> {
    batch.1.to_vec::<i64>().unwrap()
}

/// Every batch's labels, for one epoch.
fn epoch_labels(loader: &DataLoader<Indexed>) -> Vec<Vec<i64>> {
    loader.iter().map(|b| labels(&b.unwrap())).collect()
}

fn loader(len: usize, batch: usize, workers: usize, seed: u64) -> DataLoader<Indexed> {
    DataLoader::builder(Indexed::new(len))
        .batch_size(batch)
        .shuffle(true)
        .seed(seed)
        .num_workers(workers)
        .build()
        .unwrap()
}

#[test]
fn batches_have_the_collated_shapes() {
    let l = loader(10, 4, 2, 0);
    assert_eq!(l.len(), 3);
    let batches: Vec<Batch> = l.iter().map(|b| b.unwrap()).collect();
    assert_eq!(batches[0].0.shape(), &[4, 1, 2, 2]);
    assert_eq!(batches[2].0.shape(), &[2, 1, 2, 2]);
    for (images, labels) in &batches {
        // The image of sample i is filled with i.
        let first_pixels: Vec<f32> = (0..images.shape()[0])
            .map(|k| images.get::<f32>(&[k as i64, 0, 1, 1]).unwrap())
            .collect();
        let labels: Vec<f32> = labels
            .to_vec::<i64>()
            .unwrap()
            .iter()
            .map(|&v| v as f32)
            .collect();
        assert_eq!(first_pixels, labels);
    }
}

#[test]
fn unshuffled_is_in_order() {
    let l = DataLoader::builder(Indexed::new(5))
        .batch_size(2)
        .build()
        .unwrap();
    assert_eq!(epoch_labels(&l), vec![vec![0, 1], vec![2, 3], vec![4]]);
}

#[test]
fn drop_last_drops_the_short_batch() {
    for (n, bs, drop_last, expected) in [
        (10, 3, false, 4),
        (10, 3, true, 3),
        (9, 3, true, 3),
        (2, 3, true, 0),
        (0, 3, false, 0),
    ] {
        let l = DataLoader::builder(Indexed::new(n))
            .batch_size(bs)
            .drop_last(drop_last)
            .num_workers(2)
            .build()
            .unwrap();
        assert_eq!(l.len(), expected, "n={n} bs={bs} drop_last={drop_last}");
        let batches = epoch_labels(&l);
        assert_eq!(batches.len(), expected);
        assert!(batches.iter().all(|b| !drop_last || b.len() == bs));
    }
}

#[test]
fn same_batches_for_any_number_of_workers() {
    let reference = epoch_labels(&loader(103, 8, 0, 42));
    for workers in [1, 3] {
        let l = loader(103, 8, workers, 42);
        assert_eq!(epoch_labels(&l), reference, "num_workers = {workers}");
    }
    // Contents too, not just labels.
    let a: Vec<Batch> = loader(20, 6, 0, 1).iter().map(|b| b.unwrap()).collect();
    let b: Vec<Batch> = loader(20, 6, 3, 1).iter().map(|b| b.unwrap()).collect();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0.to_vec::<f32>().unwrap(), y.0.to_vec::<f32>().unwrap());
    }
}

#[test]
fn epochs_differ_and_replay_with_the_same_seed() {
    let l = loader(50, 50, 2, 7);
    let e0 = epoch_labels(&l);
    let e1 = epoch_labels(&l);
    assert_ne!(e0, e1, "two epochs gave the same permutation");
    let again = loader(50, 50, 0, 7);
    assert_eq!(epoch_labels(&again), e0);
    assert_eq!(epoch_labels(&again), e1);
    assert_eq!(again.epoch(), 2);
    again.set_epoch(1);
    assert_eq!(epoch_labels(&again), e1);
    let other = loader(50, 50, 0, 8);
    assert_ne!(
        epoch_labels(&other),
        e0,
        "another seed gave the same permutation"
    );
}

#[test]
fn batch_size_zero_is_rejected() {
    let err = DataLoader::builder(Indexed::new(3))
        .batch_size(0)
        .build()
        .unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("batch_size"), "{err}");
}

#[test]
fn incompatible_options_are_rejected() {
    let batch_sampler = || BatchSampler::new(SequentialSampler::new(3), 2, false).unwrap();
    assert!(DataLoader::builder(Indexed::new(3))
        .batch_sampler(batch_sampler())
        .shuffle(true)
        .build()
        .is_err());
    assert!(DataLoader::builder(Indexed::new(3))
        .batch_sampler(batch_sampler())
        .batch_size(2)
        .build()
        .is_err());
    assert!(DataLoader::builder(Indexed::new(3))
        .sampler(SequentialSampler::new(3))
        .shuffle(true)
        .build()
        .is_err());
    assert!(DataLoader::builder(Indexed::new(3))
        .num_workers(2)
        .prefetch_factor(0)
        .build()
        .is_err());
}

#[test]
fn a_failing_get_is_yielded_as_that_batch_error() {
    for workers in [0, 1, 3] {
        let mut ds = Indexed::new(20);
        ds.fail_at = Some(9);
        let l = DataLoader::builder(ds)
            .batch_size(4)
            .num_workers(workers)
            .build()
            .unwrap();
        let results: Vec<Result<Batch>> = l.iter().collect();
        assert_eq!(results.len(), 5);
        for (k, r) in results.iter().enumerate() {
            match r {
                Err(e) => {
                    assert_eq!(k, 2, "batch 2 holds sample 9");
                    assert!(e.to_string().contains("sample 9"), "{e}");
                }
                Ok(b) => assert_eq!(labels(b)[0], 4 * k as i64),
            }
        }
        assert!(results[2].is_err());
    }
}

#[test]
fn an_out_of_range_index_is_an_error_not_a_panic() {
    let l = DataLoader::builder(Indexed::new(3))
        .sampler(vec![0, 1, 5])
        .batch_size(1)
        .num_workers(2)
        .build()
        .unwrap();
    let results: Vec<_> = l.iter().collect();
    assert!(results[0].is_ok() && results[1].is_ok());
    let err = results[2].as_ref().unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Index {
                index: 5,
                len: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_panicking_worker_becomes_an_error() {
    let mut ds = Indexed::new(8);
    ds.panic_at = Some(5);
    let l = DataLoader::builder(ds)
        .batch_size(2)
        .num_workers(2)
        .build()
        .unwrap();
    let results: Vec<_> = l.iter().collect();
    assert_eq!(results.len(), 4);
    let err = results[2].as_ref().unwrap_err();
    assert!(err.to_string().contains("cursed"), "{err}");
    assert!(results[3].is_ok(), "the other batches still load");
}

#[test]
fn prefetching_is_bounded() {
    let l = DataLoader::builder(Indexed::new(1000))
        .batch_size(1)
        .num_workers(2)
        .prefetch_factor(2)
        .build()
        .unwrap();
    let mut it = l.iter();
    assert_eq!(it.num_live_workers(), 2);
    it.next().unwrap().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    // One batch consumed, at most 2 * 2 more in flight.
    let gets = l.dataset().gets.load(Ordering::Relaxed);
    assert!(gets <= 5, "{gets} samples loaded");
    drop(it);
    let after_drop = l.dataset().gets.load(Ordering::Relaxed);
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(l.dataset().gets.load(Ordering::Relaxed), after_drop);
}

/// Counts the worker threads that touched a dataset and are still alive.
struct ThreadCounting {
    alive: Arc<AtomicUsize>,
}

struct ExitGuard(Arc<AtomicUsize>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

thread_local! {
    static GUARD: RefCell<Option<ExitGuard>> = const { RefCell::new(None) };
}

impl Dataset for ThreadCounting {
    type Item = Tensor;
    fn len(&self) -> usize {
        10_000
    }
    fn get(&self, index: usize) -> Result<Tensor> {
        GUARD.with(|g| {
            let mut g = g.borrow_mut();
            if g.is_none() {
                self.alive.fetch_add(1, Ordering::SeqCst);
                *g = Some(ExitGuard(Arc::clone(&self.alive)));
            }
        });
        Ok(Tensor::scalar(index as i64))
    }
}

#[test]
fn dropping_an_iterator_early_joins_its_workers() {
    let alive = Arc::new(AtomicUsize::new(0));
    let l = DataLoader::builder(ThreadCounting {
        alive: Arc::clone(&alive),
    })
    .batch_size(16)
    .num_workers(3)
    .build()
    .unwrap();
    for _ in 0..3 {
        let mut it = l.iter();
        let first = it.next().unwrap().unwrap();
        assert_eq!(first.shape(), &[16]);
        assert!(alive.load(Ordering::SeqCst) >= 1);
        drop(it);
        // Joined threads have run their thread-local destructors.
        assert_eq!(alive.load(Ordering::SeqCst), 0);
    }
    // A finished epoch has shut its workers down before the iterator is dropped.
    let mut it = l.iter();
    assert_eq!(it.by_ref().count(), 625);
    assert_eq!(it.num_live_workers(), 0);
    assert_eq!(alive.load(Ordering::SeqCst), 0);
}

#[test]
fn closures_collate_and_samplers_plug_in() {
    let weights = (0..10).map(|i| if i < 5 { 0.0 } else { 1.0 }).collect();
    let sampler = WeightedRandomSampler::new(weights, 40, true)
        .unwrap()
        .seed(3);
    let l = DataLoader::builder(Indexed::new(10))
        .sampler(sampler)
        .batch_size(8)
        .num_workers(2)
        .collate(|items: Vec<(Tensor, i64)>| -> Result<Vec<i64>> {
            Ok(items.into_iter().map(|(_, y)| y).collect())
        })
        .build()
        .unwrap();
    assert_eq!(l.len(), 5);
    let all: Vec<i64> = l.iter().flat_map(|b| b.unwrap()).collect();
    assert_eq!(all.len(), 40);
    assert!(
        all.iter().all(|&y| y >= 5),
        "zero-weight samples drawn: {all:?}"
    );
}

#[test]
fn a_batch_sampler_drives_the_batches() {
    let bs = BatchSampler::new(SequentialSampler::new(7), 3, true).unwrap();
    let l = DataLoader::builder(Indexed::new(7))
        .batch_sampler(bs)
        .num_workers(1)
        .build()
        .unwrap();
    assert_eq!(l.batch_size(), None);
    assert_eq!(epoch_labels(&l), vec![vec![0, 1, 2], vec![3, 4, 5]]);
}

#[test]
fn the_iterator_knows_its_length() {
    let l = loader(10, 3, 2, 0);
    let mut it = l.iter();
    assert_eq!(it.len(), 4);
    it.next();
    assert_eq!(it.len(), 3);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_index_once_per_shuffled_epoch(
        n in 0usize..120,
        bs in 1usize..17,
        workers in 0usize..4,
        seed: u64,
    ) {
        let l = loader(n, bs, workers, seed);
        for _epoch in 0..2 {
            let batches = epoch_labels(&l);
            prop_assert_eq!(batches.len(), l.len());
            prop_assert!(batches.iter().all(|b| b.len() <= bs));
            let mut all: Vec<i64> = batches.concat();
            all.sort_unstable();
            prop_assert_eq!(all, (0..n as i64).collect::<Vec<_>>());
        }
    }

    #[test]
    fn worker_count_never_changes_the_batches(
        n in 1usize..80,
        bs in 1usize..9,
        workers in 1usize..4,
        drop_last: bool,
        seed: u64,
    ) {
        let build = |w| DataLoader::builder(Indexed::new(n))
            .batch_size(bs)
            .shuffle(true)
            .drop_last(drop_last)
            .seed(seed)
            .num_workers(w)
            .build()
            .unwrap();
        prop_assert_eq!(epoch_labels(&build(0)), epoch_labels(&build(workers)));
    }
}

#[test]
fn loaders_and_iterators_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<DataLoader<Indexed>>();
    send::<torchlet_data::DataLoaderIter<Batch>>();
}

/// Sample `i` is 3 numbers from the default generator (a random
/// augmentation written with `Tensor::rand`).
struct Noisy;

impl Dataset for Noisy {
    type Item = Tensor;

    fn len(&self) -> usize {
        16
    }

    fn get(&self, _i: usize) -> Result<Tensor> {
        Ok(Tensor::rand(&[3]))
    }
}

#[test]
fn random_draws_in_workers_repeat_from_run_to_run() {
    use torchlet_tensor::{use_thread_generator, Generator};
    let run = |workers: usize| -> Vec<Vec<f32>> {
        // This thread's own generator: other tests draw from the process's.
        let _own = use_thread_generator(Generator::new(7));
        let loader = DataLoader::builder(Noisy)
            .batch_size(2)
            .num_workers(workers)
            .build()
            .unwrap();
        loader
            .iter()
            .map(|b| b.unwrap().to_vec::<f32>().unwrap())
            .collect()
    };
    for workers in [0, 1, 3] {
        let first = run(workers);
        for _ in 0..5 {
            assert_eq!(run(workers), first, "{workers} workers");
        }
        // Every batch drew its own numbers.
        for (k, b) in first.iter().enumerate() {
            assert!(first[..k].iter().all(|a| a != b), "batch {k} repeats");
        }
    }
    // With workers, the numbers do not depend on how many (each batch has
    // a generator of its own, whichever worker loads it).
    assert_eq!(run(1), run(3));
}
