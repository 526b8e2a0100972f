//! Containers (`torch.nn.modules.container`): [`Sequential`] and
//! [`ModuleList`]. Both hold numbered children (`"0"`, `"1"`, ...) and a
//! training flag; `numbered_children!` writes what they share.

use std::ops::Index;
use std::sync::atomic::{AtomicBool, Ordering};

use torchlet_autograd::Variable;

use crate::error::{NnError, Result};
use crate::module::Module;

/// The constructors, accessors and [`Module`] bookkeeping of a container
/// `$t { names, modules, training }` whose child `i` is named `"i"`;
/// `$what` names it in the docs ("chain", "list"). The [`Module`] impl
/// takes the shared methods with `numbered_children!(module)`.
macro_rules! numbered_children {
    ($t:ident, $what:literal) => {
        impl Default for $t {
            fn default() -> $t {
                $t::new()
            }
        }

        impl $t {
            #[doc = concat!("An empty ", $what, ", in training mode.")]
            pub fn new() -> $t {
                $t {
                    names: Vec::new(),
                    modules: Vec::new(),
                    training: AtomicBool::new(true),
                }
            }

            #[doc = concat!("Appends `module` and returns the ", $what, " (`append`, builder style).")]
            pub fn append(mut self, module: impl Module + 'static) -> $t {
                self.push(Box::new(module));
                self
            }

            /// Appends a boxed module.
            pub fn push(&mut self, module: Box<dyn Module>) {
                self.names.push(self.modules.len().to_string());
                self.modules.push(module);
            }

            /// The number of modules.
            pub fn len(&self) -> usize {
                self.modules.len()
            }

            #[doc = concat!("Whether the ", $what, " is empty.")]
            pub fn is_empty(&self) -> bool {
                self.modules.is_empty()
            }

            /// The `i`-th module, if any.
            pub fn get(&self, i: usize) -> Option<&dyn Module> {
                self.modules.get(i).map(|m| m.as_ref())
            }
        }
    };
    (module) => {
        fn children(&self) -> Vec<(&str, &dyn Module)> {
            self.names
                .iter()
                .map(String::as_str)
                .zip(self.modules.iter().map(|m| m.as_ref() as &dyn Module))
                .collect()
        }

        fn set_local_training(&self, training: bool) {
            self.training.store(training, Ordering::Relaxed);
        }

        fn is_training(&self) -> bool {
            self.training.load(Ordering::Relaxed)
        }
    };
}

/// A chain of modules applied in order (`torch.nn.Sequential`); child `i`
/// is named `"i"`, so its parameters are `0.weight`, `3.bias`, ... An
/// empty chain is the identity.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Flatten, Linear, Module, ReLU, Result, Sequential};
/// use torchlet_tensor::Tensor;
///
/// # fn main() -> Result<()> {
/// let model = Sequential::new()
///     .append(Flatten::new())
///     .append(Linear::new(12, 5)?)
///     .append(ReLU)
///     .append(Linear::new(5, 2)?);
/// let keys: Vec<String> = model.state_dict().into_keys().collect();
/// assert_eq!(keys, ["1.bias", "1.weight", "3.bias", "3.weight"]);
/// let y = model.forward(&Variable::constant(Tensor::zeros(&[2, 3, 4])))?;
/// assert_eq!(y.shape(), [2, 2]);
/// # Ok(())
/// # }
/// ```
pub struct Sequential {
    names: Vec<String>,
    modules: Vec<Box<dyn Module>>,
    training: AtomicBool,
}

numbered_children!(Sequential, "chain");

impl Module for Sequential {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let mut y = x.clone();
        for m in &self.modules {
            y = m.forward(&y)?;
        }
        Ok(y)
    }

    numbered_children!(module);
}

/// A list of sub-modules (`torch.nn.ModuleList`): child `i` is named `"i"`,
/// so its parameters appear as `0.weight`, `1.bias`, ... It registers the
/// modules (parameters, state dict, `train()`/`eval()`) but, as in
/// PyTorch, has no forward of its own: index it (`list[i]`) or iterate.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Linear, Module, ModuleList, Result};
/// use torchlet_tensor::Tensor;
///
/// # fn main() -> Result<()> {
/// let layers = ModuleList::new().append(Linear::new(3, 3)?).append(Linear::new(3, 2)?);
/// let mut x = Variable::constant(Tensor::ones(&[1, 3]));
/// for layer in layers.iter() {
///     x = layer.forward(&x)?;
/// }
/// assert_eq!(x.shape(), [1, 2]);
/// assert_eq!(layers[1].parameters().len(), 2);
/// assert!(layers.state_dict().contains_key("1.weight"));
/// # Ok(())
/// # }
/// ```
pub struct ModuleList {
    names: Vec<String>,
    modules: Vec<Box<dyn Module>>,
    training: AtomicBool,
}

numbered_children!(ModuleList, "list");

impl ModuleList {
    /// The modules in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Module> {
        self.modules.iter().map(|m| m.as_ref() as &dyn Module)
    }
}

impl Index<usize> for ModuleList {
    type Output = dyn Module;

    /// The `i`-th module; panics when `i >= len()`.
    fn index(&self, i: usize) -> &(dyn Module + 'static) {
        self.modules[i].as_ref()
    }
}

impl Module for ModuleList {
    /// Always fails: a `ModuleList` has no forward (index or iterate it).
    fn forward(&self, _x: &Variable) -> Result<Variable> {
        Err(NnError::input(
            "ModuleList",
            "a ModuleList has no forward; call its modules (list[i].forward(x))",
        ))
    }

    numbered_children!(module);
}

/// A `Vec` of modules is a list of sub-modules (like [`ModuleList`]):
/// module `i` is named `"i"`, so a field `blocks: Vec<Linear>` of a
/// `#[derive(Module)]` struct gives `blocks.0.weight`, `blocks.1.weight`.
impl<M: Module> Module for Vec<M> {
    /// Always fails: a list of modules has no forward (call its modules).
    fn forward(&self, _x: &Variable) -> Result<Variable> {
        Err(NnError::input(
            "Vec<Module>",
            "a list of modules has no forward; call its modules (list[i].forward(x))",
        ))
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        self.iter()
            .enumerate()
            .map(|(i, m)| (index_name(i), m as &dyn Module))
            .collect()
    }
}

/// `i` as a `&'static str` ("0", "1", ...): each number's text is made
/// once per process and kept.
fn index_name(i: usize) -> &'static str {
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<Vec<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    while names.len() <= i {
        let next = names.len().to_string();
        names.push(Box::leak(next.into_boxed_str()));
    }
    names[i]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dropout, Identity, Linear};
    use torchlet_tensor::Tensor;

    #[test]
    fn identity_and_list() {
        let x = Variable::constant(Tensor::ones(&[2, 2]));
        assert_eq!(
            Identity
                .forward(&x)
                .unwrap()
                .data()
                .to_vec::<f32>()
                .unwrap(),
            [1.0; 4]
        );

        let mut list = ModuleList::new().append(Linear::new(2, 3).unwrap());
        list.push(Box::new(Dropout::new(0.5).unwrap()));
        list.push(Box::new(Linear::with_bias(3, 1, false).unwrap()));
        assert_eq!(list.len(), 3);
        assert!(!list.is_empty() && list.get(3).is_none());
        let names: Vec<String> = list
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["0.weight", "0.bias", "2.weight"]);
        assert_eq!(list[2].parameters()[0].shape(), [1, 3]);
        assert!(list.forward(&x).is_err());
        list.eval();
        assert!(!list.is_training() && !list[1].is_training());
        list.train();
        assert!(list[1].is_training());
        assert!(ModuleList::default().is_empty());
    }
}
