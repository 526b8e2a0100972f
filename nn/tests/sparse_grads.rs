//! `Embedding` and `EmbeddingBag` with `sparse(true)`: the weight's
//! gradient holds only the looked-up rows, and densified it equals the
//! dense gradient.

use torchlet_autograd::Variable;
use torchlet_nn::{BagMode, Embedding, EmbeddingBag, Module};
use torchlet_tensor::{manual_seed, Tensor};

fn dense_grad(w: &Variable) -> Vec<f32> {
    w.grad().unwrap().to_vec::<f32>().unwrap()
}

#[test]
fn sparse_embedding_gradient_equals_the_dense_one_on_its_rows() {
    manual_seed(3);
    let dense = Embedding::with_padding(20, 5, Some(2)).unwrap();
    let sparse = Embedding::from_pretrained(dense.weight().data(), false, Some(2), None, 2.0)
        .unwrap()
        .sparse(true);
    let idx = Tensor::from_vec(vec![4i64, 2, 7, 4, 19, 2], &[2, 3]).unwrap();
    let seed = Tensor::randn(&[2, 3, 5]);
    for emb in [&dense, &sparse] {
        let y = emb.forward(&Variable::constant(idx.clone())).unwrap();
        y.backward_with(&seed).unwrap();
    }
    let g = sparse.weight().sparse_grad().expect("a sparse gradient");
    // Four lookups: the two of padding row 2 are left out.
    assert_eq!(g.indices().to_vec::<i64>().unwrap(), [4, 7, 4, 19]);
    assert_eq!(g.values().shape(), [4, 5]);
    let want = dense_grad(dense.weight());
    let got = dense_grad(sparse.weight());
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

#[test]
fn sparse_embedding_gradients_accumulate_sparsely() {
    let emb = Embedding::new(10, 3).unwrap().sparse(true);
    for rows in [vec![1i64, 2], vec![2, 8]] {
        let idx = Tensor::from_vec(rows, &[2]).unwrap();
        emb.forward(&Variable::constant(idx))
            .unwrap()
            .sum()
            .backward()
            .unwrap();
    }
    let g = emb
        .weight()
        .sparse_grad()
        .expect("still sparse after two backwards");
    assert_eq!(g.nnz(), 4);
    let dense = dense_grad(emb.weight());
    let row = |r: usize| dense[r * 3..(r + 1) * 3].to_vec();
    assert_eq!(row(2), [2.0, 2.0, 2.0]);
    assert_eq!(row(0), [0.0, 0.0, 0.0]);
}

#[test]
fn sparse_embedding_bag_matches_dense_and_leaves_out_fillers() {
    manual_seed(5);
    for mode in [BagMode::Sum, BagMode::Mean] {
        let dense = EmbeddingBag::with_padding(12, 4, mode, Some(0)).unwrap();
        let sparse = EmbeddingBag::with_padding(12, 4, mode, Some(0))
            .unwrap()
            .sparse(true);
        sparse.weight().set_data(dense.weight().data()).unwrap();
        // Bags of lengths 3, 1 and 2 (one padding entry): the short bags
        // are padded with fillers internally.
        let input = Tensor::from_vec(vec![3i64, 5, 3, 9, 0, 11], &[6]).unwrap();
        let offsets = Tensor::from_vec(vec![0i64, 3, 4], &[3]).unwrap();
        let seed = Tensor::randn(&[3, 4]);
        for bag in [&dense, &sparse] {
            let y = bag.forward_bags(&input, Some(&offsets), None).unwrap();
            y.backward_with(&seed).unwrap();
        }
        let g = sparse.weight().sparse_grad().expect("a sparse gradient");
        assert_eq!(
            g.indices().to_vec::<i64>().unwrap(),
            [3, 5, 3, 9, 11],
            "{mode:?}"
        );
        for (a, b) in dense_grad(sparse.weight())
            .iter()
            .zip(dense_grad(dense.weight()))
        {
            assert!((a - b).abs() < 1e-6, "{mode:?}: {a} vs {b}");
        }
    }
}

#[test]
fn sparse_max_bags_are_refused() {
    let bag = EmbeddingBag::new(5, 2, BagMode::Max).unwrap().sparse(true);
    let err = bag
        .forward(&Variable::constant(
            Tensor::from_vec(vec![1i64, 2], &[1, 2]).unwrap(),
        ))
        .unwrap_err();
    assert!(
        err.to_string().contains("not supported with mode Max"),
        "{err}"
    );
}
