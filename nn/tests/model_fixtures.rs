//! PyTorch-trained model fixtures: `<name>.json` + `<name>.safetensors` in
//! the folder named by `MODEL_FIXTURES` (default `conformance/models`).
//! Each known model is built in torchlet, loads PyTorch's state dict
//! unchanged, and must reproduce PyTorch's eval-mode output within `atol`;
//! a save → load round trip must be bit-identical.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use torchlet_autograd::{no_grad, Variable};
use torchlet_nn::{
    state, BatchNorm2d, Conv2d, Conv2dOptions, Embedding, Flatten, Linear, MaxPool2d, Module,
    Result, RnnOptions, GRU, LSTM,
};
use torchlet_tensor::{DType, Tensor};

/// `fc1 Linear(784,256) - ReLU - fc2 Linear(256,128) - ReLU - fc3
/// Linear(128,10)` on the flattened input.
struct Mlp {
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

impl Mlp {
    fn new() -> Result<Mlp> {
        Ok(Mlp {
            fc1: Linear::new(784, 256)?,
            fc2: Linear::new(256, 128)?,
            fc3: Linear::new(128, 10)?,
        })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let x = Flatten::new().forward(x)?;
        let x = self.fc1.forward(&x)?.relu();
        let x = self.fc2.forward(&x)?.relu();
        self.fc3.forward(&x)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![("fc1", &self.fc1), ("fc2", &self.fc2), ("fc3", &self.fc3)]
    }
}

/// LeNet with BatchNorm after the first convolution; the layers with
/// parameters are fields, the stateless ones are applied inline.
struct LeNetBn {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

impl LeNetBn {
    fn new() -> Result<LeNetBn> {
        Ok(LeNetBn {
            conv1: Conv2d::with_options(1, 6, [5, 5], Conv2dOptions::default().padding(2))?,
            bn1: BatchNorm2d::new(6)?,
            conv2: Conv2d::new(6, 16, 5)?,
            fc1: Linear::new(400, 120)?,
            fc2: Linear::new(120, 84)?,
            fc3: Linear::new(84, 10)?,
        })
    }
}

impl Module for LeNetBn {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let pool = MaxPool2d::new(2);
        let x = pool.forward(&self.bn1.forward(&self.conv1.forward(x)?)?.relu())?;
        let x = pool.forward(&self.conv2.forward(&x)?.relu())?;
        let x = Flatten::new().forward(&x)?;
        let x = self.fc1.forward(&x)?.relu();
        let x = self.fc2.forward(&x)?.relu();
        self.fc3.forward(&x)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![
            ("conv1", &self.conv1),
            ("bn1", &self.bn1),
            ("conv2", &self.conv2),
            ("fc1", &self.fc1),
            ("fc2", &self.fc2),
            ("fc3", &self.fc3),
        ]
    }
}

/// `embed Embedding(50,16,padding_idx=0) - lstm LSTM(16,24,num_layers=2,
/// batch_first) - head Linear(24,4)` on the last layer's final hidden state.
struct TextLstm {
    embed: Embedding,
    lstm: LSTM,
    head: Linear,
}

impl TextLstm {
    fn new() -> Result<TextLstm> {
        Ok(TextLstm {
            embed: Embedding::with_padding(50, 16, Some(0))?,
            lstm: LSTM::with_options(
                16,
                24,
                RnnOptions::default().num_layers(2).batch_first(true),
            )?,
            head: Linear::new(24, 4)?,
        })
    }
}

impl Module for TextLstm {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let (_, h_n, _) = self
            .lstm
            .forward_with_state(&self.embed.forward(x)?, None)?;
        self.head.forward(&h_n.select(0, -1)?)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![
            ("embed", &self.embed),
            ("lstm", &self.lstm),
            ("head", &self.head),
        ]
    }
}

/// `embed Embedding(50,16) - gru GRU(16,12,bidirectional,batch_first) -
/// head Linear(24,4)` on the output's last time step.
struct TextGru {
    embed: Embedding,
    gru: GRU,
    head: Linear,
}

impl TextGru {
    fn new() -> Result<TextGru> {
        Ok(TextGru {
            embed: Embedding::new(50, 16)?,
            gru: GRU::with_options(
                16,
                12,
                RnnOptions::default().bidirectional(true).batch_first(true),
            )?,
            head: Linear::new(24, 4)?,
        })
    }
}

impl Module for TextGru {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let out = self.gru.forward(&self.embed.forward(x)?)?;
        self.head.forward(&out.select(1, -1)?)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![
            ("embed", &self.embed),
            ("gru", &self.gru),
            ("head", &self.head),
        ]
    }
}

/// Fixture models that may go unbuilt, each with the reason. Empty: every
/// fixture's model is built below. A fixture whose model is neither built
/// nor listed here fails the test, so a dropped model cannot pass unnoticed.
const NOT_YET_SUPPORTED: &[(&str, &str)] = &[];

fn build(name: &str) -> Option<Result<Box<dyn Module>>> {
    match name {
        "mlp" => Some(Mlp::new().map(|m| Box::new(m) as Box<dyn Module>)),
        "lenet_bn" => Some(LeNetBn::new().map(|m| Box::new(m) as Box<dyn Module>)),
        "text_lstm" => Some(TextLstm::new().map(|m| Box::new(m) as Box<dyn Module>)),
        "text_gru" => Some(TextGru::new().map(|m| Box::new(m) as Box<dyn Module>)),
        _ => None,
    }
}

fn fixtures_dir() -> PathBuf {
    std::env::var_os("MODEL_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../conformance/models"
            ))
        })
}

fn shape_of(v: &Value) -> std::result::Result<Vec<usize>, String> {
    v.as_array()
        .ok_or("shape is not an array")?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize).ok_or("bad dim".to_string()))
        .collect()
}

fn tensor_of(v: &Value) -> std::result::Result<Tensor, String> {
    let shape = shape_of(&v["shape"])?;
    let data = v["data"].as_array().ok_or("data is not an array")?;
    let dtype = v["dtype"].as_str().unwrap_or("f32");
    let t = match dtype {
        "f32" => Tensor::from_vec(
            data.iter()
                .map(|x| x.as_f64().map(|x| x as f32).ok_or("bad number"))
                .collect::<std::result::Result<Vec<f32>, _>>()?,
            &shape,
        ),
        "i64" => Tensor::from_vec(
            data.iter()
                .map(|x| x.as_i64().ok_or("bad integer"))
                .collect::<std::result::Result<Vec<i64>, _>>()?,
            &shape,
        ),
        other => return Err(format!("unsupported input dtype {other}")),
    };
    t.map_err(|e| e.to_string())
}

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
