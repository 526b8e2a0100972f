//! Behaviour of the modules: names, modes, init, layers, state dicts.

use std::collections::BTreeMap;

use torchlet_autograd::Variable;
use torchlet_nn::{
    BatchNorm2d, Conv2d, Conv2dOptions, Dropout, Flatten, Linear, MaxPool2d, Module, NnError, ReLU,
    Result, Sequential, Sigmoid, Tanh, GELU,
};
use torchlet_tensor::{DType, Tensor};

struct Net {
    features: Sequential,
    head: Linear,
}

impl Module for Net {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        self.head.forward(&self.features.forward(x)?)
    }
    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![("features", &self.features), ("head", &self.head)]
    }
}

fn net() -> Net {
    Net {
        features: Sequential::new()
            .append(
                Conv2d::with_options(2, 4, [3, 3], Conv2dOptions::default().padding(1)).unwrap(),
            )
            .append(BatchNorm2d::new(4).unwrap())
            .append(ReLU)
            .append(MaxPool2d::new(2))
            .append(Dropout::new(0.5).unwrap())
            .append(Flatten::new()),
        head: Linear::new(4 * 2 * 2, 3).unwrap(),
    }
}

fn var(data: Vec<f32>, shape: &[usize]) -> Variable {
    Variable::constant(Tensor::from_vec(data, shape).unwrap())
}

#[test]
fn dotted_names_and_buffers() {
    let m = net();
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "features.0.weight",
            "features.0.bias",
            "features.1.weight",
            "features.1.bias",
            "head.weight",
            "head.bias"
        ]
    );
    let buffers: Vec<String> = m.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        buffers,
        [
            "features.1.running_mean",
            "features.1.running_var",
            "features.1.num_batches_tracked"
        ]
    );
    assert_eq!(m.parameters().len(), 6);
    assert!(m.parameters().iter().all(|p| p.requires_grad()));
    assert!(m.named_buffers().iter().all(|(_, b)| !b.requires_grad()));
    assert_eq!(m.state_dict().len(), 9);
    assert_eq!(
        m.state_dict()["features.1.num_batches_tracked"].dtype(),
        DType::I64
    );
}

#[test]
fn train_eval_propagate() {
    let m = net();
    assert!(m.is_training() && m.features.is_training());
    m.eval();
    assert!(!m.is_training());
    assert!(!m.features.get(1).unwrap().is_training());
    assert!(!m.features.get(4).unwrap().is_training());
    // Eval mode is deterministic (no dropout, running statistics).
    let x = Variable::constant(Tensor::rand(&[2, 2, 4, 4]));
    let (a, b) = (m.forward(&x).unwrap(), m.forward(&x).unwrap());
    assert_eq!(a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
    m.train();
    assert!(m.features.get(1).unwrap().is_training());
}

#[test]
fn zero_grad_clears_gradients() {
    let m = net();
    let y = m
        .forward(&Variable::constant(Tensor::rand(&[2, 2, 4, 4])))
        .unwrap();
    y.sum().backward().unwrap();
    assert!(m.parameters().iter().all(|p| p.grad().is_some()));
    m.zero_grad();
    assert!(m.parameters().iter().all(|p| p.grad().is_none()));
}

#[test]
fn default_init_bounds() {
    let fc = Linear::new(25, 7).unwrap();
    let bound = 1.0 / 5.0;
    for p in fc.parameters() {
        let v = p.to_vec::<f32>().unwrap();
        assert!(v.iter().all(|x| x.abs() <= bound));
        assert!(v.iter().any(|&x| x != v[0]));
    }
    let conv =
        Conv2d::with_options(4, 6, [3, 3], Conv2dOptions::default().groups(2).bias(false)).unwrap();
    assert_eq!(conv.weight().shape(), [6, 2, 3, 3]);
    assert!(conv.bias().is_none());
    assert_eq!(conv.parameters().len(), 1);
    let bound = 1.0 / (2.0f32 * 9.0).sqrt();
    assert!(conv
        .weight()
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .all(|x| x.abs() <= bound));
    assert!(Conv2d::with_options(3, 6, [3, 3], Conv2dOptions::default().groups(2)).is_err());
    assert!(Linear::new(0, 3).is_err());
}

#[test]
fn conv_options_shape() {
    let conv = Conv2d::with_options(
        3,
        8,
        [3, 3],
        Conv2dOptions::default().stride(2).padding(2).dilation(2),
    )
    .unwrap();
    let y = conv
        .forward(&Variable::constant(Tensor::rand(&[2, 3, 9, 9])))
        .unwrap();
    // (9 + 4 - 2·2 - 1) / 2 + 1 = 5
    assert_eq!(y.shape(), [2, 8, 5, 5]);
    let unbatched = conv
        .forward(&Variable::constant(Tensor::rand(&[3, 9, 9])))
        .unwrap();
    assert_eq!(unbatched.shape(), [8, 5, 5]);
}

fn message(r: Result<Variable>) -> String {
    match r {
        Err(e @ NnError::Input { .. }) => e.to_string(),
        Err(e) => panic!("unexpected error kind: {e}"),
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn wrong_inputs_are_clear_errors() {
    let conv = Conv2d::new(3, 4, 3).unwrap();
    let m = message(conv.forward(&Variable::constant(Tensor::rand(&[1, 2, 5, 5]))));
    assert!(
        m.contains("Conv2d") && m.contains("expected 3 input channels, got 2"),
        "{m}"
    );
    let m = message(conv.forward(&Variable::constant(Tensor::rand(&[5, 5]))));
    assert!(m.contains("2-d") && m.contains("[5, 5]"), "{m}");
    let fc = Linear::new(4, 2).unwrap();
    let m = message(fc.forward(&Variable::constant(Tensor::rand(&[3, 5]))));
    assert!(m.contains("in_features = 4") && m.contains("[3, 5]"), "{m}");
    let bn = BatchNorm2d::new(3).unwrap();
    let m = message(bn.forward(&Variable::constant(Tensor::rand(&[2, 4, 2, 2]))));
    assert!(m.contains("expected 3 channels, got 4"), "{m}");
    let m = message(bn.forward(&Variable::constant(Tensor::rand(&[2, 3, 2]))));
    assert!(m.contains("4-d"), "{m}");
    let m = message(MaxPool2d::new(2).forward(&Variable::constant(Tensor::rand(&[4]))));
    assert!(m.contains("MaxPool2d"), "{m}");
}

#[test]
fn batch_norm_running_stats_like_pytorch() {
    let bn = BatchNorm2d::new(2).unwrap();
    // Channel 0: 1..=4 (mean 2.5, unbiased var 5/3); channel 1: 2, 2, 6, 6
    // (mean 4, unbiased var 16/3). Layout [N=2, C=2, 1, 2].
    let x = var(vec![1., 2., 2., 2., 3., 4., 6., 6.], &[2, 2, 1, 2]);
    let y = bn.forward(&x).unwrap();
    let rm = bn.running_mean().to_vec::<f32>().unwrap();
    let rv = bn.running_var().to_vec::<f32>().unwrap();
    assert!((rm[0] - 0.25).abs() < 1e-6 && (rm[1] - 0.4).abs() < 1e-6);
    assert!((rv[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-6);
    assert!((rv[1] - (0.9 + 0.1 * 16.0 / 3.0)).abs() < 1e-6);
    assert_eq!(bn.num_batches_tracked(), 1);
    assert_eq!(bn.state_dict()["num_batches_tracked"].dtype(), DType::I64);
    // Training output uses the biased batch variance.
    let yv = y.to_vec::<f32>().unwrap();
    let expect0 = (1.0 - 2.5) / (1.25f32 + 1e-5).sqrt();
    assert!((yv[0] - expect0).abs() < 1e-5);
    // Eval uses the running statistics.
    bn.eval();
    let y = bn.forward(&x).unwrap().to_vec::<f32>().unwrap();
    let expect = (1.0 - rm[0]) / (rv[0] + 1e-5).sqrt();
    assert!((y[0] - expect).abs() < 1e-5);
    assert_eq!(bn.num_batches_tracked(), 1);
    // One value per channel cannot be normalized in training.
    bn.train();
    assert!(bn.forward(&var(vec![1., 2.], &[1, 2, 1, 1])).is_err());
}

#[test]
fn dropout_masks_and_scales() {
    let d = Dropout::new(0.5).unwrap();
    let x = Variable::constant(Tensor::ones(&[10_000]));
    let y = d.forward(&x).unwrap().to_vec::<f32>().unwrap();
    assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
    let kept = y.iter().filter(|&&v| v != 0.0).count();
    assert!((4_500..5_500).contains(&kept), "{kept}");
    d.eval();
    assert_eq!(
        d.forward(&x).unwrap().to_vec::<f32>().unwrap(),
        vec![1.0; 10_000]
    );
    let all = Dropout::new(1.0).unwrap();
    assert!(all
        .forward(&x)
        .unwrap()
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .all(|&v| v == 0.0));
    assert!(Dropout::new(1.5).is_err());
}

#[test]
fn activations() {
    let x = var(vec![-1.0, 0.0, 2.0], &[3]);
    let r = ReLU.forward(&x).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(r, [0.0, 0.0, 2.0]);
    let s = Sigmoid.forward(&x).unwrap().to_vec::<f32>().unwrap();
    assert!((s[2] - 1.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-6);
    let t = Tanh.forward(&x).unwrap().to_vec::<f32>().unwrap();
    assert!((t[0] - (-1.0f32).tanh()).abs() < 1e-6);
    let g = GELU.forward(&x).unwrap().to_vec::<f32>().unwrap();
    assert!((g[0] - -0.158_655_26).abs() < 1e-5 && (g[2] - 1.954_5).abs() < 1e-4);
    let f = Flatten::new()
        .forward(&Variable::constant(Tensor::zeros(&[2, 3, 4])))
        .unwrap();
    assert_eq!(f.shape(), [2, 12]);
}

#[test]
fn strict_and_lenient_loading() {
    let m = net();
    let mut dict = m.state_dict();
    dict.remove("head.bias");
    dict.insert("extra".into(), Tensor::zeros(&[1]));
    dict.insert("head.weight".into(), Tensor::zeros(&[3, 5]));
    dict.insert("features.0.bias".into(), Tensor::zeros(&[4]));
    let e = m.load_state_dict(&dict, true).unwrap_err().to_string();
    assert!(e.contains("missing key(s): head.bias"), "{e}");
    assert!(e.contains("unexpected key(s): extra"), "{e}");
    assert!(
        e.contains("head.weight") && e.contains("[3, 16]") && e.contains("[3, 5]"),
        "{e}"
    );
    // Strict failure loads nothing.
    assert!(m.features.state_dict()["0.bias"]
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .any(|&v| v != 0.0));
    let report = m.load_state_dict(&dict, false).unwrap();
    assert_eq!(report.missing_keys, ["head.bias"]);
    assert_eq!(report.unexpected_keys, ["extra"]);
    assert_eq!(report.mismatched.len(), 1);
    assert_eq!(report.mismatched[0].key, "head.weight");
    assert_eq!(
        m.state_dict()["features.0.bias"].to_vec::<f32>().unwrap(),
        [0.0; 4]
    );
    // A dtype mismatch is named too.
    let mut dict = m.state_dict();
    dict.insert(
        "features.1.num_batches_tracked".into(),
        Tensor::zeros_dtype(&[], DType::F32),
    );
    let e = m.load_state_dict(&dict, true).unwrap_err().to_string();
    assert!(
        e.contains("features.1.num_batches_tracked") && e.contains("int64"),
        "{e}"
    );
}

#[test]
fn safetensors_round_trip() {
    let m = net();
    // Move the running statistics and the int64 counter off their defaults.
    m.forward(&Variable::constant(Tensor::rand(&[3, 2, 4, 4])))
        .unwrap();
    let path =
        std::env::temp_dir().join(format!("torchlet-nn-rt-{}.safetensors", std::process::id()));
    m.save_safetensors(&path).unwrap();
    let other = net();
    let report = other.load_safetensors(&path, true).unwrap();
    assert!(report.is_clean());
    let (a, b): (BTreeMap<_, _>, BTreeMap<_, _>) = (m.state_dict(), other.state_dict());
    for (k, t) in &a {
        let u = &b[k];
        assert_eq!(t.dtype(), u.dtype(), "{k}");
        assert_eq!(t.shape(), u.shape(), "{k}");
        match t.dtype() {
            DType::I64 => assert_eq!(t.to_vec::<i64>().unwrap(), u.to_vec::<i64>().unwrap()),
            _ => {
                let bits = |t: &Tensor| {
                    t.to_vec::<f32>()
                        .unwrap()
                        .iter()
                        .map(|v| v.to_bits())
                        .collect::<Vec<_>>()
                };
                assert_eq!(bits(t), bits(u), "{k}");
            }
        }
    }
    assert_eq!(
        b["features.1.num_batches_tracked"].item::<i64>().unwrap(),
        1
    );
    // No temporary file is left next to the checkpoint.
    let dir = path.parent().unwrap();
    let stem = path.file_name().unwrap().to_string_lossy().to_string();
    assert!(!std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e
            .file_name()
            .to_string_lossy()
            .starts_with(&format!("{stem}.tmp"))));
    std::fs::remove_file(&path).unwrap();
    // A missing file is an I/O error naming the path.
    let e = other.load_safetensors(&path, true).unwrap_err().to_string();
    assert!(e.contains("torchlet-nn-rt-"), "{e}");
}

/// A module whose first child has no mode of its own (Linear) still
/// reports eval mode after `eval()`, through its Dropout.
#[test]
fn eval_mode_shows_through_a_stateless_first_child() {
    struct Head {
        fc: torchlet_nn::Linear,
        drop: torchlet_nn::Dropout,
    }
    impl torchlet_nn::Module for Head {
        fn forward(
            &self,
            x: &torchlet_autograd::Variable,
        ) -> torchlet_nn::Result<torchlet_autograd::Variable> {
            self.drop.forward(&self.fc.forward(x)?)
        }
        fn children(&self) -> Vec<(&str, &dyn torchlet_nn::Module)> {
            vec![("fc", &self.fc), ("drop", &self.drop)]
        }
    }
    let m = Head {
        fc: torchlet_nn::Linear::new(3, 2).unwrap(),
        drop: torchlet_nn::Dropout::new(0.5).unwrap(),
    };
    assert!(m.is_training());
    m.eval();
    assert!(!m.is_training());
    m.train();
    assert!(m.is_training());
}
