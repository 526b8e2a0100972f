//! The PyTorch-shaped API on variables: numbers and tensors beside a
//! variable (comparisons, `pow`, operators), infallible reductions, the
//! one-step update, conversions, and the deprecated old names.

use torchlet_autograd::{gradcheck, Variable};
use torchlet_tensor::{DType, Tensor};

fn param(v: &[f64]) -> Variable {
    Variable::parameter(Tensor::from_slice(v, &[v.len()]).unwrap())
}

fn vals(v: &Variable) -> Vec<f64> {
    v.data().to_dtype(DType::F64).to_vec::<f64>().unwrap()
}

#[test]
fn comparisons_take_numbers_tensors_and_variables() {
    let x = Variable::parameter(Tensor::from_vec(vec![-1.0f32, 0.1, 2.0], &[3]).unwrap());
    let bools = |v: Variable| v.to_vec::<bool>().unwrap();
    assert_eq!(bools(x.gt(0.0).unwrap()), [false, true, true]);
    assert_eq!(bools(x.lt(0).unwrap()), [true, false, false]);
    // The number takes the variable's dtype: 0.1 is compared as 0.1f32.
    assert_eq!(bools(x.eq(0.1).unwrap()), [false, true, false]);
    let t = Tensor::from_vec(vec![-1.0f32, 0.0, 3.0], &[3]).unwrap();
    assert_eq!(bools(x.eq(&t).unwrap()), [true, false, false]);
    assert_eq!(bools(x.gt(&x).unwrap()), [false; 3]);
    // Integer variables against a fractional number compare as floats.
    let i = Variable::constant(Tensor::from_vec(vec![0i64, 1, 2], &[3]).unwrap());
    assert_eq!(bools(i.gt(0.5).unwrap()), [false, true, true]);
    assert!(x.gt(&Tensor::zeros(&[2])).is_err());
}

#[test]
fn pow_takes_a_number_a_tensor_or_a_variable_with_gradients() {
    let x = param(&[0.5, 1.5, 2.0]);
    let y = x.pow(3).unwrap();
    assert_eq!(vals(&y), [0.125, 3.375, 8.0]);
    y.sum().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec::<f64>().unwrap(),
        [0.75, 6.75, 12.0]
    );
    // A tensor exponent is a constant; a variable exponent gets a gradient.
    let e = Tensor::from_slice(&[2.0, 0.5, -1.0], &[3]).unwrap();
    assert_eq!(vals(&x.pow(&e).unwrap()), [0.25, 1.5f64.sqrt(), 0.5]);
    let inputs = [
        Tensor::from_slice(&[0.7, 1.3], &[2]).unwrap(),
        Tensor::from_slice(&[1.5, -0.5], &[2]).unwrap(),
    ];
    gradcheck(|v| Ok(v[0].pow(&v[1])?.sum()), &inputs).unwrap();
    gradcheck(|v| Ok((&v[0] * &inputs[0]).pow(2.5)?.sum()), &inputs[..1]).unwrap();
}

#[test]
fn tensors_mix_with_variables_in_operators() {
    let w = param(&[2.0, -1.0]);
    let x = Tensor::from_slice(&[3.0, 4.0], &[2]).unwrap();
    let y = &w * &x + 1.0;
    assert_eq!(vals(&y), [7.0, -3.0]);
    let z = (&x - &w) / x.clone() + (x.clone() * w.clone()) - &w * x.clone();
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
    assert!(close(&vals(&z), &[1.0 / 3.0, 5.0 / 4.0]), "{:?}", vals(&z));
    z.sum().backward().unwrap();
    // dz/dw = -1/x (the products cancel).
    assert_eq!(
        w.grad().unwrap().to_vec::<f64>().unwrap(),
        [-1.0 / 3.0, -0.25]
    );
}

#[test]
fn reductions_return_variables_and_updates_take_one_step() {
    let w = param(&[1.0, 2.0, 3.0]);
    let loss = w.pow(2).unwrap().mean(); // no Result: as Tensor::mean
    assert!((loss.item::<f64>().unwrap() - 14.0 / 3.0).abs() < 1e-12);
    loss.backward().unwrap();
    let g = w.grad().unwrap(); // 2w / 3
    w.sub_scaled_(&g, 1.5).unwrap(); // w - 1.5 * 2w/3 = 0
    assert_eq!(vals(&w), [0.0, 0.0, 0.0]);
    w.add_scaled_(&Variable::constant(g), 3.0).unwrap();
    assert_eq!(vals(&w), [2.0, 4.0, 6.0]);
    // Only a leaf's value can be updated in place.
    let y = w.mul_scalar(2.0);
    assert!(y.sub_scaled_(&Tensor::ones(&[3]), 1.0).is_err());
}

#[test]
fn pytorch_names_for_shapes_and_argmax() {
    let x = Variable::parameter(Tensor::zeros(&[2, 1, 3, 4]));
    assert_eq!(x.flatten(1, -1).unwrap().shape(), [2, 12]);
    assert_eq!(x.flatten(0, 1).unwrap().shape(), [2, 3, 4]);
    assert_eq!(x.ravel().shape(), [24]);
    assert_eq!(x.squeeze(1).unwrap().shape(), [2, 3, 4]);
    assert_eq!(x.squeeze(0).unwrap().shape(), [2, 1, 3, 4]);
    assert_eq!(x.squeeze_all().shape(), [2, 3, 4]);
    let s = Variable::constant(Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 7.0], &[2, 2]).unwrap());
    assert_eq!(s.argmax(1).unwrap().to_vec::<i64>().unwrap(), [1, 1]);
    assert_eq!(s.argmax_keepdim(0).unwrap().shape(), [1, 2]);
    assert!(s.argmax(2).is_err());
}

#[test]
#[allow(deprecated)]
fn the_old_names_still_work() {
    let x = Variable::parameter(Tensor::ones(&[2, 1, 3]));
    assert_eq!(x.flatten_dims(1, 2).unwrap().shape(), [2, 3]);
    assert_eq!(x.squeeze_dim(1).unwrap().shape(), [2, 3]);
    assert_eq!(vals(&x.pow_scalar(2.0)), [1.0; 6]);
    let t = Tensor::ones(&[2, 1]);
    assert_eq!(t.flatten_dims(0, 1).unwrap().shape(), &[2]);
    assert_eq!(t.squeeze_dim(1).unwrap().shape(), &[2]);
    assert_eq!(t.pow_scalar(3.0).to_vec::<f32>().unwrap(), [1.0, 1.0]);
}

#[test]
fn tensors_convert_into_variables_without_copying() {
    let t = Tensor::ones(&[2, 2]);
    let v: Variable = (&t).into();
    assert!(!v.requires_grad());
    assert!(v.data().shares_storage_with(&t));
    let p = Variable::parameter(Tensor::ones(&[1]));
    let same: Variable = (&p).into();
    assert_eq!(same.id(), p.id());
    assert!(p.equal(&same) && !p.equal(&v));
}
