//! Batch-parallel inference of static quantized models.
//!
//! Every op of a static int8 model computes each sample of its batch on
//! its own (the activation parameters are fixed at `convert`), so the
//! batch can be cut into one piece per thread and each piece run through
//! the whole model on one thread: one parallel region per call instead of
//! one per op, and no thread waits for the others between layers. Each
//! output element is still made by the same kernel with the same formula,
//! so results are bit-identical to running the batch whole.

use std::sync::Mutex;

use torchlet_tensor::{get_num_threads, run_inline, Tensor};

use crate::convert::{QOp, QuantizedModel};
use crate::kernels::par_for;
use crate::Result;

/// Below this many multiply-adds (a lower bound, see `sample_macs`) a
/// call runs whole: the pieces would be too small to pay for the threads.
const MIN_MACS: usize = 1 << 17;

impl QuantizedModel {
    /// Whether every op treats the samples of dim 0 apart: static
    /// quantized ops, and reshapes that keep dim 0 (dynamic ops quantize
    /// the whole batch at once; float ops are not looked into).
    pub(crate) fn per_sample(&self) -> bool {
        self.nodes.iter().all(|n| match &n.op {
            QOp::Quantize { .. }
            | QOp::Dequantize
            | QOp::Conv2d { .. }
            | QOp::Linear { .. }
            | QOp::Relu
            | QOp::MaxPool2d { .. }
            | QOp::AdaptiveAvgPool2d { .. }
            | QOp::Add { .. } => true,
            QOp::Flatten { start, .. } => *start >= 1,
            QOp::Reshape(shape) => shape.first() == Some(&-1) && shape[1..].iter().all(|&d| d >= 0),
            QOp::Cat { dim, .. } => *dim >= 1,
            QOp::Float(_) | QOp::DynamicLinear(_) | QOp::DynamicLstm(_) => false,
        })
    }

    /// A lower bound on one sample's multiply-adds: every weight used
    /// once (a convolution uses its weight once per output pixel).
    fn sample_macs(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| match &n.op {
                QOp::Conv2d { params, .. } | QOp::Linear { params, .. } => {
                    params.weight.shape().iter().product()
                }
                _ => 0,
            })
            .sum()
    }

    /// `run` with the batch cut into one piece per thread, or `None` when
    /// that does not pay (one thread, a small batch or model) or does not
    /// hold (see `per_sample`).
    pub(crate) fn run_split(&self, x: &Tensor) -> Option<Result<Tensor>> {
        let batch = *x.shape().first()?;
        let parts = get_num_threads().min(batch);
        if parts < 2 || batch * self.sample_macs() < MIN_MACS || !self.per_sample() {
            return None;
        }
        let outs: Vec<Mutex<Option<Result<Tensor>>>> =
            (0..parts).map(|_| Mutex::new(None)).collect();
        par_for(parts, usize::MAX, |p| {
            let (start, end) = (p * batch / parts, (p + 1) * batch / parts);
            let piece = x.narrow(0, start as i64, end - start).map_err(Into::into);
            let out = piece.and_then(|piece| run_inline(|| self.run_whole(&piece)));
            *outs[p].lock().expect("no piece panics holding its slot") = Some(out);
        });
        let outs: Vec<Tensor> = outs
            .into_iter()
            .map(|slot| {
                slot.into_inner()
                    .expect("no piece panics holding its slot")
                    .expect("par_for runs every part")
            })
            .collect::<Result<_>>()
            .ok()?;
        Some(Tensor::cat(&outs, 0).map_err(Into::into))
    }
}
