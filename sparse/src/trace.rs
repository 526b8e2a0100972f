//! How sparse ops appear in a trace (ONNX export, jit): each public op is
//! one record named after its `torch.sparse` op. ONNX has no sparse
//! operators, so these records are [`Untraceable`]: exporting a model
//! that uses one fails with an error naming the op, instead of writing a
//! graph that silently densified it.

use torchlet_autograd::trace::{traced, TraceArg, TraceOutput, Untraceable};
use torchlet_autograd::Variable;

use crate::ops::Summed;
use crate::tensor::SparseTensor;

impl TraceOutput for SparseTensor {
    fn outputs(&self) -> Option<Vec<Variable>> {
        Some(vec![self.values().clone()])
    }
}

impl TraceOutput for Summed {
    fn outputs(&self) -> Option<Vec<Variable>> {
        match self {
            Summed::Dense(v) => Some(vec![v.clone()]),
            Summed::Sparse(s) => s.outputs(),
        }
    }
}

/// Runs the sparse op `name` as one trace record over `operands` (sparse
/// tensors contribute their values) and `dense` variables.
pub(crate) fn sparse_op<R: TraceOutput>(
    name: &'static str,
    operands: &[&SparseTensor],
    dense: &[&Variable],
    f: impl FnOnce() -> R,
) -> R {
    traced(
        || {
            let args = operands
                .iter()
                .map(|s| TraceArg::var(s.values()))
                .chain(dense.iter().map(|v| TraceArg::var(v)))
                .collect();
            (Untraceable(name), args)
        },
        f,
    )
}

/// The sparse ops' record names, for consumers' op tables.
pub const SPARSE_OPS: &[&str] = &[
    "sparse.mm",
    "sparse.addmm",
    "sparse.sampled_addmm",
    "sparse.sum",
    "sparse.softmax",
    "sparse.log_softmax",
    "sparse.add",
    "sparse.mul",
    "to_dense",
    "to_sparse",
];
