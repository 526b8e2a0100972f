//! Inputs the op-API fuzz target (fuzz/, issue 21) made panic, each now an
//! `Err` or PyTorch's answer: shapes whose element count overflows, views
//! of nothing at an offset past their storage, 0-d inputs of `narrow`,
//! `index_select` and `prod`'s backward.

use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

const HUGE: usize = 1 << 40;

#[test]
fn shapes_that_overflow_are_refused_before_allocating() {
    // 2^40 * 2^40 elements: no data can fit, and nothing is allocated.
    assert!(Tensor::from_vec(Vec::<f32>::new(), &[HUGE, HUGE]).is_err());
    assert!(Tensor::from_vec(vec![1.0f32], &[HUGE, HUGE, 0, 3]).is_err());
    // An empty tensor may have huge other dims (torch.empty(0, 2**40, 2**40)).
    let empty = Tensor::from_vec(Vec::<f32>::new(), &[0, HUGE, HUGE]).unwrap();
    assert_eq!(empty.numel(), 0);
    let x = Variable::parameter(Tensor::ones(&[2, 1]));
    let huge = HUGE as i64;
    assert!(x.reshape(&[huge, huge, 0]).is_err());
    assert!(x.expand(&[huge, huge, 2, 1]).is_err());
    assert!(x
        .add(&Variable::constant(
            empty.reshape(&[0, huge, huge]).unwrap()
        ))
        .is_err());
    assert!(x.adaptive_avg_pool2d([usize::MAX / 2, 3]).is_err());
    let a = Tensor::from_vec(Vec::<f32>::new(), &[0, usize::MAX / 2 + 1]).unwrap();
    assert!(Tensor::cat(&[&a, &a], 1).is_err());
}

#[test]
fn empty_views_past_their_storage_reduce_to_nothing() {
    // x[:, 1:3] of a [0, 3] tensor starts at offset 1 of an empty buffer.
    let x = Variable::parameter(Tensor::zeros(&[0, 3]));
    let v = x.narrow(1, 1, 2).unwrap();
    assert_eq!(v.shape(), [0, 2]);
    assert_eq!(v.sum().item::<f32>().unwrap(), 0.0);
    assert_eq!(
        v.sum_dim(0).unwrap().data().to_vec::<f32>().unwrap(),
        [0.0; 2]
    );
    v.mul(&v).unwrap().sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().shape(), [0, 3]);
}

#[test]
fn zero_d_inputs_of_narrow_index_select_and_prod() {
    let s = Variable::parameter(Tensor::scalar(0.0f32));
    // torch.narrow: "narrow() cannot be applied to a 0-dim tensor".
    let err = s.narrow(0, 0, 1).unwrap_err().to_string();
    assert!(err.contains("0-dim"), "{err}");
    // torch.index_select on a scalar takes exactly one index.
    let two = Tensor::from_vec(vec![0i64, 0], &[2]).unwrap();
    assert!(s.index_select(0, &two).is_err());
    let one = Tensor::from_vec(vec![0i64], &[1]).unwrap();
    assert_eq!(s.index_select(0, &one).unwrap().numel(), 1);
    // d/dx prod(x) over a 0-d x is 1, zero or not.
    s.prod_dim(0, false).unwrap().backward().unwrap();
    assert_eq!(s.grad().unwrap().item::<f32>().unwrap(), 1.0);
}
