//! Building, checking, converting and printing sparse tensors, and the
//! forward results of the products against dense references.

use proptest::prelude::*;
use torchlet_autograd::Variable;
use torchlet_sparse::{
    sparse_coo_tensor, sparse_csc_tensor, sparse_csr_tensor, SparseLayout, SparseTensor, ToSparse,
};
use torchlet_tensor::{manual_seed, set_num_threads, DType, Tensor};

fn t64(v: Vec<i64>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(v, shape).unwrap()
}

fn f32s(v: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(v, shape).unwrap()
}

fn err_text(r: Result<SparseTensor, torchlet_sparse::SparseError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn display_matches_pytorch() {
    let a = f32s(vec![0.0, 1.0, 2.0, 0.0], &[2, 2]);
    assert_eq!(
        a.to_sparse().unwrap().to_string(),
        "tensor(indices=tensor([[0, 1],\n                       [1, 0]]),\n       values=tensor([1., 2.]),\n       size=(2, 2), nnz=2, layout=torch.sparse_coo)"
    );
    assert_eq!(
        a.to_sparse_csr().unwrap().to_string(),
        "tensor(crow_indices=tensor([0, 1, 2]),\n       col_indices=tensor([1, 0]),\n       values=tensor([1., 2.]), size=(2, 2), nnz=2, layout=torch.sparse_csr)"
    );
    assert_eq!(
        a.to_sparse_csc().unwrap().to_string(),
        "tensor(ccol_indices=tensor([0, 1, 2]),\n       row_indices=tensor([1, 0]),\n       values=tensor([2., 1.]), size=(2, 2), nnz=2, layout=torch.sparse_csc)"
    );
    let leaf = a.to_sparse().unwrap().requires_grad_();
    assert!(leaf
        .to_string()
        .ends_with("layout=torch.sparse_coo, requires_grad=True)"));
    let v = f32s(vec![0.0, 3.0, 0.0], &[3]).to_sparse().unwrap();
    assert!(v.to_string().contains("size=(3,), nnz=1"), "{v}");
}

#[test]
fn coalesce_sorts_and_sums_repeats() {
    let s = sparse_coo_tensor(
        &t64(vec![1, 0, 1, 1, 2, 0, 2, 0], &[2, 4]),
        f32s(vec![1.0, 2.0, 3.0, 4.0], &[4]),
        &[2, 3],
    )
    .unwrap();
    assert!(!s.is_coalesced());
    let c = s.coalesce().unwrap();
    assert!(c.is_coalesced());
    assert_eq!(
        c.indices().unwrap().to_vec::<i64>().unwrap(),
        [0, 1, 1, 0, 0, 2]
    );
    assert_eq!(c.values().to_vec::<f32>().unwrap(), [2.0, 4.0, 4.0]);
    assert_eq!(
        s.to_dense().unwrap().to_vec::<f32>().unwrap(),
        c.to_dense().unwrap().to_vec::<f32>().unwrap()
    );
}

#[test]
fn layouts_convert_both_ways() {
    manual_seed(11);
    let mut d = Tensor::randn(&[5, 7]).to_vec::<f32>().unwrap();
    d.iter_mut()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .for_each(|(_, v)| *v = 0.0);
    let d = f32s(d, &[5, 7]);
    let want = d.to_vec::<f32>().unwrap();
    let coo = d.to_sparse().unwrap();
    let csr = d.to_sparse_csr().unwrap();
    let csc = d.to_sparse_csc().unwrap();
    assert_eq!(
        (coo.layout(), csr.layout(), csc.layout()),
        (SparseLayout::Coo, SparseLayout::Csr, SparseLayout::Csc)
    );
    for s in [
        &coo,
        &csr,
        &csc,
        &csr.to_sparse_csc().unwrap(),
        &csc.to_sparse_csr().unwrap(),
        &csc.to_sparse_coo().unwrap(),
    ] {
        assert_eq!(s.to_dense().unwrap().to_vec::<f32>().unwrap(), want);
        assert_eq!(s.nnz(), want.iter().filter(|&&v| v != 0.0).count());
    }
    // t() flips CSR to CSC on the same arrays.
    let t = csr.t().unwrap();
    assert_eq!(t.layout(), SparseLayout::Csc);
    assert_eq!(
        t.to_dense().unwrap().to_vec::<f32>().unwrap(),
        d.t().unwrap().contiguous().to_vec::<f32>().unwrap()
    );
    // A rebuilt CSR tensor from its own parts is the same matrix.
    let again = sparse_csr_tensor(
        &csr.crow_indices().unwrap(),
        &csr.col_indices().unwrap(),
        csr.values().data(),
        &[5, 7],
    )
    .unwrap();
    assert_eq!(again.to_dense().unwrap().to_vec::<f32>().unwrap(), want);
    let again = sparse_csc_tensor(
        &csc.ccol_indices().unwrap(),
        &csc.row_indices().unwrap(),
        csc.values().data(),
        &[5, 7],
    )
    .unwrap();
    assert_eq!(again.to_dense().unwrap().to_vec::<f32>().unwrap(), want);
}

#[test]
fn hybrid_coo_keeps_dense_trailing_dims() {
    let d = f32s(vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0], &[4, 2]);
    let s = d.to_sparse_dims(1).unwrap();
    assert_eq!((s.sparse_dim(), s.dense_dim(), s.nnz()), (1, 1, 2));
    assert_eq!(s.values().shape(), [2, 2]);
    assert_eq!(
        s.to_dense().unwrap().to_vec::<f32>().unwrap(),
        d.to_vec::<f32>().unwrap()
    );
    let picked = s.index_select(0, &t64(vec![3, 1, 3], &[3])).unwrap();
    assert_eq!(
        picked.to_dense().unwrap().to_vec::<f32>().unwrap(),
        [0.0, 2.0, 1.0, 0.0, 0.0, 2.0]
    );
    assert!(
        s.to_sparse_csr().is_err(),
        "a hybrid tensor has no CSR form here"
    );
}

#[test]
fn products_match_dense_references_in_every_layout() {
    manual_seed(12);
    let mut d = Tensor::randn(&[9, 6]).to_vec::<f32>().unwrap();
    d.iter_mut()
        .enumerate()
        .filter(|(i, _)| i % 4 != 1)
        .for_each(|(_, v)| *v = 0.0);
    let a = f32s(d, &[9, 6]);
    let b = Tensor::randn(&[6, 37]); // wider than one register block
    let want = a.matmul(&b).unwrap().to_vec::<f32>().unwrap();
    let c = Tensor::randn(&[4, 9]);
    let want_r = c.matmul(&a).unwrap().to_vec::<f32>().unwrap();
    for s in [
        a.to_sparse().unwrap(),
        a.to_sparse_csr().unwrap(),
        a.to_sparse_csc().unwrap(),
    ] {
        let got = s
            .mm(&Variable::constant(b.clone()))
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        let got_r = s
            .rmm(&Variable::constant(c.clone()))
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        for (x, y) in got.iter().zip(&want).chain(got_r.iter().zip(&want_r)) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }
    let sq = a.t().unwrap().contiguous().to_sparse().unwrap();
    let prod = a
        .to_sparse()
        .unwrap()
        .mm_sparse(&sq)
        .unwrap()
        .to_dense()
        .unwrap();
    let want = a.matmul(&a.t().unwrap()).unwrap();
    for (x, y) in prod
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .zip(want.to_vec::<f32>().unwrap())
    {
        assert!((x - y).abs() < 1e-4);
    }
}

#[test]
fn products_do_not_depend_on_the_thread_count() {
    manual_seed(13);
    let n = 3000;
    // A skewed pattern: row 0 holds a third of the entries.
    let mut idx = [Vec::new(), Vec::new()];
    for k in 0..30000i64 {
        let r = if k % 3 == 0 { 0 } else { (k * 7919) % n };
        idx[0].push(r);
        idx[1].push((k * 104729) % n);
    }
    let nnz = idx[0].len();
    let indices = t64(idx.concat(), &[2, nnz]);
    let s = sparse_coo_tensor(&indices, Tensor::randn(&[nnz]), &[n as usize, n as usize])
        .unwrap()
        .coalesce()
        .unwrap()
        .requires_grad_();
    let b = Variable::parameter(Tensor::randn(&[n as usize, 48]));
    let run = |threads| {
        set_num_threads(threads);
        let y = s.mm(&b).unwrap();
        s.zero_grad();
        b.zero_grad();
        y.backward_with(&Tensor::ones(&[n as usize, 48])).unwrap();
        (
            y.to_vec::<f32>().unwrap(),
            s.grad().unwrap().values().to_vec::<f32>().unwrap(),
            b.grad().unwrap().to_vec::<f32>().unwrap(),
        )
    };
    let one = run(1);
    let two = run(2);
    let three = run(3);
    set_num_threads(2);
    assert!(
        one == two && two == three,
        "results differ between thread counts"
    );
}

#[test]
fn invariant_violations_name_the_op_and_the_value() {
    let v = f32s(vec![1.0, 2.0], &[2]);
    let e = err_text(sparse_coo_tensor(
        &t64(vec![0, 5, 1, 1], &[2, 2]),
        v.clone(),
        &[3, 3],
    ));
    assert!(
        e.contains("sparse_coo_tensor") && e.contains("index 5") && e.contains("(0, 1)"),
        "{e}"
    );
    let e = err_text(sparse_coo_tensor(
        &t64(vec![0, -1, 1, 1], &[2, 2]),
        v.clone(),
        &[3, 3],
    ));
    assert!(e.contains("index -1"), "{e}");
    let e = err_text(sparse_coo_tensor(
        &t64(vec![0, 1, 1, 1], &[2, 2]),
        f32s(vec![1.0; 3], &[3]),
        &[3, 3],
    ));
    assert!(
        e.contains("values of shape [3]") && e.contains("nnz = 2"),
        "{e}"
    );
    let e = err_text(sparse_coo_tensor(
        &t64(vec![0, 1], &[1, 2]),
        t64(vec![1, 2], &[2]),
        &[3],
    ));
    assert!(e.contains("float32 or float64"), "{e}");
    let e = err_text(sparse_csr_tensor(
        &t64(vec![0, 2, 1], &[3]),
        &t64(vec![0, 1], &[2]),
        v.clone(),
        &[2, 2],
    ));
    assert!(
        e.contains("non-decreasing") && e.contains("crow_indices[2] = 1"),
        "{e}"
    );
    let e = err_text(sparse_csr_tensor(
        &t64(vec![1, 1, 2], &[3]),
        &t64(vec![0, 1], &[2]),
        v.clone(),
        &[2, 2],
    ));
    assert!(e.contains("crow_indices[0] must be 0"), "{e}");
    let e = err_text(sparse_csr_tensor(
        &t64(vec![0, 1, 3], &[3]),
        &t64(vec![0, 1], &[2]),
        v.clone(),
        &[2, 2],
    ));
    assert!(e.contains("must equal nnz = 2"), "{e}");
    let e = err_text(sparse_csr_tensor(
        &t64(vec![0, 2, 2], &[3]),
        &t64(vec![1, 0], &[2]),
        v.clone(),
        &[2, 2],
    ));
    assert!(e.contains("strictly increase"), "{e}");
    let e = err_text(sparse_csr_tensor(
        &t64(vec![0, 1, 2], &[3]),
        &t64(vec![0, 7], &[2]),
        v.clone(),
        &[2, 2],
    ));
    assert!(e.contains("col_indices[1] = 7"), "{e}");
    let e = err_text(sparse_csc_tensor(
        &t64(vec![0, 1], &[2]),
        &t64(vec![0, 1], &[2]),
        v,
        &[2, 2],
    ));
    assert!(e.contains("ccol_indices must have length 3"), "{e}");
}

#[test]
fn mismatched_operands_are_refused() {
    let a = f32s(vec![1.0, 0.0, 0.0, 1.0], &[2, 2]).to_sparse().unwrap();
    let wrong = Variable::constant(Tensor::ones(&[3, 2]));
    let e = a.mm(&wrong).unwrap_err().to_string();
    assert!(
        e.contains("sparse.mm") && e.contains("[2, 2]") && e.contains("[3, 2]"),
        "{e}"
    );
    let f64s = Variable::constant(Tensor::ones(&[2, 2]).to_dtype(DType::F64));
    assert!(a.mm(&f64s).unwrap_err().to_string().contains("dtype"));
    let csr = a.to_sparse_csr().unwrap();
    assert!(a.add(&csr).unwrap_err().to_string().contains("layouts"));
    let big = Tensor::ones(&[3, 3]).to_sparse().unwrap();
    assert!(a
        .add(&big)
        .unwrap_err()
        .to_string()
        .contains("do not match"));
    assert!(a
        .index_select(0, &t64(vec![2], &[1]))
        .unwrap_err()
        .to_string()
        .contains("index 2"));
    assert!(a.narrow(1, 1, 2).is_err());
}

proptest! {
    /// Random index arrays: either a valid tensor whose dense form adds
    /// up the values, or an error — never a panic or a bad read.
    #[test]
    fn random_coo_indices_never_panic(
        rows in 1usize..6, cols in 1usize..6,
        idx in proptest::collection::vec(-3i64..8, 0..24),
    ) {
        let nnz = idx.len() / 2;
        let indices = t64(idx[..2 * nnz].to_vec(), &[2, nnz]);
        let values = Tensor::ones(&[nnz]);
        match sparse_coo_tensor(&indices, values, &[rows, cols]) {
            Ok(s) => {
                let dense = s.to_dense().unwrap();
                prop_assert_eq!(dense.sum().item::<f32>().unwrap(), nnz as f32);
                let c = s.coalesce().unwrap();
                prop_assert_eq!(c.to_dense().unwrap().to_vec::<f32>().unwrap(), dense.to_vec::<f32>().unwrap());
                let csr = s.to_sparse_csr().unwrap();
                prop_assert_eq!(csr.to_dense().unwrap().to_vec::<f32>().unwrap(), dense.to_vec::<f32>().unwrap());
            }
            Err(e) => {
                let bad = idx[..2 * nnz].iter().enumerate().any(|(k, &i)| i < 0 || i as usize >= if k < nnz { rows } else { cols });
                prop_assert!(bad, "refused valid indices: {}", e);
            }
        }
    }

    /// Random compressed arrays: errors for every broken invariant.
    #[test]
    fn random_csr_arrays_never_panic(
        crow in proptest::collection::vec(-2i64..7, 1..6),
        col in proptest::collection::vec(-2i64..6, 0..7),
        cols in 1usize..6,
    ) {
        let rows = crow.len() - 1;
        let nnz = col.len();
        let r = sparse_csr_tensor(&t64(crow.clone(), &[crow.len()]), &t64(col.clone(), &[nnz]), Tensor::ones(&[nnz]), &[rows, cols]);
        let valid = crow[0] == 0
            && crow.windows(2).all(|w| w[0] <= w[1])
            && *crow.last().unwrap() == nnz as i64
            && (0..rows).all(|i| {
                let s = &col[crow[i] as usize..crow[i + 1] as usize];
                s.iter().all(|&j| j >= 0 && (j as usize) < cols) && s.windows(2).all(|w| w[0] < w[1])
            });
        prop_assert_eq!(r.is_ok(), valid);
        if let Ok(s) = r {
            prop_assert_eq!(s.to_dense().unwrap().sum().item::<f32>().unwrap(), nnz as f32);
        }
    }
}
