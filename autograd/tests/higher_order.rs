//! Higher-order gradients: exact second derivatives of scalar functions,
//! a Hessian-vector product of a small MLP's loss by double backward, and
//! a gradient-penalty loss whose gradient flows through a double backward
//! and trains.

use torchlet_autograd::{enable_grad, grad, gradcheck, is_grad_enabled, Result, Variable};
use torchlet_tensor::{DType, Generator, Tensor};

fn vector(values: &[f64]) -> Tensor {
    Tensor::from_vec(values.to_vec(), &[values.len()]).unwrap()
}

/// `d/dx` of `y.sum()` with a graph, so it can be differentiated again.
fn derivative(y: &Variable, x: &Variable) -> Variable {
    grad(&[&y.sum()], &[x], None, true, true).unwrap()[0]
        .clone()
        .expect("y depends on x")
}

#[test]
fn second_derivative_of_cube_is_6x() {
    // Dyadic values: every product and sum below is exact in f64.
    let xs = [0.5, -1.25, 2.0, 3.0, 0.0, -0.75];
    for cube in [
        (|x: &Variable| x.mul(x).unwrap().mul(x).unwrap()) as fn(&Variable) -> Variable,
        |x| x.pow(3.0).unwrap(),
        |x| x.square().mul(x).unwrap(),
    ] {
        let x = Variable::parameter(vector(&xs));
        let d1 = derivative(&cube(&x), &x);
        let d2 = derivative(&d1, &x);
        assert_eq!(
            d1.to_vec::<f64>().unwrap(),
            xs.iter().map(|x| 3.0 * x * x).collect::<Vec<_>>()
        );
        assert_eq!(
            d2.to_vec::<f64>().unwrap(),
            xs.iter().map(|x| 6.0 * x).collect::<Vec<_>>()
        );
        // Third derivative: 6 everywhere.
        let d3 = derivative(&d2, &x);
        assert_eq!(d3.to_vec::<f64>().unwrap(), vec![6.0; xs.len()]);
    }
    // Random values, through backward(create_graph) into x.grad.
    let mut g = Generator::new(11);
    let t = Tensor::normal_with(&[7], 0.0, 2.0, DType::F64, &mut g);
    let x = Variable::parameter(t.clone());
    x.mul(&x)
        .unwrap()
        .mul(&x)
        .unwrap()
        .sum()
        .backward_opts(&Tensor::scalar(1.0f64), false, true)
        .unwrap();
    let d1 = x.grad_variable().unwrap();
    assert!(
        d1.requires_grad(),
        "create_graph leaves a differentiable gradient"
    );
    let d2 = grad(&[&d1.sum()], &[&x], None, false, false).unwrap()[0]
        .clone()
        .unwrap();
    for (got, x) in d2
        .to_vec::<f64>()
        .unwrap()
        .iter()
        .zip(t.to_vec::<f64>().unwrap())
    {
        assert!(
            (got - 6.0 * x).abs() <= 1e-12 * (1.0 + x.abs()),
            "{got} vs {}",
            6.0 * x
        );
    }
}

#[test]
fn second_derivative_of_sigmoid() {
    let xs: Vec<f64> = (-12..=12).map(|k| k as f64 * 0.37).collect();
    let x = Variable::parameter(vector(&xs));
    let d1 = derivative(&x.sigmoid(), &x);
    let d2 = derivative(&d1, &x);
    let (d1, d2) = (d1.to_vec::<f64>().unwrap(), d2.to_vec::<f64>().unwrap());
    for (k, &x) in xs.iter().enumerate() {
        let s = 1.0 / (1.0 + (-x).exp());
        let (want1, want2) = (s * (1.0 - s), s * (1.0 - s) * (1.0 - 2.0 * s));
        assert!(
            (d1[k] - want1).abs() <= 1e-15,
            "s'({x}) = {} vs {want1}",
            d1[k]
        );
        assert!(
            (d2[k] - want2).abs() <= 1e-15,
            "s''({x}) = {} vs {want2}",
            d2[k]
        );
    }
}

// --------------------------------------------------------------- MLP

/// A 2-layer tanh MLP's mean squared error, written with variable ops.
fn mlp_loss(params: &[Variable], x: &Variable, target: &Variable) -> Result<Variable> {
    let [w1, b1, w2, b2] = params else {
        panic!("four parameters")
    };
    let hidden = x.matmul(w1)?.add(b1)?.tanh();
    let pred = hidden.matmul(w2)?.add(b2)?;
    Ok(pred.sub(target)?.square().mean())
}

struct Problem {
    params: Vec<Tensor>,
    x: Variable,
    target: Variable,
}

fn problem(seed: u64, dtype: DType) -> Problem {
    let mut g = Generator::new(seed);
    let (n, d, h) = (6, 3, 5);
    let mut normal =
        |shape: &[usize], std: f64| Tensor::normal_with(shape, 0.0, std, dtype, &mut g);
    let params = vec![
        normal(&[d, h], 0.7),
        normal(&[h], 0.1),
        normal(&[h, 1], 0.7),
        normal(&[1], 0.1),
    ];
    let x = Variable::constant(normal(&[n, d], 1.0));
    let target = Variable::constant(normal(&[n, 1], 1.0));
    Problem { params, x, target }
}

/// The loss's gradient with respect to every parameter, at `params`.
fn loss_gradient(p: &Problem, params: &[Tensor]) -> Vec<Tensor> {
    let vars: Vec<Variable> = params.iter().cloned().map(Variable::parameter).collect();
    let loss = mlp_loss(&vars, &p.x, &p.target).unwrap();
    let refs: Vec<&Variable> = vars.iter().collect();
    grad(&[&loss], &refs, None, false, false)
        .unwrap()
        .into_iter()
        .map(|g| g.unwrap().data())
        .collect()
}

#[test]
fn hessian_vector_product_of_an_mlp_loss() {
    let p = problem(12, DType::F64);
    let mut g = Generator::new(13);
    let v: Vec<Tensor> = p
        .params
        .iter()
        .map(|t| Tensor::normal_with(t.shape(), 0.0, 1.0, DType::F64, &mut g))
        .collect();

    // Double backward: H v = d/dθ <∂L/∂θ, v>.
    let vars: Vec<Variable> = p.params.iter().cloned().map(Variable::parameter).collect();
    let refs: Vec<&Variable> = vars.iter().collect();
    let loss = mlp_loss(&vars, &p.x, &p.target).unwrap();
    let grads = grad(&[&loss], &refs, None, true, true).unwrap();
    let mut dot = Variable::constant(Tensor::scalar(0.0f64));
    for (gi, vi) in grads.iter().zip(&v) {
        let gi = gi.as_ref().expect("every parameter gets a gradient");
        assert!(gi.requires_grad());
        dot = dot
            .add(&gi.mul(&Variable::constant(vi.clone())).unwrap().sum())
            .unwrap();
    }
    let hv = grad(&[&dot], &refs, None, false, false).unwrap();

    // Central differences of the gradient along v.
    let h = 1e-5;
    let shifted = |sign: f64| -> Vec<Tensor> {
        let moved: Vec<Tensor> = p
            .params
            .iter()
            .zip(&v)
            .map(|(t, d)| t.add(&d.mul_scalar(sign * h)).unwrap())
            .collect();
        loss_gradient(&p, &moved)
    };
    let (plus, minus) = (shifted(1.0), shifted(-1.0));
    let mut total = 0.0;
    for (k, got) in hv.iter().enumerate() {
        let got = got.as_ref().unwrap().to_vec::<f64>().unwrap();
        let want = plus[k]
            .sub(&minus[k])
            .unwrap()
            .div_scalar(2.0 * h)
            .to_vec::<f64>()
            .unwrap();
        for (j, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-7 + 1e-5 * b.abs(),
                "Hv of parameter {k}, element {j}: {a} vs {b}"
            );
            total += b.abs();
        }
    }
    assert!(
        total > 1e-3,
        "the Hessian-vector product is not trivially zero"
    );
}

// ---------------------------------------------------- gradient penalty

/// The MLP's loss plus `lambda * ‖∂loss/∂x‖²`, the penalty computed by a
/// differentiable (`create_graph`) backward to the input. Returns
/// `(total, penalty)`.
fn penalized_loss(
    params: &[Variable],
    x: &Tensor,
    target: &Variable,
    lambda: f64,
    create_graph: bool,
) -> Result<(Variable, Variable)> {
    let x = Variable::parameter(x.clone());
    let loss = mlp_loss(params, &x, target)?;
    let gx = grad(&[&loss], &[&x], None, create_graph, create_graph)?[0]
        .clone()
        .expect("the loss depends on x");
    let penalty = gx.square().sum().mul_scalar(lambda);
    Ok((loss.add(&penalty)?, penalty))
}

#[test]
fn gradient_penalty_trains_through_double_backward() {
    let p = problem(14, DType::F32);
    let x = p.x.data();
    let params: Vec<Variable> = p.params.iter().cloned().map(Variable::parameter).collect();
    let refs: Vec<&Variable> = params.iter().collect();
    let (lambda, lr) = (0.5, 0.1);

    // The penalty's own gradient with respect to the parameters exists only
    // through the double backward, and is nonzero.
    let (_, penalty) = penalized_loss(&params, &x, &p.target, lambda, true).unwrap();
    assert!(penalty.requires_grad(), "the penalty is recorded");
    let pg = grad(&[&penalty], &refs, None, false, false).unwrap();
    let norm: f64 = pg
        .iter()
        .flatten()
        .map(|g| {
            g.data()
                .to_dtype(DType::F64)
                .square()
                .sum()
                .item::<f64>()
                .unwrap()
        })
        .sum();
    assert!(
        norm > 1e-8,
        "the penalty's gradient reaches the parameters (squared norm {norm})"
    );

    let mut losses = Vec::new();
    for _ in 0..40 {
        let (total, _) = penalized_loss(&params, &x, &p.target, lambda, true).unwrap();
        losses.push(total.item::<f32>().unwrap());
        total.backward().unwrap();
        for p in &params {
            let g = p.grad().expect("every parameter gets a gradient");
            p.update_data(|t| t.add_scaled_(&g, -lr)).unwrap().unwrap();
            p.zero_grad();
        }
    }
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!(
        last < 0.7 * first,
        "the penalized loss decreases: {losses:?}"
    );
}

#[test]
fn gradient_penalty_parameter_gradient_matches_finite_differences() {
    // gradcheck of θ ↦ penalty(θ): its analytic gradient is a double
    // backward. The finite differences run under no_grad, where the inner
    // backward only needs a first-order pass.
    let p = problem(15, DType::F64);
    let x = p.x.data();
    let target = p.target.clone();
    let f = move |params: &[Variable]| -> Result<Variable> {
        let create = is_grad_enabled();
        enable_grad(|| {
            let params: Vec<Variable> = params
                .iter()
                .map(|v| {
                    if v.requires_grad() {
                        v.clone()
                    } else {
                        v.detach_requiring_grad()
                    }
                })
                .collect();
            Ok(penalized_loss(&params, &x, &target, 1.0, create)?.1)
        })
    };
    gradcheck(f, &p.params).unwrap();
}
