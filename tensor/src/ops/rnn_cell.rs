//! The LSTM cell's arithmetic for [`super::rnn`]: one step's rows
//! forward and backward, as [`Kernel`]s so [`run_kernel`] compiles them
//! for AVX-512, AVX2 and the baseline.
//!
//! [`run_kernel`]: crate::simd::run_kernel

use crate::dtype::Float;
use crate::simd::Kernel;

/// One step's rows of the cell (`g` `[rows, 4h]`, the rest `[rows, h]`),
/// run by [`run_kernel`](crate::simd::run_kernel) (AVX-512 where the CPU has it).
pub(super) struct CellsForward<'a, T> {
    pub(super) g: &'a mut [T],
    pub(super) cp: &'a [T],
    pub(super) c: &'a mut [T],
    pub(super) tc: &'a mut [T],
    pub(super) hs: &'a mut [T],
    pub(super) h: usize,
}

impl<T: Float> Kernel for CellsForward<'_, T> {
    type Out = ();

    #[inline(always)]
    fn run(self) {
        let (h, g4) = (self.h, 4 * self.h);
        for r in 0..self.cp.len() / h {
            let row = r * h..(r + 1) * h;
            cell_forward(
                &mut self.g[r * g4..][..g4],
                &self.cp[row.clone()],
                &mut self.c[row.clone()],
                &mut self.tc[row.clone()],
                &mut self.hs[row],
            );
        }
    }
}

/// One step's rows of the cell's backward, run by [`run_kernel`](crate::simd::run_kernel).
pub(super) struct CellsBackward<'a, T> {
    pub(super) gates: &'a [T],
    pub(super) tc: &'a [T],
    pub(super) cp: &'a [T],
    pub(super) dh: &'a [T],
    pub(super) dc: &'a mut [T],
    pub(super) dg: &'a mut [T],
    pub(super) h: usize,
}

impl<T: Float> Kernel for CellsBackward<'_, T> {
    type Out = ();

    #[inline(always)]
    fn run(self) {
        let (h, g4) = (self.h, 4 * self.h);
        for r in 0..self.tc.len() / h {
            let row = r * h..(r + 1) * h;
            cell_backward(
                &self.gates[r * g4..][..g4],
                &self.tc[row.clone()],
                &self.cp[row.clone()],
                &self.dh[row.clone()],
                &mut self.dc[row],
                &mut self.dg[r * g4..][..g4],
            );
        }
    }
}

/// One row of one step: activates the gates in place and computes the new
/// cell state, its tanh and the hidden state. Separate loops per gate so
/// each vectorizes.
#[inline(always)]
fn cell_forward<T: Float>(g: &mut [T], c_prev: &[T], c: &mut [T], tc: &mut [T], h: &mut [T]) {
    let hid = c.len();
    let (ifg, o) = g.split_at_mut(3 * hid);
    let (i, fg) = ifg.split_at_mut(hid);
    let (f, gg) = fg.split_at_mut(hid);
    i.iter_mut().for_each(|v| *v = v.sigmoid());
    f.iter_mut().for_each(|v| *v = v.sigmoid());
    gg.iter_mut().for_each(|v| *v = v.tanh_fast());
    o.iter_mut().for_each(|v| *v = v.sigmoid());
    for j in 0..hid {
        c[j] = f[j] * c_prev[j] + i[j] * gg[j];
    }
    for j in 0..hid {
        tc[j] = c[j].tanh_fast();
        h[j] = o[j] * tc[j];
    }
}

/// One row of one step backwards: from `dh` (the hidden state's gradient)
/// and `dc` (the cell state's, updated in place to that of the previous
/// cell state), the gradients of the four gate pre-activations.
#[inline(always)]
fn cell_backward<T: Float>(
    gates: &[T],
    tc: &[T],
    c_prev: &[T],
    dh: &[T],
    dc: &mut [T],
    dg: &mut [T],
) {
    let hid = tc.len();
    let (i, rest) = gates.split_at(hid);
    let (f, rest) = rest.split_at(hid);
    let (g, o) = rest.split_at(hid);
    let (di, rest) = dg.split_at_mut(hid);
    let (df, rest) = rest.split_at_mut(hid);
    let (dgg, do_) = rest.split_at_mut(hid);
    let one = T::ONE;
    for j in 0..hid {
        let dct = dc[j] + dh[j] * o[j] * (one - tc[j] * tc[j]);
        do_[j] = dh[j] * tc[j] * o[j] * (one - o[j]);
        di[j] = dct * g[j] * i[j] * (one - i[j]);
        df[j] = dct * c_prev[j] * f[j] * (one - f[j]);
        dgg[j] = dct * i[j] * (one - g[j] * g[j]);
        dc[j] = dct * f[j];
    }
}
