//! Unit tests: each optimizer against a scalar transcription of PyTorch's
//! algorithm box, validation, parameter groups and clipping. The
//! schedulers' tests live beside them in `lr_scheduler/`.

use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

use crate::lr_scheduler::{
    CosineAnnealingLr, LinearLr, LinearLrOptions, ReduceLrOnPlateau, ReduceLrOnPlateauOptions,
    StepLr,
};
use crate::*;

const C: [f64; 2] = [1.0, 3.0];
const W0: [f64; 2] = [1.0, -0.5];

/// `loss = sum(C * w²)`, gradient `2 C w`.
fn backward(w: &Variable) {
    let c = Variable::constant(Tensor::from_vec(C.map(|c| c as f32).to_vec(), &[2]).unwrap());
    w.mul(w).unwrap().mul(&c).unwrap().sum().backward().unwrap();
}

fn param() -> Variable {
    Variable::parameter(Tensor::from_vec(W0.map(|w| w as f32).to_vec(), &[2]).unwrap())
}

/// Runs `steps` steps of `opt` and of the scalar reference `reference`
/// (which maps `(element index, w, g)` to the new `w`) and compares.
fn check_against(
    mut opt: impl Optimizer,
    w: &Variable,
    steps: usize,
    mut reference: impl FnMut(usize, f64, f64) -> f64,
) {
    let mut want = W0;
    for step in 0..steps {
        opt.zero_grad();
        backward(w);
        opt.step().unwrap();
        for i in 0..2 {
            let g = 2.0 * C[i] * want[i];
            want[i] = reference(i, want[i], g);
        }
        let got = w.data().to_vec::<f32>().unwrap();
        for i in 0..2 {
            assert!(
                (got[i] as f64 - want[i]).abs() < 1e-5,
                "step {step} element {i}: got {}, want {}",
                got[i],
                want[i]
            );
        }
    }
}

fn sgd_reference(o: SgdOptions) -> impl FnMut(usize, f64, f64) -> f64 {
    let mut buf: [Option<f64>; 2] = [None, None];
    move |i, w, g| {
        let mut g = if o.maximize { -g } else { g };
        g += o.weight_decay * w;
        if o.momentum != 0.0 {
            let b = match buf[i] {
                None => g,
                Some(b) => o.momentum * b + (1.0 - o.dampening) * g,
            };
            buf[i] = Some(b);
            g = if o.nesterov { g + o.momentum * b } else { b };
        }
        w - o.lr * g
    }
}

#[test]
fn sgd_matches_reference() {
    let variants = [
        SgdOptions {
            lr: 0.1,
            ..Default::default()
        },
        SgdOptions {
            lr: 0.05,
            momentum: 0.9,
            ..Default::default()
        },
        SgdOptions {
            lr: 0.05,
            momentum: 0.5,
            dampening: 0.3,
            weight_decay: 0.1,
            ..Default::default()
        },
        SgdOptions {
            lr: 0.05,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.01,
            ..Default::default()
        },
        SgdOptions {
            lr: 0.01,
            momentum: 0.9,
            maximize: true,
            ..Default::default()
        },
    ];
    for o in variants {
        let w = param();
        check_against(
            Sgd::new(vec![w.clone()], o).unwrap(),
            &w,
            5,
            sgd_reference(o),
        );
    }
}

fn adam_reference(o: AdamOptions, decoupled: bool) -> impl FnMut(usize, f64, f64) -> f64 {
    let (mut m, mut v, mut vmax, mut t) = ([0.0; 2], [0.0; 2], [0.0f64; 2], [0i32; 2]);
    move |i, w, g| {
        let mut g = if o.maximize { -g } else { g };
        let mut w = w;
        if decoupled {
            w *= 1.0 - o.lr * o.weight_decay;
        } else {
            g += o.weight_decay * w;
        }
        t[i] += 1;
        let (b1, b2) = o.betas;
        m[i] = b1 * m[i] + (1.0 - b1) * g;
        v[i] = b2 * v[i] + (1.0 - b2) * g * g;
        let mhat = m[i] / (1.0 - b1.powi(t[i]));
        let vhat = if o.amsgrad {
            vmax[i] = vmax[i].max(v[i]);
            vmax[i]
        } else {
            v[i]
        } / (1.0 - b2.powi(t[i]));
        w - o.lr * mhat / (vhat.sqrt() + o.eps)
    }
}

#[test]
fn adam_and_adamw_match_reference() {
    let variants = [
        AdamOptions {
            lr: 0.01,
            ..Default::default()
        },
        AdamOptions {
            lr: 0.01,
            betas: (0.8, 0.99),
            weight_decay: 0.1,
            amsgrad: true,
            ..Default::default()
        },
        AdamOptions {
            lr: 0.01,
            maximize: true,
            ..Default::default()
        },
    ];
    for o in variants {
        let w = param();
        check_against(
            Adam::new(vec![w.clone()], o).unwrap(),
            &w,
            6,
            adam_reference(o, false),
        );
        let o = AdamOptions {
            weight_decay: o.weight_decay.max(0.05),
            ..o
        };
        let w = param();
        check_against(
            AdamW::new(vec![w.clone()], o).unwrap(),
            &w,
            6,
            adam_reference(o, true),
        );
    }
    assert_eq!(AdamOptions::adamw_default().weight_decay, 1e-2);
}

fn rmsprop_reference(o: RmsPropOptions) -> impl FnMut(usize, f64, f64) -> f64 {
    let (mut v, mut ga, mut buf) = ([0.0; 2], [0.0; 2], [0.0; 2]);
    move |i, w, g| {
        let mut g = if o.maximize { -g } else { g };
        g += o.weight_decay * w;
        v[i] = o.alpha * v[i] + (1.0 - o.alpha) * g * g;
        let avg = if o.centered {
            ga[i] = o.alpha * ga[i] + (1.0 - o.alpha) * g;
            (v[i] - ga[i] * ga[i]).sqrt()
        } else {
            v[i].sqrt()
        } + o.eps;
        if o.momentum > 0.0 {
            buf[i] = o.momentum * buf[i] + g / avg;
            w - o.lr * buf[i]
        } else {
            w - o.lr * g / avg
        }
    }
}

#[test]
fn rmsprop_matches_reference() {
    let variants = [
        RmsPropOptions::default(),
        RmsPropOptions {
            alpha: 0.9,
            momentum: 0.5,
            centered: true,
            ..Default::default()
        },
        RmsPropOptions {
            weight_decay: 0.1,
            momentum: 0.3,
            ..Default::default()
        },
    ];
    for o in variants {
        let w = param();
        check_against(
            RmsProp::new(vec![w.clone()], o).unwrap(),
            &w,
            6,
            rmsprop_reference(o),
        );
    }
}

fn adagrad_reference(o: AdagradOptions) -> impl FnMut(usize, f64, f64) -> f64 {
    let (mut sum, mut t) = ([o.initial_accumulator_value; 2], [0.0; 2]);
    move |i, w, g| {
        t[i] += 1.0;
        let mut g = if o.maximize { -g } else { g };
        g += o.weight_decay * w;
        let clr = o.lr / (1.0 + (t[i] - 1.0) * o.lr_decay);
        sum[i] += g * g;
        w - clr * g / (sum[i].sqrt() + o.eps)
    }
}

#[test]
fn adagrad_matches_reference() {
    let variants = [
        AdagradOptions {
            lr: 0.1,
            ..Default::default()
        },
        AdagradOptions {
            lr: 0.1,
            lr_decay: 0.01,
            weight_decay: 0.05,
            ..Default::default()
        },
        AdagradOptions {
            lr: 0.1,
            initial_accumulator_value: 0.5,
            ..Default::default()
        },
    ];
    for o in variants {
        let w = param();
        check_against(
            Adagrad::new(vec![w.clone()], o).unwrap(),
            &w,
            6,
            adagrad_reference(o),
        );
    }
}

#[test]
fn invalid_options_are_rejected_with_a_message() {
    let w = param();
    let e = Sgd::new(
        vec![w.clone()],
        SgdOptions {
            lr: -1.0,
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(matches!(e, OptimError::InvalidArgument { name: "lr", .. }));
    assert_eq!(e.to_string(), "SGD: invalid lr: -1 (must be >= 0)");
    let nesterov = SgdOptions {
        nesterov: true,
        ..Default::default()
    };
    assert!(Sgd::new(vec![w.clone()], nesterov).is_err());
    let betas = AdamOptions {
        betas: (1.0, 0.999),
        ..Default::default()
    };
    assert!(Adam::new(vec![w.clone()], betas).is_err());
    assert!(AdamW::new(
        vec![w.clone()],
        AdamOptions {
            eps: -1.0,
            ..Default::default()
        }
    )
    .is_err());
    let alpha = RmsPropOptions {
        alpha: -0.1,
        ..Default::default()
    };
    assert!(RmsProp::new(vec![w.clone()], alpha).is_err());
    let decay = AdagradOptions {
        lr_decay: -0.1,
        ..Default::default()
    };
    assert!(Adagrad::new(vec![w.clone()], decay).is_err());
    let mut opt = Sgd::new(vec![w], SgdOptions::default()).unwrap();
    assert!(StepLr::new(&mut opt, 0, 0.1).is_err());
    assert!(CosineAnnealingLr::new(&mut opt, 0, 0.0).is_err());
    let lin = LinearLrOptions {
        start_factor: 0.0,
        ..Default::default()
    };
    assert!(LinearLr::new(&mut opt, lin).is_err());
    let plateau = ReduceLrOnPlateauOptions {
        factor: 1.0,
        ..Default::default()
    };
    assert!(ReduceLrOnPlateau::new(&mut opt, plateau).is_err());
}

#[test]
fn param_groups_use_their_own_options_and_skip_params_without_grad() {
    let a = param();
    let b = param();
    let frozen = param();
    let mut opt = Sgd::with_groups(vec![
        ParamGroup::new(
            vec![a.clone()],
            SgdOptions {
                lr: 0.1,
                ..Default::default()
            },
        ),
        ParamGroup::new(
            vec![b.clone(), frozen.clone()],
            SgdOptions {
                lr: 0.01,
                ..Default::default()
            },
        ),
    ])
    .unwrap();
    backward(&a);
    backward(&b);
    opt.step().unwrap();
    let got = a.data().to_vec::<f32>().unwrap();
    assert!((got[0] - 0.8).abs() < 1e-7 && (got[1] + 0.2).abs() < 1e-7);
    let got = b.data().to_vec::<f32>().unwrap();
    assert!((got[0] - 0.98).abs() < 1e-7 && (got[1] + 0.47).abs() < 1e-7);
    assert_eq!(frozen.data().to_vec::<f32>().unwrap(), vec![1.0, -0.5]);
    assert_eq!(opt.lrs(), vec![0.1, 0.01]);
    assert_eq!(opt.num_param_groups(), 2);
    assert_eq!(opt.params().len(), 3);
    opt.set_lr(1, 0.5);
    assert_eq!(opt.param_groups()[1].options.lr, 0.5);
    opt.zero_grad();
    assert!(a.grad().is_none() && b.grad().is_none());
}

#[test]
fn clip_grad_norm_scales_and_reports_total() {
    let a = Variable::parameter(Tensor::zeros(&[2]));
    let b = Variable::parameter(Tensor::zeros(&[1]));
    let none = Variable::parameter(Tensor::zeros(&[1]));
    a.set_grad(Some(Tensor::from_vec(vec![3.0f32, 0.0], &[2]).unwrap()));
    b.set_grad(Some(Tensor::from_vec(vec![-4.0f32], &[1]).unwrap()));
    let params = [a.clone(), b.clone(), none.clone()];
    let total = clip_grad_norm_(&params, 10.0, 2.0).unwrap();
    assert!((total - 5.0).abs() < 1e-9);
    assert_eq!(a.grad().unwrap().to_vec::<f32>().unwrap(), vec![3.0, 0.0]);
    let total = clip_grad_norm_(&params, 1.0, 2.0).unwrap();
    assert!((total - 5.0).abs() < 1e-9);
    let scale = 1.0 / (5.0 + 1e-6);
    assert!((b.grad().unwrap().item::<f32>().unwrap() as f64 + 4.0 * scale).abs() < 1e-6);
    assert!(none.grad().is_none());

    a.set_grad(Some(Tensor::from_vec(vec![3.0f32, -7.0], &[2]).unwrap()));
    b.set_grad(Some(Tensor::from_vec(vec![-4.0f32], &[1]).unwrap()));
    let total = clip_grad_norm_(&params, 3.5, f64::INFINITY).unwrap();
    assert_eq!(total, 7.0);
    let g = a.grad().unwrap().to_vec::<f32>().unwrap();
    assert!((g[1] as f64 + 7.0 * 3.5 / (7.0 + 1e-6)).abs() < 1e-6);

    a.set_grad(Some(Tensor::from_vec(vec![1.0f32, -1.0], &[2]).unwrap()));
    b.set_grad(None);
    let total = clip_grad_norm_(&params, 100.0, 1.0).unwrap();
    assert!((total - 2.0).abs() < 1e-9);
    assert!(clip_grad_norm_(&params, 1.0, 0.0).is_err());
    assert_eq!(clip_grad_norm_(&[none], 1.0, 2.0).unwrap(), 0.0);
}

#[test]
fn clip_grad_value_clamps() {
    let a = Variable::parameter(Tensor::zeros(&[3]));
    a.set_grad(Some(
        Tensor::from_vec(vec![-3.0f32, 0.25, 2.0], &[3]).unwrap(),
    ));
    clip_grad_value_(std::slice::from_ref(&a), 0.5).unwrap();
    assert_eq!(
        a.grad().unwrap().to_vec::<f32>().unwrap(),
        vec![-0.5, 0.25, 0.5]
    );
    assert!(clip_grad_value_(&[a], -1.0).is_err());
}
