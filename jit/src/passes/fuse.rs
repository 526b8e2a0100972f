//! Elementwise fusion: a connected group of f32 elementwise nodes (see
//! [`fusible`]) whose inner values nothing outside the group reads
//! becomes one `torchlet::fused_elementwise` node, evaluated in one pass
//! over memory ([`crate::fused`]).
//!
//! Groups grow from their last node (the root) back through producers
//! whose every reader is already in the group, so no inner value is
//! needed anywhere else and the fused node replaces the root in place.
//! A producer joins only when its output has the root's shape: the fused
//! kernel evaluates every step at the output's shape, so a broadcast
//! operand's op (a `[N, C, 1, 1]` gate's sigmoid) stays its own node
//! instead of being recomputed for every output element.

use std::collections::HashMap;

use crate::fused::{fusible, FusedExpr, Operand, Step, MAX_STEPS};
use crate::graph::{ElemType, Op, ValueId};
use crate::passes::Editable;
use crate::Result;

/// Fuses every group of two or more fusible nodes.
pub(crate) fn fuse(g: &mut Editable) -> Result<()> {
    let nodes = &g.graph.nodes;
    let f32_value = |v: ValueId| g.graph.types[v].dtype == ElemType::F32;
    let candidate: Vec<bool> = nodes
        .iter()
        .map(|n| match &n.op {
            Op::Aten(op) => {
                fusible(op) == Some(n.inputs.len())
                    && n.outputs.len() == 1
                    && f32_value(n.outputs[0])
                    && n.inputs.iter().all(|v| v.is_some_and(f32_value))
            }
            _ => false,
        })
        .collect();
    let producer = g.producers();
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); g.graph.num_values];
    for (i, n) in nodes.iter().enumerate() {
        for &v in n.inputs.iter().flatten() {
            readers[v].push(i);
        }
    }
    for &v in &g.graph.outputs {
        readers[v].push(usize::MAX); // read by the caller: never inner
    }

    let mut taken = vec![false; nodes.len()];
    let mut rewrites: Vec<(usize, FusedExpr, Vec<ValueId>)> = Vec::new();
    let mut removed = vec![false; nodes.len()];
    for root in (0..nodes.len()).rev() {
        if !candidate[root] || taken[root] {
            continue;
        }
        let shape = &g.graph.types[nodes[root].outputs[0]].shape;
        let mut group = vec![root];
        let mut member = vec![false; nodes.len()];
        member[root] = true;
        // Worklist: members whose inputs are still to be looked at; a
        // producer whose readers are not all members yet may join later,
        // when its last reader does.
        let mut work = vec![root];
        let mut waiting: Vec<usize> = Vec::new();
        while let Some(m) = work.pop() {
            for &v in nodes[m].inputs.iter().flatten() {
                let Some(&p) = producer.get(&v) else { continue };
                if candidate[p] && !taken[p] && !member[p] && &g.graph.types[v].shape == shape {
                    waiting.push(p);
                }
            }
            waiting.retain(|&p| {
                let v = nodes[p].outputs[0];
                let ready = !member[p]
                    && group.len() < MAX_STEPS
                    && readers[v].iter().all(|&r| r != usize::MAX && member[r]);
                if ready {
                    member[p] = true;
                    group.push(p);
                    work.push(p);
                }
                !ready && !member[p]
            });
        }
        for &m in &group {
            taken[m] = true;
        }
        if group.len() < 2 {
            continue;
        }
        group.sort_unstable();
        let made: HashMap<ValueId, usize> = group
            .iter()
            .enumerate()
            .map(|(k, &m)| (nodes[m].outputs[0], k))
            .collect();
        let mut externals: Vec<ValueId> = Vec::new();
        let steps: Vec<Step> = group
            .iter()
            .map(|&m| {
                let Op::Aten(op) = &nodes[m].op else {
                    unreachable!("candidates are aten ops")
                };
                let args = nodes[m]
                    .inputs
                    .iter()
                    .flatten()
                    .map(|&v| match made.get(&v) {
                        Some(&k) => Operand::Step(k),
                        None => {
                            let i = externals.iter().position(|&e| e == v).unwrap_or_else(|| {
                                externals.push(v);
                                externals.len() - 1
                            });
                            Operand::Input(i)
                        }
                    })
                    .collect();
                Step {
                    op: op.clone(),
                    args,
                }
            })
            .collect();
        for &m in &group[..group.len() - 1] {
            removed[m] = true;
        }
        rewrites.push((root, FusedExpr { steps }, externals));
    }
    for (root, expr, externals) in rewrites {
        let n = &mut g.graph.nodes[root];
        n.op = Op::Fused(expr);
        n.inputs = externals.into_iter().map(Some).collect();
    }
    let mut flags = removed.into_iter();
    g.graph.nodes.retain(|_| !flags.next().unwrap_or(false));
    Ok(())
}
