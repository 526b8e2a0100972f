//! Padding, masks, lengths, collate and the bucketing sampler.

use proptest::prelude::*;
use torchlet_data::{BatchSampler, BatchSampling, Collate, DataLoader, RandomSampler};
use torchlet_tensor::DType;
use torchlet_text::{
    add_bos_eos, pad_batch, truncate_pad, BasicEnglish, BucketBatchSampler, Fortunes, PadCollate,
    VocabOptions,
};

#[test]
fn pad_batch_values_mask_and_lengths() {
    let b = pad_batch(&[vec![4, 5], vec![], vec![6, 7, 8, 9]], 1, None).unwrap();
    assert_eq!(b.tokens.shape(), [3, 4]);
    assert_eq!(b.tokens.dtype(), DType::I64);
    assert_eq!(
        b.tokens.to_vec::<i64>().unwrap(),
        [4, 5, 1, 1, 1, 1, 1, 1, 6, 7, 8, 9]
    );
    assert_eq!(b.lengths.dtype(), DType::I64);
    assert_eq!(b.lengths.to_vec::<i64>().unwrap(), [2, 0, 4]);
    assert_eq!(b.lengths_vec(), [2, 0, 4]);
    assert_eq!(b.padding_mask.dtype(), DType::Bool);
    let (f, t) = (false, true);
    assert_eq!(
        b.padding_mask.to_vec::<bool>().unwrap(),
        [f, f, t, t, t, t, t, t, f, f, f, f]
    );
    assert_eq!(
        b.token_mask().to_vec::<f32>().unwrap(),
        [1., 1., 0., 0., 0., 0., 0., 0., 1., 1., 1., 1.]
    );
    assert_eq!((b.batch_size(), b.max_len(), b.pad_index), (3, 4, 1));
}

#[test]
fn pad_batch_truncates_and_rejects_empty() {
    let b = pad_batch(&[vec![4, 5, 6], vec![7]], 0, Some(2)).unwrap();
    assert_eq!(b.tokens.to_vec::<i64>().unwrap(), [4, 5, 7, 0]);
    assert_eq!(b.lengths.to_vec::<i64>().unwrap(), [2, 1]);
    let b = pad_batch(&[Vec::<i64>::new(), vec![]], 1, None).unwrap();
    assert_eq!(b.tokens.shape(), [2, 0]);
    let err = pad_batch(&Vec::<Vec<i64>>::new(), 1, None).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn truncate_pad_and_bos_eos() {
    assert_eq!(truncate_pad(&[], 3, 1), [1, 1, 1]);
    assert_eq!(truncate_pad(&[9, 8, 7, 6], 0, 1), Vec::<i64>::new());
    assert_eq!(truncate_pad(&[9, 8], 2, 1), [9, 8]);
    assert_eq!(add_bos_eos(&[], Some(2), Some(3)), [2, 3]);
    assert_eq!(add_bos_eos(&[5], None, None), [5]);
}

#[test]
fn pad_collate_sequences_only() {
    let batch = PadCollate::new(0)
        .collate(vec![vec![3i64], vec![4, 5]])
        .unwrap();
    assert_eq!(batch.tokens.to_vec::<i64>().unwrap(), [3, 0, 4, 5]);
}

#[test]
fn loader_with_bucketing_over_fortunes() {
    let data = Fortunes::embedded().unwrap();
    let vocab = data
        .train
        .build_vocab(&BasicEnglish, VocabOptions::default())
        .unwrap();
    let train = data.train.encode(&BasicEnglish, &vocab).unwrap();
    let lengths = train.lengths();
    let sampler = BucketBatchSampler::new(lengths.clone(), 32)
        .unwrap()
        .pool_batches(10)
        .seed(7);
    let pad = vocab.pad_index().unwrap();
    let loader = DataLoader::builder(train)
        .batch_sampler(sampler)
        .collate(PadCollate::new(pad))
        .num_workers(2)
        .build()
        .unwrap();
    assert_eq!(loader.len(), 2194usize.div_ceil(32));
    let (mut seen, mut padded, mut real) = (0, 0, 0);
    for batch in &loader {
        let (b, labels) = batch.unwrap();
        let n = b.batch_size();
        assert_eq!(labels.shape(), [n]);
        assert!(labels
            .to_vec::<i64>()
            .unwrap()
            .iter()
            .all(|&l| (0..4).contains(&l)));
        let lens = b.lengths_vec();
        assert_eq!(b.max_len(), *lens.iter().max().unwrap());
        let tokens = b.tokens.to_vec::<i64>().unwrap();
        for (row, &len) in lens.iter().enumerate() {
            let row = &tokens[row * b.max_len()..(row + 1) * b.max_len()];
            assert!(row[len..].iter().all(|&t| t == pad as i64));
            assert!(row[..len].iter().all(|&t| t != pad as i64));
        }
        seen += n;
        padded += n * b.max_len();
        real += lens.iter().sum::<usize>();
    }
    assert_eq!(seen, 2194);
    let total: usize = lengths.iter().sum();
    assert_eq!(real, total);
    // Bucketing keeps padding small: a fraction of random batching's.
    let random = BatchSampler::new(RandomSampler::new(lengths.len()).seed(7), 32, false).unwrap();
    let random_padded: usize = random
        .batches(0)
        .iter()
        .map(|b| b.len() * b.iter().map(|&i| lengths[i]).max().unwrap())
        .sum();
    let (waste, random_waste) = (padded - real, random_padded - real);
    eprintln!("padding slots: bucketed {waste}, random {random_waste} ({real} tokens)");
    assert!(
        waste * 4 < random_waste,
        "bucketed {waste} vs random {random_waste}"
    );
}

fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v
}

#[test]
fn bucket_batches_group_similar_lengths() {
    // 200 sequences of lengths 0..200 (shuffled by index), one pool: every
    // batch of 10 spans a range of exactly 9 lengths.
    let lengths: Vec<usize> = (0..200).map(|i| (i * 37) % 200).collect();
    let s = BucketBatchSampler::new(lengths.clone(), 10)
        .unwrap()
        .pool_batches(20)
        .seed(1);
    for batch in s.batches(0) {
        let ls: Vec<usize> = batch.iter().map(|&i| lengths[i]).collect();
        assert_eq!(ls.iter().max().unwrap() - ls.iter().min().unwrap(), 9);
    }
    assert_ne!(s.batches(0), s.batches(1));
    assert_ne!(s.batches(0), s.clone().seed(2).batches(0));
}

#[test]
fn bucket_drop_last_and_errors() {
    let s = BucketBatchSampler::new(vec![1; 10], 4)
        .unwrap()
        .drop_last(true);
    let batches = s.batches(3);
    assert_eq!(batches.len(), 2);
    assert_eq!(s.len(), 2);
    assert!(batches.iter().all(|b| b.len() == 4));
    assert!(BucketBatchSampler::new(vec![1, 2], 0).is_err());
    let empty = BucketBatchSampler::new(vec![], 4).unwrap();
    assert!(empty.batches(0).is_empty() && empty.is_empty());
}

proptest! {
    #[test]
    fn bucket_sampler_covers_each_index_once(
        lengths in proptest::collection::vec(0usize..50, 0..300),
        batch_size in 1usize..20,
        pool in 1usize..8,
        seed: u64,
        epoch in 0u64..100,
        shuffle: bool,
    ) {
        let s = BucketBatchSampler::new(lengths.clone(), batch_size)
            .unwrap()
            .pool_batches(pool)
            .shuffle(shuffle)
            .seed(seed);
        let batches = s.batches(epoch);
        prop_assert_eq!(&batches, &s.batches(epoch));
        prop_assert_eq!(batches.len(), s.len());
        prop_assert_eq!(sorted(batches.concat()), (0..lengths.len()).collect::<Vec<_>>());
        let short = batches.iter().filter(|b| b.len() < batch_size).count();
        prop_assert!(short <= 1);
        prop_assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= batch_size));
    }
}

proptest! {
    #[test]
    fn pad_batch_invariants(
        seqs in proptest::collection::vec(proptest::collection::vec(2i64..100, 0..12), 1..10),
        max_len in proptest::option::of(0usize..8),
    ) {
        let b = pad_batch(&seqs, 1, max_len).unwrap();
        let t = b.max_len();
        let tokens = b.tokens.to_vec::<i64>().unwrap();
        let mask = b.padding_mask.to_vec::<bool>().unwrap();
        for (row, seq) in seqs.iter().enumerate() {
            let len = max_len.map_or(seq.len(), |m| seq.len().min(m));
            prop_assert_eq!(b.lengths_vec()[row], len);
            prop_assert_eq!(&tokens[row * t..row * t + len], &seq[..len]);
            prop_assert!(tokens[row * t + len..(row + 1) * t].iter().all(|&x| x == 1));
            for k in 0..t {
                prop_assert_eq!(mask[row * t + k], k >= len);
            }
        }
    }
}
