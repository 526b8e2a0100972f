//! `torchlet train` and `torchlet eval`.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use torchlet_autograd::Variable;
use torchlet_distributed::{DistributedDataParallel, ProcessGroup};
use torchlet_nn::Module;
use torchlet_optim::lr_scheduler::CosineAnnealingLr;
use torchlet_optim::{Adam, AdamOptions, AdamW, Optimizer, Sgd, SgdOptions};
use torchlet_train::{write_atomic, BatchSource, CsvLogger, LrSchedulerStep, Trainer};

use crate::plot;
use crate::run::{
    accuracy_line, bail, load_mnist, mnist_batches, BoxError, DatasetConfig, ModelOptions, Msg,
    Normalization, RunConfig, EVAL_BATCH, MNIST_MEAN, MNIST_STD,
};

/// The model to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// MNIST: 784-256-128-10 multilayer perceptron.
    Mlp,
    /// MNIST: LeNet-5 with BatchNorm after both convolutions (the default).
    Lenet,
    /// MNIST: CIFAR-style ResNet-8.
    Resnet,
    /// fortunes: bag of word and subword embeddings (the default).
    Bag,
    /// fortunes: word embeddings, an LSTM, a linear head.
    Lstm,
    /// fortunes: word embeddings, a bidirectional GRU, a linear head.
    Gru,
    /// fortunes: a character-level LSTM language model (see `generate`).
    Charlm,
    /// fortunes: sparse TF-IDF rows (word 1-2-grams and in-word character
    /// 3-5-grams) into a linear classifier (sparse x dense products).
    Tfidf,
    /// karate: a two-layer graph convolutional network (Kipf & Welling)
    /// over the sparse normalised adjacency.
    Gcn,
}

/// The dataset to train on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetKind {
    /// Handwritten digits (embedded MNIST-10k, or `--data DIR`).
    Mnist,
    /// fortunes-4 text classification (embedded, or `--data DIR` with
    /// train.tsv and test.tsv).
    Fortunes,
    /// Zachary's karate club: predict 32 members' factions from the
    /// friendships and the labels of members 0 and 33 (embedded, or
    /// `--data DIR` with edges.tsv and members.tsv).
    Karate,
}

/// The optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerKind {
    /// SGD with momentum 0.9 (default lr: ten times the Adam default, 0.01
    /// on mnist).
    Sgd,
    /// Adam (default lr 1e-3 on mnist; see `--lr`).
    Adam,
    /// AdamW, weight decay 0.01 (default lr as for Adam).
    Adamw,
}

/// The learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleKind {
    /// Cosine annealing from `--lr` to 0 over all the run's steps, stepped
    /// after every batch.
    Cosine,
    /// A constant learning rate.
    Constant,
}

/// Options of `torchlet train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Dataset.
    #[arg(long, value_enum, default_value = "mnist")]
    pub dataset: DatasetKind,
    /// Model (default: lenet for mnist, bag for fortunes, gcn for karate).
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// Epochs (default: 5 for mnist; 10 for the text classifiers, 5 for
    /// charlm; 200 full-graph steps for gcn).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Training batch size (default: 64 for mnist; 16 for bag, 64 for
    /// tfidf, 32 for the other text models; gcn trains on the whole graph).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate (default: 1e-3 for Adam/AdamW, 0.01 for SGD on
    /// mnist; 1e-2 for bag, 2e-3 for lstm and gru, 5e-3 for charlm, 0.1
    /// for tfidf, 1e-2 for gcn; ten times these for SGD).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Optimizer.
    #[arg(long, value_enum, default_value = "adam")]
    pub optimizer: OptimizerKind,
    /// Learning-rate schedule (default: constant for mnist and karate,
    /// cosine for fortunes).
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleKind>,
    /// Seed of the initial weights and of the shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Compute threads (default: all cores, or TORCHLET_NUM_THREADS).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Folder with MNIST's IDX files (default: the 10k digits embedded in
    /// torchlet: 8,000 train / 2,000 test), or with fortunes' train.tsv
    /// and test.tsv, or with karate's edges.tsv and members.tsv.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run folder (default: runs/<model>-<UTC timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// bag only: sparse gradients for the embedding table
    /// (`EmbeddingBag(sparse=True)`), optimised with SparseAdam; Adam for
    /// the other parameters (default 15 epochs: SparseAdam's lazy rows
    /// learn slower, each epoch is faster).
    #[arg(long)]
    pub sparse_embeddings: bool,
    /// Data-parallel training on N ranks in this process (threads, one
    /// compute thread each unless --threads), the batch split across them.
    #[arg(long, value_name = "N", conflicts_with = "distributed")]
    pub local_ranks: Option<usize>,
    /// Data-parallel training across the processes `mpirun` started
    /// (`mpirun -np 2 torchlet train --distributed`; a build with the
    /// `mpi` feature), the batch split across them.
    #[arg(long)]
    pub distributed: bool,
    /// Keep training when a batch's loss is NaN or infinite (by default
    /// the run stops with an error naming the epoch and step, before that
    /// step changes the weights).
    #[arg(long)]
    pub allow_nan: bool,
}

/// `YYYYmmdd-HHMMSS` in UTC for `secs` since the Unix epoch (civil-from-days,
/// Howard Hinnant's algorithm).
pub fn utc_timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn model_name(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Mlp => "mlp",
        ModelKind::Lenet => "lenet",
        ModelKind::Resnet => "resnet",
        ModelKind::Bag => "bag",
        ModelKind::Lstm => "lstm",
        ModelKind::Gru => "gru",
        ModelKind::Charlm => "charlm",
        ModelKind::Tfidf => "tfidf",
        ModelKind::Gcn => "gcn",
    }
}

/// Checks the options every dataset shares, sets the thread count, and
/// returns the model's name.
fn check_common(args: &TrainArgs) -> Result<&'static str, BoxError> {
    if args.epochs == Some(0) {
        bail!("--epochs must be at least 1");
    }
    if args.batch_size == Some(0) {
        bail!("--batch-size must be at least 1");
    }
    if let Some(t) = args.threads {
        if t == 0 {
            bail!("--threads must be at least 1");
        }
        torchlet_tensor::set_num_threads(t);
    }
    let model = args.model.unwrap_or(match args.dataset {
        DatasetKind::Mnist => ModelKind::Lenet,
        DatasetKind::Fortunes => ModelKind::Bag,
        DatasetKind::Karate => ModelKind::Gcn,
    });
    let name = model_name(model);
    let wanted = if crate::text::TEXT_MODELS.contains(&name) {
        DatasetKind::Fortunes
    } else if name == "gcn" {
        DatasetKind::Karate
    } else {
        DatasetKind::Mnist
    };
    if args.sparse_embeddings && name != "bag" {
        bail!("--sparse-embeddings needs --dataset fortunes --model bag, got --model {name}");
    }
    if args.sparse_embeddings && args.optimizer != OptimizerKind::Adam {
        bail!("--sparse-embeddings pairs SparseAdam with Adam: leave --optimizer at adam");
    }
    if wanted != args.dataset {
        let (kind, fix) = match wanted {
            DatasetKind::Mnist => ("an image model", "--dataset mnist"),
            DatasetKind::Fortunes => ("a text model", "--dataset fortunes"),
            DatasetKind::Karate => ("a graph model", "--dataset karate"),
        };
        let models = match args.dataset {
            DatasetKind::Mnist => "mlp, lenet or resnet",
            DatasetKind::Fortunes => "bag, lstm, gru, charlm or tfidf",
            DatasetKind::Karate => "gcn",
        };
        bail!(
            "--model {name} is {kind}: add {fix} (with --dataset {} use {models})",
            dataset_name(args.dataset)
        );
    }
    Ok(name)
}

fn dataset_name(kind: DatasetKind) -> &'static str {
    match kind {
        DatasetKind::Mnist => "mnist",
        DatasetKind::Fortunes => "fortunes",
        DatasetKind::Karate => "karate",
    }
}

/// The run folder: `--out`, or `runs/<model>-<UTC timestamp>`.
pub fn out_folder(args: &TrainArgs, name: &str) -> PathBuf {
    match &args.out {
        Some(out) => out.clone(),
        None => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            PathBuf::from("runs").join(format!("{name}-{}", utc_timestamp(secs)))
        }
    }
}

/// The optimizer's name, learning rate (`--lr` or `adam_lr` for
/// Adam/AdamW, ten times it for SGD) and momentum.
pub fn optimizer_settings(
    args: &TrainArgs,
    adam_lr: f64,
) -> Result<(&'static str, f64, f64), BoxError> {
    let (optimizer, default_lr, momentum) = match args.optimizer {
        OptimizerKind::Sgd => ("sgd", adam_lr * 10.0, 0.9),
        OptimizerKind::Adam => ("adam", adam_lr, 0.0),
        OptimizerKind::Adamw => ("adamw", adam_lr, 0.0),
    };
    let lr = args.lr.unwrap_or(default_lr);
    if !(lr.is_finite() && lr > 0.0) {
        bail!("--lr must be a positive number, got {lr}");
    }
    Ok((optimizer, lr, momentum))
}

/// The optimizer `--optimizer` names over `params`.
pub fn make_optimizer(
    kind: OptimizerKind,
    params: Vec<torchlet_autograd::Variable>,
    lr: f64,
    momentum: f64,
) -> Result<Box<dyn Optimizer>, BoxError> {
    Ok(match kind {
        OptimizerKind::Sgd => Box::new(Sgd::new(
            params,
            SgdOptions {
                lr,
                momentum,
                ..Default::default()
            },
        )?),
        OptimizerKind::Adam => Box::new(Adam::new(
            params,
            AdamOptions {
                lr,
                ..Default::default()
            },
        )?),
        OptimizerKind::Adamw => Box::new(AdamW::new(
            params,
            AdamOptions {
                lr,
                ..AdamOptions::adamw_default()
            },
        )?),
    })
}

/// A trainer with the CLI's settings: seeded, epoch lines, `metrics.csv`,
/// the schedule, the progress bar unless `--quiet`.
pub fn make_trainer(
    args: &TrainArgs,
    epochs: usize,
    out: &Path,
    opt: &mut dyn Optimizer,
    batches_per_epoch: usize,
) -> Result<Trainer, BoxError> {
    make_rank_trainer(args, epochs, out, opt, batches_per_epoch, None)
}

/// [`make_trainer`] for one rank of a data-parallel run: only rank 0
/// writes `metrics.csv` (and prints, see `Trainer::distributed`).
pub fn make_rank_trainer(
    args: &TrainArgs,
    epochs: usize,
    out: &Path,
    opt: &mut dyn Optimizer,
    batches_per_epoch: usize,
    group: Option<&ProcessGroup>,
) -> Result<Trainer, BoxError> {
    let mut trainer: Trainer = Trainer::new(epochs)
        .allow_nan(args.allow_nan)
        .seed(args.seed)
        .log_epochs(true)
        .eval_name("test");
    match group {
        Some(g) => {
            trainer = trainer.distributed(g.clone());
            if g.rank() == 0 {
                trainer =
                    trainer.callback(CsvLogger::new(out.join("metrics.csv")).eval_name("test"));
            }
        }
        None => {
            trainer = trainer.callback(CsvLogger::new(out.join("metrics.csv")).eval_name("test"));
        }
    }
    if schedule(args) == ScheduleKind::Cosine {
        let cosine = CosineAnnealingLr::new(opt, batches_per_epoch * epochs, 0.0)?;
        trainer = trainer.callback(LrSchedulerStep::per_batch(cosine));
    }
    if args.quiet {
        trainer = trainer.progress(torchlet_train::Progress::Hidden);
    }
    Ok(trainer)
}

/// `--schedule`, or the dataset's default: constant for MNIST (the
/// course's recipe), cosine for the text models (it settles the small
/// fortunes set's noisy last epochs).
pub fn schedule(args: &TrainArgs) -> ScheduleKind {
    args.schedule.unwrap_or(match args.dataset {
        DatasetKind::Mnist | DatasetKind::Karate => ScheduleKind::Constant,
        DatasetKind::Fortunes => ScheduleKind::Cosine,
    })
}

/// The `lr_schedule` a config records.
pub fn schedule_name(args: &TrainArgs) -> &'static str {
    match schedule(args) {
        ScheduleKind::Cosine => "cosine",
        ScheduleKind::Constant => "constant",
    }
}

/// Creates the run folder.
pub fn create_folder(out: &Path) -> Result<(), BoxError> {
    std::fs::create_dir_all(out)
        .map_err(|e| Msg(format!("cannot create run folder {}: {e}", out.display())))?;
    Ok(())
}

/// Runs `torchlet train`.
pub fn train(args: &TrainArgs) -> Result<(), BoxError> {
    let name = check_common(args)?;
    let parallel = args.local_ranks.is_some() || args.distributed;
    if parallel && args.dataset != DatasetKind::Mnist {
        bail!(
            "--local-ranks and --distributed train the MNIST models (mlp, lenet, resnet) for now"
        );
    }
    match args.dataset {
        DatasetKind::Fortunes => return crate::text_train::train(args, name),
        DatasetKind::Karate => return crate::graph::train(args, name),
        DatasetKind::Mnist => {}
    }
    match (args.local_ranks, args.distributed) {
        (Some(n), _) => crate::distributed::train_local(args, name, n),
        (None, true) => crate::distributed::train_mpi(args, name),
        (None, false) => train_mnist(args, name, None),
    }
}

/// Trains an MNIST model: alone, or as one rank of a data-parallel run
/// over `group` (then each rank takes its share of every batch, and rank
/// 0 alone prints and writes the run folder).
pub fn train_mnist(
    args: &TrainArgs,
    name: &str,
    group: Option<&ProcessGroup>,
) -> Result<(), BoxError> {
    let (rank, world) = group.map_or((0, 1), |g| (g.rank(), g.world_size()));
    let leader = rank == 0;
    let epochs = args.epochs.unwrap_or(5);
    let batch_size = args.batch_size.unwrap_or(64);
    if !batch_size.is_multiple_of(world) {
        bail!("--batch-size {batch_size} does not split evenly across {world} ranks");
    }
    let out = out_folder(args, name);
    let (optimizer, lr, momentum) = optimizer_settings(args, 1e-3)?;

    let train_data = load_mnist(args.data.as_deref(), true)?;
    let test_data = load_mnist(args.data.as_deref(), false)?;
    let [c, h, w] = train_data.image_shape();
    let mut config = RunConfig {
        torchlet_version: env!("CARGO_PKG_VERSION").into(),
        model: name.into(),
        model_options: ModelOptions {
            batch_norm: name == "lenet",
        },
        num_classes: 10,
        in_channels: c,
        image_size: [h, w],
        classes: (0..10).map(|d| d.to_string()).collect(),
        normalize: Normalization {
            mean: vec![MNIST_MEAN],
            std: vec![MNIST_STD],
        },
        dataset: DatasetConfig {
            name: if args.data.is_some() {
                "mnist"
            } else {
                "mnist-embedded"
            }
            .into(),
            dir: args
                .data
                .as_ref()
                .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone())),
            train_samples: train_data.len(),
            test_samples: test_data.len(),
        },
        seed: args.seed,
        optimizer: optimizer.into(),
        lr,
        lr_schedule: schedule_name(args).into(),
        momentum,
        epochs,
        batch_size,
        threads: args.threads,
        test_accuracy: None,
        quantization: None,
    };

    if leader {
        create_folder(&out)?;
        let ranks = if world > 1 {
            format!(" ({world} ranks x {})", batch_size / world)
        } else {
            String::new()
        };
        println!(
            "training {name} on {} ({} train / {} test), {optimizer} lr {lr}, batch {batch_size}{ranks}, {} epochs, seed {} -> {}",
            config.dataset.name,
            train_data.len(),
            test_data.len(),
            epochs,
            args.seed,
            out.display()
        );
    }

    torchlet_tensor::manual_seed(args.seed);
    let built = config.build_model()?;
    // Data-parallel: DDP (rank 0's initial weights, gradients averaged).
    let (plain, ddp) = match group {
        Some(g) => (None, Some(DistributedDataParallel::new(built, g)?)),
        None => (Some(built), None),
    };
    let (net, model): (&dyn Module, &dyn Module) = match (&plain, &ddp) {
        (Some(m), _) => (&**m, &**m),
        (None, Some(d)) => (d, &**d.module()),
        (None, None) => unreachable!("one of the two is built"),
    };
    let mut opt = make_optimizer(args.optimizer, net.parameters(), lr, momentum)?;
    let train_src = mnist_batches(&train_data, &config.normalize, batch_size / world)
        .shuffle(true)
        .seed(args.seed)
        .shard(rank, world);
    let test_src = mnist_batches(&test_data, &config.normalize, EVAL_BATCH).shard(rank, world);
    let batches = train_src.num_batches().unwrap_or(1);
    let mut trainer = make_rank_trainer(args, epochs, &out, &mut *opt, batches, group)?;
    let history = trainer.fit(net, &mut *opt, &train_src, Some(&test_src))?;
    if let Some(g) = group {
        crate::distributed::check_same_weights(g, model)?;
        if !leader {
            return Ok(());
        }
    }
    let acc = history
        .last()
        .and_then(|m| m.eval_acc)
        .ok_or_else(|| Msg("training produced no test accuracy".into()))?;
    config.test_accuracy = Some(acc);

    torchlet_nn::state::save_safetensors(model, out.join("model.safetensors"))?;
    plot::curves(&history.epochs, &out.join("curves.png"))?;
    let json = serde_json::to_string_pretty(&config)?;
    write_atomic(out.join("config.json"), format!("{json}\n").as_bytes())?;
    // Last, and not fatal: the run is complete and reloadable without it.
    warn_on_onnx_error(crate::export::write_run_onnx(&out, &config, model), &out);
    println!("run saved to {}", out.display());
    println!("{}", accuracy_line(acc));
    Ok(())
}

/// Reports a failed `model.onnx` as a warning: training succeeded and the
/// run folder is complete without it.
pub fn warn_on_onnx_error(result: Result<(), BoxError>, run: &Path) {
    if let Err(e) = result {
        eprintln!(
            "warning: {} not written ({}); the run is saved, retry with `torchlet export --run {} --onnx FILE`",
            crate::export::RUN_ONNX,
            crate::run::one_line(&e.to_string()),
            run.display()
        );
    }
}

/// Runs `torchlet eval --run DIR [--data DIR] [--predictions FILE]`.
pub fn eval(
    run: &Path,
    data: Option<&Path>,
    threads: Option<usize>,
    predictions: Option<&Path>,
) -> Result<(), BoxError> {
    if let Some(t) = threads {
        torchlet_tensor::set_num_threads(t.max(1));
    }
    let config = RunConfig::load(run)?;
    let model = config.load_model(run)?;
    let test = config.dataset(data, false)?;
    let src = mnist_batches(&test, &config.normalize, EVAL_BATCH);
    let metrics = torchlet_train::evaluate(&*model, &src)?;
    if let Some(path) = predictions {
        let mut text = String::new();
        for batch in src.batches(0)? {
            let (x, _) = batch?;
            let logits = torchlet_autograd::no_grad(|| model.forward(&Variable::constant(x)))?;
            for class in logits.data().argmax(1)?.to_vec::<i64>()? {
                text.push_str(&format!("{class}\n"));
            }
        }
        write_atomic(path, text.as_bytes())?;
    }
    println!("{}", accuracy_line(metrics.accuracy));
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_utc_civil_dates() {
        assert_eq!(super::utc_timestamp(0), "19700101-000000");
        assert_eq!(super::utc_timestamp(951_782_400), "20000229-000000");
        assert_eq!(super::utc_timestamp(1_700_000_000), "20231114-221320");
    }
}
