//! nn's PyTorch-shaped constructors and calls: tensors straight into
//! modules and losses, loss builders with PyTorch's defaults, sizes as one
//! number or a pair, and `Module::check` for hand-written modules.

use torchlet_autograd::Variable;
use torchlet_nn::{
    AvgPool2d, BCEWithLogitsLoss, BatchNorm1d, Conv2d, Conv2dOptions, CrossEntropyLoss, HuberLoss,
    KLDivLoss, KLDivReduction, Linear, MSELoss, MaxPool2d, Module, Reduction, Result, Sequential,
    SmoothL1Loss,
};
use torchlet_tensor::Tensor;

#[test]
fn modules_and_losses_take_tensors() {
    let fc = Linear::new(3, 2).unwrap();
    let x = Tensor::rand(&[4, 3]);
    let by_call = fc.call(&x).unwrap();
    let by_forward = fc.forward(&Variable::constant(x.clone())).unwrap();
    assert!(by_call.equal(&by_forward));
    // Gradients still reach the parameters through a tensor input.
    let y = Tensor::from_vec(vec![0i64, 1, 1, 0], &[4]).unwrap();
    let loss = CrossEntropyLoss::new().forward(&by_call, &y).unwrap();
    loss.backward().unwrap();
    assert!(fc.parameters().iter().all(|p| p.grad().is_some()));
    // A target given as a variable or a tensor is the same loss.
    let t = Tensor::rand(&[4, 2]);
    let a = MSELoss::new().forward(&by_forward, &t).unwrap();
    let b = MSELoss::new()
        .forward(&by_forward, Variable::constant(t))
        .unwrap();
    assert!(a.equal(&b));
}

#[test]
fn loss_builders_match_pytorch_defaults_and_keywords() {
    let input = Variable::constant(Tensor::from_slice(&[0.0, 2.0, -3.0], &[3]).unwrap());
    let target = Tensor::from_slice(&[0.5, 0.0, 0.0], &[3]).unwrap();
    let item = |v: Variable| v.item::<f64>().unwrap();
    // SmoothL1 (beta 1): 0.125, 1.5, 2.5 -> mean 4.125 / 3; sum 4.125.
    assert!(
        (item(SmoothL1Loss::new().forward(&input, &target).unwrap()) - 4.125 / 3.0).abs() < 1e-12
    );
    let sum = SmoothL1Loss::new().reduction(Reduction::Sum);
    assert!((item(sum.forward(&input, &target).unwrap()) - 4.125).abs() < 1e-12);
    // Huber with delta 2: 0.125, 2, 4 -> sum 6.125.
    let huber = HuberLoss::new()
        .delta(2.0)
        .unwrap()
        .reduction(Reduction::Sum);
    assert!((item(huber.forward(&input, &target).unwrap()) - 6.125).abs() < 1e-12);
    assert!(HuberLoss::new().delta(0.0).is_err());
    assert!(SmoothL1Loss::new().beta(-1.0).is_err());
    assert_eq!(
        CrossEntropyLoss::new()
            .label_smoothing(0.1)
            .ignore_index(3)
            .label_smoothing,
        0.1
    );
    let kl = KLDivLoss::new()
        .reduction(KLDivReduction::BatchMean)
        .log_target(true);
    assert_eq!(
        (kl.reduction, kl.log_target),
        (KLDivReduction::BatchMean, true)
    );
    let pw = BCEWithLogitsLoss::new().pos_weight(Tensor::ones(&[1]));
    assert!(pw.pos_weight.is_some() && pw.weight.is_none());
}

#[test]
fn sizes_are_one_number_or_a_pair() {
    let square =
        Conv2d::with_options(1, 2, 3, Conv2dOptions::default().stride(2).padding(1)).unwrap();
    let pair = Conv2d::with_options(
        1,
        2,
        [3, 3],
        Conv2dOptions::default().stride([2, 2]).padding((1, 1)),
    )
    .unwrap();
    let x = Tensor::rand(&[1, 1, 9, 9]);
    assert_eq!(
        square.call(&x).unwrap().shape(),
        pair.call(&x).unwrap().shape()
    );
    let wide =
        Conv2d::with_options(1, 2, (1, 3), Conv2dOptions::default().padding([0, 1])).unwrap();
    assert_eq!(wide.call(&x).unwrap().shape(), [1, 2, 9, 9]);
    assert_eq!(MaxPool2d::new(3).kernel_size, [3, 3]);
    let avg = AvgPool2d::with_stride([2, 1], 1, (0, 0));
    assert_eq!((avg.kernel_size, avg.stride), ([2, 1], [1, 1]));
    assert_eq!(avg.call(&x).unwrap().shape(), [1, 1, 8, 9]);
}

/// A hand-written module that forgets to register its second layer.
struct Forgetful {
    a: Linear,
    b: Linear,
}

impl Module for Forgetful {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        self.b.forward(&self.a.forward(x)?.relu())
    }
    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![("a", &self.a)]
    }
}

#[test]
fn check_finds_parameters_left_out_of_children() {
    let forgetful = Forgetful {
        a: Linear::new(3, 4).unwrap(),
        b: Linear::new(4, 1).unwrap(),
    };
    let x = Tensor::rand(&[2, 3]);
    let err = forgetful.check(&x).unwrap_err().to_string();
    assert!(
        err.contains("2 trainable variables") && err.contains("Forgetful"),
        "{err}"
    );
    // Registered modules pass, and a parameter given as the input is not
    // counted.
    let fine = Sequential::new()
        .append(Linear::new(3, 4).unwrap())
        .append(Linear::new(4, 1).unwrap());
    fine.check(&x).unwrap();
    fine.check(Variable::parameter(x.clone())).unwrap();
    // The check runs in eval mode: BatchNorm's statistics stay put, and
    // the training flag comes back.
    let bn = Sequential::new().append(BatchNorm1d::new(3).unwrap());
    let before = bn.state_dict();
    bn.check(&x).unwrap();
    assert!(bn.is_training());
    let after = bn.state_dict();
    for (k, v) in &before {
        assert!(v.equal(&after[k]), "{k} changed");
    }
}

#[test]
fn class_losses_refuse_a_target_that_requires_grad() {
    let logits = Variable::parameter(Tensor::zeros(&[2, 3]));
    let soft = Variable::parameter(Tensor::full(&[2, 3], 1.0f32 / 3.0));
    let err = CrossEntropyLoss::new()
        .forward(&logits, &soft)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("CrossEntropyLoss") && err.contains("detach"),
        "{err}"
    );
    CrossEntropyLoss::new()
        .forward(&logits, soft.detach())
        .unwrap();
}
