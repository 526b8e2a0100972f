//! Quantized state dicts as safetensors: int8 weights with their scales
//! and zero points, float biases, and every activation's parameters.
//!
//! Names (module names as in the float model's `named_parameters`):
//!
//! | key | dtype, shape | what |
//! |---|---|---|
//! | `quant.scale`, `quant.zero_point` | F64 `[1]`, I64 `[1]` | the input's quantization (a `QuantStub` uses its own name) |
//! | `{m}.weight` | I8, the float weight's shape | the qint8 weight of Conv2d/Linear `m` |
//! | `{m}.weight_scale`, `{m}.weight_zero_point` | F32 (F64 when a scale is not an f32), I8: `[out]` per channel (axis 0), `[]` per tensor | its parameters |
//! | `{m}.bias` | F32 `[out]` | the float bias |
//! | `{m}.scale`, `{m}.zero_point` | F64 `[1]`, I64 `[1]` | `m`'s output (also for `add`/`cat` nodes) |
//! | `{m}.weight_ih_l0`, `{m}.bias_ih_l0`, ... | as `{m}.weight`, `{m}.bias` | a dynamic LSTM's int8 weights (PyTorch's parameter names) |
//! | `{m}.weight`, `{m}.bias`, `{m}.running_mean`, `{m}.running_var` | F32 | the parameters of float ops (an embedding, layers outside the stubs) |
//!
//! The header's metadata says `"format": "torchlet-quantized"`, so a
//! float loader can tell the file apart; every scale is stored exactly,
//! so save → load is bit-identical.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use torchlet_tensor::Tensor;

use crate::convert::{build, QOp, QuantizedModel, Source};
use crate::dynamic::{build_dynamic, DynamicKind, DynamicLinear};
use crate::error::{QuantError, Result};
use crate::graph::{GraphModule, Node, Op, ValueId};
use crate::prepare::PreparedModel;
use crate::qtensor::{QParams, QTensor};

/// The `format` metadata value of quantized state dicts.
pub const QUANTIZED_FORMAT: &str = "torchlet-quantized";

type Entry = (Dtype, Vec<usize>, Vec<u8>);

fn f64s(v: &[f64], shape: &[usize]) -> Entry {
    (
        Dtype::F64,
        shape.to_vec(),
        v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    )
}

fn i64s(v: &[i64], shape: &[usize]) -> Entry {
    (
        Dtype::I64,
        shape.to_vec(),
        v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    )
}

fn put_qparams(out: &mut BTreeMap<String, Entry>, name: &str, scale: f64, zero_point: i64) {
    out.insert(format!("{name}.scale"), f64s(&[scale], &[1]));
    out.insert(format!("{name}.zero_point"), i64s(&[zero_point], &[1]));
}

/// A qint8 weight under `key`, its parameters under `key_scale` and
/// `key_zero_point`.
fn put_weight(out: &mut BTreeMap<String, Entry>, key: &str, w: &QTensor) {
    let bytes = w
        .as_i8()
        .expect("weights are qint8")
        .iter()
        .map(|&v| v as u8)
        .collect();
    out.insert(key.to_string(), (Dtype::I8, w.shape().to_vec(), bytes));
    let (s, z, shape) = match w.params() {
        QParams::PerTensor { scale, zero_point } => (vec![*scale], vec![*zero_point], vec![]),
        QParams::PerChannel {
            scales,
            zero_points,
            ..
        } => (scales.clone(), zero_points.clone(), vec![scales.len()]),
    };
    // Observers give f32 scales: stored as F32 when that is exact.
    let scales = if s.iter().all(|&v| v as f32 as f64 == v) {
        let bytes = s.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect();
        (Dtype::F32, shape.clone(), bytes)
    } else {
        f64s(&s, &shape)
    };
    out.insert(format!("{key}_scale"), scales);
    let zps = z.iter().map(|&v| v as i8 as u8).collect();
    out.insert(format!("{key}_zero_point"), (Dtype::I8, shape, zps));
}

fn put_f32(out: &mut BTreeMap<String, Entry>, key: &str, b: &Tensor) -> Result<()> {
    let bytes = b
        .to_vec::<f32>()?
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    out.insert(key.to_string(), (Dtype::F32, b.shape().to_vec(), bytes));
    Ok(())
}

/// A dynamic layer's weight under `key` (`m.weight`, `m.weight_ih_l0`)
/// and its bias under the same name with `bias` (`m.bias`, `m.bias_ih_l0`).
fn put_dynamic(out: &mut BTreeMap<String, Entry>, key: &str, lin: &DynamicLinear) -> Result<()> {
    put_weight(out, key, &lin.weight);
    match &lin.bias {
        Some(b) => put_f32(out, &bias_key(key), b),
        None => Ok(()),
    }
}

/// `m.weight_ih_l0` → `m.bias_ih_l0`.
pub(crate) fn bias_key(weight_key: &str) -> String {
    match weight_key.rsplit_once(".weight") {
        Some((m, rest)) => format!("{m}.bias{rest}"),
        None => format!("{weight_key}.bias"),
    }
}

/// PyTorch's suffix of an LSTM cell's parameters: `_l{layer}` plus
/// `_reverse` for the backward direction.
pub(crate) fn lstm_suffix(bidirectional: bool, cell: usize) -> String {
    let dirs = if bidirectional { 2 } else { 1 };
    let reverse = if cell % dirs == 1 { "_reverse" } else { "" };
    format!("_l{}{reverse}", cell / dirs)
}

impl QuantizedModel {
    /// The state dict's entries (see the module docs for the names).
    fn entries(&self) -> Result<BTreeMap<String, Entry>> {
        let mut out = BTreeMap::new();
        for node in &self.nodes {
            let name = &node.name;
            match &node.op {
                QOp::Quantize { scale, zero_point }
                | QOp::Add {
                    scale, zero_point, ..
                }
                | QOp::Cat {
                    scale, zero_point, ..
                } => put_qparams(&mut out, name, *scale, *zero_point),
                QOp::Conv2d { params, .. } | QOp::Linear { params, .. } => {
                    put_weight(&mut out, &format!("{name}.weight"), &params.weight);
                    if let Some(b) = &params.bias {
                        put_f32(&mut out, &format!("{name}.bias"), b)?;
                    }
                    put_qparams(&mut out, name, params.scale, params.zero_point);
                }
                QOp::Float(node) => {
                    for (param, t) in node.float_params() {
                        let t = t.to_dtype(torchlet_tensor::DType::F32).contiguous();
                        put_f32(&mut out, &format!("{name}.{param}"), &t)?;
                    }
                }
                QOp::DynamicLinear(lin) => put_dynamic(&mut out, &format!("{name}.weight"), lin)?,
                QOp::DynamicLstm(lstm) => {
                    for (c, (ih, hh)) in lstm.cells.iter().enumerate() {
                        let sfx = lstm_suffix(lstm.record.bidirectional, c);
                        put_dynamic(&mut out, &format!("{name}.weight_ih{sfx}"), ih)?;
                        put_dynamic(&mut out, &format!("{name}.weight_hh{sfx}"), hh)?;
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The state dict as safetensors bytes.
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>> {
        let entries = self.entries()?;
        let views = entries
            .iter()
            .map(|(name, (dtype, shape, bytes))| {
                TensorView::new(*dtype, shape.clone(), bytes)
                    .map(|v| (name.as_str(), v))
                    .map_err(|e| QuantError::invalid("save_safetensors", format!("{name}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let metadata = HashMap::from([("format".to_string(), QUANTIZED_FORMAT.to_string())]);
        safetensors::serialize(views, Some(metadata))
            .map_err(|e| QuantError::invalid("save_safetensors", e.to_string()))
    }

    /// Writes the state dict to `path` (a temporary file, then renamed).
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_safetensors_bytes()?;
        torchlet_tensor::io::write_atomic(path, &bytes).map_err(|e| {
            QuantError::invalid("save_safetensors", format!("{}: {e}", path.display()))
        })
    }
}

/// Rebuilds the quantized model of `prepared` (the float model captured,
/// fused and prepared as when it was converted; no calibration needed)
/// from a state dict written by [`QuantizedModel::save_safetensors`].
/// Missing or unexpected keys, a weight of another shape, a float state
/// dict or invalid parameters are errors naming the key.
pub fn load_quantized(prepared: &PreparedModel, path: impl AsRef<Path>) -> Result<QuantizedModel> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)
        .map_err(|e| QuantError::invalid("load_quantized", format!("{}: {e}", path.display())))?;
    load_quantized_bytes(prepared, &bytes)
        .map_err(|e| QuantError::invalid("load_quantized", format!("{}: {e}", path.display())))
}

/// [`load_quantized`] from bytes.
pub fn load_quantized_bytes(prepared: &PreparedModel, bytes: &[u8]) -> Result<QuantizedModel> {
    with_file(bytes, Some(prepared), |source| build(prepared, source))
}

/// Rebuilds a [`quantize_dynamic`](crate::quantize_dynamic) model of
/// `graph` (captured as when it was quantized) from its state dict.
pub fn load_quantized_dynamic(
    graph: &GraphModule,
    kinds: &[DynamicKind],
    path: impl AsRef<Path>,
) -> Result<QuantizedModel> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)
        .map_err(|e| QuantError::invalid("load_quantized", format!("{}: {e}", path.display())))?;
    with_file(&bytes, None, |source| {
        build_dynamic(
            graph,
            kinds,
            &|key, w, b| {
                let qw = source.qweight(key, w.shape())?;
                let bias = b
                    .map(|b| source.f32_tensor(&bias_key(key), b.shape()))
                    .transpose()?;
                DynamicLinear::from_quantized(qw, bias)
            },
            &|node| source.float_params(node),
        )
    })
    .map_err(|e| QuantError::invalid("load_quantized", format!("{}: {e}", path.display())))
}

/// Checks the header, runs `build` over the file and refuses keys it did
/// not read.
fn with_file(
    bytes: &[u8],
    prepared: Option<&PreparedModel>,
    build: impl FnOnce(&FileSource<'_>) -> Result<QuantizedModel>,
) -> Result<QuantizedModel> {
    let op = "load_quantized";
    let bad = |e: safetensors::SafeTensorError| QuantError::invalid(op, e.to_string());
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(bad)?;
    let format = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("format").cloned());
    if format.as_deref() != Some(QUANTIZED_FORMAT) {
        return Err(QuantError::invalid(
            op,
            "not a quantized state dict (no \"format\": \"torchlet-quantized\" metadata): a float checkpoint loads into the float model, then quantize it",
        ));
    }
    let source = FileSource {
        prepared,
        st: SafeTensors::deserialize(bytes).map_err(bad)?,
        used: RefCell::new(BTreeSet::new()),
    };
    let model = build(&source)?;
    let used = source.used.borrow();
    let unexpected: Vec<String> = source
        .st
        .names()
        .into_iter()
        .filter(|n| !used.contains(*n))
        .map(str::to_string)
        .collect();
    if !unexpected.is_empty() {
        return Err(QuantError::invalid(
            op,
            format!("unexpected keys {unexpected:?}"),
        ));
    }
    Ok(model)
}

struct FileSource<'a> {
    prepared: Option<&'a PreparedModel>,
    st: SafeTensors<'a>,
    used: RefCell<BTreeSet<String>>,
}

impl FileSource<'_> {
    fn get(&self, key: &str, dtype: Dtype) -> Result<(Vec<usize>, &[u8])> {
        let view = self
            .st
            .tensor(key)
            .map_err(|_| QuantError::invalid("load_quantized", format!("missing key {key:?}")))?;
        if view.dtype() != dtype {
            return Err(QuantError::invalid(
                "load_quantized",
                format!(
                    "{key}: dtype {} in the file, expected {dtype}",
                    view.dtype()
                ),
            ));
        }
        self.used.borrow_mut().insert(key.to_string());
        Ok((view.shape().to_vec(), view.data()))
    }

    fn f64s(&self, key: &str) -> Result<(Vec<usize>, Vec<f64>)> {
        let (shape, data) = self.get(key, Dtype::F64)?;
        Ok((
            shape,
            data.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        ))
    }

    /// F32 or F64 values, as f64.
    fn scales(&self, key: &str) -> Result<(Vec<usize>, Vec<f64>)> {
        if self.dtype(key) == Some(Dtype::F32) {
            let (shape, data) = self.get(key, Dtype::F32)?;
            let v = data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64);
            return Ok((shape, v.collect()));
        }
        self.f64s(key)
    }

    fn dtype(&self, key: &str) -> Option<Dtype> {
        self.st.tensor(key).ok().map(|v| v.dtype())
    }

    fn i64s(&self, key: &str) -> Result<(Vec<usize>, Vec<i64>)> {
        let (shape, data) = self.get(key, Dtype::I64)?;
        Ok((
            shape,
            data.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        ))
    }

    /// The qint8 weight under `key` (and `key_scale`, `key_zero_point`),
    /// which must have `shape`.
    pub(crate) fn qweight(&self, key: &str, shape: &[usize]) -> Result<QTensor> {
        let (file_shape, data) = self.get(key, Dtype::I8)?;
        if file_shape != shape {
            return Err(QuantError::invalid(
                "load_quantized",
                format!("{key}: shape {file_shape:?} in the file, the model has {shape:?}"),
            ));
        }
        let (s_shape, scales) = self.scales(&format!("{key}_scale"))?;
        let (_, zps) = self.get(&format!("{key}_zero_point"), Dtype::I8)?;
        let zero_points: Vec<i64> = zps.iter().map(|&b| b as i8 as i64).collect();
        let params = if s_shape.is_empty() && scales.len() == 1 && zero_points.len() == 1 {
            QParams::PerTensor {
                scale: scales[0],
                zero_point: zero_points[0],
            }
        } else {
            QParams::PerChannel {
                scales,
                zero_points,
                axis: 0,
            }
        };
        let values = data.iter().map(|&b| b as i8).collect();
        QTensor::from_i8(values, shape, params)
            .map_err(|e| QuantError::invalid("load_quantized", format!("{key}: {e}")))
    }

    /// The f32 tensor (a bias, a float parameter) under `key`, which must
    /// have `shape`.
    pub(crate) fn f32_tensor(&self, key: &str, shape: &[usize]) -> Result<Tensor> {
        let (file_shape, data) = self.get(key, Dtype::F32)?;
        if file_shape != shape {
            return Err(QuantError::invalid(
                "load_quantized",
                format!("{key}: shape {file_shape:?} in the file, the model has {shape:?}"),
            ));
        }
        let v: Vec<f32> = data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        Ok(Tensor::from_vec(v, shape)?)
    }

    fn scalar_qparams(&self, name: &str) -> Result<(f64, i64)> {
        let (_, s) = self.f64s(&format!("{name}.scale"))?;
        let (_, z) = self.i64s(&format!("{name}.zero_point"))?;
        match (&s[..], &z[..]) {
            (&[s], &[z]) => {
                crate::qtensor::check_qparams("load_quantized", s, z, (0, 255))
                    .map_err(|e| QuantError::invalid("load_quantized", format!("{name}: {e}")))?;
                Ok((s, z))
            }
            _ => Err(QuantError::invalid(
                "load_quantized",
                format!("{name}.scale and .zero_point must hold one value each"),
            )),
        }
    }
}

impl FileSource<'_> {
    /// A float op with its parameters from the file.
    fn float_params(&self, node: &Node) -> Result<Node> {
        node.with_float_params(|param, shape| {
            self.f32_tensor(&format!("{}.{param}", node.name), shape)
        })
    }
}

impl Source for FileSource<'_> {
    fn float_node(&self, node: &Node) -> Result<Node> {
        self.float_params(node)
    }

    fn act(&self, id: ValueId, name: &str) -> Result<Option<(f64, i64)>> {
        if !self.prepared.is_some_and(|p| p.has_observer(id)) {
            return Ok(None);
        }
        self.scalar_qparams(name).map(Some)
    }

    fn weight(&self, _index: usize, node: &Node) -> Result<(QTensor, Option<Tensor>)> {
        let (Op::Conv2d { weight, bias, .. } | Op::Linear { weight, bias }) = &node.op else {
            unreachable!("only Conv2d and Linear have weights")
        };
        let key = format!("{}.weight", node.name);
        let w = self.qweight(&key, &weight.shape())?;
        let b = bias
            .as_ref()
            .map(|b| self.f32_tensor(&bias_key(&key), &b.shape()))
            .transpose()?;
        Ok((w, b))
    }
}
