//! The models of the PyTorch fixtures in `conformance/models`, built in
//! torchlet with PyTorch's parameter names, and the fixtures' JSON
//! readers. Shared by nn's fixture test and the jit's (`#[path]`).

#![allow(dead_code)] // each test file uses a different part

use std::path::PathBuf;

use serde_json::Value;
use torchlet_autograd::Variable;
use torchlet_nn::{
    BatchNorm2d, Conv2d, Conv2dOptions, Embedding, Flatten, Linear, MaxPool2d, Module, Result,
    RnnOptions, GRU, LSTM,
};
use torchlet_tensor::Tensor;

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

/// The fixture model `name`, freshly initialised; `None` when unknown.
pub fn build(name: &str) -> Option<Result<Box<dyn Module>>> {
    match name {
        "mlp" => Some(Mlp::new().map(|m| Box::new(m) as Box<dyn Module>)),
        "lenet_bn" => Some(LeNetBn::new().map(|m| Box::new(m) as Box<dyn Module>)),
        "text_lstm" => Some(TextLstm::new().map(|m| Box::new(m) as Box<dyn Module>)),
        "text_gru" => Some(TextGru::new().map(|m| Box::new(m) as Box<dyn Module>)),
        _ => None,
    }
}

/// Where the fixtures are: `MODEL_FIXTURES`, else `conformance/models`.
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("MODEL_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../conformance/models"
            ))
        })
}

/// A JSON shape.
pub fn shape_of(v: &Value) -> std::result::Result<Vec<usize>, String> {
    v.as_array()
        .ok_or("shape is not an array")?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize).ok_or("bad dim".to_string()))
        .collect()
}

/// A JSON tensor (`shape`, `data`, `dtype` f32 or i64).
pub fn tensor_of(v: &Value) -> std::result::Result<Tensor, String> {
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
