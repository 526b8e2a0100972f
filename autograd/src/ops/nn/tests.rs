//! Gradients of the convolution, pooling and normalization ops against
//! finite differences, first and second order.

use super::*;
use crate::ops::fdcheck::{check_gradients, check_hessian_vector, randn, Rng};

/// Stride, padding, dilation and groups of a 2-d convolution.
type Hyper = ([usize; 2], [usize; 2], [usize; 2], usize);

fn conv2d_case(x: [usize; 4], w: [usize; 4], bias: bool, hyper: Hyper, seed: u64) {
    let (stride, padding, dilation, groups) = hyper;
    let mut rng = Rng::new(seed);
    let mut inputs = vec![randn(&mut rng, &x), randn(&mut rng, &w)];
    if bias {
        inputs.push(randn(&mut rng, &[w[0]]));
    }
    let f = move |v: &[Variable]| v[0].conv2d(&v[1], v.get(2), stride, padding, dilation, groups);
    check_gradients(&f, &inputs, seed);
    check_hessian_vector(&f, &inputs, seed);
    // the incoming gradient depends on the inputs too
    check_hessian_vector(&|v: &[Variable]| f(v).map(|y| y.square()), &inputs, seed);
}

#[test]
fn conv2d_gradients_match_finite_differences() {
    let one = [1, 1];
    conv2d_case([2, 3, 6, 5], [4, 3, 3, 3], true, (one, one, one, 1), 1);
    conv2d_case(
        [1, 2, 8, 7],
        [3, 2, 2, 3],
        true,
        ([2, 2], [0, 1], one, 1),
        2,
    );
    conv2d_case(
        [2, 4, 7, 7],
        [6, 2, 3, 2],
        false,
        ([2, 1], [1, 0], [2, 1], 2),
        3,
    );
    // depthwise
    conv2d_case([1, 4, 5, 5], [4, 1, 3, 3], true, ([1, 2], one, one, 4), 4);
    // unbatched
    let mut rng = Rng::new(5);
    let inputs = vec![
        randn(&mut rng, &[2, 5, 5]),
        randn(&mut rng, &[3, 2, 2, 2]),
        randn(&mut rng, &[3]),
    ];
    let f = |v: &[Variable]| v[0].conv2d(&v[1], v.get(2), [1, 1], [1, 1], [1, 1], 1);
    check_gradients(&f, &inputs, 5);
    check_hessian_vector(&f, &inputs, 5);
}

#[test]
fn conv1d_gradients_match_finite_differences() {
    for (seed, (stride, padding, dilation, groups)) in
        [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 2), (3, 1, 1, 2)]
            .into_iter()
            .enumerate()
    {
        let mut rng = Rng::new(seed as u64 + 10);
        let inputs = vec![
            randn(&mut rng, &[2, 4, 9]),
            randn(&mut rng, &[6, 4 / groups, 3]),
            randn(&mut rng, &[6]),
        ];
        let f =
            move |v: &[Variable]| v[0].conv1d(&v[1], v.get(2), stride, padding, dilation, groups);
        check_gradients(&f, &inputs, seed as u64);
        check_hessian_vector(&f, &inputs, seed as u64);
        check_hessian_vector(
            &|v: &[Variable]| f(v).map(|y| y.tanh()),
            &inputs,
            seed as u64,
        );
    }
}

#[test]
fn conv_transpose2d_gradients_match_finite_differences() {
    // (stride, padding, output_padding, dilation, groups)
    let combos = [
        ([1, 1], [0, 0], [0, 0], [1, 1], 1),
        ([2, 2], [1, 0], [1, 0], [1, 1], 1),
        ([2, 1], [0, 1], [0, 0], [1, 2], 2),
        ([1, 1], [0, 0], [1, 1], [2, 2], 1), // output_padding >= stride (allowed by dilation)
    ];
    for (seed, (stride, padding, output_padding, dilation, groups)) in
        combos.into_iter().enumerate()
    {
        let mut rng = Rng::new(seed as u64 + 20);
        let inputs = vec![
            randn(&mut rng, &[2, 4, 4, 3]),
            randn(&mut rng, &[4, 6 / groups, 3, 2]),
            randn(&mut rng, &[6]),
        ];
        let f = move |v: &[Variable]| {
            v[0].conv_transpose2d(
                &v[1],
                v.get(2),
                stride,
                padding,
                output_padding,
                dilation,
                groups,
            )
        };
        check_gradients(&f, &inputs, seed as u64);
        check_hessian_vector(&f, &inputs, seed as u64);
        check_hessian_vector(
            &|v: &[Variable]| f(v).map(|y| y.square()),
            &inputs,
            seed as u64,
        );
    }
    // unbatched, no bias
    let mut rng = Rng::new(29);
    let inputs = vec![randn(&mut rng, &[2, 3, 3]), randn(&mut rng, &[2, 3, 2, 2])];
    let f = |v: &[Variable]| v[0].conv_transpose2d(&v[1], None, [2, 2], [0, 1], [1, 0], [1, 1], 1);
    check_gradients(&f, &inputs, 29);
    check_hessian_vector(&|v: &[Variable]| f(v).map(|y| y.square()), &inputs, 29);
}

#[test]
fn pool_gradients_match_finite_differences() {
    let combos = [
        ([2, 2], [2, 2], [0, 0]),
        ([3, 3], [1, 2], [1, 1]),
        ([3, 2], [2, 1], [1, 0]),
    ];
    for (seed, (k, s, p)) in combos.into_iter().enumerate() {
        let mut rng = Rng::new(seed as u64 + 30);
        let inputs = vec![randn(&mut rng, &[2, 3, 7, 6])];
        let max = move |v: &[Variable]| v[0].max_pool2d(k, s, p);
        check_gradients(&max, &inputs, seed as u64);
        check_hessian_vector(
            &|v: &[Variable]| max(v).map(|y| y.square()),
            &inputs,
            seed as u64,
        );
        let avg = move |v: &[Variable]| v[0].avg_pool2d(k, s, p);
        check_gradients(&avg, &inputs, seed as u64);
        check_hessian_vector(
            &|v: &[Variable]| avg(v).map(|y| y.square()),
            &inputs,
            seed as u64,
        );
    }
    let mut rng = Rng::new(40);
    for (shape, out) in [
        (vec![2, 3, 7, 5], [3, 2]),
        (vec![3, 6, 4], [1, 1]),
        (vec![1, 2, 5, 5], [5, 5]),
    ] {
        let inputs = vec![randn(&mut rng, &shape)];
        let f = move |v: &[Variable]| v[0].adaptive_avg_pool2d(out);
        check_gradients(&f, &inputs, 41);
        check_hessian_vector(&|v: &[Variable]| f(v).map(|y| y.square()), &inputs, 41);
    }
    // unbatched max pooling
    let inputs = vec![randn(&mut rng, &[3, 5, 5])];
    check_gradients(
        &|v: &[Variable]| v[0].max_pool2d([2, 2], [1, 1], [1, 1]),
        &inputs,
        42,
    );
}

#[test]
fn batch_norm_gradients_match_finite_differences() {
    let mut rng = Rng::new(50);
    for shape in [vec![4, 3, 3, 2], vec![5, 2], vec![3, 2, 4]] {
        let c = shape[1];
        let inputs = vec![
            randn(&mut rng, &shape),
            randn(&mut rng, &[c]),
            randn(&mut rng, &[c]),
        ];
        let train = |v: &[Variable]| v[0].batch_norm(None, None, v.get(1), v.get(2), true, 1e-5);
        check_gradients(&train, &inputs, 51);
        check_hessian_vector(&train, &inputs, 52);
        check_gradients(
            &|v: &[Variable]| v[0].batch_norm(None, None, None, None, true, 1e-3),
            &inputs[..1],
            53,
        );
        let rm = randn(&mut rng, &[c]);
        let rv = randn(&mut rng, &[c]).abs().add_scalar(0.5);
        let eval = move |v: &[Variable]| {
            v[0].batch_norm(Some(&rm), Some(&rv), v.get(1), v.get(2), false, 1e-5)
        };
        check_gradients(&eval, &inputs, 54);
        check_hessian_vector(&|v: &[Variable]| eval(v).map(|y| y.square()), &inputs, 55);
    }
    // the forward matches the tensor op; eval needs running statistics
    let x = randn(&mut rng, &[4, 3, 2, 2]);
    let y = Variable::parameter(x.clone())
        .batch_norm(None, None, None, None, true, 1e-5)
        .unwrap();
    let want = x.batch_norm(None, None, None, None, true, 1e-5).unwrap();
    assert_eq!(
        y.data().to_vec::<f64>().unwrap(),
        want.to_vec::<f64>().unwrap()
    );
    assert!(Variable::parameter(x.clone())
        .batch_norm(None, None, None, None, false, 1e-5)
        .is_err());
    let bad = Tensor::zeros_dtype(&[4], x.dtype());
    assert!(Variable::parameter(x)
        .batch_norm(Some(&bad), None, None, None, true, 1e-5)
        .is_err());
}

#[test]
fn layer_norm_gradients_match_finite_differences() {
    let mut rng = Rng::new(60);
    for (shape, norm) in [
        (vec![3, 4, 5], vec![5]),
        (vec![2, 3, 4], vec![3, 4]),
        (vec![6], vec![6]),
    ] {
        let inputs = vec![
            randn(&mut rng, &shape),
            randn(&mut rng, &norm),
            randn(&mut rng, &norm),
        ];
        let n = norm.clone();
        let f = move |v: &[Variable]| v[0].layer_norm(&n, v.get(1), v.get(2), 1e-5);
        check_gradients(&f, &inputs, 61);
        check_hessian_vector(&f, &inputs, 62);
        let n = norm.clone();
        check_gradients(
            &move |v: &[Variable]| v[0].layer_norm(&n, None, None, 1e-5),
            &inputs[..1],
            63,
        );
    }
}

#[test]
fn first_order_gradients_carry_no_graph() {
    let mut rng = Rng::new(70);
    let x = Variable::parameter(randn(&mut rng, &[1, 2, 5, 5]));
    let w = Variable::parameter(randn(&mut rng, &[2, 2, 3, 3]));
    let y = x
        .conv2d(&w, None, [1, 1], [1, 1], [1, 1], 1)
        .unwrap()
        .max_pool2d([2, 2], [2, 2], [0, 0])
        .unwrap();
    let y = y
        .layer_norm(&[2, 2], None, None, 1e-5)
        .unwrap()
        .square()
        .sum();
    let g = crate::grad(&[&y], &[&x, &w], None, false, false).unwrap();
    assert!(g.iter().all(|g| !g.as_ref().unwrap().requires_grad()));
}
