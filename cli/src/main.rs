//! The `torchlet` command.
//!
//! - `torchlet train`: trains a model on MNIST (default: LeNet-5 with
//!   BatchNorm on the 10k digits embedded in torchlet-vision, Adam lr 1e-3,
//!   batch 64, 5 epochs, seed 0) and writes a run folder: `model.safetensors`,
//!   `config.json`, `metrics.csv`, `curves.png`.
//!   With `--dataset fortunes --model bag|lstm|gru|charlm|tfidf` it trains
//!   a text model on fortunes-4 instead (the run also holds `vocab.json`,
//!   or `tfidf.json` for the sparse TF-IDF classifier); with `--dataset
//!   karate --model gcn`, a graph convolutional network on Zachary's
//!   karate club (one labelled member per faction).
//! - `torchlet eval --run DIR`: reloads a run and prints its test accuracy.
//! - `torchlet generate --run DIR --prompt TEXT --len N`: continues a
//!   prompt with a character-level language model run.
//! - `torchlet predict --run DIR IMAGE...`: classifies PNG/JPEG images.
//! - `torchlet export --run DIR --onnx FILE [--opset N]`: writes a run's
//!   model as ONNX (`train` also writes `model.onnx` into the run).
//!   `--local-ranks N` trains data-parallel on N threads, `--distributed`
//!   under `mpirun` (feature `mpi`).
//! - `torchlet quantize --run DIR [--method static|dynamic|qat]`: an int8
//!   copy of a run (state dict and ONNX QDQ file).
//! - `torchlet jit --run DIR [--out FILE] [--print]`: a run's model traced
//!   and optimised into one script file; `eval`/`predict --model FILE` run
//!   it.
//! - `torchlet serve --run DIR [--port N]`: a playground page (draw a
//!   digit, see the probabilities and each layer's activations; or type a
//!   text) with a JSON API.
//! - `torchlet bench`: the benchmark workloads, with the CPU and kernels.
//! - `torchlet seed` (also the default with no subcommand): the seed
//!   course's tensor walkthrough.
//!
//! Errors are one line on stderr and a non-zero exit code; files are
//! written to a temporary name in the same folder, then renamed.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use torchlet_cli::{
    bench, export, graph, jit, predict, quantize, run, seed, serve, text, text_export, text_train,
    train,
};

/// Training allocates and frees multi-megabyte buffers every step; glibc's
/// malloc returns them to the kernel and faults them in again each time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// PyTorch's stack rebuilt in Rust: train, evaluate and query models, or
/// follow the seed course from the command line.
#[derive(Debug, Parser)]
#[command(name = "torchlet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the seed course's tensor walkthrough: creating tensors,
    /// reshaping, reductions, element access, sigmoid and softmax.
    Seed,
    /// Train a model on MNIST (or, with `--dataset fortunes`, a text
    /// model; with `--dataset karate`, a GCN) and save the run (model,
    /// config, metrics, curves); ends with `test accuracy: 0.XXXX`.
    ///
    /// Examples: `torchlet train` (LeNet-5 on MNIST-10k); `torchlet train
    /// --dataset fortunes --model tfidf` (sparse TF-IDF, linear);
    /// `torchlet train --dataset karate --model gcn` (semi-supervised GCN).
    Train(train::TrainArgs),
    /// Reload a run (or run a script file) and print its test accuracy.
    Eval {
        /// The run folder `torchlet train` wrote.
        #[arg(long, required_unless_present = "model", conflicts_with = "model")]
        run: Option<PathBuf>,
        /// A script file `torchlet jit` wrote (an MNIST model), run
        /// without rebuilding the model from a run's config.
        #[arg(long)]
        model: Option<PathBuf>,
        /// The data folder (MNIST's IDX files, fortunes' or karate's TSV
        /// files; default: the run's dataset).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Compute threads.
        #[arg(long)]
        threads: Option<usize>,
        /// Also write the predicted class of every test sample to this
        /// file, one per line in test order (MNIST runs).
        #[arg(long)]
        predictions: Option<PathBuf>,
    },
    /// Write a run's model as ONNX: raw images in (float [N, C, H, W] in
    /// [0, 1], the run's normalisation folded into the graph) or, for a
    /// text run, int64 token ids [N, T] (padding handled in the graph);
    /// logits out.
    Export {
        /// The run folder `torchlet train` wrote.
        #[arg(long)]
        run: PathBuf,
        /// The ONNX file to write.
        #[arg(long)]
        onnx: PathBuf,
        /// ONNX opset (13 to 21).
        #[arg(long, default_value_t = torchlet_onnx::DEFAULT_OPSET)]
        opset: i64,
    },
    /// Continue a prompt with a character-level language model run
    /// (`torchlet train --dataset fortunes --model charlm`).
    Generate {
        /// The run folder `torchlet train` wrote.
        #[arg(long)]
        run: PathBuf,
        /// The text to continue.
        #[arg(long)]
        prompt: String,
        /// Characters to generate.
        #[arg(long, default_value_t = 200)]
        len: usize,
        /// Sampling temperature: 0 always picks the likeliest character,
        /// higher values are more surprising.
        #[arg(long, default_value_t = 0.8)]
        temperature: f64,
        /// Seed of the sampling.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Time the benchmark workloads (matmul, elementwise ops, training
    /// steps) on this machine; `benches/compare.py` puts them side by side
    /// with PyTorch.
    Bench(bench::BenchArgs),
    /// Quantize a trained MNIST run to int8 (static post-training
    /// quantization, or quantization-aware training with `--method qat`)
    /// and save it as a run folder that `eval` and `predict` read; prints
    /// the f32 and int8 test accuracies and both file sizes.
    Quantize(quantize::QuantizeArgs),
    /// Trace a trained image run's model into one optimised script file
    /// (torchlet-jit; default RUN/model.tlj): pixels in [0, 1] with the
    /// normalisation folded in, logits out; `eval --model` and `predict
    /// --model` run it.
    Jit(jit::JitArgs),
    /// Serve a playground page for a run: draw a digit and watch the
    /// prediction and every layer's activations (MNIST runs), or type a
    /// text to classify or continue (fortunes runs); JSON API at
    /// /api/info and POST /predict.
    Serve(serve::ServeArgs),
    /// Print the predicted class and the class probabilities of images
    /// (PNG/JPEG, any size; converted to 28x28 grey like MNIST).
    Predict {
        /// The run folder `torchlet train` wrote.
        #[arg(long, required_unless_present = "model", conflicts_with = "model")]
        run: Option<PathBuf>,
        /// A script file `torchlet jit` wrote, instead of a run.
        #[arg(long)]
        model: Option<PathBuf>,
        /// The images.
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<(), Box<dyn Error>> = match cli.command.unwrap_or(Command::Seed) {
        Command::Seed => seed::walkthrough(&mut std::io::stdout().lock()),
        Command::Train(args) => train::train(&args),
        Command::Eval {
            model: Some(model),
            data,
            threads,
            ..
        } => {
            if let Some(t) = threads {
                torchlet_tensor::set_num_threads(t.max(1));
            }
            jit::eval(&model, data.as_deref())
        }
        Command::Eval {
            run,
            data,
            threads,
            predictions,
            ..
        } => {
            let run = run.expect("clap requires --run without --model");
            if graph::is_graph_run(&run) {
                if let Some(t) = threads {
                    torchlet_tensor::set_num_threads(t.max(1));
                }
                graph::eval(&run, data.as_deref())
            } else if text::is_text_run(&run) {
                if let Some(t) = threads {
                    torchlet_tensor::set_num_threads(t.max(1));
                }
                text_train::eval(&run, data.as_deref())
            } else {
                train::eval(&run, data.as_deref(), threads, predictions.as_deref())
            }
        }
        Command::Export { run, onnx, opset } => {
            if graph::is_graph_run(&run) {
                Err(format!(
                    "{} is a graph run: its sparse GCN has no ONNX lowering yet",
                    run.display()
                )
                .into())
            } else if text::is_text_run(&run) {
                text_export::export_text_run(&run, &onnx, opset)
            } else {
                export::export_run(&run, &onnx, opset)
            }
        }
        Command::Generate {
            run,
            prompt,
            len,
            temperature,
            seed,
        } => text::generate(&run, &prompt, len, temperature, seed),
        Command::Bench(args) => bench::bench(&args),
        Command::Quantize(args) => quantize::quantize(&args),
        Command::Jit(args) => jit::jit(&args),
        Command::Serve(args) => serve::serve(&args),
        Command::Predict {
            model: Some(model),
            images,
            ..
        } => jit::predict(&model, &images),
        Command::Predict { run, images, .. } => {
            let run = run.expect("clap requires --run without --model");
            if graph::is_graph_run(&run) {
                Err(format!(
                    "{} is a graph run; predict classifies images (use eval)",
                    run.display()
                )
                .into())
            } else if text::is_text_run(&run) {
                Err(format!(
                    "{} is a text run; predict classifies images (use eval, or generate for a charlm run)",
                    run.display()
                )
                .into())
            } else {
                predict::predict(&run, &images)
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", run::one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
