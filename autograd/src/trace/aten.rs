//! Autograd's own traced ops ([`AtenOp`]) under PyTorch's `aten::` names.

use super::record::OpRecord;
use crate::ir::Attr;

/// The trace records of autograd's own ops: `Variable`'s methods and the
/// functional forms, each under its `aten::` name ([`AtenOp::name`]).
/// Inputs are listed per variant; "x" is the first input. Dims are as the
/// caller gave them (negative counts from the end).
///
/// The enum is exhaustive on purpose: a consumer that matches on it (an
/// exporter's lowering) stops compiling when an op is added, instead of
/// failing at run time. Ops of other crates are their own record types.
///
/// Records serialize with serde, so a compiled graph (torchlet-jit) can
/// save them as they are.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum AtenOp {
    /// Elementwise binary op with broadcasting: inputs `[a, b]`.
    Binary(BinaryOp),
    /// `x op value` (or `value op x` when `reversed`): inputs `[x]`.
    Scalar {
        /// The arithmetic.
        op: BinaryOp,
        /// The scalar operand.
        value: f64,
        /// Whether the scalar is the left operand (`rsub`).
        reversed: bool,
    },
    /// `-x`.
    Neg,
    /// `e^x`.
    Exp,
    /// Natural logarithm.
    Log,
    /// `ln(1 + x)`.
    Log1p,
    /// Square root.
    Sqrt,
    /// `1 / sqrt(x)`.
    Rsqrt,
    /// `1 / x`.
    Reciprocal,
    /// Sine.
    Sin,
    /// Cosine.
    Cos,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
    /// `max(x, 0)`.
    Relu,
    /// `x * sigmoid(x)`.
    Silu,
    /// `ln(1 + e^x)`.
    Softplus,
    /// `x * x`.
    Square,
    /// `|x|`.
    Abs,
    /// Error function.
    Erf,
    /// Exact GELU; `tanh` for the tanh approximation.
    Gelu {
        /// Whether the tanh approximation is used.
        tanh: bool,
    },
    /// Leaky ReLU with this negative slope.
    LeakyRelu(f64),
    /// ELU with this alpha.
    Elu(f64),
    /// Clamp to `[min, max]` (either bound optional).
    Clamp {
        /// Lower bound.
        min: Option<f64>,
        /// Upper bound.
        max: Option<f64>,
    },
    /// `torch.matmul`: inputs `[a, b]`.
    MatMul,
    /// `F.linear`: inputs `[x, weight [out, in], bias?]`.
    Linear,
    /// Convolution (1-d or 2-d by the weight's rank): inputs
    /// `[x, weight, bias?]`; per-spatial-dim attributes.
    Conv {
        /// Stride per spatial dim.
        stride: Vec<usize>,
        /// Zero padding per spatial dim (both sides).
        padding: Vec<usize>,
        /// Dilation per spatial dim.
        dilation: Vec<usize>,
        /// Channel groups.
        groups: usize,
    },
    /// Transposed 2-d convolution: inputs `[x, weight, bias?]`.
    ConvTranspose {
        /// Stride per spatial dim.
        stride: Vec<usize>,
        /// Padding per spatial dim.
        padding: Vec<usize>,
        /// Extra size added to one side of the output.
        output_padding: Vec<usize>,
        /// Dilation per spatial dim.
        dilation: Vec<usize>,
        /// Channel groups.
        groups: usize,
    },
    /// 2-d max pooling: inputs `[x]`.
    MaxPool2d {
        /// Window size.
        kernel: [usize; 2],
        /// Step.
        stride: [usize; 2],
        /// Implicit `-inf` padding.
        padding: [usize; 2],
    },
    /// 2-d average pooling, zero padding counted: inputs `[x]`.
    AvgPool2d {
        /// Window size.
        kernel: [usize; 2],
        /// Step.
        stride: [usize; 2],
        /// Zero padding.
        padding: [usize; 2],
    },
    /// Adaptive average pooling to `output_size`: inputs `[x]`.
    AdaptiveAvgPool2d {
        /// Output `[H, W]`.
        output_size: [usize; 2],
    },
    /// Batch norm: inputs `[x, running_mean?, running_var?, weight?, bias?]`.
    BatchNorm {
        /// Whether batch statistics are used (training).
        training: bool,
        /// Added to the variance.
        eps: f64,
    },
    /// Layer norm over the trailing `normalized_shape`: inputs
    /// `[x, weight?, bias?]`.
    LayerNorm {
        /// The normalized trailing shape.
        normalized_shape: Vec<usize>,
        /// Added to the variance.
        eps: f64,
    },
    /// Sum over `dims` (all when `None`).
    Sum {
        /// Reduced dims.
        dims: Option<Vec<i64>>,
        /// Whether reduced dims are kept with size 1.
        keepdim: bool,
    },
    /// Mean over `dims` (all when `None`).
    Mean {
        /// Reduced dims.
        dims: Option<Vec<i64>>,
        /// Whether reduced dims are kept with size 1.
        keepdim: bool,
    },
    /// Maximum over all elements (a 0-d result).
    MaxAll,
    /// Minimum over all elements (a 0-d result).
    MinAll,
    /// Product over one dim.
    Prod {
        /// Reduced dim.
        dim: i64,
        /// Whether it is kept with size 1.
        keepdim: bool,
    },
    /// `log(sum(exp(x)))` over one dim.
    LogSumExp {
        /// Reduced dim.
        dim: i64,
        /// Whether it is kept with size 1.
        keepdim: bool,
    },
    /// Softmax along `dim`.
    Softmax(i64),
    /// Log-softmax along `dim`.
    LogSoftmax(i64),
    /// Reshape to `shape` (one `-1` allowed).
    Reshape(Vec<i64>),
    /// Flatten dims `start..=end`.
    Flatten {
        /// First flattened dim.
        start: i64,
        /// Last flattened dim.
        end: i64,
    },
    /// Permutation of the dims.
    Permute(Vec<i64>),
    /// Swap two dims.
    Transpose(i64, i64),
    /// Remove size-1 dims (the given one, or all).
    Squeeze(Option<i64>),
    /// Insert a size-1 dim.
    Unsqueeze(i64),
    /// Broadcast to `shape` (`-1` keeps a dim).
    Expand(Vec<i64>),
    /// A copy with the same value (`contiguous`): an identity.
    Identity,
    /// `narrow(dim, start, length)`.
    Narrow {
        /// Sliced dim.
        dim: i64,
        /// First index.
        start: i64,
        /// Number of indices.
        length: usize,
    },
    /// `select(dim, index)`: the dim is removed.
    Select {
        /// Indexed dim.
        dim: i64,
        /// Index (negative counts from the end).
        index: i64,
    },
    /// Split along `dim` into parts of these sizes: one output per part.
    Split {
        /// Split dim.
        dim: i64,
        /// Part sizes.
        sizes: Vec<usize>,
    },
    /// Concatenation along `dim`: inputs are the parts.
    Cat(i64),
    /// Stacking along a new `dim`: inputs are the parts.
    Stack(i64),
    /// `index_select(dim, index)`: inputs `[x, index (tensor)]`.
    IndexSelect(i64),
    /// `gather(dim, index)`: inputs `[x, index (tensor)]`.
    Gather(i64),
    /// `where(cond, a, b)`: inputs `[cond (tensor), a, b]`.
    Where,
    /// `masked_fill(mask, value)`: inputs `[x, mask]`.
    MaskedFill(f64),
    /// `F.embedding`: inputs `[indices (tensor), weight]`.
    Embedding,
}

/// Elementwise binary arithmetic and comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// `a ** b`.
    Pow,
    /// Elementwise maximum.
    Maximum,
    /// Elementwise minimum.
    Minimum,
    /// `a == b` (bool).
    Eq,
    /// `a < b` (bool).
    Lt,
    /// `a > b` (bool).
    Gt,
}

impl AtenOp {
    /// The op's registry name: PyTorch's `aten::` name (with the overload
    /// for the scalar forms autograd traces: `aten::add.Scalar`,
    /// `aten::rsub.Scalar`, `aten::pow.Tensor_Scalar`, ...). Any other
    /// scalar form (none is traced today) shares `torchlet::binary.Scalar`
    /// (`torchlet::rbinary.Scalar` with the scalar on the left), its
    /// arithmetic in the `op` attribute.
    pub fn name(&self) -> &'static str {
        match self {
            AtenOp::Binary(BinaryOp::Add) => "aten::add",
            AtenOp::Binary(BinaryOp::Sub) => "aten::sub",
            AtenOp::Binary(BinaryOp::Mul) => "aten::mul",
            AtenOp::Binary(BinaryOp::Div) => "aten::div",
            AtenOp::Binary(BinaryOp::Pow) => "aten::pow",
            AtenOp::Binary(BinaryOp::Maximum) => "aten::maximum",
            AtenOp::Binary(BinaryOp::Minimum) => "aten::minimum",
            AtenOp::Binary(BinaryOp::Eq) => "aten::eq",
            AtenOp::Binary(BinaryOp::Lt) => "aten::lt",
            AtenOp::Binary(BinaryOp::Gt) => "aten::gt",
            AtenOp::Scalar {
                op: BinaryOp::Add,
                reversed: false,
                ..
            } => "aten::add.Scalar",
            AtenOp::Scalar {
                op: BinaryOp::Sub,
                reversed: false,
                ..
            } => "aten::sub.Scalar",
            AtenOp::Scalar {
                op: BinaryOp::Sub,
                reversed: true,
                ..
            } => "aten::rsub.Scalar",
            AtenOp::Scalar {
                op: BinaryOp::Mul,
                reversed: false,
                ..
            } => "aten::mul.Scalar",
            AtenOp::Scalar {
                op: BinaryOp::Div,
                reversed: false,
                ..
            } => "aten::div.Scalar",
            AtenOp::Scalar {
                op: BinaryOp::Pow,
                reversed: false,
                ..
            } => "aten::pow.Tensor_Scalar",
            AtenOp::Scalar {
                op: BinaryOp::Pow,
                reversed: true,
                ..
            } => "aten::pow.Scalar",
            AtenOp::Scalar {
                reversed: false, ..
            } => "torchlet::binary.Scalar",
            AtenOp::Scalar { reversed: true, .. } => "torchlet::rbinary.Scalar",
            AtenOp::Neg => "aten::neg",
            AtenOp::Exp => "aten::exp",
            AtenOp::Log => "aten::log",
            AtenOp::Log1p => "aten::log1p",
            AtenOp::Sqrt => "aten::sqrt",
            AtenOp::Rsqrt => "aten::rsqrt",
            AtenOp::Reciprocal => "aten::reciprocal",
            AtenOp::Sin => "aten::sin",
            AtenOp::Cos => "aten::cos",
            AtenOp::Tanh => "aten::tanh",
            AtenOp::Sigmoid => "aten::sigmoid",
            AtenOp::Relu => "aten::relu",
            AtenOp::Silu => "aten::silu",
            AtenOp::Softplus => "aten::softplus",
            AtenOp::Square => "aten::square",
            AtenOp::Abs => "aten::abs",
            AtenOp::Erf => "aten::erf",
            AtenOp::Gelu { .. } => "aten::gelu",
            AtenOp::LeakyRelu(_) => "aten::leaky_relu",
            AtenOp::Elu(_) => "aten::elu",
            AtenOp::Clamp { .. } => "aten::clamp",
            AtenOp::MatMul => "aten::matmul",
            AtenOp::Linear => "aten::linear",
            AtenOp::Conv { .. } => "aten::convolution",
            AtenOp::ConvTranspose { .. } => "aten::conv_transpose2d",
            AtenOp::MaxPool2d { .. } => "aten::max_pool2d",
            AtenOp::AvgPool2d { .. } => "aten::avg_pool2d",
            AtenOp::AdaptiveAvgPool2d { .. } => "aten::adaptive_avg_pool2d",
            AtenOp::BatchNorm { .. } => "aten::batch_norm",
            AtenOp::LayerNorm { .. } => "aten::layer_norm",
            AtenOp::Sum { .. } => "aten::sum",
            AtenOp::Mean { .. } => "aten::mean",
            AtenOp::MaxAll => "aten::max",
            AtenOp::MinAll => "aten::min",
            AtenOp::Prod { .. } => "aten::prod",
            AtenOp::LogSumExp { .. } => "aten::logsumexp",
            AtenOp::Softmax(_) => "aten::softmax",
            AtenOp::LogSoftmax(_) => "aten::log_softmax",
            AtenOp::Reshape(_) => "aten::reshape",
            AtenOp::Flatten { .. } => "aten::flatten",
            AtenOp::Permute(_) => "aten::permute",
            AtenOp::Transpose(..) => "aten::transpose",
            AtenOp::Squeeze(_) => "aten::squeeze",
            AtenOp::Unsqueeze(_) => "aten::unsqueeze",
            AtenOp::Expand(_) => "aten::expand",
            AtenOp::Identity => "aten::contiguous",
            AtenOp::Narrow { .. } => "aten::narrow",
            AtenOp::Select { .. } => "aten::select",
            AtenOp::Split { .. } => "aten::split_with_sizes",
            AtenOp::Cat(_) => "aten::cat",
            AtenOp::Stack(_) => "aten::stack",
            AtenOp::IndexSelect(_) => "aten::index_select",
            AtenOp::Gather(_) => "aten::gather",
            AtenOp::Where => "aten::where",
            AtenOp::MaskedFill(_) => "aten::masked_fill",
            AtenOp::Embedding => "aten::embedding",
        }
    }
}

/// Every name an [`AtenOp`] can carry: the list a consumer's table is
/// checked against.
pub const ATEN_OPS: &[&str] = &[
    "aten::add",
    "aten::sub",
    "aten::mul",
    "aten::div",
    "aten::pow",
    "aten::maximum",
    "aten::minimum",
    "aten::eq",
    "aten::lt",
    "aten::gt",
    "aten::add.Scalar",
    "aten::sub.Scalar",
    "aten::rsub.Scalar",
    "aten::mul.Scalar",
    "aten::div.Scalar",
    "aten::pow.Tensor_Scalar",
    "aten::pow.Scalar",
    "aten::neg",
    "aten::exp",
    "aten::log",
    "aten::log1p",
    "aten::sqrt",
    "aten::rsqrt",
    "aten::reciprocal",
    "aten::sin",
    "aten::cos",
    "aten::tanh",
    "aten::sigmoid",
    "aten::relu",
    "aten::silu",
    "aten::softplus",
    "aten::square",
    "aten::abs",
    "aten::erf",
    "aten::gelu",
    "aten::leaky_relu",
    "aten::elu",
    "aten::clamp",
    "aten::matmul",
    "aten::linear",
    "aten::convolution",
    "aten::conv_transpose2d",
    "aten::max_pool2d",
    "aten::avg_pool2d",
    "aten::adaptive_avg_pool2d",
    "aten::batch_norm",
    "aten::layer_norm",
    "aten::sum",
    "aten::mean",
    "aten::max",
    "aten::min",
    "aten::prod",
    "aten::logsumexp",
    "aten::softmax",
    "aten::log_softmax",
    "aten::reshape",
    "aten::flatten",
    "aten::permute",
    "aten::transpose",
    "aten::squeeze",
    "aten::unsqueeze",
    "aten::expand",
    "aten::contiguous",
    "aten::narrow",
    "aten::select",
    "aten::split_with_sizes",
    "aten::cat",
    "aten::stack",
    "aten::index_select",
    "aten::gather",
    "aten::where",
    "aten::masked_fill",
    "aten::embedding",
    "torchlet::binary.Scalar",
    "torchlet::rbinary.Scalar",
];

fn int(v: impl TryInto<i64>) -> Attr {
    Attr::Int(v.try_into().unwrap_or(i64::MAX))
}

fn ints<T: Copy + TryInto<i64>>(v: &[T]) -> Attr {
    Attr::Ints(
        v.iter()
            .map(|&x| x.try_into().unwrap_or(i64::MAX))
            .collect(),
    )
}

fn flag(v: bool) -> Attr {
    Attr::Int(i64::from(v))
}

impl BinaryOp {
    /// PyTorch's name of the arithmetic (`add`, `maximum`, `eq`).
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
            BinaryOp::Eq => "eq",
            BinaryOp::Lt => "lt",
            BinaryOp::Gt => "gt",
        }
    }
}

impl OpRecord for AtenOp {
    fn name(&self) -> &'static str {
        AtenOp::name(self)
    }

    fn attrs(&self) -> Vec<(&'static str, Attr)> {
        use AtenOp::*;
        match self {
            Binary(_) | Neg | Exp | Log | Log1p | Sqrt | Rsqrt | Reciprocal | Sin | Cos | Tanh
            | Sigmoid | Relu | Silu | Softplus | Square | Abs | Erf | MatMul | Linear | MaxAll
            | MinAll | Identity | Where | Embedding => vec![],
            Scalar {
                op,
                value,
                reversed,
            } => vec![
                ("op", Attr::Str(op.name().to_string())),
                ("value", Attr::Float(*value)),
                ("reversed", flag(*reversed)),
            ],
            Gelu { tanh } => vec![(
                "approximate",
                Attr::Str(if *tanh { "tanh" } else { "none" }.to_string()),
            )],
            LeakyRelu(slope) => vec![("negative_slope", Attr::Float(*slope))],
            Elu(alpha) => vec![("alpha", Attr::Float(*alpha))],
            Clamp { min, max } => {
                let mut a = Vec::new();
                if let Some(v) = min {
                    a.push(("min", Attr::Float(*v)));
                }
                if let Some(v) = max {
                    a.push(("max", Attr::Float(*v)));
                }
                a
            }
            Conv {
                stride,
                padding,
                dilation,
                groups,
            } => vec![
                ("stride", ints(stride)),
                ("padding", ints(padding)),
                ("dilation", ints(dilation)),
                ("groups", int(*groups)),
            ],
            ConvTranspose {
                stride,
                padding,
                output_padding,
                dilation,
                groups,
            } => vec![
                ("stride", ints(stride)),
                ("padding", ints(padding)),
                ("output_padding", ints(output_padding)),
                ("dilation", ints(dilation)),
                ("groups", int(*groups)),
            ],
            MaxPool2d {
                kernel,
                stride,
                padding,
            }
            | AvgPool2d {
                kernel,
                stride,
                padding,
            } => vec![
                ("kernel_size", ints(kernel)),
                ("stride", ints(stride)),
                ("padding", ints(padding)),
            ],
            AdaptiveAvgPool2d { output_size } => vec![("output_size", ints(output_size))],
            BatchNorm { training, eps } => {
                vec![("training", flag(*training)), ("eps", Attr::Float(*eps))]
            }
            LayerNorm {
                normalized_shape,
                eps,
            } => vec![
                ("normalized_shape", ints(normalized_shape)),
                ("eps", Attr::Float(*eps)),
            ],
            Sum { dims, keepdim } | Mean { dims, keepdim } => {
                let mut a = vec![("keepdim", flag(*keepdim))];
                if let Some(d) = dims {
                    a.insert(0, ("dim", ints(d)));
                }
                a
            }
            Prod { dim, keepdim } | LogSumExp { dim, keepdim } => {
                vec![("dim", int(*dim)), ("keepdim", flag(*keepdim))]
            }
            Softmax(dim) | LogSoftmax(dim) | Cat(dim) | Stack(dim) | IndexSelect(dim)
            | Gather(dim) | Unsqueeze(dim) => vec![("dim", int(*dim))],
            Reshape(shape) | Expand(shape) => vec![("shape", ints(shape))],
            Flatten { start, end } => vec![("start_dim", int(*start)), ("end_dim", int(*end))],
            Permute(dims) => vec![("dims", ints(dims))],
            Transpose(d0, d1) => vec![("dim0", int(*d0)), ("dim1", int(*d1))],
            Squeeze(dim) => dim.map(|d| vec![("dim", int(d))]).unwrap_or_default(),
            Narrow { dim, start, length } => vec![
                ("dim", int(*dim)),
                ("start", int(*start)),
                ("length", int(*length)),
            ],
            Select { dim, index } => vec![("dim", int(*dim)), ("index", int(*index))],
            Split { dim, sizes } => vec![("split_sizes", ints(sizes)), ("dim", int(*dim))],
            MaskedFill(value) => vec![("value", Attr::Float(*value))],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One record of every variant; the `match` below stops compiling when
    /// a variant is added without being listed here.
    fn every_variant() -> Vec<AtenOp> {
        use AtenOp::*;
        let v = |v: Vec<usize>| v;
        let mut all = vec![
            Neg,
            Exp,
            Log,
            Log1p,
            Sqrt,
            Rsqrt,
            Reciprocal,
            Sin,
            Cos,
            Tanh,
            Sigmoid,
            Relu,
            Silu,
            Softplus,
            Square,
            Abs,
            Erf,
            Gelu { tanh: true },
            LeakyRelu(0.1),
            Elu(1.0),
            Clamp {
                min: Some(0.0),
                max: None,
            },
            MatMul,
            Linear,
            Conv {
                stride: v(vec![1]),
                padding: v(vec![0]),
                dilation: v(vec![1]),
                groups: 1,
            },
            ConvTranspose {
                stride: v(vec![1]),
                padding: v(vec![0]),
                output_padding: v(vec![0]),
                dilation: v(vec![1]),
                groups: 1,
            },
            MaxPool2d {
                kernel: [2, 2],
                stride: [2, 2],
                padding: [0, 0],
            },
            AvgPool2d {
                kernel: [2, 2],
                stride: [2, 2],
                padding: [0, 0],
            },
            AdaptiveAvgPool2d {
                output_size: [1, 1],
            },
            BatchNorm {
                training: false,
                eps: 1e-5,
            },
            LayerNorm {
                normalized_shape: vec![4],
                eps: 1e-5,
            },
            Sum {
                dims: None,
                keepdim: false,
            },
            Mean {
                dims: Some(vec![-1]),
                keepdim: true,
            },
            MaxAll,
            MinAll,
            Prod {
                dim: 0,
                keepdim: false,
            },
            LogSumExp {
                dim: 1,
                keepdim: false,
            },
            Softmax(1),
            LogSoftmax(1),
            Reshape(vec![-1]),
            Flatten { start: 1, end: -1 },
            Permute(vec![1, 0]),
            Transpose(0, 1),
            Squeeze(None),
            Unsqueeze(0),
            Expand(vec![2, -1]),
            Identity,
            Narrow {
                dim: 0,
                start: 0,
                length: 1,
            },
            Select { dim: 0, index: 0 },
            Split {
                dim: 0,
                sizes: vec![1, 1],
            },
            Cat(0),
            Stack(0),
            IndexSelect(0),
            Gather(0),
            Where,
            MaskedFill(0.0),
            Embedding,
        ];
        for op in [
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Pow,
            BinaryOp::Maximum,
            BinaryOp::Minimum,
            BinaryOp::Eq,
            BinaryOp::Lt,
            BinaryOp::Gt,
        ] {
            all.push(Binary(op));
            for reversed in [false, true] {
                all.push(Scalar {
                    op,
                    value: 2.0,
                    reversed,
                });
            }
        }
        for op in &all {
            match op {
                Binary(_)
                | Scalar { .. }
                | Neg
                | Exp
                | Log
                | Log1p
                | Sqrt
                | Rsqrt
                | Reciprocal
                | Sin
                | Cos
                | Tanh
                | Sigmoid
                | Relu
                | Silu
                | Softplus
                | Square
                | Abs
                | Erf
                | Gelu { .. }
                | LeakyRelu(_)
                | Elu(_)
                | Clamp { .. }
                | MatMul
                | Linear
                | Conv { .. }
                | ConvTranspose { .. }
                | MaxPool2d { .. }
                | AvgPool2d { .. }
                | AdaptiveAvgPool2d { .. }
                | BatchNorm { .. }
                | LayerNorm { .. }
                | Sum { .. }
                | Mean { .. }
                | MaxAll
                | MinAll
                | Prod { .. }
                | LogSumExp { .. }
                | Softmax(_)
                | LogSoftmax(_)
                | Reshape(_)
                | Flatten { .. }
                | Permute(_)
                | Transpose(..)
                | Squeeze(_)
                | Unsqueeze(_)
                | Expand(_)
                | Identity
                | Narrow { .. }
                | Select { .. }
                | Split { .. }
                | Cat(_)
                | Stack(_)
                | IndexSelect(_)
                | Gather(_)
                | Where
                | MaskedFill(_)
                | Embedding => {}
            }
        }
        all
    }

    #[test]
    fn every_name_is_listed_and_every_listed_name_is_used() {
        let all = every_variant();
        for op in &all {
            assert!(
                ATEN_OPS.contains(&op.name()),
                "{} missing from ATEN_OPS",
                op.name()
            );
        }
        for name in ATEN_OPS {
            assert!(
                all.iter().any(|op| op.name() == *name),
                "ATEN_OPS lists {name}, which no record carries"
            );
        }
        let mut sorted = ATEN_OPS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ATEN_OPS.len(), "a name is listed twice");
    }

    #[test]
    fn names_and_attributes_follow_pytorch() {
        let conv = AtenOp::Conv {
            stride: vec![2],
            padding: vec![1],
            dilation: vec![1],
            groups: 3,
        };
        assert_eq!(conv.name(), "aten::convolution");
        assert_eq!(
            OpRecord::attrs(&conv),
            vec![
                ("stride", Attr::Ints(vec![2])),
                ("padding", Attr::Ints(vec![1])),
                ("dilation", Attr::Ints(vec![1])),
                ("groups", Attr::Int(3)),
            ]
        );
        let rsub = AtenOp::Scalar {
            op: BinaryOp::Sub,
            value: 1.0,
            reversed: true,
        };
        assert_eq!(rsub.name(), "aten::rsub.Scalar");
        assert_eq!(AtenOp::Binary(BinaryOp::Maximum).name(), "aten::maximum");
        assert_eq!(
            AtenOp::Sum {
                dims: None,
                keepdim: false
            }
            .name(),
            "aten::sum"
        );
    }
}
