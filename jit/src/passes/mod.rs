//! Optimisation passes over a script's graph, each in its own module:
//!
//! - [`cse`]: a node repeating an earlier one (same op, same inputs) is
//!   dropped and its readers read the earlier one's outputs;
//! - [`constants`]: nodes that read only constants run once, at compile
//!   time (a weight's transpose, say), and become constants;
//! - [`batch_norm`]: an eval-mode BatchNorm after a Conv or Linear whose
//!   output only it reads is folded into that layer's weight and bias
//!   (`torch.nn.utils.fusion`);
//! - [`fuse`]: groups of f32 elementwise nodes become one fused node
//!   evaluated in one pass over memory;
//! - [`epilogue`]: a Linear or 2-d convolution whose output only one
//!   elementwise node reads runs that node's program on its output in
//!   place (bias, activation, residual add), a convolution's also the
//!   max pooling that alone reads its output;
//! - dead-code elimination and renumbering ([`Editable::finish`]): nodes
//!   no output depends on, and constants no node reads, are dropped.
//!
//! Passes edit an [`Editable`] graph, where any value may be a constant,
//! and [`ScriptModule::optimize`](crate::ScriptModule::optimize) runs
//! them in that order. Folding BatchNorm changes rounding (outputs within
//! 1e-5 of eager, relative to the output's largest magnitude); the fused
//! kernels use the unfused kernels' formulas; CSE, constant folding and
//! elimination change no bit.

pub(crate) mod batch_norm;
pub(crate) mod constants;
pub(crate) mod cse;
pub(crate) mod epilogue;
pub(crate) mod fuse;

use std::collections::BTreeMap;

use torchlet_tensor::Tensor;

use crate::graph::{Graph, Node, TracedType, ValueId};
use crate::{Result, ScriptModule};

/// A graph being rewritten: values are numbered as in the source graph
/// (new ones past the end), and any of them may be a constant.
pub(crate) struct Editable {
    pub graph: Graph,
    /// The constants, by value.
    pub consts: BTreeMap<ValueId, (String, Tensor)>,
}

impl Editable {
    /// A script's graph and constants, ready to edit.
    pub fn new(script: &ScriptModule) -> Editable {
        let graph = script.graph().clone();
        let first = graph.first_constant();
        let consts = script
            .constants()
            .enumerate()
            .map(|(i, (name, t))| (first + i, (name.to_string(), t.clone())))
            .collect();
        Editable { graph, consts }
    }

    /// A new constant value holding `t`.
    pub fn add_const(&mut self, name: String, t: Tensor) -> ValueId {
        let v = self.graph.num_values;
        self.graph.types.push(TracedType {
            dtype: t.dtype().into(),
            shape: t.shape().to_vec(),
        });
        self.graph.num_values += 1;
        self.consts.insert(v, (name, t));
        v
    }

    /// The tensor of value `v` when it is a constant.
    pub fn constant(&self, v: Option<ValueId>) -> Option<&Tensor> {
        v.and_then(|v| self.consts.get(&v)).map(|(_, t)| t)
    }

    /// The node that makes each value (values made by no node are absent).
    pub fn producers(&self) -> std::collections::HashMap<ValueId, usize> {
        self.graph
            .nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.outputs.iter().map(move |&v| (v, i)))
            .collect()
    }

    /// How many times each value is read (by nodes and as an output).
    pub fn readers(&self) -> Vec<usize> {
        let mut n = vec![0; self.graph.num_values];
        for v in self
            .graph
            .nodes
            .iter()
            .flat_map(|n| n.inputs.iter().flatten())
        {
            n[*v] += 1;
        }
        for &v in &self.graph.outputs {
            n[v] += 1;
        }
        n
    }

    /// Drops the nodes no output depends on (so a later pass sees only
    /// the readers that count); returns which values are still read.
    pub fn remove_dead(&mut self) -> Vec<bool> {
        let g = &mut self.graph;
        let mut live = vec![false; g.num_values];
        for &v in &g.outputs {
            live[v] = true;
        }
        let mut keep = vec![false; g.nodes.len()];
        for (i, n) in g.nodes.iter().enumerate().rev() {
            if n.outputs.iter().any(|&v| live[v]) {
                keep[i] = true;
                for &v in n.inputs.iter().flatten() {
                    live[v] = true;
                }
            }
        }
        let mut flags = keep.into_iter();
        g.nodes.retain(|_| flags.next().unwrap_or(false));
        live
    }

    /// The script: nodes no output depends on and constants no node
    /// reads dropped, values renumbered (inputs, constants, node outputs).
    pub fn finish(mut self) -> Result<ScriptModule> {
        let live = self.remove_dead();
        let Editable { graph: g, consts } = self;
        let mut id = vec![usize::MAX; g.num_values];
        let n_in = g.inputs.len();
        for (v, slot) in id.iter_mut().enumerate().take(n_in) {
            *slot = v;
        }
        let mut next = n_in;
        let mut names: Vec<String> = Vec::new();
        let mut tensors = Vec::new();
        let mut used = std::collections::HashSet::new();
        for (&v, (name, t)) in &consts {
            if live[v] {
                id[v] = next;
                next += 1;
                // A weight folded twice (a layer called twice) would give
                // two constants one name; files key constants by name.
                let mut unique = name.clone();
                let mut k = 1;
                while !used.insert(unique.clone()) {
                    unique = format!("{name}_{k}");
                    k += 1;
                }
                names.push(unique);
                tensors.push(t.clone());
            }
        }
        let nodes: Vec<&Node> = g.nodes.iter().collect();
        for n in &nodes {
            for &v in &n.outputs {
                id[v] = next;
                next += 1;
            }
        }
        let mut types: Vec<Option<TracedType>> = vec![None; next];
        for (v, &new) in id.iter().enumerate() {
            if new != usize::MAX {
                types[new] = Some(g.types[v].clone());
            }
        }
        let types = types
            .into_iter()
            .map(|t| t.expect("every kept value is renumbered"))
            .collect();
        let graph = Graph {
            inputs: g.inputs,
            constants: names,
            nodes: nodes
                .into_iter()
                .map(|n| Node {
                    op: n.op.clone(),
                    inputs: n.inputs.iter().map(|v| v.map(|v| id[v])).collect(),
                    outputs: n.outputs.iter().map(|&v| id[v]).collect(),
                })
                .collect(),
            outputs: g.outputs.iter().map(|&v| id[v]).collect(),
            num_values: next,
            types,
            fixed_batch: g.fixed_batch,
            metadata: g.metadata,
        };
        ScriptModule::from_parts(graph, tensors)
    }
}

impl ScriptModule {
    /// This script with the optimisation passes run (see the module
    /// docs of `passes`): common-subexpression elimination, constant
    /// folding, BatchNorm folding, elementwise fusion, epilogue fusion,
    /// dead-code elimination. Outputs stay within 1e-5
    /// of the original's, relative to the output's largest magnitude
    /// (folding BatchNorm rounds differently; the other passes keep the
    /// bits).
    ///
    /// ```
    /// use torchlet_nn::{BatchNorm2d, Conv2d, Module, Sequential};
    /// use torchlet_tensor::Tensor;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let model = Sequential::new().append(Conv2d::new(1, 2, 3)?).append(BatchNorm2d::new(2)?);
    /// let script = torchlet_jit::trace(&model, &[Tensor::rand(&[1, 1, 5, 5])])?;
    /// let fast = script.optimize()?;
    /// assert_eq!(script.graph().nodes.len(), 2);
    /// assert_eq!(fast.graph().nodes.len(), 1); // the convolution alone
    /// # Ok(())
    /// # }
    /// ```
    pub fn optimize(&self) -> Result<ScriptModule> {
        let mut g = Editable::new(self);
        cse::eliminate(&mut g);
        constants::fold(&mut g)?;
        batch_norm::fold(&mut g)?;
        // Fusion counts readers: the dead ones must be gone first.
        g.remove_dead();
        fuse::fuse(&mut g)?;
        epilogue::fuse(&mut g);
        epilogue::pool(&mut g);
        g.finish()
    }
}
