//! # torchlet-quantize
//!
//! PyTorch's quantization (`torch.ao.quantization`) for torchlet, with
//! PyTorch's numerics exactly:
//!
//! - quantized tensors ([`QTensor`]: quint8 / qint8 / qint32, per tensor or
//!   per channel) and observers that pick scales and zero points
//!   ([`MinMaxObserver`], [`MovingAverageMinMaxObserver`],
//!   [`PerChannelMinMaxObserver`], [`HistogramObserver`]);
//! - fake quantization with the straight-through estimator
//!   ([`FakeQuantize`]) for quantization-aware training;
//! - the workflow on a captured graph ([`capture`]): [`fuse_modules`],
//!   [`QuantStub`]/[`DeQuantStub`], [`get_default_qconfig`], [`prepare`] →
//!   calibrate → [`convert`], [`prepare_qat`], [`quantize_dynamic`];
//! - int8 kernels and the [`QuantizedModel`] they run, saved as int8
//!   safetensors ([`load_quantized`]).
//!
//! Rounding is PyTorch's x86 engine's: `zero_point + round_half_even(x *
//! (1 / scale))` in float32, then clamped to the dtype's range.
//!
//! ```
//! use torchlet_quantize::{quantize_per_tensor, MinMaxObserver, Observer, ObserverOptions, QDtype};
//! use torchlet_tensor::Tensor;
//! # fn main() -> Result<(), torchlet_quantize::QuantError> {
//! let x = Tensor::from_vec(vec![-1.0f32, 0.0, 0.5, 2.0], &[4])?;
//! let mut obs = MinMaxObserver::new(ObserverOptions::default())?; // quint8, affine
//! obs.observe(&x)?;
//! let (scale, zero_point) = obs.calculate_qparams()?;
//! let (s, z) = (scale.to_vec::<f32>()?[0] as f64, zero_point.to_vec::<i64>()?[0]);
//! assert_eq!(z, 85); // -1.0 maps to 0, 2.0 to 255
//! let q = quantize_per_tensor(&x, s, z, QDtype::QUInt8)?;
//! assert_eq!(q.int_repr().to_vec::<i64>()?, [0, 85, 127, 255]); // as PyTorch gives
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod batch;
mod convert;
mod dynamic;
mod error;
mod fake_quant;
mod graph;
mod histogram;
pub mod kernels;
mod observer;
mod prepare;
mod qconfig;
mod qfunctional;
mod qops;
mod qtensor;
mod state;
mod stubs;

pub use convert::{convert, QNode, QOp, QWeighted, QuantizedModel};
pub use dynamic::{
    choose_qparams_dynamic, quantize_dynamic, DynamicKind, DynamicLinear, DynamicLstm,
};
pub use error::{QuantError, Result};
pub use fake_quant::{
    fake_quantize_per_channel_affine, fake_quantize_per_tensor_affine, FakeQuantize,
};
pub use graph::{capture, GraphModule, LstmOp, Node, Op, ValueId, CAPTURED_OPS};
pub use histogram::HistogramObserver;
pub use observer::{
    calculate_qparams, MinMaxObserver, MovingAverageMinMaxObserver, Observer, ObserverOptions,
    PerChannelMinMaxObserver, QScheme,
};
pub use prepare::{fuse_modules, prepare, prepare_qat, PreparedModel};
pub use qconfig::{
    default_dynamic_weight_observer, get_default_qat_qconfig, get_default_qconfig, ObserverKind,
    QConfig,
};
pub use qfunctional::{
    quantized_adaptive_avg_pool2d, quantized_add, quantized_cat, quantized_max_pool2d,
    quantized_relu,
};
pub use qops::{quantized_conv2d, quantized_linear, PackedParams};
pub use qtensor::{
    quantize_per_channel, quantize_per_tensor, quantize_value, QDtype, QParams, QTensor,
};
pub use state::{load_quantized, load_quantized_bytes, load_quantized_dynamic, QUANTIZED_FORMAT};
pub use stubs::{DeQuantStub, QuantStub, StubRecord, STUB_OPS};
/// BatchNorm folding lives in torchlet-nn (`torch.nn.utils.fusion`).
pub use torchlet_nn::{fuse_conv_bn_weights, fuse_linear_bn_weights, BatchNormParams};
