//! The trainer on data-parallel ranks (`Trainer::distributed`, the
//! `Local` backend): 2 ranks with a half batch each train to one
//! process's weights and report the same whole-run metrics.

use torchlet_distributed::{spawn, DistError, DistributedDataParallel};
use torchlet_nn::{Linear, Module, ReLU, Sequential};
use torchlet_optim::{Sgd, SgdOptions};
use torchlet_tensor::{Generator, Tensor};
use torchlet_train::{BatchSource, EpochMetrics, IndexBatches, Progress, Trainer};

type Fetch = Box<dyn Fn(&[usize]) -> torchlet_tensor::Result<(Tensor, Tensor)> + Send + Sync>;

/// 250 points of a 3-class problem (its own generator: ranks run in
/// parallel with the other tests).
fn data() -> (Tensor, Tensor) {
    let mut g = Generator::new(11);
    let x = Tensor::randn_with(&[250, 2], &mut g);
    let y = Tensor::randint_with(0, 3, &[250], &mut g).unwrap();
    (x, y)
}

fn source(batch: usize, shard: Option<(usize, usize)>) -> IndexBatches<Fetch> {
    let (x, y) = data();
    let fetch: Fetch = Box::new(move |idx: &[usize]| {
        let idx = Tensor::from_vec(idx.iter().map(|&i| i as i64).collect(), &[idx.len()])?;
        Ok((x.index_select(0, &idx)?, y.index_select(0, &idx)?))
    });
    let s = IndexBatches::new(250, batch, fetch).shuffle(true).seed(5);
    match shard {
        Some((rank, world)) => s.shard(rank, world),
        None => s,
    }
}

fn model() -> Sequential {
    let m = Sequential::new()
        .append(Linear::new(2, 16).unwrap())
        .append(ReLU)
        .append(Linear::new(16, 3).unwrap());
    let mut g = Generator::new(3);
    for p in m.parameters() {
        p.set_data(Tensor::randn_with(&p.shape(), &mut g).mul_scalar(0.5))
            .unwrap();
    }
    m
}

fn sgd(m: &dyn Module) -> Sgd {
    let o = SgdOptions {
        lr: 0.05,
        momentum: 0.9,
        ..SgdOptions::default()
    };
    Sgd::new(m.parameters(), o).unwrap()
}

fn values(m: &dyn Module) -> Vec<f32> {
    m.parameters()
        .iter()
        .flat_map(|p| p.data().to_vec::<f32>().unwrap())
        .collect()
}

#[test]
fn shards_split_each_epoch_evenly_with_padding() {
    let whole = source(10, None);
    for epoch in 0..3 {
        let order = whole.indices(epoch);
        let parts: Vec<Vec<usize>> = (0..3)
            .map(|r| source(10, Some((r, 3))).indices(epoch))
            .collect();
        // 250 over 3 ranks: 84 each, the first 2 indices repeated.
        for (r, p) in parts.iter().enumerate() {
            assert_eq!(p.len(), 84);
            let want: Vec<usize> = (0..84).map(|k| order[(r + 3 * k) % 250]).collect();
            assert_eq!(p, &want);
        }
        assert_eq!(source(10, Some((1, 3))).num_batches(), Some(9));
    }
}

#[test]
fn two_ranks_train_like_one_process_and_agree_on_metrics() {
    let single = model();
    let mut opt = sgd(&single);
    let history = Trainer::new(3)
        .progress(Progress::Hidden)
        .fit(
            &single,
            &mut opt,
            &source(50, None),
            Some(&source(64, None)),
        )
        .unwrap();
    // Rank r's batch b holds every other sample of the single run's
    // batch b: together, the same 50.
    let ranks = spawn(
        2,
        |pg| -> Result<(Vec<f32>, Vec<EpochMetrics>), DistError> {
            let rank = pg.rank();
            let ddp = DistributedDataParallel::new(model(), &pg)?;
            let mut opt = sgd(&ddp);
            let h = Trainer::new(3)
                .progress(Progress::Hidden)
                .distributed(pg)
                .fit(
                    &ddp,
                    &mut opt,
                    &source(25, Some((rank, 2))),
                    Some(&source(64, Some((rank, 2)))),
                )
                .map_err(|e| DistError::Backend {
                    op: "fit",
                    message: e.to_string(),
                })?;
            Ok((values(&ddp), h.epochs))
        },
    )
    .unwrap();
    assert_eq!(ranks[0].0, ranks[1].0, "the ranks' weights differ");
    for (a, b) in ranks[0].1.iter().zip(&ranks[1].1) {
        assert_eq!(
            (a.train_loss, a.train_acc, a.samples),
            (b.train_loss, b.train_acc, b.samples)
        );
        assert_eq!((a.eval_loss, a.eval_acc), (b.eval_loss, b.eval_acc));
    }
    for (a, b) in ranks[0].0.iter().zip(values(&single)) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // The metrics are the whole run's: 125 samples per rank.
    for (d, one) in ranks[0].1.iter().zip(&history.epochs) {
        assert_eq!(d.samples, 250);
        assert!(
            (d.train_loss - one.train_loss).abs() < 1e-5,
            "{d:?} vs {one:?}"
        );
        assert_eq!(d.train_acc, one.train_acc);
        assert!((d.eval_loss.unwrap() - one.eval_loss.unwrap()).abs() < 1e-5);
        assert_eq!(d.eval_acc, one.eval_acc);
    }
}
