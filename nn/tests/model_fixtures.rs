//! PyTorch-trained model fixtures: `<name>.json` + `<name>.safetensors` in
//! the folder named by `MODEL_FIXTURES` (default `conformance/models`).
//! Each known model is built in torchlet, loads PyTorch's state dict
//! unchanged, and must reproduce PyTorch's eval-mode output within `atol`;
//! a save → load round trip must be bit-identical.

#[path = "common/fixture_models.rs"]
mod fixture_models;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fixture_models::{build, fixtures_dir, shape_of, tensor_of};
use serde_json::Value;
use torchlet_autograd::{no_grad, Variable};
use torchlet_nn::state;
use torchlet_tensor::{DType, Tensor};

/// Fixture models that may go unbuilt, each with the reason. Empty: every
/// fixture's model is built below. A fixture whose model is neither built
/// nor listed here fails the test, so a dropped model cannot pass unnoticed.
const NOT_YET_SUPPORTED: &[(&str, &str)] = &[];

fn bits(t: &Tensor) -> Vec<u64> {
    match t.dtype() {
        DType::F32 => t
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|v| v.to_bits() as u64)
            .collect(),
        DType::F64 => t
            .to_vec::<f64>()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect(),
        DType::I64 => t
            .to_vec::<i64>()
            .unwrap()
            .iter()
            .map(|&v| v as u64)
            .collect(),
        DType::Bool => t
            .to_vec::<bool>()
            .unwrap()
            .iter()
            .map(|&v| v as u64)
            .collect(),
    }
}

fn same_bits(
    a: &BTreeMap<String, Tensor>,
    b: &BTreeMap<String, Tensor>,
) -> std::result::Result<(), String> {
    if a.keys().ne(b.keys()) {
        return Err(format!(
            "keys differ: {:?} vs {:?}",
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>()
        ));
    }
    for (k, t) in a {
        let u = &b[k];
        if t.shape() != u.shape() || t.dtype() != u.dtype() || bits(t) != bits(u) {
            return Err(format!("tensor {k} differs after the round trip"));
        }
    }
    Ok(())
}

fn run_case(name: &str, json: &Value, weights: &Path) -> std::result::Result<(), String> {
    let err = |e: torchlet_nn::NnError| e.to_string();
    let model = build(name).expect("known model").map_err(err)?;
    // The architecture's keys and shapes are the fixture's.
    let expected: BTreeMap<String, Vec<usize>> = json["state_dict_keys"]
        .as_object()
        .ok_or("state_dict_keys is not an object")?
        .iter()
        .map(|(k, v)| Ok((k.clone(), shape_of(v)?)))
        .collect::<std::result::Result<_, String>>()?;
    let ours: BTreeMap<String, Vec<usize>> = model
        .state_dict()
        .into_iter()
        .map(|(k, t)| (k, t.shape().to_vec()))
        .collect();
    if ours != expected {
        return Err(format!(
            "state dict keys/shapes {ours:?}, expected {expected:?}"
        ));
    }
    let report = state::load_safetensors(model.as_ref(), weights, true).map_err(err)?;
    assert!(report.is_clean());
    if json["mode"].as_str() == Some("eval") {
        model.eval();
    }
    let input = tensor_of(&json["input"])?;
    let want = tensor_of(&json["output"])?;
    let atol = json["atol"].as_f64().unwrap_or(1e-4);
    let got = no_grad(|| model.forward(&Variable::constant(input))).map_err(err)?;
    if got.shape() != want.shape() {
        return Err(format!(
            "output shape {:?}, expected {:?}",
            got.shape(),
            want.shape()
        ));
    }
    let (g, w) = (
        got.to_vec::<f32>().map_err(|e| e.to_string())?,
        want.to_vec::<f32>().map_err(|e| e.to_string())?,
    );
    let worst = g
        .iter()
        .zip(&w)
        .map(|(a, b)| (a - b).abs() as f64)
        .fold(0.0, f64::max);
    if worst.is_nan() || worst > atol {
        return Err(format!(
            "max |torchlet - pytorch| = {worst:e} > atol {atol:e}"
        ));
    }
    // Save → load into a freshly initialised model: bit-identical.
    let original = state::read_safetensors(weights).map_err(err)?;
    same_bits(&original, &model.state_dict())?;
    let tmp = std::env::temp_dir().join(format!(
        "torchlet-nn-fixture-{}-{name}.safetensors",
        std::process::id()
    ));
    state::save_safetensors(model.as_ref(), &tmp).map_err(err)?;
    let fresh = build(name).expect("known model").map_err(err)?;
    let loaded = state::load_safetensors(fresh.as_ref(), &tmp, true);
    let reread = state::read_safetensors(&tmp);
    let _ = std::fs::remove_file(&tmp);
    loaded.map_err(err)?;
    same_bits(&original, &reread.map_err(err)?)?;
    same_bits(&original, &fresh.state_dict())?;
    Ok(())
}

#[test]
fn model_fixtures() {
    let dir = fixtures_dir();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    cases.sort();
    let (mut passed, mut failed, mut skipped) = (0, Vec::new(), Vec::new());
    for path in &cases {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let json: Value = match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        {
            Ok(j) => j,
            Err(e) => {
                failed.push(format!("{stem}: {e}"));
                continue;
            }
        };
        let name = json["model"].as_str().unwrap_or(&stem).to_string();
        if build(&name).is_none() {
            match NOT_YET_SUPPORTED.iter().find(|(m, _)| *m == name) {
                Some((_, why)) => skipped.push(format!("{name} ({why})")),
                None => failed.push(format!(
                    "{name}: no model of this name is built here (build it, or list it in \
                     NOT_YET_SUPPORTED with the reason)"
                )),
            }
            continue;
        }
        match run_case(&name, &json, &path.with_extension("safetensors")) {
            Ok(()) => passed += 1,
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    for f in &failed {
        println!("FAILED {f}");
    }
    println!("model fixtures: {passed} passed, {} failed", failed.len());
    println!(
        "skipped models: {}",
        if skipped.is_empty() {
            "none".to_string()
        } else {
            skipped.join(", ")
        }
    );
    assert!(
        failed.is_empty(),
        "{} model fixture(s) failed",
        failed.len()
    );
    assert!(passed > 0, "no model fixture ran from {}", dir.display());
}
