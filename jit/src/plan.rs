//! Memory planning: which buffer each intermediate value could live in
//! when buffers are reused by liveness, and how many bytes that takes, at
//! the traced shapes (`torch.jit`'s and XLA's "memory plan").
//!
//! A view (reshape, transpose, narrow, ...) shares its input's storage,
//! so the storage lives until the last reader of any view of it. Values
//! are assigned greedily in execution order: a value takes the smallest
//! free buffer that holds it, else grows the largest free one, else gets
//! a new one; a buffer is free once every reader of the value in it has
//! run. Inputs and constants are the caller's and the script's, not
//! planned; the outputs live to the end.

use std::fmt;

use torchlet_autograd::trace::AtenOp;

use crate::graph::{ElemType, Graph, Op, ValueId};

/// A memory plan (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Per value, the buffer holding its storage (`None`: an input, a
    /// constant, or a view of one).
    pub buffer_of: Vec<Option<usize>>,
    /// Per value, the value owning its storage (itself, or for a view the
    /// value it views, through any chain of views).
    pub storage_of: Vec<ValueId>,
    /// Each buffer's size in bytes.
    pub buffer_bytes: Vec<usize>,
    /// The most bytes of intermediate values and outputs alive at once.
    pub peak_bytes: usize,
    /// The bytes every node output takes without reuse.
    pub total_bytes: usize,
}

impl MemoryPlan {
    /// All buffers together: what an executor reusing them holds.
    pub fn arena_bytes(&self) -> usize {
        self.buffer_bytes.iter().sum()
    }
}

impl fmt::Display for MemoryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory plan at the traced shapes: {} buffers, {} bytes (peak live {} bytes; {} bytes without reuse)",
            self.buffer_bytes.len(),
            self.arena_bytes(),
            self.peak_bytes,
            self.total_bytes
        )
    }
}

/// Whether `op`'s output shares its (first) input's storage.
fn is_view(op: &Op) -> bool {
    matches!(
        op,
        Op::Reshape(_)
            | Op::Expand(_)
            | Op::Aten(
                AtenOp::Reshape(_)
                    | AtenOp::Expand(_)
                    | AtenOp::Flatten { .. }
                    | AtenOp::Permute(_)
                    | AtenOp::Transpose(..)
                    | AtenOp::Squeeze(_)
                    | AtenOp::Unsqueeze(_)
                    | AtenOp::Narrow { .. }
                    | AtenOp::Select { .. }
            )
    )
}

fn elem_bytes(t: ElemType) -> usize {
    match t {
        ElemType::F32 => 4,
        ElemType::F64 | ElemType::I64 => 8,
        ElemType::Bool => 1,
    }
}

impl MemoryPlan {
    /// The plan of `graph`.
    pub fn of(graph: &Graph) -> MemoryPlan {
        let n_nodes = graph.nodes.len();
        let first_out = graph.first_constant() + graph.constants.len();
        let bytes = |v: ValueId| {
            let t = &graph.types[v];
            t.shape.iter().product::<usize>() * elem_bytes(t.dtype)
        };
        // The value owning each value's storage, and when it is last read.
        let mut root: Vec<ValueId> = (0..graph.num_values).collect();
        let mut end = vec![0usize; graph.num_values];
        for (i, node) in graph.nodes.iter().enumerate() {
            if is_view(&node.op) {
                if let Some(Some(x)) = node.inputs.first() {
                    root[node.outputs[0]] = root[*x];
                }
            }
            for v in node.inputs.iter().flatten() {
                end[root[*v]] = end[root[*v]].max(i);
            }
            for &v in &node.outputs {
                end[root[v]] = end[root[v]].max(i);
            }
        }
        for &v in &graph.outputs {
            end[root[v]] = n_nodes;
        }
        let mut buffer_of = vec![None; graph.num_values];
        let mut buffer_bytes: Vec<usize> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let mut holding: Vec<(usize, ValueId)> = Vec::new(); // (buffer, root)
        let (mut live, mut peak, mut total) = (0usize, 0usize, 0usize);
        for (i, node) in graph.nodes.iter().enumerate() {
            for &v in node
                .outputs
                .iter()
                .filter(|&&v| root[v] == v && v >= first_out)
            {
                let need = bytes(v);
                let fits = free
                    .iter()
                    .enumerate()
                    .filter(|(_, &b)| buffer_bytes[b] >= need)
                    .min_by_key(|(_, &b)| buffer_bytes[b])
                    .map(|(k, _)| k);
                let largest = (0..free.len()).max_by_key(|&k| buffer_bytes[free[k]]);
                let b = match fits.or(largest) {
                    Some(k) => free.swap_remove(k),
                    None => {
                        buffer_bytes.push(0);
                        buffer_bytes.len() - 1
                    }
                };
                buffer_bytes[b] = buffer_bytes[b].max(need);
                buffer_of[v] = Some(b);
                holding.push((b, v));
                live += need;
                total += need;
            }
            peak = peak.max(live);
            // Storage read for the last time by this node is free after it.
            holding.retain(|&(b, v)| {
                let done = end[v] <= i;
                if done {
                    free.push(b);
                    live -= bytes(v);
                }
                !done
            });
        }
        // A view lives in its root's buffer.
        for v in 0..graph.num_values {
            buffer_of[v] = buffer_of[root[v]];
        }
        MemoryPlan {
            buffer_of,
            storage_of: root,
            buffer_bytes,
            peak_bytes: peak,
            total_bytes: total,
        }
    }
}
