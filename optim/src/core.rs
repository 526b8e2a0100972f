//! What every optimizer shares: parameter groups with their options, one
//! state per parameter, and saving and restoring both in PyTorch's
//! state-dict layout. An optimizer brings its options ([`GroupOptions`]),
//! its per-parameter state ([`ParamState`]) and its update rule; [`Groups`]
//! does the rest, and [`optimizer_common!`] writes the public plumbing
//! (`new`, `with_groups`, `param_groups`, the `Optimizer` group access and
//! `StatefulOptimizer`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

use crate::error::{OptimError, Result};
use crate::optimizer::ParamGroup;
use crate::state::{
    check_groups, check_like, get_initial_lr, params_value, read_step, split_state, step_tensor,
    OptimizerStateDict,
};

/// The hyperparameters of one parameter group.
pub(crate) trait GroupOptions: Copy {
    /// The learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate (schedulers).
    fn set_lr(&mut self, lr: f64);
    /// Checks every value; `what` names the optimizer in errors.
    fn validate(&self, what: &'static str) -> Result<()>;
    /// Writes the hyperparameters under PyTorch's names.
    fn to_json(&self, group: &mut Map<String, Value>);
    /// Reads them back (every key must be there).
    fn from_json(what: &'static str, group: &Map<String, Value>) -> Result<Self>;
}

/// The state an optimizer keeps for one parameter, saved as PyTorch's
/// `state.{i}.{name}` entries.
pub(crate) trait ParamState<O>: Default {
    /// Every name this state may save.
    const KEYS: &'static [&'static str];
    /// The entries to save; none for a parameter that was never stepped.
    fn save(&self, out: &mut Vec<(&'static str, Tensor)>);
    /// Restores the state of a parameter that has at least one entry.
    fn load(saved: &mut Saved<'_>, options: &O) -> Result<Self>;
}

/// The saved entries of one parameter, read with checks that name the key.
pub(crate) struct Saved<'a> {
    what: &'static str,
    index: usize,
    param: &'a Variable,
    entries: BTreeMap<String, Tensor>,
}

impl Saved<'_> {
    fn key(&self, name: &str) -> String {
        format!("state.{}.{name}", self.index)
    }

    fn missing(&self, name: &str) -> OptimError {
        OptimError::Usage {
            what: self.what,
            message: format!("missing key {}", self.key(name)),
        }
    }

    /// A buffer shaped like the parameter, if saved.
    pub fn buffer(&mut self, name: &str) -> Result<Option<Tensor>> {
        match self.entries.remove(name) {
            None => Ok(None),
            Some(t) => {
                check_like(self.what, &self.key(name), &t, self.param)?;
                Ok(Some(t.contiguous()))
            }
        }
    }

    /// A buffer that must be saved.
    pub fn required_buffer(&mut self, name: &str) -> Result<Tensor> {
        let missing = self.missing(name);
        self.buffer(name)?.ok_or(missing)
    }

    /// The `step` count, which must be saved.
    pub fn step(&mut self) -> Result<u64> {
        let t = self
            .entries
            .remove("step")
            .ok_or_else(|| self.missing("step"))?;
        read_step(self.what, &self.key("step"), &t)
    }

    /// Fails naming the first of `names` that is not saved (checked before
    /// reading any, so the first missing key is the one reported).
    pub fn require(&self, names: &[&str]) -> Result<()> {
        match names.iter().find(|n| !self.entries.contains_key(**n)) {
            Some(n) => Err(self.missing(n)),
            None => Ok(()),
        }
    }
}

/// The parameter groups of one optimizer and the state of each parameter.
pub(crate) struct Groups<O, S> {
    /// The optimizer's name in errors and state dicts (`"Adam"`).
    pub what: &'static str,
    pub groups: Vec<ParamGroup<O>>,
    /// `state[g][k]`: parameter `k` of group `g`.
    pub state: Vec<Vec<S>>,
}

impl<O: GroupOptions, S: ParamState<O>> Groups<O, S> {
    /// Validates every group's options and starts every state empty.
    pub fn new(what: &'static str, groups: Vec<ParamGroup<O>>) -> Result<Self> {
        for g in &groups {
            g.options.validate(what)?;
        }
        let state = groups
            .iter()
            .map(|g| {
                std::iter::repeat_with(S::default)
                    .take(g.params.len())
                    .collect()
            })
            .collect();
        Ok(Groups {
            what,
            groups,
            state,
        })
    }

    /// Every group with its options and its parameters' states, for a step.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&ParamGroup<O>, &mut Vec<S>)> {
        self.groups.iter().zip(self.state.iter_mut())
    }

    /// All parameters, group by group.
    pub fn params(&self) -> Vec<Variable> {
        self.groups
            .iter()
            .flat_map(|g| g.params.iter().cloned())
            .collect()
    }

    fn sizes(&self) -> Vec<usize> {
        self.groups.iter().map(|g| g.params.len()).collect()
    }

    /// PyTorch's `optimizer.state_dict()`.
    pub fn state_dict(&self) -> OptimizerStateDict {
        let sizes = self.sizes();
        let mut state = BTreeMap::new();
        let mut entries = Vec::new();
        for (i, st) in self.state.iter().flatten().enumerate() {
            entries.clear();
            st.save(&mut entries);
            for (name, t) in entries.drain(..) {
                state.insert(format!("state.{i}.{name}"), t);
            }
        }
        let param_groups = self
            .groups
            .iter()
            .enumerate()
            .map(|(g, group)| {
                let mut m = Map::new();
                group.options.to_json(&mut m);
                if let Some(lr) = group.initial_lr {
                    m.insert("initial_lr".into(), lr.into());
                }
                m.insert("params".into(), params_value(&sizes, g));
                m
            })
            .collect();
        OptimizerStateDict {
            optimizer: self.what.into(),
            state,
            param_groups,
        }
    }

    /// PyTorch's `optimizer.load_state_dict()`: everything is checked
    /// first, and nothing changes unless all of it loads.
    pub fn load_state_dict(&mut self, dict: &OptimizerStateDict) -> Result<()> {
        let what = self.what;
        let sizes = self.sizes();
        let mut options = Vec::new();
        for group in check_groups(what, dict, &sizes)? {
            let o = O::from_json(what, group)?;
            o.validate(what)?;
            options.push((o, get_initial_lr(what, group)?));
        }
        let params = self.params();
        let per = split_state(what, &dict.state, params.len(), S::KEYS)?;
        let group_of = sizes
            .iter()
            .enumerate()
            .flat_map(|(g, &n)| std::iter::repeat_n(g, n));
        let mut new_states = Vec::with_capacity(params.len());
        for (index, ((param, entries), g)) in params.iter().zip(per).zip(group_of).enumerate() {
            if entries.is_empty() {
                new_states.push(S::default());
                continue;
            }
            let mut saved = Saved {
                what,
                index,
                param,
                entries,
            };
            new_states.push(S::load(&mut saved, &options[g].0)?);
        }
        let mut new_states = new_states.into_iter();
        for ((group, states), (o, initial_lr)) in self
            .groups
            .iter_mut()
            .zip(self.state.iter_mut())
            .zip(options)
        {
            group.options = o;
            group.initial_lr = initial_lr;
            for st in states.iter_mut() {
                *st = new_states.next().expect("one state per parameter");
            }
        }
        Ok(())
    }
}

/// The public plumbing of an optimizer `$name` whose field `$core` is a
/// [`Groups`] over options `$options`: `new`, `with_groups`,
/// `param_groups(_mut)`, and `StatefulOptimizer`. The `Optimizer` impl
/// adds its `step` and uses [`group_access!`] for the rest.
macro_rules! optimizer_common {
    ($name:ident, $options:ty, $what:expr) => {
        impl $name {
            /// The optimizer over one group of `params`.
            pub fn new(
                params: Vec<torchlet_autograd::Variable>,
                options: $options,
            ) -> $crate::error::Result<Self> {
                Self::with_groups(vec![$crate::optimizer::ParamGroup::new(params, options)])
            }

            /// The optimizer over several groups, each with its own options.
            pub fn with_groups(
                groups: Vec<$crate::optimizer::ParamGroup<$options>>,
            ) -> $crate::error::Result<Self> {
                Ok($name {
                    core: $crate::core::Groups::new($what, groups)?,
                })
            }

            /// The parameter groups and their options.
            pub fn param_groups(&self) -> &[$crate::optimizer::ParamGroup<$options>] {
                &self.core.groups
            }

            /// The parameter groups, for changing options between steps.
            pub fn param_groups_mut(&mut self) -> &mut [$crate::optimizer::ParamGroup<$options>] {
                &mut self.core.groups
            }
        }

        impl $crate::state::StatefulOptimizer for $name {
            fn state_dict(&self) -> $crate::state::OptimizerStateDict {
                self.core.state_dict()
            }

            fn load_state_dict(
                &mut self,
                dict: &$crate::state::OptimizerStateDict,
            ) -> $crate::error::Result<()> {
                self.core.load_state_dict(dict)
            }
        }
    };
}
pub(crate) use optimizer_common;

/// The group-access part of `Optimizer` for an optimizer whose `core`
/// field is a [`Groups`].
macro_rules! group_access {
    () => {
        fn params(&self) -> Vec<torchlet_autograd::Variable> {
            self.core.params()
        }

        fn num_param_groups(&self) -> usize {
            self.core.groups.len()
        }

        fn lr(&self, group: usize) -> f64 {
            $crate::core::GroupOptions::lr(&self.core.groups[group].options)
        }

        fn set_lr(&mut self, group: usize, lr: f64) {
            $crate::core::GroupOptions::set_lr(&mut self.core.groups[group].options, lr);
        }

        fn initial_lr(&self, group: usize) -> Option<f64> {
            self.core.groups[group].initial_lr
        }

        fn set_initial_lr(&mut self, group: usize, lr: Option<f64>) {
            self.core.groups[group].initial_lr = lr;
        }
    };
}
pub(crate) use group_access;

/// Implements [`GroupOptions`] for an options struct with an `lr` field:
/// the listed `f64` and `bool` fields are saved under their own names.
macro_rules! group_options {
    ($options:ty, validate = $validate:expr, floats = [$($f:ident),*], flags = [$($b:ident),*]) => {
        impl $crate::core::GroupOptions for $options {
            fn lr(&self) -> f64 {
                self.lr
            }

            fn set_lr(&mut self, lr: f64) {
                self.lr = lr;
            }

            fn validate(&self, what: &'static str) -> $crate::error::Result<()> {
                let check: fn(&Self, &'static str) -> $crate::error::Result<()> = $validate;
                check(self, what)
            }

            fn to_json(&self, group: &mut serde_json::Map<String, serde_json::Value>) {
                group.insert("lr".into(), self.lr.into());
                $(group.insert(stringify!($f).into(), self.$f.into());)*
                $(group.insert(stringify!($b).into(), self.$b.into());)*
            }

            fn from_json(
                what: &'static str,
                group: &serde_json::Map<String, serde_json::Value>,
            ) -> $crate::error::Result<Self> {
                Ok(Self {
                    lr: $crate::state::get_f64(what, group, "lr")?,
                    $($f: $crate::state::get_f64(what, group, stringify!($f))?,)*
                    $($b: $crate::state::get_bool(what, group, stringify!($b))?,)*
                })
            }
        }
    };
}
pub(crate) use group_options;

/// A 0-d float64 `step` entry.
pub(crate) fn step_entry(step: u64) -> (&'static str, Tensor) {
    ("step", step_tensor(step))
}

/// Builder setters named after an options struct's fields, as PyTorch's
/// keyword arguments: `AdamOptions::default().lr(3e-4).weight_decay(0.01)`.
/// Values are checked when the optimizer is built.
macro_rules! option_builders {
    ($options:ty { $($field:ident: $ty:ty),* $(,)? }) => {
        impl $options {
            $(
                #[doc = concat!(
                    "Sets `", stringify!($field), "` (PyTorch's `", stringify!($field),
                    "=` argument); checked when the optimizer is built."
                )]
                pub fn $field(mut self, $field: $ty) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}
pub(crate) use option_builders;
