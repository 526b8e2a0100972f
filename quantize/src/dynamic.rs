//! Dynamic quantization (`torch.ao.nn.quantized.dynamic`): int8 weights
//! quantized once, float activations quantized at every call from their
//! own range (fbgemm's `ChooseQuantizationParams`, 7-bit on x86), float
//! outputs. Linear and LSTM.

use torchlet_nn::RnnRecord;
use torchlet_tensor::{get_num_threads, DType, Tensor};

use crate::convert::{QNode, QOp, QuantizedModel};
use crate::error::{QuantError, Result};
use crate::graph::{GraphModule, Node, Op};
use crate::kernels::gates::lstm_row;
use crate::kernels::{min_max, par_for, quantize_into, split, Isa, QuantOut};
use crate::observer::{MinMaxObserver, Observer, ObserverOptions, QScheme};
use crate::qops::PackedParams;
use crate::qtensor::{quantize_per_tensor, QDtype, QTensor};
use crate::state::lstm_suffix;

/// fbgemm's `ChooseQuantizationParams(min, max, 0, 255, reduce_range)`:
/// the quint8 scale and zero point of a dynamically quantized input. The
/// range is widened to hold 0; a scale too small for its reciprocal is
/// raised to 6.1e-5 (the range stretched with it).
pub fn choose_qparams_dynamic(min: f32, max: f32, reduce_range: bool) -> (f64, i64) {
    let (qmin, qmax) = if reduce_range {
        (0i32, 127i32)
    } else {
        (0, 255)
    };
    let (mut min, mut max) = (min.min(0.0), max.max(0.0));
    let span = (qmax - qmin) as f64;
    let mut scale = (max as f64 - min as f64) / span;
    if scale as f32 == 0.0 || (1.0f32 / scale as f32).is_infinite() {
        scale = 0.1;
    }
    const SMALL: f32 = 6.1e-5;
    if scale < SMALL as f64 {
        let org = scale as f32;
        scale = SMALL as f64;
        if min == 0.0 {
            max = SMALL * span as f32;
        } else if max == 0.0 {
            min = -SMALL * span as f32;
        } else {
            let amplifier = SMALL / org;
            min *= amplifier;
            max *= amplifier;
        }
    }
    let from_min = qmin as f64 - min as f64 / scale;
    let from_max = qmax as f64 - max as f64 / scale;
    let err_min = (qmin as f64).abs() - (min as f64 / scale).abs();
    let err_max = (qmax as f64).abs() - (max as f64 / scale).abs();
    let initial = if err_min < err_max {
        from_min
    } else {
        from_max
    };
    let zp = if initial < qmin as f64 {
        qmin as i64
    } else if initial > qmax as f64 {
        qmax as i64
    } else {
        initial.round_ties_even() as i64
    };
    (scale, zp)
}

/// `nnqd.Linear`: a qint8 weight (per tensor, symmetric: PyTorch's
/// `default_dynamic_qconfig`) and a float bias; each call quantizes its
/// input from the input's range, multiplies in int8 and returns floats.
#[derive(Clone, Debug)]
pub struct DynamicLinear {
    /// The qint8 weight `[out, in]`.
    pub weight: QTensor,
    /// The float bias `[out]`.
    pub bias: Option<Tensor>,
    pub(crate) packed: PackedParams,
}

impl DynamicLinear {
    /// Quantizes a float weight `[out, in]` with a per-tensor symmetric
    /// qint8 min/max observer.
    pub fn new(weight: &Tensor, bias: Option<&Tensor>) -> Result<DynamicLinear> {
        let mut obs = MinMaxObserver::new(ObserverOptions {
            dtype: QDtype::QInt8,
            qscheme: QScheme::PerTensorSymmetric,
            ..ObserverOptions::default()
        })?;
        obs.observe(weight)?;
        let (s, z) = obs.calculate_qparams()?;
        let q = quantize_per_tensor(
            weight,
            s.to_vec::<f32>()?[0] as f64,
            z.to_vec::<i64>()?[0],
            QDtype::QInt8,
        )?;
        DynamicLinear::from_quantized(q, bias.cloned())
    }

    /// From an already quantized weight (a loaded state dict).
    pub fn from_quantized(weight: QTensor, bias: Option<Tensor>) -> Result<DynamicLinear> {
        if weight.shape().len() != 2 {
            return Err(QuantError::invalid(
                "DynamicLinear",
                format!("the weight must be [out, in], got {:?}", weight.shape()),
            ));
        }
        let b = bias.as_ref().map(|b| b.to_vec::<f32>()).transpose()?;
        let packed = PackedParams::new(&weight, b.as_deref())?;
        Ok(DynamicLinear {
            weight,
            bias,
            packed,
        })
    }

    /// `[*, in]` → `[*, out]`, float32.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (n, k) = self.packed.dims();
        let shape = x.shape().to_vec();
        if shape.last() != Some(&k) {
            return Err(QuantError::invalid(
                "quantized::linear_dynamic",
                format!("input of shape {shape:?} does not fit a weight of shape [{n}, {k}]"),
            ));
        }
        let values = crate::qtensor::float_values("quantized::linear_dynamic", x)?;
        let rows = values.len() / k.max(1);
        let out = self.rows(&values, rows);
        let mut out_shape = shape;
        *out_shape.last_mut().expect("at least one dim") = n;
        Ok(Tensor::from_vec(out, &out_shape)?)
    }

    /// Rows `x` `[m, in]` → `[m, out]`: one quantization of all the rows
    /// (7-bit, PyTorch's x86 `reduce_range`), the int8 product, then
    /// `acc * x_scale * w_scale + bias` as fbgemm's float output stage.
    pub(crate) fn rows(&self, x: &[f32], m: usize) -> Vec<f32> {
        let mut out = Vec::new();
        self.rows_into(x, m, &mut Vec::new(), &mut out);
        out
    }

    /// [`rows`](Self::rows) into `out`, with `q` as the buffer of the
    /// quantized input (both reused between calls: only a larger size
    /// allocates or zeroes).
    pub(crate) fn rows_into(&self, x: &[f32], m: usize, q: &mut Vec<u8>, out: &mut Vec<f32>) {
        let (n, _) = self.packed.dims();
        out.resize(m * n, 0.0);
        if m == 0 {
            return;
        }
        let (zp, s) = quantize_input(x, q);
        self.packed.linear_f32(q, m, zp, s, out);
    }
}

/// Quantizes a dynamic layer's input into `q` from its own range (7-bit,
/// PyTorch's x86 `reduce_range`): returns its zero point and scale.
fn quantize_input(x: &[f32], q: &mut Vec<u8>) -> (i64, f32) {
    let isa = Isa::detect();
    let (lo, hi) = min_max(isa, x);
    let (scale, zp) = choose_qparams_dynamic(lo, hi, true);
    let s = scale as f32;
    q.resize(x.len(), 0);
    quantize_into(isa, x, 1.0f32 / s, zp, (0, 255), QuantOut::U8(q));
    (zp, s)
}

/// `nnqd.LSTM`: every layer and direction's `W_ih` and `W_hh` as
/// [`DynamicLinear`]s (their biases inside). As in PyTorch's quantized
/// LSTM, a layer projects all its valid input rows at once (one
/// quantization), then each step quantizes the hidden states of the rows
/// still inside their sequence; the gates are float.
#[derive(Clone, Debug)]
pub struct DynamicLstm {
    /// The layer's shape (hidden size, layers, directions, batch_first).
    pub record: RnnRecord,
    /// Per layer and direction (forward first): `(ih, hh)`.
    pub cells: Vec<(DynamicLinear, DynamicLinear)>,
}

impl DynamicLstm {
    /// `(output, h_n, c_n)` for `x` `[T, N, I]` (`[N, T, I]` when
    /// batch_first), each row read up to its length when given (the
    /// outputs past it are zero), as PyTorch's packed sequences.
    pub fn forward(
        &self,
        x: &Tensor,
        lengths: Option<&[usize]>,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let op = "quantized::lstm_dynamic";
        let r = &self.record;
        let x = if r.batch_first {
            x.transpose(0, 1)?
        } else {
            x.clone()
        };
        let &[t_len, n, mut width] = x.shape() else {
            return Err(QuantError::invalid(
                op,
                format!("expected a 3-d input, got {:?}", x.shape()),
            ));
        };
        let lens: Vec<usize> = match lengths {
            Some(l) if l.len() != n || l.iter().any(|&v| v == 0 || v > t_len) => {
                return Err(QuantError::invalid(
                    op,
                    format!("lengths {l:?} must be {n} values in 1..={t_len}"),
                ))
            }
            Some(l) => l.to_vec(),
            None => vec![t_len; n],
        };
        let h = r.hidden_size;
        let dirs = if r.bidirectional { 2 } else { 1 };
        let mut input = x.to_dtype(DType::F32).contiguous().to_vec::<f32>()?;
        // Valid (t, row) positions, time-major: what a packed sequence holds.
        let valid: Vec<usize> = (0..t_len * n)
            .filter(|&p| p % n < n && lens[p % n] > p / n)
            .collect();
        let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
        for layer in 0..r.num_layers {
            let mut output = vec![0.0f32; t_len * n * dirs * h];
            for dir in 0..dirs {
                let (ih, hh) = &self.cells[layer * dirs + dir];
                if ih.packed.dims().1 != width {
                    return Err(QuantError::invalid(
                        op,
                        format!(
                            "layer {layer} expects {} inputs, got {width}",
                            ih.packed.dims().1
                        ),
                    ));
                }
                // All rows valid (no lengths): the input is the rows.
                let gates_x = if valid.len() == t_len * n {
                    ih.rows(&input, valid.len())
                } else {
                    let rows: Vec<f32> = valid
                        .iter()
                        .flat_map(|&p| input[p * width..(p + 1) * width].iter().copied())
                        .collect();
                    let gx = ih.rows(&rows, valid.len());
                    let mut gates_x = vec![0.0f32; t_len * n * 4 * h];
                    for (i, &p) in valid.iter().enumerate() {
                        gates_x[p * 4 * h..(p + 1) * 4 * h]
                            .copy_from_slice(&gx[i * 4 * h..(i + 1) * 4 * h]);
                    }
                    gates_x
                };
                let (mut hs, mut cs) = (vec![0.0f32; n * h], vec![0.0f32; n * h]);
                let (mut active, mut hin, mut q, mut gh) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for step in 0..t_len {
                    let t = if dir == 0 { step } else { t_len - 1 - step };
                    active.clear();
                    active.extend((0..n).filter(|&b| lens[b] > t));
                    // Every row active: the hidden states are the rows.
                    let rows = if active.len() == n {
                        &hs
                    } else {
                        hin.clear();
                        hin.extend(
                            active
                                .iter()
                                .flat_map(|&b| hs[b * h..(b + 1) * h].iter().copied()),
                        );
                        &hin
                    };
                    let input = quantize_input(rows, &mut q);
                    gh.resize(active.len() * 4 * h, 0.0);
                    let gx = &gates_x[t * n * 4 * h..(t + 1) * n * 4 * h];
                    let state = State {
                        hs: &mut hs,
                        cs: &mut cs,
                        gh: &mut gh,
                    };
                    cell_step(&active, gx, hh, (&q, input), state, h);
                    for &b in &active {
                        output[((t * n + b) * dirs + dir) * h..][..h]
                            .copy_from_slice(&hs[b * h..(b + 1) * h]);
                    }
                }
                h_n.extend_from_slice(&hs);
                c_n.extend_from_slice(&cs);
            }
            input = output;
            width = dirs * h;
        }
        let out = Tensor::from_vec(input, &[t_len, n, dirs * h])?;
        let out = if r.batch_first {
            out.transpose(0, 1)?.contiguous()
        } else {
            out
        };
        let states = r.num_layers * dirs;
        Ok((
            out,
            Tensor::from_vec(h_n, &[states, n, h])?,
            Tensor::from_vec(c_n, &[states, n, h])?,
        ))
    }
}

/// The buffers one LSTM step updates: hidden and cell states `[n, h]`,
/// and the hidden projections `[active, 4h]`.
struct State<'a> {
    hs: &'a mut [f32],
    cs: &'a mut [f32],
    gh: &'a mut [f32],
}

/// One step of the LSTM cell for the `active` rows (float gates, as
/// PyTorch's quantized LSTM): `gx` `[n, 4h]` holds this step's input
/// projections, `q` the quantized hidden states of the active rows
/// (`(zero point, scale)`), multiplied by `hh` here. Blocks of rows are
/// split across the thread team, each taking its rows' projections and
/// then their gates (no barrier in between); every element is computed
/// alone with one formula, so any split gives the same bits.
fn cell_step(
    active: &[usize],
    gx: &[f32],
    hh: &DynamicLinear,
    (q, (zp, scale)): (&[u8], (i64, f32)),
    state: State,
    h: usize,
) {
    /// The state buffers, written by one part per row.
    struct Ptrs(*mut f32, *mut f32, *mut f32);
    // SAFETY: `active` lists each row once, so parts write disjoint rows.
    unsafe impl Sync for Ptrs {}
    let rows = active.len();
    assert!(
        state.hs.len() == state.cs.len() && active.iter().all(|&b| (b + 1) * h <= state.hs.len())
    );
    assert!(state.gh.len() == rows * 4 * h && q.len() == rows * h);
    let ptrs = Ptrs(
        state.hs.as_mut_ptr(),
        state.cs.as_mut_ptr(),
        state.gh.as_mut_ptr(),
    );
    let (parts, block) = split(rows, 4 * get_num_threads(), 1);
    // The projections' multiply-adds / 8, and five exp/tanh per unit.
    let work = rows * 4 * h * h / 8 + rows * h * 64;
    let isa = Isa::detect();
    par_for(parts, work, |p| {
        let ptrs = &ptrs;
        let r = block(p);
        // SAFETY: rows `r` of the projections are this part's alone.
        let gh =
            unsafe { std::slice::from_raw_parts_mut(ptrs.2.add(r.start * 4 * h), r.len() * 4 * h) };
        hh.packed
            .linear_f32(&q[r.start * h..r.end * h], r.len(), zp, scale, gh);
        for (i, &b) in active[r.clone()].iter().enumerate() {
            // SAFETY: row `b` is inside both buffers (asserted) and only
            // this part touches it.
            let (hs, cs) = unsafe {
                (
                    std::slice::from_raw_parts_mut(ptrs.0.add(b * h), h),
                    std::slice::from_raw_parts_mut(ptrs.1.add(b * h), h),
                )
            };
            lstm_row(
                isa,
                &gx[b * 4 * h..][..4 * h],
                &gh[i * 4 * h..][..4 * h],
                hs,
                cs,
            );
        }
    });
}

/// The layers [`quantize_dynamic`] converts (PyTorch's `qconfig_spec`
/// `{nn.Linear, nn.LSTM}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynamicKind {
    /// `nn.Linear` → `nnqd.Linear`.
    Linear,
    /// `nn.LSTM` → `nnqd.LSTM`.
    Lstm,
}

/// `torch.ao.quantization.quantize_dynamic(model, {nn.Linear, nn.LSTM},
/// dtype=torch.qint8)` on a captured graph: the chosen layers get qint8
/// weights (per tensor, symmetric) and quantize their inputs at every
/// call; every other op stays float. No calibration is needed.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Linear, Module, ReLU, Sequential};
/// use torchlet_quantize::{capture, quantize_dynamic, DynamicKind, QOp};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let model = Sequential::new().append(Linear::new(8, 4)?).append(ReLU).append(Linear::new(4, 2)?);
/// let x = Tensor::randn(&[3, 8]);
/// let q = quantize_dynamic(&capture(&model, &x)?, &[DynamicKind::Linear])?;
/// assert!(matches!(q.nodes()[0].op, QOp::DynamicLinear(_)));
/// let (want, got) = (model.forward(&Variable::constant(x.clone()))?.data(), q.run(&x)?);
/// for (w, g) in want.to_vec::<f32>()?.iter().zip(got.to_vec::<f32>()?) {
///     assert!((w - g).abs() < 0.05, "{w} vs {g}");
/// }
/// # Ok(())
/// # }
/// ```
pub fn quantize_dynamic(graph: &GraphModule, kinds: &[DynamicKind]) -> Result<QuantizedModel> {
    build_dynamic(graph, kinds, &|_, w, b| DynamicLinear::new(w, b), &|n| {
        Ok(n.detached())
    })
}

/// What makes each dynamic layer from its weight's state-dict key and
/// its float weight and bias.
pub(crate) type MakeLinear<'a> =
    dyn Fn(&str, &Tensor, Option<&Tensor>) -> Result<DynamicLinear> + 'a;

/// [`quantize_dynamic`] with the layers made by `make` (quantized now, or
/// read from a state dict) and the float ops' parameters from `float`.
pub(crate) fn build_dynamic(
    graph: &GraphModule,
    kinds: &[DynamicKind],
    make: &MakeLinear<'_>,
    float: &dyn Fn(&Node) -> Result<Node>,
) -> Result<QuantizedModel> {
    let mut nodes = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let name = &node.name;
        let op = match &node.op {
            Op::Linear { weight, bias } if kinds.contains(&DynamicKind::Linear) && !node.relu => {
                let b = bias.as_ref().map(|b| b.data());
                QOp::DynamicLinear(make(&format!("{name}.weight"), &weight.data(), b.as_ref())?)
            }
            Op::Lstm(lstm) if kinds.contains(&DynamicKind::Lstm) => {
                let r = &lstm.record;
                let per_cell = if r.bias { 4 } else { 2 };
                let dirs = if r.bidirectional { 2 } else { 1 };
                if lstm.params.len() != per_cell * dirs * r.num_layers {
                    return Err(QuantError::invalid(
                        "quantize_dynamic",
                        format!(
                            "{name}: {} LSTM parameters, expected {}",
                            lstm.params.len(),
                            per_cell * dirs * r.num_layers
                        ),
                    ));
                }
                let mut cells = Vec::new();
                for (c, p) in lstm.params.chunks(per_cell).enumerate() {
                    let sfx = lstm_suffix(r.bidirectional, c);
                    let bias = |i: usize| p.get(i).map(|v| v.data());
                    let ih = make(
                        &format!("{name}.weight_ih{sfx}"),
                        &p[0].data(),
                        bias(2).as_ref(),
                    )?;
                    let hh = make(
                        &format!("{name}.weight_hh{sfx}"),
                        &p[1].data(),
                        bias(3).as_ref(),
                    )?;
                    cells.push((ih, hh));
                }
                QOp::DynamicLstm(Box::new(DynamicLstm {
                    record: r.clone(),
                    cells,
                }))
            }
            Op::Lstm(_) => {
                return Err(QuantError::invalid(
                    "quantize_dynamic",
                    format!(
                    "{name}: an LSTM runs only dynamically quantized: include DynamicKind::Lstm"
                ),
                ))
            }
            _ => QOp::Float(Box::new(float(node)?)),
        };
        nodes.push(QNode {
            op,
            inputs: node.inputs.clone(),
            output: node.outputs[0],
            extra_outputs: node.outputs[1..].to_vec(),
            name: name.clone(),
        });
    }
    Ok(QuantizedModel {
        nodes,
        output: graph.output,
        num_values: graph.num_values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_qparams_follow_fbgemm() {
        // [-1, 2] on 0..127: scale 3/127, zero point from the min side.
        let (s, z) = choose_qparams_dynamic(-1.0, 2.0, true);
        assert_eq!(s, 3.0f64 / 127.0);
        assert_eq!(z, 42);
        // All positive: zero is the minimum.
        assert_eq!(
            choose_qparams_dynamic(0.5, 2.55, false),
            (2.55f32 as f64 / 255.0, 0)
        );
        // A constant zero input gets scale 0.1.
        assert_eq!(choose_qparams_dynamic(0.0, 0.0, true), (0.1, 0));
        // A tiny range is stretched to the smallest scale.
        let (s, _) = choose_qparams_dynamic(0.0, 1e-4, true);
        assert_eq!(s, 6.1e-5f32 as f64);
    }

    #[test]
    fn dynamic_linear_is_close_to_the_float_product() {
        let w: Vec<f32> = (0..12).map(|i| (i as f32 - 5.5) * 0.1).collect();
        let w = Tensor::from_vec(w, &[3, 4]).unwrap();
        let b = Tensor::from_vec(vec![0.5f32, -0.25, 0.0], &[3]).unwrap();
        let lin = DynamicLinear::new(&w, Some(&b)).unwrap();
        let x =
            Tensor::from_vec(vec![0.3f32, -1.2, 0.8, 2.0, 1.0, 0.0, -0.5, 0.25], &[2, 4]).unwrap();
        let got = lin.forward(&x).unwrap().to_vec::<f32>().unwrap();
        let want = x
            .matmul(&w.t().unwrap())
            .unwrap()
            .add(&b)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 0.03, "{g} vs {w}");
        }
        assert!(lin.forward(&Tensor::zeros(&[2, 3])).is_err());
    }
}
