//! Text runs: `torchlet train --dataset fortunes --model bag|lstm|gru|charlm`
//! (and `tfidf`, whose training lives in `tfidf.rs`),
//! `torchlet eval` on such a run, and `torchlet generate` for the
//! character-level language model.
//!
//! A text run folder holds what an MNIST run does (`model.safetensors`,
//! `config.json`, `metrics.csv`, `curves.png`, `model.onnx`, the latter
//! taking padded token ids) plus `vocab.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use torchlet_autograd::Variable;
use torchlet_data::BatchSampling;
use torchlet_nn::Module;
use torchlet_tensor::{Generator, Tensor};
use torchlet_text::models::{
    BagClassifier, CharLm, CharLmOptions, RecurrentKind, RnnClassifier, RnnClassifierOptions,
};
use torchlet_text::{
    get_tokenizer, pad_batch, BucketBatchSampler, CharTokenizer, Fortunes, LabeledTexts, LmWindows,
    SubwordNgrams, Tokenizer, Vocab, VocabOptions,
};
use torchlet_train::{write_atomic, Batch, FnSource};

use crate::run::{bail, one_line, read_config, BoxError, DatasetConfig, Msg};

/// The text models `--model` accepts with `--dataset fortunes`.
pub const TEXT_MODELS: [&str; 5] = ["bag", "lstm", "gru", "charlm", "tfidf"];

/// Sizes of a text model that the state dict alone does not say.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct TextModelOptions {
    /// Embedding width.
    pub embed_dim: usize,
    /// Recurrent hidden size per direction (0 for the bag model).
    pub hidden_size: usize,
    /// Recurrent layers.
    pub num_layers: usize,
    /// Whether the recurrent layers run both ways.
    pub bidirectional: bool,
    /// Dropout probability.
    pub dropout: f64,
    /// The bag model's embedding gets sparse gradients (optimised with
    /// SparseAdam; `--sparse-embeddings`).
    #[serde(default)]
    pub sparse_embeddings: bool,
}

/// `config.json` of a text run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TextRunConfig {
    /// The torchlet version that wrote the run.
    pub torchlet_version: String,
    /// `text-classification` or `char-lm`.
    pub task: String,
    /// `bag`, `lstm`, `gru`, `charlm` or `tfidf`.
    pub model: String,
    /// `subword` (words + 3- to 5-character n-grams), `basic_english`,
    /// `char`, or `tfidf` (the run's `tfidf.json` vectorizer).
    pub tokenizer: String,
    /// Model sizes.
    pub model_options: TextModelOptions,
    /// Vocabulary size (`vocab.json`; for `tfidf`, the number of TF-IDF
    /// features).
    pub vocab_size: usize,
    /// Class names by index (empty for the language model).
    pub classes: Vec<String>,
    /// Window length of the language model's training sequences.
    pub seq_len: Option<usize>,
    /// Training data (`fortunes-embedded`, or `fortunes` with `dir`).
    pub dataset: DatasetConfig,
    /// Seed of weights, shuffling and dropout.
    pub seed: u64,
    /// `sgd`, `adam`, `adamw`, or `sparse_adam+adam` (SparseAdam for the
    /// embedding, Adam for the rest).
    pub optimizer: String,
    /// Learning rate.
    pub lr: f64,
    /// `cosine` or `constant`.
    pub lr_schedule: String,
    /// SGD momentum (0 for Adam/AdamW).
    pub momentum: f64,
    /// Epochs.
    pub epochs: usize,
    /// Training batch size.
    pub batch_size: usize,
    /// Worker threads (`null`: all cores).
    pub threads: Option<usize>,
    /// Test accuracy at the end of training (next-character accuracy for
    /// the language model).
    pub test_accuracy: Option<f64>,
    /// How the run was quantized (`torchlet quantize --method dynamic`):
    /// its model.safetensors then holds int8 weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<crate::run::QuantizationConfig>,
}

/// Per-model defaults: `(epochs, batch size, Adam lr, options, seq_len)`.
pub fn defaults(model: &str) -> (usize, usize, f64, TextModelOptions, Option<usize>) {
    let rnn = |bidirectional| TextModelOptions {
        embed_dim: 64,
        hidden_size: 64,
        num_layers: 1,
        bidirectional,
        dropout: 0.3,
        sparse_embeddings: false,
    };
    match model {
        "bag" => (
            10,
            16,
            1e-2,
            TextModelOptions {
                embed_dim: 32,
                hidden_size: 0,
                num_layers: 0,
                bidirectional: false,
                dropout: 0.5,
                sparse_embeddings: false,
            },
            None,
        ),
        "lstm" => (10, 32, 2e-3, rnn(false), None),
        "tfidf" => (
            10,
            64,
            0.1,
            TextModelOptions {
                embed_dim: 0,
                hidden_size: 0,
                num_layers: 0,
                bidirectional: false,
                dropout: 0.0,
                sparse_embeddings: false,
            },
            None,
        ),
        "gru" => (10, 32, 2e-3, rnn(true), None),
        _ => (
            5,
            32,
            5e-3,
            TextModelOptions {
                embed_dim: 32,
                hidden_size: 256,
                num_layers: 1,
                bidirectional: false,
                dropout: 0.0,
                sparse_embeddings: false,
            },
            Some(64),
        ),
    }
}

/// The tokenizer a run names.
pub fn tokenizer(name: &str) -> Result<Box<dyn Tokenizer>, BoxError> {
    Ok(match name {
        "subword" => Box::new(SubwordNgrams::new(3, 5)),
        other => get_tokenizer(other)?,
    })
}

/// The tokenizer of each model: subword features for the bag model,
/// words for the recurrent classifiers, characters for the language model.
pub fn tokenizer_name(model: &str) -> &'static str {
    match model {
        "bag" => "subword",
        "charlm" => "char",
        _ => "basic_english",
    }
}

/// fortunes-4: the embedded copy, or `dir/train.tsv` + `dir/test.tsv`.
pub fn load_fortunes(dir: Option<&Path>) -> Result<Fortunes, BoxError> {
    Ok(match dir {
        Some(dir) => {
            if !dir.is_dir() {
                bail!("data folder {} does not exist", dir.display());
            }
            Fortunes::from_dir(dir).map_err(|e| Msg(one_line(&e.to_string())))?
        }
        None => Fortunes::embedded()?,
    })
}

/// A text classifier or the language model, ready to train or evaluate.
pub enum TextModel {
    /// `bag`, `lstm` or `gru`: logits `[N, classes]` from `[N, T]` tokens.
    Classifier(Box<dyn Module>),
    /// `charlm`.
    Lm(Box<FlatLm>),
}

impl TextModel {
    /// The model as a module (the language model's output flattened to
    /// `[N * T, vocab]`).
    pub fn module(&self) -> &dyn Module {
        match self {
            TextModel::Classifier(m) => &**m,
            TextModel::Lm(m) => &**m,
        }
    }
}

impl TextRunConfig {
    /// Builds the (freshly initialised) model.
    pub fn build_model(&self, pad_index: Option<usize>) -> Result<TextModel, BoxError> {
        let o = self.model_options;
        let classes = self.classes.len();
        Ok(match self.model.as_str() {
            "bag" => TextModel::Classifier(Box::new(
                BagClassifier::new(self.vocab_size, o.embed_dim, classes, pad_index, o.dropout)?
                    .sparse(o.sparse_embeddings),
            )),
            kind @ ("lstm" | "gru") => {
                let options = RnnClassifierOptions {
                    kind: if kind == "lstm" {
                        RecurrentKind::Lstm
                    } else {
                        RecurrentKind::Gru
                    },
                    embed_dim: o.embed_dim,
                    hidden_size: o.hidden_size,
                    num_layers: o.num_layers,
                    bidirectional: o.bidirectional,
                    dropout: o.dropout,
                    pad_index,
                };
                TextModel::Classifier(Box::new(RnnClassifier::new(
                    self.vocab_size,
                    classes,
                    options,
                )?))
            }
            "charlm" => TextModel::Lm(Box::new(FlatLm(CharLm::new(
                self.vocab_size,
                CharLmOptions {
                    embed_dim: o.embed_dim,
                    hidden_size: o.hidden_size,
                    num_layers: o.num_layers,
                    dropout: o.dropout,
                },
            )?))),
            other => bail!("unknown text model {other:?} (expected bag, lstm, gru or charlm)"),
        })
    }

    /// Reads `dir/config.json` of a text run.
    pub fn load(dir: &Path) -> Result<TextRunConfig, BoxError> {
        let config: TextRunConfig = read_config(dir, "text run config")?;
        if !TEXT_MODELS.contains(&config.model.as_str()) {
            bail!(
                "{}: unknown model {:?}",
                dir.join("config.json").display(),
                config.model
            );
        }
        Ok(config)
    }

    /// Reloads the run's vocabulary and model (eval mode).
    pub fn load_run(&self, dir: &Path) -> Result<(Vocab, TextModel), BoxError> {
        let vocab =
            Vocab::load(dir.join("vocab.json")).map_err(|e| Msg(one_line(&e.to_string())))?;
        if vocab.len() != self.vocab_size {
            bail!(
                "{}: {} tokens, but config.json says {}",
                dir.join("vocab.json").display(),
                vocab.len(),
                self.vocab_size
            );
        }
        let model = self.build_model(vocab.pad_index())?;
        let path = dir.join("model.safetensors");
        if !path.is_file() {
            bail!("{}: no such file", path.display());
        }
        if self.quantization.is_some() {
            let q = crate::quantize::load_dynamic_text_model(model.module(), &vocab, &path)?;
            return Ok((vocab, TextModel::Classifier(Box::new(q))));
        }
        crate::run::load_checkpoint(model.module(), &path)?;
        model.module().eval();
        Ok((vocab, model))
    }
}

/// Whether `dir/config.json` describes a text run (it has a `task`).
pub fn is_text_run(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("task").is_some())
}

/// The character LM with its logits flattened to `[N * T, vocab]`, so the
/// trainer's cross-entropy and accuracy apply to every position; its
/// parameters keep [`CharLm`]'s names.
pub struct FlatLm(pub CharLm);

impl Module for FlatLm {
    fn forward(&self, x: &Variable) -> torchlet_nn::Result<Variable> {
        let logits = self.0.forward(x)?;
        Ok(logits.reshape(&[-1, self.0.vocab_size() as i64])?)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        self.0.children()
    }
}

/// A bag model's input: each token once, in first-seen order, unknown
/// tokens left out (a text of unknown tokens only keeps one `<unk>`).
/// Repeats and rare tokens otherwise dominate the mean of a short text.
pub fn bag_ids(ids: &[i64], unk: Option<i64>) -> Vec<i64> {
    let mut seen = std::collections::HashSet::new();
    let out: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|&i| Some(i) != unk && seen.insert(i))
        .collect();
    match (out.is_empty(), unk) {
        (true, Some(u)) => vec![u],
        _ => out,
    }
}

/// Encodes texts for `model`.
pub fn encode(
    model: &str,
    texts: &LabeledTexts,
    tokenizer: &dyn Tokenizer,
    vocab: &Vocab,
) -> Result<(Vec<Vec<i64>>, Vec<i64>), BoxError> {
    let unk = vocab.unk_index().map(|u| u as i64);
    let mut ids = Vec::with_capacity(texts.len());
    for text in texts.texts() {
        let mut row = vocab.numericalize(&tokenizer.tokenize(text))?;
        if model == "bag" {
            row = bag_ids(&row, unk);
        }
        if row.is_empty() {
            row.push(unk.unwrap_or(0));
        }
        ids.push(row);
    }
    let labels = texts.labels().iter().map(|&l| l as i64).collect();
    Ok((ids, labels))
}

/// Batches of right-padded token rows and their labels, following a
/// bucketing sampler (similar lengths together).
pub fn classification_batches(
    ids: Vec<Vec<i64>>,
    labels: Vec<i64>,
    pad: i64,
    sampler: BucketBatchSampler,
) -> FnSource<impl Fn(u64) -> Vec<Result<Batch, BoxSendError>>> {
    let samples = ids.len();
    let batches = sampler.len();
    FnSource::new(move |epoch| {
        sampler
            .batches(epoch)
            .into_iter()
            .map(|idx| {
                let rows: Vec<&[i64]> = idx.iter().map(|&i| ids[i].as_slice()).collect();
                let padded = pad_batch(&rows, pad, None)?;
                let y: Vec<i64> = idx.iter().map(|&i| labels[i]).collect();
                Ok((padded.tokens, Tensor::from_vec(y, &[idx.len()])?))
            })
            .collect()
    })
    .with_len(batches, samples)
}

/// Errors of a batch source (sent between threads).
pub type BoxSendError = Box<dyn std::error::Error + Send + Sync>;

/// Windows of `seq_len` characters over `text` as `(inputs [N, T],
/// targets [N * T])` batches, in a shuffled (per seed and epoch) or fixed
/// order.
pub fn lm_batches(
    windows: LmWindows,
    batch_size: usize,
    shuffle: Option<u64>,
) -> FnSource<impl Fn(u64) -> Vec<Result<Batch, BoxSendError>>> {
    use torchlet_data::Dataset;
    let n = windows.len();
    let t = windows.seq_len();
    let batches = n.div_ceil(batch_size);
    FnSource::new(move |epoch: u64| {
        let order: Vec<usize> = match shuffle {
            Some(seed) => {
                let mut g = Generator::new(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                Tensor::randperm_with(n, &mut g)
                    .to_vec::<i64>()
                    .map(|v| v.into_iter().map(|i| i as usize).collect())
                    .unwrap_or_default()
            }
            None => (0..n).collect(),
        };
        order
            .chunks(batch_size)
            .map(|idx| {
                let mut x = Vec::with_capacity(idx.len() * t);
                let mut y = Vec::with_capacity(idx.len() * t);
                // Window i is ids[i*t .. i*t+t], its targets one further
                // (LmWindows's layout), copied straight from the ids.
                let ids = windows.ids();
                for &i in idx {
                    x.extend_from_slice(&ids[i * t..i * t + t]);
                    y.extend_from_slice(&ids[i * t + 1..i * t + t + 1]);
                }
                Ok((
                    Tensor::from_vec(x, &[idx.len(), t])?,
                    Tensor::from_vec(y, &[idx.len() * t])?,
                ))
            })
            .collect()
    })
    .with_len(batches, n)
}

/// The language model's text: one fortune per line.
pub fn lm_text(texts: &LabeledTexts) -> String {
    let mut s = texts.texts().join("\n");
    s.push('\n');
    s
}

/// Builds the vocabulary of a new run from the training texts (for the
/// language model, from its one-fortune-per-line text, newlines included).
pub fn build_vocab(
    model: &str,
    train: &LabeledTexts,
    tokenizer: &dyn Tokenizer,
) -> Result<Vocab, BoxError> {
    if model == "charlm" {
        let chars = CharTokenizer.tokenize(&lm_text(train));
        return Ok(Vocab::build([&chars], VocabOptions::default())?);
    }
    // Subword and word features seen once are mostly noise.
    let options = VocabOptions {
        min_freq: 2,
        ..Default::default()
    };
    Ok(train.build_vocab(tokenizer, options)?)
}

/// The text of sampled character indices; special tokens (`<unk>`,
/// `<pad>`, ...) the model may sample are left out.
pub fn decode_chars(vocab: &Vocab, ids: &[i64]) -> Result<String, BoxError> {
    let mut text = String::new();
    for &i in ids {
        let token = vocab.lookup_token(i as usize)?;
        if !vocab.specials().iter().any(|s| s == token) {
            text.push_str(token);
        }
    }
    Ok(text)
}

/// Runs `torchlet generate --run DIR --prompt TEXT --len N`.
pub fn generate(
    run: &Path,
    prompt: &str,
    len: usize,
    temperature: f64,
    seed: u64,
) -> Result<(), BoxError> {
    if !run.is_dir() {
        bail!("run folder {} does not exist", run.display());
    }
    if !is_text_run(run) {
        bail!(
            "{} is not a language-model run (train one with `torchlet train --dataset fortunes --model charlm`)",
            run.display()
        );
    }
    let config = TextRunConfig::load(run)?;
    if config.model != "charlm" {
        bail!(
            "{} holds a {} classifier; generate needs a charlm run",
            run.display(),
            config.model
        );
    }
    if prompt.is_empty() {
        bail!("--prompt must not be empty");
    }
    let (vocab, model) = config.load_run(run)?;
    let TextModel::Lm(lm) = model else {
        bail!("{} does not hold a language model", run.display());
    };
    let ids = vocab.numericalize(&CharTokenizer.tokenize(prompt))?;
    let sampled =
        lm.0.generate(&ids, len, temperature, &mut Generator::new(seed))?;
    println!("{prompt}{}", decode_chars(&vocab, &sampled)?);
    Ok(())
}

/// Writes `vocab.json` into the run folder (temp file + rename).
pub fn save_vocab(vocab: &Vocab, dir: &Path) -> Result<(), BoxError> {
    write_atomic(dir.join("vocab.json"), vocab.to_json().as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bag_ids_keep_first_occurrences_without_unknowns() {
        assert_eq!(bag_ids(&[5, 0, 7, 5, 9, 0, 7], Some(0)), [5, 7, 9]);
        assert_eq!(bag_ids(&[0, 0], Some(0)), [0]);
        assert_eq!(bag_ids(&[3, 3], None), [3]);
    }
}
