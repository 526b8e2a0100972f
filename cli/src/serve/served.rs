//! What `torchlet serve` serves: a run's model behind `POST /predict`,
//! with the request checked before anything runs.

use std::path::Path;

use serde_json::{json, Map, Value};
use torchlet_autograd::{no_grad, Variable};
use torchlet_jit::FeatureExtractor;
use torchlet_nn::Module;
use torchlet_tensor::{Generator, Tensor};
use torchlet_text::models::TfidfClassifier;
use torchlet_text::{CharTokenizer, TfidfVectorizer, Tokenizer, Vocab};

use crate::run::{bail, one_line, BoxError, Msg, RunConfig};
use crate::text::{bag_ids, decode_chars, is_text_run, TextModel, TextRunConfig};

/// A request the server refuses: the HTTP status and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// 400, 404, 405, 413 or 415; 500 when the model itself failed.
    pub status: u16,
    /// One line for the JSON body's `error`.
    pub message: String,
}

impl ApiError {
    /// A 400 Bad Request.
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            message: message.into(),
        }
    }

    fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: 500,
            message: one_line(&e.to_string()),
        }
    }
}

/// Longest text `/predict` takes, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Most characters a language model continues a text by.
pub const MAX_CONTINUATION: usize = 2_000;

/// A loaded run, ready to answer requests.
pub enum Served {
    /// An MNIST image model.
    Image(Box<ImageRun>),
    /// A fortunes-4 classifier (bag, lstm, gru or tfidf).
    TextClassifier(TextRun),
    /// The character-level language model.
    CharLm(TextRun),
}

/// An image run: the model, and its layers' activations where it traces.
pub struct ImageRun {
    config: RunConfig,
    model: Box<dyn Module>,
    /// `None` for models the jit does not trace (int8 runs): those give
    /// probabilities only.
    features: Option<FeatureExtractor>,
}

/// A text run's vocabulary (or vectorizer) and model.
pub struct TextRun {
    config: TextRunConfig,
    model: TextInput,
}

enum TextInput {
    Tokens {
        vocab: Vocab,
        tokenizer: Box<dyn Tokenizer>,
        model: TextModel,
    },
    Tfidf {
        tfidf: TfidfVectorizer,
        model: TfidfClassifier,
    },
}

impl Served {
    /// Loads the run in `dir` (an MNIST run, or a fortunes text run).
    pub fn load(dir: &Path) -> Result<Served, BoxError> {
        if !dir.is_dir() {
            bail!("run folder {} does not exist", dir.display());
        }
        if crate::graph::is_graph_run(dir) {
            bail!(
                "{}: serve shows image and text runs, not graph runs",
                dir.display()
            );
        }
        if is_text_run(dir) {
            return load_text(dir);
        }
        let config = RunConfig::load(dir)?;
        let model = config.load_model(dir)?;
        let [h, w] = config.image_size;
        let example = Tensor::zeros(&[1, config.in_channels, h, w]);
        // int8 runs are not traceable: probabilities only. A float run that
        // fails to trace is a bug worth seeing, so say why, and serve on.
        let features = if config.quantization.is_some() {
            None
        } else {
            match torchlet_jit::feature_extractor(&*model, &[example]) {
                Ok(f) => Some(f),
                Err(e) => {
                    eprintln!("warning: serving probabilities only: the model's layers could not be traced ({e})");
                    None
                }
            }
        };
        Ok(Served::Image(Box::new(ImageRun {
            config,
            model,
            features,
        })))
    }

    /// `GET /api/info`: what the page needs to draw itself.
    pub fn info(&self) -> Value {
        match self {
            Served::Image(r) => json!({
                "kind": "image",
                "model": r.config.model,
                "classes": r.config.classes,
                "height": r.config.image_size[0],
                "width": r.config.image_size[1],
                "channels": r.config.in_channels,
                "layers": r.features.as_ref().map(|f| f.names().to_vec()).unwrap_or_default(),
            }),
            Served::TextClassifier(r) => json!({
                "kind": "text",
                "model": r.config.model,
                "classes": r.config.classes,
            }),
            Served::CharLm(r) => json!({
                "kind": "lm",
                "model": r.config.model,
                "max_continuation": MAX_CONTINUATION,
            }),
        }
    }

    /// `POST /predict` with a JSON body.
    pub fn predict_json(&self, body: &Value) -> Result<Value, ApiError> {
        let Value::Object(fields) = body else {
            return Err(ApiError::bad("the body must be a JSON object"));
        };
        match self {
            Served::Image(r) => {
                let pixels = image_field(fields, r.config.image_size, r.config.in_channels)?;
                let activations = match fields.get("activations") {
                    None => true,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(ApiError::bad("\"activations\" must be true or false")),
                };
                r.predict(pixels, activations)
            }
            Served::TextClassifier(r) => r.classify(text_field(fields)?),
            Served::CharLm(r) => r.continue_text(text_field(fields)?, fields),
        }
    }

    /// `POST /predict` with a PNG or JPEG body (image runs).
    pub fn predict_image_file(&self, bytes: &[u8]) -> Result<Value, ApiError> {
        let Served::Image(r) = self else {
            return Err(ApiError {
                status: 415,
                message: "this run reads text: send JSON {\"text\": ...}".into(),
            });
        };
        if r.config.in_channels != 1 {
            return Err(ApiError {
                status: 415,
                message: "image files are read for grey-scale models only: send JSON".into(),
            });
        }
        let pixels = crate::predict::image_pixels(bytes, r.config.image_size, "the body")
            .map_err(|e| ApiError::bad(e.to_string()))?;
        r.predict(pixels, true)
    }
}

/// `"image"`: `height × width` numbers in `[0, 1]` (white strokes on
/// black, as MNIST), flat or as rows; channels repeat the layout.
fn image_field(
    fields: &Map<String, Value>,
    [h, w]: [usize; 2],
    c: usize,
) -> Result<Vec<f32>, ApiError> {
    let Some(image) = fields.get("image") else {
        return Err(ApiError::bad(format!(
            "no \"image\": send {{\"image\": [{} numbers in [0, 1]]}}",
            c * h * w
        )));
    };
    let mut flat = Vec::with_capacity(c * h * w);
    flatten_numbers(image, &mut flat, c * h * w)?;
    if flat.len() != c * h * w {
        // flatten_numbers stops counting just past the size.
        let count = if flat.len() > c * h * w {
            format!("more than {}", c * h * w)
        } else {
            flat.len().to_string()
        };
        return Err(ApiError::bad(format!(
            "\"image\" has {count} numbers, the model takes {c}x{h}x{w} = {}",
            c * h * w
        )));
    }
    if let Some((i, v)) = flat
        .iter()
        .enumerate()
        .find(|(_, v)| !(0.0..=1.0).contains(*v))
    {
        return Err(ApiError::bad(format!(
            "\"image\" value {i} is {v}: pixels are in [0, 1]"
        )));
    }
    Ok(flat.into_iter().map(|v| v as f32).collect())
}

/// Numbers of nested arrays in order; stops past `cap` of them.
fn flatten_numbers(v: &Value, out: &mut Vec<f64>, cap: usize) -> Result<(), ApiError> {
    match v {
        Value::Number(n) => {
            out.push(n.as_f64().unwrap_or(f64::NAN));
            Ok(())
        }
        Value::Array(items) => {
            for item in items {
                if out.len() > cap {
                    break;
                }
                flatten_numbers(item, out, cap)?;
            }
            Ok(())
        }
        other => Err(ApiError::bad(format!(
            "\"image\" holds {other}: it takes numbers (flat, or rows of numbers)"
        ))),
    }
}

fn text_field(fields: &Map<String, Value>) -> Result<&str, ApiError> {
    let text = match fields.get("text") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(ApiError::bad("\"text\" must be a string")),
        None => return Err(ApiError::bad("no \"text\": send {\"text\": \"...\"}")),
    };
    if text.trim().is_empty() {
        return Err(ApiError::bad("\"text\" is empty"));
    }
    let n = text.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(ApiError::bad(format!(
            "\"text\" has {n} characters, at most {MAX_TEXT_CHARS} are read"
        )));
    }
    Ok(text)
}

/// The class with the highest probability and every class's.
fn class_probabilities(logits: &Tensor, classes: &[String]) -> Result<Value, ApiError> {
    let probs = logits
        .softmax(-1)
        .and_then(|p| p.to_vec::<f32>())
        .map_err(ApiError::internal)?;
    let best = probs
        .iter()
        .enumerate()
        .fold(0, |b, (i, &p)| if p > probs[b] { i } else { b });
    let name = |i: usize| classes.get(i).cloned().unwrap_or_else(|| i.to_string());
    Ok(json!({
        "index": best,
        "class": name(best),
        "probabilities": probs,
        "classes": (0..probs.len()).map(name).collect::<Vec<_>>(),
    }))
}

impl ImageRun {
    fn predict(&self, pixels: Vec<f32>, activations: bool) -> Result<Value, ApiError> {
        let c = self.config.in_channels;
        let [h, w] = self.config.image_size;
        let n = &self.config.normalize;
        let plane = h * w;
        let x: Vec<f32> = pixels
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let ch = (i / plane).min(n.mean.len().saturating_sub(1));
                (v - n.mean[ch]) / n.std[ch]
            })
            .collect();
        let x = Tensor::from_vec(x, &[1, c, h, w]).map_err(ApiError::internal)?;
        let (logits, layers) = match (&self.features, activations) {
            (Some(f), true) => {
                let run = f.forward(&[x]).map_err(ApiError::internal)?;
                let layers: Vec<Value> = run.features.iter().map(|(n, t)| layer(n, t)).collect();
                (run.outputs[0].clone(), layers)
            }
            _ => {
                let y = no_grad(|| self.model.forward(&Variable::constant(x)))
                    .map_err(ApiError::internal)?;
                (y.data(), Vec::new())
            }
        };
        let mut out = class_probabilities(&logits, &self.config.classes)?;
        out["activations"] = Value::Array(layers);
        Ok(out)
    }
}

/// One activation for the page: its shape without the batch, its range,
/// and its values scaled to `0..=255` over that range (a grey image per
/// channel of a `[C, H, W]` map).
fn layer(name: &str, t: &Tensor) -> Value {
    let values = t
        .to_dtype(torchlet_tensor::DType::F32)
        .to_vec::<f32>()
        .unwrap_or_default();
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 0.0) };
    let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
    let bytes: Vec<u8> = values
        .iter()
        .map(|&v| ((v - lo) * scale).clamp(0.0, 255.0).round() as u8)
        .collect();
    json!({
        "name": name,
        "shape": t.shape().get(1..).unwrap_or(&[]),
        "min": lo,
        "max": hi,
        "data": bytes,
    })
}

fn load_text(dir: &Path) -> Result<Served, BoxError> {
    let config = TextRunConfig::load(dir)?;
    if config.model == "tfidf" {
        let path = dir.join(crate::tfidf::TFIDF_FILE);
        let tfidf = TfidfVectorizer::load(&path).map_err(|e| Msg(one_line(&e.to_string())))?;
        let model = TfidfClassifier::new(tfidf.num_features(), config.classes.len())?;
        crate::run::load_checkpoint(&model, &dir.join("model.safetensors"))?;
        return Ok(Served::TextClassifier(TextRun {
            config,
            model: TextInput::Tfidf { tfidf, model },
        }));
    }
    let (vocab, model) = config.load_run(dir)?;
    let tokenizer = crate::text::tokenizer(&config.tokenizer)?;
    let lm = matches!(model, TextModel::Lm(_));
    let run = TextRun {
        config,
        model: TextInput::Tokens {
            vocab,
            tokenizer,
            model,
        },
    };
    Ok(if lm {
        Served::CharLm(run)
    } else {
        Served::TextClassifier(run)
    })
}

impl TextRun {
    fn classify(&self, text: &str) -> Result<Value, ApiError> {
        let logits = match &self.model {
            TextInput::Tfidf { tfidf, model } => {
                let x = tfidf.transform(&[text]).map_err(ApiError::internal)?;
                no_grad(|| model.forward_sparse(&x)).map_err(ApiError::internal)?
            }
            TextInput::Tokens {
                vocab,
                tokenizer,
                model,
            } => {
                let unk = vocab.unk_index().map(|u| u as i64);
                let mut ids = vocab
                    .numericalize(&tokenizer.tokenize(text))
                    .map_err(ApiError::internal)?;
                if self.config.model == "bag" {
                    ids = bag_ids(&ids, unk);
                }
                if ids.is_empty() {
                    ids.push(unk.unwrap_or(0));
                }
                let n = ids.len();
                let x = Tensor::from_vec(ids, &[1, n]).map_err(ApiError::internal)?;
                no_grad(|| model.module().forward(&Variable::constant(x)))
                    .map_err(ApiError::internal)?
            }
        };
        class_probabilities(&logits.data(), &self.config.classes)
    }

    fn continue_text(&self, text: &str, fields: &Map<String, Value>) -> Result<Value, ApiError> {
        let TextInput::Tokens {
            vocab,
            model: TextModel::Lm(lm),
            ..
        } = &self.model
        else {
            return Err(ApiError::internal("not a language model"));
        };
        let length = match fields.get("length") {
            None => 200,
            Some(v) => v
                .as_u64()
                .filter(|&n| (1..=MAX_CONTINUATION as u64).contains(&n))
                .ok_or_else(|| {
                    ApiError::bad(format!("\"length\" must be 1 to {MAX_CONTINUATION}"))
                })? as usize,
        };
        let temperature = match fields.get("temperature") {
            None => 0.8,
            Some(v) => v
                .as_f64()
                .filter(|t| (0.0..=10.0).contains(t))
                .ok_or_else(|| {
                    ApiError::bad(
                        "\"temperature\" must be a number in [0, 10] (0: the likeliest character)",
                    )
                })?,
        };
        let seed = match fields.get("seed") {
            None => 0,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| ApiError::bad("\"seed\" must be a non-negative integer"))?,
        };
        let ids = vocab
            .numericalize(&CharTokenizer.tokenize(text))
            .map_err(ApiError::internal)?;
        let sampled =
            lm.0.generate(&ids, length, temperature, &mut Generator::new(seed))
                .map_err(ApiError::internal)?;
        let continuation = decode_chars(vocab, &sampled).map_err(ApiError::internal)?;
        Ok(json!({ "continuation": continuation }))
    }
}
