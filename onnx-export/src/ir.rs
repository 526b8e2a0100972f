//! The exporter's graph: torchlet-autograd's shared IR
//! ([`torchlet_autograd::ir`]) holding ONNX operators, plus the constant
//! helpers the lowerings use. `proto_out` turns it into an ONNX
//! `ModelProto`; tests can inspect it directly.

pub use torchlet_autograd::ir::{Attr, Dim, Graph, Node, ValueInfo};
use torchlet_tensor::{DType, Tensor};

/// Constants as initializers named `onnx::Constant_N`, as
/// `torch.onnx.export` names them.
pub(crate) trait OnnxConstants {
    /// A fresh constant initializer.
    fn constant(&mut self, value: Tensor) -> String;

    /// A 1-d int64 constant (shapes, axes, starts/ends).
    fn ints(&mut self, values: &[i64]) -> String {
        let t = Tensor::from_vec(values.to_vec(), &[values.len()]).expect("1-d shape");
        self.constant(t)
    }

    /// A 0-d constant of `dtype`.
    fn scalar(&mut self, value: f64, dtype: DType) -> String {
        self.constant(Tensor::full_dtype(&[], value, dtype))
    }
}

impl OnnxConstants for Graph {
    fn constant(&mut self, value: Tensor) -> String {
        self.constant_with_prefix("onnx::Constant", value)
    }
}
