//! Epilogue fusion: a Linear or 2-d convolution (f32) whose output only
//! one elementwise node reads, at that node's output shape, joins it:
//! the node's program runs on the GEMM's or convolution's output in
//! place (bias + activation, + residual add; see [`crate::epilogue`]).
//! Runs after [`super::fuse`], so the program is the whole fused group.
//! Then [`pool`] lets a convolution epilogue absorb the max pooling that
//! alone reads its output.

use crate::epilogue::{EpilogueOp, PoolWindow};
use crate::fused::{fusible, FusedExpr, Operand, Step};
use crate::graph::{ElemType, Node, Op, ValueId};
use crate::passes::Editable;
use torchlet_autograd::trace::AtenOp;

/// The elementwise program a node runs, when it is one.
fn program(node: &Node) -> Option<FusedExpr> {
    match &node.op {
        Op::Fused(e) => Some(e.clone()),
        Op::Aten(op) if fusible(op) == Some(node.inputs.len()) => Some(FusedExpr {
            steps: vec![Step {
                op: op.clone(),
                args: (0..node.inputs.len()).map(Operand::Input).collect(),
            }],
        }),
        _ => None,
    }
}

/// Whether `node` is a Linear or 2-d convolution that can take an
/// epilogue.
fn base(g: &Editable, node: &Node) -> bool {
    let f32_value = |v: &Option<ValueId>| v.is_none_or(|v| g.graph.types[v].dtype == ElemType::F32);
    let weight_rank = node
        .inputs
        .get(1)
        .copied()
        .flatten()
        .map(|w| g.graph.types[w].shape.len());
    let kind = match &node.op {
        Op::Aten(AtenOp::Linear) => weight_rank == Some(2),
        Op::Aten(AtenOp::Conv { .. }) => weight_rank == Some(4),
        _ => false,
    };
    kind && node.inputs.len() == 3
        && node.outputs.len() == 1
        && node.inputs.iter().all(f32_value)
        && f32_value(&Some(node.outputs[0]))
}

/// Fuses every Linear or convolution into its only reader's program;
/// returns how many.
pub(crate) fn fuse(g: &mut Editable) -> usize {
    let readers = g.readers();
    let producer = g.producers();
    let mut removed = vec![false; g.graph.nodes.len()];
    let mut fused = 0;
    for i in 0..g.graph.nodes.len() {
        let node = &g.graph.nodes[i];
        let Some(expr) = program(node) else { continue };
        let out_shape = &g.graph.types[node.outputs[0]].shape;
        // The first input made by a base op that only this node reads.
        let found = node.inputs.iter().flatten().find_map(|&v| {
            let &p = producer.get(&v)?;
            let reads = node.inputs.iter().filter(|&&u| u == Some(v)).count();
            let ok = !removed[p]
                && base(g, &g.graph.nodes[p])
                && readers[v] == reads
                && &g.graph.types[v].shape == out_shape;
            ok.then_some((v, p))
        });
        let Some((v, p)) = found else { continue };
        // Program inputs: the base's output becomes x0, the others follow
        // in order.
        let mut others: Vec<Option<ValueId>> = Vec::new();
        let index: Vec<usize> = node
            .inputs
            .iter()
            .map(|&u| {
                if u == Some(v) {
                    0
                } else {
                    others.push(u);
                    others.len()
                }
            })
            .collect();
        let steps = expr
            .steps
            .into_iter()
            .map(|s| Step {
                op: s.op,
                args: s
                    .args
                    .into_iter()
                    .map(|a| match a {
                        Operand::Input(j) => Operand::Input(index[j]),
                        step => step,
                    })
                    .collect(),
            })
            .collect();
        let base_node = &g.graph.nodes[p];
        let Op::Aten(base_op) = &base_node.op else {
            unreachable!("checked by base()")
        };
        let mut inputs = base_node.inputs.clone();
        inputs.extend(others);
        let outputs = g.graph.nodes[i].outputs.clone();
        g.graph.nodes[i] = Node {
            op: Op::Epilogue(EpilogueOp {
                base: base_op.clone(),
                expr: FusedExpr { steps },
                pool: None,
            }),
            inputs,
            outputs,
        };
        removed[p] = true;
        fused += 1;
    }
    let mut flags = removed.into_iter();
    g.graph.nodes.retain(|_| !flags.next().unwrap_or(false));
    fused
}

/// Joins every 2-d max pooling whose input only it reads, made by a
/// convolution epilogue, to that epilogue; returns how many.
pub(crate) fn pool(g: &mut Editable) -> usize {
    let readers = g.readers();
    let producer = g.producers();
    // (pooling node, its convolution epilogue, the window)
    let joins: Vec<(usize, usize, PoolWindow)> = g
        .graph
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, node)| {
            let Op::Aten(AtenOp::MaxPool2d {
                kernel,
                stride,
                padding,
            }) = &node.op
            else {
                return None;
            };
            let v = node.inputs.first().copied().flatten()?;
            let &p = producer.get(&v)?;
            let fits = matches!(
                &g.graph.nodes[p].op,
                Op::Epilogue(e) if e.pool.is_none() && matches!(e.base, AtenOp::Conv { .. })
            ) && readers[v] == 1
                && g.graph.types[v].shape.len() == 4;
            let window = PoolWindow {
                kernel: *kernel,
                stride: *stride,
                padding: *padding,
            };
            fits.then_some((i, p, window))
        })
        .collect();
    let mut removed = vec![false; g.graph.nodes.len()];
    for &(i, p, window) in &joins {
        let outputs = g.graph.nodes[i].outputs.clone();
        let base = &mut g.graph.nodes[p];
        if let Op::Epilogue(e) = &mut base.op {
            e.pool = Some(window);
        }
        base.outputs = outputs;
        removed[i] = true;
    }
    let mut flags = removed.into_iter();
    g.graph.nodes.retain(|_| !flags.next().unwrap_or(false));
    joins.len()
}
