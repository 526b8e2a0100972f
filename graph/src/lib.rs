//! # torchlet-graph
//!
//! Graph neural networks for torchlet, after PyTorch Geometric: a
//! graph's normalised adjacency as a sparse CSR matrix
//! ([`gcn_norm`], on torchlet-sparse), the graph convolution
//! ([`GcnConv`]) and Kipf & Welling's two-layer [`Gcn`], and Zachary's
//! karate club ([`KarateClub`]) built in.
//!
//! | PyTorch Geometric | torchlet |
//! |---|---|
//! | `datasets.KarateClub()` | [`KarateClub::embedded`] |
//! | `gcn_norm(edge_index, add_self_loops=True)` | [`gcn_norm`] (a CSR [`SparseTensor`](torchlet_sparse::SparseTensor)) |
//! | `GCNConv(in, out, cached=True)` | [`GcnConv`] |
//! | `data.train_mask`, `data.test_mask` | [`KarateClub::masked_labels`] (targets [`IGNORE_INDEX`] outside the mask) |
//!
//! The semi-supervised task of the GCN paper — one labelled member per
//! faction, one-hot features, predict the other 32 members' factions:
//!
//! ```
//! use torchlet_autograd::{functional::cross_entropy, functional::Reduction, no_grad, Variable};
//! use torchlet_graph::{gcn_norm, Gcn, KarateClub, IGNORE_INDEX};
//! use torchlet_nn::Module;
//! use torchlet_optim::{Adam, AdamOptions, Optimizer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! torchlet_tensor::manual_seed(0);
//! let club = KarateClub::embedded()?;
//! let adj = gcn_norm(&club.edge_index(), club.num_nodes())?; // built once
//! let model = Gcn::new(&adj, club.num_nodes(), 16, 2, 0.5)?;
//! let x = Variable::constant(club.features());
//! let train = club.masked_labels(&club.labelled()); // members 0 and 33
//! let mut opt = Adam::new(model.parameters(), AdamOptions { lr: 0.01, ..Default::default() })?;
//! for _ in 0..200 {
//!     opt.zero_grad();
//!     let loss = cross_entropy(&model.forward(&x)?, &train, None, IGNORE_INDEX, Reduction::Mean, 0.0)?;
//!     loss.backward()?;
//!     opt.step()?;
//! }
//! model.eval();
//! let pred = no_grad(|| model.forward(&x))?.data().argmax(1)?.to_vec::<i64>()?;
//! let test = club.unlabelled();
//! let right = test.iter().filter(|&&n| pred[n] == club.factions()[n] as i64).count();
//! assert!(right >= 29, "{right} of 32");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod error;
mod gcn;
mod karate;
mod norm;

pub use error::{GraphError, Result};
pub use gcn::{Gcn, GcnConv};
pub use karate::{KarateClub, IGNORE_INDEX};
pub use norm::gcn_norm;
