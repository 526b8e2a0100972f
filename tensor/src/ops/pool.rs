//! 2-d pooling on NCHW tensors: max (with the argmax indices PyTorch
//! returns), average and adaptive average pooling, and their backward
//! kernels.
//!
//! Every kernel works plane by plane (one `[H, W]` slice per (sample,
//! channel)); from [`ELEMENTWISE_PAR_THRESHOLD`] window reads up, planes
//! are split across the thread pool. Window bounds, divisors and NaN
//! handling follow PyTorch's CPU kernels exactly, so results (including
//! which index wins a tie) match `torch.nn.functional`.

use std::hint::select_unpredictable;

use crate::buffers::zeroed;
use crate::dtype::{Float, Numeric};
use crate::error::{Result, TensorError};
use crate::layout::Dims;
use crate::parallel::{
    for_each_chunk_mut, maybe_parallel, run_parts, SharedMut, ELEMENTWISE_PAR_THRESHOLD,
};
use crate::tensor::{with_float, Tensor};
use crate::DType;

// ----- geometry and validation ----------------------------------------------

/// The sizes of one pooling: `planes = N * C` planes of `h x w` pooled to
/// `oh x ow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pool2d {
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
    dh: usize,
    dw: usize,
}

impl Pool2d {
    fn hw(&self) -> usize {
        self.h * self.w
    }

    fn ohw(&self) -> usize {
        self.oh * self.ow
    }

    /// Window reads of the whole op (the thread decision).
    fn work(&self) -> usize {
        self.planes
            .saturating_mul(self.ohw())
            .saturating_mul(self.kh * self.kw)
    }
}

/// Splits a 3-d `[C, H, W]` or 4-d `[N, C, H, W]` shape into
/// (planes, H, W); C, H and W must be non-zero (N may be 0), as in PyTorch.
fn split_planes(op: &'static str, shape: &[usize]) -> Result<(usize, usize, usize)> {
    let ok = matches!(shape.len(), 3 | 4) && !shape[shape.len() - 3..].contains(&0);
    if !ok {
        return Err(TensorError::invalid(
            op,
            format!(
                "expected a 3D [C, H, W] or 4D [N, C, H, W] input with non-zero C, H and W, but got shape {shape:?}"
            ),
        ));
    }
    let r = shape.len();
    Ok((shape[..r - 2].iter().product(), shape[r - 2], shape[r - 1]))
}

/// PyTorch's `pooling_output_shape`: the number of windows along one dim.
fn pooled_size(
    len: usize,
    k: usize,
    pad: usize,
    stride: usize,
    dilation: usize,
    ceil_mode: bool,
) -> i64 {
    let (len, k, pad, s, d) = (
        len as i64,
        k as i64,
        pad as i64,
        stride as i64,
        dilation as i64,
    );
    let num = len + 2 * pad - d * (k - 1) - 1 + if ceil_mode { s - 1 } else { 0 };
    let mut out = num.div_euclid(s) + 1;
    // The last window must start inside the input or the left padding.
    if ceil_mode && (out - 1) * s >= len + pad {
        out -= 1;
    }
    out
}

/// Validates a pooling and works out its output size (PyTorch's
/// `pool2d_shape_check`).
fn pool_geometry(
    op: &'static str,
    shape: &[usize],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
) -> Result<Pool2d> {
    if kernel.contains(&0) {
        return Err(TensorError::invalid(
            op,
            format!("kernel size should be greater than zero, but got kernel_size={kernel:?}"),
        ));
    }
    if stride.contains(&0) {
        return Err(TensorError::invalid(
            op,
            format!("stride should be greater than zero, but got stride={stride:?}"),
        ));
    }
    if dilation.contains(&0) {
        return Err(TensorError::invalid(
            op,
            format!("dilation should be greater than zero, but got dilation={dilation:?}"),
        ));
    }
    let (planes, h, w) = split_planes(op, shape)?;
    if padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2 {
        return Err(TensorError::invalid(
            op,
            format!(
                "pad should be at most half of kernel size, but got padding={padding:?} and kernel_size={kernel:?}"
            ),
        ));
    }
    let oh = pooled_size(h, kernel[0], padding[0], stride[0], dilation[0], ceil_mode);
    let ow = pooled_size(w, kernel[1], padding[1], stride[1], dilation[1], ceil_mode);
    if oh < 1 || ow < 1 {
        return Err(TensorError::invalid(
            op,
            format!(
                "given input of shape {shape:?}, the calculated output size ({oh} x {ow}) is too small"
            ),
        ));
    }
    Ok(Pool2d {
        planes,
        h,
        w,
        oh: oh as usize,
        ow: ow as usize,
        kh: kernel[0],
        kw: kernel[1],
        sh: stride[0],
        sw: stride[1],
        ph: padding[0],
        pw: padding[1],
        dh: dilation[0],
        dw: dilation[1],
    })
}

/// `input_shape` with its last two dims replaced by `[oh, ow]`.
fn pooled_shape(input_shape: &[usize], oh: usize, ow: usize) -> Dims {
    let mut s = crate::layout::dims_from(input_shape);
    let r = s.len();
    s[r - 2] = oh;
    s[r - 1] = ow;
    s
}

fn check_float(op: &'static str, what: &str, t: &Tensor) -> Result<DType> {
    if !t.dtype().is_float() {
        return Err(TensorError::dtype(
            op,
            format!("a float32 or float64 {what}"),
            t.dtype(),
        ));
    }
    Ok(t.dtype())
}

fn check_grad_out(
    op: &'static str,
    grad_out: &Tensor,
    input_shape: &[usize],
    want: &[usize],
) -> Result<()> {
    if grad_out.shape() != want {
        return Err(TensorError::shapes(
            op,
            &[grad_out.shape(), input_shape],
            format!("expected grad_out of shape {want:?} (the pooled output for this input shape), but got {:?}", grad_out.shape()),
        ));
    }
    Ok(())
}

// ----- plane drivers ---------------------------------------------------------

/// Runs `f(plane_index, out_plane)` for every plane of `dst`
/// (`plane_len` elements each), in parallel when `work` is large.
fn for_planes<U: Send>(
    work: usize,
    dst: &mut [U],
    plane_len: usize,
    f: impl Fn(usize, &mut [U]) + Sync,
) {
    if dst.is_empty() || plane_len == 0 {
        return;
    }
    maybe_parallel(work, ELEMENTWISE_PAR_THRESHOLD, |threads| {
        for_each_chunk_mut(threads, dst, plane_len, f)
    });
}

/// [`for_planes`] over two outputs with planes of the same length.
fn for_planes2<U: Send, V: Send>(
    work: usize,
    a: &mut [U],
    b: &mut [V],
    plane_len: usize,
    f: impl Fn(usize, &mut [U], &mut [V]) + Sync,
) {
    if a.is_empty() || plane_len == 0 {
        return;
    }
    let planes = a.len() / plane_len;
    let (a, b) = (SharedMut::new(a), SharedMut::new(b));
    maybe_parallel(work, ELEMENTWISE_PAR_THRESHOLD, |threads| {
        run_parts(threads, planes, |p| {
            let r = p * plane_len..(p + 1) * plane_len;
            // SAFETY: each part writes its own plane.
            unsafe { f(p, a.range(r.clone()), b.range(r)) }
        })
    });
}

// ----- max pooling -----------------------------------------------------------

/// The window of output position `o` along one dim, as PyTorch's
/// `cpu_max_pool` walks it: taps `start, start + d, ... < end`.
#[inline]
fn max_window(o: usize, s: usize, p: usize, k: usize, d: usize, len: usize) -> (usize, usize) {
    let mut start = (o * s) as i64 - p as i64;
    let end = (start + ((k - 1) * d) as i64 + 1).min(len as i64);
    while start < 0 {
        start += d as i64;
    }
    (start as usize, end.max(0) as usize)
}

/// Max pooling of one plane with PyTorch's rule: a tap replaces the
/// running maximum when it is greater or NaN. So NaN wins (the last NaN
/// of the window), a tie keeps the first maximum, and a window of `-inf`s
/// reports its first tap.
///
/// The value comes from a branch-free pass; the index, when asked for,
/// from a second (well predicted) pass that finds the first tap equal to
/// the maximum, or the last NaN.
fn max_plane<T: Float>(g: &Pool2d, x: &[T], out: &mut [T], mut idx: Option<&mut [i64]>) {
    let is_nan = |v: T| num_traits::Float::is_nan(v);
    let whole_windows = 2 * g.oh <= g.h && 2 * g.ow <= g.w; // not a ceil-mode tail
    if (g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw) == (2, 2, 2, 2, 0, 0, 1, 1) && whole_windows
    {
        return max_plane_2x2(g, x, out, idx);
    }
    for oh in 0..g.oh {
        let (h0, h1) = max_window(oh, g.sh, g.ph, g.kh, g.dh, g.h);
        for ow in 0..g.ow {
            let (w0, w1) = max_window(ow, g.sw, g.pw, g.kw, g.dw, g.w);
            let w1 = w1.max(w0);
            let mut best = T::LOWEST;
            for ih in (h0..h1).step_by(g.dh) {
                let row = &x[ih * g.w + w0..ih * g.w + w1];
                if g.dw == 1 {
                    for &v in row {
                        best = if v > best || is_nan(v) { v } else { best };
                    }
                } else {
                    for &v in row.iter().step_by(g.dw) {
                        best = if v > best || is_nan(v) { v } else { best };
                    }
                }
            }
            let o = oh * g.ow + ow;
            out[o] = best;
            if let Some(idx) = idx.as_deref_mut() {
                let nan = is_nan(best);
                let mut at = None;
                for ih in (h0..h1).step_by(g.dh) {
                    let mut row = x[ih * g.w + w0..ih * g.w + w1].iter().step_by(g.dw);
                    let pos = if nan {
                        row.rposition(|&v| is_nan(v))
                    } else {
                        row.position(|&v| v == best)
                    };
                    if let Some(p) = pos {
                        at = Some(ih * g.w + w0 + p * g.dw);
                        if !nan {
                            break;
                        }
                    }
                }
                idx[o] = at.unwrap_or(h0 * g.w + w0) as i64;
            }
        }
    }
}

/// [`max_plane`] for the common 2x2 window with stride 2 and no padding:
/// one pass that keeps the value and its index together, with the same
/// tie (first maximum) and NaN (last NaN) rules.
fn max_plane_2x2<T: Float>(g: &Pool2d, x: &[T], out: &mut [T], idx: Option<&mut [i64]>) {
    // `v != v`: NaN, without a call that might not inline.
    #[allow(clippy::eq_op)]
    let is_nan = |v: T| v != v;
    let ow = g.ow;
    let mut idx = idx;
    for oh in 0..g.oh {
        let (b0, b1) = (2 * oh * g.w, (2 * oh + 1) * g.w);
        let pairs = x[b0..b0 + 2 * ow]
            .chunks_exact(2)
            .zip(x[b1..b1 + 2 * ow].chunks_exact(2));
        let o_row = &mut out[oh * ow..(oh + 1) * ow];
        match idx.as_deref_mut() {
            None => {
                for (o, (top, bottom)) in o_row.iter_mut().zip(pairs) {
                    let mut best = top[0];
                    for v in [top[1], bottom[0], bottom[1]] {
                        best = select_unpredictable((v > best) | is_nan(v), v, best);
                    }
                    *o = best;
                }
            }
            Some(idx) => {
                let i_row = &mut idx[oh * ow..(oh + 1) * ow];
                for (c, ((o, i), (top, bottom))) in o_row
                    .iter_mut()
                    .zip(i_row.iter_mut())
                    .zip(pairs)
                    .enumerate()
                {
                    // Selects, not branches: on real data which tap wins
                    // is a coin toss, and mispredictions would cost more
                    // than the whole window.
                    let (mut best, mut at) = (top[0], b0 + 2 * c);
                    for (v, pos) in [
                        (top[1], b0 + 2 * c + 1),
                        (bottom[0], b1 + 2 * c),
                        (bottom[1], b1 + 2 * c + 1),
                    ] {
                        let take = (v > best) | is_nan(v);
                        best = select_unpredictable(take, v, best);
                        at = select_unpredictable(take, pos, at);
                    }
                    *o = best;
                    *i = at as i64;
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn max_pool_op(
    input: &Tensor,
    op: &'static str,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
    with_indices: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    let g = pool_geometry(
        op,
        input.shape(),
        kernel,
        stride,
        padding,
        dilation,
        ceil_mode,
    )?;
    let dt = check_float(op, "input", input)?;
    let shape = pooled_shape(input.shape(), g.oh, g.ow);
    let (hw, ohw) = (g.hw(), g.ohw());
    Ok(with_float!(dt, T => {
        let x = input.values::<T>();
        let mut out = zeroed::<T>(g.planes * ohw);
        if with_indices {
            let mut idx = vec![0i64; g.planes * ohw];
            for_planes2(g.work(), &mut out, &mut idx, ohw, |p, o, i| {
                max_plane(&g, &x[p * hw..(p + 1) * hw], o, Some(i))
            });
            (Tensor::from_data(out, &shape), Some(Tensor::from_data(idx, &shape)))
        } else {
            for_planes(g.work(), &mut out, ohw, |p, o| max_plane(&g, &x[p * hw..(p + 1) * hw], o, None));
            (Tensor::from_data(out, &shape), None)
        }
    }))
}

// ----- average pooling ---------------------------------------------------------

/// The window of output position `o` along one dim as PyTorch's
/// `cpu_avg_pool` sees it: `(start, end, padded_len)` with the taps
/// `start..end` inside the input and `padded_len` the window's length
/// counting padding (but not beyond the padded input, which ceil mode
/// can reach).
#[inline]
fn avg_window(o: usize, s: usize, p: usize, k: usize, len: usize) -> (usize, usize, usize) {
    let start = (o * s) as i64 - p as i64;
    let end = (start + k as i64).min((len + p) as i64);
    let padded = (end - start).max(0) as usize;
    (
        start.max(0) as usize,
        end.clamp(0, len as i64) as usize,
        padded,
    )
}

/// How an average pooling divides its window sums.
#[derive(Clone, Copy)]
struct AvgMode {
    count_include_pad: bool,
    divisor_override: Option<usize>,
}

impl AvgMode {
    fn divisor(&self, padded: usize, inside: usize) -> usize {
        match self.divisor_override {
            Some(d) => d,
            None if self.count_include_pad => padded,
            None => inside,
        }
    }
}

fn avg_plane<T: Float>(g: &Pool2d, mode: AvgMode, x: &[T], out: &mut [T]) {
    for oh in 0..g.oh {
        let (h0, h1, ph) = avg_window(oh, g.sh, g.ph, g.kh, g.h);
        for ow in 0..g.ow {
            let (w0, w1, pw) = avg_window(ow, g.sw, g.pw, g.kw, g.w);
            let o = oh * g.ow + ow;
            if h0 >= h1 || w0 >= w1 {
                out[o] = T::ZERO;
                continue;
            }
            let mut sum = T::ZERO;
            for ih in h0..h1 {
                for &v in &x[ih * g.w + w0..ih * g.w + w1] {
                    sum += v;
                }
            }
            out[o] = sum / T::from_usize(mode.divisor(ph * pw, (h1 - h0) * (w1 - w0)));
        }
    }
}

fn avg_plane_backward<T: Float>(g: &Pool2d, mode: AvgMode, gout: &[T], dx: &mut [T]) {
    dx.fill(T::ZERO);
    for oh in 0..g.oh {
        let (h0, h1, ph) = avg_window(oh, g.sh, g.ph, g.kh, g.h);
        for ow in 0..g.ow {
            let (w0, w1, pw) = avg_window(ow, g.sw, g.pw, g.kw, g.w);
            if h0 >= h1 || w0 >= w1 {
                continue;
            }
            let delta =
                gout[oh * g.ow + ow] / T::from_usize(mode.divisor(ph * pw, (h1 - h0) * (w1 - w0)));
            for ih in h0..h1 {
                for d in &mut dx[ih * g.w + w0..ih * g.w + w1] {
                    *d += delta;
                }
            }
        }
    }
}

// ----- adaptive average pooling --------------------------------------------------

/// Bin `i` of `out` bins over `len` inputs: `floor(i*len/out) ..
/// ceil((i+1)*len/out)` (PyTorch's `start_index`/`end_index`).
#[inline]
fn adaptive_bin(i: usize, out: usize, len: usize) -> (usize, usize) {
    (i * len / out, ((i + 1) * len).div_ceil(out))
}

fn adaptive_plane<T: Float>(g: &Pool2d, x: &[T], out: &mut [T]) {
    for oh in 0..g.oh {
        let (h0, h1) = adaptive_bin(oh, g.oh, g.h);
        for ow in 0..g.ow {
            let (w0, w1) = adaptive_bin(ow, g.ow, g.w);
            let mut sum = T::ZERO;
            for ih in h0..h1 {
                for &v in &x[ih * g.w + w0..ih * g.w + w1] {
                    sum += v;
                }
            }
            out[oh * g.ow + ow] = sum / T::from_usize((h1 - h0) * (w1 - w0));
        }
    }
}

fn adaptive_plane_backward<T: Float>(g: &Pool2d, gout: &[T], dx: &mut [T]) {
    dx.fill(T::ZERO);
    for oh in 0..g.oh {
        let (h0, h1) = adaptive_bin(oh, g.oh, g.h);
        for ow in 0..g.ow {
            let (w0, w1) = adaptive_bin(ow, g.ow, g.w);
            let delta = gout[oh * g.ow + ow] / T::from_usize((h1 - h0) * (w1 - w0));
            for ih in h0..h1 {
                for d in &mut dx[ih * g.w + w0..ih * g.w + w1] {
                    *d += delta;
                }
            }
        }
    }
}

/// The geometry of an adaptive pooling (windows come from
/// [`adaptive_bin`]; kernel/stride fields only size the work estimate).
fn adaptive_geometry(op: &'static str, shape: &[usize], output_size: [usize; 2]) -> Result<Pool2d> {
    let (planes, h, w) = split_planes(op, shape)?;
    let [oh, ow] = output_size;
    Ok(Pool2d {
        planes,
        h,
        w,
        oh,
        ow,
        kh: h.div_ceil(oh.max(1)) + 1,
        kw: w.div_ceil(ow.max(1)) + 1,
        sh: 1,
        sw: 1,
        ph: 0,
        pw: 0,
        dh: 1,
        dw: 1,
    })
}

impl Tensor {
    /// 2-d max pooling over `[N, C, H, W]` (or unbatched `[C, H, W]`), like
    /// `torch.nn.functional.max_pool2d(x, kernel, stride, padding)`.
    ///
    /// - `kernel`: window size `[kH, kW]` (each > 0).
    /// - `stride`: window step (each > 0; PyTorch's default is `kernel`,
    ///   pass it explicitly).
    /// - `padding`: implicit `-inf` padding on both sides, at most half the
    ///   kernel.
    ///
    /// Output: `[N, C, H_out, W_out]` with
    /// `H_out = (H + 2*padding[0] - kH) / stride[0] + 1` (floor). A window
    /// holding NaN gives NaN. See [`Tensor::max_pool2d_ext`] for dilation
    /// and ceil mode.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]).unwrap();
    /// let y = x.max_pool2d([2, 2], [2, 2], [0, 0]).unwrap();
    /// assert_eq!(y.to_vec::<f32>().unwrap(), vec![5.0, 7.0, 13.0, 15.0]);
    /// ```
    pub fn max_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<Tensor> {
        self.max_pool2d_ext(kernel, stride, padding, [1, 1], false)
    }

    /// [`Tensor::max_pool2d`] with PyTorch's other arguments:
    /// `dilation` (spacing between window taps, each > 0) and `ceil_mode`
    /// (round the output size up, so a last partial window that starts
    /// inside the input or the left padding is kept). Then
    /// `H_out = ceil_or_floor((H + 2*padding[0] - dilation[0]*(kH-1) - 1) / stride[0]) + 1`.
    pub fn max_pool2d_ext(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Result<Tensor> {
        let (out, _) = max_pool_op(
            self,
            "max_pool2d",
            kernel,
            stride,
            padding,
            dilation,
            ceil_mode,
            false,
        )?;
        Ok(out)
    }

    /// [`Tensor::max_pool2d`] that also returns where each maximum came
    /// from (`max_pool2d(..., return_indices=True)`): an int64 tensor of
    /// the output's shape holding the flat index `h * W + w` of the
    /// maximum within its `[H, W]` input plane.
    pub fn max_pool2d_with_indices(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<(Tensor, Tensor)> {
        self.max_pool2d_with_indices_ext(kernel, stride, padding, [1, 1], false)
    }

    /// [`Tensor::max_pool2d_with_indices`] with `dilation` and `ceil_mode`
    /// (see [`Tensor::max_pool2d_ext`]).
    pub fn max_pool2d_with_indices_ext(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Result<(Tensor, Tensor)> {
        let (out, idx) = max_pool_op(
            self,
            "max_pool2d_with_indices",
            kernel,
            stride,
            padding,
            dilation,
            ceil_mode,
            true,
        )?;
        Ok((out, idx.expect("indices were requested")))
    }

    /// Gradient of max pooling with respect to its input: each element of
    /// `grad_out` is added at the position `indices` (from
    /// [`Tensor::max_pool2d_with_indices`]) names in its plane of an
    /// all-zero tensor of `input_shape` (`[N, C, H, W]` or `[C, H, W]`).
    pub fn max_pool2d_backward(
        grad_out: &Tensor,
        indices: &Tensor,
        input_shape: &[usize],
    ) -> Result<Tensor> {
        let op = "max_pool2d_backward";
        let (planes, h, w) = split_planes(op, input_shape)?;
        let r = input_shape.len();
        let lead_ok = grad_out.dim() == r && grad_out.shape()[..r - 2] == input_shape[..r - 2];
        if !lead_ok {
            return Err(TensorError::shapes(
                op,
                &[grad_out.shape(), input_shape],
                "grad_out must have the input's rank and leading (batch, channel) dims",
            ));
        }
        if indices.shape() != grad_out.shape() {
            return Err(TensorError::shapes(
                op,
                &[grad_out.shape(), indices.shape()],
                "indices must have the shape of grad_out",
            ));
        }
        if indices.dtype() != DType::I64 {
            return Err(TensorError::dtype(op, "int64 indices", indices.dtype()));
        }
        let dt = check_float(op, "grad_out", grad_out)?;
        let (hw, ohw) = (h * w, grad_out.shape()[r - 2] * grad_out.shape()[r - 1]);
        let idx = indices.values::<i64>();
        if let Some(&bad) = idx.iter().find(|&&i| i < 0 || i as usize >= hw) {
            return Err(TensorError::invalid(
                op,
                format!("index {bad} is out of bounds for an input plane of {h} x {w} elements"),
            ));
        }
        Ok(with_float!(dt, T => {
            let go = grad_out.values::<T>();
            let mut dx = vec![T::ZERO; planes * hw];
            for_planes(planes * ohw, &mut dx, hw, |p, d| {
                let (gp, ip) = (&go[p * ohw..(p + 1) * ohw], &idx[p * ohw..(p + 1) * ohw]);
                for (&gv, &i) in gp.iter().zip(ip) {
                    d[i as usize] += gv;
                }
            });
            Tensor::from_data(dx, input_shape)
        }))
    }

    /// 2-d average pooling over `[N, C, H, W]` (or `[C, H, W]`), like
    /// `torch.nn.functional.avg_pool2d(x, kernel, stride, padding)` with its
    /// defaults `ceil_mode=False`, `count_include_pad=True`: every window
    /// sum is divided by `kH * kW`, zero padding included.
    ///
    /// `kernel`, `stride` (each > 0) and `padding` (at most half the
    /// kernel) mean what they mean for [`Tensor::max_pool2d`]; so does the
    /// output size. See [`Tensor::avg_pool2d_ext`] for the other options.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]).unwrap();
    /// let y = x.avg_pool2d([2, 2], [2, 2], [0, 0]).unwrap();
    /// assert_eq!(y.to_vec::<f32>().unwrap(), vec![2.5, 4.5, 10.5, 12.5]);
    /// ```
    pub fn avg_pool2d(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<Tensor> {
        self.avg_pool2d_ext(kernel, stride, padding, false, true, None)
    }

    /// [`Tensor::avg_pool2d`] with PyTorch's other arguments:
    /// - `ceil_mode`: round the output size up (see
    ///   [`Tensor::max_pool2d_ext`]); the divisor of a window that runs past
    ///   the padded input counts only its part inside it.
    /// - `count_include_pad`: divide by the window size including zero
    ///   padding (`true`) or by the number of input elements in it.
    /// - `divisor_override`: divide every sum by this instead (must be > 0).
    pub fn avg_pool2d_ext(
        &self,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        ceil_mode: bool,
        count_include_pad: bool,
        divisor_override: Option<usize>,
    ) -> Result<Tensor> {
        let op = "avg_pool2d";
        let g = pool_geometry(op, self.shape(), kernel, stride, padding, [1, 1], ceil_mode)?;
        let mode = avg_mode(op, count_include_pad, divisor_override)?;
        let dt = check_float(op, "input", self)?;
        let (hw, ohw) = (g.hw(), g.ohw());
        Ok(with_float!(dt, T => {
            let x = self.values::<T>();
            let mut out = zeroed::<T>(g.planes * ohw);
            for_planes(g.work(), &mut out, ohw, |p, o| avg_plane(&g, mode, &x[p * hw..(p + 1) * hw], o));
            Tensor::from_data(out, &pooled_shape(self.shape(), g.oh, g.ow))
        }))
    }

    /// Gradient of [`Tensor::avg_pool2d`] with respect to its input
    /// (`input_shape`: `[N, C, H, W]` or `[C, H, W]`): each element of
    /// `grad_out` is spread evenly (divided by the same divisor) over its
    /// window.
    pub fn avg_pool2d_backward(
        grad_out: &Tensor,
        input_shape: &[usize],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<Tensor> {
        Tensor::avg_pool2d_backward_ext(
            grad_out,
            input_shape,
            kernel,
            stride,
            padding,
            false,
            true,
            None,
        )
    }

    /// Gradient of [`Tensor::avg_pool2d_ext`] with respect to its input.
    #[allow(clippy::too_many_arguments)]
    pub fn avg_pool2d_backward_ext(
        grad_out: &Tensor,
        input_shape: &[usize],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        ceil_mode: bool,
        count_include_pad: bool,
        divisor_override: Option<usize>,
    ) -> Result<Tensor> {
        let op = "avg_pool2d_backward";
        let g = pool_geometry(op, input_shape, kernel, stride, padding, [1, 1], ceil_mode)?;
        let mode = avg_mode(op, count_include_pad, divisor_override)?;
        check_grad_out(
            op,
            grad_out,
            input_shape,
            &pooled_shape(input_shape, g.oh, g.ow),
        )?;
        let dt = check_float(op, "grad_out", grad_out)?;
        let (hw, ohw) = (g.hw(), g.ohw());
        Ok(with_float!(dt, T => {
            let go = grad_out.values::<T>();
            let mut dx = vec![T::ZERO; g.planes * hw];
            for_planes(g.work(), &mut dx, hw, |p, d| avg_plane_backward(&g, mode, &go[p * ohw..(p + 1) * ohw], d));
            Tensor::from_data(dx, input_shape)
        }))
    }

    /// Adaptive 2-d average pooling over `[N, C, H, W]` (or `[C, H, W]`) to
    /// `output_size = [H_out, W_out]`, like
    /// `torch.nn.functional.adaptive_avg_pool2d`: output `(i, j)` is the
    /// mean of rows `floor(i*H/H_out) .. ceil((i+1)*H/H_out)` and the
    /// matching columns (bins may overlap when the sizes do not divide).
    /// An output size of 0 gives an empty result.
    pub fn adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Result<Tensor> {
        let op = "adaptive_avg_pool2d";
        let [oh, ow] = output_size;
        if oh.checked_mul(ow).is_none() {
            return Err(TensorError::invalid(
                op,
                format!("output size {output_size:?} has more elements than fit in memory"),
            ));
        }
        let g = adaptive_geometry(op, self.shape(), output_size)?;
        let dt = check_float(op, "input", self)?;
        let (hw, ohw) = (g.hw(), g.ohw());
        Ok(with_float!(dt, T => {
            let x = self.values::<T>();
            let mut out = zeroed::<T>(g.planes * ohw);
            for_planes(g.work(), &mut out, ohw, |p, o| adaptive_plane(&g, &x[p * hw..(p + 1) * hw], o));
            Tensor::from_data(out, &pooled_shape(self.shape(), g.oh, g.ow))
        }))
    }

    /// Gradient of [`Tensor::adaptive_avg_pool2d`] with respect to its
    /// input (`input_shape`: `[N, C, H, W]` or `[C, H, W]`); the output
    /// size is read from `grad_out`'s last two dims.
    pub fn adaptive_avg_pool2d_backward(
        grad_out: &Tensor,
        input_shape: &[usize],
    ) -> Result<Tensor> {
        let op = "adaptive_avg_pool2d_backward";
        split_planes(op, input_shape)?;
        let r = input_shape.len();
        if grad_out.dim() != r || grad_out.shape()[..r - 2] != input_shape[..r - 2] {
            return Err(TensorError::shapes(
                op,
                &[grad_out.shape(), input_shape],
                "grad_out must have the input's rank and leading (batch, channel) dims",
            ));
        }
        let out_size = [grad_out.shape()[r - 2], grad_out.shape()[r - 1]];
        let g = adaptive_geometry(op, input_shape, out_size)?;
        let dt = check_float(op, "grad_out", grad_out)?;
        let (hw, ohw) = (g.hw(), g.ohw());
        Ok(with_float!(dt, T => {
            let go = grad_out.values::<T>();
            let mut dx = vec![T::ZERO; g.planes * hw];
            for_planes(g.work(), &mut dx, hw, |p, d| adaptive_plane_backward(&g, &go[p * ohw..(p + 1) * ohw], d));
            Tensor::from_data(dx, input_shape)
        }))
    }
}

fn avg_mode(
    op: &'static str,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> Result<AvgMode> {
    if divisor_override == Some(0) {
        return Err(TensorError::invalid(op, "divisor must be not zero"));
    }
    Ok(AvgMode {
        count_include_pad,
        divisor_override,
    })
}

mod plane;

pub use plane::MaxPool2dWindow;
pub(crate) use plane::PlanePool;

#[cfg(test)]
mod tests;
