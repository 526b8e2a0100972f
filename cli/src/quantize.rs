//! `torchlet quantize`: a trained run to an int8 run folder. MNIST runs:
//! static post-training quantization (calibrated on training digits),
//! quantization-aware training, or dynamic quantization of the Linear
//! layers, with PyTorch's x86 qconfigs. Text (`lstm`) runs: dynamic
//! quantization of the LSTM and Linear layers.

use std::path::{Path, PathBuf};

use clap::Args;
use torchlet_autograd::Variable;
use torchlet_nn::Module;
use torchlet_onnx::DEFAULT_OPSET;
use torchlet_optim::{Adam, AdamOptions};
use torchlet_quantize::{
    capture, convert, get_default_qat_qconfig, get_default_qconfig, load_quantized_dynamic,
    prepare, prepare_qat, quantize_dynamic, DynamicKind, PreparedModel, QuantizedModel,
};
use torchlet_tensor::Tensor;
use torchlet_text::Vocab;
use torchlet_train::{write_atomic, BatchSource, Trainer};

use crate::export::RUN_ONNX;
use crate::run::{
    accuracy_line, bail, example, fused_graph, load_error, mnist_batches, BoxError, Method, Msg,
    QuantizationConfig, RunConfig, EVAL_BATCH,
};
use crate::text::TextRunConfig;

/// Options of `torchlet quantize`.
#[derive(Debug, Args)]
pub struct QuantizeArgs {
    /// The float run folder `torchlet train` wrote (MNIST, or a fortunes
    /// `lstm` run for `--method dynamic`).
    #[arg(long)]
    pub run: PathBuf,
    /// Static post-training quantization, quantization-aware training, or
    /// dynamic quantization.
    #[arg(long, value_enum, default_value = "ptq")]
    pub method: Method,
    /// Training digits the observers see (ptq), the first N of the split.
    #[arg(long, default_value_t = 1000)]
    pub calibration: usize,
    /// Fine-tuning epochs (qat).
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    /// Adam learning rate of the fine-tuning (qat).
    #[arg(long, default_value_t = 1e-4)]
    pub lr: f64,
    /// The quantized run folder (default: the run's folder with `-int8`
    /// appended).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compute threads (default: all cores, or TORCHLET_NUM_THREADS).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Hide the progress bar (qat).
    #[arg(long)]
    pub quiet: bool,
}

/// Token ids `[2, 4]` of one non-padding token, to capture a text model.
fn example_tokens(vocab: &Vocab) -> Tensor {
    let id = if vocab.pad_index() == Some(0) { 1 } else { 0 };
    Tensor::from_vec(vec![id as i64; 8], &[2, 4]).expect("8 values")
}

/// The dynamically quantized model of a quantized text run.
pub fn load_dynamic_text_model(
    model: &dyn Module,
    vocab: &Vocab,
    path: &Path,
) -> Result<QuantizedModel, BoxError> {
    let graph = capture(model, &example_tokens(vocab))?;
    load_quantized_dynamic(&graph, &[DynamicKind::Linear, DynamicKind::Lstm], path)
        .map_err(load_error)
}

/// What the quantized run's config records.
fn record(args: &QuantizeArgs, calibration: Option<usize>, float_acc: f64) -> QuantizationConfig {
    let qat = args.method == Method::Qat;
    QuantizationConfig {
        method: args.method,
        backend: "x86".into(),
        calibration_samples: calibration,
        qat_epochs: qat.then_some(args.epochs),
        qat_lr: qat.then_some(args.lr),
        float_run: args.run.clone(),
        float_test_accuracy: float_acc,
    }
}

/// Runs `torchlet quantize`.
pub fn quantize(args: &QuantizeArgs) -> Result<(), BoxError> {
    if let Some(t) = args.threads {
        torchlet_tensor::set_num_threads(t.max(1));
    }
    let run = &args.run;
    if crate::text::is_text_run(run) {
        return quantize_text(args);
    }
    let mut config = RunConfig::load(run)?;
    if config.quantization.is_some() {
        bail!("{} is already a quantized run", run.display());
    }
    let model = config.load_model(run)?;
    let train = config.dataset(None, true)?;
    let test = config.dataset(None, false)?;
    let test_src = mnist_batches(&test, &config.normalize, EVAL_BATCH);
    let float_acc = torchlet_train::evaluate(&*model, &test_src)?.accuracy;
    let (qmodel, quantization) = match args.method {
        Method::Dynamic => {
            let graph = capture(&*model, &example(&config))?;
            let q = quantize_dynamic(&graph, &[DynamicKind::Linear])?;
            (q, record(args, None, float_acc))
        }
        Method::Qat => {
            let prepared = prepare_qat(
                fused_graph(&*model, &config)?,
                &get_default_qat_qconfig("x86")?,
            )?;
            fine_tune(&prepared, args, &config, &train, &test_src)?;
            (convert(&prepared)?, record(args, None, float_acc))
        }
        Method::Ptq => {
            let n = args.calibration.min(train.len());
            if n == 0 {
                bail!("--calibration must be at least 1");
            }
            let prepared = prepare(fused_graph(&*model, &config)?, &get_default_qconfig("x86")?)?;
            calibrate(&prepared, &mnist_batches(&train, &config.normalize, 100), n)?;
            (convert(&prepared)?, record(args, Some(n), float_acc))
        }
    };
    let int8_acc = torchlet_train::evaluate(&qmodel, &test_src)?.accuracy;
    let out = out_dir(args);
    std::fs::create_dir_all(&out).map_err(|e| Msg(format!("{}: {e}", out.display())))?;
    qmodel.save_safetensors(out.join("model.safetensors"))?;
    config.quantization = Some(quantization);
    config.test_accuracy = Some(int8_acc);
    let json = serde_json::to_string_pretty(&config)?;
    write_atomic(out.join("config.json"), format!("{json}\n").as_bytes())?;
    let onnx = crate::export::write_quantized(&config, &qmodel, &out.join(RUN_ONNX), DEFAULT_OPSET);
    crate::train::warn_on_onnx_error(onnx, &out);
    report(run, &out, float_acc, int8_acc);
    Ok(())
}

/// `torchlet quantize --method dynamic` on a fortunes `lstm` run.
fn quantize_text(args: &QuantizeArgs) -> Result<(), BoxError> {
    let run = &args.run;
    let mut config = TextRunConfig::load(run)?;
    if config.quantization.is_some() {
        bail!("{} is already a quantized run", run.display());
    }
    if args.method != Method::Dynamic {
        bail!(
            "{} is a text run: quantize it with --method dynamic (its LSTM and Linear layers)",
            run.display()
        );
    }
    if config.model != "lstm" {
        bail!(
            "dynamic quantization covers the lstm text model (LSTM and Linear layers), not {}",
            config.model
        );
    }
    let (vocab, model) = config.load_run(run)?;
    let fortunes = crate::text::load_fortunes(config.dataset.dir.as_deref())?;
    let test = crate::text_train::test_batches(&config, &fortunes, &vocab)?;
    let float_acc = torchlet_train::evaluate(model.module(), &*test)?.accuracy;
    let graph = capture(model.module(), &example_tokens(&vocab))?;
    let q = quantize_dynamic(&graph, &[DynamicKind::Linear, DynamicKind::Lstm])?;
    let int8_acc = torchlet_train::evaluate(&q, &*test)?.accuracy;
    let out = out_dir(args);
    std::fs::create_dir_all(&out).map_err(|e| Msg(format!("{}: {e}", out.display())))?;
    q.save_safetensors(out.join("model.safetensors"))?;
    let vocab_file = run.join("vocab.json");
    std::fs::copy(&vocab_file, out.join("vocab.json"))
        .map_err(|e| Msg(format!("{}: {e}", vocab_file.display())))?;
    config.quantization = Some(record(args, None, float_acc));
    config.test_accuracy = Some(int8_acc);
    let json = serde_json::to_string_pretty(&config)?;
    write_atomic(out.join("config.json"), format!("{json}\n").as_bytes())?;
    let onnx = crate::text_export::write_quantized(
        &config,
        &vocab,
        &q,
        &out.join(RUN_ONNX),
        DEFAULT_OPSET,
    );
    crate::train::warn_on_onnx_error(onnx, &out);
    report(run, &out, float_acc, int8_acc);
    Ok(())
}

/// `--out`, or the run's folder with `-int8` appended.
fn out_dir(args: &QuantizeArgs) -> PathBuf {
    args.out.clone().unwrap_or_else(|| {
        let mut name = args.run.file_name().unwrap_or_default().to_os_string();
        name.push("-int8");
        args.run.with_file_name(name)
    })
}

/// Prints where the run went, both file sizes and both accuracies.
fn report(run: &Path, out: &Path, float_acc: f64, int8_acc: f64) {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let f32_bytes = size(&run.join("model.safetensors"));
    let int8_bytes = size(&out.join("model.safetensors"));
    println!("quantized run saved to {}", out.display());
    println!(
        "model.safetensors: f32 {f32_bytes} bytes, int8 {int8_bytes} bytes ({:.1}x smaller)",
        f32_bytes as f64 / int8_bytes.max(1) as f64
    );
    println!("f32 {}", accuracy_line(float_acc));
    println!("int8 {}", accuracy_line(int8_acc));
}

/// Runs the observers on the first `n` digits of `src` (in order).
fn calibrate(prepared: &PreparedModel, src: &dyn BatchSource, n: usize) -> Result<(), BoxError> {
    let mut seen = 0;
    for batch in src.batches(0)? {
        let (x, _) = batch?;
        let take = (n - seen).min(x.shape()[0]);
        let x = if take < x.shape()[0] {
            x.narrow(0, 0, take)?
        } else {
            x
        };
        torchlet_autograd::no_grad(|| prepared.forward(&Variable::constant(x)))?;
        seen += take;
        if seen >= n {
            break;
        }
    }
    Ok(())
}

/// Quantization-aware fine-tuning: Adam at `args.lr` on the training
/// split for `args.epochs`, observers on throughout (PyTorch's default).
fn fine_tune(
    prepared: &PreparedModel,
    args: &QuantizeArgs,
    config: &RunConfig,
    train: &torchlet_vision::Mnist,
    test_src: &dyn BatchSource,
) -> Result<(), BoxError> {
    let mut opt = Adam::new(
        prepared.parameters(),
        AdamOptions {
            lr: args.lr,
            ..AdamOptions::default()
        },
    )?;
    let train_src = mnist_batches(train, &config.normalize, config.batch_size)
        .shuffle(true)
        .seed(config.seed);
    let mut trainer = Trainer::new(args.epochs)
        .seed(config.seed)
        .log_epochs(true)
        .eval_name("test");
    if args.quiet {
        trainer = trainer.progress(torchlet_train::Progress::Hidden);
    }
    trainer.fit(prepared, &mut opt, &train_src, Some(test_src))?;
    Ok(())
}
