//! DistributedSampler against PyTorch's (`tests/data/sampler_cases.json`,
//! made by `scripts/make_sampler_cases.py`): the same indices for every
//! length, rank count, rank, seed, epoch and flag in the file.

use serde::Deserialize;
use torchlet_data::Sampler;
use torchlet_distributed::DistributedSampler;

#[derive(Deserialize)]
struct Case {
    len: usize,
    num_replicas: usize,
    rank: usize,
    shuffle: bool,
    drop_last: bool,
    seed: u64,
    epoch: u64,
    indices: Vec<usize>,
    num_samples: usize,
}

#[derive(Deserialize)]
struct Cases {
    samplers: Vec<Case>,
}

fn cases() -> Cases {
    let path = std::env::var("SAMPLER_CASES").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sampler_cases.json").to_string()
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn indices_are_pytorchs() {
    let cases = cases();
    assert!(cases.samplers.len() >= 100);
    for c in &cases.samplers {
        let mut s = DistributedSampler::new(c.len, c.num_replicas, c.rank)
            .unwrap()
            .shuffle(c.shuffle)
            .seed(c.seed)
            .drop_last(c.drop_last);
        let what = format!(
            "len {} replicas {} rank {} shuffle {} drop_last {} seed {} epoch {}",
            c.len, c.num_replicas, c.rank, c.shuffle, c.drop_last, c.seed, c.epoch
        );
        assert_eq!(s.indices(c.epoch), c.indices, "{what}");
        assert_eq!(s.len(), c.num_samples, "{what}");
        s.set_epoch(c.epoch);
        assert_eq!(s.epoch_indices(), c.indices, "{what}");
    }
    // (The file's randperm cases are checked by the crate's unit tests.)
}

#[test]
fn bad_ranks_are_refused() {
    let e = DistributedSampler::new(10, 2, 2).unwrap_err().to_string();
    assert!(
        e.contains("invalid rank 2, rank should be in the interval [0, 1]"),
        "{e}"
    );
    assert!(DistributedSampler::new(10, 0, 0).is_err());
}
