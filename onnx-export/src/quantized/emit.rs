//! The float ONNX ops of a QDQ graph, shared by the quantized ops and the
//! float ones around them, with the shapes they give for the export's
//! input shape (checked here, so a bad model fails with its node's name).

use torchlet_quantize::{Node, Op, QNode};
use torchlet_tensor::{DType, Tensor};

use super::{Builder, Val};
use crate::error::{OnnxError, Result};
use crate::ir::{Attr, OnnxConstants};
use crate::lower::{norm, reshape};
use crate::lower_nn::{ints, pads};
use crate::proto::tensor_proto::DataType;

/// A weighted op's operands: the float weight value (an initializer or a
/// DequantizeLinear's output), its shape, the float bias as the op's input
/// or as an `Add` after it (shaped to broadcast over the output).
pub(super) struct Weights {
    pub w: String,
    pub shape: Vec<usize>,
    pub bias: Option<String>,
    pub bias_after: Option<String>,
}

/// A convolution's geometry.
pub(super) struct ConvGeometry {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

/// An op without weights.
pub(super) enum Plain<'a> {
    Relu,
    MaxPool([usize; 2], [usize; 2], [usize; 2]),
    AdaptiveAvg([usize; 2]),
    Flatten(i64, i64),
    Reshape(&'a [i64]),
    Add,
    Cat(i64),
}

/// A float result: the value's name and shape.
pub(super) type Out = (String, Vec<usize>);

impl Builder {
    /// `y + bias_after` when the bias is added after the op.
    fn add_bias(&mut self, y: String, bias_after: Option<String>) -> String {
        match bias_after {
            Some(b) => self.g.op("Add", vec![y, b], vec![]),
            None => y,
        }
    }

    /// `(x - mean) / std` per channel (dim 1), as `torchlet export` folds a
    /// run's normalization: `Sub` and `Div` by `[1, C, 1, ...]` constants.
    pub(super) fn normalize(
        &mut self,
        x: String,
        shape: &[usize],
        norm: &(Vec<f32>, Vec<f32>),
    ) -> Result<String> {
        let bad = |m: String| Err(OnnxError::Options(format!("normalization: {m}")));
        let Some(&c) = shape.get(1) else {
            return bad(format!("the input {shape:?} has no channel dim (dim 1)"));
        };
        if norm.1.contains(&0.0) {
            return bad("std must not be 0".into());
        }
        let mut dims = vec![1; shape.len()];
        dims[1] = c;
        let mut names = Vec::new();
        for (v, what) in [(&norm.0, "mean"), (&norm.1, "std")] {
            let v = match v.len() {
                1 => vec![v[0]; c],
                n if n == c => v.clone(),
                n => return bad(format!("{what} has {n} values for {c} input channels")),
            };
            names.push(self.g.constant(Tensor::from_vec(v, &dims)?));
        }
        let y = self.g.op("Sub", vec![x, names[0].clone()], vec![]);
        Ok(self.g.op("Div", vec![y, names[1].clone()], vec![]))
    }

    /// `Conv` of an `[N, C, H, W]` input.
    pub(super) fn conv(
        &mut self,
        node: &QNode,
        x: &Val,
        w: Weights,
        g: &ConvGeometry,
    ) -> Result<Out> {
        let (s, p, d, ws) = (g.stride, g.padding, g.dilation, &w.shape);
        let fits = x.shape.len() == 4 && ws.len() == 4 && x.shape[1] == ws[1] * g.groups;
        let out = |i: usize| {
            let eff = d[i] * ws[i + 2].checked_sub(1)? + 1;
            let n = (x.shape[i + 2] + 2 * p[i]).checked_sub(eff)?;
            (s[i] > 0).then(|| n / s[i] + 1)
        };
        let Some((h, wd)) = fits.then(|| out(0).zip(out(1))).flatten() else {
            let why = format!("input {:?} does not fit the weight {ws:?}", x.shape);
            return Err(self.err(node, why));
        };
        let attrs = vec![
            ("kernel_shape", ints(&ws[2..])),
            ("strides", ints(&s)),
            ("pads", pads(&p)),
            ("dilations", ints(&d)),
            ("group", Attr::Int(g.groups as i64)),
        ];
        let shape = vec![x.shape[0], ws[0], h, wd];
        let ins = [vec![x.name.clone(), w.w], w.bias.into_iter().collect()].concat();
        let y = self.g.op("Conv", ins, attrs);
        Ok((self.add_bias(y, w.bias_after), shape))
    }

    /// `x @ Wᵀ + b`: one Gemm (transB) for a 2-d input, else Transpose +
    /// MatMul + Add, as the float exporter writes `linear`.
    pub(super) fn linear(&mut self, node: &QNode, x: &Val, w: Weights) -> Result<Out> {
        let ws = &w.shape;
        if ws.len() != 2 || x.shape.last() != Some(&ws[1]) {
            let why = format!("input {:?} does not fit the weight {ws:?}", x.shape);
            return Err(self.err(node, why));
        }
        let mut shape = x.shape.clone();
        *shape.last_mut().expect("checked above") = ws[0];
        if x.shape.len() == 2 {
            let ins = [vec![x.name.clone(), w.w], w.bias.into_iter().collect()].concat();
            let y = self.g.op("Gemm", ins, vec![("transB", Attr::Int(1))]);
            return Ok((self.add_bias(y, w.bias_after), shape));
        }
        let perm = ("perm", Attr::Ints(vec![1, 0]));
        let wt = self.g.op("Transpose", vec![w.w], vec![perm]);
        let y = self.g.op("MatMul", vec![x.name.clone(), wt], vec![]);
        let y = self.add_bias(y, w.bias.or(w.bias_after));
        Ok((y, shape))
    }

    /// An op without weights on float values.
    pub(super) fn plain(&mut self, node: &QNode, op: Plain<'_>, ins: &[Val]) -> Result<Out> {
        let (x, s) = (ins[0].name.clone(), ins[0].shape.clone());
        let rank = s.len();
        let bad = |b: &Self, what: String| {
            let shapes: Vec<&Vec<usize>> = ins.iter().map(|v| &v.shape).collect();
            b.err(node, format!("{what} (input shapes {shapes:?})"))
        };
        Ok(match op {
            Plain::Relu => (self.g.op("Relu", vec![x], vec![]), s),
            Plain::MaxPool(k, st, p) => {
                let out = |i: usize| {
                    let n = (s.get(i + 2)? + 2 * p[i]).checked_sub(k[i])?;
                    (st[i] > 0).then(|| n / st[i] + 1)
                };
                let (4, Some(h), Some(w)) = (rank, out(0), out(1)) else {
                    return Err(bad(self, format!("the window {k:?} does not fit")));
                };
                let attrs = vec![
                    ("kernel_shape", ints(&k)),
                    ("strides", ints(&st)),
                    ("pads", pads(&p)),
                ];
                (self.g.op("MaxPool", vec![x], attrs), vec![s[0], s[1], h, w])
            }
            Plain::AdaptiveAvg(o) => {
                if rank != 4 || o.contains(&0) {
                    return Err(bad(
                        self,
                        format!(
                            "expected an [N, C, H, W] input and a positive output size, got {o:?}"
                        ),
                    ));
                }
                let out = vec![s[0], s[1], o[0], o[1]];
                if o == [1, 1] {
                    (self.g.op("GlobalAveragePool", vec![x], vec![]), out)
                } else if s[2] % o[0] == 0 && s[3] % o[1] == 0 {
                    // Equal windows: an ordinary average pooling (for this input size).
                    let k = [s[2] / o[0], s[3] / o[1]];
                    let attrs = vec![("kernel_shape", ints(&k)), ("strides", ints(&k))];
                    (self.g.op("AveragePool", vec![x], attrs), out)
                } else {
                    let hw = &s[2..];
                    let why = format!(
                        "input [H, W] = {hw:?} is not a multiple of the output size {o:?}, \
                         so the windows differ in size"
                    );
                    return Err(self.err(node, why));
                }
            }
            Plain::Flatten(start, end) => {
                let (a, e) = (norm(start, rank.max(1)), norm(end, rank.max(1)));
                if a > e || e >= rank {
                    return Err(bad(self, format!("cannot flatten dims {start}..={end}")));
                }
                let mut out = s[..a].to_vec();
                out.push(s[a..=e].iter().product());
                out.extend_from_slice(&s[e + 1..]);
                if a == 1 && e + 1 == rank {
                    let axis = ("axis", Attr::Int(1));
                    (self.g.op("Flatten", vec![x], vec![axis]), out)
                } else {
                    (reshape(&mut self.g, x, &s, &out), out)
                }
            }
            Plain::Reshape(target) => {
                let total: usize = s.iter().product();
                let known: usize = target
                    .iter()
                    .filter_map(|&d| usize::try_from(d).ok())
                    .product();
                let fill = |d: i64| match d {
                    -1 if known > 0 => Some(total / known),
                    d => usize::try_from(d).ok(),
                };
                match target
                    .iter()
                    .map(|&d| fill(d))
                    .collect::<Option<Vec<usize>>>()
                {
                    Some(out) if out.iter().product::<usize>() == total => {
                        (reshape(&mut self.g, x, &s, &out), out)
                    }
                    _ => return Err(bad(self, format!("cannot reshape to {target:?}"))),
                }
            }
            Plain::Add => {
                let Some(out) = broadcast(&s, &ins[1].shape) else {
                    return Err(bad(self, "the shapes do not broadcast".into()));
                };
                (self.g.op("Add", vec![x, ins[1].name.clone()], vec![]), out)
            }
            Plain::Cat(dim) => {
                let a = norm(dim, rank);
                let same = |v: &Val| {
                    v.shape.len() == rank && (0..rank).all(|i| i == a || v.shape[i] == s[i])
                };
                if a >= rank || !ins.iter().all(same) {
                    return Err(bad(self, format!("cannot concatenate along dim {dim}")));
                }
                let mut out = s.clone();
                out[a] = ins.iter().map(|v| v.shape[a]).sum();
                let names = ins.iter().map(|v| v.name.clone()).collect();
                let axis = ("axis", Attr::Int(a as i64));
                (self.g.op("Concat", names, vec![axis]), out)
            }
        })
    }

    /// A float op outside the quantized region (parameters as float
    /// initializers named after the module).
    pub(super) fn float(&mut self, node: &QNode, n: &Node, ins: &[Val]) -> Result<Val> {
        let (m, x) = (&node.name, &ins[0]);
        let (y, shape) = match &n.op {
            Op::Conv2d {
                weight,
                bias,
                stride,
                padding,
                dilation,
                groups,
            } => {
                let w = Weights {
                    w: self.init(&format!("{m}.weight"), weight.data().contiguous()),
                    shape: weight.shape(),
                    bias: self.bias(m, bias.as_ref().map(|b| b.data()).as_ref()),
                    bias_after: None,
                };
                let geometry = ConvGeometry {
                    stride: *stride,
                    padding: *padding,
                    dilation: *dilation,
                    groups: *groups,
                };
                self.conv(node, x, w, &geometry)?
            }
            Op::Linear { weight, bias } => {
                let w = Weights {
                    w: self.init(&format!("{m}.weight"), weight.data().contiguous()),
                    shape: weight.shape(),
                    bias: self.bias(m, bias.as_ref().map(|b| b.data()).as_ref()),
                    bias_after: None,
                };
                self.linear(node, x, w)?
            }
            Op::BatchNorm {
                running_mean,
                running_var,
                weight,
                bias,
                eps,
            } => {
                let c = running_mean.numel();
                let mut param = |name: &str, v: Option<Tensor>, fill: f64| {
                    let t = v.unwrap_or_else(|| Tensor::full_dtype(&[c], fill, DType::F32));
                    self.init(&format!("{m}.{name}"), t.contiguous())
                };
                let args = vec![
                    x.name.clone(),
                    param("weight", weight.as_ref().map(|w| w.data()), 1.0),
                    param("bias", bias.as_ref().map(|b| b.data()), 0.0),
                    param("running_mean", Some(running_mean.clone()), 0.0),
                    param("running_var", Some(running_var.clone()), 1.0),
                ];
                let eps = vec![("epsilon", Attr::Float(*eps))];
                let y = self.g.op("BatchNormalization", args, eps);
                (y, x.shape.clone())
            }
            Op::QuantStub | Op::DeQuantStub => (x.name.clone(), x.shape.clone()),
            Op::Relu => self.plain(node, Plain::Relu, ins)?,
            Op::MaxPool2d {
                kernel,
                stride,
                padding,
            } => self.plain(node, Plain::MaxPool(*kernel, *stride, *padding), ins)?,
            Op::AdaptiveAvgPool2d { output_size } => {
                self.plain(node, Plain::AdaptiveAvg(*output_size), ins)?
            }
            Op::Flatten { start, end } => self.plain(node, Plain::Flatten(*start, *end), ins)?,
            Op::Reshape(target) => self.plain(node, Plain::Reshape(target), ins)?,
            Op::Add => self.plain(node, Plain::Add, ins)?,
            Op::Cat(dim) => self.plain(node, Plain::Cat(*dim), ins)?,
            // Captured for dynamic quantization (text models).
            Op::Embedding { weight } => {
                let w = self.init(&format!("{m}.weight"), weight.data().contiguous());
                let y = self.g.op(
                    "Gather",
                    vec![w, x.name.clone()],
                    vec![("axis", Attr::Int(0))],
                );
                let mut shape = x.shape.clone();
                shape.push(weight.shape()[1]);
                (y, shape)
            }
            Op::LengthsFromPadding { pad } => {
                (self.lengths_from_padding(&x.name, *pad), vec![x.shape[0]])
            }
            Op::Select { dim, index } => {
                let rank = x.shape.len();
                let d = norm(*dim, rank);
                let size = x.shape.get(d).copied().unwrap_or(0) as i64;
                if d >= rank || !(-size..size).contains(index) {
                    let why = format!("index {index} of dim {dim} is out of range");
                    return Err(self.err(node, format!("{why} (input shape {:?})", x.shape)));
                }
                let i = self.g.scalar(*index as f64, DType::I64);
                let axis = ("axis", Attr::Int(d as i64));
                let y = self.g.op("Gather", vec![x.name.clone(), i], vec![axis]);
                let mut shape = x.shape.clone();
                shape.remove(d);
                (y, shape)
            }
            Op::Lstm(_) => {
                let why = "a float LSTM: quantize it (quantize_dynamic with DynamicKind::Lstm)";
                return Err(self.err(node, why));
            }
        };
        let y = if n.relu {
            self.g.op("Relu", vec![y], vec![])
        } else {
            y
        };
        Ok(Val::float(y, shape))
    }
}

impl Builder {
    /// Int64 `[N]`: each row of right-padded `ids` `[N, T]`, one past its
    /// last token that is not `pad` (at least 1), as
    /// `torchlet::lengths_from_padding`.
    fn lengths_from_padding(&mut self, ids: &str, pad: i64) -> String {
        let p = self.g.scalar(pad as f64, DType::I64);
        let eq = self.g.op("Equal", vec![ids.to_string(), p], vec![]);
        let keep = self.g.op("Not", vec![eq], vec![]);
        let to = vec![("to", Attr::Int(DataType::Int64 as i64))];
        let keep = self.g.op("Cast", vec![keep], to);
        // Positions 1..=T, zeroed at padding: the row max is the length.
        let one = self.g.scalar(1.0, DType::I64);
        let shape = self.g.op("Shape", vec![ids.to_string()], vec![]);
        let t = self.g.op(
            "Gather",
            vec![shape, one.clone()],
            vec![("axis", Attr::Int(0))],
        );
        let limit = self.g.op("Add", vec![t, one.clone()], vec![]);
        let positions = self
            .g
            .op("Range", vec![one.clone(), limit, one.clone()], vec![]);
        let masked = self.g.op("Mul", vec![keep, positions], vec![]);
        let last = if self.opset >= 18 {
            let axes = self.g.ints(&[1]);
            let keepdims = vec![("keepdims", Attr::Int(0))];
            self.g.op("ReduceMax", vec![masked, axes], keepdims)
        } else {
            let attrs = vec![("axes", Attr::Ints(vec![1])), ("keepdims", Attr::Int(0))];
            self.g.op("ReduceMax", vec![masked], attrs)
        };
        self.g.op("Max", vec![last, one], vec![])
    }
}

/// The broadcast shape of two shapes (numpy's rule), `None` if they clash.
fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| (i + s.len()).checked_sub(n).map_or(1, |j| s[j]);
    (0..n)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y || y == 1 => Some(x),
            (1, y) => Some(y),
            _ => None,
        })
        .collect()
}
