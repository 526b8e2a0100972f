//! Sparse ops in a trace: one record each, named after the torch.sparse
//! op, and a graph (what ONNX export lowers) is refused naming it.

use torchlet_autograd::trace::trace;
use torchlet_autograd::Variable;
use torchlet_sparse::{ToSparse, SPARSE_OPS};
use torchlet_tensor::Tensor;

#[test]
fn a_sparse_product_traces_as_one_record_and_is_refused_by_name() {
    let adj = Tensor::from_vec(vec![0.0f32, 1.0, 1.0, 0.0], &[2, 2])
        .unwrap()
        .to_sparse_csr()
        .unwrap();
    let x = Variable::constant(Tensor::ones(&[2, 3]));
    let w = Variable::parameter(Tensor::ones(&[3, 3]));
    let (y, tr) = trace(|| adj.mm(&x.matmul(&w).unwrap()).unwrap().relu());
    let names: Vec<&str> = tr.ops.iter().map(|op| op.name()).collect();
    assert!(names.contains(&"sparse.mm"), "{names:?}");
    assert!(SPARSE_OPS.contains(&"sparse.mm"));
    let err = tr
        .to_graph(&[("x", &x)], &[("w", &w)], &[&y])
        .unwrap_err()
        .to_string();
    assert!(err.contains("sparse.mm"), "{err}");
}
