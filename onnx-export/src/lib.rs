//! # torchlet-onnx
//!
//! Exports a torchlet [`Module`] to ONNX by tracing one forward pass on an
//! example input, like `torch.onnx.export`: the traced ops
//! ([`torchlet_autograd::trace`]) are lowered into a small graph IR
//! ([`ir::Graph`]) and written as an ONNX `ModelProto` (protobuf through
//! `prost`, messages generated from `onnx.proto` and committed).
//!
//! - opset 17 by default, 13 to 21 selectable ([`ExportOptions::opset`]);
//! - parameters and buffers are initializers under their PyTorch names
//!   (`fc1.weight`, `1.running_var`);
//! - named input and output (`input`, `output`), dynamic batch axis (and
//!   any other axis you name, e.g. the sequence axis of a text model);
//! - the module runs in eval mode (Dropout disappears, BatchNorm uses its
//!   running statistics), its training flag is restored afterwards;
//! - an op with no ONNX mapping fails the export with
//!   [`OnnxError::Unsupported`] naming it;
//! - a `torchlet_quantize::QuantizedModel` (static or dynamic) exports as
//!   a QDQ graph ([`export_quantized`]).
//!
//! ```
//! use torchlet_autograd::Variable;
//! use torchlet_nn::{Linear, Module, ReLU, Sequential};
//! use torchlet_onnx::{export, ExportOptions};
//! use torchlet_tensor::Tensor;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model = Sequential::new().append(Linear::new(4, 8)?).append(ReLU).append(Linear::new(8, 2)?);
//! let x = Variable::constant(Tensor::rand(&[3, 4]));
//! let onnx = export(&model, &x, &ExportOptions::default())?;
//! let graph = onnx.graph.as_ref().unwrap();
//! let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type()).collect();
//! assert_eq!(ops, ["Gemm", "Relu", "Gemm"]);
//! assert_eq!(graph.initializer[0].name(), "0.weight");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod error;
mod export;
pub mod ir;
mod lower;
mod lower_nn;
mod lower_text;
pub mod proto;
mod proto_out;
mod quantized;
mod registry;
mod rnn;

use std::path::Path;

use torchlet_autograd::Variable;
use torchlet_nn::Module;

pub use error::{OnnxError, Result};
pub use proto::ModelProto;
pub use proto_out::{read_model, save_model};
pub use quantized::{export_quantized, export_quantized_to_file, QuantizedExportOptions};

/// The default opset.
pub const DEFAULT_OPSET: i64 = 17;
/// The lowest opset the exporter writes.
pub const MIN_OPSET: i64 = 13;
/// The highest opset the exporter writes.
pub const MAX_OPSET: i64 = 21;

/// How to export (`torch.onnx.export`'s arguments).
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// ONNX opset, [`MIN_OPSET`]..=[`MAX_OPSET`] (default 17).
    pub opset: i64,
    /// Name of the graph input (default `input`).
    pub input_name: String,
    /// Name of the graph output (default `output`).
    pub output_name: String,
    /// Dynamic axes of the input: `(axis, symbol)` (default `[(0, "batch")]`).
    pub input_dynamic_axes: Vec<(usize, String)>,
    /// Dynamic axes of the output (default `[(0, "batch")]`).
    pub output_dynamic_axes: Vec<(usize, String)>,
    /// The graph's name.
    pub graph_name: String,
    /// `ModelProto.doc_string`.
    pub doc_string: String,
    /// `ModelProto.producer_name` (default `torchlet`).
    pub producer_name: String,
    /// `ModelProto.producer_version` (default this crate's version).
    pub producer_version: String,
    /// Extra `metadata_props` (key, value).
    pub metadata: Vec<(String, String)>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            opset: DEFAULT_OPSET,
            input_name: "input".into(),
            output_name: "output".into(),
            input_dynamic_axes: vec![(0, "batch".into())],
            output_dynamic_axes: vec![(0, "batch".into())],
            graph_name: "torchlet_graph".into(),
            doc_string: "exported by torchlet-onnx".into(),
            producer_name: "torchlet".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            metadata: Vec::new(),
        }
    }
}

impl ExportOptions {
    /// The defaults with another opset.
    pub fn with_opset(opset: i64) -> Self {
        ExportOptions {
            opset,
            ..Default::default()
        }
    }

    /// Also marks input axis 1 as `sequence` (text models with `[N, T]`
    /// token inputs); add output axes to `output_dynamic_axes` when the
    /// output has one too.
    pub fn with_sequence_axis(mut self) -> Self {
        self.input_dynamic_axes.push((1, "sequence".into()));
        self
    }

    fn check(&self) -> Result<()> {
        if !(MIN_OPSET..=MAX_OPSET).contains(&self.opset) {
            return Err(OnnxError::Options(format!(
                "opset {} is outside the supported range {MIN_OPSET}..={MAX_OPSET}",
                self.opset
            )));
        }
        if self.input_name.is_empty() || self.output_name.is_empty() {
            return Err(OnnxError::Options(
                "input and output names must not be empty".into(),
            ));
        }
        Ok(())
    }
}

/// The traced op names this exporter writes (autograd's `aten::` ops and
/// nn's recurrent layers, bags and lengths), sorted. Any other op fails
/// the export with [`OnnxError::Unsupported`] naming it.
///
/// ```
/// let ops = torchlet_onnx::supported_ops();
/// assert!(ops.contains(&"aten::linear") && ops.contains(&"aten::lstm"));
/// ```
pub fn supported_ops() -> Vec<&'static str> {
    registry::table().names()
}

/// Traces `module` on `example` (in eval mode) and returns the graph IR.
pub fn trace_graph(
    module: &dyn Module,
    example: &Variable,
    options: &ExportOptions,
) -> Result<ir::Graph> {
    options.check()?;
    export::build_graph(module, example, options)
}

/// Traces `module` on `example` and returns the ONNX model.
pub fn export(
    module: &dyn Module,
    example: &Variable,
    options: &ExportOptions,
) -> Result<ModelProto> {
    let graph = trace_graph(module, example, options)?;
    to_model(&graph, options)
}

/// A graph IR as an ONNX model with the options' metadata.
pub fn to_model(graph: &ir::Graph, options: &ExportOptions) -> Result<ModelProto> {
    proto_out::model_proto(
        graph,
        &proto_out::ModelMeta {
            opset: options.opset,
            producer_name: &options.producer_name,
            producer_version: &options.producer_version,
            doc_string: &options.doc_string,
            graph_name: &options.graph_name,
            metadata: &options.metadata,
        },
    )
}

/// Traces `module` on `example` and writes the ONNX file to `path`
/// (through a temporary file, renamed).
pub fn export_to_file(
    module: &dyn Module,
    example: &Variable,
    path: impl AsRef<Path>,
    options: &ExportOptions,
) -> Result<()> {
    let model = export(module, example, options)?;
    save_model(&model, path)
}
