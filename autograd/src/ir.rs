//! The graph IR shared by the exporters and compilers above autograd:
//! named values, nodes with generic attributes, initializers, and typed
//! graph inputs and outputs.
//!
//! One IR serves two levels. torchlet-onnx lowers a trace into a graph of
//! ONNX operators (`Gemm`, `Conv`) and writes it as a `ModelProto`; a
//! graph of traced ops under their registry names (`aten::linear`) is
//! what a compiler reads and rewrites. Attributes are generic ([`Attr`]),
//! so a graph can be printed, compared and saved without knowing the ops.
//!
//! ```
//! use torchlet_autograd::ir::{Attr, Graph};
//! use torchlet_tensor::Tensor;
//! let mut g = Graph::default();
//! let w = g.initializer("weight".into(), Tensor::ones(&[2, 2]));
//! let y = g.op("MatMul", vec!["x".into(), w], vec![]);
//! let z = g.op("LeakyRelu", vec![y], vec![("alpha", Attr::Float(0.1))]);
//! assert_eq!(g.nodes.len(), 2);
//! assert_eq!(g.nodes[1].outputs, [z]);
//! ```

use torchlet_tensor::{DType, Tensor};

/// An attribute value of a node (ONNX's attribute kinds; a flag is an
/// `Int` of 0 or 1, an absent optional attribute is left out).
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// One integer.
    Int(i64),
    /// A list of integers.
    Ints(Vec<i64>),
    /// One float (ONNX stores it as f32).
    Float(f64),
    /// A list of floats.
    Floats(Vec<f64>),
    /// A string.
    Str(String),
    /// A list of strings.
    Strs(Vec<String>),
    /// A subgraph (`Scan`'s or `Loop`'s body); it may read the outer
    /// graph's values by name.
    Graph(Box<Graph>),
}

/// One node: an operator applied to named values.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The operator: an ONNX op type (`Gemm`, `Conv`, default domain) in an
    /// exported graph, a traced op's registry name (`aten::linear`) in a
    /// graph of traced ops.
    pub op_type: String,
    /// A unique node name.
    pub name: String,
    /// Input value names; `""` marks an absent optional input.
    pub inputs: Vec<String>,
    /// Output value names.
    pub outputs: Vec<String>,
    /// Attributes by name.
    pub attrs: Vec<(String, Attr)>,
}

/// One dimension of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(usize),
    /// A named dynamic size (`batch`, `sequence`).
    Symbol(String),
}

/// A graph input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueInfo {
    /// The value's name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Shape with dynamic axes named.
    pub dims: Vec<Dim>,
}

/// A whole graph (equal to another with the same nodes, inputs, outputs
/// and initializers, bit for bit).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Nodes in topological (execution) order.
    pub nodes: Vec<Node>,
    /// Weights and other constants, by name.
    pub initializers: Vec<(String, Tensor)>,
    /// Graph inputs.
    pub inputs: Vec<ValueInfo>,
    /// Graph outputs.
    pub outputs: Vec<ValueInfo>,
    /// Counter for fresh names.
    next: usize,
}

impl PartialEq for Graph {
    fn eq(&self, other: &Self) -> bool {
        let same_tensor = |a: &Tensor, b: &Tensor| {
            a.dtype() == b.dtype()
                && a.shape() == b.shape()
                && torchlet_tensor::io::le_bytes(a).ok() == torchlet_tensor::io::le_bytes(b).ok()
        };
        self.nodes == other.nodes
            && self.inputs == other.inputs
            && self.outputs == other.outputs
            && self.initializers.len() == other.initializers.len()
            && (self.initializers.iter().zip(&other.initializers))
                .all(|((na, a), (nb, b))| na == nb && same_tensor(a, b))
    }
}

impl Graph {
    /// A fresh value name `prefix_N`.
    pub fn fresh(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_{}", self.next)
    }

    /// Adds a node with `n_out` fresh outputs and returns their names.
    pub fn node(
        &mut self,
        op_type: &str,
        inputs: Vec<String>,
        attrs: Vec<(&str, Attr)>,
        n_out: usize,
    ) -> Vec<String> {
        let name = self.fresh(&format!("/{op_type}"));
        let outputs: Vec<String> = (0..n_out)
            .map(|i| {
                if n_out == 1 {
                    format!("{name}_output")
                } else {
                    format!("{name}_output_{i}")
                }
            })
            .collect();
        self.nodes.push(Node {
            op_type: op_type.to_string(),
            name,
            inputs,
            outputs: outputs.clone(),
            attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        });
        outputs
    }

    /// Adds a one-output node and returns the output's name.
    pub fn op(&mut self, op_type: &str, inputs: Vec<String>, attrs: Vec<(&str, Attr)>) -> String {
        self.node(op_type, inputs, attrs, 1).remove(0)
    }

    /// Adds an initializer under `name` and returns the name.
    pub fn initializer(&mut self, name: String, value: Tensor) -> String {
        self.initializers.push((name.clone(), value));
        name
    }

    /// A fresh constant initializer named `prefix_N`.
    pub fn constant_with_prefix(&mut self, prefix: &str, value: Tensor) -> String {
        let name = self.fresh(prefix);
        self.initializer(name, value)
    }

    /// Drops the nodes no graph output depends on (an attention layer's
    /// unused weights, say), then the initializers no node reads.
    pub fn prune(&mut self) {
        use std::collections::HashSet;
        let mut live: HashSet<String> = self.outputs.iter().map(|o| o.name.clone()).collect();
        let mut keep = vec![false; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate().rev() {
            if n.outputs.iter().any(|o| live.contains(o)) {
                keep[i] = true;
                live.extend(n.inputs.iter().cloned());
                // A subgraph may read this graph's values by name.
                for (_, a) in &n.attrs {
                    if let Attr::Graph(body) = a {
                        live.extend(body.nodes.iter().flat_map(|b| b.inputs.iter().cloned()));
                    }
                }
            }
        }
        let mut flags = keep.into_iter();
        self.nodes.retain(|_| flags.next().unwrap_or(false));
        self.initializers.retain(|(name, _)| live.contains(name));
    }
}
