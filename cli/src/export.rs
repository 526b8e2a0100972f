//! `torchlet export` and the `model.onnx` that `torchlet train` writes: a
//! run's model as ONNX that takes raw inputs as a deployed model receives
//! them — images as float `[N, C, H, W]` scaled to `[0, 1]` — with the
//! run's input normalisation folded into the graph as its first nodes
//! (`Sub` mean, `Div` std), and logits `[N, classes]` out.
//!
//! `torchlet export --run DIR --onnx FILE [--opset N]` calls
//! [`export_run`]; `torchlet train` calls [`write_run_onnx`] after saving
//! the weights. Both are for image runs.

use std::path::Path;

use torchlet_autograd::Variable;
use torchlet_nn::{Module, Result as NnResult};
use torchlet_onnx::{ExportOptions, ModelProto, QuantizedExportOptions};
use torchlet_quantize::QuantizedModel;
use torchlet_tensor::Tensor;

use crate::run::{BoxError, Msg, Normalization, RunConfig};

/// The file `torchlet train` writes into the run folder.
pub const RUN_ONNX: &str = "model.onnx";

/// A run's model behind its input normalisation, with the model's own
/// parameter names (the normalisation adds none).
pub(crate) struct Normalized<'a> {
    model: &'a dyn Module,
    mean: Variable,
    std: Variable,
}

impl Normalized<'_> {
    pub(crate) fn new<'a>(
        model: &'a dyn Module,
        norm: &Normalization,
        channels: usize,
    ) -> Result<Normalized<'a>, BoxError> {
        let per_channel = |v: &[f32], what: &str| -> Result<Variable, BoxError> {
            let v: Vec<f32> = match v.len() {
                1 => vec![v[0]; channels],
                n if n == channels => v.to_vec(),
                n => {
                    return Err(Box::new(Msg(format!(
                        "normalisation {what} has {n} values for {channels} input channels"
                    ))))
                }
            };
            Ok(Variable::constant(Tensor::from_vec(
                v,
                &[1, channels, 1, 1],
            )?))
        };
        Ok(Normalized {
            model,
            mean: per_channel(&norm.mean, "mean")?,
            std: per_channel(&norm.std, "std")?,
        })
    }
}

impl Module for Normalized<'_> {
    fn forward(&self, x: &Variable) -> NnResult<Variable> {
        let x = x.sub(&self.mean)?.div(&self.std)?;
        self.model.forward(&x)
    }

    fn named_parameters(&self) -> Vec<(String, Variable)> {
        self.model.named_parameters()
    }

    fn named_buffers(&self) -> Vec<(String, Variable)> {
        self.model.named_buffers()
    }

    fn set_training(&self, training: bool) {
        self.model.set_training(training);
    }

    fn is_training(&self) -> bool {
        self.model.is_training()
    }
}

/// The ONNX model of a run: input `input` float `[batch, C, H, W]` in
/// `[0, 1]`, the normalisation as the first two nodes, output `logits`
/// `[batch, classes]`; classes and normalisation also in `metadata_props`.
pub fn run_onnx_model(
    config: &RunConfig,
    model: &dyn Module,
    opset: i64,
) -> Result<ModelProto, BoxError> {
    let [h, w] = config.image_size;
    let c = config.in_channels;
    let wrapped = Normalized::new(model, &config.normalize, c)?;
    let example = Variable::constant(Tensor::rand(&[2, c, h, w]));
    let mut options = ExportOptions::with_opset(opset);
    options.output_name = "logits".into();
    options.graph_name = format!("torchlet_{}", config.model);
    options.doc_string = format!(
        "torchlet {} trained on {} ({} classes). Input: float32 [N, {c}, {h}, {w}] with pixel \
         values scaled to [0, 1]; the training normalisation (x - {:?}) / {:?} is the graph's \
         first nodes. Output: logits [N, {}].",
        config.model,
        config.dataset.name,
        config.num_classes,
        config.normalize.mean,
        config.normalize.std,
        config.num_classes
    );
    options.metadata = vec![
        ("classes".into(), serde_json::to_string(&config.classes)?),
        (
            "normalize".into(),
            serde_json::to_string(&config.normalize)?,
        ),
        ("input_range".into(), "[0, 1]".into()),
        ("torchlet_version".into(), config.torchlet_version.clone()),
    ];
    torchlet_onnx::export(&wrapped, &example, &options)
        .map_err(|e| Box::new(Msg(format!("export: {e}"))) as BoxError)
}

/// Writes the run's ONNX model to `onnx` (through a temporary file).
fn write(config: &RunConfig, model: &dyn Module, onnx: &Path, opset: i64) -> Result<(), BoxError> {
    let proto = run_onnx_model(config, model, opset)?;
    torchlet_onnx::save_model(&proto, onnx).map_err(|e| Box::new(Msg(e.to_string())) as BoxError)
}

/// `torchlet export --run DIR --onnx FILE [--opset N]`: rebuilds the run's
/// model from `config.json` and `model.safetensors` and writes it as ONNX
/// (a quantized run as a QDQ graph).
pub fn export_run(run: &Path, onnx: &Path, opset: i64) -> Result<(), BoxError> {
    let config = RunConfig::load(run)?;
    if config.quantization.is_some() {
        let q = crate::run::load_quantized_model(&config, run)?;
        return write_quantized(&config, &q, onnx, opset);
    }
    let model = config.load_model(run)?;
    write(&config, &*model, onnx, opset)
}

/// Writes a quantized run's model as an ONNX QDQ graph: the same input
/// (pixels in [0, 1], normalisation in the graph) and output as a float
/// run's file, int8 weights and QuantizeLinear/DequantizeLinear pairs.
pub fn write_quantized(
    config: &RunConfig,
    model: &QuantizedModel,
    onnx: &Path,
    opset: i64,
) -> Result<(), BoxError> {
    let [h, w] = config.image_size;
    let c = config.in_channels;
    let mut base = ExportOptions::with_opset(opset);
    base.output_name = "logits".into();
    base.graph_name = format!("torchlet_{}_int8", config.model);
    base.doc_string = format!(
        "torchlet {} trained on {}, quantized to int8 (x86 qconfig). Input: float32 [N, {c}, \
         {h}, {w}] with pixel values scaled to [0, 1]; the normalisation (x - {:?}) / {:?} is the \
         graph's first nodes. Output: logits [N, {}].",
        config.model,
        config.dataset.name,
        config.normalize.mean,
        config.normalize.std,
        config.num_classes
    );
    base.metadata = vec![
        ("classes".into(), serde_json::to_string(&config.classes)?),
        (
            "normalize".into(),
            serde_json::to_string(&config.normalize)?,
        ),
        ("input_range".into(), "[0, 1]".into()),
        ("torchlet_version".into(), config.torchlet_version.clone()),
    ];
    let options = QuantizedExportOptions {
        base,
        normalize: Some((config.normalize.mean.clone(), config.normalize.std.clone())),
        ..QuantizedExportOptions::default()
    };
    let proto = torchlet_onnx::export_quantized(model, &[1, c, h, w], &options)
        .map_err(|e| Box::new(Msg(format!("export: {e}"))) as BoxError)?;
    torchlet_onnx::save_model(&proto, onnx).map_err(|e| Box::new(Msg(e.to_string())) as BoxError)
}

/// What `torchlet train` calls after saving the weights: writes
/// `run/model.onnx` (default opset) for the trained `model`.
pub fn write_run_onnx(run: &Path, config: &RunConfig, model: &dyn Module) -> Result<(), BoxError> {
    write(
        config,
        model,
        &run.join(RUN_ONNX),
        torchlet_onnx::DEFAULT_OPSET,
    )
}
