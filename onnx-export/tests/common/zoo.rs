//! A model that exercises the ops the six check models do not: Conv1d,
//! strided / dilated / grouped Conv2d, ConvTranspose2d with output
//! padding, average and adaptive pooling, the other activations,
//! reductions, split / stack / cat, gather, masked_fill and the scalar
//! forms. onnxruntime runs it in `.ci/run`.
#![allow(dead_code)]

use torchlet_autograd::Variable;
use torchlet_nn::{
    Conv1d, Conv1dOptions, Conv2d, Conv2dOptions, ConvTranspose2d, ConvTranspose2dOptions, Module,
    Result as NnResult,
};
use torchlet_tensor::Tensor;

/// See the module docs; input `[N, 4, 8, 8]`, output `[N, 10]`.
pub struct OpZoo {
    conv: Conv2d,
    deconv: ConvTranspose2d,
    conv1d: Conv1d,
}

impl OpZoo {
    /// Seeded by the caller's `manual_seed`.
    pub fn new() -> NnResult<OpZoo> {
        Ok(OpZoo {
            conv: Conv2d::with_options(
                4,
                4,
                [3, 3],
                Conv2dOptions {
                    stride: [2, 2],
                    padding: [2, 1],
                    dilation: [2, 1],
                    groups: 2,
                    bias: true,
                },
            )?,
            deconv: ConvTranspose2d::with_options(
                4,
                2,
                [3, 3],
                ConvTranspose2dOptions {
                    stride: [2, 2],
                    padding: [1, 1],
                    output_padding: [1, 1],
                    ..Default::default()
                },
            )?,
            conv1d: Conv1d::with_options(
                4,
                3,
                3,
                Conv1dOptions {
                    padding: 2,
                    dilation: 2,
                    ..Default::default()
                },
            )?,
        })
    }
}

impl Module for OpZoo {
    fn forward(&self, x: &Variable) -> NnResult<Variable> {
        let a = self.conv.forward(x)?.leaky_relu(0.1); // [N, 4, 4, 4]
        let b = self.deconv.forward(&a)?.elu(1.0); // [N, 2, 8, 8]
        let b = b.avg_pool2d([2, 2], [2, 2], [1, 1])?; // [N, 2, 5, 5]
        let c = b.max_pool2d([3, 3], [2, 2], [1, 1])?; // [N, 2, 3, 3]
        let c = c.adaptive_avg_pool2d([1, 1])?.flatten(1, -1)?; // [N, 2]
        let d = b.adaptive_avg_pool2d([5, 5])?.flatten(1, -1)?; // [N, 50]
        let d = d.gelu().add(&d.silu())?.add(&d.gelu_tanh())?.softplus();
        let d = d.reshape(&[-1, 5, 10])?.mean_dims(&[1], false)?; // [N, 10]
        let seq = x.mean_dims(&[3], false)?; // [N, 4, 8]
        let s = self.conv1d.forward(&seq)?.tanh().sum_dims(&[2], false)?; // [N, 3]
        let g = Variable::cat(&[&c, &s, &d], 1)?; // [N, 15]
        let parts = g.split(5, 1)?; // 3 × [N, 5]
        let h = Variable::stack(&parts, 1)?.transpose(1, 2)?.contiguous(); // [N, 5, 3]
        let h = h.permute(&[0, 2, 1])?.reshape(&[-1, 15])?; // [N, 15]
        let idx = Tensor::from_vec(vec![0i64, 3, 4, 7, 9, 10, 11, 12, 13, 14], &[10])?;
        let h = h.index_select(1, &idx)?; // [N, 10]
        let mask = Variable::constant(Tensor::from_vec(
            vec![
                true, false, false, true, false, false, false, false, true, false,
            ],
            &[10],
        )?);
        let h = h.masked_fill(&mask, 0.25)?;
        let h1 = h
            .clamp(-2.0, 2.0)
            .mul_scalar(1.5)
            .add_scalar(0.1)
            .rsub_scalar(1.0);
        let h2 = h1
            .sigmoid()
            .add(&h.abs().sqrt())?
            .sub(&h.square().div_scalar(4.0))?;
        let h3 = h2.sub(&h2.max()?)?.add(&h2.min()?.exp())?;
        let p = h3.softmax(-1)?.add(&h3.log_softmax(1)?)?;
        let q = p.maximum(&h.neg())?.minimum(&h.add_scalar(3.0))?;
        let r = h3.narrow(1, 2, 8)?.pow(2.0)?.sum().div_scalar(100.0);
        Ok(q.unsqueeze(1)?.squeeze(1)?.add(&h3)?.add(&r)?)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        vec![
            ("conv", &self.conv),
            ("deconv", &self.deconv),
            ("conv1d", &self.conv1d),
        ]
    }
}
