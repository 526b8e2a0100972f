//! Memory plans: values sharing a buffer never live at the same time,
//! and the reported sizes add up (every ONNX check model, optimised and
//! not).

#[path = "../../onnx-export/tests/common/models.rs"]
mod models;
#[path = "../../onnx-export/tests/common/zoo.rs"]
mod zoo;

use torchlet_autograd::{Result, Variable};
use torchlet_jit::{trace, trace_fn, ScriptModule};
use torchlet_tensor::Tensor;

/// Checks `script`'s plan against its graph: the storages sharing a
/// buffer never live at the same time (a storage lives from the node
/// making it to the last read of it or of any view of it).
fn check(name: &str, script: &ScriptModule) {
    let g = script.graph();
    let plan = script.memory_plan();
    let n = g.nodes.len();
    let mut made = vec![usize::MAX; g.num_values];
    let mut last = vec![0usize; g.num_values];
    for (i, node) in g.nodes.iter().enumerate() {
        for &v in &node.outputs {
            made[v] = i;
            let s = plan.storage_of[v];
            last[s] = last[s].max(i);
        }
        for &v in node.inputs.iter().flatten() {
            let s = plan.storage_of[v];
            last[s] = last[s].max(i);
        }
    }
    for &v in &g.outputs {
        last[plan.storage_of[v]] = n;
    }
    let mut by_buffer: std::collections::BTreeMap<usize, Vec<(usize, usize)>> = Default::default();
    for v in 0..g.num_values {
        if let (Some(b), true) = (plan.buffer_of[v], plan.storage_of[v] == v) {
            by_buffer.entry(b).or_default().push((made[v], last[v]));
        }
    }
    for (b, mut lives) in by_buffer {
        lives.sort_unstable();
        for w in lives.windows(2) {
            assert!(
                w[1].0 > w[0].1,
                "{name}: buffer {b} gets a value at node {} while another is read until node {}",
                w[1].0,
                w[0].1
            );
        }
    }
    assert!(plan.arena_bytes() >= plan.peak_bytes, "{name}: {plan}");
    assert!(plan.peak_bytes <= plan.total_bytes, "{name}: {plan}");
}

#[test]
fn plans_never_share_a_buffer_between_live_values() {
    for m in models::all_models().unwrap() {
        let script = trace(m.module.as_ref(), &[m.example(3, 1).data()]).unwrap();
        check(m.name, &script);
        check(m.name, &script.optimize().unwrap());
        let plan = script.memory_plan();
        if ["lenet_bn", "resnet8", "mlp"].contains(&m.name) {
            assert!(plan.arena_bytes() < plan.total_bytes, "{}: {plan}", m.name);
        }
    }
}

#[test]
fn a_chain_of_same_sized_ops_needs_two_buffers() {
    let chain = |xs: &[Variable]| -> Result<Vec<Variable>> {
        Ok(vec![xs[0].relu().sigmoid().exp().tanh().neg()])
    };
    let script = trace_fn(chain, &[], &[Tensor::rand(&[10, 10])]).unwrap();
    let plan = script.memory_plan();
    assert_eq!(plan.buffer_bytes, [400, 400], "{plan}");
    assert_eq!(plan.total_bytes, 2000);
    assert_eq!(plan.peak_bytes, 800);
    // A view (reshape) keeps its input's storage alive with it.
    let viewed = |xs: &[Variable]| -> Result<Vec<Variable>> {
        let a = xs[0].relu();
        let b = a.reshape(&[100])?;
        let c = xs[0].sigmoid();
        Ok(vec![b.exp().add(&c.reshape(&[100])?)?])
    };
    let script = trace_fn(viewed, &[], &[Tensor::rand(&[10, 10])]).unwrap();
    check("viewed", &script);
    let g = script.graph();
    let relu_out = g.nodes[0].outputs[0];
    let sigmoid_out = g.nodes[2].outputs[0];
    let plan = script.memory_plan();
    assert_ne!(
        plan.buffer_of[relu_out], plan.buffer_of[sigmoid_out],
        "{}",
        g
    );
}

#[test]
fn a_kept_output_is_never_overwritten() {
    let model = models::all_models()
        .unwrap()
        .into_iter()
        .find(|m| m.name == "lenet_bn")
        .unwrap();
    let script = trace(model.module.as_ref(), &[model.example(2, 1).data()])
        .unwrap()
        .optimize()
        .unwrap();
    let mut ws = torchlet_jit::Workspace::new();
    let (a, b) = (model.example(4, 1).data(), model.example(4, 2).data());
    let kept = script
        .forward_in(&mut ws, std::slice::from_ref(&a))
        .unwrap()[0]
        .clone();
    let bits = kept.to_vec::<f32>().unwrap();
    // The next calls may not write into the buffer `kept` still holds.
    for x in [&b, &a, &b] {
        let out = script.forward_in(&mut ws, std::slice::from_ref(x)).unwrap()[0].clone();
        assert_eq!(kept.to_vec::<f32>().unwrap(), bits);
        let eager = script.forward(std::slice::from_ref(x)).unwrap();
        assert_eq!(
            out.to_vec::<f32>().unwrap(),
            eager[0].to_vec::<f32>().unwrap()
        );
    }
    assert!(ws.pooled_bytes() > 0);
    // Another batch size reuses what fits and runs as well.
    let small = model.example(1, 3).data();
    let out = script
        .forward_in(&mut ws, std::slice::from_ref(&small))
        .unwrap();
    assert_eq!(out[0].shape(), [1, 10]);
    assert_eq!(kept.to_vec::<f32>().unwrap(), bits);
}
