//! Recurrent layers as ONNX's RNN / LSTM / GRU ops.

use torchlet_autograd::trace::TracedOp;

use crate::error::Result;
use crate::export::Lowering;
use crate::lower::unsupported;

/// Lowers an [`OpKind::Rnn`](torchlet_autograd::trace::OpKind::Rnn).
pub(crate) fn lower(cx: &mut Lowering, op: &TracedOp) -> Result<Vec<String>> {
    Err(unsupported(cx, op, "recurrent layers are not exported yet"))
}
