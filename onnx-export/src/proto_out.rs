//! The IR ([`Graph`]) as an ONNX `ModelProto`, and writing it to a file.

use std::path::Path;

use prost::Message;
use torchlet_tensor::{DType, Tensor};

use crate::error::{OnnxError, Result};
use crate::ir::{Attr, Dim, Graph, ValueInfo};
use crate::proto::attribute_proto::AttributeType;
use crate::proto::tensor_proto::DataType;
use crate::proto::tensor_shape_proto::{dimension, Dimension};
use crate::proto::{
    type_proto, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

/// Model-level metadata written into the `ModelProto`.
pub(crate) struct ModelMeta<'a> {
    pub opset: i64,
    pub producer_name: &'a str,
    pub producer_version: &'a str,
    pub doc_string: &'a str,
    pub graph_name: &'a str,
    pub metadata: &'a [(String, String)],
}

/// The IR version that goes with an opset (onnx/helper.py's table).
pub(crate) fn ir_version(opset: i64) -> i64 {
    match opset {
        ..=14 => 7,
        15..=18 => 8,
        19..=20 => 9,
        _ => 10,
    }
}

pub(crate) fn data_type(dtype: DType) -> DataType {
    match dtype {
        DType::F32 => DataType::Float,
        DType::F64 => DataType::Double,
        DType::I64 => DataType::Int64,
        DType::Bool => DataType::Bool,
    }
}

/// A tensor as a `TensorProto` (little-endian `raw_data`).
pub(crate) fn tensor_proto(name: &str, t: &Tensor) -> Result<TensorProto> {
    let raw = torchlet_tensor::io::le_bytes(t)?;
    Ok(TensorProto {
        dims: t.shape().iter().map(|&d| d as i64).collect(),
        data_type: Some(data_type(t.dtype()) as i32),
        name: Some(name.to_string()),
        raw_data: Some(raw),
        ..Default::default()
    })
}

fn attribute(name: &str, value: &Attr) -> Result<AttributeProto> {
    let mut a = AttributeProto {
        name: Some(name.to_string()),
        ..Default::default()
    };
    let kind = match value {
        Attr::Int(i) => {
            a.i = Some(*i);
            AttributeType::Int
        }
        Attr::Ints(v) => {
            a.ints = v.clone();
            AttributeType::Ints
        }
        Attr::Float(f) => {
            a.f = Some(*f as f32);
            AttributeType::Float
        }
        Attr::Floats(v) => {
            a.floats = v.iter().map(|&f| f as f32).collect();
            AttributeType::Floats
        }
        Attr::Str(s) => {
            a.s = Some(s.clone().into_bytes());
            AttributeType::String
        }
        Attr::Strs(v) => {
            a.strings = v.iter().map(|s| s.clone().into_bytes()).collect();
            AttributeType::Strings
        }
        Attr::Graph(g) => {
            a.g = Some(graph_proto(g, name, "")?);
            AttributeType::Graph
        }
    };
    a.r#type = Some(kind as i32);
    Ok(a)
}

fn value_info(v: &ValueInfo) -> ValueInfoProto {
    let dim = v
        .dims
        .iter()
        .map(|d| Dimension {
            denotation: None,
            value: Some(match d {
                Dim::Fixed(n) => dimension::Value::DimValue(*n as i64),
                Dim::Symbol(s) => dimension::Value::DimParam(s.clone()),
            }),
        })
        .collect();
    ValueInfoProto {
        name: Some(v.name.clone()),
        r#type: Some(TypeProto {
            denotation: None,
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(data_type(v.dtype) as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
        }),
        ..Default::default()
    }
}

/// A graph (the model's, or a subgraph attribute's) as a `GraphProto`.
fn graph_proto(graph: &Graph, name: &str, doc: &str) -> Result<GraphProto> {
    let node = (graph.nodes.iter())
        .map(|n| {
            Ok(NodeProto {
                input: n.inputs.clone(),
                output: n.outputs.clone(),
                name: Some(n.name.clone()),
                op_type: Some(n.op_type.clone()),
                domain: Some(String::new()),
                attribute: (n.attrs.iter())
                    .map(|(k, v)| attribute(k, v))
                    .collect::<Result<_>>()?,
                ..Default::default()
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let initializer = graph
        .initializers
        .iter()
        .map(|(name, t)| tensor_proto(name, t))
        .collect::<Result<Vec<_>>>()?;
    Ok(GraphProto {
        node,
        name: Some(name.to_string()),
        doc_string: Some(doc.to_string()),
        initializer,
        input: graph.inputs.iter().map(value_info).collect(),
        output: graph.outputs.iter().map(value_info).collect(),
        ..Default::default()
    })
}

/// The graph as a complete `ModelProto`.
pub(crate) fn model_proto(graph: &Graph, meta: &ModelMeta<'_>) -> Result<ModelProto> {
    let graph = graph_proto(graph, meta.graph_name, meta.doc_string)?;
    Ok(ModelProto {
        ir_version: Some(ir_version(meta.opset)),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(meta.opset),
        }],
        producer_name: Some(meta.producer_name.to_string()),
        producer_version: Some(meta.producer_version.to_string()),
        doc_string: Some(meta.doc_string.to_string()),
        graph: Some(graph),
        metadata_props: meta
            .metadata
            .iter()
            .map(|(k, v)| StringStringEntryProto {
                key: Some(k.clone()),
                value: Some(v.clone()),
            })
            .collect(),
        ..Default::default()
    })
}

/// Reads an ONNX file (any producer's) into a `ModelProto`.
pub fn read_model(path: impl AsRef<Path>) -> Result<ModelProto> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Io {
        path: path.display().to_string(),
        source,
    })?;
    ModelProto::decode(bytes.as_slice()).map_err(|e| OnnxError::Io {
        path: path.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// Writes `model` to `path` through a temporary file in the same folder,
/// synced and renamed, so a crash never leaves a half-written model.
pub fn save_model(model: &ModelProto, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    torchlet_tensor::io::write_atomic(path, &model.encode_to_vec()).map_err(|source| {
        OnnxError::Io {
            path: path.display().to_string(),
            source,
        }
    })
}
