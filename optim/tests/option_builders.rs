//! Optimizer options built as PyTorch's keyword arguments:
//! `AdamOptions::default().lr(3e-4)` is `Adam(params, lr=3e-4)`, and the
//! values are checked when the optimizer is built.

use torchlet_autograd::Variable;
use torchlet_optim::{
    Adagrad, AdagradOptions, Adam, AdamOptions, RmsProp, RmsPropOptions, Sgd, SgdOptions,
    SparseAdamOptions,
};
use torchlet_tensor::Tensor;

#[test]
fn each_setter_sets_its_field_and_keeps_the_defaults() {
    let adam = AdamOptions::default()
        .lr(3e-4)
        .betas((0.8, 0.99))
        .weight_decay(0.1)
        .amsgrad(true);
    assert_eq!(
        adam,
        AdamOptions {
            lr: 3e-4,
            betas: (0.8, 0.99),
            weight_decay: 0.1,
            amsgrad: true,
            ..Default::default()
        }
    );
    let sgd = SgdOptions::default()
        .lr(0.1)
        .momentum(0.9)
        .nesterov(true)
        .maximize(true);
    assert_eq!(
        sgd,
        SgdOptions {
            lr: 0.1,
            momentum: 0.9,
            nesterov: true,
            maximize: true,
            ..Default::default()
        }
    );
    let rms = RmsPropOptions::default()
        .alpha(0.9)
        .centered(true)
        .eps(1e-6);
    assert_eq!(
        (rms.alpha, rms.centered, rms.eps, rms.lr),
        (0.9, true, 1e-6, 1e-2)
    );
    let ada = AdagradOptions::default()
        .lr_decay(0.01)
        .initial_accumulator_value(0.5);
    assert_eq!((ada.lr_decay, ada.initial_accumulator_value), (0.01, 0.5));
    assert_eq!(SparseAdamOptions::default().lr(0.5).lr, 0.5);
}

#[test]
fn values_are_checked_when_the_optimizer_is_built() {
    let p = || vec![Variable::parameter(Tensor::ones(&[2]))];
    assert!(Adam::new(p(), AdamOptions::default().lr(-1.0)).is_err());
    assert!(Sgd::new(p(), SgdOptions::default().nesterov(true)).is_err()); // needs momentum
    assert!(RmsProp::new(p(), RmsPropOptions::default().alpha(-0.5)).is_err());
    assert!(Adagrad::new(p(), AdagradOptions::default().eps(-1.0)).is_err());
    assert!(Adam::new(p(), AdamOptions::default().lr(1e-3)).is_ok());
}
