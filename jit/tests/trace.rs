//! Tracing: traced graphs give the eager model's bits at the traced and
//! other batch sizes, hold the batch when an op does, refuse inputs that
//! do not fit, and refuse what they cannot run.

mod common;

use common::bits;

use torchlet_autograd::{no_grad, Variable};
use torchlet_jit::graph::Dim;
use torchlet_jit::{trace, trace_fn, JitError};
use torchlet_nn::{LayerNorm, Linear, Module, LSTM};
use torchlet_tensor::{Generator, Tensor};
use torchlet_vision::models::LeNet5;

fn eager(model: &dyn Module, x: &Tensor) -> Tensor {
    no_grad(|| model.forward(&Variable::constant(x.clone())))
        .unwrap()
        .data()
}

/// LeNet-5 with BatchNorm (torchlet-vision's), run in train mode a
/// little so the statistics are not (0, 1).
fn lenet() -> LeNet5 {
    torchlet_tensor::manual_seed(3);
    let model = LeNet5::with_batch_norm().unwrap();
    model.train();
    let mut g = Generator::new(1);
    for _ in 0..3 {
        model
            .forward(&Variable::constant(Tensor::randn_with(
                &[8, 1, 28, 28],
                &mut g,
            )))
            .unwrap();
    }
    model
}

#[test]
fn lenet_gives_eager_bits_at_any_batch() {
    let model = lenet();
    let mut g = Generator::new(2);
    let x = Tensor::randn_with(&[16, 1, 28, 28], &mut g);
    let script = trace(&model, std::slice::from_ref(&x)).unwrap();
    // The trace put the model in eval mode and gave its mode back.
    assert!(model.is_training());
    model.eval();
    assert_eq!(script.graph().inputs[0].dims[0], Dim::Batch);
    for batch in [16, 1, 5, 64] {
        let x = Tensor::randn_with(&[batch, 1, 28, 28], &mut g);
        let got = script.forward(std::slice::from_ref(&x)).unwrap();
        assert_eq!(bits(&got[0]), bits(&eager(&model, &x)), "batch {batch}");
    }
    let text = script.graph().to_string();
    assert!(text.starts_with("graph(%x : f32[*, 1, 28, 28]):"), "{text}");
    for op in [
        "aten::convolution",
        "aten::batch_norm",
        "aten::max_pool2d",
        "aten::linear",
    ] {
        assert!(text.contains(op), "{op} in\n{text}");
    }
    assert!(text.contains("%conv1.weight"), "{text}");
}

#[test]
fn functions_of_several_inputs_and_outputs_trace() {
    let mut g = Generator::new(4);
    let w = Variable::parameter(Tensor::randn_with(&[6, 6], &mut g));
    let norm = LayerNorm::new(&[6]).unwrap();
    let f = |xs: &[Variable]| -> torchlet_autograd::Result<Vec<Variable>> {
        let (x, y) = (&xs[0], &xs[1]);
        let h = x.matmul(&w)?.add(y)?.gelu();
        let n = norm.forward(&h).map_err(|e| match e {
            torchlet_nn::NnError::Autograd(e) => e,
            other => panic!("{other}"),
        })?;
        let s = n.softmax(-1)?.mul_scalar(2.0).reshape(&[-1, 3, 2])?;
        Ok(vec![s.sum_dims(&[1], false)?, h.tanh().log_softmax(0)?])
    };
    let mut named = vec![("w".to_string(), w.clone())];
    named.extend(norm.named_parameters());
    let (x, y) = (
        Tensor::randn_with(&[4, 6], &mut g),
        Tensor::randn_with(&[4, 6], &mut g),
    );
    let script = trace_fn(f, &named, &[x.clone(), y.clone()]).unwrap();
    let want = f(&[Variable::constant(x.clone()), Variable::constant(y.clone())]).unwrap();
    let got = script.forward(&[x, y]).unwrap();
    assert_eq!(got.len(), 2);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(bits(g), bits(&w.data()));
    }
    let names: Vec<&str> = script.constants().map(|(n, _)| n).collect();
    assert!(
        names.contains(&"w") && names.contains(&"weight"),
        "{names:?}"
    );
    assert_eq!(script.graph().inputs[1].name, "x1");
}

#[test]
fn an_op_sized_by_the_batch_fixes_it() {
    // A tensor made with the batch size inside forward is a constant of
    // the graph: the trace finds the graph wrong at another batch.
    let f = |xs: &[Variable]| -> torchlet_autograd::Result<Vec<Variable>> {
        let n = xs[0].shape()[0];
        let ones = Variable::constant(Tensor::ones(&[n, 3]));
        Ok(vec![xs[0].add(&ones)?])
    };
    let x = Tensor::rand(&[4, 3]);
    let script = trace_fn(f, &[], std::slice::from_ref(&x)).unwrap();
    assert!(script.graph().fixed_batch.is_some());
    assert_eq!(script.graph().inputs[0].dims[0], Dim::Fixed(4));
    let want = x.add_scalar(1.0);
    assert_eq!(bits(&script.forward(&[x]).unwrap()[0]), bits(&want));
    let err = script
        .forward(&[Tensor::rand(&[5, 3])])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expected f32[4, 3]") && err.contains("the batch is fixed"),
        "{err}"
    );
}

#[test]
fn inputs_that_do_not_fit_are_refused_by_name() {
    let model = Linear::new(3, 2).unwrap();
    let script = trace(&model, &[Tensor::rand(&[4, 3])]).unwrap();
    let err = |xs: &[Tensor]| match script.forward(xs) {
        Err(e @ JitError::Input(_)) => e.to_string(),
        other => panic!("{other:?}"),
    };
    assert!(err(&[]).contains("takes 1 inputs, 0 were given"));
    let e = err(&[Tensor::rand(&[4, 5])]);
    assert!(
        e.contains("input x: expected f32[*, 3], got F32[4, 5]"),
        "{e}"
    );
    let e = err(&[Tensor::rand(&[4, 3, 1])]);
    assert!(e.contains("got F32[4, 3, 1]"), "{e}");
    let e = err(&[Tensor::zeros_dtype(&[4, 3], torchlet_tensor::DType::F64)]);
    assert!(e.contains("got F64[4, 3]"), "{e}");
}

#[test]
fn what_the_jit_cannot_run_is_refused_by_name() {
    // Lengths given as numbers would be frozen into the graph.
    let lstm = LSTM::new(4, 5).unwrap();
    let frozen = |xs: &[Variable]| {
        lstm.forward_with_lengths(&xs[0], &[3, 2], None)
            .map(|(y, _, _)| vec![y])
    };
    let err = trace_fn(
        frozen,
        &lstm.named_parameters(),
        &[Tensor::rand(&[3, 2, 4])],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("op 0 cannot be traced: RNN with lengths given as a slice"),
        "{err}"
    );
    let model = Linear::new(3, 2).unwrap();
    let err = trace(&model, &[Tensor::rand(&[4, 3]), Tensor::rand(&[4, 3])])
        .unwrap_err()
        .to_string();
    assert!(err.contains("takes one input, 2 were given"), "{err}");
    let err = trace(&model, &[Tensor::rand(&[4, 7])])
        .unwrap_err()
        .to_string();
    assert!(err.contains("the forward failed on the example"), "{err}");
}

#[test]
fn a_batch_sized_output_count_or_a_value_taken_from_the_example_fixes_the_batch() {
    // split(1, 0) makes one output per row.
    let split = |xs: &[Variable]| xs[0].split(1, 0);
    let script = trace_fn(split, &[], &[Tensor::rand(&[4, 3])]).unwrap();
    let why = script.graph().fixed_batch.clone().unwrap();
    assert!(why.contains("outputs"), "{why}");
    assert!(script.forward(&[Tensor::rand(&[8, 3])]).is_err());
    // A scale read from the example's values is a constant of the graph.
    let scaled = |xs: &[Variable]| -> torchlet_autograd::Result<Vec<Variable>> {
        let total = xs[0].data().abs().sum().item::<f32>()?;
        Ok(vec![xs[0].div_scalar(total as f64)])
    };
    let script = trace_fn(scaled, &[], &[Tensor::rand(&[4, 3])]).unwrap();
    assert!(script.graph().fixed_batch.is_some());
}

#[test]
fn a_layer_called_twice_folds_into_uniquely_named_constants() {
    use torchlet_nn::{BatchNorm2d, Conv2d, Conv2dOptions};
    torchlet_tensor::manual_seed(2);
    let conv = Conv2d::with_options(2, 2, [3, 3], Conv2dOptions::default().padding(1)).unwrap();
    let bn = BatchNorm2d::new(2).unwrap();
    bn.train();
    bn.forward(&Variable::constant(Tensor::randn(&[4, 2, 5, 5])))
        .unwrap();
    bn.eval();
    let f = |xs: &[Variable]| -> torchlet_nn::Result<Vec<Variable>> {
        let once = bn.forward(&conv.forward(&xs[0])?)?.relu();
        Ok(vec![bn.forward(&conv.forward(&once)?)?])
    };
    let prefixed = |p: &'static str, v: Vec<(String, Variable)>| -> Vec<(String, Variable)> {
        v.into_iter()
            .map(|(n, v)| (format!("{p}.{n}"), v))
            .collect()
    };
    let mut named = prefixed("conv", conv.named_parameters());
    named.extend(prefixed("bn", bn.named_parameters()));
    named.extend(prefixed("bn", bn.named_buffers()));
    // Names must be unique.
    let twice = [
        named[0].clone(),
        ("conv.weight".to_string(), named[1].1.clone()),
    ];
    let err = trace_fn(f, &twice, &[Tensor::randn(&[3, 2, 5, 5])])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("conv.weight") && err.contains("twice"),
        "{err}"
    );
    let x = Tensor::randn(&[3, 2, 5, 5]);
    let fast = trace_fn(f, &named, std::slice::from_ref(&x))
        .unwrap()
        .optimize()
        .unwrap();
    let names: Vec<&str> = fast.constants().map(|(n, _)| n).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    // It saves and loads (files key constants by name).
    let back = torchlet_jit::ScriptModule::from_bytes(&fast.to_bytes().unwrap()).unwrap();
    assert_eq!(
        bits(&back.forward(std::slice::from_ref(&x)).unwrap()[0]),
        bits(&fast.forward(&[x]).unwrap()[0])
    );
}

#[test]
fn a_value_read_out_as_numbers_during_the_trace_is_refused() {
    // A data-dependent branch: frozen for the example, so refused.
    let branchy = |xs: &[Variable]| -> torchlet_autograd::Result<Vec<Variable>> {
        let s = xs[0].sum();
        let y = if s.item::<f32>()? > 0.0 {
            xs[0].relu()
        } else {
            xs[0].neg()
        };
        Ok(vec![y])
    };
    let err = trace_fn(branchy, &[], &[Tensor::rand(&[2, 3])])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("read the output of op 0 (aten::sum) with Variable::item")
            && err.contains("data-dependent control flow"),
        "{err}"
    );
    let reads_input = |xs: &[Variable]| -> torchlet_autograd::Result<Vec<Variable>> {
        let n = xs[0].to_vec::<f32>()?.len();
        Ok(vec![xs[0].mul_scalar(n as f64)])
    };
    let err = trace_fn(reads_input, &[], &[Tensor::rand(&[2, 3])])
        .unwrap_err()
        .to_string();
    assert!(err.contains("read input 0 with Variable::to_vec"), "{err}");
    // A parameter read as a number is a constant of the graph: allowed.
    let scale = Variable::constant(Tensor::from_vec(vec![2.0f32], &[1]).unwrap());
    let named = [("scale".to_string(), scale.clone())];
    let by_param = |xs: &[Variable]| -> torchlet_autograd::Result<Vec<Variable>> {
        Ok(vec![xs[0].mul_scalar(f64::from(scale.item::<f32>()?))])
    };
    let script = trace_fn(by_param, &named, &[Tensor::rand(&[2, 3])]).unwrap();
    let x = Tensor::rand(&[4, 3]);
    assert_eq!(
        script.forward(std::slice::from_ref(&x)).unwrap()[0]
            .to_vec::<f32>()
            .unwrap(),
        x.mul_scalar(2.0).to_vec::<f32>().unwrap()
    );
}

#[test]
fn a_sequence_dim_is_free_only_when_the_graph_allows_it() {
    use torchlet_jit::{trace_fn_with, TraceOptions};
    let seq = TraceOptions::default().sequence_dim(0, 1);
    // Softmax over the sequence holds no length.
    let softmax = |xs: &[Variable]| xs[0].softmax(1).map(|y| vec![y]);
    let script = trace_fn_with(softmax, &[], &[Tensor::rand(&[2, 3])], &seq).unwrap();
    assert_eq!(script.graph().inputs[0].signature(), "f32[*, T]");
    let x = Tensor::rand(&[4, 7]);
    let want = Variable::constant(x.clone()).softmax(1).unwrap().data();
    assert_eq!(
        bits(&script.forward(std::slice::from_ref(&x)).unwrap()[0]),
        bits(&want)
    );
    // A tensor sized by the traced length is a constant of the graph.
    let positions = |xs: &[Variable]| -> torchlet_autograd::Result<Vec<Variable>> {
        let t = xs[0].shape()[1];
        let pos = Tensor::arange(0.0f32, t as f32, 1.0).unwrap();
        Ok(vec![xs[0].add(&Variable::constant(pos))?])
    };
    let err = trace_fn_with(positions, &[], &[Tensor::rand(&[2, 3])], &seq)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the sequence dims [(0, 1)] cannot be free")
            && err.contains("holds the traced length 3"),
        "{err}"
    );
    let bad = TraceOptions::default().sequence_dim(0, 5);
    let err = trace_fn_with(softmax, &[], &[Tensor::rand(&[2, 3])], &bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("input 0 of shape [2, 3] has no dim 5"),
        "{err}"
    );
}
