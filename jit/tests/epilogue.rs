//! Epilogue fusion: a Linear or convolution's bias, activation and
//! residual add run on its output in place, with the unfused graph's
//! bits, at batch sizes that run on one thread and on several.

mod common;

use common::bits;

use torchlet_autograd::{no_grad, Result, Variable};
use torchlet_jit::{trace_fn, ScriptModule};
use torchlet_tensor::{Generator, Tensor};

fn op_names(script: &ScriptModule) -> Vec<&'static str> {
    script.graph().nodes.iter().map(|n| n.op.name()).collect()
}

fn param(shape: &[usize], g: &mut Generator) -> Variable {
    Variable::constant(Tensor::randn_with(shape, g).mul_scalar(0.3))
}

#[test]
fn linear_bias_and_activation_run_in_the_gemm_epilogue_bit_for_bit() {
    let mut g = Generator::new(11);
    let (w1, b1) = (param(&[32, 20], &mut g), param(&[32], &mut g));
    let (w2, b2) = (param(&[8, 32], &mut g), param(&[8], &mut g));
    let f = |xs: &[Variable]| -> Result<Vec<Variable>> {
        let h = xs[0].linear(&w1, Some(&b1))?.gelu();
        // No bias here; the residual-style add reads the input's slice.
        let y = h.linear(&w2, None)?.sigmoid();
        Ok(vec![y.add(&xs[0].narrow(1, 0, 8)?)?])
    };
    let named = [
        ("w1".to_string(), w1.clone()),
        ("b1".to_string(), b1.clone()),
        ("w2".to_string(), w2.clone()),
        ("b2".to_string(), b2.clone()),
    ];
    let x = Tensor::randn_with(&[5, 20], &mut g);
    let fast = trace_fn(f, &named, std::slice::from_ref(&x))
        .unwrap()
        .optimize()
        .unwrap();
    assert_eq!(
        op_names(&fast),
        [
            "torchlet::linear_epilogue",
            "aten::narrow",
            "torchlet::linear_epilogue"
        ],
        "{}",
        fast.graph()
    );
    for rows in [5, 1, 2000] {
        let x = Tensor::randn_with(&[rows, 20], &mut g);
        let want = no_grad(|| f(&[Variable::constant(x.clone())])).unwrap()[0].data();
        let got = fast.forward(&[x]).unwrap();
        assert_eq!(bits(&got[0]), bits(&want), "{rows} rows");
    }
}

#[test]
fn a_residual_block_runs_in_the_convolution_epilogue_bit_for_bit() {
    let mut g = Generator::new(12);
    let (w1, b1) = (param(&[6, 6, 3, 3], &mut g), param(&[6], &mut g));
    let (w2, b2) = (param(&[6, 6, 3, 3], &mut g), param(&[6], &mut g));
    let scale = param(&[6, 1, 1], &mut g);
    let f = |xs: &[Variable]| -> Result<Vec<Variable>> {
        let x = &xs[0];
        let h = x.conv2d(&w1, Some(&b1), [1, 1], [1, 1], [1, 1], 1)?.relu();
        // A per-channel scale (broadcast), the skip connection, ReLU.
        let y = h.conv2d(&w2, Some(&b2), [1, 1], [1, 1], [1, 1], 1)?;
        Ok(vec![y.mul(&scale)?.add(x)?.relu()])
    };
    let named: Vec<(String, Variable)> = [
        ("w1", &w1),
        ("b1", &b1),
        ("w2", &w2),
        ("b2", &b2),
        ("s", &scale),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), (*v).clone()))
    .collect();
    let x = Tensor::randn_with(&[2, 6, 9, 9], &mut g);
    let fast = trace_fn(f, &named, std::slice::from_ref(&x))
        .unwrap()
        .optimize()
        .unwrap();
    assert_eq!(
        op_names(&fast),
        ["torchlet::conv2d_epilogue", "torchlet::conv2d_epilogue"],
        "{}",
        fast.graph()
    );
    // 64 samples split over threads; 1 runs the GEMM threaded.
    for n in [2, 64, 1] {
        let x = Tensor::randn_with(&[n, 6, 9, 9], &mut g);
        let want = no_grad(|| f(&[Variable::constant(x.clone())])).unwrap()[0].data();
        let got = fast.forward(&[x]).unwrap();
        assert_eq!(bits(&got[0]), bits(&want), "batch {n}");
    }
    // Saved and loaded, the fused ops run the same.
    let back = ScriptModule::from_bytes(&fast.to_bytes().unwrap()).unwrap();
    let x = Tensor::randn_with(&[3, 6, 9, 9], &mut g);
    assert_eq!(
        bits(&back.forward(std::slice::from_ref(&x)).unwrap()[0]),
        bits(&fast.forward(&[x]).unwrap()[0])
    );
}

#[test]
fn a_layer_whose_output_is_read_twice_keeps_its_own_node() {
    let mut g = Generator::new(13);
    let w = param(&[4, 3], &mut g);
    let f = |xs: &[Variable]| -> Result<Vec<Variable>> {
        let h = xs[0].linear(&w, None)?;
        Ok(vec![h.relu(), h.sum()])
    };
    let x = Tensor::randn_with(&[2, 3], &mut g);
    let fast = trace_fn(f, &[("w".to_string(), w.clone())], std::slice::from_ref(&x))
        .unwrap()
        .optimize()
        .unwrap();
    assert!(
        op_names(&fast).contains(&"aten::linear"),
        "{}",
        fast.graph()
    );
    assert!(!op_names(&fast).contains(&"torchlet::linear_epilogue"));
}

#[test]
fn conv_relu_and_max_pool_run_as_one_node_bit_for_bit() {
    let mut g = Generator::new(14);
    let (w1, b1) = (param(&[6, 1, 5, 5], &mut g), param(&[6], &mut g));
    let (w2, b2) = (param(&[16, 6, 5, 5], &mut g), param(&[16], &mut g));
    let f = |xs: &[Variable]| -> Result<Vec<Variable>> {
        let h = xs[0]
            .conv2d(&w1, Some(&b1), [1, 1], [2, 2], [1, 1], 1)?
            .relu();
        let h = h.max_pool2d([2, 2], [2, 2], [0, 0])?;
        let h = h.conv2d(&w2, Some(&b2), [1, 1], [0, 0], [1, 1], 1)?.relu();
        // A pooling with overlap and padding.
        Ok(vec![h.max_pool2d([3, 3], [2, 2], [1, 1])?])
    };
    let named: Vec<(String, Variable)> = [("w1", &w1), ("b1", &b1), ("w2", &w2), ("b2", &b2)]
        .iter()
        .map(|(n, v)| (n.to_string(), (*v).clone()))
        .collect();
    let x = Tensor::randn_with(&[2, 1, 28, 28], &mut g);
    let fast = trace_fn(f, &named, std::slice::from_ref(&x))
        .unwrap()
        .optimize()
        .unwrap();
    assert_eq!(
        op_names(&fast),
        ["torchlet::conv2d_epilogue_max_pool2d"; 2],
        "{}",
        fast.graph()
    );
    for n in [2, 64, 1] {
        let x = Tensor::randn_with(&[n, 1, 28, 28], &mut g);
        let want = no_grad(|| f(&[Variable::constant(x.clone())])).unwrap()[0].data();
        let got = fast.forward(&[x]).unwrap();
        assert_eq!(got[0].shape(), want.shape());
        assert_eq!(bits(&got[0]), bits(&want), "batch {n}");
    }
    let back = ScriptModule::from_bytes(&fast.to_bytes().unwrap()).unwrap();
    assert_eq!(back.graph(), fast.graph());
}
