//! Arithmetic operators on variables: every owned/borrowed combination
//! and `f32`/`f64` scalars on either side give the methods' values and
//! gradients (PyTorch's `2.0 / x` is `x.reciprocal() * 2.0`).

use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

fn param(v: &[f32]) -> Variable {
    Variable::parameter(Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap())
}

fn vals(v: &Variable) -> Vec<f32> {
    v.data().to_vec::<f32>().unwrap()
}

fn grad(v: &Variable) -> Vec<f32> {
    v.grad().unwrap().to_vec::<f32>().unwrap()
}

#[test]
fn a_polynomial_written_as_in_pytorch() {
    // y = a x² + b x + c at x = [1, 2], summed: dy/da = Σx², dy/db = Σx, dy/dc = 2.
    let x = Variable::constant(Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap());
    let (a, b, c) = (param(&[3.0]), param(&[-1.0]), param(&[0.5]));
    let x2 = &x * &x;
    let y = &a * &x2 + &b * &x + &c;
    assert_eq!(vals(&y), [3.0 - 1.0 + 0.5, 12.0 - 2.0 + 0.5]);
    y.sum().backward().unwrap();
    assert_eq!(grad(&a), [5.0]);
    assert_eq!(grad(&b), [3.0]);
    assert_eq!(grad(&c), [2.0]);
}

#[test]
fn owned_and_borrowed_mix() {
    let p = param(&[1.0, 2.0]);
    let q = param(&[3.0, 5.0]);
    let sum = p.clone() + &q;
    let diff = &p - q.clone();
    let prod = (p.clone() * q.clone()) / &q;
    let neg = -(p.clone());
    assert_eq!(vals(&sum), [4.0, 7.0]);
    assert_eq!(vals(&diff), [-2.0, -3.0]);
    assert_eq!(vals(&prod), [1.0, 2.0]);
    assert_eq!(vals(&neg), [-1.0, -2.0]);
}

#[test]
fn scalars_on_either_side_with_their_gradients() {
    let x = param(&[0.5, 4.0]);
    let cases: Vec<(&str, Variable, [f32; 2], [f32; 2])> = vec![
        ("x + 2", &x + 2.0, [2.5, 6.0], [1.0, 1.0]),
        ("2 + x", 2.0f32 + &x, [2.5, 6.0], [1.0, 1.0]),
        ("x - 1", x.clone() - 1.0f32, [-0.5, 3.0], [1.0, 1.0]),
        ("1 - x", 1.0 - &x, [0.5, -3.0], [-1.0, -1.0]),
        ("x * 3", &x * 3.0f32, [1.5, 12.0], [3.0, 3.0]),
        ("3 * x", 3.0 * x.clone(), [1.5, 12.0], [3.0, 3.0]),
        ("x / 2", &x / 2.0, [0.25, 2.0], [0.5, 0.5]),
        // d(2/x)/dx = -2/x².
        ("2 / x", 2.0 / &x, [4.0, 0.5], [-8.0, -0.125]),
    ];
    for (what, y, want, dwant) in cases {
        x.zero_grad();
        assert_eq!(vals(&y), want, "{what}");
        y.sum().backward().unwrap();
        assert_eq!(grad(&x), dwant, "{what}");
        assert_eq!(y.data().dtype(), x.data().dtype(), "{what} keeps f32");
    }
}
