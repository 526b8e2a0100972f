//! PyTorch's exact results for the structure of sparse results: entry
//! order, `nnz`, coalesced flags, accepted and refused inputs, and the
//! printed form. Every expectation is what PyTorch 2.15 gives for the same
//! call (quoted next to it).

use torchlet_sparse::{sparse_coo_tensor, SparseTensor, ToSparse};
use torchlet_tensor::Tensor;

fn f32s(v: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(v, shape).unwrap()
}

fn t64(v: Vec<i64>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(v, shape).unwrap()
}

fn indices(s: &SparseTensor) -> Vec<i64> {
    s.indices().unwrap().to_vec::<i64>().unwrap()
}

fn values(s: &SparseTensor) -> Vec<f32> {
    s.values().data().to_vec::<f32>().unwrap()
}

/// `[[1, 0, 2], [0, 3, 0], [4, 0, 5]]`, coalesced COO.
fn three_by_three() -> SparseTensor {
    f32s(vec![1., 0., 2., 0., 3., 0., 4., 0., 5.], &[3, 3])
        .to_sparse()
        .unwrap()
}

/// Entries `(1, 0) = 1`, `(0, 0) = 2`, `(1, 0) = 3`: uncoalesced.
fn uncoalesced() -> SparseTensor {
    sparse_coo_tensor(
        &t64(vec![1, 0, 1, 0, 0, 0], &[2, 3]),
        f32s(vec![1., 2., 3.], &[3]),
        &[2, 2],
    )
    .unwrap()
}

#[test]
fn index_select_orders_entries_as_pytorch_does() {
    let x = three_by_three();
    // More picks (6) than entries (5): PyTorch lists entry by entry.
    let r = x
        .index_select(0, &t64(vec![2, 0, 1, 0, 2, 1], &[6]))
        .unwrap();
    assert_eq!(
        indices(&r),
        [1, 3, 1, 3, 2, 5, 0, 4, 0, 4, 0, 0, 2, 2, 1, 1, 0, 0, 2, 2]
    );
    assert_eq!(values(&r), [1., 1., 2., 2., 3., 3., 4., 4., 5., 5.]);
    // Fewer picks: pick by pick.
    let r = x.index_select(1, &t64(vec![2, 0], &[2])).unwrap();
    assert_eq!(indices(&r), [0, 2, 0, 2, 0, 0, 1, 1]);
    assert_eq!(values(&r), [2., 5., 1., 4.]);
}

#[test]
fn index_select_results_are_uncoalesced_from_two_entries() {
    // torch: is_coalesced() is False for any result with nnz >= 2, even
    // sorted ones, and True below.
    let x = three_by_three();
    assert!(!x
        .index_select(0, &t64(vec![0, 2], &[2]))
        .unwrap()
        .is_coalesced());
    assert!(x
        .index_select(0, &t64(vec![1], &[1]))
        .unwrap()
        .is_coalesced());
    let hybrid = f32s(vec![1., 0., 0., 3.], &[2, 2])
        .to_sparse_dims(1)
        .unwrap();
    let r = hybrid.index_select(1, &t64(vec![1], &[1])).unwrap();
    assert_eq!(r.nnz(), 2);
    assert!(!r.is_coalesced());
}

#[test]
fn index_select_wraps_negative_indices_on_sparse_dims() {
    // torch: x.index_select(0, tensor([-1])) selects row 2; -4 is out of range.
    let x = three_by_three();
    let r = x.index_select(0, &t64(vec![-1], &[1])).unwrap();
    assert_eq!((indices(&r), values(&r)), (vec![0, 0, 0, 2], vec![4., 5.]));
    let e = x
        .index_select(0, &t64(vec![-4], &[1]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("index_select") && e.contains("-4"), "{e}");
    // A dense dim is a dense index_select, which refuses negative indices.
    let hybrid = f32s(vec![1., 0., 0., 3.], &[2, 2])
        .to_sparse_dims(1)
        .unwrap();
    assert!(hybrid.index_select(1, &t64(vec![-1], &[1])).is_err());
}

#[test]
fn index_select_refuses_a_0_d_index_and_a_0_d_tensor() {
    // torch: "index_select() argument index must be 1-D strided (non-sparse)
    // long-tensor." and "index_select() cannot be applied to a 0-dim tensor."
    let e = three_by_three()
        .index_select(0, &Tensor::scalar(1i64))
        .unwrap_err()
        .to_string();
    assert!(e.contains("index_select") && e.contains("1-D"), "{e}");
    let scalar = Tensor::scalar(3.0f32).to_sparse().unwrap();
    let e = scalar
        .index_select(0, &t64(vec![0], &[1]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("0-dim"), "{e}");
}

#[test]
fn transpose_marks_a_coo_result_with_entries_uncoalesced() {
    // torch: x.to_sparse().t().is_coalesced() is False even for one entry.
    let one = f32s(vec![1., 0., 0., 0.], &[2, 2]).to_sparse().unwrap();
    assert!(one.is_coalesced());
    assert!(!one.t().unwrap().is_coalesced());
    assert!(!three_by_three().transpose(0, 1).unwrap().is_coalesced());
    // An empty tensor keeps its flag; swapping a dim with itself is a copy.
    let empty = Tensor::zeros(&[2, 3]).to_sparse().unwrap();
    assert!(empty.t().unwrap().is_coalesced());
    assert!(three_by_three().transpose(1, 1).unwrap().is_coalesced());
}

#[test]
fn t_takes_up_to_two_sparse_dims_and_no_dense_dims() {
    // torch: a 1-D sparse tensor's t() is itself.
    let v = f32s(vec![1., 0., 2.], &[3]).to_sparse().unwrap();
    let t = v.t().unwrap();
    assert_eq!((indices(&t), values(&t)), (vec![0, 2], vec![1., 2.]));
    assert!(t.is_coalesced());
    // torch: "t() expects a tensor with <= 2 sparse and 0 dense dimensions,
    // but got 2 sparse and 1 dense dimensions".
    let hybrid = Tensor::ones(&[2, 2, 3]).to_sparse_dims(2).unwrap();
    let e = hybrid.t().unwrap_err().to_string();
    assert!(
        e.contains("0 dense dimensions") && e.contains("1 dense"),
        "{e}"
    );
}

#[test]
fn narrow_keeps_entry_order_and_the_coalesced_flag() {
    // torch (narrow_copy): indices [[1, 0, 1], [0, 0, 0]], values [1, 2, 3],
    // is_coalesced() False, as the input.
    let r = uncoalesced().narrow(0, 0, 2).unwrap();
    assert_eq!(indices(&r), [1, 0, 1, 0, 0, 0]);
    assert_eq!(values(&r), [1., 2., 3.]);
    assert!(!r.is_coalesced());
    let r = three_by_three().narrow(1, 1, 2).unwrap();
    assert_eq!(
        (indices(&r), values(&r)),
        (vec![0, 1, 2, 1, 0, 1], vec![2., 3., 5.])
    );
    assert!(r.is_coalesced());
}

#[test]
fn narrow_refuses_ranges_past_the_end_without_overflowing() {
    let x = three_by_three();
    for (start, length) in [(5, i64::MAX as usize), (1, usize::MAX), (-1, 2), (-4, 1)] {
        let e = x.narrow(0, start, length).unwrap_err().to_string();
        assert!(e.contains("narrow") && e.contains("exceeds"), "{e}");
    }
    let scalar = Tensor::scalar(3.0f32).to_sparse().unwrap();
    assert!(scalar
        .narrow(0, 0, 1)
        .unwrap_err()
        .to_string()
        .contains("0-dim"));
}

#[test]
fn add_merges_entry_lists_as_pytorch_does() {
    let a = sparse_coo_tensor(
        &t64(vec![3, 1, 3], &[1, 3]),
        f32s(vec![1., 2., 3.], &[3, 1]),
        &[5, 1],
    )
    .unwrap();
    let b = sparse_coo_tensor(
        &t64(vec![0, 3], &[1, 2]),
        f32s(vec![10., 20.], &[2, 1]),
        &[5, 1],
    )
    .unwrap();
    // torch: a + b has indices [[0, 3, 1, 3]], values [10, 21, 2, 3], nnz 4,
    // is_coalesced() False.
    let c = a.add(&b).unwrap();
    assert_eq!(
        (indices(&c), values(&c)),
        (vec![0, 3, 1, 3], vec![10., 21., 2., 3.])
    );
    assert!(!c.is_coalesced());
    // Coalesced operands: the coalesced union, [[0, 1, 3]] with [10, 2, 24].
    let c = a.coalesce().unwrap().add(&b.coalesce().unwrap()).unwrap();
    assert_eq!(
        (indices(&c), values(&c)),
        (vec![0, 1, 3], vec![10., 2., 24.])
    );
    assert!(c.is_coalesced());
    // torch: with leaves, ((a + b) * 2).to_dense().sum().backward() gives
    // both a.grad and b.grad [[0, 1, 3]] with values 2 (each position once,
    // although the sum repeats position 3).
    let (la, lb) = (a.requires_grad_(), b.requires_grad_());
    let s = la.add(&lb).unwrap().mul_scalar(2.0).unwrap();
    s.to_dense_variable().unwrap().sum().backward().unwrap();
    for leaf in [&la, &lb] {
        let g = leaf.grad().unwrap();
        assert_eq!((indices(&g), values(&g)), (vec![0, 1, 3], vec![2., 2., 2.]));
    }
}

#[test]
fn sum_coalesces_an_uncoalesced_tensor_first() {
    // torch.sparse.sum of entries 1e8, 1, -1e8 at [0, 1, 0] is tensor(1.):
    // the repeats at 0 cancel before 1 is added.
    let s = sparse_coo_tensor(
        &t64(vec![0, 1, 0], &[1, 3]),
        f32s(vec![1e8, 1.0, -1e8], &[3]),
        &[2],
    )
    .unwrap();
    assert_eq!(s.sum().unwrap().item::<f32>().unwrap(), 1.0);
}

#[test]
fn zero_sparse_dims_keep_their_entries() {
    // torch.sparse_coo_tensor(zeros(0, 2), ones(2, 3), (3,)): nnz 2, dense
    // form [2, 2, 2].
    let s = sparse_coo_tensor(&t64(vec![], &[0, 2]), Tensor::ones(&[2, 3]), &[3]).unwrap();
    assert_eq!((s.sparse_dim(), s.nnz()), (0, 2));
    assert!(!s.is_coalesced());
    assert_eq!(s.to_dense().unwrap().to_vec::<f32>().unwrap(), [2., 2., 2.]);
    assert_eq!(s.coalesce().unwrap().nnz(), 1);
    // torch.tensor(3.).to_sparse(): nnz 1.
    let s = Tensor::scalar(3.0f32).to_sparse().unwrap();
    assert_eq!(s.nnz(), 1);
    assert_eq!(s.to_dense().unwrap().item::<f32>().unwrap(), 3.0);
}

#[test]
fn display_puts_suffixes_where_pytorch_does() {
    let d64 = Tensor::from_vec(vec![1.0f64, 0.0, 2.5, 0.0], &[2, 2]).unwrap();
    // The dtype is the sparse tensor's suffix, not the values'.
    assert_eq!(d64.to_sparse().unwrap().to_string(), "tensor(indices=tensor([[0, 1],\n                       [0, 0]]),\n       values=tensor([1.0000, 2.5000]),\n       size=(2, 2), nnz=2, dtype=torch.float64, layout=torch.sparse_coo)");
    // CSR/CSC suffixes wrap at 80 columns.
    assert_eq!(d64.to_sparse_csr().unwrap().to_string(), "tensor(crow_indices=tensor([0, 1, 2]),\n       col_indices=tensor([0, 0]),\n       values=tensor([1.0000, 2.5000]), size=(2, 2), nnz=2,\n       dtype=torch.float64, layout=torch.sparse_csr)");
    let x = f32s(vec![1., 0., 2., 0., 3., 0., 4., 0., 5.], &[3, 3]);
    assert_eq!(x.to_sparse_csr().unwrap().requires_grad_().to_string(), "tensor(crow_indices=tensor([0, 2, 3, 5]),\n       col_indices=tensor([0, 2, 1, 0, 2]),\n       values=tensor([1., 2., 3., 4., 5.]), size=(3, 3), nnz=5,\n       layout=torch.sparse_csr, requires_grad=True)");
    assert_eq!(x.to_dtype(torchlet_tensor::DType::F64).to_sparse_csc().unwrap().to_string(), "tensor(ccol_indices=tensor([0, 2, 3, 5]),\n       row_indices=tensor([0, 2, 1, 0, 2]),\n       values=tensor([1., 4., 3., 2., 5.]), size=(3, 3), nnz=5,\n       dtype=torch.float64, layout=torch.sparse_csc)");
    // Empty indices and values show their shapes.
    let empty = sparse_coo_tensor(&t64(vec![], &[2, 0]), f32s(vec![], &[0]), &[2, 2]).unwrap();
    assert_eq!(empty.to_string(), "tensor(indices=tensor([], size=(2, 0)),\n       values=tensor([], size=(0,)),\n       size=(2, 2), nnz=0, layout=torch.sparse_coo)");
    assert_eq!(Tensor::zeros(&[2, 2]).to_sparse_csr().unwrap().to_string(), "tensor(crow_indices=tensor([0, 0, 0]),\n       col_indices=tensor([], size=(0,)),\n       values=tensor([], size=(0,)), size=(2, 2), nnz=0,\n       layout=torch.sparse_csr)");
    assert_eq!(Tensor::scalar(3.0f32).to_sparse().unwrap().to_string(), "tensor(indices=tensor([], size=(0, 1)),\n       values=tensor([3.]),\n       size=(), nnz=1, layout=torch.sparse_coo)");
}

#[test]
fn a_0_dim_sparse_leaf_takes_a_gradient() {
    // torch: s = tensor(3.).to_sparse().requires_grad_();
    // (s * 2.0).to_dense().backward() gives s.grad with nnz 1, values [2.].
    let s = Tensor::scalar(3.0f32).to_sparse().unwrap().requires_grad_();
    let y = s.mul_scalar(2.0).unwrap().to_dense_variable().unwrap();
    y.backward().unwrap();
    let g = s.grad().unwrap();
    assert_eq!((g.nnz(), g.shape().len()), (1, 0));
    assert_eq!(g.to_dense().unwrap().item::<f32>().unwrap(), 2.0);
}

#[test]
fn sizes_beyond_int64_elements_are_refused() {
    // torch: "numel: integer multiplication overflow" for (2**41, 2**41).
    let e = sparse_coo_tensor(
        &t64(vec![1 << 40, 1, (1 << 40) - 1, 2], &[2, 2]),
        Tensor::ones(&[2]),
        &[1 << 41, 1 << 41],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("sparse_coo_tensor") && e.contains("overflow"),
        "{e}"
    );
    let crow = t64(vec![0, 1, 1], &[3]);
    let e = torchlet_sparse::sparse_csr_tensor(
        &crow,
        &t64(vec![0], &[1]),
        Tensor::ones(&[1]),
        &[2, 1 << 62],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("overflow"), "{e}");
}
