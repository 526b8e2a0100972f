//! The [`Module`] trait (`torch.nn.Module`).

use std::collections::BTreeMap;
use std::path::Path;

use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

use crate::check;
use crate::error::Result;
use crate::state::{self, LoadReport};

/// A building block of a network (`torch.nn.Module`).
///
/// A module implements [`forward`](Module::forward) and lists what it owns:
/// its own parameters ([`local_parameters`](Module::local_parameters)), its
/// own buffers ([`local_buffers`](Module::local_buffers)) and its
/// sub-modules ([`children`](Module::children)). Everything else —
/// PyTorch's dotted names, `train()`/`eval()`, `zero_grad()`, state dicts —
/// has a default implementation built from those three lists, so a custom
/// model only names its fields:
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Linear, Module, ReLU, Result};
/// use torchlet_tensor::Tensor;
///
/// struct Mlp {
///     fc1: Linear,
///     act: ReLU,
///     fc2: Linear,
/// }
///
/// impl Module for Mlp {
///     fn forward(&self, x: &Variable) -> Result<Variable> {
///         self.fc2.forward(&self.act.forward(&self.fc1.forward(x)?)?)
///     }
///     fn children(&self) -> Vec<(&str, &dyn Module)> {
///         vec![("fc1", &self.fc1), ("act", &self.act), ("fc2", &self.fc2)]
///     }
/// }
///
/// # fn main() -> Result<()> {
/// let model = Mlp { fc1: Linear::new(4, 8)?, act: ReLU, fc2: Linear::new(8, 2)? };
/// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// let y = model.forward(&Variable::constant(Tensor::zeros(&[3, 4])))?;
/// assert_eq!(y.shape(), [3, 2]);
/// # Ok(())
/// # }
/// ```
///
/// # `#[derive(Module)]`
///
/// The derive writes those lists from the struct's fields, and the
/// struct's own `forward` (in an `impl` block, as PyTorch's `def
/// forward`) becomes the module's:
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{BatchNorm1d, Linear, Module, ReLU, Result};
/// use torchlet_tensor::Tensor;
///
/// #[derive(Module)]
/// struct Net {
///     fc1: Linear,
///     bn: BatchNorm1d,
///     act: ReLU,
///     /// Optional and listed sub-modules: `head.weight`, `blocks.0.weight`.
///     head: Option<Linear>,
///     blocks: Vec<Linear>,
///     /// A parameter of `Net` itself (`scale`).
///     #[param]
///     scale: Variable,
///     /// Not part of the module.
///     #[module(skip)]
///     width: usize,
/// }
///
/// impl Net {
///     fn forward(&self, x: &Variable) -> Result<Variable> {
///         let mut h = self.act.forward(&self.bn.forward(&self.fc1.forward(x)?)?)?;
///         for block in &self.blocks {
///             h = block.forward(&h)?;
///         }
///         match &self.head {
///             Some(head) => head.forward(&h),
///             None => Ok(h),
///         }
///     }
/// }
///
/// # fn main() -> Result<()> {
/// let net = Net {
///     fc1: Linear::new(4, 8)?,
///     bn: BatchNorm1d::new(8)?,
///     act: ReLU,
///     head: Some(Linear::new(8, 2)?),
///     blocks: vec![Linear::new(8, 8)?],
///     scale: Variable::parameter(Tensor::ones(&[1])),
///     width: 8,
/// };
/// let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["scale", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias",
///                    "head.weight", "head.bias", "blocks.0.weight", "blocks.0.bias"]);
/// net.eval(); // reaches every sub-module
/// assert!(!net.bn.is_training());
/// let model: &dyn Module = &net; // what containers and trainers hold
/// assert_eq!(model.forward(&Variable::constant(Tensor::zeros(&[3, 4])))?.shape(), [3, 2]);
/// # Ok(())
/// # }
/// ```
///
/// Field attributes: none (a sub-module; `Option<M>` when `Some`,
/// `Vec<M>` as `field.0`, `field.1`, ...), `#[param]` and `#[buffer]`
/// (a `Variable` or `Option<Variable>` of this module), `#[module(skip)]`
/// (not part of the module), `#[module(training)]` (an `AtomicBool` or
/// `Cell<bool>`: the module's own training flag, for a forward that
/// depends on the mode). Tuple structs name their fields `0`, `1`, ...;
/// generic structs work. On the struct, `#[module(crate = path)]` says
/// where torchlet-nn is when the derive cannot find it.
///
/// A field that is not a module, parameter or skipped is a compile error
/// at that field:
///
/// ```compile_fail
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Linear, Module, Result};
///
/// #[derive(Module)]
/// struct Net {
///     fc: Linear,
///     width: usize, // error: `usize` is not a `Module` (mark it #[module(skip)])
/// }
///
/// impl Net {
///     fn forward(&self, x: &Variable) -> Result<Variable> {
///         self.fc.forward(x)
///     }
/// }
/// ```
///
/// So is a struct without its own `forward` (the derived one would call
/// itself):
///
/// ```compile_fail
/// use torchlet_nn::{Linear, Module};
///
/// #[derive(Module)]
/// struct Net {
///     fc: Linear,
/// }
/// ```
///
/// And a `#[param]` that is not a `Variable`:
///
/// ```compile_fail
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Module, Result};
/// use torchlet_tensor::Tensor;
///
/// #[derive(Module)]
/// struct Scale {
///     #[param]
///     factor: Tensor, // error: expected `&Variable`
/// }
///
/// impl Scale {
///     fn forward(&self, x: &Variable) -> Result<Variable> {
///         Ok(x.clone())
///     }
/// }
/// ```
pub trait Module {
    /// Runs the module on `x`, recording the graph when gradients are
    /// enabled.
    fn forward(&self, x: &Variable) -> Result<Variable>;

    /// Runs the module on a tensor or a variable: PyTorch's `model(x)`.
    /// A `Tensor` — a batch from a `DataLoader` — goes in as it is (as a
    /// constant, sharing its buffer), so loop code needs no wrapping.
    ///
    /// ```
    /// use torchlet_nn::{Linear, Module};
    /// use torchlet_tensor::Tensor;
    /// let fc = Linear::new(3, 2).unwrap();
    /// let x = Tensor::ones(&[4, 3]); // e.g. from a DataLoader
    /// assert_eq!(fc.call(&x).unwrap().shape(), [4, 2]);
    /// ```
    fn call(&self, x: impl Into<Variable>) -> Result<Variable>
    where
        Self: Sized,
    {
        self.forward(&x.into())
    }

    /// Checks a hand-written module: runs `forward` on `example` and fails
    /// if it used a trainable variable that
    /// [`parameters`](Module::parameters) does not list — a child or
    /// parameter left out of [`children`](Module::children) or
    /// [`local_parameters`](Module::local_parameters), which would
    /// otherwise train without the optimizer and be missing from the state
    /// dict. `#[derive(Module)]` makes that mistake impossible; call this
    /// once in a test of a manual impl. The forward runs in eval mode
    /// (running statistics untouched) and the training flags are restored.
    ///
    /// ```
    /// use torchlet_autograd::Variable;
    /// use torchlet_nn::{Linear, Module, Result};
    /// use torchlet_tensor::Tensor;
    /// struct Forgetful { a: Linear, b: Linear }
    /// impl Module for Forgetful {
    ///     fn forward(&self, x: &Variable) -> Result<Variable> {
    ///         self.b.forward(&self.a.forward(x)?)
    ///     }
    ///     fn children(&self) -> Vec<(&str, &dyn Module)> {
    ///         vec![("a", &self.a)] // `b` forgotten
    ///     }
    /// }
    /// let m = Forgetful { a: Linear::new(3, 3).unwrap(), b: Linear::new(3, 1).unwrap() };
    /// let err = m.check(&Tensor::ones(&[2, 3])).unwrap_err();
    /// assert!(err.to_string().contains("2 trainable variables"), "{err}");
    /// ```
    fn check(&self, example: impl Into<Variable>) -> Result<()>
    where
        Self: Sized,
    {
        check::unregistered_parameters(self, &example.into())
    }

    /// The named sub-modules, in registration order (PyTorch's
    /// `named_children`). Their parameters and buffers appear under
    /// `name.` in [`named_parameters`](Module::named_parameters). Default:
    /// none.
    fn children(&self) -> Vec<(&str, &dyn Module)> {
        Vec::new()
    }

    /// The parameters this module owns directly (not those of its
    /// children), e.g. `[("weight", w), ("bias", b)]`. Default: none.
    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        Vec::new()
    }

    /// The buffers this module owns directly: state that is saved in the
    /// state dict but not trained (BatchNorm's `running_mean`). They are
    /// leaf variables that do not require grad. Default: none.
    fn local_buffers(&self) -> Vec<(&str, Variable)> {
        Vec::new()
    }

    /// Sets this module's own training flag (not its children's); modules
    /// whose forward does not depend on the mode keep the default no-op.
    fn set_local_training(&self, _training: bool) {}

    /// Whether this module is in training mode (`module.training`). The
    /// default answers `true` for a module with neither a flag of its own
    /// nor children (its forward does not depend on the mode), and for a
    /// module with children, whether all of them are in training mode: a
    /// stateless child answers `true` either way, so one child in eval
    /// mode (a Dropout after `eval()`) shows the module is in eval mode.
    fn is_training(&self) -> bool {
        self.children().iter().all(|(_, child)| child.is_training())
    }

    /// Sets training mode on this module and all its descendants
    /// (`module.train(mode)`).
    fn set_training(&self, training: bool) {
        self.set_local_training(training);
        for (_, child) in self.children() {
            child.set_training(training);
        }
    }

    /// Training mode (`module.train()`): BatchNorm uses batch statistics and
    /// updates its running ones, Dropout drops.
    fn train(&self) {
        self.set_training(true);
    }

    /// Evaluation mode (`module.eval()`): BatchNorm uses its running
    /// statistics, Dropout is the identity.
    fn eval(&self) {
        self.set_training(false);
    }

    /// All parameters with PyTorch's dotted names (`fc1.weight`,
    /// `features.0.bias`): own parameters first, then each child's, depth
    /// first.
    fn named_parameters(&self) -> Vec<(String, Variable)> {
        let mut out: Vec<(String, Variable)> = self
            .local_parameters()
            .into_iter()
            .map(|(n, p)| (n.to_string(), p))
            .collect();
        for (prefix, child) in self.children() {
            out.extend(
                child
                    .named_parameters()
                    .into_iter()
                    .map(|(n, p)| (format!("{prefix}.{n}"), p)),
            );
        }
        out
    }

    /// All buffers with dotted names (`bn1.running_mean`), in the same
    /// order as [`named_parameters`](Module::named_parameters).
    fn named_buffers(&self) -> Vec<(String, Variable)> {
        let mut out: Vec<(String, Variable)> = self
            .local_buffers()
            .into_iter()
            .map(|(n, b)| (n.to_string(), b))
            .collect();
        for (prefix, child) in self.children() {
            out.extend(
                child
                    .named_buffers()
                    .into_iter()
                    .map(|(n, b)| (format!("{prefix}.{n}"), b)),
            );
        }
        out
    }

    /// All parameters, in [`named_parameters`](Module::named_parameters)
    /// order (what an optimizer takes).
    fn parameters(&self) -> Vec<Variable> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// Clears the gradient of every parameter (`zero_grad(set_to_none=True)`).
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// The parameters and buffers by dotted name (`module.state_dict()`).
    /// The tensors share storage with the module's current values.
    fn state_dict(&self) -> BTreeMap<String, Tensor> {
        self.named_parameters()
            .into_iter()
            .chain(self.named_buffers())
            .map(|(n, v)| (n, v.data()))
            .collect()
    }

    /// Replaces parameters and buffers by the tensors of `dict`
    /// (`module.load_state_dict(dict, strict)`); see
    /// [`state::load_state_dict`].
    fn load_state_dict(&self, dict: &BTreeMap<String, Tensor>, strict: bool) -> Result<LoadReport> {
        state::load_state_dict(self, dict, strict)
    }

    /// Writes [`state_dict`](Module::state_dict) to a safetensors file
    /// (through a temporary file renamed into place); see
    /// [`state::save_safetensors`].
    fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        state::save_safetensors(self, path)
    }

    /// Loads a safetensors state dict (one PyTorch wrote for the same
    /// architecture loads unchanged); see [`state::load_safetensors`].
    fn load_safetensors(&self, path: impl AsRef<Path>, strict: bool) -> Result<LoadReport>
    where
        Self: Sized,
    {
        state::load_safetensors(self, path, strict)
    }
}

/// A boxed module is a module (a model chosen at run time, e.g. from a
/// config, can be wrapped like a concrete one).
impl<M: Module + ?Sized> Module for Box<M> {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        (**self).forward(x)
    }
    fn children(&self) -> Vec<(&str, &dyn Module)> {
        (**self).children()
    }
    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        (**self).local_parameters()
    }
    fn local_buffers(&self) -> Vec<(&str, Variable)> {
        (**self).local_buffers()
    }
    fn set_local_training(&self, training: bool) {
        (**self).set_local_training(training)
    }
    fn is_training(&self) -> bool {
        (**self).is_training()
    }
    fn set_training(&self, training: bool) {
        (**self).set_training(training)
    }
    fn named_parameters(&self) -> Vec<(String, Variable)> {
        (**self).named_parameters()
    }
    fn named_buffers(&self) -> Vec<(String, Variable)> {
        (**self).named_buffers()
    }
    fn parameters(&self) -> Vec<Variable> {
        (**self).parameters()
    }
    fn zero_grad(&self) {
        (**self).zero_grad()
    }
    fn state_dict(&self) -> BTreeMap<String, Tensor> {
        (**self).state_dict()
    }
    fn load_state_dict(&self, dict: &BTreeMap<String, Tensor>, strict: bool) -> Result<LoadReport> {
        (**self).load_state_dict(dict, strict)
    }
}
