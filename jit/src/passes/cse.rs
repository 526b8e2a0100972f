//! Common-subexpression elimination: a node that applies the same op to
//! the same values as an earlier node is dropped and its readers read the
//! earlier node's outputs (a layer's input normalised twice, the same
//! `x.sigmoid()` written in two places). Every op the jit runs is a pure
//! function of its inputs, so this changes no bit.

use std::collections::HashMap;

use crate::graph::{Node, ValueId};
use crate::passes::Editable;

/// Drops every node that repeats an earlier one; returns how many.
pub(crate) fn eliminate(g: &mut Editable) -> usize {
    let graph = &mut g.graph;
    let mut same_as: Vec<ValueId> = (0..graph.num_values).collect();
    // The op's debug text (attributes included) and its inputs: ops hold
    // floats, so they are not `Hash`, but equal ops print alike.
    let mut seen: HashMap<(String, Vec<Option<ValueId>>), Vec<ValueId>> = HashMap::new();
    let mut kept: Vec<Node> = Vec::with_capacity(graph.nodes.len());
    let mut dropped = 0;
    for mut node in graph.nodes.drain(..) {
        for v in node.inputs.iter_mut().flatten() {
            *v = same_as[*v];
        }
        let key = (format!("{:?}", node.op), node.inputs.clone());
        match seen.get(&key) {
            Some(earlier) if earlier.len() == node.outputs.len() => {
                for (&v, &e) in node.outputs.iter().zip(earlier) {
                    same_as[v] = e;
                }
                dropped += 1;
            }
            _ => {
                seen.insert(key, node.outputs.clone());
                kept.push(node);
            }
        }
    }
    graph.nodes = kept;
    for v in &mut graph.outputs {
        *v = same_as[*v];
    }
    dropped
}
