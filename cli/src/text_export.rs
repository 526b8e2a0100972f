//! `torchlet export` and the `model.onnx` of text runs: int64 token ids
//! `[N, T]` in (right-padded with `<pad>`; both axes dynamic), logits out —
//! `[N, classes]` for the classifiers, `[N, T, vocab]` for the character
//! LM. The padding mask and the sequence lengths are computed in the graph,
//! so any batch gives the same logits as `torchlet eval`. Tokenizing and
//! looking up ids stay outside the graph: the vocabulary, tokenizer and
//! padding index are in the metadata.

use std::path::Path;

use torchlet_autograd::Variable;
use torchlet_nn::Module;
use torchlet_onnx::{ExportOptions, ModelProto, QuantizedExportOptions};
use torchlet_quantize::QuantizedModel;
use torchlet_tensor::Tensor;
use torchlet_text::Vocab;

use crate::export::RUN_ONNX;
use crate::run::{BoxError, Msg};
use crate::text::{TextModel, TextRunConfig};

/// The ONNX model of a text run; see the module docs.
pub fn text_onnx_model(
    config: &TextRunConfig,
    vocab: &Vocab,
    model: &TextModel,
    quantized: Option<&QuantizedModel>,
    opset: i64,
) -> Result<ModelProto, BoxError> {
    let pad = vocab.pad_index().map(|p| p as i64);
    if pad.is_none() && matches!(model, TextModel::Classifier(_)) {
        return Err(Box::new(Msg(
            "export: the run's vocabulary has no <pad> token, so padded batches cannot be told apart"
                .into(),
        )));
    }
    let n = vocab.len().max(1) as i64;
    // Two rows, the second padded: the trace records the padding ops
    // however the example looks, but a padded example is the honest one.
    let ids: Vec<i64> = (5..13)
        .map(|i| match pad {
            Some(p) if i >= 11 => p,
            _ => i % n,
        })
        .collect();
    let example = Variable::constant(Tensor::from_vec(ids, &[2, 4])?);
    let mut options = ExportOptions::with_opset(opset).with_sequence_axis();
    options.input_name = "tokens".into();
    options.output_name = "logits".into();
    options.graph_name = format!("torchlet_{}", config.model);
    let bag_note = if config.model == "bag" {
        " Bag model: each token once, in first-seen order, unknown tokens left out."
    } else {
        ""
    };
    let (module, output): (&dyn Module, String) = match model {
        TextModel::Classifier(m) => (&**m, format!("logits [N, {}]", config.classes.len())),
        TextModel::Lm(lm) => {
            options.output_dynamic_axes.push((1, "sequence".into()));
            (
                &lm.0,
                format!("next-character logits [N, T, {}]", vocab.len()),
            )
        }
    };
    let padding = match pad {
        Some(p) => format!("right-padded with index {p}"),
        None => "rows of equal length".into(),
    };
    options.doc_string = format!(
        "torchlet {} trained on {} ({}). Input: int64 token ids [N, T], {padding}: tokenize \
         ({}), look tokens up in the `vocab` metadata (unknown: <unk>).{bag_note} \
         Output: {output}.",
        config.model,
        config.dataset.name,
        config.task,
        tokenizer_spec(&config.tokenizer)
    );
    options.metadata = vec![
        ("task".into(), config.task.clone()),
        ("tokenizer".into(), config.tokenizer.clone()),
        ("vocab".into(), serde_json::to_string(vocab.itos())?),
        (
            "pad_index".into(),
            pad.map_or("none".into(), |p| p.to_string()),
        ),
        ("classes".into(), serde_json::to_string(&config.classes)?),
        ("torchlet_version".into(), config.torchlet_version.clone()),
    ];
    let proto = match quantized {
        // Dynamic int8: token lookups, lengths and the float ops as the
        // float export writes them; the LSTM as a Scan (see torchlet-onnx).
        Some(q) => {
            options.graph_name.push_str("_int8");
            let options = QuantizedExportOptions {
                base: options,
                ..QuantizedExportOptions::default()
            };
            torchlet_onnx::export_quantized(q, example.data().shape(), &options)
        }
        None => torchlet_onnx::export(module, &example, &options),
    };
    proto.map_err(|e| Box::new(Msg(format!("export: {e}"))) as BoxError)
}

/// What a run's tokenizer name means, for the model's doc string.
fn tokenizer_spec(name: &str) -> String {
    match name {
        "subword" => "`subword`: basic_english words plus each word's character 3- to 5-grams \
                      in <word> brackets, torchlet_text::SubwordNgrams::new(3, 5)"
            .into(),
        "basic_english" => "`basic_english`, torchtext's".into(),
        "char" => "`char`: one token per character".into(),
        other => format!("`{other}`"),
    }
}

/// Writes the text run's ONNX model to `onnx` (through a temporary file).
pub fn write(
    config: &TextRunConfig,
    vocab: &Vocab,
    model: &TextModel,
    onnx: &Path,
    opset: i64,
) -> Result<(), BoxError> {
    let proto = text_onnx_model(config, vocab, model, None, opset)?;
    torchlet_onnx::save_model(&proto, onnx).map_err(|e| Box::new(Msg(e.to_string())) as BoxError)
}

/// Writes a dynamically quantized text run's ONNX model to `onnx`.
pub fn write_quantized(
    config: &TextRunConfig,
    vocab: &Vocab,
    q: &QuantizedModel,
    onnx: &Path,
    opset: i64,
) -> Result<(), BoxError> {
    let model = TextModel::Classifier(Box::new(q.clone()));
    let proto = text_onnx_model(config, vocab, &model, Some(q), opset)?;
    torchlet_onnx::save_model(&proto, onnx).map_err(|e| Box::new(Msg(e.to_string())) as BoxError)
}

/// `torchlet export` on a text run: reloads it and writes it as ONNX.
pub fn export_text_run(run: &Path, onnx: &Path, opset: i64) -> Result<(), BoxError> {
    let config = TextRunConfig::load(run)?;
    if config.model == "tfidf" {
        return Err(Box::new(Msg(format!(
            "{} is a tfidf run: its sparse TF-IDF product has no ONNX lowering yet",
            run.display()
        ))));
    }
    let (vocab, model) = config.load_run(run)?;
    if config.quantization.is_some() {
        let float = config.build_model(vocab.pad_index())?;
        let weights = run.join("model.safetensors");
        let q = crate::quantize::load_dynamic_text_model(float.module(), &vocab, &weights)?;
        return write_quantized(&config, &vocab, &q, onnx, opset);
    }
    write(&config, &vocab, &model, onnx, opset)
}

/// What `torchlet train` calls after saving a text run: `run/model.onnx`.
pub fn write_text_run_onnx(
    run: &Path,
    config: &TextRunConfig,
    vocab: &Vocab,
    model: &TextModel,
) -> Result<(), BoxError> {
    write(
        config,
        vocab,
        model,
        &run.join(RUN_ONNX),
        torchlet_onnx::DEFAULT_OPSET,
    )
}
