//! [`GcnConv`] and the two-layer [`Gcn`] of Kipf & Welling.

use torchlet_autograd::Variable;
use torchlet_nn::init::xavier_uniform_;
use torchlet_nn::{Dropout, Linear, Module, NnError, ReLU, Result};
use torchlet_sparse::SparseTensor;
use torchlet_tensor::Tensor;

use crate::error::sparse_to_nn;

/// A graph convolution on a fixed graph (`torch_geometric.nn.GCNConv`
/// with `cached=True`): `Â (x Wᵀ) + b` for node features `x` `[N, in]`,
/// where `Â` is the normalised adjacency [`gcn_norm`](crate::gcn_norm)
/// built once for the graph. Each node's output mixes its own and its
/// neighbours' transformed features, weighted by `Â`.
///
/// The product with `Â` is a sparse × dense matrix product
/// ([`SparseTensor::mm`]), differentiable with respect to the features
/// and `W`. Parameters as in PyTorch Geometric: `lin.weight` `[out, in]`
/// (Glorot-uniform) and `bias` `[out]` (zeros).
pub struct GcnConv {
    adj: SparseTensor,
    lin: Linear,
    bias: Variable,
}

impl GcnConv {
    /// A layer from `in_features` to `out_features` on the graph whose
    /// normalised adjacency is `adj` (`[N, N]`; cloning shares it).
    pub fn new(adj: &SparseTensor, in_features: usize, out_features: usize) -> Result<GcnConv> {
        if adj.dim() != 2 || adj.shape()[0] != adj.shape()[1] {
            return Err(NnError::Config {
                module: "GcnConv",
                message: format!("adj must be a square matrix, got shape {:?}", adj.shape()),
            });
        }
        let lin = Linear::with_bias(in_features, out_features, false)?;
        xavier_uniform_(lin.weight(), 1.0)?;
        let bias = Variable::parameter(Tensor::zeros(&[out_features]));
        Ok(GcnConv {
            adj: adj.clone(),
            lin,
            bias,
        })
    }
}

impl Module for GcnConv {
    /// `x` holds every node's features, `[N, in]` float32.
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let n = self.adj.shape()[0];
        if x.dim() != 2 || x.shape()[0] != n {
            return Err(NnError::Input {
                module: "GcnConv",
                message: format!(
                    "expected the features of all {n} nodes [{n}, in], got shape {:?}",
                    x.shape()
                ),
            });
        }
        let h = self.lin.forward(x)?;
        let propagated = self.adj.mm(&h).map_err(sparse_to_nn)?;
        Ok(propagated.add(&self.bias)?)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![("lin", &self.lin)]
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        vec![("bias", self.bias.clone())]
    }
}

/// Kipf & Welling's two-layer graph convolutional network for node
/// classification ("Semi-Supervised Classification with Graph
/// Convolutional Networks", ICLR 2017):
///
/// `logits = Â · relu(Â · dropout(X) W1ᵀ + b1) W2ᵀ + b2`, with dropout
/// also before the second layer.
///
/// The forward pass takes every node's features `[N, in]` and gives every
/// node's logits `[N, classes]`; train it on a few nodes by giving the
/// others the target [`IGNORE_INDEX`](crate::IGNORE_INDEX). Parameters:
/// `conv1.lin.weight`, `conv1.bias`, `conv2.lin.weight`, `conv2.bias`, as
/// in PyTorch Geometric's GCN example.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_graph::{gcn_norm, Gcn, KarateClub};
/// use torchlet_nn::Module;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let club = KarateClub::embedded()?;
/// let adj = gcn_norm(&club.edge_index(), club.num_nodes())?;
/// let model = Gcn::new(&adj, club.num_nodes(), 16, club.num_classes(), 0.5)?;
/// let logits = model.forward(&Variable::constant(club.features()))?;
/// assert_eq!(logits.shape(), [34, 2]);
/// # Ok(())
/// # }
/// ```
pub struct Gcn {
    dropout: Dropout,
    conv1: GcnConv,
    act: ReLU,
    conv2: GcnConv,
}

impl Gcn {
    /// A GCN on the graph `adj` (from [`gcn_norm`](crate::gcn_norm)) from
    /// `in_features` through `hidden` to `num_classes`, with dropout `p`
    /// before each layer.
    pub fn new(
        adj: &SparseTensor,
        in_features: usize,
        hidden: usize,
        num_classes: usize,
        dropout: f64,
    ) -> Result<Gcn> {
        Ok(Gcn {
            dropout: Dropout::new(dropout)?,
            conv1: GcnConv::new(adj, in_features, hidden)?,
            act: ReLU,
            conv2: GcnConv::new(adj, hidden, num_classes)?,
        })
    }
}

impl Module for Gcn {
    /// `x` holds every node's features, `[N, in]` float32.
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let h = self.conv1.forward(&self.dropout.forward(x)?)?;
        let h = self.act.forward(&h)?;
        self.conv2.forward(&self.dropout.forward(&h)?)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![
            ("dropout", &self.dropout),
            ("conv1", &self.conv1),
            ("act", &self.act),
            ("conv2", &self.conv2),
        ]
    }
}
