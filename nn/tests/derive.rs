//! `#[derive(Module)]`: PyTorch's dotted names from the fields (the same
//! names as a hand-written impl), generic and tuple structs, buffers, a
//! training flag of the module's own, state dicts, and derived modules
//! inside containers.

use std::cell::Cell;
use std::sync::atomic::AtomicBool;

use torchlet_autograd::Variable;
use torchlet_nn::{
    BatchNorm2d, Conv2d, Dropout, Flatten, Linear, Module, ReLU, Result, Sequential,
};
use torchlet_tensor::Tensor;

fn names(m: &dyn Module) -> Vec<String> {
    m.named_parameters().into_iter().map(|(n, _)| n).collect()
}

fn buffer_names(m: &dyn Module) -> Vec<String> {
    m.named_buffers().into_iter().map(|(n, _)| n).collect()
}

/// A small CNN written with the derive.
#[derive(Module)]
struct Cnn {
    conv: Conv2d,
    bn: BatchNorm2d,
    act: ReLU,
    flat: Flatten,
    fc: Linear,
}

impl Cnn {
    fn new() -> Result<Cnn> {
        Ok(Cnn {
            conv: Conv2d::new(1, 2, 3)?,
            bn: BatchNorm2d::new(2)?,
            act: ReLU,
            flat: Flatten::new(),
            fc: Linear::new(2 * 4 * 4, 3)?,
        })
    }

    fn forward(&self, x: &Variable) -> Result<Variable> {
        let h = self
            .act
            .forward(&self.bn.forward(&self.conv.forward(x)?)?)?;
        self.fc.forward(&self.flat.forward(&h)?)
    }
}

/// The same CNN with a hand-written impl: the names must agree.
struct HandCnn(Cnn);

impl Module for HandCnn {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        self.0.forward(x)
    }
    fn children(&self) -> Vec<(&str, &dyn Module)> {
        let c = &self.0;
        vec![
            ("conv", &c.conv),
            ("bn", &c.bn),
            ("act", &c.act),
            ("flat", &c.flat),
            ("fc", &c.fc),
        ]
    }
}

#[test]
fn names_match_a_hand_written_impl_and_pytorch() -> Result<()> {
    let derived = Cnn::new()?;
    let hand = HandCnn(Cnn::new()?);
    assert_eq!(names(&derived), names(&hand));
    assert_eq!(
        names(&derived),
        [
            "conv.weight",
            "conv.bias",
            "bn.weight",
            "bn.bias",
            "fc.weight",
            "fc.bias"
        ]
    );
    assert_eq!(
        buffer_names(&derived),
        [
            "bn.running_mean",
            "bn.running_var",
            "bn.num_batches_tracked"
        ]
    );
    // The trait's forward is the struct's.
    let x = Variable::constant(Tensor::rand(&[2, 1, 6, 6]));
    derived.eval();
    let a = Module::forward(&derived, &x)?.data().to_vec::<f32>()?;
    let b = derived.forward(&x)?.data().to_vec::<f32>()?;
    assert_eq!(a, b);
    Ok(())
}

#[test]
fn state_dicts_round_trip_through_safetensors() -> Result<()> {
    let a = Cnn::new()?;
    let b = Cnn::new()?;
    let dir = std::env::temp_dir().join(format!("torchlet-derive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cnn.safetensors");
    a.save_safetensors(&path)?;
    b.load_safetensors(&path, true)?;
    for ((n, x), (_, y)) in a.state_dict().iter().zip(b.state_dict().iter()) {
        assert_eq!(x.to_vec::<f32>().ok(), y.to_vec::<f32>().ok(), "{n}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    Ok(())
}

/// A residual block around any module: generic structs work.
#[derive(Module)]
struct Residual<M> {
    inner: M,
    #[module(skip)]
    scale: f64,
}

impl<M: Module> Residual<M> {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(x.add(&self.inner.forward(x)?.mul_scalar(self.scale))?)
    }
}

/// Tuple structs name their fields 0, 1, ...; parameters and buffers of
/// the module itself come first.
#[derive(Module)]
struct Pair(
    Linear,
    Option<Linear>,
    #[param] Variable,
    #[buffer] Option<Variable>,
);

impl Pair {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        self.0.forward(x)
    }
}

#[test]
fn generic_tuple_optional_and_listed_members() -> Result<()> {
    let r = Residual {
        inner: Linear::new(3, 3)?,
        scale: 0.5,
    };
    assert_eq!(names(&r), ["inner.weight", "inner.bias"]);
    let x = Variable::constant(Tensor::ones(&[1, 3]));
    let want = x
        .data()
        .add(&r.inner.forward(&x)?.data().mul_scalar(0.5))
        .unwrap();
    assert_eq!(
        Module::forward(&r, &x)?.data().to_vec::<f32>()?,
        want.to_vec::<f32>()?
    );

    let p = Pair(
        Linear::new(2, 2)?,
        None,
        Variable::parameter(Tensor::ones(&[2])),
        Some(Variable::constant(Tensor::zeros(&[1]))),
    );
    assert_eq!(names(&p), ["2", "0.weight", "0.bias"]);
    assert_eq!(buffer_names(&p), ["3"]);

    #[derive(Module)]
    struct Stack {
        layers: Vec<Linear>,
    }
    impl Stack {
        fn forward(&self, x: &Variable) -> Result<Variable> {
            self.layers.iter().try_fold(x.clone(), |h, l| l.forward(&h))
        }
    }
    let s = Stack {
        layers: vec![Linear::new(2, 2)?, Linear::new(2, 2)?],
    };
    assert_eq!(
        names(&s),
        [
            "layers.0.weight",
            "layers.0.bias",
            "layers.1.weight",
            "layers.1.bias"
        ]
    );
    Ok(())
}

/// A module whose forward depends on the mode keeps its own flag.
#[derive(Module)]
struct Noisy {
    #[module(training)]
    training: AtomicBool,
    drop: Dropout,
}

impl Noisy {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        self.drop.forward(x)
    }
}

#[derive(Module)]
struct Flagged {
    #[module(training)]
    training: Cell<bool>,
}

impl Flagged {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(x.clone())
    }
}

#[test]
fn train_and_eval_reach_the_flag_and_the_children() -> Result<()> {
    let n = Noisy {
        training: AtomicBool::new(true),
        drop: Dropout::new(0.5)?,
    };
    n.eval();
    assert!(!n.is_training());
    assert!(!n.drop.is_training());
    n.train();
    assert!(n.is_training() && n.drop.is_training());
    let f = Flagged {
        training: Cell::new(true),
    };
    f.eval();
    assert!(!f.is_training());
    Ok(())
}

#[test]
fn derived_modules_sit_in_containers() -> Result<()> {
    let model = Sequential::new()
        .append(Cnn::new()?)
        .append(ReLU)
        .append(Linear::new(3, 2)?);
    assert_eq!(names(&model)[0], "0.conv.weight");
    let y = model.forward(&Variable::constant(Tensor::rand(&[2, 1, 6, 6])))?;
    assert_eq!(y.shape(), [2, 2]);
    Ok(())
}
