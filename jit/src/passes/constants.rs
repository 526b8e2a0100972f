//! Constant folding: a node whose inputs are all constants runs once at
//! compile time and its outputs become constants, as `torch.jit.freeze`
//! folds what only parameters feed. Only nodes whose outputs are no
//! larger than their inputs fold (a weight's transpose or reshape, not
//! a broadcast that would bloat the file).

use crate::passes::Editable;
use crate::{ops, JitError, Result};

/// Folds every all-constant node, in order (so chains fold whole).
pub(crate) fn fold(g: &mut Editable) -> Result<()> {
    let mut i = 0;
    while i < g.graph.nodes.len() {
        let node = &g.graph.nodes[i];
        let args: Option<Vec<_>> = node
            .inputs
            .iter()
            .map(|v| match v {
                None => Some(None),
                Some(v) => g.consts.get(v).map(|(_, t)| Some(t.clone())),
            })
            .collect();
        let Some(args) = args.filter(|a| a.iter().any(Option::is_some)) else {
            i += 1;
            continue;
        };
        let in_elems: usize = args.iter().flatten().map(|t| t.numel()).sum();
        let out_elems: usize = node
            .outputs
            .iter()
            .map(|&v| g.graph.types[v].shape.iter().product::<usize>())
            .sum();
        if out_elems > in_elems {
            i += 1;
            continue;
        }
        let outs = ops::run(&node.op, &args).map_err(|source| JitError::Op {
            op: node.op.name().to_string(),
            node: i,
            source,
        })?;
        let node = g.graph.nodes.remove(i);
        for (v, t) in node.outputs.into_iter().zip(outs) {
            g.consts.insert(v, (format!("folded_{v}"), t));
        }
    }
    Ok(())
}
