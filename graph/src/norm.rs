//! The GCN propagation matrix `Â = D^-1/2 (A + I) D^-1/2`.

use torchlet_sparse::{sparse_csr_tensor, SparseTensor};
use torchlet_tensor::{DType, Tensor};

use crate::error::{GraphError, Result};

/// Kipf & Welling's renormalised adjacency `Â = D^-1/2 (A + I) D^-1/2`
/// as a float32 CSR matrix `[num_nodes, num_nodes]`, built once and
/// multiplied into the features by every GCN layer
/// (`torch_geometric.nn.conv.gcn_conv.gcn_norm` with self loops added).
///
/// `edge_index` is int64 `[2, E]`, one column per directed edge `source
/// -> target` (list an undirected edge both ways, as
/// [`KarateClub::edge_index`](crate::KarateClub::edge_index) does); `A[s,
/// t]` counts the columns `(s, t)`. `I` adds a self loop to every node,
/// so `D`, the row sums of `A + I`, is never zero. Each stored value is
/// `(A + I)[i, j] / sqrt(D[i] D[j])`, computed in f64.
///
/// ```
/// use torchlet_graph::gcn_norm;
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_graph::GraphError> {
/// // The path 0 - 1 - 2: degrees with self loops 2, 3, 2.
/// let edges = Tensor::from_vec(vec![0i64, 1, 1, 2, 1, 0, 2, 1], &[2, 4])?;
/// let a = gcn_norm(&edges, 3)?;
/// assert_eq!(a.nnz(), 7); // 4 edges + 3 self loops
/// let dense = a.to_dense()?.to_vec::<f32>()?;
/// assert!((dense[0] - 0.5).abs() < 1e-6); // 1 / sqrt(2 * 2)
/// assert!((dense[1] - 1.0 / 6f32.sqrt()).abs() < 1e-6); // 1 / sqrt(2 * 3)
/// # Ok(())
/// # }
/// ```
pub fn gcn_norm(edge_index: &Tensor, num_nodes: usize) -> Result<SparseTensor> {
    if edge_index.dtype() != DType::I64 || edge_index.dim() != 2 || edge_index.shape()[0] != 2 {
        return Err(GraphError::Invalid(format!(
            "gcn_norm: edge_index must be int64 [2, E], got dtype {} and shape {:?}",
            edge_index.dtype(),
            edge_index.shape()
        )));
    }
    let e = edge_index.shape()[1];
    let idx = edge_index.contiguous().to_vec::<i64>()?;
    let mut entries: Vec<(usize, usize)> = Vec::with_capacity(e + num_nodes);
    for k in 0..e {
        let (s, t) = (idx[k], idx[e + k]);
        if s < 0 || t < 0 || s as usize >= num_nodes || t as usize >= num_nodes {
            return Err(GraphError::Invalid(format!(
                "gcn_norm: edge {k} ({s} -> {t}) names a node outside 0..{num_nodes}"
            )));
        }
        entries.push((s as usize, t as usize));
    }
    entries.extend((0..num_nodes).map(|i| (i, i)));
    entries.sort_unstable();

    // A + I in CSR order: repeated entries become one with their count.
    let mut crow = vec![0i64; num_nodes + 1];
    let mut col = Vec::with_capacity(entries.len());
    let mut count: Vec<f64> = Vec::with_capacity(entries.len());
    let mut row_of = Vec::with_capacity(entries.len());
    for (k, &(r, c)) in entries.iter().enumerate() {
        if k > 0 && entries[k - 1] == (r, c) {
            *count.last_mut().expect("a previous entry") += 1.0;
        } else {
            row_of.push(r);
            col.push(c as i64);
            count.push(1.0);
            crow[r + 1] += 1;
        }
    }
    for r in 0..num_nodes {
        crow[r + 1] += crow[r];
    }
    let mut degree = vec![0.0f64; num_nodes];
    for (&r, &v) in row_of.iter().zip(&count) {
        degree[r] += v;
    }
    let inv_sqrt: Vec<f64> = degree.iter().map(|d| 1.0 / d.sqrt()).collect();
    let values: Vec<f32> = row_of
        .iter()
        .zip(&col)
        .zip(&count)
        .map(|((&r, &c), &v)| (v * inv_sqrt[r] * inv_sqrt[c as usize]) as f32)
        .collect();
    let nnz = values.len();
    Ok(sparse_csr_tensor(
        &Tensor::from_vec(crow, &[num_nodes + 1])?,
        &Tensor::from_vec(col, &[nnz])?,
        Tensor::from_vec(values, &[nnz])?,
        &[num_nodes, num_nodes],
    )?)
}
