//! A dynamically quantized LSTM ([`DynamicLstm`]) as ONNX: per layer and
//! direction, the input projection of all valid positions at once (one
//! quantization from their range), then a `Scan` over time whose body
//! quantizes the hidden state of the rows still inside their sequence from
//! its own range, multiplies it by the int8 `W_hh`, and runs the float
//! cell — the steps torchlet (and PyTorch's quantized LSTM) take.
//!
//! A row past its length keeps its state and outputs zeros, as a packed
//! sequence: masked positions count as 0 in the ranges, which always hold
//! 0 anyway. A reverse direction scans backwards from `T - 1`; until a row
//! reaches its last real token its state stays zero.

use torchlet_quantize::{DynamicLinear, DynamicLstm, QNode};
use torchlet_tensor::DType;

use super::{Builder, Val};
use crate::error::Result;
use crate::ir::{Attr, Dim, Graph, OnnxConstants, ValueInfo};

impl Builder {
    /// `node`'s output (`[T, N, D·H]`, or `[N, T, D·H]` batch first); its
    /// `h_n` and `c_n` (`[layers·D, N, H]`) go to its extra outputs.
    pub(super) fn dynamic_lstm(
        &mut self,
        node: &QNode,
        lstm: &DynamicLstm,
        ins: &[Val],
    ) -> Result<Val> {
        let r = &lstm.record;
        let x = &ins[0];
        if x.shape.len() != 3 {
            return Err(self.err(node, format!("expects a 3-d input, got {:?}", x.shape)));
        }
        let (h, dirs) = (r.hidden_size, if r.bidirectional { 2 } else { 1 });
        let mut shape = x.shape.clone();
        let mut input = x.name.clone();
        if r.batch_first {
            input = self.transpose(input, &[1, 0, 2]);
            shape.swap(0, 1);
        }
        let mask = self.valid_mask(&input, ins.get(1).map(|v| v.name.clone()));
        let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
        for layer in 0..r.num_layers {
            let mut outs = Vec::new();
            for dir in 0..dirs {
                let (ih, hh) = &lstm.cells[layer * dirs + dir];
                let suffix = format!("_l{layer}{}", if dir == 1 { "_reverse" } else { "" });
                let names = Names {
                    base: node.name.clone(),
                    suffix,
                };
                let gx = self.input_projection(node, &input, &mask, ih, &names)?;
                let (y, h_t, c_t) = self.scan(node, &input, gx, &mask, hh, &names, dir, h)?;
                outs.push(y);
                h_n.push(h_t);
                c_n.push(c_t);
            }
            input = match outs.len() {
                1 => outs.remove(0),
                _ => self.g.op("Concat", outs, vec![("axis", Attr::Int(2))]),
            };
        }
        let stack = |b: &mut Self, states: Vec<String>| {
            let axes = b.g.ints(&[0]);
            let rows = (states.into_iter())
                .map(|s| b.g.op("Unsqueeze", vec![s, axes.clone()], vec![]))
                .collect::<Vec<_>>();
            match rows.len() {
                1 => rows[0].clone(),
                _ => b.g.op("Concat", rows, vec![("axis", Attr::Int(0))]),
            }
        };
        let states = [r.num_layers * dirs, shape[1], h];
        let h_n = stack(self, h_n);
        let c_n = stack(self, c_n);
        for (id, name) in node.extra_outputs.iter().zip([h_n, c_n]) {
            self.vals.insert(*id, Val::float(name, states.to_vec()));
        }
        shape[2] = dirs * h;
        if r.batch_first {
            input = self.transpose(input, &[1, 0, 2]);
            shape.swap(0, 1);
        }
        Ok(Val::float(input, shape))
    }

    fn transpose(&mut self, x: String, perm: &[i64]) -> String {
        let perm = ("perm", Attr::Ints(perm.to_vec()));
        self.g.op("Transpose", vec![x], vec![perm])
    }

    /// Bool `[T, N, 1]`: whether step `t` of row `n` is inside its
    /// sequence (`t < lengths[n]`; every step without lengths).
    fn valid_mask(&mut self, x: &str, lengths: Option<String>) -> String {
        let shape = self.g.op("Shape", vec![x.to_string()], vec![]);
        let at = |b: &mut Self, i: f64| {
            let i = b.g.scalar(i, DType::I64);
            b.g.op(
                "Gather",
                vec![shape.clone(), i],
                vec![("axis", Attr::Int(0))],
            )
        };
        let steps = at(self, 0.0);
        let lengths = match lengths {
            Some(l) => l,
            None => {
                let rows = at(self, 1.0);
                let one = self.g.ints(&[1]);
                let rows = self.g.op("Reshape", vec![rows, one], vec![]);
                self.g.op("Expand", vec![steps.clone(), rows], vec![])
            }
        };
        let (zero, one) = (
            self.g.scalar(0.0, DType::I64),
            self.g.scalar(1.0, DType::I64),
        );
        let t = self.g.op("Range", vec![zero, steps, one], vec![]);
        let unsqueeze = |b: &mut Self, v: String, axis: i64| {
            let axes = b.g.ints(&[axis]);
            b.g.op("Unsqueeze", vec![v, axes], vec![])
        };
        let t = unsqueeze(self, t, 1);
        let lengths = unsqueeze(self, lengths, 0);
        let inside = self.g.op("Less", vec![t, lengths], vec![]);
        unsqueeze(self, inside, 2)
    }

    /// `W_ih` of all valid positions: `[T, N, 4H]`, quantized once from
    /// the valid positions' range.
    fn input_projection(
        &mut self,
        node: &QNode,
        x: &str,
        mask: &str,
        ih: &DynamicLinear,
        names: &Names,
    ) -> Result<String> {
        let zero = self.g.scalar(0.0, DType::F32);
        let valid = self
            .g
            .op("Where", vec![mask.to_string(), x.to_string(), zero], vec![]);
        let q = self.dynamic_qdq(node, &valid);
        let w = self.dq_weight(node, &ih.weight, &names.of("weight_ih"))?;
        let wt = self.transpose(w, &[1, 0]);
        let y = self.g.op("MatMul", vec![q, wt], vec![]);
        Ok(self.lstm_bias(y, ih, &names.of("bias_ih")))
    }

    fn lstm_bias(&mut self, y: String, lin: &DynamicLinear, name: &str) -> String {
        match &lin.bias {
            Some(b) => {
                let b = self.init(name, b.to_dtype(DType::F32).contiguous());
                self.g.op("Add", vec![y, b], vec![])
            }
            None => y,
        }
    }

    /// The `Scan` over time of one layer and direction: `(y [T, N, H],
    /// h_T, c_T)`.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &mut self,
        node: &QNode,
        x: &str,
        gx: String,
        mask: &str,
        hh: &DynamicLinear,
        names: &Names,
        dir: usize,
        h: usize,
    ) -> Result<(String, String, String)> {
        // The zero state [N, H].
        let shape = self.g.op("Shape", vec![x.to_string()], vec![]);
        let rows = self.g.ints(&[1]);
        let rows = self
            .g
            .op("Gather", vec![shape, rows], vec![("axis", Attr::Int(0))]);
        let width = self.g.ints(&[h as i64]);
        let state_shape = self
            .g
            .op("Concat", vec![rows, width], vec![("axis", Attr::Int(0))]);
        let zero = self.g.scalar(0.0, DType::F32);
        let h0 = self.g.op("Expand", vec![zero.clone(), state_shape], vec![]);
        let w_hh = self.dq_weight(node, &hh.weight, &names.of("weight_hh"))?;
        let w_hh = self.transpose(w_hh, &[1, 0]);
        let split = self.g.ints(&[h as i64; 4]);
        let bias_hh = hh.bias.as_ref().map(|b| {
            let name = names.of("bias_hh");
            self.init(&name, b.to_dtype(DType::F32).contiguous())
        });

        // The body's nodes are made in the main graph (unique names), then
        // moved into the subgraph; it reads the weights from the outer scope.
        let start = self.g.nodes.len();
        let [h_in, c_in, gx_t, m_t] = ["h", "c", "gates_x", "valid"].map(|n| self.g.fresh(n));
        let keep = self.g.op(
            "Where",
            vec![m_t.clone(), h_in.clone(), zero.clone()],
            vec![],
        );
        let hq = self.dynamic_qdq(node, &keep);
        let mut gh = self.g.op("MatMul", vec![hq, w_hh], vec![]);
        if let Some(b) = bias_hh {
            gh = self.g.op("Add", vec![gh, b], vec![]);
        }
        let gates = self.g.op("Add", vec![gx_t.clone(), gh], vec![]);
        let g = self
            .g
            .node("Split", vec![gates, split], vec![("axis", Attr::Int(1))], 4);
        let sigmoid = |b: &mut Self, v: &String| b.g.op("Sigmoid", vec![v.clone()], vec![]);
        let (i, f, o) = (
            sigmoid(self, &g[0]),
            sigmoid(self, &g[1]),
            sigmoid(self, &g[3]),
        );
        let cell = self.g.op("Tanh", vec![g[2].clone()], vec![]);
        let fc = self.g.op("Mul", vec![f, c_in.clone()], vec![]);
        let ic = self.g.op("Mul", vec![i, cell], vec![]);
        let c_new = self.g.op("Add", vec![fc, ic], vec![]);
        let tc = self.g.op("Tanh", vec![c_new.clone()], vec![]);
        let h_new = self.g.op("Mul", vec![o, tc], vec![]);
        let pick = |b: &mut Self, new: &String, old: &String| {
            b.g.op("Where", vec![m_t.clone(), new.clone(), old.clone()], vec![])
        };
        let h_out = pick(self, &h_new, &h_in);
        let c_out = pick(self, &c_new, &c_in);
        let y_t = pick(self, &h_new, &zero);
        let nodes = self.g.nodes.drain(start..).collect();

        let info = |name: &String, width: Option<usize>, dtype: DType| ValueInfo {
            name: name.clone(),
            dtype,
            dims: vec![Dim::Symbol("batch".into()), Dim::Fixed(width.unwrap_or(1))],
        };
        let mut body = Graph::default();
        body.nodes = nodes;
        body.inputs = vec![
            info(&h_in, Some(h), DType::F32),
            info(&c_in, Some(h), DType::F32),
            info(&gx_t, Some(4 * h), DType::F32),
            info(&m_t, None, DType::Bool),
        ];
        body.outputs = vec![
            info(&h_out, Some(h), DType::F32),
            info(&c_out, Some(h), DType::F32),
            info(&y_t, Some(h), DType::F32),
        ];
        let d = dir as i64;
        let attrs = vec![
            ("body", Attr::Graph(Box::new(body))),
            ("num_scan_inputs", Attr::Int(2)),
            ("scan_input_directions", Attr::Ints(vec![d, d])),
            ("scan_output_directions", Attr::Ints(vec![d])),
        ];
        let ins = vec![h0.clone(), h0, gx, mask.to_string()];
        let outs = self.g.node("Scan", ins, attrs, 3);
        Ok((outs[2].clone(), outs[0].clone(), outs[1].clone()))
    }
}

/// Initializer names as PyTorch's LSTM state dict names them
/// (`lstm.weight_ih_l0_reverse`).
struct Names {
    base: String,
    suffix: String,
}

impl Names {
    fn of(&self, what: &str) -> String {
        format!("{}.{what}{}", self.base, self.suffix)
    }
}
