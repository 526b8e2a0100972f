//! Constant folding: a node whose inputs are all constants runs once at
//! compile time and its outputs become constants, as `torch.jit.freeze`
//! folds what only parameters feed. Only nodes whose outputs are no
//! larger than their inputs fold (a weight's transpose or reshape, not
//! a broadcast that would bloat the file).

use crate::passes::Editable;
use crate::{ops, JitError, Result};

/// Folds every all-constant node, in order (so chains fold whole).
pub(crate) fn fold(g: &mut Editable) -> Result<()> {
    let Editable { graph, consts } = g;
    let mut folded = vec![false; graph.nodes.len()];
    for (i, node) in graph.nodes.iter().enumerate() {
        let args: Option<Vec<_>> = node
            .inputs
            .iter()
            .map(|v| match v {
                None => Some(None),
                Some(v) => consts.get(v).map(|(_, t)| Some(t.clone())),
            })
            .collect();
        let Some(args) = args.filter(|a| a.iter().any(Option::is_some)) else {
            continue;
        };
        let in_elems: usize = args.iter().flatten().map(|t| t.numel()).sum();
        let out_elems = node.outputs.iter().try_fold(0usize, |sum, &v| {
            let n = graph.types[v]
                .shape
                .iter()
                .try_fold(1usize, |p, &d| p.checked_mul(d))?;
            sum.checked_add(n)
        });
        if out_elems.is_none_or(|n| n > in_elems) {
            continue;
        }
        let outs = ops::run(&node.op, &args).map_err(|source| JitError::Op {
            op: node.op.name().to_string(),
            node: i,
            source,
        })?;
        for (&v, t) in node.outputs.iter().zip(outs) {
            consts.insert(v, (format!("folded_{v}"), t));
        }
        folded[i] = true;
    }
    let mut flags = folded.into_iter();
    graph.nodes.retain(|_| !flags.next().unwrap_or(false));
    Ok(())
}
