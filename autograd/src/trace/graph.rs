//! A trace as a graph of the IR ([`crate::ir`]): one node per traced op,
//! under the op's registry name, with its generic attributes. This is the
//! op-level graph a compiler reads; exporters lower traces into their own
//! operators instead.

use std::collections::HashMap;

use super::{Trace, TraceArg, Untraceable};
use crate::error::{AutogradError, Result};
use crate::ir::{Dim, Graph, ValueInfo};
use crate::variable::Variable;

fn value_info(name: &str, v: &Variable) -> ValueInfo {
    ValueInfo {
        name: name.to_string(),
        dtype: v.dtype(),
        dims: v.shape().into_iter().map(Dim::Fixed).collect(),
    }
}

/// Resolves traced values to graph names while the graph is built.
struct Names<'a> {
    g: Graph,
    /// Variable id → value name (inputs, op outputs, written initializers).
    names: HashMap<usize, String>,
    /// Parameters and buffers by id, written as initializers on first use.
    named: HashMap<usize, (&'a str, &'a Variable)>,
    /// Every variable a plain-tensor argument may be a view of.
    known: Vec<&'a Variable>,
}

impl Names<'_> {
    fn var(&mut self, v: &Variable) -> String {
        if let Some(n) = self.names.get(&v.id()) {
            return n.clone();
        }
        let name = match self.named.get(&v.id()) {
            Some((name, var)) => self
                .g
                .initializer(name.to_string(), var.data().contiguous()),
            None => self
                .g
                .constant_with_prefix("Constant", v.data().contiguous()),
        };
        self.names.insert(v.id(), name.clone());
        name
    }

    fn arg(&mut self, a: &TraceArg) -> String {
        match a {
            TraceArg::Absent => String::new(),
            TraceArg::Var(v) => self.var(v),
            TraceArg::Tensor(t) => match self.known.iter().find(|v| v.data().is_same_view(t)) {
                Some(v) => {
                    let v = (*v).clone();
                    self.var(&v)
                }
                None => self.g.constant_with_prefix("Constant", t.contiguous()),
            },
        }
    }
}

impl Trace {
    /// This trace as an IR graph of traced ops: graph inputs `inputs`
    /// (name, variable), parameters and buffers `named` as initializers
    /// under their names (only those an op reads), every other value an op
    /// reads that no op produced as a `Constant_N` initializer, one node per
    /// op named after it (`aten::linear`) with [`OpRecord::attrs`], and
    /// `outputs` as the graph outputs. Plain-tensor arguments (indices,
    /// running statistics) that are views of an input or a named value
    /// resolve to it.
    ///
    /// Fails when an op recorded a gradient node without reporting itself
    /// to the tracer, or traced as [`Untraceable`]: the graph could not say
    /// what it computes.
    ///
    /// ```
    /// use torchlet_autograd::trace::trace;
    /// use torchlet_autograd::Variable;
    /// use torchlet_tensor::Tensor;
    /// # fn main() -> Result<(), torchlet_autograd::AutogradError> {
    /// let w = Variable::parameter(Tensor::ones(&[3, 2]));
    /// let x = Variable::constant(Tensor::ones(&[4, 2]));
    /// let (y, t) = trace(|| x.linear(&w, None).map(|y| y.relu()));
    /// let g = t.to_graph(&[("x", &x)], &[("weight", &w)], &[&y?])?;
    /// let ops: Vec<&str> = g.nodes.iter().map(|n| n.op_type.as_str()).collect();
    /// assert_eq!(ops, ["aten::linear", "aten::relu"]);
    /// assert_eq!(g.nodes[0].inputs, ["x", "weight", ""]);
    /// assert_eq!(g.initializers[0].0, "weight");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// [`OpRecord::attrs`]: super::OpRecord::attrs
    pub fn to_graph(
        &self,
        inputs: &[(&str, &Variable)],
        named: &[(&str, &Variable)],
        outputs: &[&Variable],
    ) -> Result<Graph> {
        if let Some(op) = self.untraced.first() {
            return Err(AutogradError::graph(
                "to_graph",
                format!(
                    "{op} recorded a gradient node without reporting itself to the tracer, \
                     so the graph cannot say what it computes"
                ),
            ));
        }
        let mut cx = Names {
            g: Graph::default(),
            names: HashMap::new(),
            named: named.iter().map(|&(n, v)| (v.id(), (n, v))).collect(),
            known: inputs.iter().chain(named).map(|&(_, v)| v).collect(),
        };
        for &(name, v) in inputs {
            cx.names.insert(v.id(), name.to_string());
            cx.g.inputs.push(value_info(name, v));
        }
        for op in &self.ops {
            if op.record::<Untraceable>().is_some() {
                return Err(AutogradError::graph(
                    "to_graph",
                    format!("the trace holds an op it cannot describe: {}", op.name()),
                ));
            }
            let ins: Vec<String> = op.inputs.iter().map(|a| cx.arg(a)).collect();
            let outs = cx.g.node(op.name(), ins, op.op.attrs(), op.outputs.len());
            for (v, name) in op.outputs.iter().zip(outs) {
                cx.names.insert(v.id(), name);
            }
        }
        for v in outputs {
            let name = cx.var(v);
            cx.g.outputs.push(value_info(&name, v));
        }
        Ok(cx.g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Attr;
    use crate::trace::trace;
    use torchlet_tensor::Tensor;

    #[test]
    fn ops_become_nodes_with_their_names_and_attributes() {
        let w = Variable::parameter(Tensor::ones(&[3, 2]));
        let b = Variable::parameter(Tensor::zeros(&[3]));
        let x = Variable::constant(Tensor::ones(&[4, 2]));
        let (y, t) = trace(|| {
            x.linear(&w, Some(&b))
                .and_then(|y| y.softmax(-1))
                .and_then(|y| y.mul_scalar(2.0).sum_dims(&[0], true))
        });
        let y = y.unwrap();
        let g = t
            .to_graph(&[("x", &x)], &[("fc.weight", &w), ("fc.bias", &b)], &[&y])
            .unwrap();
        let ops: Vec<&str> = g.nodes.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(
            ops,
            [
                "aten::linear",
                "aten::softmax",
                "aten::mul.Scalar",
                "aten::sum"
            ]
        );
        assert_eq!(g.nodes[0].inputs, ["x", "fc.weight", "fc.bias"]);
        assert_eq!(g.nodes[1].attrs, [("dim".to_string(), Attr::Int(-1))]);
        assert_eq!(g.nodes[1].inputs, g.nodes[0].outputs);
        let names: Vec<&str> = g.initializers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["fc.weight", "fc.bias"]);
        assert_eq!(g.outputs[0].name, g.nodes[3].outputs[0]);
        assert_eq!(g.outputs[0].dims, [Dim::Fixed(1), Dim::Fixed(3)]);
        assert_eq!(g.inputs[0].name, "x");
    }

    #[test]
    fn tensor_arguments_resolve_to_the_values_they_view() {
        let table = Variable::parameter(Tensor::rand(&[5, 2]));
        let ids = Tensor::from_vec(vec![1i64, 4, 0], &[3]).unwrap();
        let ids_var = Variable::constant(ids.clone());
        let (out, t) = trace(|| crate::functional::embedding(&ids, &table));
        let g = t
            .to_graph(
                &[("ids", &ids_var)],
                &[("emb.weight", &table)],
                &[&out.unwrap()],
            )
            .unwrap();
        assert_eq!(g.nodes[0].op_type, "aten::embedding");
        assert_eq!(g.nodes[0].inputs, ["ids", "emb.weight"]);
        // A tensor argument that is no known value becomes a constant.
        let other = Tensor::from_vec(vec![2i64], &[1]).unwrap();
        let (out, t) = trace(|| crate::functional::embedding(&other, &table));
        let g = t
            .to_graph(&[], &[("emb.weight", &table)], &[&out.unwrap()])
            .unwrap();
        assert!(g.nodes[0].inputs[0].starts_with("Constant_"));
    }

    #[test]
    fn an_untraceable_op_is_an_error() {
        let x = Variable::constant(Tensor::ones(&[2]));
        let (_, t) = trace(|| {
            crate::trace::traced(
                || (Untraceable("a layer called with numbers"), vec![]),
                || x.relu(),
            )
        });
        let err = t.to_graph(&[("x", &x)], &[], &[]).unwrap_err();
        assert!(
            err.to_string().contains("a layer called with numbers"),
            "{err}"
        );
    }

    #[test]
    fn an_untraced_gradient_node_is_an_error() {
        let w = Variable::parameter(Tensor::ones(&[2]));
        let (_, t) =
            trace(|| crate::record("MyCustomOp", Tensor::ones(&[2]), &[&w], |_| Ok(vec![None])));
        let err = t.to_graph(&[], &[("w", &w)], &[]).unwrap_err();
        assert!(err.to_string().contains("MyCustomOp"), "{err}");
    }
}
