//! The exporter's op table: for each traced op name, the function that
//! writes it as ONNX nodes. One table, built once; an op whose name is not
//! in it is refused by name ([`OnnxError::Unsupported`]).
//!
//! Every lowering lives beside its family: autograd's elementwise, shape
//! and reduction ops in [`crate::lower`], its layer ops in
//! [`crate::lower_nn`], nn's recurrent layers in [`crate::rnn`] and nn's
//! bag and lengths ops in [`crate::lower_text`], torchlet-quantize's stubs
//! (identities in a float model) here. The tests below check
//! that every op autograd and nn can trace has an entry.

use std::sync::OnceLock;

use torchlet_autograd::trace::{OpTable, TracedOp, ATEN_OPS};

use crate::error::Result;
use crate::export::Lowering;
use crate::lower::unsupported;
use crate::{lower, lower_nn, lower_text, rnn};

/// Writes one traced op as ONNX nodes; returns its outputs' names.
pub(crate) type LowerFn = fn(&mut Lowering, &TracedOp) -> Result<Vec<String>>;

/// The table, built on first use.
pub(crate) fn table() -> &'static OpTable<LowerFn> {
    static TABLE: OnceLock<OpTable<LowerFn>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: OpTable<LowerFn> = OpTable::new("torchlet-onnx");
        for &name in ATEN_OPS {
            if lower_nn::LAYER_OPS.contains(&name) {
                t.register(name, lower_nn::lower);
            } else {
                t.register(name, lower::lower);
            }
        }
        t.register_all(rnn::RNN_OPS, rnn::lower);
        t.register("aten::embedding_bag", lower_text::embedding_bag);
        t.register("torchlet::lengths_from_padding", lower_text::padded_lengths);
        // A float model's QuantStub/DeQuantStub are identities.
        t.register_all(&torchlet_quantize::STUB_OPS, stub);
        t
    })
}

/// `QuantStub`/`DeQuantStub` in a float model: `Identity`.
fn stub(cx: &mut Lowering, op: &TracedOp) -> Result<Vec<String>> {
    let x = cx.arg(&op.inputs[0])?;
    Ok(vec![cx.g.op("Identity", vec![x], vec![])])
}

/// Lowers `op` through its table entry.
pub(crate) fn lower(cx: &mut Lowering, op: &TracedOp) -> Result<Vec<String>> {
    match table().get(op.name()) {
        Some(f) => f(cx, op),
        None => Err(unsupported(cx, op, "no ONNX mapping")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_traceable_op_has_an_entry() {
        let t = table();
        let missing: Vec<&str> = t
            .missing(ATEN_OPS)
            .into_iter()
            .chain(t.missing(torchlet_nn::TRACED_OPS))
            .chain(t.missing(&torchlet_quantize::STUB_OPS))
            .collect();
        assert!(
            missing.is_empty(),
            "ops without an ONNX lowering: {missing:?}"
        );
    }

    #[test]
    fn every_entry_is_an_op_that_can_be_traced() {
        for name in table().names() {
            assert!(
                ATEN_OPS.contains(&name)
                    || torchlet_nn::TRACED_OPS.contains(&name)
                    || torchlet_quantize::STUB_OPS.contains(&name),
                "{name} has a lowering but no crate traces it"
            );
        }
    }

    #[test]
    fn layer_names_are_autograd_ops() {
        for name in lower_nn::LAYER_OPS.iter().chain(rnn::RNN_OPS) {
            assert!(ATEN_OPS.contains(name) || torchlet_nn::TRACED_OPS.contains(name));
        }
    }
}
