//! A small ONNX interpreter for the hermetic tests: decodes nothing itself
//! (takes a `ModelProto`), keeps values by name and implements ONNX's
//! semantics of the ops the check models use on torchlet tensors — read
//! from the ONNX operator docs, not from the exporter, so an attribute or
//! gate-order mistake in the exporter shows up as a wrong number.
#![allow(dead_code)]

use std::collections::HashMap;

use torchlet_onnx::proto::{AttributeProto, ModelProto, NodeProto, TensorProto};
use torchlet_tensor::{DType, Tensor};

type R<T> = Result<T, String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// An initializer as a tensor.
pub fn tensor_of(t: &TensorProto) -> R<Tensor> {
    let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    let raw = t
        .raw_data
        .as_deref()
        .ok_or("initializer without raw_data")?;
    Ok(match t.data_type() {
        1 => {
            let v = raw
                .chunks(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            Tensor::from_vec::<f32>(v, &shape).map_err(err)?
        }
        7 => {
            let v = raw
                .chunks(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect();
            Tensor::from_vec::<i64>(v, &shape).map_err(err)?
        }
        11 => {
            let v = raw
                .chunks(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect();
            Tensor::from_vec::<f64>(v, &shape).map_err(err)?
        }
        9 => {
            Tensor::from_vec::<bool>(raw.iter().map(|&b| b != 0).collect(), &shape).map_err(err)?
        }
        // uint8 and int8 are held as int64 here ([`run`] keeps their type).
        2 => {
            Tensor::from_vec::<i64>(raw.iter().map(|&b| b as i64).collect(), &shape).map_err(err)?
        }
        3 => Tensor::from_vec::<i64>(raw.iter().map(|&b| b as i8 as i64).collect(), &shape)
            .map_err(err)?,
        other => return Err(format!("data type {other}")),
    })
}

fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name() == name)
}

fn int(n: &NodeProto, name: &str, default: i64) -> i64 {
    attr(n, name).map_or(default, |a| a.i())
}

fn ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}

fn pair(v: &[i64]) -> [usize; 2] {
    [v[0] as usize, v[1] as usize]
}

fn i64s(t: &Tensor) -> Vec<i64> {
    t.to_vec::<i64>().unwrap()
}

/// Runs `model` on one input; returns the first output.
pub fn run(model: &ModelProto, input: &Tensor) -> R<Tensor> {
    let g = model.graph.as_ref().ok_or("no graph")?;
    let mut v: HashMap<String, Tensor> = HashMap::new();
    // The ONNX type of the 8-bit values (held as int64): 2 uint8, 3 int8.
    let mut int8: HashMap<String, i32> = HashMap::new();
    for t in &g.initializer {
        v.insert(t.name().to_string(), tensor_of(t)?);
        if matches!(t.data_type(), 2 | 3) {
            int8.insert(t.name().to_string(), t.data_type());
        }
    }
    v.insert(g.input[0].name().to_string(), input.clone());
    run_nodes(&g.node, &mut v, &mut int8)?;
    v.remove(g.output[0].name()).ok_or("no output".into())
}

/// Runs `nodes` in order on the values `v` (by name), adding theirs.
fn run_nodes(
    nodes: &[NodeProto],
    v: &mut HashMap<String, Tensor>,
    int8: &mut HashMap<String, i32>,
) -> R<()> {
    for n in nodes {
        let get = |i: usize| -> R<Option<Tensor>> {
            match n.input.get(i).map(String::as_str) {
                None | Some("") => Ok(None),
                Some(name) => v
                    .get(name)
                    .cloned()
                    .map(Some)
                    .ok_or(format!("no value {name}")),
            }
        };
        let x = |i: usize| -> R<Tensor> {
            get(i)?.ok_or(format!("{}: missing input {i}", n.op_type()))
        };
        let outs = if n.op_type() == "QuantizeLinear" {
            // The output type is the zero point's (uint8 when absent).
            let ty = n
                .input
                .get(2)
                .and_then(|z| int8.get(z))
                .copied()
                .unwrap_or(2);
            int8.insert(n.output[0].clone(), ty);
            quantize_linear(n, &x(0)?, &x(1)?, get(2)?, ty)
        } else if n.op_type() == "Scan" {
            let ins = (0..n.input.len()).map(x).collect::<R<Vec<_>>>()?;
            scan(n, ins, v, int8)
        } else {
            eval(n, &x, &get)
        };
        let outs = outs.map_err(|e| format!("{} {}: {e}", n.op_type(), n.name()))?;
        for (name, t) in n.output.iter().zip(outs) {
            v.insert(name.clone(), t);
        }
    }
    Ok(())
}

/// ONNX `Scan` (opset 9+): the body runs once per slice of the scan
/// inputs along axis 0 (backwards where `scan_input_directions` says 1),
/// reading the outer values by name; its state outputs feed the next
/// step, its scan outputs are stacked (prepended where reversed).
fn scan(
    n: &NodeProto,
    ins: Vec<Tensor>,
    outer: &HashMap<String, Tensor>,
    int8: &HashMap<String, i32>,
) -> R<Vec<Tensor>> {
    let body = attr(n, "body")
        .and_then(|a| a.g.as_ref())
        .ok_or("no body")?;
    let m = int(n, "num_scan_inputs", 0) as usize;
    let states = ins.len() - m;
    let k = body.output.len() - states;
    let dir_in = ints(n, "scan_input_directions").unwrap_or(vec![0; m]);
    let dir_out = ints(n, "scan_output_directions").unwrap_or(vec![0; k]);
    let steps = ins[states].shape()[0];
    let mut state = ins[..states].to_vec();
    let mut outs: Vec<Vec<Tensor>> = vec![Vec::new(); k];
    for s in 0..steps {
        let (mut bv, mut b8) = (outer.clone(), int8.clone());
        for (i, t) in state.iter().enumerate() {
            bv.insert(body.input[i].name().to_string(), t.clone());
        }
        for j in 0..m {
            let t = if dir_in[j] == 1 { steps - 1 - s } else { s };
            let slice = ins[states + j].select(0, t as i64).map_err(err)?;
            bv.insert(body.input[states + j].name().to_string(), slice);
        }
        run_nodes(&body.node, &mut bv, &mut b8)?;
        let out = |i: usize| -> R<Tensor> {
            bv.get(body.output[i].name())
                .cloned()
                .ok_or("no body output".into())
        };
        state = (0..states).map(out).collect::<R<_>>()?;
        for (j, o) in outs.iter_mut().enumerate() {
            o.push(out(states + j)?);
        }
    }
    for (j, o) in outs.iter_mut().enumerate() {
        if dir_out[j] == 1 {
            o.reverse();
        }
    }
    let stacked = outs.iter().map(|o| Tensor::stack(o, 0).map_err(err));
    state.into_iter().map(Ok).chain(stacked).collect()
}

fn eval(
    n: &NodeProto,
    x: &dyn Fn(usize) -> R<Tensor>,
    get: &dyn Fn(usize) -> R<Option<Tensor>>,
) -> R<Vec<Tensor>> {
    let one = |t: Tensor| Ok(vec![t]);
    let rank = |t: &Tensor| t.dim() as i64;
    let axis_of = |t: &Tensor, a: i64| if a < 0 { a + rank(t) } else { a };
    match n.op_type() {
        "Identity" => one(x(0)?),
        "Relu" => one(x(0)?.relu()),
        "Sigmoid" => one(x(0)?.sigmoid()),
        "Tanh" => one(x(0)?.tanh()),
        "Sqrt" => one(x(0)?.sqrt()),
        "Round" => {
            // Half to even, as ONNX says.
            let t = x(0)?;
            let v = t.to_vec::<f32>().map_err(err)?;
            let r = v.iter().map(|v| v.round_ties_even()).collect();
            one(Tensor::from_vec::<f32>(r, t.shape()).map_err(err)?)
        }
        "Add" => one(x(0)?.add(&x(1)?).map_err(err)?),
        "Sub" => one(x(0)?.sub(&x(1)?).map_err(err)?),
        "Mul" => one(x(0)?.mul(&x(1)?).map_err(err)?),
        "Div" => one(x(0)?.div(&x(1)?).map_err(err)?),
        "MatMul" => one(x(0)?.matmul(&x(1)?).map_err(err)?),
        "Gemm" => {
            let mut a = x(0)?;
            let mut b = x(1)?;
            if int(n, "transA", 0) == 1 {
                a = a.t().map_err(err)?;
            }
            if int(n, "transB", 0) == 1 {
                b = b.t().map_err(err)?;
            }
            let y = a.matmul(&b).map_err(err)?;
            one(match get(2)? {
                Some(c) => y.add(&c).map_err(err)?,
                None => y,
            })
        }
        "Flatten" => {
            let t = x(0)?;
            let a = axis_of(&t, int(n, "axis", 1)) as usize;
            let outer: usize = t.shape()[..a].iter().product();
            one(t.reshape(&[outer as i64, -1]).map_err(err)?)
        }
        "Reshape" => {
            let t = x(0)?;
            let mut s = i64s(&x(1)?);
            for (i, d) in s.iter_mut().enumerate() {
                if *d == 0 {
                    *d = t.shape()[i] as i64;
                }
            }
            one(t.reshape(&s).map_err(err)?)
        }
        "Transpose" => {
            let t = x(0)?;
            let perm = ints(n, "perm").unwrap_or_else(|| (0..rank(&t)).rev().collect());
            one(t.permute(&perm).map_err(err)?.contiguous())
        }
        "Unsqueeze" => {
            let mut t = x(0)?;
            let mut axes = i64s(&x(1)?);
            let out_rank = rank(&t) + axes.len() as i64;
            axes.iter_mut()
                .for_each(|a| *a = if *a < 0 { *a + out_rank } else { *a });
            axes.sort_unstable();
            for a in axes {
                t = t.unsqueeze(a).map_err(err)?;
            }
            one(t)
        }
        "Concat" => {
            let parts: Vec<Tensor> = (0..n.input.len()).map(x).collect::<R<_>>()?;
            let a = axis_of(&parts[0], int(n, "axis", 0));
            one(Tensor::cat(&parts, a).map_err(err)?)
        }
        "Split" => {
            let t = x(0)?;
            let a = axis_of(&t, int(n, "axis", 0));
            let sizes = i64s(&x(1)?);
            let mut start = 0;
            let mut out = Vec::new();
            for s in sizes {
                out.push(t.narrow(a, start, s as usize).map_err(err)?.contiguous());
                start += s;
            }
            Ok(out)
        }
        "Slice" => {
            let mut t = x(0)?;
            let (starts, ends) = (i64s(&x(1)?), i64s(&x(2)?));
            let axes = match get(3)? {
                Some(a) => i64s(&a),
                None => (0..starts.len() as i64).collect(),
            };
            for ((s, e), a) in starts.iter().zip(&ends).zip(&axes) {
                let a = axis_of(&t, *a);
                let size = t.shape()[a as usize] as i64;
                let clamp = |v: i64| (if v < 0 { v + size } else { v }).clamp(0, size);
                let (s, e) = (clamp(*s), clamp(*e));
                t = t.narrow(a, s, (e - s).max(0) as usize).map_err(err)?;
            }
            one(t.contiguous())
        }
        "Gather" => {
            let (data, idx) = (x(0)?, x(1)?);
            let a = axis_of(&data, int(n, "axis", 0));
            let size = data.shape()[a as usize] as i64;
            let flat: Vec<i64> = i64s(&idx)
                .into_iter()
                .map(|i| if i < 0 { i + size } else { i })
                .collect();
            let picked = data
                .index_select(a, &Tensor::from_vec(flat, &[idx.numel()]).map_err(err)?)
                .map_err(err)?;
            let mut shape: Vec<i64> = data.shape()[..a as usize]
                .iter()
                .map(|&d| d as i64)
                .collect();
            shape.extend(idx.shape().iter().map(|&d| d as i64));
            shape.extend(data.shape()[a as usize + 1..].iter().map(|&d| d as i64));
            one(picked.reshape(&shape).map_err(err)?)
        }
        "Softmax" => {
            let t = x(0)?;
            one(t.softmax(int(n, "axis", -1)).map_err(err)?)
        }
        "ReduceMean" => {
            let t = x(0)?;
            let axes = match get(1)? {
                Some(a) => i64s(&a),
                None => ints(n, "axes").unwrap_or_default(),
            };
            one(t
                .mean_dims(&axes, int(n, "keepdims", 1) == 1)
                .map_err(err)?)
        }
        "ReduceSum" | "ReduceMax" | "ReduceMin" => {
            let t = x(0)?;
            let axes = match get(1)? {
                Some(a) => i64s(&a),
                None => ints(n, "axes").unwrap_or_default(),
            };
            let keep = int(n, "keepdims", 1) == 1;
            if n.op_type() == "ReduceSum" {
                one(t.sum_dims(&axes, keep).map_err(err)?)
            } else if axes.is_empty() && !keep {
                // Every axis, to a scalar.
                let v = t.to_vec::<f32>().map_err(err)?;
                let pick = |a: f32, b: f32| match n.op_type() {
                    "ReduceMax" => a.max(b),
                    _ => a.min(b),
                };
                let start = if n.op_type() == "ReduceMax" {
                    f32::NEG_INFINITY
                } else {
                    f32::INFINITY
                };
                let r = v.into_iter().fold(start, pick);
                one(Tensor::from_vec(vec![r], &[]).map_err(err)?)
            } else if n.op_type() == "ReduceMin" {
                Err("ReduceMin over some axes".into())
            } else {
                let [axis] = axes[..] else {
                    return Err("ReduceMax over several axes".into());
                };
                one(t.max_dim(axis, keep).map_err(err)?.0)
            }
        }
        "Equal" => one(x(0)?.eq(&x(1)?).map_err(err)?),
        "Greater" => one(x(0)?.gt(&x(1)?).map_err(err)?),
        "Less" => one(x(1)?.gt(&x(0)?).map_err(err)?),
        "Expand" => {
            // Numpy broadcasting of the input and the target shape.
            let t = x(0)?;
            let want = i64s(&x(1)?);
            let rank = want.len().max(t.dim());
            let dim = |s: &[i64], i: usize| (i + s.len()).checked_sub(rank).map_or(1, |j| s[j]);
            let have: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
            let out: Vec<i64> = (0..rank)
                .map(|i| dim(&have, i).max(dim(&want, i)))
                .collect();
            one(t.expand(&out).map_err(err)?.contiguous())
        }
        "GreaterOrEqual" => one(x(0)?.ge(&x(1)?).map_err(err)?),
        "Not" => one(x(0)?.logical_not()),
        "Max" => one(x(0)?.maximum(&x(1)?).map_err(err)?),
        "Min" => one(x(0)?.minimum(&x(1)?).map_err(err)?),
        "Neg" => one(x(0)?.neg()),
        "Reciprocal" => one(x(0)?.reciprocal()),
        "Clip" => {
            let scalar = |i: usize| -> R<Option<f32>> {
                get(i)?
                    .map(|t| Ok(t.to_vec::<f32>().map_err(err)?[0]))
                    .transpose()
            };
            let (lo, hi) = (scalar(1)?, scalar(2)?);
            let t = x(0)?;
            let v = t.to_vec::<f32>().map_err(err)?;
            let c = v
                .iter()
                .map(|&v| {
                    v.max(lo.unwrap_or(f32::NEG_INFINITY))
                        .min(hi.unwrap_or(f32::INFINITY))
                })
                .collect();
            one(Tensor::from_vec::<f32>(c, t.shape()).map_err(err)?)
        }
        "Where" => one(Tensor::where_cond(&x(0)?, &x(1)?, &x(2)?).map_err(err)?),
        "Cast" => {
            let to = match int(n, "to", 0) {
                1 => DType::F32,
                2 | 3 | 6 | 7 => DType::I64, // (u)int8 and int32 are held as int64 here
                9 => DType::Bool,
                11 => DType::F64,
                other => return Err(format!("Cast to type {other}")),
            };
            one(x(0)?.to_dtype(to))
        }
        "Shape" => {
            let dims: Vec<i64> = x(0)?.shape().iter().map(|&d| d as i64).collect();
            let rank = dims.len();
            one(Tensor::from_vec(dims, &[rank]).map_err(err)?)
        }
        "Range" => {
            let scalar = |i: usize| -> R<i64> { Ok(i64s(&x(i)?)[0]) };
            let (start, limit, delta) = (scalar(0)?, scalar(1)?, scalar(2)?);
            one(Tensor::arange(start, limit, delta).map_err(err)?)
        }
        "Conv" => {
            let (t, w) = (x(0)?, x(1)?);
            let pads = ints(n, "pads").unwrap_or(vec![0; 4]);
            if pads[0] != pads[2] || pads[1] != pads[3] {
                return Err("asymmetric pads".into());
            }
            let s = ints(n, "strides").unwrap_or(vec![1, 1]);
            let d = ints(n, "dilations").unwrap_or(vec![1, 1]);
            let b = get(2)?;
            let y = t
                .conv2d(
                    &w,
                    b.as_ref(),
                    pair(&s),
                    pair(&pads),
                    pair(&d),
                    int(n, "group", 1) as usize,
                )
                .map_err(err)?;
            one(y)
        }
        "MaxPool" => {
            let t = x(0)?;
            let k = ints(n, "kernel_shape").ok_or("kernel_shape")?;
            let s = ints(n, "strides").unwrap_or(vec![1, 1]);
            let p = ints(n, "pads").unwrap_or(vec![0; 4]);
            one(t.max_pool2d(pair(&k), pair(&s), pair(&p)).map_err(err)?)
        }
        "GlobalAveragePool" => one(x(0)?.mean_dims(&[2, 3], true).map_err(err)?),
        "AveragePool" => {
            let t = x(0)?;
            let k = ints(n, "kernel_shape").ok_or("kernel_shape")?;
            let s = ints(n, "strides").unwrap_or(vec![1, 1]);
            let p = ints(n, "pads").unwrap_or(vec![0; 4]);
            one(t.avg_pool2d(pair(&k), pair(&s), pair(&p)).map_err(err)?)
        }
        "BatchNormalization" => {
            // y = (x - mean) / sqrt(var + eps) * scale + B, per channel
            let t = x(0)?;
            let c = t.shape()[1] as i64;
            let view = |v: Tensor| v.reshape(&[1, c, 1, 1]);
            let eps = attr(n, "epsilon").map_or(1e-5, |a| a.f());
            let (scale, b, mean, var) = (x(1)?, x(2)?, x(3)?, x(4)?);
            let denom = var.add_scalar(eps as f64).sqrt();
            let y = t
                .sub(&view(mean).map_err(err)?)
                .map_err(err)?
                .div(&view(denom).map_err(err)?)
                .map_err(err)?
                .mul(&view(scale).map_err(err)?)
                .map_err(err)?
                .add(&view(b).map_err(err)?)
                .map_err(err)?;
            one(y)
        }
        "LayerNormalization" => {
            let t = x(0)?;
            let a = axis_of(&t, int(n, "axis", -1));
            let axes: Vec<i64> = (a..rank(&t)).collect();
            let eps = attr(n, "epsilon").map_or(1e-5, |a| a.f()) as f64;
            let mean = t.mean_dims(&axes, true).map_err(err)?;
            let d = t.sub(&mean).map_err(err)?;
            let var = d
                .mul(&d)
                .map_err(err)?
                .mean_dims(&axes, true)
                .map_err(err)?;
            let mut y = d.div(&var.add_scalar(eps).sqrt()).map_err(err)?;
            y = y.mul(&x(1)?).map_err(err)?;
            if let Some(b) = get(2)? {
                y = y.add(&b).map_err(err)?;
            }
            one(y)
        }
        "LSTM" | "GRU" | "RNN" => recurrent(n, x, get),
        "DequantizeLinear" => {
            // y = (x - zero_point) * scale, per tensor or along `axis`.
            let q = x(0)?;
            let (scale, zp) = (x(1)?, get(2)?);
            let ch = channel_of(q.shape(), &scale, int(n, "axis", 1));
            let s = scale.to_vec::<f32>().map_err(err)?;
            let z = zp.map_or(vec![0; s.len()], |z| i64s(&z));
            let y = i64s(&q)
                .iter()
                .enumerate()
                .map(|(i, &v)| (v - z[ch(i)]) as f32 * s[ch(i)])
                .collect();
            one(Tensor::from_vec::<f32>(y, q.shape()).map_err(err)?)
        }
        other => Err(format!("op {other} not in the test interpreter")),
    }
}

/// For a per-tensor (0-d or one-value) `scale`, always channel 0; for a
/// 1-d one, the index along `axis` of each flat position of `shape`.
fn channel_of(shape: &[usize], scale: &Tensor, axis: i64) -> impl Fn(usize) -> usize {
    let per_axis = scale.numel() > 1;
    let a = if axis < 0 {
        axis + shape.len() as i64
    } else {
        axis
    } as usize;
    let inner: usize = shape.get(a + 1..).map_or(1, |s| s.iter().product());
    let size = shape.get(a).copied().unwrap_or(1);
    move |i| if per_axis { i / inner % size } else { 0 }
}

/// ONNX's QuantizeLinear: `saturate(round_half_even(x / scale) + zero_point)`
/// in float32, to uint8 (`ty` 2) or int8 (3), held as int64.
fn quantize_linear(
    n: &NodeProto,
    x: &Tensor,
    scale: &Tensor,
    zp: Option<Tensor>,
    ty: i32,
) -> R<Vec<Tensor>> {
    let ch = channel_of(x.shape(), scale, int(n, "axis", 1));
    let s = scale.to_vec::<f32>().map_err(err)?;
    let z = zp.map_or(vec![0; s.len()], |z| i64s(&z));
    let (lo, hi) = if ty == 3 { (-128, 127) } else { (0, 255) };
    let q = x
        .to_dtype(DType::F32)
        .to_vec::<f32>()
        .map_err(err)?
        .iter()
        .enumerate()
        .map(|(i, &v)| ((v / s[ch(i)]).round_ties_even() as i64 + z[ch(i)]).clamp(lo, hi))
        .collect();
    Ok(vec![Tensor::from_vec::<i64>(q, x.shape()).map_err(err)?])
}

/// ONNX's RNN / LSTM (gates i o f c) / GRU (gates z r h) over `X [T, N, I]`.
fn recurrent(
    n: &NodeProto,
    x: &dyn Fn(usize) -> R<Tensor>,
    get: &dyn Fn(usize) -> R<Option<Tensor>>,
) -> R<Vec<Tensor>> {
    let op = n.op_type();
    let h = int(n, "hidden_size", 0) as usize;
    let (xs, w, r) = (x(0)?, x(1)?, x(2)?);
    let (steps, batch) = (xs.shape()[0], xs.shape()[1]);
    let dirs = w.shape()[0];
    let gates = w.shape()[1] / h;
    let b = get(3)?;
    let (h0, c0) = (get(5)?, get(6)?);
    // sequence_lens: rows stop at their length (state kept, output zero).
    let lens: Vec<usize> = match get(4)? {
        Some(l) => i64s(&l.to_dtype(DType::I64))
            .iter()
            .map(|&v| v as usize)
            .collect(),
        None => vec![steps; batch],
    };
    let before_reset = int(n, "linear_before_reset", 0) == 1;
    let relu = attr(n, "activations")
        .is_some_and(|a| a.strings.first().map(|s| s.as_slice()) == Some(b"Relu"));
    let gate = |t: &Tensor, i: usize| t.narrow(-1, (i * h) as i64, h).unwrap();
    let (mut ys, mut hs, mut cs) = (Vec::new(), Vec::new(), Vec::new());
    for d in 0..dirs {
        let wd = w.select(0, d as i64).map_err(err)?.t().map_err(err)?;
        let rd = r.select(0, d as i64).map_err(err)?.t().map_err(err)?;
        let (wb, rb) = match &b {
            Some(b) => {
                let bd = b.select(0, d as i64).map_err(err)?;
                (
                    bd.narrow(0, 0, gates * h).map_err(err)?,
                    bd.narrow(0, (gates * h) as i64, gates * h).map_err(err)?,
                )
            }
            None => (Tensor::zeros(&[gates * h]), Tensor::zeros(&[gates * h])),
        };
        let mut hh = match &h0 {
            Some(s) => s.select(0, d as i64).map_err(err)?,
            None => Tensor::zeros(&[batch, h]),
        };
        let mut cc = match &c0 {
            Some(s) => s.select(0, d as i64).map_err(err)?,
            None => Tensor::zeros(&[batch, h]),
        };
        let mut out = vec![Tensor::zeros(&[batch, h]); steps];
        for step in 0..steps {
            let t = if d == 1 { steps - 1 - step } else { step };
            let xw = xs
                .select(0, t as i64)
                .map_err(err)?
                .matmul(&wd)
                .map_err(err)?
                .add(&wb)
                .map_err(err)?;
            let (h_before, c_before) = (hh.clone(), cc.clone());
            let hr = hh.matmul(&rd).map_err(err)?.add(&rb).map_err(err)?;
            match op {
                "LSTM" => {
                    let g = xw.add(&hr).map_err(err)?;
                    let (i, o, f, c) = (
                        gate(&g, 0).sigmoid(),
                        gate(&g, 1).sigmoid(),
                        gate(&g, 2).sigmoid(),
                        gate(&g, 3).tanh(),
                    );
                    cc = f
                        .mul(&cc)
                        .map_err(err)?
                        .add(&i.mul(&c).map_err(err)?)
                        .map_err(err)?;
                    hh = o.mul(&cc.tanh()).map_err(err)?;
                }
                "GRU" => {
                    let z = gate(&xw, 0).add(&gate(&hr, 0)).map_err(err)?.sigmoid();
                    let rr = gate(&xw, 1).add(&gate(&hr, 1)).map_err(err)?.sigmoid();
                    if !before_reset {
                        return Err("GRU without linear_before_reset".into());
                    }
                    let ht = gate(&xw, 2)
                        .add(&rr.mul(&gate(&hr, 2)).map_err(err)?)
                        .map_err(err)?
                        .tanh();
                    hh = z
                        .rsub_scalar(1.0)
                        .mul(&ht)
                        .map_err(err)?
                        .add(&z.mul(&hh).map_err(err)?)
                        .map_err(err)?;
                }
                _ => {
                    let a = xw.add(&hr).map_err(err)?;
                    hh = if relu { a.relu() } else { a.tanh() };
                }
            }
            // Rows past their length keep the old state and output zero.
            let live: Vec<bool> = lens.iter().map(|&l| t < l).collect();
            let live = Tensor::from_vec(live, &[batch, 1]).map_err(err)?;
            hh = Tensor::where_cond(&live, &hh, &h_before).map_err(err)?;
            cc = Tensor::where_cond(&live, &cc, &c_before).map_err(err)?;
            out[t] = Tensor::where_cond(&live, &hh, &Tensor::zeros(&[batch, h])).map_err(err)?;
        }
        ys.push(Tensor::stack(&out, 0).map_err(err)?);
        hs.push(hh);
        cs.push(cc);
    }
    let y = Tensor::stack(&ys, 1).map_err(err)?;
    let mut outs = vec![y, Tensor::stack(&hs, 0).map_err(err)?];
    if op == "LSTM" {
        outs.push(Tensor::stack(&cs, 0).map_err(err)?);
    }
    Ok(outs)
}

/// Max abs difference of two float tensors of the same shape.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.shape(), b.shape());
    let (a, b) = (
        a.to_dtype(DType::F32).to_vec::<f32>().unwrap(),
        b.to_dtype(DType::F32).to_vec::<f32>().unwrap(),
    );
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
