//! Fused elementwise kernels: a chain (or small DAG) of f32 elementwise
//! ops evaluated in one pass over memory, block by block, instead of one
//! full-size temporary per op.
//!
//! Every op is evaluated at the output's shape (the broadcast of all the
//! inputs' shapes): an elementwise op of broadcast operands equals the
//! broadcast of the op, so the result is the unfused one's. Each step
//! uses the formula of torchlet-tensor's kernel for that op (the same
//! `Float` methods, the same order of operations), so fused results match
//! the unfused ones bit for bit; the tests hold them to 1e-5 all the same.

use std::mem::MaybeUninit;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use torchlet_autograd::trace::{AtenOp, BinaryOp};
use torchlet_autograd::{AutogradError, Result};
use torchlet_tensor::{
    broadcast_shapes, buffers, parallel_split_mut, run_kernel, DType, Float, Kernel, Tensor,
};

/// Elements per block: the steps' temporaries stay in L1/L2.
const BLOCK: usize = 1024;

/// The most parts a kernel's output is split into for the thread team.
pub(crate) const MAX_PARTS: usize = 64;

/// The most steps a fused program may have (each needs a block of
/// scratch per thread); the fusion pass never makes more.
pub const MAX_STEPS: usize = 256;

/// A value a step reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operand {
    /// The fused node's input `i`.
    Input(usize),
    /// The result of an earlier step.
    Step(usize),
}

/// One elementwise op of a fused node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The op (one that [`fusible`] accepts).
    pub op: AtenOp,
    /// Its operands: one, or two for a binary op.
    pub args: Vec<Operand>,
}

/// A fused node's program: its steps in order; the last one's result is
/// the node's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FusedExpr {
    /// The steps.
    pub steps: Vec<Step>,
}

/// How many operands `op` takes when it can be fused: the f32
/// elementwise ops whose kernels this module reproduces.
pub fn fusible(op: &AtenOp) -> Option<usize> {
    use BinaryOp::{Add, Div, Mul, Sub};
    match op {
        AtenOp::Binary(Add | Sub | Mul | Div) => Some(2),
        AtenOp::Scalar {
            op: Add | Mul | Div,
            reversed: false,
            ..
        }
        | AtenOp::Scalar { op: Sub, .. } => Some(1),
        AtenOp::Neg
        | AtenOp::Exp
        | AtenOp::Log
        | AtenOp::Log1p
        | AtenOp::Sqrt
        | AtenOp::Rsqrt
        | AtenOp::Reciprocal
        | AtenOp::Sin
        | AtenOp::Cos
        | AtenOp::Tanh
        | AtenOp::Sigmoid
        | AtenOp::Relu
        | AtenOp::Silu
        | AtenOp::Softplus
        | AtenOp::Square
        | AtenOp::Abs
        | AtenOp::Erf
        | AtenOp::Gelu { .. }
        | AtenOp::LeakyRelu(_)
        | AtenOp::Elu(_)
        | AtenOp::Clamp { .. } => Some(1),
        _ => None,
    }
}

impl FusedExpr {
    /// Whether every step is fusible with the right operand count and
    /// reads only inputs below `inputs` and earlier steps (a loaded file's
    /// program is checked so before it runs).
    pub fn is_valid(&self, inputs: usize) -> bool {
        !self.steps.is_empty()
            && self.steps.len() <= MAX_STEPS
            && self.steps.iter().enumerate().all(|(k, s)| {
                fusible(&s.op) == Some(s.args.len())
                    && s.args.iter().all(|a| match *a {
                        Operand::Input(i) => i < inputs,
                        Operand::Step(j) => j < k,
                    })
            })
    }

    /// The program as one binding per step (`t0 = (x0 * x1); t1 = gelu(t0)`),
    /// for printing; the last binding is the output.
    pub fn text(&self) -> String {
        let name = |o: Operand| match o {
            Operand::Input(i) => format!("x{i}"),
            Operand::Step(j) => format!("t{j}"),
        };
        let sym = |b: &BinaryOp| match b {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            _ => "/",
        };
        let steps: Vec<String> = self
            .steps
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let a = |i: usize| s.args.get(i).map_or("?".into(), |&o| name(o));
                let rhs = match &s.op {
                    AtenOp::Binary(b) => format!("{} {} {}", a(0), sym(b), a(1)),
                    AtenOp::Scalar {
                        op,
                        value,
                        reversed: true,
                    } => format!("{value} {} {}", sym(op), a(0)),
                    AtenOp::Scalar { op, value, .. } => format!("{} {} {value}", a(0), sym(op)),
                    op => format!("{}({})", op.name().trim_start_matches("aten::"), a(0)),
                };
                format!("t{k} = {rhs}")
            })
            .collect();
        steps.join("; ")
    }
}

/// Where a block reads an input from.
pub(crate) enum Source<'a> {
    /// The output block itself, as it was before the program ran (an
    /// epilogue's GEMM or convolution result, updated in place).
    Output,
    /// The input has the output's shape: element `i` is `data[i]`.
    Full(&'a [f32]),
    /// The input broadcasts along leading dims only: element `i` is
    /// `data[i % data.len()]`.
    Trailing(&'a [f32]),
    /// Any other broadcast: per output dim, the input's stride (0 where
    /// it broadcasts).
    Strided(&'a [f32], Dims),
}

impl Source<'_> {
    /// Elements `start..start + out.len()` of the broadcast input.
    fn fill(&self, start: usize, out: &mut [f32], shape: &[usize]) {
        match self {
            Source::Output => unreachable!("read from the output block by eval_blocks"),
            Source::Full(d) => out.copy_from_slice(&d[start..start + out.len()]),
            Source::Trailing(d) => {
                // Whole runs of the repeated input: one division per block.
                let mut at = start % d.len();
                let mut rest = out;
                while !rest.is_empty() {
                    let n = rest.len().min(d.len() - at);
                    let (head, tail) = rest.split_at_mut(n);
                    head.copy_from_slice(&d[at..at + n]);
                    rest = tail;
                    at = 0;
                }
            }
            Source::Strided(d, strides) => {
                for (k, o) in out.iter_mut().enumerate() {
                    let (mut rest, mut at) = (start + k, 0);
                    for (&n, &s) in shape.iter().zip(strides).rev() {
                        at += (rest % n) * s;
                        rest /= n;
                    }
                    *o = d[at];
                }
            }
        }
    }
}

fn fail(message: String) -> AutogradError {
    AutogradError::Graph {
        op: "torchlet::fused_elementwise",
        message,
    }
}

/// Shapes and small lists the kernels build per call, kept inline so
/// that a call allocates nothing for them.
pub(crate) type Dims = SmallVec<[usize; 6]>;

/// The broadcast of `shapes` (PyTorch's rules), or the first failure.
pub(crate) fn broadcast_all<'a>(
    op: &'static str,
    shapes: impl Iterator<Item = &'a [usize]>,
) -> Result<Dims> {
    let mut out = Dims::new();
    for s in shapes {
        if s.len() > out.len() {
            let pad = s.len() - out.len();
            out.insert_many(0, std::iter::repeat_n(1, pad));
        }
        let lead = out.len() - s.len();
        if out[lead..]
            .iter()
            .zip(s)
            .any(|(&o, &d)| o != 1 && d != 1 && o != d)
        {
            // Let the tensor crate word the error.
            broadcast_shapes(op, &out, s)?;
        }
        for (o, &d) in out[lead..].iter_mut().zip(s) {
            if *o == 1 {
                *o = d;
            }
        }
    }
    Ok(out)
}

/// Runs `expr` on `inputs` (f32 tensors whose shapes broadcast together).
pub(crate) fn run(expr: &FusedExpr, inputs: &[Option<Tensor>]) -> Result<Tensor> {
    let mut tensors: SmallVec<[Tensor; 4]> = SmallVec::new();
    for (i, t) in inputs.iter().enumerate() {
        let t = t
            .as_ref()
            .ok_or_else(|| fail(format!("input {i} is missing")))?;
        if t.dtype() != DType::F32 {
            return Err(fail(format!("input {i} is {:?}, not f32", t.dtype())));
        }
        tensors.push(t.contiguous());
    }
    if !expr.is_valid(tensors.len()) {
        return Err(fail("the program is malformed".into()));
    }
    let shape = broadcast_all(
        "torchlet::fused_elementwise",
        tensors.iter().map(Tensor::shape),
    )?;
    let n: usize = shape.iter().product();
    let sources: SmallVec<[Source; 4]> = tensors.iter().map(|t| source(t, &shape)).collect();
    let mut out: Vec<f32> = buffers::take_vec(n);
    let parts = n.div_ceil(BLOCK * 8).clamp(1, MAX_PARTS);
    let mut bounds = [0usize; MAX_PARTS + 1];
    for (p, b) in bounds[..=parts].iter_mut().enumerate() {
        *b = ((p * n / parts).div_ceil(BLOCK) * BLOCK).min(n);
    }
    let bounds = &bounds[..=parts];
    let work = n * expr.steps.len() * 8;
    // Every element is written: no zero fill first.
    parallel_split_mut(
        &mut out.spare_capacity_mut()[..n],
        bounds,
        work,
        |p, piece| eval_range(expr, &sources, &shape, bounds[p], piece),
    )?;
    // SAFETY: eval_range wrote every element (its blocks cover each piece,
    // and the pieces cover 0..n).
    unsafe { out.set_len(n) };
    Ok(Tensor::from_vec(out, &shape)?)
}

/// How `t` (contiguous f32) broadcasts to `shape`.
pub(crate) fn source<'a>(t: &'a Tensor, shape: &[usize]) -> Source<'a> {
    let data = t.as_slice::<f32>().expect("contiguous f32");
    let rank = shape.len();
    let mut dims = Dims::from_elem(1, rank - t.shape().len());
    dims.extend_from_slice(t.shape());
    if dims.as_slice() == shape {
        return Source::Full(data);
    }
    let lead = dims.iter().take_while(|&&d| d == 1).count();
    if dims[lead..] == shape[lead..] {
        return Source::Trailing(data);
    }
    let mut strides = Dims::from_elem(0, rank);
    let mut s = 1;
    for i in (0..rank).rev() {
        if dims[i] != 1 {
            strides[i] = s;
        }
        s *= dims[i];
    }
    Source::Strided(data, strides)
}

/// An output element: an initialised `f32` (an epilogue updating a
/// result in place) or a fresh `MaybeUninit<f32>` (a new output, written
/// without a zero fill first).
pub(crate) trait OutElem: Send {
    /// Writes `v`.
    fn put(&mut self, v: f32);
    /// The value, when initialised (what [`Source::Output`] reads).
    fn value(&self) -> Option<f32>;
}

impl OutElem for f32 {
    #[inline(always)]
    fn put(&mut self, v: f32) {
        *self = v;
    }
    #[inline(always)]
    fn value(&self) -> Option<f32> {
        Some(*self)
    }
}

impl OutElem for MaybeUninit<f32> {
    #[inline(always)]
    fn put(&mut self, v: f32) {
        self.write(v);
    }
    #[inline(always)]
    fn value(&self) -> Option<f32> {
        None
    }
}

/// Output elements `start..start + out.len()`, block by block.
pub(crate) fn eval_range<O: OutElem>(
    expr: &FusedExpr,
    sources: &[Source],
    shape: &[usize],
    start: usize,
    out: &mut [O],
) {
    // Pooled scratch (torchlet-tensor's): a second run on the same sizes
    // allocates nothing, whichever threads run its parts.
    let n = sources.len() + expr.steps.len();
    buffers::with_scratch_f32(n * BLOCK, |scratch| {
        let (blocks, _) = scratch.as_chunks_mut::<BLOCK>();
        let (ins, tmp) = blocks.split_at_mut(sources.len());
        // Compiled once per SIMD level and run at the level torchlet-tensor's
        // kernels run at (TORCHLET_SIMD forces one); every level gives the
        // same bits, as there.
        run_kernel(EvalBlocks {
            expr,
            sources,
            shape,
            start,
            out,
            ins,
            tmp,
        })
    })
}

/// [`eval_blocks`]'s arguments, as a [`Kernel`].
struct EvalBlocks<'a, 's, O> {
    expr: &'a FusedExpr,
    sources: &'a [Source<'s>],
    shape: &'a [usize],
    start: usize,
    out: &'a mut [O],
    ins: &'a mut [[f32; BLOCK]],
    tmp: &'a mut [[f32; BLOCK]],
}

impl<O: OutElem> Kernel for EvalBlocks<'_, '_, O> {
    type Out = ();

    #[inline(always)]
    fn run(self) {
        let s = self;
        eval_blocks(s.expr, s.sources, s.shape, s.start, s.out, s.ins, s.tmp)
    }
}

/// [`eval_range`]'s loop over blocks (inlined into each entry, so its
/// loops vectorize with the entry's features), with `ins` (a block per
/// source) and `tmp` (a block per step) as scratch.
#[inline(always)]
fn eval_blocks<O: OutElem>(
    expr: &FusedExpr,
    sources: &[Source],
    shape: &[usize],
    start: usize,
    out: &mut [O],
    ins: &mut [[f32; BLOCK]],
    tmp: &mut [[f32; BLOCK]],
) {
    // The last step writes the output block directly, unless a step reads
    // that block (an epilogue's input) and must see it unchanged.
    let reads_output = sources.iter().any(|s| matches!(s, Source::Output));
    let last = expr.steps.len() - 1;
    for (b, chunk) in out.chunks_mut(BLOCK).enumerate() {
        let len = chunk.len();
        let at = start + b * BLOCK;
        for (buf, src) in ins.iter_mut().zip(sources) {
            match src {
                Source::Output => {
                    for (b, o) in buf.iter_mut().zip(chunk.iter()) {
                        *b = o
                            .value()
                            .expect("an epilogue's output block is initialised");
                    }
                }
                // Read in place below.
                Source::Full(_) => {}
                src => src.fill(at, &mut buf[..len], shape),
            }
        }
        for (k, step) in expr.steps.iter().enumerate() {
            let (done, rest) = tmp.split_at_mut(k);
            let arg = |i: usize| -> &[f32] {
                match step.args[i] {
                    Operand::Input(j) => match sources[j] {
                        Source::Full(d) => &d[at..at + len],
                        _ => &ins[j][..len],
                    },
                    Operand::Step(j) => &done[j][..len],
                }
            };
            let (a, b) = (arg(0), step.args.get(1).map(|_| arg(1)));
            if k == last && !reads_output {
                apply(&step.op, a, b, &mut *chunk);
            } else {
                apply(&step.op, a, b, &mut rest[0][..len]);
            }
        }
        if reads_output {
            for (o, &v) in chunk.iter_mut().zip(&tmp[last][..len]) {
                o.put(v);
            }
        }
    }
}

/// One step over a block: `dst[i] = op(a[i], b[i])`, with torchlet-
/// tensor's formula for `op`.
#[inline(always)]
fn apply<O: OutElem>(op: &AtenOp, a: &[f32], b: Option<&[f32]>, dst: &mut [O]) {
    macro_rules! map {
        (|$x:ident| $e:expr) => {
            for (d, &$x) in dst.iter_mut().zip(a) {
                d.put($e);
            }
        };
    }
    macro_rules! zip {
        (|$x:ident, $y:ident| $e:expr) => {
            for ((d, &$x), &$y) in dst
                .iter_mut()
                .zip(a)
                .zip(b.expect("a binary step has two operands"))
            {
                d.put($e);
            }
        };
    }
    match op {
        AtenOp::Binary(BinaryOp::Add) => zip!(|x, y| x + y),
        AtenOp::Binary(BinaryOp::Sub) => zip!(|x, y| x - y),
        AtenOp::Binary(BinaryOp::Mul) => zip!(|x, y| x * y),
        AtenOp::Binary(BinaryOp::Div) => zip!(|x, y| x / y),
        AtenOp::Scalar {
            op,
            value,
            reversed,
        } => {
            let v = *value as f32;
            match (op, reversed) {
                (BinaryOp::Add, _) => map!(|x| x + v),
                (BinaryOp::Sub, false) => map!(|x| x - v),
                (BinaryOp::Sub, true) => map!(|x| v - x),
                (BinaryOp::Mul, _) => map!(|x| x * v),
                // Dividing by a power of two is multiplying by its exact
                // inverse: the same rounded value, without a division.
                _ if v.is_normal() && (1.0 / v).is_normal() && v.to_bits() & 0x7f_ffff == 0 => {
                    let inv = 1.0 / v;
                    map!(|x| x * inv)
                }
                _ => map!(|x| x / v),
            }
        }
        AtenOp::Neg => map!(|x| 0.0 - x),
        AtenOp::Exp => map!(|x| x.exp_fast()),
        AtenOp::Log => map!(|x| x.ln()),
        AtenOp::Log1p => map!(|x| x.ln_1p()),
        AtenOp::Sqrt => map!(|x| x.sqrt()),
        AtenOp::Rsqrt => map!(|x| 1.0 / x.sqrt()),
        AtenOp::Reciprocal => map!(|x| 1.0 / x),
        AtenOp::Sin => map!(|x| x.sin()),
        AtenOp::Cos => map!(|x| x.cos()),
        AtenOp::Tanh => map!(|x| x.tanh_fast()),
        AtenOp::Sigmoid => map!(|x| Float::sigmoid(x)),
        AtenOp::Relu => map!(|x| if x < 0.0 { 0.0 } else { x }),
        AtenOp::Silu => map!(|x| x * Float::sigmoid(x)),
        AtenOp::Softplus => map!(|x| if x > 20.0 { x } else { x.exp().ln_1p() }),
        AtenOp::Square => map!(|x| x * x),
        AtenOp::Abs => map!(|x| if x < 0.0 { 0.0 - x } else { x }),
        AtenOp::Erf => map!(|x| Float::erf(x)),
        AtenOp::Gelu { tanh: false } => {
            let r = std::f64::consts::FRAC_1_SQRT_2 as f32;
            map!(|x| 0.5 * x * (1.0 + Float::erf(x * r)))
        }
        AtenOp::Gelu { tanh: true } => {
            let k = (2.0 / std::f64::consts::PI).sqrt() as f32;
            map!(|x| 0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh_fast()))
        }
        AtenOp::LeakyRelu(s) => {
            let s = *s as f32;
            map!(|x| if x < 0.0 { x * s } else { x })
        }
        AtenOp::Elu(alpha) => {
            let al = *alpha as f32;
            map!(|x| if x > 0.0 { x } else { al * x.exp_m1() })
        }
        AtenOp::Clamp { min, max } => {
            let lo = min.map_or(f32::NEG_INFINITY, |v| v as f32);
            let hi = max.map_or(f32::INFINITY, |v| v as f32);
            map!(|x| {
                let y = if x < lo { lo } else { x };
                if y > hi {
                    hi
                } else {
                    y
                }
            })
        }
        other => unreachable!("{other:?} is not fusible (checked by is_valid)"),
    }
}
