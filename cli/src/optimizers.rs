//! [`Optimizers`]: several optimizers stepped as one, for `--sparse-embeddings`
//! (SparseAdam for the embedding table, Adam for the other parameters).

use torchlet_autograd::Variable;
use torchlet_nn::Module;
use torchlet_optim::{Adam, AdamOptions, Optimizer, SparseAdam, SparseAdamOptions};

use crate::run::BoxError;

/// Optimizers over disjoint parameters, stepped and cleared together (in
/// PyTorch, two optimizers whose `step()` the loop calls one after the
/// other). Their parameter groups are numbered one after the other, so a
/// scheduler built on this sees, and sets, every group.
pub struct Optimizers(Vec<Box<dyn Optimizer>>);

impl Optimizers {
    /// The optimizer and its own group number of overall group `group`.
    fn locate(&self, group: usize) -> (usize, usize) {
        let mut g = group;
        for (i, opt) in self.0.iter().enumerate() {
            let n = opt.num_param_groups();
            if g < n {
                return (i, g);
            }
            g -= n;
        }
        panic!(
            "parameter group {group} is out of range ({} groups)",
            self.num_param_groups()
        )
    }
}

impl Optimizer for Optimizers {
    fn step(&mut self) -> torchlet_optim::Result<()> {
        self.0.iter_mut().try_for_each(|opt| opt.step())
    }

    fn zero_grad(&mut self) {
        self.0.iter_mut().for_each(|opt| opt.zero_grad())
    }

    fn params(&self) -> Vec<Variable> {
        self.0.iter().flat_map(|opt| opt.params()).collect()
    }

    fn num_param_groups(&self) -> usize {
        self.0.iter().map(|opt| opt.num_param_groups()).sum()
    }

    fn lr(&self, group: usize) -> f64 {
        let (i, g) = self.locate(group);
        self.0[i].lr(g)
    }

    fn set_lr(&mut self, group: usize, lr: f64) {
        let (i, g) = self.locate(group);
        self.0[i].set_lr(g, lr)
    }

    fn initial_lr(&self, group: usize) -> Option<f64> {
        let (i, g) = self.locate(group);
        self.0[i].initial_lr(g)
    }

    fn set_initial_lr(&mut self, group: usize, lr: Option<f64>) {
        let (i, g) = self.locate(group);
        self.0[i].set_initial_lr(g, lr)
    }

    fn momentum(&self, group: usize) -> Option<f64> {
        let (i, g) = self.locate(group);
        self.0[i].momentum(g)
    }

    fn set_momentum(&mut self, group: usize, momentum: f64) {
        let (i, g) = self.locate(group);
        self.0[i].set_momentum(g, momentum)
    }
}

/// SparseAdam (lr `lr`) for the parameters whose name ends in
/// `embed.weight` (the tables with sparse gradients), Adam (lr `lr`) for
/// the rest.
pub fn sparse_adam_and_adam(model: &dyn Module, lr: f64) -> Result<Optimizers, BoxError> {
    let (tables, rest): (Vec<_>, Vec<_>) = model
        .named_parameters()
        .into_iter()
        .partition(|(name, _)| name.ends_with("embed.weight"));
    let ids = |v: Vec<(String, Variable)>| v.into_iter().map(|(_, p)| p).collect::<Vec<_>>();
    let sparse = SparseAdam::new(
        ids(tables),
        SparseAdamOptions {
            lr,
            ..Default::default()
        },
    )?;
    let dense = Adam::new(
        ids(rest),
        AdamOptions {
            lr,
            ..Default::default()
        },
    )?;
    Ok(Optimizers(vec![Box::new(sparse), Box::new(dense)]))
}
