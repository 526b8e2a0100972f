//! Elementwise fusion: chains and random DAGs of elementwise ops with
//! broadcasting give the same values fused, unfused and eagerly.

mod common;

use common::bits;

use proptest::prelude::*;
use torchlet_autograd::{no_grad, Result, Variable};
use torchlet_jit::trace_fn;
use torchlet_tensor::{DType, Generator, Tensor};

fn op_names(script: &torchlet_jit::ScriptModule) -> Vec<&'static str> {
    script.graph().nodes.iter().map(|n| n.op.name()).collect()
}

#[test]
fn the_benchmark_chain_becomes_one_node_with_eager_bits() {
    let mut g = Generator::new(1);
    let w = Variable::constant(Tensor::randn_with(&[64], &mut g));
    let b = Variable::constant(Tensor::randn_with(&[64], &mut g));
    let f = |xs: &[Variable]| -> Result<Vec<Variable>> {
        let x = &xs[0];
        let h = x.mul(&w)?.add(&b)?.gelu();
        Ok(vec![h.mul(&x.sigmoid())?.add(&x.div_scalar(2.0))?])
    };
    let named = [("w".to_string(), w.clone()), ("b".to_string(), b.clone())];
    let x = Tensor::randn_with(&[300, 64], &mut g);
    let fast = trace_fn(f, &named, std::slice::from_ref(&x))
        .unwrap()
        .optimize()
        .unwrap();
    assert_eq!(op_names(&fast), ["torchlet::fused_elementwise"]);
    let text = fast.graph().to_string();
    assert!(
        text.contains("t0 = x0 * x1; t1 = t0 + x2; t2 = gelu(t1)"),
        "{text}"
    );
    for rows in [300, 7, 1] {
        let x = Tensor::randn_with(&[rows, 64], &mut g);
        let want = f(&[Variable::constant(x.clone())]).unwrap()[0].data();
        assert_eq!(
            bits(&fast.forward(&[x]).unwrap()[0]),
            bits(&want),
            "{rows} rows"
        );
    }
}

#[test]
fn a_broadcast_operand_keeps_its_own_node() {
    // A squeeze-excitation gate: sigmoid on [N, C, 1, 1] stays unfused
    // (fused, it would run once per output element).
    let f = |xs: &[Variable]| -> Result<Vec<Variable>> {
        Ok(vec![xs[0].mul(&xs[1].sigmoid())?.relu()])
    };
    let (x, gate) = (Tensor::randn(&[2, 3, 8, 8]), Tensor::randn(&[2, 3, 1, 1]));
    let fast = trace_fn(f, &[], &[x.clone(), gate.clone()])
        .unwrap()
        .optimize()
        .unwrap();
    assert_eq!(
        op_names(&fast),
        ["aten::sigmoid", "torchlet::fused_elementwise"]
    );
    let want = f(&[
        Variable::constant(x.clone()),
        Variable::constant(gate.clone()),
    ])
    .unwrap();
    assert_eq!(
        bits(&fast.forward(&[x, gate]).unwrap()[0]),
        bits(&want[0].data())
    );
}

/// One random elementwise op: its kind and where its operands come from
/// (indices into the values so far, taken modulo their count).
#[derive(Clone, Debug)]
struct RandomOp {
    kind: u8,
    a: usize,
    b: usize,
    value: f64,
}

fn random_op() -> impl Strategy<Value = RandomOp> {
    (0u8..26, 0usize..64, 0usize..64, -2.0f64..2.0).prop_map(|(kind, a, b, value)| RandomOp {
        kind,
        a,
        b,
        value,
    })
}

/// Applies `op` to the values so far; `layer` is a Linear's weight and
/// bias for rows of the DAG's width.
fn apply(op: &RandomOp, vals: &[Variable], layer: &(Variable, Variable)) -> Result<Variable> {
    let a = &vals[op.a % vals.len()];
    let b = &vals[op.b % vals.len()];
    let v = op.value;
    let width = layer.0.shape()[1];
    Ok(match op.kind {
        // A Linear (the epilogue pass's base) where the width fits.
        24 if a.shape().last() == Some(&width) => a.linear(&layer.0, Some(&layer.1))?,
        // The same op twice (the CSE pass's case).
        25 => a.sigmoid().mul(&a.sigmoid())?,
        0 => a.add(b)?,
        1 => a.sub(b)?,
        2 => a.mul(b)?,
        3 => a.div(&b.abs().add_scalar(0.5))?,
        4 => a.add_scalar(v),
        5 => a.rsub_scalar(v),
        6 => a.mul_scalar(v),
        7 => a.div_scalar(v + 3.0),
        8 => a.tanh(),
        9 => a.sigmoid(),
        10 => a.relu(),
        11 => a.gelu(),
        12 => a.gelu_tanh(),
        13 => a.silu(),
        14 => a.neg(),
        15 => a.square().mul_scalar(0.25),
        16 => a.clamp(-1.0, v.abs() + 0.1),
        17 => a.leaky_relu(0.1),
        18 => a.elu(1.0),
        19 => a.erf(),
        20 => a.sin(),
        21 => a.softplus(),
        22 => a.abs().add_scalar(1.0).sqrt(),
        _ => a.mul_scalar(0.5).exp(),
    })
}

/// Same shape; values equal, both non-finite alike, or within 1e-5.
fn close(a: &Tensor, b: &Tensor) -> bool {
    let f = |t: &Tensor| t.to_dtype(DType::F64).to_vec::<f64>().unwrap();
    a.shape() == b.shape()
        && f(a).iter().zip(f(b)).all(|(x, y)| {
            x.to_bits() == y.to_bits()
                || (x.is_nan() && y.is_nan())
                || (x - y).abs() <= 1e-5 * y.abs().max(1.0)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A random DAG over three inputs that broadcast together (`[R, C]`,
    /// `[C]`, `[R, 1]`), with Linear layers and repeated ops among its
    /// elementwise ones: the optimised script (every pass), the
    /// unoptimised one and eager agree, and some fusion happened.
    #[test]
    fn random_elementwise_dags_agree(
        ops in prop::collection::vec(random_op(), 2..12),
        rows in 1usize..40,
        cols in 1usize..40,
        seed in 0u64..1000,
    ) {
        let mut g = Generator::new(seed);
        let shapes = [vec![rows, cols], vec![cols], vec![rows, 1]];
        let xs: Vec<Tensor> = shapes.iter().map(|s| Tensor::randn_with(s, &mut g)).collect();
        let layer = (
            Variable::constant(Tensor::randn_with(&[cols, cols], &mut g).mul_scalar(0.3)),
            Variable::constant(Tensor::randn_with(&[cols], &mut g)),
        );
        let named = [("w".to_string(), layer.0.clone()), ("b".to_string(), layer.1.clone())];
        let f = |inputs: &[Variable]| -> Result<Vec<Variable>> {
            let mut vals: Vec<Variable> = inputs.to_vec();
            for op in &ops {
                let v = apply(op, &vals, &layer)?;
                vals.push(v);
            }
            // The last value, plus the first input so every output has
            // the full shape.
            Ok(vec![vals.last().unwrap().add(&inputs[0])?])
        };
        let script = trace_fn(f, &named, &xs).unwrap();
        let fast = script.optimize().unwrap();
        prop_assert!(fast.graph().nodes.len() <= script.graph().nodes.len());
        let vars: Vec<Variable> = xs.iter().map(|t| Variable::constant(t.clone())).collect();
        let eager = no_grad(|| f(&vars)).unwrap()[0].data();
        let plain = script.forward(&xs).unwrap();
        let fused = fast.forward(&xs).unwrap();
        prop_assert_eq!(bits(&plain[0]), bits(&eager));
        // Fused groups, alone or as a Linear's epilogue.
        let fused_nodes = op_names(&fast)
            .iter()
            .filter(|n| n.ends_with("fused_elementwise") || n.ends_with("_epilogue"))
            .count();
        // The last op and the final add fuse when the last op has the
        // output's shape (an op on a broadcast operand keeps its node).
        let mut last = vars.clone();
        for op in &ops {
            let v = no_grad(|| apply(op, &last, &layer)).unwrap();
            last.push(v);
        }
        if last.last().unwrap().shape() == eager.shape() {
            prop_assert!(fused_nodes >= 1, "{}", fast.graph());
        }
        prop_assert!(close(&fused[0], &eager), "{}", fast.graph());
    }
}

#[test]
fn division_by_a_power_of_two_keeps_the_bits_at_the_extremes() {
    // Tiny (subnormal results), huge, signed zeros, infinities, NaN.
    let values = vec![
        1e-38f32,
        -3e-39,
        1.5e-45,
        3e38,
        -3.4e38,
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NAN,
        1.0,
        -7.25,
        0.1,
    ];
    let x = Tensor::from_vec(values.clone(), &[1, values.len()]).unwrap();
    for d in [2.0, 0.25, 1024.0, 3.0, 2f64.powi(-100), 2f64.powi(120)] {
        let f = |xs: &[Variable]| -> Result<Vec<Variable>> {
            Ok(vec![xs[0].div_scalar(d).add_scalar(0.0).div_scalar(d)])
        };
        let fast = trace_fn(f, &[], std::slice::from_ref(&x))
            .unwrap()
            .optimize()
            .unwrap();
        assert_eq!(op_names(&fast), ["torchlet::fused_elementwise"]);
        let want = no_grad(|| f(&[Variable::constant(x.clone())])).unwrap()[0].data();
        let got = fast.forward(std::slice::from_ref(&x)).unwrap();
        assert_eq!(bits(&got[0]), bits(&want), "x / {d}");
    }
}
