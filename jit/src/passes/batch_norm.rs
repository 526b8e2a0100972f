//! BatchNorm folding: an eval-mode `batch_norm` whose input is a Conv's
//! (or a 2-d Linear's) output that nothing else reads becomes part of
//! that layer: `w' = w · γ / sqrt(var + eps)`, `b' = (b - mean) · γ /
//! sqrt(var + eps) + β` (torchlet-nn's `fuse_conv_bn_weights`), one op
//! and one pass over memory instead of two.

use torchlet_autograd::trace::AtenOp;
use torchlet_nn::{fuse_conv_bn_weights, BatchNormParams};

use crate::graph::Op;
use crate::passes::Editable;
use crate::{JitError, Result};

/// Folds every foldable BatchNorm.
pub(crate) fn fold(g: &mut Editable) -> Result<()> {
    let mut j = 0;
    while j < g.graph.nodes.len() {
        match fold_one(g, j)? {
            true => {} // node j was removed; the next one moved into it
            false => j += 1,
        }
    }
    Ok(())
}

/// Folds the BatchNorm at node `j` into its producer, if it can.
fn fold_one(g: &mut Editable, j: usize) -> Result<bool> {
    let bn = &g.graph.nodes[j];
    let Op::Aten(AtenOp::BatchNorm {
        training: false,
        eps,
    }) = bn.op
    else {
        return Ok(false);
    };
    let Some(x) = bn.inputs.first().copied().flatten() else {
        return Ok(false);
    };
    let Some(p) = g.graph.nodes[..j].iter().position(|n| n.outputs == [x]) else {
        return Ok(false);
    };
    let producer = &g.graph.nodes[p];
    let layer_ok = match &producer.op {
        Op::Aten(AtenOp::Conv { .. }) => true,
        Op::Aten(AtenOp::Linear) => g.graph.types[x].shape.len() == 2,
        _ => false,
    };
    let (w, b) = (
        producer.inputs.get(1).copied().flatten(),
        producer.inputs.get(2).copied().flatten(),
    );
    if !layer_ok
        || g.readers()[x] != 1
        || g.constant(w).is_none()
        || (b.is_some() && g.constant(b).is_none())
    {
        return Ok(false);
    }
    let arg = |i: usize| bn.inputs.get(i).copied().flatten();
    let (Some(mean), Some(var)) = (g.constant(arg(1)), g.constant(arg(2))) else {
        return Ok(false);
    };
    let (gamma, beta) = (arg(3), arg(4));
    if (gamma.is_some() && g.constant(gamma).is_none())
        || (beta.is_some() && g.constant(beta).is_none())
    {
        return Ok(false);
    }
    let params = BatchNormParams {
        running_mean: mean,
        running_var: var,
        eps,
        weight: g.constant(gamma),
        bias: g.constant(beta),
    };
    let weight = g.constant(w).expect("checked");
    let (fw, fb) =
        fuse_conv_bn_weights(weight, g.constant(b), &params).map_err(|e| JitError::Op {
            op: "aten::batch_norm".into(),
            node: j,
            source: torchlet_autograd::AutogradError::Graph {
                op: "fold batch_norm",
                message: e.to_string(),
            },
        })?;
    let name = |suffix: &str| {
        let w_name = &g.consts[&w.expect("checked")].0;
        format!("{}_bn_folded.{suffix}", w_name.trim_end_matches(".weight"))
    };
    let (wn, bn_name) = (name("weight"), name("bias"));
    let out = g.graph.nodes[j].outputs[0];
    let fw = g.add_const(wn, fw);
    let fb = g.add_const(bn_name, fb);
    let producer = &mut g.graph.nodes[p];
    producer.inputs.resize(3, None);
    producer.inputs[1] = Some(fw);
    producer.inputs[2] = Some(fb);
    producer.outputs = vec![out];
    g.graph.nodes.remove(j);
    Ok(true)
}
