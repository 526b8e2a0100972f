//! PyTorch's edge semantics found by outside edge-case inputs (issue 21):
//! `cat` skips legacy empty 1-D inputs in backward too, `gather` on 0-d
//! inputs and with empty indices of any dtype, and out-of-place
//! `masked_fill` with a mask that broadcasts beyond the input.

use torchlet_autograd::Variable;
use torchlet_tensor::{DType, Tensor};

fn vals(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).to_vec::<f64>().unwrap()
}

#[test]
fn cat_skips_a_legacy_empty_vector_forward_and_backward() {
    let empty = Variable::parameter(Tensor::zeros(&[0]));
    let x = Variable::parameter(Tensor::ones(&[5, 5]));
    let y = Variable::cat(&[&empty, &x, &empty], 1).unwrap();
    assert_eq!(y.shape(), [5, 5]);
    y.mul_scalar(3.0).sum().backward().unwrap();
    assert_eq!(empty.grad().unwrap().shape(), &[0]);
    assert_eq!(vals(&x.grad().unwrap()), vec![3.0; 25]);
}

#[test]
fn gather_treats_a_scalar_input_as_a_vector() {
    // torch.gather(torch.tensor(5.), 0, torch.tensor(0)) is tensor(5.).
    let x = Variable::parameter(Tensor::scalar(5.0f32));
    let zero_d = Tensor::scalar(0i64);
    let y = x.gather(0, &zero_d).unwrap();
    assert_eq!((y.shape(), y.item::<f32>().unwrap()), (vec![], 5.0));
    let twice = x
        .gather(-1, &Tensor::from_vec(vec![0i64, 0], &[2]).unwrap())
        .unwrap();
    assert_eq!(twice.to_vec::<f32>().unwrap(), [5.0, 5.0]);
    twice.sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().shape(), &[] as &[usize]);
    assert_eq!(x.grad().unwrap().item::<f32>().unwrap(), 2.0);
    assert!(x.gather(0, &Tensor::scalar(1i64)).is_err()); // out of range
    assert!(x.gather(1, &zero_d).is_err()); // no dim 1
                                            // A 0-d index beside a 1-d input picks one element, as a 0-d result.
    let v = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).unwrap();
    let picked = v.gather(0, &Tensor::scalar(2i64)).unwrap();
    assert_eq!(
        (picked.shape(), picked.item::<f32>().unwrap()),
        (&[][..], 3.0)
    );
}

#[test]
fn gather_and_scatter_take_an_empty_index_of_any_dtype() {
    let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let empty = Tensor::zeros_dtype(&[2, 0], DType::F32);
    assert_eq!(x.gather(1, &empty).unwrap().shape(), &[2, 0]);
    let same = x.scatter(1, &empty, &Tensor::zeros(&[2, 0])).unwrap();
    assert_eq!(vals(&same), [1.0, 2.0, 3.0, 4.0]);
    // A non-empty float index is still an error.
    assert!(x.gather(1, &Tensor::zeros(&[2, 1])).is_err());
}

#[test]
fn masked_fill_broadcasts_the_input_to_the_mask() {
    // torch.masked_fill(x[5], mask[5, 5], v) is [5, 5].
    let x = Variable::parameter(Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).unwrap());
    let eye = Tensor::eye(3).to_dtype(DType::Bool);
    let y = x.masked_fill(&Variable::constant(eye), -1.0).unwrap();
    assert_eq!(y.shape(), [3, 3]);
    assert_eq!(
        y.to_vec::<f32>().unwrap(),
        [-1.0, 2.0, 3.0, 1.0, -1.0, 3.0, 1.0, 2.0, -1.0]
    );
    // Each input element is kept in the two rows where the mask is false.
    y.sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f32>().unwrap(), [2.0, 2.0, 2.0]);
    // A mask that does not broadcast is still an error.
    let bad = Variable::constant(Tensor::zeros_dtype(&[2], DType::Bool));
    assert!(x.masked_fill(&bad, 0.0).is_err());
}
