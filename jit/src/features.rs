//! Intermediate activations of a traced model: torchvision's
//! `create_feature_extractor` (or forward hooks on every layer) for
//! torchlet, so a model's inner layers can be looked at, drawn or probed.
//!
//! [`feature_extractor`] traces a module and keeps, beside its outputs,
//! the value every computing node makes (convolutions, normalisations,
//! activations, pooling, Linear layers, elementwise ops; not views such
//! as `flatten` or `reshape`, which only restate their input). Names
//! follow `torch.fx`: a node that reads a parameter `conv1.weight` is
//! `conv1`; any other node is its op's name (`relu`, `max_pool2d`) with
//! `_1`, `_2`, ... on repeats. The graph is not optimised, so every
//! feature has the bits eager mode computes.

use std::collections::HashMap;

use torchlet_nn::Module;
use torchlet_tensor::Tensor;

use crate::graph::{Graph, Op, ValueId};
use crate::{trace, Result, ScriptModule};

/// Ops whose output restates its input's elements (a view or a copy of
/// one); they add nothing to look at.
const RESTATING_OPS: [&str; 12] = [
    "reshape",
    "flatten",
    "permute",
    "transpose",
    "squeeze",
    "unsqueeze",
    "expand",
    "contiguous",
    "narrow",
    "select",
    "split_with_sizes",
    "view",
];

/// A traced model that returns its layers' activations with its outputs
/// (see [`feature_extractor`] for which nodes and how they are named).
///
/// ```
/// use torchlet_nn::{Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let model = Sequential::new()
///     .append(Conv2d::new(1, 4, 3)?)
///     .append(ReLU)
///     .append(MaxPool2d::new(2))
///     .append(Flatten::new())
///     .append(Linear::new(4 * 3 * 3, 10)?);
/// let extractor = torchlet_jit::feature_extractor(&model, &[Tensor::rand(&[1, 1, 8, 8])])?;
/// assert_eq!(extractor.names(), ["0", "relu", "max_pool2d", "4"]);
/// let run = extractor.forward(&[Tensor::rand(&[2, 1, 8, 8])])?;
/// assert_eq!(run.features[0].1.shape(), [2, 4, 6, 6]); // the convolution's maps
/// assert_eq!(run.outputs[0].shape(), [2, 10]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct FeatureExtractor {
    script: ScriptModule,
    names: Vec<String>,
    num_outputs: usize,
}

/// What one call of a [`FeatureExtractor`] gives.
#[derive(Debug, Clone)]
pub struct Features {
    /// The model's outputs, as its forward returns them.
    pub outputs: Vec<Tensor>,
    /// Each feature's name and value, in execution order.
    pub features: Vec<(String, Tensor)>,
}

/// Traces `module` on `example` (see [`trace`]) into a
/// [`FeatureExtractor`]: the batch stays free when the trace allows it,
/// and calls with other shapes are refused as a script's are.
///
/// The extractor returns, beside the model's outputs, the value of every
/// computing node (convolutions, normalisations, activations, pooling,
/// Linear layers, elementwise ops; not views such as `flatten` or
/// `reshape`, which only restate their input). Names follow `torch.fx`:
/// a node that reads a parameter `conv1.weight` is `conv1`; any other
/// node is its op's name (`relu`, `max_pool2d`) with `_1`, `_2`, ... on
/// repeats. The graph is not optimised, so every feature has the bits
/// eager mode computes.
pub fn feature_extractor(module: &dyn Module, example: &[Tensor]) -> Result<FeatureExtractor> {
    let traced = trace(module, example)?;
    let mut graph: Graph = traced.graph().clone();
    let (values, names) = feature_values(&graph);
    let num_outputs = graph.outputs.len();
    graph.outputs.extend(&values);
    let script = ScriptModule::from_parts(graph, traced.constant_tensors().to_vec())?;
    Ok(FeatureExtractor {
        script,
        names,
        num_outputs,
    })
}

/// The value of every node worth looking at, and its name.
fn feature_values(g: &Graph) -> (Vec<ValueId>, Vec<String>) {
    let first = g.first_constant();
    let constant_name = |v: ValueId| {
        v.checked_sub(first)
            .and_then(|i| g.constants.get(i))
            .map(String::as_str)
    };
    let mut taken: HashMap<String, usize> = HashMap::new();
    let mut values = Vec::new();
    let mut names = Vec::new();
    for node in &g.nodes {
        let op = short_name(&node.op);
        let Some(&out) = node.outputs.first() else {
            continue;
        };
        if RESTATING_OPS.contains(&op) {
            continue;
        }
        let layer = node
            .inputs
            .iter()
            .flatten()
            .filter_map(|&v| constant_name(v))
            .find_map(|n| n.strip_suffix(".weight"));
        let base = layer.unwrap_or(op).to_string();
        let seen = taken.entry(base.clone()).or_insert(0);
        names.push(match *seen {
            0 => base,
            n => format!("{base}_{n}"),
        });
        *seen += 1;
        values.push(out);
    }
    (values, names)
}

/// `aten::add.Scalar` → `add`; `torchlet::fused_elementwise` →
/// `fused_elementwise`.
fn short_name(op: &Op) -> &'static str {
    let name = op.name();
    let name = name.rsplit("::").next().unwrap_or(name);
    name.split('.').next().unwrap_or(name)
}

impl FeatureExtractor {
    /// The features' names, in execution order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The traced graph, its outputs followed by the features.
    pub fn graph(&self) -> &Graph {
        self.script.graph()
    }

    /// Runs the model on `inputs`: its outputs and every feature.
    pub fn forward(&self, inputs: &[Tensor]) -> Result<Features> {
        let mut all = self.script.forward(inputs)?;
        let features = all.split_off(self.num_outputs);
        Ok(Features {
            outputs: all,
            features: self.names.iter().cloned().zip(features).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use torchlet_autograd::{no_grad, Variable};
    use torchlet_nn::{BatchNorm2d, Conv2d, Linear, ReLU, Sequential};

    use super::*;

    /// Features equal, bit for bit, what each layer of the eager model
    /// computes, and the names say which layer.
    #[test]
    fn features_are_the_eager_layers_outputs() {
        let model = Sequential::new()
            .append(Conv2d::new(2, 3, 3).unwrap())
            .append(BatchNorm2d::new(3).unwrap())
            .append(ReLU)
            .append(torchlet_nn::Flatten::new())
            .append(Linear::new(3 * 4 * 4, 5).unwrap())
            .append(ReLU);
        model.eval();
        let x = Tensor::rand(&[3, 2, 6, 6]);
        let extractor = feature_extractor(&model, &[Tensor::rand(&[1, 2, 6, 6])]).unwrap();
        assert_eq!(extractor.names(), ["0", "1", "relu", "4", "relu_1"]);
        let run = extractor.forward(std::slice::from_ref(&x)).unwrap();
        let mut h = Variable::constant(x);
        let mut eager = Vec::new();
        for (name, layer) in model.children() {
            h = no_grad(|| layer.forward(&h)).unwrap();
            if name != "3" {
                eager.push(h.data().to_vec::<f32>().unwrap());
            }
        }
        let got: Vec<Vec<f32>> = run
            .features
            .iter()
            .map(|(_, t)| t.to_vec::<f32>().unwrap())
            .collect();
        assert_eq!(got, eager);
        assert_eq!(run.outputs.len(), 1);
        assert_eq!(run.outputs[0].to_vec::<f32>().unwrap(), eager[4]);
    }

    #[test]
    fn another_image_size_is_refused_with_both_shapes() {
        let model = Sequential::new().append(Conv2d::new(1, 2, 3).unwrap());
        let extractor = feature_extractor(&model, &[Tensor::rand(&[1, 1, 5, 5])]).unwrap();
        let err = extractor
            .forward(&[Tensor::rand(&[1, 1, 6, 6])])
            .unwrap_err()
            .to_string();
        assert!(err.contains("1, 5, 5") && err.contains("6, 6]"), "{err}");
    }
}
