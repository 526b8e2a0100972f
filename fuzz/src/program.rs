//! The op-API target's decoder: bytes become a short program of tensor
//! and autograd ops on small tensors of any rank (0-d and empty dims
//! included), with negative dims, size-1 broadcasting and sizes no tensor
//! can have; the program runs forward, then backward. Any `Err` is fine;
//! a panic or an abort is a bug.

use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

use crate::Bytes;

/// The most elements a value of the program may hold (bigger results are
/// dropped, so the fuzzer spends its time on semantics, not on memory).
const MAX_ELEMENTS: usize = 1 << 12;
/// The most values the program keeps.
const MAX_VALUES: usize = 8;

/// Decodes and runs one program.
pub fn run(data: &[u8]) {
    let mut b = Bytes::new(data);
    let mut values: Vec<Variable> = Vec::new();
    for _ in 0..2 {
        values.push(leaf(&mut b));
    }
    while !b.is_empty() {
        let op = b.byte();
        let x = values[b.below(values.len())].clone();
        let y = values[b.below(values.len())].clone();
        let out = match op % 40 {
            0 => Some(leaf(&mut b)),
            1 => x.add(&y).ok(),
            2 => x.sub(&y).ok(),
            3 => x.mul(&y).ok(),
            4 => x.div(&y).ok(),
            5 => x.matmul(&y).ok(),
            6 => x.sum_dim(b.dim()).ok(),
            7 => {
                let dims = dims(&mut b);
                x.mean_dims(&dims, b.byte() & 1 == 1).ok()
            }
            8 => x.reshape(&shape(&mut b)).ok(),
            9 => x.transpose(b.dim(), b.dim()).ok(),
            10 => x.permute(&dims(&mut b)).ok(),
            11 => x.expand(&shape(&mut b)).ok(),
            12 => x.unsqueeze(b.dim()).ok(),
            13 => x.squeeze(b.dim()).ok(),
            14 => x.flatten(b.dim(), b.dim()).ok(),
            15 => x.narrow(b.dim(), b.dim(), b.size()).ok(),
            16 => x.select(b.dim(), b.dim()).ok(),
            17 => Variable::cat(&[&x, &y], b.dim()).ok(),
            18 => Variable::stack(&[&x, &y], b.dim()).ok(),
            19 => x.index_select(b.dim(), &index(&mut b, &x)).ok(),
            20 => x.gather(b.dim(), &index(&mut b, &x)).ok(),
            21 => x.softmax(b.dim()).ok(),
            22 => x.log_softmax(b.dim()).ok(),
            23 => x.logsumexp(b.dim(), b.byte() & 1 == 1).ok(),
            24 => x.max_dim(b.dim(), b.byte() & 1 == 1).ok().map(|(v, _)| v),
            25 => Some(unary(&mut b, &x)),
            26 => {
                let s = [b.below(3), b.below(3)];
                let p = [b.below(3), b.below(3)];
                let d = [b.below(3), b.below(3)];
                x.conv2d(&y, None, s, p, d, b.below(3)).ok()
            }
            27 => {
                let k = [b.below(4), b.below(4)];
                x.max_pool2d(k, [b.below(3), b.below(3)], [b.below(3), b.below(3)])
                    .ok()
            }
            28 => {
                let k = [b.below(4), b.below(4)];
                x.avg_pool2d(k, [b.below(3), b.below(3)], [b.below(3), b.below(3)])
                    .ok()
            }
            29 => {
                let value = b.float() as f64;
                let mask = y.data().gt(0.0).ok().map(Variable::constant);
                mask.and_then(|m| x.masked_fill(&m, value).ok())
            }
            30 => {
                let cond = x.data().lt(0.5).ok();
                cond.and_then(|c| Variable::where_cond(&c, &x, &y).ok())
            }
            31 => x
                .chunk(b.size(), b.dim())
                .ok()
                .and_then(|v| v.last().cloned()),
            32 => x
                .split(b.size(), b.dim())
                .ok()
                .and_then(|v| v.first().cloned()),
            33 => x.std_dim(b.dim(), b.below(3), b.byte() & 1 == 1).ok(),
            34 => x.prod_dim(b.dim(), b.byte() & 1 == 1).ok(),
            35 => x.movedim(b.dim(), b.dim()).ok(),
            36 => x.maximum(&y).ok(),
            37 => x.adaptive_avg_pool2d([b.below(5), b.below(5)]).ok(),
            38 => more_reductions_and_views(&mut b, &x),
            _ => x.linear(&y, None).ok(),
        };
        if let Some(v) = out {
            // Empty values with huge dims are dropped too: reducing one
            // over its empty dim asks for the other dims' terabytes.
            if v.numel() <= MAX_ELEMENTS && v.shape().iter().all(|&d| d <= MAX_ELEMENTS) {
                if values.len() == MAX_VALUES {
                    values.remove(0);
                }
                values.push(v);
            }
        }
    }
    if let Some(last) = values.last() {
        let _ = last.sum().backward();
    }
}

/// More reductions and views, grouped to keep the match short.
fn more_reductions_and_views(b: &mut Bytes, x: &Variable) -> Option<Variable> {
    match b.below(4) {
        0 => x.var_dim(b.dim(), b.below(3), false).ok(),
        1 => x.min_dim(b.dim(), true).ok().map(|(v, _)| v),
        2 => x.select(b.dim(), -1).ok(),
        _ => x.t().ok(),
    }
}

/// A leaf that requires grad, of a decoded shape (dims 0..=4) and values;
/// sometimes first a shape whose element count overflows, which
/// `from_vec` must refuse without allocating. (Huge sizes go to the ops'
/// size arguments instead: an empty leaf with huge other dims would make
/// a reduction ask for terabytes, which aborts as `Vec` does.)
fn leaf(b: &mut Bytes) -> Variable {
    if b.byte() == 255 {
        let huge = [b.size(), usize::MAX / 2, 3];
        assert!(Tensor::from_vec(Vec::<f32>::new(), &huge).is_err() || huge[0] == 0);
    }
    let rank = b.below(5);
    let shape: Vec<usize> = (0..rank).map(|_| b.below(5)).collect();
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| b.float()).collect();
    let t = Tensor::from_vec(values, &shape).expect("the data fits the shape");
    Variable::parameter(t)
}

/// A unary elementwise op.
fn unary(b: &mut Bytes, x: &Variable) -> Variable {
    match b.below(12) {
        0 => x.relu(),
        1 => x.sigmoid(),
        2 => x.tanh(),
        3 => x.exp(),
        4 => x.log(),
        5 => x.sqrt(),
        6 => x.abs(),
        7 => x.gelu(),
        8 => x.pow(b.float() as f64).unwrap_or_else(|_| x.clone()),
        9 => x.clamp(b.float() as f64, b.float() as f64),
        10 => x.leaky_relu(b.float() as f64),
        _ => x.rsqrt(),
    }
}

/// Up to four dims, possibly repeated or out of range.
fn dims(b: &mut Bytes) -> Vec<i64> {
    (0..b.below(5)).map(|_| b.dim()).collect()
}

/// A shape argument: sizes, `-1` (infer or keep) and huge values.
fn shape(b: &mut Bytes) -> Vec<i64> {
    (0..b.below(5))
        .map(|_| match b.byte() {
            253 => -1,
            252 => -2,
            _ => b.size() as i64,
        })
        .collect()
}

/// An int64 index: a vector, or `x`'s shape, of values around `x`'s
/// sizes (some out of range, some negative).
fn index(b: &mut Bytes, x: &Variable) -> Tensor {
    let shape = if b.byte() & 1 == 0 {
        vec![b.below(5)]
    } else {
        x.shape()
    };
    let n: usize = shape.iter().product();
    let values: Vec<i64> = (0..n.min(MAX_ELEMENTS))
        .map(|_| b.below(7) as i64 - 2)
        .collect();
    Tensor::from_vec(values, &shape).unwrap_or_else(|_| Tensor::from_vec(vec![0i64], &[1]).unwrap())
}
