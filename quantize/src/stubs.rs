//! `QuantStub` and `DeQuantStub`: where a model's quantized region begins
//! and ends.

use torchlet_autograd::ir::Attr;
use torchlet_autograd::trace::{traced, OpRecord, TraceArg};
use torchlet_autograd::Variable;
use torchlet_nn::{Module, Result};

/// The trace record of a stub (`torchlet::quant_stub`,
/// `torchlet::dequant_stub`; input `[x]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StubRecord {
    /// [`QuantStub`].
    Quant,
    /// [`DeQuantStub`].
    DeQuant,
}

/// The names of the stub records.
pub const STUB_OPS: [&str; 2] = ["torchlet::quant_stub", "torchlet::dequant_stub"];

impl OpRecord for StubRecord {
    fn name(&self) -> &'static str {
        match self {
            StubRecord::Quant => STUB_OPS[0],
            StubRecord::DeQuant => STUB_OPS[1],
        }
    }

    fn attrs(&self) -> Vec<(&'static str, Attr)> {
        Vec::new()
    }
}

fn stub(record: StubRecord, x: &Variable) -> Result<Variable> {
    Ok(traced(
        || (record, vec![TraceArg::var(x)]),
        || x.contiguous(),
    ))
}

/// `torch.ao.quantization.QuantStub`: the identity in a float model;
/// after [`convert`](crate::convert) its output is quantized (with the
/// scale and zero point its observer chose).
///
/// A model without stubs is quantized from its input to its output. With
/// stubs, only the ops after a `QuantStub` and before a `DeQuantStub` are
/// quantized; the rest stays float.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::Module;
/// use torchlet_quantize::QuantStub;
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), torchlet_nn::NnError> {
/// let x = Variable::constant(Tensor::ones(&[2]));
/// assert_eq!(QuantStub.forward(&x)?.to_vec::<f32>()?, [1.0, 1.0]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct QuantStub;

impl Module for QuantStub {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        stub(StubRecord::Quant, x)
    }
}

/// `torch.ao.quantization.DeQuantStub`: the identity in a float model;
/// after [`convert`](crate::convert) it dequantizes its input.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeQuantStub;

impl Module for DeQuantStub {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        stub(StubRecord::DeQuant, x)
    }
}
