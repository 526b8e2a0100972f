//! The jit's graph: typed ops on numbered values, in execution order.
//!
//! Values are numbered inputs first, then constants (weights and other
//! tensors the trace read), then the outputs of each node in order. Ops
//! are autograd's own records ([`AtenOp`]) plus the forms the jit
//! rewrites them into so that they hold for any batch size
//! ([`Op::Reshape`], [`Op::Expand`]). The graph serializes with serde; the
//! constants' tensors live beside it in the [`ScriptModule`](crate::ScriptModule).

use std::fmt;

use serde::{Deserialize, Serialize};
use torchlet_autograd::ir::Attr;
use torchlet_autograd::trace::{AtenOp, OpRecord};
use torchlet_tensor::DType;

use crate::epilogue::EpilogueOp;
use crate::fused::FusedExpr;
use crate::text::TextOp;

/// A value's number.
pub type ValueId = usize;

/// One op of a graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// An autograd op, run as eager mode runs it.
    Aten(AtenOp),
    /// `reshape` with ONNX's target: `0` copies the input's size at that
    /// position, `-1` is inferred (the traced target, with the sizes it
    /// shares with the input's leading dims made `0`).
    Reshape(Vec<i64>),
    /// `expand` with `-1` keeping the input's size (the traced target,
    /// with the sizes it shares with the input made `-1`).
    Expand(Vec<i64>),
    /// Elementwise f32 ops fused into one pass over memory (see
    /// [`crate::fused`]): inputs are the program's `x0, x1, ...`.
    Fused(FusedExpr),
    /// A Linear or 2-d convolution with an elementwise program run on
    /// its output in place (see [`crate::epilogue`]).
    Epilogue(EpilogueOp),
    /// A text model's op that nn records (recurrent layers,
    /// `EmbeddingBag`, padded lengths).
    Text(TextOp),
}

impl Op {
    /// The op's name (`aten::linear`).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Aten(op) => op.name(),
            Op::Reshape(_) => "aten::reshape",
            Op::Expand(_) => "aten::expand",
            Op::Fused(_) => "torchlet::fused_elementwise",
            Op::Epilogue(e) => e.name(),
            Op::Text(t) => t.name(),
        }
    }

    /// The op's attributes, for printing.
    pub fn attrs(&self) -> Vec<(&'static str, Attr)> {
        match self {
            Op::Aten(op) => op.attrs(),
            Op::Reshape(t) => vec![("shape", Attr::Ints(t.clone()))],
            Op::Expand(t) => vec![("size", Attr::Ints(t.clone()))],
            Op::Fused(e) => vec![("expr", Attr::Str(e.text()))],
            Op::Epilogue(e) => e.attrs(),
            Op::Text(t) => t.attrs(),
        }
    }
}

/// One node: an op applied to values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// What it reads, in the op's order (`None`: an absent optional input).
    pub inputs: Vec<Option<ValueId>>,
    /// What it writes.
    pub outputs: Vec<ValueId>,
}

/// One dim of a graph input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dim {
    /// This size only.
    Fixed(usize),
    /// The batch: any size, the same for every input.
    Batch,
    /// A sequence marked free at the trace: any length, the same for
    /// every sequence dim.
    Sequence,
}

impl fmt::Display for Dim {
    /// The size, `*` for the batch, `T` for a sequence.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Batch => f.write_str("*"),
            Dim::Sequence => f.write_str("T"),
        }
    }
}

/// An element type, as files store it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ElemType {
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `i64`.
    I64,
    /// `bool`.
    Bool,
}

impl From<DType> for ElemType {
    fn from(d: DType) -> ElemType {
        match d {
            DType::F32 => ElemType::F32,
            DType::F64 => ElemType::F64,
            DType::I64 => ElemType::I64,
            DType::Bool => ElemType::Bool,
        }
    }
}

impl From<ElemType> for DType {
    fn from(e: ElemType) -> DType {
        match e {
            ElemType::F32 => DType::F32,
            ElemType::F64 => DType::F64,
            ElemType::I64 => DType::I64,
            ElemType::Bool => DType::Bool,
        }
    }
}

impl fmt::Display for ElemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ElemType::F32 => "f32",
            ElemType::F64 => "f64",
            ElemType::I64 => "i64",
            ElemType::Bool => "bool",
        })
    }
}

/// A graph input: its name, element type and dims.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// The name (`x`, or `input0`, `input1`, ...).
    pub name: String,
    /// Element type.
    pub dtype: ElemType,
    /// Dims; the first is [`Dim::Batch`] when the trace found the graph
    /// right for any batch size.
    pub dims: Vec<Dim>,
}

impl InputSpec {
    /// `f32[*, 1, 28, 28]`: the element type and dims.
    pub fn signature(&self) -> String {
        let dims: Vec<String> = self.dims.iter().map(Dim::to_string).collect();
        format!("{}[{}]", self.dtype, dims.join(", "))
    }
}

/// A value's type as the trace saw it (for printing).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TracedType {
    /// Element type.
    pub dtype: ElemType,
    /// Shape at the traced batch size.
    pub shape: Vec<usize>,
}

/// A whole graph (see the module docs for the numbering).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// The inputs: values `0..inputs.len()`.
    pub inputs: Vec<InputSpec>,
    /// The constants' names (`fc1.weight`, `constant_3`): the values after
    /// the inputs, in order.
    pub constants: Vec<String>,
    /// The nodes in execution order.
    pub nodes: Vec<Node>,
    /// The values returned.
    pub outputs: Vec<ValueId>,
    /// How many values there are.
    pub num_values: usize,
    /// Every value's type at the traced batch size.
    pub types: Vec<TracedType>,
    /// Why the batch size is fixed, when the trace found the graph holds
    /// it (an op's attribute sized by the batch); `None` when it is free.
    pub fixed_batch: Option<String>,
    /// Free-form notes saved with the graph (a run's classes and input
    /// range, say), by key.
    pub metadata: Vec<(String, String)>,
}

impl Graph {
    /// The first constant's value number.
    pub fn first_constant(&self) -> ValueId {
        self.inputs.len()
    }

    /// Value `v`'s printed name: `%name` for inputs and constants, `%N`
    /// otherwise.
    pub fn value_name(&self, v: ValueId) -> String {
        let c = self.first_constant();
        match v {
            v if v < c => format!("%{}", self.inputs[v].name),
            v if v < c + self.constants.len() => format!("%{}", self.constants[v - c]),
            v => format!("%{v}"),
        }
    }

    /// For each value, the last node that reads it (`None`: no node; the
    /// graph's outputs count as read after the last node).
    pub fn last_uses(&self) -> Vec<Option<usize>> {
        let mut last = vec![None; self.num_values];
        for (i, n) in self.nodes.iter().enumerate() {
            for v in n.inputs.iter().flatten() {
                last[*v] = Some(i);
            }
        }
        for &v in &self.outputs {
            last[v] = Some(self.nodes.len());
        }
        last
    }
}

fn attr(a: &Attr) -> String {
    match a {
        Attr::Int(v) => v.to_string(),
        Attr::Ints(v) => format!("{v:?}"),
        Attr::Float(v) => v.to_string(),
        Attr::Floats(v) => format!("{v:?}"),
        Attr::Str(s) => format!("{s:?}"),
        Attr::Strs(s) => format!("{s:?}"),
        Attr::Graph(g) => format!("<graph of {} nodes>", g.nodes.len()),
    }
}

impl fmt::Display for Graph {
    /// `torch.jit`-like text: the signature (`*` for the batch), one line
    /// per node with its output types as traced, then the return.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sig: Vec<String> = self
            .inputs
            .iter()
            .map(|i| format!("%{} : {}", i.name, i.signature()))
            .collect();
        writeln!(f, "graph({}):", sig.join(",\n      "))?;
        for n in &self.nodes {
            let outs: Vec<String> = n
                .outputs
                .iter()
                .map(|&v| {
                    let t = &self.types[v];
                    format!("{} : {}{:?}", self.value_name(v), t.dtype, t.shape)
                })
                .collect();
            let ins: Vec<String> = n
                .inputs
                .iter()
                .map(|v| v.map_or("None".into(), |v| self.value_name(v)))
                .collect();
            let attrs: Vec<String> =
                n.op.attrs()
                    .iter()
                    .map(|(k, v)| format!("{k}={}", attr(v)))
                    .collect();
            let attrs = if attrs.is_empty() {
                String::new()
            } else {
                format!(" {{{}}}", attrs.join(", "))
            };
            writeln!(
                f,
                "  {} = {}({}){attrs}",
                outs.join(", "),
                n.op.name(),
                ins.join(", ")
            )?;
        }
        let outs: Vec<String> = self.outputs.iter().map(|&v| self.value_name(v)).collect();
        write!(f, "  return ({})", outs.join(", "))
    }
}
