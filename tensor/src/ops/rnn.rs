//! A whole LSTM layer (one direction) over a sequence, forward and
//! backward, as two kernels.
//!
//! Running the recurrence as separate ops costs a dozen small tensors and
//! graph nodes per time step, and its backward multiplies by the weights
//! once per step and per op. Fused, the input projection `x W_ihᵀ` of all
//! steps is one GEMM, each step is one `[N, H] x [H, 4H]` GEMM plus one
//! pass over the gates, and the backward gathers every step's gate
//! gradients so that `dx`, `dW_ih` and `dW_hh` are again one GEMM each.
//! This is how cuDNN and oneDNN run LSTMs.

use std::ops::Range;

use super::rnn_cell::{CellsBackward, CellsForward};
use crate::dtype::{Element, Float};
use crate::error::{Result, TensorError};
use crate::gemm::{gemm, MatView, GEMM_PAR_THRESHOLD};
use crate::parallel::{maybe_parallel, run_parts, threads_for, SharedMut};
use crate::simd::run_kernel;
use crate::tensor::{with_float, Tensor};

/// What the forward of [`lstm_sequence`] keeps for its backward.
#[derive(Clone, Debug)]
pub struct LstmTrace {
    /// The activated gates `(i, f, g, o)` of every step, `[T, N, 4H]`.
    gates: Tensor,
    /// The cell state after every step, `[T, N, H]` (time order).
    cells: Tensor,
    /// `tanh` of those cell states.
    tanh_cells: Tensor,
}

/// The result of [`lstm_sequence`].
#[derive(Clone, Debug)]
pub struct LstmSequence {
    /// The hidden state of every step, `[T, N, H]`, in time order (also
    /// for a reverse pass).
    pub output: Tensor,
    /// The final hidden state `[N, H]` (of step `T-1`, or of step 0 when
    /// running in reverse).
    pub h_n: Tensor,
    /// The final cell state `[N, H]`.
    pub c_n: Tensor,
    /// What [`lstm_sequence_backward`] needs.
    pub trace: LstmTrace,
}

/// The gradients [`lstm_sequence_backward`] returns.
#[derive(Clone, Debug)]
pub struct LstmSequenceGrads {
    /// With respect to the input `[T, N, I]`.
    pub input: Tensor,
    /// With respect to the initial hidden state `[N, H]`.
    pub h0: Tensor,
    /// With respect to the initial cell state `[N, H]`.
    pub c0: Tensor,
    /// With respect to `w_ih` `[4H, I]`.
    pub w_ih: Tensor,
    /// With respect to `w_hh` `[4H, H]`.
    pub w_hh: Tensor,
    /// With respect to either bias `[4H]` (both get the same gradient).
    pub bias: Tensor,
}

/// Sizes of one LSTM pass.
#[derive(Clone, Copy)]
pub(super) struct Dims {
    pub(super) steps: usize,
    pub(super) batch: usize,
    input: usize,
    pub(super) hidden: usize,
    reverse: bool,
}

impl Dims {
    /// The time index of the `k`-th step processed.
    fn time(&self, k: usize) -> usize {
        if self.reverse {
            self.steps - 1 - k
        } else {
            k
        }
    }

    /// The time index whose state feeds step `t`, `None` for the first.
    fn previous(&self, t: usize) -> Option<usize> {
        if self.reverse {
            (t + 1 < self.steps).then_some(t + 1)
        } else {
            t.checked_sub(1)
        }
    }
}

/// Runs one LSTM layer and direction over `x` `[T, N, I]` from the states
/// `h0`, `c0` `[N, H]`, with PyTorch's weights (`w_ih` `[4H, I]`, `w_hh`
/// `[4H, H]`, gate order input, forget, cell, output) and optional biases
/// `[4H]`. With `reverse` the steps run from `T-1` down to 0.
///
/// ```
/// use torchlet_tensor::{functional as F, Tensor};
/// let (t, n, i, h) = (5, 2, 3, 4);
/// let w_ih = Tensor::rand(&[4 * h, i]);
/// let w_hh = Tensor::rand(&[4 * h, h]);
/// let zeros = Tensor::zeros(&[n, h]);
/// let x = Tensor::rand(&[t, n, i]);
/// let run = F::lstm_sequence(&x, &zeros, &zeros, &w_ih, &w_hh, None, None, false).unwrap();
/// assert_eq!(run.output.shape(), [t, n, h]);
/// // The first step by hand: gates = x0 W_ih^T + h0 W_hh^T (h0 = 0), c1 = i * g.
/// let gates = x.select(0, 0).unwrap().matmul(&w_ih.t().unwrap()).unwrap();
/// let g = gates.chunk(4, -1).unwrap();
/// let c1 = g[0].sigmoid().mul(&g[2].tanh()).unwrap();
/// let h1 = g[3].sigmoid().mul(&c1.tanh()).unwrap();
/// let gap = |a: &Tensor, b: &Tensor| a.sub(b).unwrap().abs().max().unwrap().item::<f32>().unwrap();
/// assert!(gap(&run.output.select(0, 0).unwrap(), &h1) < 1e-5);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn lstm_sequence(
    x: &Tensor,
    h0: &Tensor,
    c0: &Tensor,
    w_ih: &Tensor,
    w_hh: &Tensor,
    b_ih: Option<&Tensor>,
    b_hh: Option<&Tensor>,
    reverse: bool,
) -> Result<LstmSequence> {
    let d = check(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)?;
    let (t, n, h) = (d.steps, d.batch, d.hidden);
    with_float!(x.dtype(), T => {
        let bias = combined_bias::<T>(b_ih, b_hh);
        let f = forward::<T>(
            &x.values::<T>(),
            &h0.values::<T>(),
            &c0.values::<T>(),
            &w_ih.values::<T>(),
            &w_hh.values::<T>(),
            bias.as_deref(),
            d,
            None,
        );
        let last = d.time(t - 1);
        let state = |v: &[T]| Tensor::from_slice(&v[last * n * h..][..n * h], &[n, h]);
        Ok(LstmSequence {
            h_n: state(&f.out)?,
            c_n: state(&f.cells)?,
            output: Tensor::from_vec(f.out, &[t, n, h])?,
            trace: LstmTrace {
                gates: Tensor::from_vec(f.gates, &[t, n, 4 * h])?,
                cells: Tensor::from_vec(f.cells, &[t, n, h])?,
                tanh_cells: Tensor::from_vec(f.tanh_cells, &[t, n, h])?,
            },
        })
    })
}

/// The backward of [`lstm_sequence`]: given the gradients of its `output`
/// (`d_output` `[T, N, H]`, which carries that of `h_n` in its last step)
/// and of `c_n` (`d_c_n` `[N, H]`), the gradients of every input. `x`,
/// `h0`, `c0`, the weights, `reverse` and `output` must be those of the
/// forward that made `trace`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_sequence_backward(
    trace: &LstmTrace,
    x: &Tensor,
    h0: &Tensor,
    c0: &Tensor,
    w_ih: &Tensor,
    w_hh: &Tensor,
    output: &Tensor,
    d_output: &Tensor,
    d_c_n: &Tensor,
    reverse: bool,
) -> Result<LstmSequenceGrads> {
    let d = check(x, h0, c0, w_ih, w_hh, None, None, reverse)?;
    let (t, n, i, h) = (d.steps, d.batch, d.input, d.hidden);
    let state_shape = [t, n, h];
    for (name, tensor, shape) in [
        ("output", output, &state_shape[..]),
        ("d_output", d_output, &state_shape[..]),
        ("d_c_n", d_c_n, &[n, h][..]),
        ("trace.cells", &trace.cells, &state_shape[..]),
        ("trace.gates", &trace.gates, &[t, n, 4 * h][..]),
    ] {
        if tensor.shape() != shape {
            return Err(TensorError::shapes(
                "lstm_sequence_backward",
                &[tensor.shape(), shape],
                format!("{name} must have shape {shape:?}"),
            ));
        }
    }
    with_float!(x.dtype(), T => {
        let vals = |v: &Tensor| v.to_dtype(<T as Element>::DTYPE).values::<T>().into_owned();
        let g = backward::<T>(
            Saved {
                x: &x.values::<T>(),
                h0: &h0.values::<T>(),
                c0: &c0.values::<T>(),
                w_ih: &w_ih.values::<T>(),
                w_hh: &w_hh.values::<T>(),
                out: &output.values::<T>(),
                gates: &trace.gates.values::<T>(),
                cells: &trace.cells.values::<T>(),
                tanh_cells: &trace.tanh_cells.values::<T>(),
            },
            &vals(d_output),
            vals(d_c_n),
            d,
        );
        Ok(LstmSequenceGrads {
            input: Tensor::from_vec(g.x, &[t, n, i])?,
            h0: Tensor::from_vec(g.h0, &[n, h])?,
            c0: Tensor::from_vec(g.c0, &[n, h])?,
            w_ih: Tensor::from_vec(g.w_ih, &[4 * h, i])?,
            w_hh: Tensor::from_vec(g.w_hh, &[4 * h, h])?,
            bias: Tensor::from_vec(g.bias, &[4 * h])?,
        })
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn check(
    x: &Tensor,
    h0: &Tensor,
    c0: &Tensor,
    w_ih: &Tensor,
    w_hh: &Tensor,
    b_ih: Option<&Tensor>,
    b_hh: Option<&Tensor>,
    reverse: bool,
) -> Result<Dims> {
    const OP: &str = "lstm_sequence";
    if !x.dtype().is_float() {
        return Err(TensorError::dtype(OP, "a float input", x.dtype()));
    }
    let all = [
        Some(x),
        Some(h0),
        Some(c0),
        Some(w_ih),
        Some(w_hh),
        b_ih,
        b_hh,
    ];
    for t in all.into_iter().flatten() {
        if t.dtype() != x.dtype() {
            return Err(TensorError::dtype(
                OP,
                format!("every tensor of dtype {}", x.dtype()),
                t.dtype(),
            ));
        }
    }
    let shapes: Vec<&[usize]> = [x, h0, c0, w_ih, w_hh].iter().map(|t| t.shape()).collect();
    let bad = |why: String| Err(TensorError::shapes(OP, &shapes, why));
    let [steps, batch, input] = x.shape() else {
        return bad(format!("x must be [T, N, I], got {:?}", x.shape()));
    };
    let hidden = w_hh.shape().get(1).copied().unwrap_or(0);
    let (steps, batch, input) = (*steps, *batch, *input);
    if steps == 0 {
        return bad("the sequence must have at least one step".into());
    }
    if w_ih.shape() != [4 * hidden, input] || w_hh.shape() != [4 * hidden, hidden] {
        return bad(format!(
            "expected w_ih [4H, I] = [{}, {input}] and w_hh [4H, H] = [{}, {hidden}]",
            4 * hidden,
            4 * hidden
        ));
    }
    if h0.shape() != [batch, hidden] || c0.shape() != [batch, hidden] {
        return bad(format!("h0 and c0 must be [N, H] = [{batch}, {hidden}]"));
    }
    for b in [b_ih, b_hh].into_iter().flatten() {
        if b.shape() != [4 * hidden] {
            return bad(format!(
                "biases must be [4H] = [{}], got {:?}",
                4 * hidden,
                b.shape()
            ));
        }
    }
    Ok(Dims {
        steps,
        batch,
        input,
        hidden,
        reverse,
    })
}

/// `b_ih + b_hh`, or `None` without biases.
pub(super) fn combined_bias<T: Float>(
    b_ih: Option<&Tensor>,
    b_hh: Option<&Tensor>,
) -> Option<Vec<T>> {
    let mut sum: Option<Vec<T>> = None;
    for b in [b_ih, b_hh].into_iter().flatten() {
        let v = b.values::<T>();
        match &mut sum {
            None => sum = Some(v.into_owned()),
            Some(s) => s.iter_mut().zip(v.iter()).for_each(|(s, &b)| *s += b),
        }
    }
    sum
}

pub(super) struct Forward<T> {
    pub(super) out: Vec<T>,
    gates: Vec<T>,
    cells: Vec<T>,
    tanh_cells: Vec<T>,
    /// The final hidden and cell states `[N, H]`.
    pub(super) h_n: Vec<T>,
    pub(super) c_n: Vec<T>,
}

/// Into how many blocks of batch rows each step's work is split across
/// threads: one step's GEMM is too small for faer to thread well, but
/// rows are independent, so each thread takes whole rows (the GEMM and
/// the gate pass). One block when the step is too small to pay for the
/// hand-off, or when already running inside the pool.
fn row_blocks(batch: usize, hidden: usize) -> usize {
    let work = batch * 4 * hidden * hidden;
    if work < (1 << 18) || batch < 8 {
        return 1;
    }
    threads_for(work, 0).min(batch / 4).max(1)
}

/// Block `j` of `rows_per` batch rows (of `n`) as element ranges of the
/// `[N, H]` states and of the `[N, 4H]` gates.
fn block_ranges(j: usize, rows_per: usize, n: usize, h: usize) -> (Range<usize>, Range<usize>) {
    let (lo, hi) = (j * rows_per, ((j + 1) * rows_per).min(n));
    (lo * h..hi * h, lo * 4 * h..hi * 4 * h)
}

/// `dst = a @ b`, threaded when large.
fn gemm_threaded<T: Float>(dst: &mut [T], a: MatView<'_, T>, b: MatView<'_, T>) {
    maybe_parallel(a.rows * a.cols * b.cols, GEMM_PAR_THRESHOLD, |th| {
        gemm(dst, a, b, false, th)
    });
}

/// `dst = a @ bᵀ` with row-major `a` `[m, k]` and `b` `[n, k]`, threaded
/// when large.
fn gemm_nt<T: Float>(dst: &mut [T], a: &[T], b: &[T], m: usize, k: usize, n: usize, acc: bool) {
    let (av, bv) = (MatView::row_major(a, m, k), MatView::row_major(b, n, k).t());
    maybe_parallel(m * n * k, GEMM_PAR_THRESHOLD, |th| {
        gemm(dst, av, bv, acc, th)
    });
}

/// The forward pass; with `lengths` (forward direction only), row `r`
/// stops at step `lengths[r]`: later steps output zeros and leave its
/// state alone (`h_prev`, `c_prev` end as each row's final state).
#[allow(clippy::too_many_arguments)]
pub(super) fn forward<T: Float>(
    x: &[T],
    h0: &[T],
    c0: &[T],
    w_ih: &[T],
    w_hh: &[T],
    bias: Option<&[T]>,
    d: Dims,
    lengths: Option<&[usize]>,
) -> Forward<T> {
    let (t, n, h) = (d.steps, d.batch, d.hidden);
    let (g4, nh) = (4 * h, n * h);
    // The input projection of every step at once.
    let mut gates = vec![T::ZERO; t * n * g4];
    gemm_nt(&mut gates, x, w_ih, t * n, d.input, g4, false);
    if let Some(b) = bias {
        for row in gates.chunks_mut(g4) {
            row.iter_mut().zip(b).for_each(|(g, &b)| *g += b);
        }
    }
    let mut out = vec![T::ZERO; t * nh];
    let mut cells = vec![T::ZERO; t * nh];
    let mut tanh_cells = vec![T::ZERO; t * nh];
    let (mut h_prev, mut c_prev) = (h0.to_vec(), c0.to_vec());
    let blocks = row_blocks(n, h);
    let rows_per = n.div_ceil(blocks);
    let blocks = n.div_ceil(rows_per);
    let mut steps = || {
        for k in 0..t {
            let s = d.time(k);
            let g = &mut gates[s * n * g4..][..n * g4];
            let (c, tc, hs) = (
                &mut cells[s * nh..][..nh],
                &mut tanh_cells[s * nh..][..nh],
                &mut out[s * nh..][..nh],
            );
            let block =
                |g: &mut [T], hp: &[T], cp: &[T], c: &mut [T], tc: &mut [T], hs: &mut [T]| {
                    let rows = hp.len() / h;
                    gemm_nt(g, hp, w_hh, rows, h, g4, true);
                    run_kernel(CellsForward {
                        g,
                        cp,
                        c,
                        tc,
                        hs,
                        h,
                    });
                };
            if blocks == 1 {
                block(g, &h_prev, &c_prev, c, tc, hs);
            } else {
                let (g, c, tc, hs) = (
                    SharedMut::new(g),
                    SharedMut::new(c),
                    SharedMut::new(tc),
                    SharedMut::new(hs),
                );
                run_parts(blocks, blocks, |j| {
                    let (rh, rg) = block_ranges(j, rows_per, n, h);
                    // SAFETY: each part owns its block of batch rows.
                    unsafe {
                        block(
                            g.range(rg),
                            &h_prev[rh.clone()],
                            &c_prev[rh.clone()],
                            c.range(rh.clone()),
                            tc.range(rh.clone()),
                            hs.range(rh),
                        )
                    }
                });
            }
            match lengths {
                None => {
                    h_prev.copy_from_slice(hs);
                    c_prev.copy_from_slice(c);
                }
                Some(lengths) => {
                    for (r, &len) in lengths.iter().enumerate() {
                        let row = r * h..(r + 1) * h;
                        if s < len {
                            h_prev[row.clone()].copy_from_slice(&hs[row.clone()]);
                            c_prev[row.clone()].copy_from_slice(&c[row]);
                        } else {
                            hs[row].fill(T::ZERO);
                        }
                    }
                }
            }
        }
    };
    steps();
    Forward {
        out,
        gates,
        cells,
        tanh_cells,
        h_n: h_prev,
        c_n: c_prev,
    }
}

struct Saved<'a, T> {
    x: &'a [T],
    h0: &'a [T],
    c0: &'a [T],
    w_ih: &'a [T],
    w_hh: &'a [T],
    out: &'a [T],
    gates: &'a [T],
    cells: &'a [T],
    tanh_cells: &'a [T],
}

struct Grads<T> {
    x: Vec<T>,
    h0: Vec<T>,
    c0: Vec<T>,
    w_ih: Vec<T>,
    w_hh: Vec<T>,
    bias: Vec<T>,
}

fn backward<T: Float>(s: Saved<'_, T>, d_out: &[T], d_c_n: Vec<T>, d: Dims) -> Grads<T> {
    let (t, n, i, h) = (d.steps, d.batch, d.input, d.hidden);
    let (g4, nh) = (4 * h, n * h);
    // Gradients with respect to the gates' pre-activations, every step.
    let mut dgates = vec![T::ZERO; t * n * g4];
    let mut dh = vec![T::ZERO; nh];
    let mut dc = d_c_n;
    let blocks = row_blocks(n, h);
    let rows_per = n.div_ceil(blocks);
    let blocks = n.div_ceil(rows_per);
    let mut steps = || {
        for k in (0..t).rev() {
            let st = d.time(k);
            let c_prev = match d.previous(st) {
                Some(p) => &s.cells[p * nh..][..nh],
                None => s.c0,
            };
            let (gates, tc) = (
                &s.gates[st * n * g4..][..n * g4],
                &s.tanh_cells[st * nh..][..nh],
            );
            let d_out = &d_out[st * nh..][..nh];
            let dg = &mut dgates[st * n * g4..][..n * g4];
            // One block of rows: the gate gradients of this step, then
            // the hidden state's gradient for the step before,
            // dh = dgates @ W_hh.
            let block = |gates: &[T],
                         tc: &[T],
                         cp: &[T],
                         d_out: &[T],
                         dh: &mut [T],
                         dc: &mut [T],
                         dg: &mut [T]| {
                let rows = tc.len() / h;
                dh.iter_mut().zip(d_out).for_each(|(a, &b)| *a += b);
                run_kernel(CellsBackward {
                    gates,
                    tc,
                    cp,
                    dh: &*dh,
                    dc: &mut *dc,
                    dg: &mut *dg,
                    h,
                });
                let (av, bv) = (
                    MatView::row_major(&*dg, rows, g4),
                    MatView::row_major(s.w_hh, g4, h),
                );
                gemm(dh, av, bv, false, 1);
            };
            if blocks == 1 {
                block(gates, tc, c_prev, d_out, &mut dh, &mut dc, dg);
            } else {
                let (dh, dc, dg) = (
                    SharedMut::new(&mut dh[..]),
                    SharedMut::new(&mut dc[..]),
                    SharedMut::new(dg),
                );
                run_parts(blocks, blocks, |j| {
                    let (rh, rg) = block_ranges(j, rows_per, n, h);
                    // SAFETY: each part owns its block of batch rows.
                    unsafe {
                        block(
                            &gates[rg.clone()],
                            &tc[rh.clone()],
                            &c_prev[rh.clone()],
                            &d_out[rh.clone()],
                            dh.range(rh.clone()),
                            dc.range(rh),
                            dg.range(rg),
                        )
                    }
                });
            }
        }
    };
    steps();
    let rows = t * n;
    let dgv = MatView::row_major(&dgates, rows, g4);
    let mut dx = vec![T::ZERO; rows * i];
    gemm_threaded(&mut dx, dgv, MatView::row_major(s.w_ih, g4, i));
    let mut dw_ih = vec![T::ZERO; g4 * i];
    gemm_threaded(&mut dw_ih, dgv.t(), MatView::row_major(s.x, rows, i));
    // The hidden state each step started from, in time order.
    let mut h_prev = vec![T::ZERO; rows * h];
    for st in 0..t {
        let src = match d.previous(st) {
            Some(p) => &s.out[p * nh..][..nh],
            None => s.h0,
        };
        h_prev[st * nh..][..nh].copy_from_slice(src);
    }
    let mut dw_hh = vec![T::ZERO; g4 * h];
    gemm_threaded(&mut dw_hh, dgv.t(), MatView::row_major(&h_prev, rows, h));
    let mut bias = vec![T::ZERO; g4];
    for row in dgates.chunks(g4) {
        bias.iter_mut().zip(row).for_each(|(b, &g)| *b += g);
    }
    Grads {
        x: dx,
        h0: dh,
        c0: dc,
        w_ih: dw_ih,
        w_hh: dw_hh,
        bias,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One LSTM step composed from tensor ops (PyTorch's gate order i, f,
    /// g, o): the reference the fused kernels are checked against.
    fn lstm_cell(
        x: &Tensor,
        h: &Tensor,
        c: &Tensor,
        w_ih: &Tensor,
        w_hh: &Tensor,
        b_ih: Option<&Tensor>,
        b_hh: Option<&Tensor>,
    ) -> Result<(Tensor, Tensor)> {
        let affine = |x: &Tensor, w: &Tensor, b: Option<&Tensor>| -> Result<Tensor> {
            let y = x.matmul(&w.t()?)?;
            b.map_or(Ok(y.clone()), |b| y.add(b))
        };
        let gates = affine(x, w_ih, b_ih)?.add(&affine(h, w_hh, b_hh)?)?;
        let g = gates.chunk(4, -1)?;
        let (i, f, cell, o) = (g[0].sigmoid(), g[1].sigmoid(), g[2].tanh(), g[3].sigmoid());
        let c_next = f.mul(c)?.add(&i.mul(&cell)?)?;
        Ok((o.mul(&c_next.tanh())?, c_next))
    }

    fn close(a: &Tensor, b: &Tensor) -> bool {
        a.sub(b)
            .unwrap()
            .abs()
            .max()
            .unwrap()
            .item::<f64>()
            .unwrap()
            < 1e-12
    }

    fn setup(t: usize, n: usize, i: usize, h: usize) -> [Tensor; 7] {
        let r = |s: &[usize]| {
            Tensor::rand(s)
                .to_dtype(crate::DType::F64)
                .sub_scalar(0.5)
                .mul_scalar(2.0)
        };
        [
            r(&[t, n, i]),
            r(&[n, h]),
            r(&[n, h]),
            r(&[4 * h, i]),
            r(&[4 * h, h]),
            r(&[4 * h]),
            r(&[4 * h]),
        ]
    }

    /// The fused layer equals stepping `lstm_cell`, in both directions.
    #[test]
    fn forward_matches_lstm_cell_steps() {
        let (t, n, i, h) = (4, 3, 5, 2);
        let [x, h0, c0, w_ih, w_hh, b_ih, b_hh] = setup(t, n, i, h);
        for reverse in [false, true] {
            let run = lstm_sequence(
                &x,
                &h0,
                &c0,
                &w_ih,
                &w_hh,
                Some(&b_ih),
                Some(&b_hh),
                reverse,
            )
            .unwrap();
            let (mut hs, mut cs) = (h0.clone(), c0.clone());
            for k in 0..t {
                let s = if reverse { t - 1 - k } else { k };
                let xs = x.select(0, s as i64).unwrap();
                (hs, cs) =
                    lstm_cell(&xs, &hs, &cs, &w_ih, &w_hh, Some(&b_ih), Some(&b_hh)).unwrap();
                assert!(close(&run.output.select(0, s as i64).unwrap(), &hs));
            }
            assert!(close(&run.h_n, &hs));
            assert!(close(&run.c_n, &cs));
        }
    }

    /// A scalar loss `sum(output * a) + sum(c_n * b)` and its gradients
    /// checked against central differences for every input.
    #[test]
    fn backward_matches_finite_differences() {
        let (t, n, i, h) = (3, 2, 3, 2);
        let ins = setup(t, n, i, h);
        let a = Tensor::rand(&[t, n, h]).to_dtype(crate::DType::F64);
        let b = Tensor::rand(&[n, h]).to_dtype(crate::DType::F64);
        for reverse in [false, true] {
            let loss = |v: &[Tensor; 7]| -> f64 {
                let r = lstm_sequence(
                    &v[0],
                    &v[1],
                    &v[2],
                    &v[3],
                    &v[4],
                    Some(&v[5]),
                    Some(&v[6]),
                    reverse,
                )
                .unwrap();
                let l = r
                    .output
                    .mul(&a)
                    .unwrap()
                    .sum()
                    .add(&r.c_n.mul(&b).unwrap().sum())
                    .unwrap();
                l.item::<f64>().unwrap()
            };
            let run = lstm_sequence(
                &ins[0],
                &ins[1],
                &ins[2],
                &ins[3],
                &ins[4],
                Some(&ins[5]),
                Some(&ins[6]),
                reverse,
            )
            .unwrap();
            let g = lstm_sequence_backward(
                &run.trace,
                &ins[0],
                &ins[1],
                &ins[2],
                &ins[3],
                &ins[4],
                &run.output,
                &a,
                &b,
                reverse,
            )
            .unwrap();
            let analytic = [&g.input, &g.h0, &g.c0, &g.w_ih, &g.w_hh, &g.bias, &g.bias];
            for (k, grad) in analytic.iter().enumerate() {
                let base = ins[k].to_vec::<f64>().unwrap();
                let got = grad.to_vec::<f64>().unwrap();
                for e in 0..base.len() {
                    let eps = 1e-6;
                    let bump = |delta: f64| {
                        let mut v = base.clone();
                        v[e] += delta;
                        let mut moved = ins.clone();
                        moved[k] = Tensor::from_vec(v, ins[k].shape()).unwrap();
                        loss(&moved)
                    };
                    let numeric = (bump(eps) - bump(-eps)) / (2.0 * eps);
                    assert!(
                        (numeric - got[e]).abs() < 1e-7,
                        "input {k} element {e} (reverse {reverse}): numeric {numeric} vs analytic {}",
                        got[e]
                    );
                }
            }
        }
    }

    /// Batch rows are independent: a batch large enough to be split
    /// across threads gives, row for row, what its two halves give alone
    /// (small enough to run on one thread), and the weight gradients add.
    #[test]
    fn split_batch_equals_halves() {
        let (t, n, i, h) = (3, 16, 4, 64);
        assert!(row_blocks(n, h) > 1 || crate::get_num_threads() == 1);
        assert_eq!(row_blocks(n / 2, h), 1);
        let [x, h0, c0, w_ih, w_hh, b_ih, b_hh] = setup(t, n, i, h);
        let d_out = Tensor::rand(&[t, n, h]).to_dtype(crate::DType::F64);
        let d_cn = Tensor::rand(&[n, h]).to_dtype(crate::DType::F64);
        let run = |rows: std::ops::Range<usize>| {
            let (start, len) = (rows.start as i64, rows.len());
            let cut = |v: &Tensor, dim: i64| v.narrow(dim, start, len).unwrap().contiguous();
            let (x, h0, c0) = (cut(&x, 1), cut(&h0, 0), cut(&c0, 0));
            let r =
                lstm_sequence(&x, &h0, &c0, &w_ih, &w_hh, Some(&b_ih), Some(&b_hh), true).unwrap();
            let g = lstm_sequence_backward(
                &r.trace,
                &x,
                &h0,
                &c0,
                &w_ih,
                &w_hh,
                &r.output,
                &cut(&d_out, 1),
                &cut(&d_cn, 0),
                true,
            )
            .unwrap();
            (r, g)
        };
        let (full, gf) = run(0..n);
        let (a, ga) = run(0..n / 2);
        let (b, gb) = run(n / 2..n);
        let cat =
            |u: &Tensor, v: &Tensor, dim: i64| Tensor::cat(&[u.clone(), v.clone()], dim).unwrap();
        assert!(close(&full.output, &cat(&a.output, &b.output, 1)));
        assert!(close(&full.c_n, &cat(&a.c_n, &b.c_n, 0)));
        assert!(close(&gf.input, &cat(&ga.input, &gb.input, 1)));
        assert!(close(&gf.h0, &cat(&ga.h0, &gb.h0, 0)));
        assert!(close(&gf.c0, &cat(&ga.c0, &gb.c0, 0)));
        assert!(close(&gf.w_hh, &ga.w_hh.add(&gb.w_hh).unwrap()));
        assert!(close(&gf.w_ih, &ga.w_ih.add(&gb.w_ih).unwrap()));
        assert!(close(&gf.bias, &ga.bias.add(&gb.bias).unwrap()));
    }

    #[test]
    fn bad_shapes_name_the_op() {
        let [x, h0, c0, w_ih, w_hh, ..] = setup(2, 2, 3, 4);
        let err = lstm_sequence(&x, &h0, &c0, &w_hh, &w_hh, None, None, false).unwrap_err();
        assert!(err.to_string().contains("lstm_sequence"), "{err}");
        let err = lstm_sequence(
            &x,
            &h0.narrow(1, 0, 2).unwrap(),
            &c0,
            &w_ih,
            &w_hh,
            None,
            None,
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("h0 and c0"), "{err}");
        let err = lstm_sequence(
            &x.to_dtype(crate::DType::F32),
            &h0,
            &c0,
            &w_ih,
            &w_hh,
            None,
            None,
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("dtype"), "{err}");
    }
}
