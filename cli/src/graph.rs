//! Graph runs: `torchlet train --dataset karate --model gcn` (a two-layer
//! GCN on Zachary's karate club, one labelled member per faction) and
//! `torchlet eval` on such a run.
//!
//! The run folder holds `model.safetensors`, `config.json` (with `task:
//! "node-classification"`), `metrics.csv` and `curves.png`. There is no
//! `model.onnx`: the sparse product has no ONNX lowering yet.

use std::path::Path;

use serde::{Deserialize, Serialize};
use torchlet_autograd::Variable;
use torchlet_graph::{gcn_norm, Gcn, KarateClub};
use torchlet_nn::Module;
use torchlet_train::{write_atomic, Batch, Callback, Context, Control, EpochMetrics, FnSource};

use crate::plot;
use crate::run::{accuracy_line, bail, one_line, read_config, BoxError, DatasetConfig, Msg};
use crate::text::BoxSendError;
use crate::train::{
    create_folder, make_optimizer, make_trainer, optimizer_settings, out_folder, schedule_name,
    TrainArgs,
};

/// The `task` of a graph run's `config.json`.
pub const TASK: &str = "node-classification";

/// Sizes of the GCN that the state dict alone does not say.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct GcnOptions {
    /// Width of the hidden layer.
    pub hidden: usize,
    /// Dropout before each layer.
    pub dropout: f64,
}

/// `config.json` of a graph run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GraphRunConfig {
    /// The torchlet version that wrote the run.
    pub torchlet_version: String,
    /// `node-classification`.
    pub task: String,
    /// `gcn`.
    pub model: String,
    /// Model sizes.
    pub model_options: GcnOptions,
    /// Node features: `one-hot` (the identity, one feature per node).
    pub features: String,
    /// Number of nodes.
    pub num_nodes: usize,
    /// Class names by index.
    pub classes: Vec<String>,
    /// The nodes whose label trains the model; every other node is a
    /// test node.
    pub labelled: Vec<usize>,
    /// The graph (`karate-embedded`, or `karate` with `dir`); its
    /// train/test samples count the labelled and the test nodes.
    pub dataset: DatasetConfig,
    /// Seed of weights and dropout.
    pub seed: u64,
    /// `sgd`, `adam` or `adamw`.
    pub optimizer: String,
    /// Learning rate.
    pub lr: f64,
    /// `constant` or `cosine`.
    pub lr_schedule: String,
    /// SGD momentum (0 for Adam/AdamW).
    pub momentum: f64,
    /// Epochs (one full-graph step each).
    pub epochs: usize,
    /// Worker threads (`null`: all cores).
    pub threads: Option<usize>,
    /// Accuracy on the test nodes at the end of training.
    pub test_accuracy: Option<f64>,
}

/// Whether `dir/config.json` describes a graph run.
pub fn is_graph_run(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("task").and_then(|t| t.as_str()) == Some(TASK))
}

/// The karate club: the embedded copy or `dir/edges.tsv` +
/// `dir/members.tsv`.
fn load_club(dir: Option<&Path>) -> Result<KarateClub, BoxError> {
    Ok(match dir {
        Some(dir) => {
            if !dir.is_dir() {
                bail!("data folder {} does not exist", dir.display());
            }
            KarateClub::from_dir(dir).map_err(|e| Msg(one_line(&e.to_string())))?
        }
        None => KarateClub::embedded()?,
    })
}

impl GraphRunConfig {
    /// Reads `dir/config.json` of a graph run.
    pub fn load(dir: &Path) -> Result<GraphRunConfig, BoxError> {
        let config: GraphRunConfig = read_config(dir, "graph run config")?;
        if config.model != "gcn" {
            bail!(
                "{}: unknown model {:?}",
                dir.join("config.json").display(),
                config.model
            );
        }
        Ok(config)
    }

    /// The GCN (freshly initialised) on `club`'s normalised adjacency,
    /// built once here.
    fn build_model(&self, club: &KarateClub) -> Result<Gcn, BoxError> {
        if club.num_nodes() != self.num_nodes {
            bail!(
                "the graph has {} nodes, but the run was trained on {}",
                club.num_nodes(),
                self.num_nodes
            );
        }
        let adj = gcn_norm(&club.edge_index(), club.num_nodes())?;
        let o = self.model_options;
        Ok(Gcn::new(
            &adj,
            club.num_nodes(),
            o.hidden,
            self.classes.len(),
            o.dropout,
        )?)
    }
}

/// The whole graph as one batch: the one-hot features and the labels of
/// `nodes` (every other node's target is ignored).
fn graph_batch(
    club: &KarateClub,
    nodes: &[usize],
) -> FnSource<impl Fn(u64) -> Vec<Result<Batch, BoxSendError>>> {
    let (x, y) = (club.features(), club.masked_labels(nodes));
    let n = club.num_nodes();
    FnSource::new(move |_epoch| vec![Ok((x.clone(), y.clone()))]).with_len(1, n)
}

/// Prints the trainer's epoch line every `every` epochs and after the
/// last (a full-graph epoch is one step: 200 lines would bury the rest).
struct EpochLines {
    every: usize,
}

impl Callback for EpochLines {
    fn on_epoch_end(
        &mut self,
        ctx: &mut Context<'_>,
        m: &EpochMetrics,
    ) -> torchlet_train::Result<Control> {
        if m.epoch.is_multiple_of(self.every) || m.epoch == ctx.epochs {
            println!(
                "epoch {}/{}: train loss {:.4} acc {:.4} | test loss {:.4} acc {:.4}",
                m.epoch,
                ctx.epochs,
                m.train_loss,
                m.train_acc,
                m.eval_loss.unwrap_or(f64::NAN),
                m.eval_acc.unwrap_or(f64::NAN)
            );
        }
        Ok(Control::Continue)
    }
}

/// Runs `torchlet train --dataset karate --model gcn`.
pub fn train(args: &TrainArgs, name: &str) -> Result<(), BoxError> {
    if args.batch_size.is_some() {
        bail!(
            "--batch-size does not apply to --dataset karate: every epoch is one full-graph step"
        );
    }
    let epochs = args.epochs.unwrap_or(200);
    let (optimizer, lr, momentum) = optimizer_settings(args, 1e-2)?;
    let out = out_folder(args, name);
    let club = load_club(args.data.as_deref())?;
    let (labelled, test) = (club.labelled(), club.unlabelled());
    let mut config = GraphRunConfig {
        torchlet_version: env!("CARGO_PKG_VERSION").into(),
        task: TASK.into(),
        model: name.into(),
        model_options: GcnOptions {
            hidden: 16,
            dropout: 0.5,
        },
        features: "one-hot".into(),
        num_nodes: club.num_nodes(),
        classes: KarateClub::CLASSES.iter().map(|c| c.to_string()).collect(),
        labelled: labelled.clone(),
        dataset: DatasetConfig {
            name: if args.data.is_some() {
                "karate"
            } else {
                "karate-embedded"
            }
            .into(),
            dir: args
                .data
                .as_ref()
                .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone())),
            train_samples: labelled.len(),
            test_samples: test.len(),
        },
        seed: args.seed,
        optimizer: optimizer.into(),
        lr,
        lr_schedule: schedule_name(args).into(),
        momentum,
        epochs,
        threads: args.threads,
        test_accuracy: None,
    };

    create_folder(&out)?;
    println!(
        "training {name} on {} ({} nodes, {} edges; labelled members {:?}, {} test members), {optimizer} lr {lr}, {epochs} epochs, seed {} -> {}",
        config.dataset.name,
        club.num_nodes(),
        club.edges().len(),
        labelled,
        test.len(),
        args.seed,
        out.display()
    );
    torchlet_tensor::manual_seed(args.seed);
    let model = config.build_model(&club)?;
    let mut opt = make_optimizer(args.optimizer, model.parameters(), lr, momentum)?;
    let train_src = graph_batch(&club, &labelled);
    let test_src = graph_batch(&club, &test);
    let mut trainer = make_trainer(args, epochs, &out, &mut *opt, 1)?
        .log_epochs(false)
        .callback(EpochLines { every: 20 });
    let history = trainer.fit(&model, &mut *opt, &train_src, Some(&test_src))?;
    let acc = history
        .last()
        .and_then(|m| m.eval_acc)
        .ok_or_else(|| Msg("training produced no test accuracy".into()))?;
    config.test_accuracy = Some(acc);

    torchlet_nn::state::save_safetensors(&model, out.join("model.safetensors"))?;
    plot::curves(&history.epochs, &out.join("curves.png"))?;
    let json = serde_json::to_string_pretty(&config)?;
    write_atomic(out.join("config.json"), format!("{json}\n").as_bytes())?;
    println!("run saved to {}", out.display());
    println!("predicted factions: {}", predicted_factions(&model, &club)?);
    println!("{}", accuracy_line(acc));
    Ok(())
}

/// Each member's predicted faction as a string of 0s and 1s, member 0
/// first.
fn predicted_factions(model: &Gcn, club: &KarateClub) -> Result<String, BoxError> {
    model.eval();
    let logits =
        torchlet_autograd::no_grad(|| model.forward(&Variable::constant(club.features())))?;
    let pred = logits.data().argmax(1)?.to_vec::<i64>()?;
    Ok(pred.iter().map(|p| p.to_string()).collect())
}

/// Runs `torchlet eval --run DIR [--data DIR]` on a graph run.
pub fn eval(run: &Path, data: Option<&Path>) -> Result<(), BoxError> {
    let config = GraphRunConfig::load(run)?;
    let club = load_club(data.or(config.dataset.dir.as_deref()))?;
    let model = config.build_model(&club)?;
    let path = run.join("model.safetensors");
    if !path.is_file() {
        bail!("{}: no such file", path.display());
    }
    crate::run::load_checkpoint(&model, &path)?;
    let test: Vec<usize> = (0..club.num_nodes())
        .filter(|n| !config.labelled.contains(n))
        .collect();
    let metrics = torchlet_train::evaluate(&model, &graph_batch(&club, &test))?;
    println!("{}", accuracy_line(metrics.accuracy));
    Ok(())
}
