//! The optimisation passes: each keeps the outputs (BatchNorm folding
//! within 1e-5 relative, the others bit for bit) and removes what it
//! should.

#[path = "../../onnx-export/tests/common/models.rs"]
mod models;
#[path = "../../onnx-export/tests/common/zoo.rs"]
mod zoo;

use torchlet_autograd::{no_grad, Variable};
use torchlet_jit::{trace, trace_fn};
use torchlet_tensor::{DType, Generator, Tensor};

fn ops(script: &torchlet_jit::ScriptModule) -> Vec<&'static str> {
    script.graph().nodes.iter().map(|n| n.op.name()).collect()
}

fn as_f64(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).to_vec::<f64>().unwrap()
}

/// `|a - b| <= 1e-5 · largest |b|`: relative to the output's magnitude
/// (folding BatchNorm changes rounding, and a value near zero among
/// larger ones has no meaningful relative error of its own).
fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    let (g, w) = (as_f64(got), as_f64(want));
    let scale = w.iter().fold(0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let tol = 1e-5 * b.abs().max(scale);
        assert!((a - b).abs() <= tol, "{what}[{i}]: {a} vs {b}");
    }
}

#[test]
fn optimized_check_models_stay_within_1e5_of_eager() {
    for m in models::all_models().unwrap() {
        let example = m.example(3, 1).data();
        let script = trace(m.module.as_ref(), std::slice::from_ref(&example)).unwrap();
        let fast = script.optimize().unwrap();
        if ["lenet_bn", "resnet8"].contains(&m.name) {
            assert!(
                !ops(&fast).contains(&"aten::batch_norm"),
                "{}: {:?}",
                m.name,
                ops(&fast)
            );
            assert!(fast.graph().nodes.len() < script.graph().nodes.len());
        }
        for (n, seed) in [(3, 1), (4, 2)] {
            let x = m.example(n, seed);
            let want = no_grad(|| m.module.forward(&x)).unwrap().data();
            let got = fast.forward(&[x.data()]).unwrap();
            assert_close(&format!("{} batch {n}", m.name), &got[0], &want);
        }
    }
}

#[test]
fn constant_subgraphs_fold_and_dead_code_goes_bit_for_bit() {
    let mut g = Generator::new(8);
    let w = Variable::parameter(Tensor::randn_with(&[5, 4], &mut g));
    let f = |xs: &[Variable]| -> torchlet_autograd::Result<Vec<Variable>> {
        // w.t() · 2 reads only the parameter: folded. exp(x) is unused.
        let wt = w.t()?.mul_scalar(2.0);
        let _unused = xs[0].exp();
        Ok(vec![xs[0].matmul(&wt)?.relu()])
    };
    let x = Tensor::randn_with(&[3, 4], &mut g);
    let script = trace_fn(f, &[("w".into(), w.clone())], std::slice::from_ref(&x)).unwrap();
    assert_eq!(
        ops(&script),
        [
            "aten::transpose",
            "aten::mul.Scalar",
            "aten::exp",
            "aten::matmul",
            "aten::relu"
        ]
    );
    let fast = script.optimize().unwrap();
    assert_eq!(ops(&fast), ["aten::matmul", "aten::relu"]);
    // The parameter itself is gone: only the folded product is kept.
    let names: Vec<&str> = fast.constants().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("folded_"), "{names:?}");
    let want = f(&[Variable::constant(x.clone())]).unwrap()[0].data();
    let got = fast.forward(&[x]).unwrap();
    let bits = |t: &Tensor| as_f64(t).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&got[0]), bits(&want));
    // Another batch size after the passes.
    assert_eq!(
        fast.forward(&[Tensor::rand(&[7, 4])]).unwrap()[0].shape(),
        [7, 5]
    );
}

#[test]
fn an_optimized_script_saves_and_loads() {
    let m = models::all_models()
        .unwrap()
        .into_iter()
        .find(|m| m.name == "resnet8")
        .unwrap();
    let x = m.example(2, 1).data();
    let fast = trace(m.module.as_ref(), std::slice::from_ref(&x))
        .unwrap()
        .optimize()
        .unwrap();
    let back = torchlet_jit::ScriptModule::from_bytes(&fast.to_bytes().unwrap()).unwrap();
    assert_eq!(back.graph(), fast.graph());
    let (a, b) = (
        back.forward(std::slice::from_ref(&x)).unwrap(),
        fast.forward(&[x]).unwrap(),
    );
    assert_eq!(as_f64(&a[0]), as_f64(&b[0]));
}

#[test]
fn repeated_subexpressions_run_once_bit_for_bit() {
    let mut g = Generator::new(9);
    let w = Variable::parameter(Tensor::randn_with(&[4, 4], &mut g));
    let f = |xs: &[Variable]| -> torchlet_autograd::Result<Vec<Variable>> {
        let x = &xs[0];
        // The same linear and the same split twice; scalar ops that
        // differ only in their value stay apart.
        let a = x.linear(&w, None)?.sigmoid();
        let b = x.linear(&w, None)?.sigmoid();
        let p = x.split(2, 1)?;
        let q = x.split(2, 1)?;
        let y = a
            .mul(&b)?
            .add(&p[1].mul_scalar(2.0).sum_dims(&[1], true)?)?;
        Ok(vec![y.add(&q[1].mul_scalar(3.0).sum_dims(&[1], true)?)?])
    };
    let x = Tensor::randn_with(&[3, 4], &mut g);
    let script = trace_fn(f, &[("w".into(), w.clone())], std::slice::from_ref(&x)).unwrap();
    let count =
        |s: &torchlet_jit::ScriptModule, name: &str| ops(s).iter().filter(|&&o| o == name).count();
    assert_eq!(count(&script, "aten::linear"), 2);
    let fast = script.optimize().unwrap();
    // The one linear left takes the sigmoid as its epilogue.
    assert_eq!(count(&fast, "aten::linear"), 0, "{}", fast.graph());
    assert_eq!(
        count(&fast, "torchlet::linear_epilogue"),
        1,
        "{}",
        fast.graph()
    );
    // split traces as one narrow per part; the part read is kept once.
    assert_eq!(count(&script, "aten::narrow"), 4);
    assert_eq!(count(&fast, "aten::narrow"), 1, "{}", fast.graph());
    assert_eq!(count(&fast, "aten::mul.Scalar"), 2, "{}", fast.graph());
    let want = f(&[Variable::constant(x.clone())]).unwrap()[0].data();
    let bits = |t: &Tensor| as_f64(t).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&fast.forward(&[x]).unwrap()[0]), bits(&want));
}
