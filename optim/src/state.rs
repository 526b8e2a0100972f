//! Saving and restoring optimizer state (PyTorch's
//! `optimizer.state_dict()` / `optimizer.load_state_dict()`), in memory or
//! as safetensors files.
//!
//! The per-parameter state is a flat map of named tensors,
//! `state.{param_index}.{name}` (e.g. `state.0.exp_avg`, `state.3.step`,
//! `state.1.momentum_buffer`), where `param_index` counts the parameters
//! across all groups in order, like PyTorch's state-dict indices. The
//! hyperparameters of each group are JSON objects (PyTorch's
//! `param_groups` entries, with `params` holding the parameter indices).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Map, Value};
use torchlet_autograd::Variable;
use torchlet_tensor::{io, DType, Tensor, TensorError};

use crate::error::{OptimError, Result};
use crate::optimizer::Optimizer;

/// An optimizer's saved state: per-parameter tensors and per-group
/// hyperparameters.
#[derive(Clone, Debug, Default)]
pub struct OptimizerStateDict {
    /// The optimizer that wrote it (`"SGD"`, `"Adam"`, `"AdamW"`,
    /// `"Adagrad"`, `"RMSprop"`).
    pub optimizer: String,
    /// The per-parameter state, keyed `state.{param_index}.{name}`.
    pub state: BTreeMap<String, Tensor>,
    /// Each group's hyperparameters as a JSON object, with `params` the
    /// indices of its parameters.
    pub param_groups: Vec<Map<String, Value>>,
}

/// Optimizers whose state can be saved and restored.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_optim::{Optimizer, Sgd, SgdOptions, StatefulOptimizer};
/// use torchlet_tensor::Tensor;
/// let w = Variable::parameter(Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap());
/// let opts = SgdOptions { lr: 0.1, momentum: 0.9, ..Default::default() };
/// let mut opt = Sgd::new(vec![w.clone()], opts).unwrap();
/// w.mul(&w).unwrap().sum().backward().unwrap();
/// opt.step().unwrap();
/// let saved = opt.state_dict();
/// assert!(saved.state.contains_key("state.0.momentum_buffer"));
/// let mut fresh = Sgd::new(vec![w.clone()], SgdOptions::default()).unwrap();
/// fresh.load_state_dict(&saved).unwrap();
/// assert_eq!(fresh.param_groups()[0].options.momentum, 0.9);
/// ```
pub trait StatefulOptimizer: Optimizer {
    /// The current state: per-parameter buffers and group hyperparameters.
    fn state_dict(&self) -> OptimizerStateDict;

    /// Restores a state written by [`StatefulOptimizer::state_dict`] of the
    /// same optimizer kind over parameters of the same shapes and group
    /// sizes. The groups' hyperparameters are replaced by the saved ones.
    /// On any error (wrong optimizer, group sizes, unknown keys, shape or
    /// dtype mismatch, bad hyperparameters) nothing is changed.
    fn load_state_dict(&mut self, dict: &OptimizerStateDict) -> Result<()>;

    /// Writes [`StatefulOptimizer::state_dict`] to a safetensors file: the
    /// tensors as tensors, the optimizer name and the groups as JSON in the
    /// metadata. The bytes go to a temporary file next to `path` that is
    /// then renamed over it.
    fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        write_state_dict(&self.state_dict(), path.as_ref())
    }

    /// Reads a file written by [`StatefulOptimizer::save_safetensors`] and
    /// loads it (see [`StatefulOptimizer::load_state_dict`]).
    fn load_safetensors(&mut self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        let dict = read_state_dict(path.as_ref())?;
        self.load_state_dict(&dict)
    }
}

fn usage(what: &'static str, message: impl Into<String>) -> OptimError {
    OptimError::Usage {
        what,
        message: message.into(),
    }
}

/// A 0-d float64 `step` tensor.
pub(crate) fn step_tensor(step: u64) -> Tensor {
    Tensor::from_vec(vec![step as f64], &[]).expect("a 0-d tensor")
}

/// Reads a `step` tensor (0-d or one element; F32, F64 or I64).
pub(crate) fn read_step(what: &'static str, key: &str, t: &Tensor) -> Result<u64> {
    if t.numel() != 1 || t.dtype() == DType::Bool {
        return Err(usage(
            what,
            format!("{key}: expected a one-element numeric tensor"),
        ));
    }
    let v = t.to_dtype(DType::F64).item::<f64>()?;
    if v < 0.0 || v.fract() != 0.0 {
        return Err(usage(
            what,
            format!("{key}: expected a non-negative integer step, got {v}"),
        ));
    }
    Ok(v as u64)
}

/// Checks that a loaded buffer matches its parameter's shape and dtype.
pub(crate) fn check_like(what: &'static str, key: &str, t: &Tensor, p: &Variable) -> Result<()> {
    if t.shape() != p.shape().as_slice() || t.dtype() != p.dtype() {
        return Err(usage(
            what,
            format!(
                "{key}: expected shape {:?} ({}), got {:?} ({})",
                p.shape(),
                p.dtype(),
                t.shape(),
                t.dtype()
            ),
        ));
    }
    Ok(())
}

/// Splits `state.{i}.{name}` keys into per-parameter maps, rejecting keys
/// of another form, out-of-range indices and names not in `allowed`.
pub(crate) fn split_state(
    what: &'static str,
    state: &BTreeMap<String, Tensor>,
    num_params: usize,
    allowed: &[&str],
) -> Result<Vec<BTreeMap<String, Tensor>>> {
    let mut out = vec![BTreeMap::new(); num_params];
    for (key, t) in state {
        let parsed = key
            .strip_prefix("state.")
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(i, name)| i.parse::<usize>().ok().map(|i| (i, name)));
        let Some((i, name)) = parsed else {
            return Err(usage(
                what,
                format!("unexpected key {key} (expected state.<index>.<name>)"),
            ));
        };
        if i >= num_params {
            return Err(usage(
                what,
                format!("{key}: parameter index {i} out of range ({num_params} parameters)"),
            ));
        }
        if !allowed.contains(&name) {
            return Err(usage(
                what,
                format!("unexpected key {key} (expected one of {allowed:?})"),
            ));
        }
        out[i].insert(name.to_string(), t.clone());
    }
    Ok(out)
}

/// Checks the optimizer name and that the groups have the optimizer's
/// group sizes, and returns the groups.
pub(crate) fn check_groups<'a>(
    what: &'static str,
    dict: &'a OptimizerStateDict,
    sizes: &[usize],
) -> Result<&'a [Map<String, Value>]> {
    if dict.optimizer != what {
        return Err(usage(
            what,
            format!("the state dict is for optimizer {:?}", dict.optimizer),
        ));
    }
    if dict.param_groups.len() != sizes.len() {
        return Err(usage(
            what,
            format!(
                "the state dict has {} parameter group(s), the optimizer {}",
                dict.param_groups.len(),
                sizes.len()
            ),
        ));
    }
    let mut start = 0;
    for (g, (group, &n)) in dict.param_groups.iter().zip(sizes).enumerate() {
        let expected: Vec<Value> = (start..start + n).map(Value::from).collect();
        match group.get("params") {
            Some(Value::Array(p)) if *p == expected => {}
            _ => {
                return Err(usage(
                    what,
                    format!(
                    "parameter group {g} does not match the optimizer's group of {n} parameter(s)"
                ),
                ))
            }
        }
        start += n;
    }
    Ok(&dict.param_groups)
}

/// The `params` entry of group `g` given the groups' sizes.
pub(crate) fn params_value(sizes: &[usize], g: usize) -> Value {
    let start: usize = sizes[..g].iter().sum();
    Value::from((start..start + sizes[g]).collect::<Vec<_>>())
}

/// A float hyperparameter of a saved group.
pub(crate) fn get_f64(what: &'static str, group: &Map<String, Value>, name: &str) -> Result<f64> {
    group.get(name).and_then(Value::as_f64).ok_or_else(|| {
        usage(
            what,
            format!("parameter group: missing or non-numeric {name}"),
        )
    })
}

/// A boolean hyperparameter of a saved group.
pub(crate) fn get_bool(what: &'static str, group: &Map<String, Value>, name: &str) -> Result<bool> {
    group.get(name).and_then(Value::as_bool).ok_or_else(|| {
        usage(
            what,
            format!("parameter group: missing or non-boolean {name}"),
        )
    })
}

/// The optional `initial_lr` of a saved group.
pub(crate) fn get_initial_lr(
    what: &'static str,
    group: &Map<String, Value>,
) -> Result<Option<f64>> {
    match group.get("initial_lr") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| usage(what, "parameter group: non-numeric initial_lr")),
    }
}

fn st_error(path: &Path, e: impl std::fmt::Display) -> OptimError {
    usage("safetensors", format!("{}: {e}", path.display()))
}

fn write_state_dict(dict: &OptimizerStateDict, path: &Path) -> Result<()> {
    let groups = Value::from(
        dict.param_groups
            .iter()
            .cloned()
            .map(Value::Object)
            .collect::<Vec<_>>(),
    );
    let metadata = HashMap::from([
        ("optimizer".to_string(), dict.optimizer.clone()),
        ("param_groups".to_string(), groups.to_string()),
    ]);
    let bytes = io::to_safetensors_bytes(&dict.state, Some(metadata))
        .map_err(|e| st_error(path, tensor_message(e)))?;
    io::write_atomic(path, &bytes).map_err(|e| st_error(path, e))
}

/// The message of a safetensors error from the tensor layer.
fn tensor_message(e: TensorError) -> String {
    match e {
        TensorError::InvalidArgument { message, .. } => message,
        other => other.to_string(),
    }
}

fn read_state_dict(path: &Path) -> Result<OptimizerStateDict> {
    let bytes = std::fs::read(path).map_err(|e| st_error(path, e))?;
    OptimizerStateDict::from_safetensors_bytes(&bytes, &path.display().to_string())
}

impl OptimizerStateDict {
    /// Parses the bytes of a file written by
    /// [`StatefulOptimizer::save_safetensors`]; `source` names them in
    /// errors (a path, or `embedded:...`). Nothing is loaded into an
    /// optimizer yet: pass the result to
    /// [`StatefulOptimizer::load_state_dict`], which checks it against
    /// the parameters.
    pub fn from_safetensors_bytes(bytes: &[u8], source: &str) -> Result<OptimizerStateDict> {
        let err = |e: &dyn std::fmt::Display| usage("safetensors", format!("{source}: {e}"));
        let (state, meta) =
            io::from_safetensors_bytes(bytes).map_err(|e| err(&tensor_message(e)))?;
        let meta = meta.ok_or_else(|| err(&"no metadata (not an optimizer state file)"))?;
        let optimizer = meta
            .get("optimizer")
            .cloned()
            .ok_or_else(|| err(&"metadata lacks \"optimizer\""))?;
        let groups: Value = meta
            .get("param_groups")
            .ok_or_else(|| err(&"metadata lacks \"param_groups\""))
            .and_then(|s| serde_json::from_str(s).map_err(|e| err(&e)))?;
        let Value::Array(groups) = groups else {
            return Err(err(&"param_groups: expected a JSON array"));
        };
        let param_groups = groups
            .into_iter()
            .map(|g| match g {
                Value::Object(m) => Ok(m),
                _ => Err(err(&"param_groups: expected JSON objects")),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(OptimizerStateDict {
            optimizer,
            state,
            param_groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Adagrad, AdagradOptions, Adam, AdamOptions, AdamW, RmsProp, RmsPropOptions, Sgd, SgdOptions,
    };
    use torchlet_autograd::functional::{mse_loss, Reduction};

    fn det(n: usize, shape: &[usize], seed: f32) -> Tensor {
        let v = (0..n)
            .map(|i| ((i as f32 + 1.0) * 0.731 + seed).sin() * 0.5)
            .collect();
        Tensor::from_vec(v, shape).unwrap()
    }

    /// A small two-layer net's parameters, always the same values.
    fn params() -> Vec<Variable> {
        vec![
            Variable::parameter(det(12, &[4, 3], 0.1)),
            Variable::parameter(det(4, &[4], 0.2)),
            Variable::parameter(det(8, &[2, 4], 0.3)),
            Variable::parameter(det(2, &[2], 0.4)),
        ]
    }

    fn train(opt: &mut dyn Optimizer, p: &[Variable], steps: usize) {
        let x = Variable::constant(det(15, &[5, 3], 1.0));
        let y = Variable::constant(det(10, &[5, 2], 2.0));
        for _ in 0..steps {
            opt.zero_grad();
            let h = x.linear(&p[0], Some(&p[1])).unwrap().tanh();
            let out = h.linear(&p[2], Some(&p[3])).unwrap();
            mse_loss(&out, &y, Reduction::Mean)
                .unwrap()
                .backward()
                .unwrap();
            opt.step().unwrap();
        }
    }

    fn bits(p: &[Variable]) -> Vec<Vec<u32>> {
        p.iter()
            .map(|v| {
                v.data()
                    .to_vec::<f32>()
                    .unwrap()
                    .iter()
                    .map(|x| x.to_bits())
                    .collect()
            })
            .collect()
    }

    /// 3 steps, save to a file, load into a fresh optimizer (built with
    /// other options), 3 more steps: bit-identical to 6 straight steps.
    fn check_resume<O: StatefulOptimizer>(make: impl Fn(Vec<Variable>, bool) -> O, name: &str) {
        let straight = params();
        let mut opt = make(straight.clone(), true);
        train(&mut opt, &straight, 6);

        let resumed = params();
        let mut first = make(resumed.clone(), true);
        train(&mut first, &resumed, 3);
        let dir = std::env::temp_dir().join(format!(
            "torchlet_optim_state_{name}_{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("opt.safetensors");
        first.save_safetensors(&path).unwrap();
        drop(first);
        let mut second = make(resumed.clone(), false);
        second.load_safetensors(&path).unwrap();
        train(&mut second, &resumed, 3);
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(bits(&straight), bits(&resumed), "{name}");
        // The in-memory round trip gives back the same dict.
        let d = opt.state_dict();
        let mut again = make(params(), false);
        again.load_state_dict(&d).unwrap();
        let d2 = again.state_dict();
        assert_eq!(d.param_groups, d2.param_groups);
        assert_eq!(
            d.state.keys().collect::<Vec<_>>(),
            d2.state.keys().collect::<Vec<_>>()
        );
        for (k, t) in &d.state {
            assert_eq!(
                t.to_dtype(DType::F64).to_vec::<f64>().unwrap(),
                d2.state[k].to_dtype(DType::F64).to_vec::<f64>().unwrap(),
                "{k}"
            );
        }
    }

    fn sgd(p: Vec<Variable>, real: bool) -> Sgd {
        let o = if real {
            SgdOptions {
                lr: 0.05,
                momentum: 0.9,
                weight_decay: 1e-3,
                nesterov: true,
                ..Default::default()
            }
        } else {
            SgdOptions::default()
        };
        Sgd::new(p, o).unwrap()
    }

    fn adam_opts(real: bool) -> AdamOptions {
        if real {
            AdamOptions {
                lr: 0.01,
                betas: (0.8, 0.99),
                weight_decay: 1e-2,
                amsgrad: true,
                ..Default::default()
            }
        } else {
            AdamOptions::default()
        }
    }

    #[test]
    fn sgd_momentum_resume_is_bit_exact() {
        check_resume(sgd, "sgd");
        // plain momentum too
        check_resume(
            |p, real| {
                let lr = if real { 0.01 } else { 1.0 };
                Sgd::new(
                    p,
                    SgdOptions {
                        lr,
                        momentum: 0.9,
                        ..Default::default()
                    },
                )
                .unwrap()
            },
            "sgd_plain",
        );
    }

    #[test]
    fn adam_resume_is_bit_exact() {
        check_resume(|p, real| Adam::new(p, adam_opts(real)).unwrap(), "adam");
        check_resume(
            |p, real| {
                let o = AdamOptions {
                    amsgrad: false,
                    ..adam_opts(real)
                };
                Adam::new(p, o).unwrap()
            },
            "adam_plain",
        );
        check_resume(|p, real| AdamW::new(p, adam_opts(real)).unwrap(), "adamw");
    }

    #[test]
    fn adagrad_resume_is_bit_exact() {
        check_resume(
            |p, real| {
                let o = if real {
                    AdagradOptions {
                        lr: 0.05,
                        lr_decay: 0.01,
                        weight_decay: 1e-3,
                        initial_accumulator_value: 0.1,
                        ..Default::default()
                    }
                } else {
                    AdagradOptions::default()
                };
                Adagrad::new(p, o).unwrap()
            },
            "adagrad",
        );
    }

    fn rmsprop_opts(real: bool) -> RmsPropOptions {
        if real {
            RmsPropOptions {
                lr: 0.01,
                alpha: 0.9,
                weight_decay: 1e-3,
                momentum: 0.8,
                centered: true,
                ..Default::default()
            }
        } else {
            RmsPropOptions::default()
        }
    }

    #[test]
    fn rmsprop_resume_is_bit_exact() {
        // centered, with momentum and weight decay: all four buffers
        check_resume(
            |p, real| RmsProp::new(p, rmsprop_opts(real)).unwrap(),
            "rmsprop",
        );
        // momentum only
        check_resume(
            |p, real| {
                let o = RmsPropOptions {
                    centered: false,
                    ..rmsprop_opts(real)
                };
                RmsProp::new(p, o).unwrap()
            },
            "rmsprop_momentum",
        );
        // plain: step and square_avg only
        check_resume(
            |p, real| {
                let o = if real {
                    RmsPropOptions {
                        lr: 0.02,
                        maximize: true,
                        ..Default::default()
                    }
                } else {
                    RmsPropOptions::default()
                };
                RmsProp::new(p, o).unwrap()
            },
            "rmsprop_plain",
        );
    }

    #[test]
    fn rmsprop_state_dict_holds_pytorch_buffers() {
        // One step on loss = sum(w²) from w = [1, -0.5]: g = 2w = [2, -1].
        // PyTorch's RMSprop (alpha = 0.9, centered, momentum = 0.5):
        //   square_avg = 0.1 g²            = [0.4, 0.1]
        //   grad_avg   = 0.1 g             = [0.2, -0.1]
        //   avg = sqrt(square_avg - grad_avg²) + eps = [0.6, 0.3] (+1e-8)
        //   momentum_buffer = g / avg      = [10/3, -10/3]
        let w = Variable::parameter(Tensor::from_vec(vec![1.0f32, -0.5], &[2]).unwrap());
        let o = RmsPropOptions {
            lr: 0.1,
            alpha: 0.9,
            momentum: 0.5,
            centered: true,
            ..Default::default()
        };
        let mut opt = RmsProp::new(vec![w.clone()], o).unwrap();
        assert!(opt.state_dict().state.is_empty());
        w.mul(&w).unwrap().sum().backward().unwrap();
        opt.step().unwrap();
        let d = opt.state_dict();
        assert_eq!(d.optimizer, "RMSprop");
        assert_eq!(
            d.state.keys().collect::<Vec<_>>(),
            [
                "state.0.grad_avg",
                "state.0.momentum_buffer",
                "state.0.square_avg",
                "state.0.step"
            ]
        );
        let close = |key: &str, want: &[f32]| {
            let got = d.state[key].to_vec::<f32>().unwrap();
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-6, "{key}: got {got:?}, want {want:?}");
            }
        };
        close("state.0.square_avg", &[0.4, 0.1]);
        close("state.0.grad_avg", &[0.2, -0.1]);
        close("state.0.momentum_buffer", &[10.0 / 3.0, -10.0 / 3.0]);
        assert_eq!(d.state["state.0.step"].item::<f64>().unwrap(), 1.0);
        let g = &d.param_groups[0];
        assert_eq!(g["alpha"], Value::from(0.9));
        assert_eq!(g["momentum"], Value::from(0.5));
        assert_eq!(g["centered"], Value::from(true));
        assert_eq!(g["params"], Value::from(vec![0]));

        // Without momentum or centering only step and square_avg are kept.
        let p = params();
        let mut plain = RmsProp::new(p.clone(), RmsPropOptions::default()).unwrap();
        train(&mut plain, &p, 2);
        let d = plain.state_dict();
        assert_eq!(d.state.len(), 2 * p.len());
        assert_eq!(d.state["state.3.step"].item::<f64>().unwrap(), 2.0);
        assert!(d.state.contains_key("state.3.square_avg"));
    }

    #[test]
    fn rmsprop_load_rejects_mismatched_state_by_key() {
        let p = params();
        let mut opt = RmsProp::new(p.clone(), rmsprop_opts(true)).unwrap();
        train(&mut opt, &p, 2);
        let good = opt.state_dict();
        let mut fresh = RmsProp::new(params(), RmsPropOptions::default()).unwrap();
        let err = |d: &OptimizerStateDict, fresh: &mut RmsProp| {
            let e = fresh.load_state_dict(d).unwrap_err().to_string();
            assert!(fresh.state_dict().state.is_empty(), "changed on error");
            assert_eq!(fresh.param_groups()[0].options, RmsPropOptions::default());
            e
        };

        let mut d = good.clone();
        d.state
            .insert("state.2.square_avg".into(), Tensor::zeros(&[4, 2]));
        let e = err(&d, &mut fresh);
        assert!(
            e.contains("state.2.square_avg: expected shape [2, 4]"),
            "{e}"
        );

        let mut d = good.clone();
        d.state
            .insert("state.1.momentum_buffer".into(), Tensor::zeros(&[5]));
        assert!(err(&d, &mut fresh).contains("state.1.momentum_buffer"));

        let mut d = good.clone();
        d.state.remove("state.0.square_avg");
        assert!(err(&d, &mut fresh).contains("missing key state.0.square_avg"));

        // centered groups need grad_avg
        let mut d = good.clone();
        d.state.remove("state.3.grad_avg");
        assert!(err(&d, &mut fresh).contains("missing key state.3.grad_avg"));

        let mut d = good.clone();
        d.state
            .insert("state.0.exp_avg".into(), Tensor::zeros(&[4, 3]));
        assert!(err(&d, &mut fresh).contains("unexpected key state.0.exp_avg"));

        let mut d = good.clone();
        d.param_groups[0].remove("alpha");
        assert!(err(&d, &mut fresh).contains("alpha"));

        let mut d = good.clone();
        d.optimizer = "Adam".into();
        assert!(err(&d, &mut fresh).contains("Adam"));

        // A non-centered state without grad_avg is fine, and a missing
        // momentum buffer starts from zero.
        let mut d = good.clone();
        d.param_groups[0].insert("centered".into(), Value::from(false));
        d.state.retain(|k, _| !k.ends_with(".grad_avg"));
        d.state.remove("state.0.momentum_buffer");
        fresh.load_state_dict(&d).unwrap();
        assert!(!fresh.param_groups()[0].options.centered);
        assert_eq!(fresh.state_dict().state.len(), good.state.len() - 5);
    }

    #[test]
    fn state_dict_names_follow_pytorch() {
        let p = params();
        let mut opt = Adam::new(p.clone(), AdamOptions::default()).unwrap();
        train(&mut opt, &p, 2);
        let d = opt.state_dict();
        assert!(d.state.contains_key("state.3.exp_avg_sq"));
        let step = &d.state["state.0.step"];
        assert_eq!(step.shape(), &[] as &[usize]);
        assert_eq!(step.dtype(), DType::F64);
        assert_eq!(step.item::<f64>().unwrap(), 2.0);
        assert_eq!(d.param_groups[0]["params"], Value::from(vec![0, 1, 2, 3]));
        assert_eq!(d.param_groups[0]["betas"], Value::from(vec![0.9, 0.999]));

        let mut sgd = Sgd::new(p.clone(), SgdOptions::default()).unwrap();
        train(&mut sgd, &p, 1);
        // no momentum: no buffers
        assert!(sgd.state_dict().state.is_empty());
    }

    #[test]
    fn load_rejects_bad_dicts_and_changes_nothing() {
        let p = params();
        let mut adam = Adam::new(p.clone(), AdamOptions::default()).unwrap();
        train(&mut adam, &p, 1);
        let good = adam.state_dict();
        let mut fresh = Adam::new(params(), AdamOptions::default()).unwrap();
        let err = |d: &OptimizerStateDict, fresh: &mut Adam| {
            let e = fresh.load_state_dict(d).unwrap_err().to_string();
            assert!(fresh.state_dict().state.is_empty(), "changed on error");
            e
        };

        let mut d = good.clone();
        d.optimizer = "SGD".into();
        assert!(err(&d, &mut fresh).contains("SGD"));

        let mut d = good.clone();
        d.state
            .insert("state.9.exp_avg".into(), Tensor::zeros(&[1]));
        assert!(err(&d, &mut fresh).contains("out of range"));

        let mut d = good.clone();
        d.state.insert("state.0.bogus".into(), Tensor::zeros(&[1]));
        assert!(err(&d, &mut fresh).contains("unexpected key"));

        let mut d = good.clone();
        d.state
            .insert("state.0.exp_avg".into(), Tensor::zeros(&[3, 4]));
        assert!(err(&d, &mut fresh).contains("expected shape"));

        let mut d = good.clone();
        d.state.remove("state.1.exp_avg_sq");
        assert!(err(&d, &mut fresh).contains("missing key state.1.exp_avg_sq"));

        let mut d = good.clone();
        d.param_groups[0].insert("lr".into(), Value::from(-1.0));
        assert!(err(&d, &mut fresh).contains("lr"));

        let mut d = good.clone();
        d.param_groups[0].insert("params".into(), Value::from(vec![0, 1]));
        assert!(err(&d, &mut fresh).contains("does not match"));

        // a different number of groups
        let two = Adam::with_groups(vec![
            crate::ParamGroup::new(p[..2].to_vec(), AdamOptions::default()),
            crate::ParamGroup::new(p[2..].to_vec(), AdamOptions::default()),
        ])
        .unwrap();
        assert!(err(&two.state_dict(), &mut fresh).contains("group"));

        fresh.load_state_dict(&good).unwrap();
        assert_eq!(fresh.state_dict().state.len(), good.state.len());
    }

    #[test]
    fn load_safetensors_reports_missing_file() {
        let mut opt = Sgd::new(params(), SgdOptions::default()).unwrap();
        let e = opt
            .load_safetensors("/nonexistent/torchlet/opt.safetensors")
            .unwrap_err();
        assert!(e.to_string().contains("opt.safetensors"));
    }
}
