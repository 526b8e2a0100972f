//! The backward engine's contract: accumulation, graph freeing and
//! `retain_graph`, `no_grad`, `detach`, shared subexpressions, errors,
//! anomaly mode, and memory that stays flat over many steps.

use std::sync::Mutex;

use torchlet_autograd::{
    detect_anomaly, enable_grad, grad, is_anomaly_enabled, is_grad_enabled, no_grad,
    set_detect_anomaly, AutogradError, Result, Variable,
};
use torchlet_tensor::{DType, Generator, Tensor};

/// Tests in this file run one at a time, so the memory test measures only
/// its own allocations.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn param(values: &[f64]) -> Variable {
    Variable::parameter(Tensor::from_vec(values.to_vec(), &[values.len()]).unwrap())
}

fn grad_of(v: &Variable) -> Vec<f64> {
    v.grad().expect("a gradient").to_vec::<f64>().unwrap()
}

#[test]
fn gradients_accumulate_until_zero_grad() {
    let _s = serial();
    let x = param(&[1.0, 2.0, 3.0]);
    let w = param(&[0.5, -1.0, 2.0]);
    for _ in 0..2 {
        x.mul(&w).unwrap().sum().backward().unwrap();
    }
    assert_eq!(
        grad_of(&x),
        vec![1.0, -2.0, 4.0],
        "two backward passes add up"
    );
    assert_eq!(grad_of(&w), vec![2.0, 4.0, 6.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
    x.mul(&w).unwrap().sum().backward().unwrap();
    assert_eq!(grad_of(&x), vec![0.5, -1.0, 2.0], "zero_grad starts afresh");
    assert_eq!(grad_of(&w), vec![3.0, 6.0, 9.0], "w was not zeroed");
}

#[test]
fn grad_returns_gradients_without_touching_dot_grad() {
    let _s = serial();
    let x = param(&[1.0, 2.0]);
    let unused = param(&[5.0]);
    let y = x.square().sum();
    let gs = grad(&[&y], &[&x, &unused], None, false, false).unwrap();
    assert_eq!(
        gs[0].as_ref().unwrap().to_vec::<f64>().unwrap(),
        vec![2.0, 4.0]
    );
    assert!(
        gs[1].is_none(),
        "an input the output does not depend on gets None"
    );
    assert!(x.grad().is_none());
}

#[test]
fn backward_twice_needs_retain_graph() {
    let _s = serial();
    let x = param(&[1.0, -2.0]);
    let y = x.exp().sum();
    y.backward().unwrap();
    let err = y.backward().unwrap_err();
    assert!(err.to_string().contains("second time"), "{err}");
    assert!(matches!(err, AutogradError::Graph { .. }));

    // With retain_graph the graph survives for another pass.
    x.zero_grad();
    let y = x.exp().sum();
    let one = Tensor::scalar(1.0f64);
    y.backward_opts(&one, true, false).unwrap();
    y.backward_opts(&one, true, false).unwrap();
    y.backward().unwrap(); // the last one may free it
    let e: Vec<f64> = [1.0f64, -2.0].iter().map(|v| 3.0 * v.exp()).collect();
    assert_eq!(grad_of(&x), e);
    assert!(y
        .backward()
        .unwrap_err()
        .to_string()
        .contains("second time"));

    // The same through grad().
    let y = x.sin().sum();
    grad(&[&y], &[&x], None, true, false).unwrap();
    grad(&[&y], &[&x], None, false, false).unwrap();
    let err = grad(&[&y], &[&x], None, false, false).unwrap_err();
    assert!(err.to_string().contains("second time"), "{err}");
}

#[test]
fn no_grad_records_nothing() {
    let _s = serial();
    let w = param(&[1.0, 2.0]);
    assert!(is_grad_enabled());
    let y = no_grad(|| {
        assert!(!is_grad_enabled());
        let inner = enable_grad(|| w.mul_scalar(3.0));
        assert!(
            inner.requires_grad() && inner.grad_fn().is_some(),
            "enable_grad inside no_grad records"
        );
        assert!(!is_grad_enabled(), "leaving enable_grad restores no_grad");
        w.mul(&w).unwrap().exp().sum()
    });
    assert!(is_grad_enabled(), "leaving no_grad restores recording");
    assert!(!y.requires_grad());
    assert!(y.grad_fn().is_none());
    assert!(y.is_leaf());
    assert!(y.backward().is_err(), "nothing to differentiate");
    assert!(w.grad().is_none());
    // Ops on constants record nothing either.
    let c = Variable::constant(Tensor::ones(&[2]));
    assert!(c.exp().grad_fn().is_none());
    // Recording is back.
    let z = w.mul_scalar(2.0);
    assert_eq!(z.grad_fn(), Some("MulBackward1"));
}

#[test]
fn detach_cuts_the_graph() {
    let _s = serial();
    let x = param(&[2.0, 3.0]);
    let d = x.detach();
    assert!(!d.requires_grad() && d.grad_fn().is_none());
    assert_eq!(d.to_vec::<f64>().unwrap(), vec![2.0, 3.0]);
    // y = x * stop_gradient(x): dy/dx = x, not 2x.
    x.mul(&d).unwrap().sum().backward().unwrap();
    assert_eq!(grad_of(&x), vec![2.0, 3.0]);
    // Detaching an intermediate stops the gradient there.
    x.zero_grad();
    let h = x.exp();
    let y = h.detach().mul(&x).unwrap().add(&h).unwrap().sum(); // e^x (detached) * x + e^x
    y.backward().unwrap();
    let want: Vec<f64> = [2.0f64, 3.0].iter().map(|v| 2.0 * v.exp()).collect();
    assert_eq!(grad_of(&x), want);
    // A detached leaf requiring grad starts its own graph.
    let r = h.detach_requiring_grad();
    assert!(r.is_leaf() && r.requires_grad());
    r.square().sum().backward().unwrap();
    assert!(r.grad().is_some());
}

#[test]
fn shared_subexpressions_sum_their_gradients() {
    let _s = serial();
    // x used twice by one op.
    let x = param(&[1.5, -2.0]);
    x.mul(&x).unwrap().sum().backward().unwrap();
    assert_eq!(grad_of(&x), vec![3.0, -4.0]);

    // A diamond: a = e^x feeds both sin and cos, which meet again.
    let x = param(&[0.3, -0.7, 1.1]);
    let a = x.exp();
    let y = a.sin().add(&a.cos()).unwrap().sum();
    y.backward().unwrap();
    for (g, v) in grad_of(&x).iter().zip([0.3f64, -0.7, 1.1]) {
        let a = v.exp();
        let want = (a.cos() - a.sin()) * a;
        assert!((g - want).abs() < 1e-14, "{g} vs {want}");
    }

    // A longer diamond through several paths of different lengths.
    let x = param(&[2.0]);
    let b = x.mul_scalar(3.0);
    let c = b.square();
    let y = b.add(&c).unwrap().add(&x).unwrap().mul(&b).unwrap().sum(); // (3x + 9x² + x) 3x = 12x² + 27x³
    y.backward().unwrap();
    assert_eq!(grad_of(&x), vec![24.0 * 2.0 + 81.0 * 4.0]);
}

#[test]
fn backward_on_a_non_scalar_is_an_error() {
    let _s = serial();
    let x = param(&[1.0, 2.0, 3.0]);
    let y = x.mul_scalar(2.0);
    let err = y.backward().unwrap_err();
    assert!(err.to_string().contains("scalar"), "{err}");
    assert!(x.grad().is_none());
    // With an explicit gradient it works.
    y.backward_with(&Tensor::from_vec(vec![1.0f64, 0.0, -1.0], &[3]).unwrap())
        .unwrap();
    assert_eq!(grad_of(&x), vec![2.0, 0.0, -2.0]);
    // grad() without grad_outputs needs scalars too.
    let y = x.exp();
    assert!(grad(&[&y], &[&x], None, false, false)
        .unwrap_err()
        .to_string()
        .contains("scalar"));
    // A gradient of the wrong shape is refused.
    let err = y.backward_with(&Tensor::ones(&[2])).unwrap_err();
    assert!(err.to_string().contains("shape"), "{err}");
}

#[test]
fn anomaly_mode_names_the_op() {
    let _s = serial();
    // sqrt at 0: the gradient 1 / (2 sqrt 0) is infinite.
    let run_sqrt = || -> Result<()> {
        let x = param(&[0.0, 4.0]);
        x.sqrt().sum().backward()
    };
    assert!(!is_anomaly_enabled());
    run_sqrt().expect("without anomaly mode an infinite gradient is just a value");
    let err = detect_anomaly(run_sqrt).unwrap_err();
    assert!(
        !is_anomaly_enabled(),
        "detect_anomaly restores the previous setting"
    );
    assert_eq!(
        err,
        AutogradError::Anomaly {
            op: "SqrtBackward0",
            input: 0,
            what: "inf"
        }
    );
    assert!(err.to_string().contains("SqrtBackward0"), "{err}");

    // log at 0, deeper in a graph.
    let err = detect_anomaly(|| -> Result<()> {
        let x = param(&[0.0, 1.0]);
        let w = Variable::constant(Tensor::from_vec(vec![2.0f64, 1.0], &[2])?); // a parameter would get log 0 = -inf
        x.log().mul(&w)?.sum().backward()
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            AutogradError::Anomaly {
                op: "LogBackward0",
                ..
            }
        ),
        "{err}"
    );

    // NaN: a zero gradient times sqrt's infinite derivative.
    set_detect_anomaly(true);
    let x = param(&[0.0]);
    let err = x.sqrt().mul_scalar(0.0).sum().backward().unwrap_err();
    set_detect_anomaly(false);
    assert_eq!(
        err,
        AutogradError::Anomaly {
            op: "SqrtBackward0",
            input: 0,
            what: "NaN"
        }
    );
    assert!(err.to_string().contains("NaN"), "{err}");

    // A healthy graph passes in anomaly mode.
    detect_anomaly(|| param(&[1.0, 2.0]).sqrt().sum().backward()).unwrap();
}

#[test]
fn create_graph_gradients_can_be_differentiated() {
    let _s = serial();
    let x = param(&[1.0, 2.0]);
    let y = x.pow(3.0).unwrap().sum();
    y.backward_opts(&Tensor::scalar(1.0f64), false, true)
        .unwrap();
    let g = x.grad_variable().unwrap();
    assert!(g.requires_grad() && g.grad_fn().is_some());
    assert_eq!(g.to_vec::<f64>().unwrap(), vec![3.0, 12.0]);
    let d2 = grad(&[&g.sum()], &[&x], None, false, false).unwrap()[0]
        .clone()
        .unwrap();
    assert_eq!(d2.to_vec::<f64>().unwrap(), vec![6.0, 12.0]);
    // A plain backward leaves a gradient with no graph.
    x.zero_grad();
    x.pow(3.0).unwrap().sum().backward().unwrap();
    assert!(!x.grad_variable().unwrap().requires_grad());
}

#[test]
fn only_leaves_can_be_updated() {
    let _s = serial();
    let x = param(&[1.0]);
    let y = x.exp();
    assert!(y.set_data(Tensor::ones(&[1])).is_err());
    assert!(y.update_data(|_| ()).is_err());
    x.update_data(|t| t.add_scaled_(&Tensor::ones(&[1]).to_dtype(DType::F64), 2.0))
        .unwrap()
        .unwrap();
    assert_eq!(x.to_vec::<f64>().unwrap(), vec![3.0]);
    // The graph recorded before the update keeps the old value.
    y.backward().unwrap();
    assert_eq!(grad_of(&x), vec![1.0f64.exp()]);
}

/// Resident memory in bytes, from `/proc/self/statm`.
fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn memory_stays_flat_over_many_steps() {
    let _s = serial();
    if rss_bytes().is_none() {
        return; // no procfs
    }
    let mut g = Generator::new(21);
    let mut normal = |shape: &[usize]| Tensor::normal_with(shape, 0.0, 0.5, DType::F32, &mut g);
    let (w1, b1, w2, b2) = (normal(&[4, 8]), normal(&[8]), normal(&[8, 2]), normal(&[2]));
    let params: Vec<Variable> = [w1, b1, w2, b2]
        .into_iter()
        .map(Variable::parameter)
        .collect();
    let (x, t) = (
        Variable::constant(normal(&[16, 4])),
        Variable::constant(normal(&[16, 2])),
    );
    let step = || {
        let h = x
            .matmul(&params[0])
            .unwrap()
            .add(&params[1])
            .unwrap()
            .tanh();
        let y = h.matmul(&params[2]).unwrap().add(&params[3]).unwrap();
        let loss = y.sub(&t).unwrap().square().mean();
        loss.backward().unwrap();
        for p in &params {
            let g = p.grad().unwrap();
            p.update_data(|d| d.add_scaled_(&g, -0.01))
                .unwrap()
                .unwrap();
            p.zero_grad();
        }
        loss.item::<f32>().unwrap()
    };
    let first = step();
    for _ in 0..500 {
        step(); // warm-up: allocator pools and thread-locals reach their size
    }
    let before = rss_bytes().unwrap();
    let start = std::time::Instant::now();
    let mut last = first;
    for _ in 0..10_000 {
        last = step();
    }
    let elapsed = start.elapsed();
    let after = rss_bytes().unwrap();
    assert!(
        last.is_finite() && last < first,
        "training works: {first} -> {last}"
    );
    let growth = after.saturating_sub(before);
    assert!(
        growth < 2 << 20,
        "RSS grew by {growth} bytes over 10,000 steps ({before} -> {after})"
    );
    eprintln!("10,000 steps in {elapsed:?}, RSS {before} -> {after}");
}

#[test]
fn whole_tensor_max_shares_the_gradient_among_ties() {
    // PyTorch: torch.tensor([2., 2., 1.], requires_grad=True).max().backward() gives [0.5, 0.5, 0].
    let x = Variable::parameter(Tensor::from_vec(vec![2.0f32, 2.0, 1.0], &[3]).unwrap());
    x.max().unwrap().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec::<f32>().unwrap(),
        vec![0.5, 0.5, 0.0]
    );
    let y = Variable::parameter(Tensor::from_vec(vec![3.0f32, -1.0, -1.0], &[3]).unwrap());
    y.min().unwrap().backward().unwrap();
    assert_eq!(
        y.grad().unwrap().to_vec::<f32>().unwrap(),
        vec![0.0, 0.5, 0.5]
    );
}
