//! What a run folder holds and how to rebuild its model and data:
//! `config.json` ([`RunConfig`]), `model.safetensors`, `metrics.csv`,
//! `curves.png`.

use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use torchlet_nn::Module;
use torchlet_quantize::{
    capture, fuse_modules, get_default_qconfig, load_quantized, load_quantized_dynamic, prepare,
    DynamicKind, GraphModule, QuantError, QuantizedModel,
};
use torchlet_tensor::Tensor;
use torchlet_train::IndexBatches;
use torchlet_vision::models::{mlp, LeNet5, LeNet5Options, ResNet};
use torchlet_vision::Mnist;

/// `Box<dyn Error>` for the CLI's one-line messages.
pub type BoxError = Box<dyn Error>;

/// An error with a plain message.
#[derive(Debug)]
pub struct Msg(pub String);

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Msg {}

/// Returns `Err(Msg(..))`.
macro_rules! bail {
    ($($arg:tt)*) => { return Err(Box::new($crate::run::Msg(format!($($arg)*)))) };
}
pub(crate) use bail;

/// MNIST's mean and standard deviation (torchvision's usual `Normalize`).
pub const MNIST_MEAN: f32 = 0.1307;
/// See [`MNIST_MEAN`].
pub const MNIST_STD: f32 = 0.3081;

/// The model families `--model` accepts.
pub const MODELS: [&str; 3] = ["mlp", "lenet", "resnet"];

/// Options of the model that the state dict alone does not say.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelOptions {
    /// LeNet-5 with BatchNorm after both convolutions.
    pub batch_norm: bool,
}

/// Input normalization: `(x - mean) / std` per channel, after scaling the
/// bytes to `[0, 1]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Normalization {
    /// Per-channel mean.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation.
    pub std: Vec<f32>,
}

/// The data a run trained on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatasetConfig {
    /// `mnist-embedded` (the 10k digits built into torchlet-vision) or
    /// `mnist` (IDX files in `dir`).
    pub name: String,
    /// The folder of the IDX files (for `mnist`).
    pub dir: Option<PathBuf>,
    /// Training samples.
    pub train_samples: usize,
    /// Test samples.
    pub test_samples: usize,
}

/// `config.json`: all that is needed to rebuild the model and replay the
/// run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunConfig {
    /// The torchlet version that wrote the run.
    pub torchlet_version: String,
    /// `mlp`, `lenet` or `resnet`.
    pub model: String,
    /// Model options.
    pub model_options: ModelOptions,
    /// Number of classes.
    pub num_classes: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Input height and width.
    pub image_size: [usize; 2],
    /// Class names, by index.
    pub classes: Vec<String>,
    /// Input normalization.
    pub normalize: Normalization,
    /// Training data.
    pub dataset: DatasetConfig,
    /// Seed of weights and shuffling.
    pub seed: u64,
    /// `sgd`, `adam` or `adamw`.
    pub optimizer: String,
    /// Learning rate.
    pub lr: f64,
    /// Learning-rate schedule: `cosine` (to 0 over all steps, per batch) or
    /// `constant`.
    #[serde(default = "constant")]
    pub lr_schedule: String,
    /// SGD momentum (0 for Adam/AdamW).
    pub momentum: f64,
    /// Epochs.
    pub epochs: usize,
    /// Training batch size.
    pub batch_size: usize,
    /// Worker threads (`null`: all cores).
    pub threads: Option<usize>,
    /// Test accuracy at the end of training.
    pub test_accuracy: Option<f64>,
    /// How the run was quantized (`torchlet quantize`): its
    /// model.safetensors then holds int8 weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<QuantizationConfig>,
}

/// Reads and parses `dir/config.json` (`what` names the kind of config in
/// errors), checking first that the run folder exists.
pub fn read_config<T: serde::de::DeserializeOwned>(dir: &Path, what: &str) -> Result<T, BoxError> {
    if !dir.is_dir() {
        bail!("run folder {} does not exist", dir.display());
    }
    let path = dir.join("config.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| Msg(format!("{}: {e}", path.display())))?;
    Ok(serde_json::from_str(&text)
        .map_err(|e| Msg(format!("{}: not a valid {what}: {e}", path.display())))?)
}

impl RunConfig {
    /// Reads `dir/config.json`, checking that the folder exists.
    pub fn load(dir: &Path) -> Result<RunConfig, BoxError> {
        let config: RunConfig = read_config(dir, "run config")?;
        if !MODELS.contains(&config.model.as_str()) {
            bail!(
                "{}: unknown model {:?}",
                dir.join("config.json").display(),
                config.model
            );
        }
        Ok(config)
    }

    /// Builds the (freshly initialised) model.
    pub fn build_model(&self) -> Result<Box<dyn Module>, BoxError> {
        Ok(match self.model.as_str() {
            "mlp" => Box::new(mlp()?),
            "lenet" => Box::new(LeNet5::with_options(LeNet5Options {
                in_channels: self.in_channels,
                num_classes: self.num_classes,
                batch_norm: [self.model_options.batch_norm; 2],
            })?),
            "resnet" => Box::new(ResNet::resnet8(self.in_channels, self.num_classes)?),
            other => bail!("unknown model {other:?} (expected mlp, lenet or resnet)"),
        })
    }

    /// Builds the model and loads `dir/model.safetensors` into it (strict);
    /// for a quantized run, the int8 model.
    pub fn load_model(&self, dir: &Path) -> Result<Box<dyn Module>, BoxError> {
        if self.quantization.is_some() {
            return Ok(Box::new(load_quantized_model(self, dir)?));
        }
        let model = self.build_model()?;
        let path = dir.join("model.safetensors");
        if !path.is_file() {
            bail!("{}: no such file", path.display());
        }
        crate::run::load_checkpoint(&*model, &path)?;
        model.eval();
        Ok(model)
    }

    /// The split of the run's dataset (or of `--data DIR` when given).
    pub fn dataset(&self, data: Option<&Path>, train: bool) -> Result<Mnist, BoxError> {
        let dir = data.or(self.dataset.dir.as_deref());
        load_mnist(dir, train)
    }
}

/// The embedded MNIST-10k split, or full MNIST from `dir`.
pub fn load_mnist(dir: Option<&Path>, train: bool) -> Result<Mnist, BoxError> {
    Ok(match dir {
        Some(dir) => {
            if !dir.is_dir() {
                bail!("data folder {} does not exist", dir.display());
            }
            Mnist::from_dir(dir, train).map_err(|e| Msg(one_line(&e.to_string())))?
        }
        None => Mnist::embedded(train)?,
    })
}

/// Loads `path` into `model` (strict) and warns on stderr, once, when a
/// weight holds NaN or infinite values ([`non_finite_warning`]).
pub fn load_checkpoint(model: &dyn Module, path: &Path) -> Result<(), BoxError> {
    torchlet_nn::state::load_safetensors(model, path, true).map_err(|e| {
        Msg(format!(
            "cannot load checkpoint: {}",
            one_line(&e.to_string())
        ))
    })?;
    if let Some(warning) = non_finite_warning(model, path) {
        eprintln!("{warning}");
    }
    Ok(())
}

/// The first state-dict tensor of `model` holding NaN or infinite values,
/// as a warning naming it (and how many other tensors do); `None` when
/// every value is finite. PyTorch loads such checkpoints silently; their
/// predictions are meaningless.
pub fn non_finite_warning(model: &dyn Module, path: &Path) -> Option<String> {
    let bad: Vec<(String, usize)> = model
        .state_dict()
        .into_iter()
        .filter(|(_, t)| t.dtype().is_float())
        .filter_map(|(name, t)| {
            let values = t
                .to_dtype(torchlet_tensor::DType::F64)
                .to_vec::<f64>()
                .ok()?;
            let n = values.iter().filter(|v| !v.is_finite()).count();
            (n > 0).then_some((name, n))
        })
        .collect();
    let (name, n) = bad.first()?;
    let others = match bad.len() - 1 {
        0 => String::new(),
        k => format!(" (and {k} more tensors)"),
    };
    Some(format!(
        "warning: {}: {name} holds {n} NaN or infinite values{others}; \
         the model's outputs will be meaningless",
        path.display()
    ))
}

/// Collapses a message onto one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A batch source over an MNIST split that builds each normalized batch
/// straight from the bytes (one pass, a 256-entry lookup table).
pub fn mnist_batches<'a>(
    data: &'a Mnist,
    norm: &Normalization,
    batch_size: usize,
) -> IndexBatches<impl Fn(&[usize]) -> torchlet_tensor::Result<(Tensor, Tensor)> + 'a> {
    let [c, h, w] = data.image_shape();
    let (mean, std) = (norm.mean[0], norm.std[0]);
    let lut: Vec<f32> = (0..256).map(|v| (v as f32 / 255.0 - mean) / std).collect();
    let fetch = move |idx: &[usize]| {
        let mut x = Vec::with_capacity(idx.len() * c * h * w);
        let mut y = Vec::with_capacity(idx.len());
        for &i in idx {
            x.extend(data.image_bytes(i).iter().map(|&b| lut[b as usize]));
            y.push(data.labels()[i] as i64);
        }
        Ok((
            Tensor::from_vec(x, &[idx.len(), c, h, w])?,
            Tensor::from_vec(y, &[idx.len()])?,
        ))
    };
    IndexBatches::new(data.len(), batch_size, fetch)
}

fn constant() -> String {
    "constant".into()
}

/// Batch size of evaluation passes (larger batches, fewer calls).
pub const EVAL_BATCH: usize = 500;

/// The line `train` and `eval` end with.
pub fn accuracy_line(acc: f64) -> String {
    format!("test accuracy: {acc:.4}")
}

/// How to quantize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Static post-training quantization: calibrate activation ranges on
    /// training digits (histogram observers), then convert.
    Ptq,
    /// Quantization-aware training: fine-tune with fake quantization,
    /// then convert.
    Qat,
    /// Dynamic quantization: int8 weights for the Linear (and LSTM)
    /// layers, activations quantized per batch; no calibration.
    Dynamic,
}

/// What a quantized run's config adds (`quantization` in config.json).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QuantizationConfig {
    /// `ptq`, `qat` or `dynamic`.
    pub method: Method,
    /// The kernels' engine (`x86`, PyTorch's name).
    pub backend: String,
    /// Training digits calibrated on (ptq).
    pub calibration_samples: Option<usize>,
    /// Fine-tuning epochs and learning rate (qat).
    pub qat_epochs: Option<usize>,
    /// Fine-tuning learning rate (qat).
    pub qat_lr: Option<f64>,
    /// The float run it came from.
    pub float_run: PathBuf,
    /// The float model's test accuracy.
    pub float_test_accuracy: f64,
}

/// The run's example input (one image) for capturing the model.
pub fn example(config: &RunConfig) -> Tensor {
    let [h, w] = config.image_size;
    Tensor::zeros(&[1, config.in_channels, h, w])
}

/// Captures the float model and fuses every Conv2d/Linear → BatchNorm
/// pair (PyTorch users list them in `fuse_modules`; the graph finds them).
pub fn fused_graph(model: &dyn Module, config: &RunConfig) -> Result<GraphModule, BoxError> {
    let mut graph = capture(model, &example(config))?;
    let groups = graph.fusable_groups();
    fuse_modules(&mut graph, &groups)?;
    Ok(graph)
}

pub fn load_error(e: QuantError) -> BoxError {
    Msg(format!(
        "cannot load the int8 checkpoint: {}",
        one_line(&e.to_string())
    ))
    .into()
}

/// The quantized model of a quantized MNIST run: the float architecture
/// captured (and prepared) as at conversion, then the int8 state dict.
pub fn load_quantized_model(config: &RunConfig, dir: &Path) -> Result<QuantizedModel, BoxError> {
    let model = config.build_model()?;
    let path = dir.join("model.safetensors");
    if !path.is_file() {
        bail!("{}: no such file", path.display());
    }
    if config.quantization.as_ref().map(|q| q.method) == Some(Method::Dynamic) {
        let graph = capture(&*model, &example(config))?;
        return load_quantized_dynamic(&graph, &[DynamicKind::Linear], &path).map_err(load_error);
    }
    let skeleton = prepare(fused_graph(&*model, config)?, &get_default_qconfig("x86")?)?;
    load_quantized(&skeleton, &path).map_err(load_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_weight_is_named_once() {
        let model = torchlet_nn::Linear::new(2, 2).unwrap();
        let path = Path::new("run/model.safetensors");
        assert_eq!(non_finite_warning(&model, path), None);
        let w = Tensor::from_vec(vec![1.0f32, f32::NAN, f32::INFINITY, 0.0], &[2, 2]).unwrap();
        model.weight().set_data(w).unwrap();
        let warning = non_finite_warning(&model, path).unwrap();
        assert!(
            warning.contains("run/model.safetensors: weight holds 2 NaN or infinite values"),
            "{warning}"
        );
        assert!(!warning.contains("more tensors"), "{warning}");
    }
}
