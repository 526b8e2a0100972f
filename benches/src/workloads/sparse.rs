//! The sparse workloads (issue 16): SpMM on a power-law graph and on a
//! uniform pattern, SDDMM, a GCN layer sparse and dense, and a sparse
//! embedding with SparseAdam. Patterns come from [`crate::graphs`], made
//! bit for bit the same by `benches/pytorch/workloads.py`; dense inputs
//! are each framework's own `randn` from a fixed seed.

use std::hint::black_box;

use torchlet_autograd::Variable;
use torchlet_nn::Embedding;
use torchlet_optim::{Optimizer, SparseAdam, SparseAdamOptions};
use torchlet_sparse::{sparse_csr_tensor, SparseTensor};
use torchlet_tensor::{Generator, Tensor};

use super::{workload, Workload};
use crate::graphs::{gcn_normalized, power_law_graph, uniform_pattern, CsrPattern};

/// Nodes of the `spmm_powerlaw` graph.
pub const POWERLAW_NODES: usize = 100_000;
/// Edges of the `spmm_powerlaw` graph.
pub const POWERLAW_EDGES: usize = 1_000_000;
/// Feature width of the `spmm_powerlaw` dense operand.
pub const POWERLAW_WIDTH: usize = 64;
/// Side of the `spmm_uniform` / `sddmm` matrix.
pub const UNIFORM_N: usize = 20_000;
/// Entries of the uniform pattern (density 0.1%).
pub const UNIFORM_EDGES: usize = 400_000;
/// Dense width of `spmm_uniform` and inner size of `sddmm`.
pub const UNIFORM_WIDTH: usize = 128;
/// Nodes of the GCN graph.
pub const GCN_NODES: usize = 8_000;
/// Edges of the GCN graph (before the self-loops are added).
pub const GCN_EDGES: usize = 80_000;
/// Feature width of the GCN layer.
pub const GCN_WIDTH: usize = 64;
/// Rows of the `embedding_sparse_adam` table.
pub const EMBEDDING_ROWS: usize = 200_000;
/// Width of the `embedding_sparse_adam` table.
pub const EMBEDDING_DIM: usize = 64;
/// Lookups per `embedding_sparse_adam` step.
pub const EMBEDDING_BATCH: usize = 4_096;

fn csr(p: &CsrPattern) -> SparseTensor {
    let crow = Tensor::from_vec(p.crow.clone(), &[p.rows + 1]).unwrap();
    let col = Tensor::from_vec(p.col.clone(), &[p.nnz()]).unwrap();
    let values = Tensor::from_vec(p.values.clone(), &[p.nnz()]).unwrap();
    sparse_csr_tensor(&crow, &col, values, &[p.rows, p.cols]).unwrap()
}

fn spmm_workload(name: &'static str, a: SparseTensor, width: usize, seed: u64) -> Workload {
    let mut g = Generator::new(seed);
    let b = Variable::constant(Tensor::randn_with(&[a.shape()[1], width], &mut g));
    Workload {
        flops_per_step: Some(2.0 * (a.nnz() * width) as f64),
        ..workload(name, move || {
            black_box(a.mm(&b).unwrap());
        })
    }
}

pub(super) fn spmm_powerlaw() -> Workload {
    let a = csr(&power_law_graph(POWERLAW_NODES, POWERLAW_EDGES, 0));
    spmm_workload("spmm_powerlaw", a, POWERLAW_WIDTH, 1)
}

pub(super) fn spmm_uniform() -> Workload {
    let a = csr(&uniform_pattern(UNIFORM_N, UNIFORM_EDGES, 0));
    spmm_workload("spmm_uniform", a, UNIFORM_WIDTH, 1)
}

pub(super) fn spmm_powerlaw_fb() -> Workload {
    let a = csr(&power_law_graph(POWERLAW_NODES, POWERLAW_EDGES, 0)).requires_grad_();
    let mut g = Generator::new(1);
    let b = Variable::parameter(Tensor::randn_with(
        &[POWERLAW_NODES, POWERLAW_WIDTH],
        &mut g,
    ));
    let weight = Variable::constant(Tensor::randn_with(
        &[POWERLAW_NODES, POWERLAW_WIDTH],
        &mut g,
    ));
    Workload {
        // Forward, the values' SDDMM and Aᵀ G: three nnz x width products.
        flops_per_step: Some(6.0 * (a.nnz() * POWERLAW_WIDTH) as f64),
        ..workload("spmm_powerlaw_fb", move || {
            a.zero_grad();
            b.zero_grad();
            let loss = a.mm(&b).unwrap().mul(&weight).unwrap().sum();
            loss.backward().unwrap();
            black_box(loss);
        })
    }
}

pub(super) fn sddmm() -> Workload {
    let c = csr(&uniform_pattern(UNIFORM_N, UNIFORM_EDGES, 0));
    let mut g = Generator::new(2);
    let a = Variable::constant(Tensor::randn_with(&[UNIFORM_N, UNIFORM_WIDTH], &mut g));
    let b = Variable::constant(Tensor::randn_with(&[UNIFORM_WIDTH, UNIFORM_N], &mut g));
    Workload {
        flops_per_step: Some(2.0 * (c.nnz() * UNIFORM_WIDTH) as f64),
        ..workload("sddmm", move || {
            black_box(c.sampled_addmm(&a, &b, 1.0, 1.0).unwrap());
        })
    }
}

/// One GCN layer `A_hat @ (X W)`, forward and backward (loss
/// `sum(out * G)`, gradient for W), with `A_hat` sparse or dense.
fn gcn(name: &'static str, dense: bool) -> Workload {
    let p = gcn_normalized(&power_law_graph(GCN_NODES, GCN_EDGES, 0));
    let a_sparse = csr(&p);
    let a_dense = dense.then(|| Variable::constant(a_sparse.to_dense().unwrap()));
    let mut g = Generator::new(3);
    let x = Variable::constant(Tensor::randn_with(&[GCN_NODES, GCN_WIDTH], &mut g));
    let w = Variable::parameter(Tensor::randn_with(&[GCN_WIDTH, GCN_WIDTH], &mut g));
    let weight = Variable::constant(Tensor::randn_with(&[GCN_NODES, GCN_WIDTH], &mut g));
    workload(name, move || {
        w.zero_grad();
        let xw = x.matmul(&w).unwrap();
        let out = match &a_dense {
            Some(a) => a.matmul(&xw).unwrap(),
            None => a_sparse.mm(&xw).unwrap(),
        };
        let loss = out.mul(&weight).unwrap().sum();
        loss.backward().unwrap();
        black_box(loss);
    })
}

pub(super) fn gcn_sparse() -> Workload {
    gcn("gcn_sparse", false)
}

pub(super) fn gcn_dense() -> Workload {
    gcn("gcn_dense", true)
}

/// A `[200000, 64]` embedding with sparse gradients: look up a fixed
/// batch of 4,096 random rows, loss = sum of their squares, backward (a
/// sparse gradient of 4,096 rows), `SparseAdam` step (lr 1e-3).
pub(super) fn embedding_sparse_adam() -> Workload {
    torchlet_tensor::manual_seed(0);
    let emb = Embedding::new(EMBEDDING_ROWS, EMBEDDING_DIM)
        .unwrap()
        .sparse(true);
    let mut opt =
        SparseAdam::new(vec![emb.weight().clone()], SparseAdamOptions::default()).unwrap();
    let mut g = Generator::new(4);
    let idx = Tensor::randint_with(0, EMBEDDING_ROWS as i64, &[EMBEDDING_BATCH], &mut g).unwrap();
    workload("embedding_sparse_adam", move || {
        opt.zero_grad();
        let rows = emb.forward_indices(&idx).unwrap();
        let loss = rows.mul(&rows).unwrap().sum();
        loss.backward().unwrap();
        opt.step().unwrap();
        black_box(loss);
    })
}
