//! Convolutions on NCHW / NCL tensors: `conv1d`, `conv2d` and
//! `conv_transpose2d`, plus the input- and weight-gradient kernels that
//! autograd builds on (the bias gradient is a plain sum of `grad_out`).
//!
//! Every convolution is lowered, one sample and one group at a time, to
//! im2col + GEMM: the input patches are unrolled into a
//! `cols: [C_in/groups * kH * kW, H_out * W_out]` matrix and
//! `weight[C_out/groups, C_in/groups * kH * kW] @ cols` is the output.
//! The gradients reuse the pieces: `weight^T @ grad_out` folded back onto
//! the input grid (col2im) is the input gradient, which is also the
//! transposed convolution; `grad_out @ cols^T` summed over the batch is
//! the weight gradient. 1x1 kernels with stride 1 and no padding skip
//! im2col. A 1-d convolution is a 2-d one of height 1.
//!
//! Threads: from [`CONV_PAR_THRESHOLD`] multiply-adds up, the batch is
//! split across the pool, a sample per task with a sequential GEMM. A
//! batch smaller than the pool hands its spare threads to each sample's
//! GEMM and im2col, so one large image still uses every core.

use crate::buffers::zeroed;
use crate::dtype::Float;
use crate::error::Result;
use crate::gemm::{gemm, MatView};
use crate::parallel::{
    for_each_chunk_mut, for_each_range, map_collect, maybe_parallel, SharedMut,
    ELEMENTWISE_PAR_THRESHOLD,
};
use crate::scratch::{with_scratch, Scratch};
use crate::tensor::{with_float, Tensor};

use super::pool::{MaxPool2dWindow, PlanePool};

/// Convolutions with at least this many multiply-adds use threads.
const CONV_PAR_THRESHOLD: usize = 1 << 20;

mod geometry;

use geometry::{
    check_bias, check_dtypes, check_grad_out, conv_geometry, conv_transpose_geometry, Geom, Hyper,
};

// ----- im2col / col2im ------------------------------------------------------

/// The output positions `o` in `0..out` whose input position
/// `o * stride + off - pad` lies in `0..len`, as a range.
#[inline]
fn valid_range(out: usize, len: usize, stride: usize, off: usize, pad: usize) -> (usize, usize) {
    let lo = if pad > off {
        (pad - off).div_ceil(stride)
    } else {
        0
    };
    let hi = if len + pad > off {
        ((len + pad - off - 1) / stride + 1).min(out)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// Fills row `(ki, kj)` of one input channel's im2col block: `row[oh *
/// w_out + ow] = plane[oh*sh + ki*dh - ph][ow*sw + kj*dw - pw]`, zero in
/// the padding.
fn im2col_row<T: Float>(g: &Geom, plane: &[T], ki: usize, kj: usize, row: &mut [T]) {
    // Positions that fall in the padding are left alone: `im2col` hands
    // out rows whose padding already holds zeros.
    let (offh, offw) = (ki * g.dh, kj * g.dw);
    let (oh_lo, oh_hi) = valid_range(g.h_out, g.h, g.sh, offh, g.ph);
    let (ow_lo, ow_hi) = valid_range(g.w_out, g.w, g.sw, offw, g.pw);
    if ow_lo >= ow_hi {
        return;
    }
    for oh in oh_lo..oh_hi {
        let ih = oh * g.sh + offh - g.ph;
        let src = &plane[ih * g.w..(ih + 1) * g.w];
        let dst = &mut row[oh * g.w_out + ow_lo..oh * g.w_out + ow_hi];
        let iw0 = ow_lo * g.sw + offw - g.pw;
        if g.sw == 1 {
            copy_short(dst, &src[iw0..iw0 + dst.len()]);
        } else {
            for (d, s) in dst.iter_mut().zip(src[iw0..].iter().step_by(g.sw)) {
                *d = *s;
            }
        }
    }
}

/// `dst.copy_from_slice(src)` for the short rows of small images: blocks
/// of 8 with constant size compile to vector moves, where a `memcpy` call
/// per row would cost more than the copy.
#[inline(always)]
fn copy_short<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    if !(8..=64).contains(&n) {
        dst.copy_from_slice(src);
        return;
    }
    let mut i = 0;
    while i + 8 <= n {
        dst[i..i + 8].copy_from_slice(&src[i..i + 8]);
        i += 8;
    }
    if i < n {
        // The last block overlaps the previous one: same values.
        dst[n - 8..].copy_from_slice(&src[n - 8..n]);
    }
}

/// The adjoint of [`im2col_row`]: adds row `(ki, kj)` back onto the plane.
fn col2im_row<T: Float>(g: &Geom, row: &[T], ki: usize, kj: usize, plane: &mut [T]) {
    let (offh, offw) = (ki * g.dh, kj * g.dw);
    let (oh_lo, oh_hi) = valid_range(g.h_out, g.h, g.sh, offh, g.ph);
    let (ow_lo, ow_hi) = valid_range(g.w_out, g.w, g.sw, offw, g.pw);
    if ow_lo >= ow_hi {
        return;
    }
    for oh in oh_lo..oh_hi {
        let ih = oh * g.sh + offh - g.ph;
        let dst = &mut plane[ih * g.w..(ih + 1) * g.w];
        let src = &row[oh * g.w_out + ow_lo..oh * g.w_out + ow_hi];
        let iw0 = ow_lo * g.sw + offw - g.pw;
        if g.sw == 1 {
            for (d, &s) in dst[iw0..iw0 + src.len()].iter_mut().zip(src) {
                *d += s;
            }
        } else {
            for (d, &s) in dst[iw0..].iter_mut().step_by(g.sw).zip(src) {
                *d += s;
            }
        }
    }
}

/// Unrolls one group of one sample (`xg: [C_in/groups, H, W]`) into
/// `cols: [C_in/groups * kH * kW, H_out * W_out]`.
///
/// `cols` is a scratch buffer private to one op: empty, or last filled by
/// `im2col` with the same geometry. Either way its padding positions hold
/// zeros after the resize, and only the positions inside the input are
/// (re)written.
fn im2col<T: Float>(g: &Geom, xg: &[T], cols: &mut Vec<T>, threads: usize) {
    let (hw, hwo, kk) = (g.hw_in(), g.hw_out(), g.kh * g.kw);
    let len = g.k() * hwo;
    if cols.len() != len {
        cols.clear();
        cols.resize(len, T::ZERO);
    }
    let fill = |r: usize, row: &mut [T]| {
        let c = r / kk;
        im2col_row(g, &xg[c * hw..(c + 1) * hw], (r % kk) / g.kw, r % g.kw, row);
    };
    let threads = if cols.len() >= ELEMENTWISE_PAR_THRESHOLD {
        threads
    } else {
        1
    };
    for_each_chunk_mut(threads, cols, hwo, fill);
}

/// Folds `cols: [C_in/groups * kH * kW, H_out * W_out]` back onto one
/// group of one sample (`dxg: [C_in/groups, H, W]`), overwriting it.
fn col2im<T: Float>(g: &Geom, cols: &[T], dxg: &mut [T], threads: usize) {
    let (hw, hwo, kk) = (g.hw_in(), g.hw_out(), g.kh * g.kw);
    if hw == 0 {
        return;
    }
    let fold = |c: usize, plane: &mut [T]| {
        plane.fill(T::ZERO);
        for r in 0..kk {
            let row = &cols[(c * kk + r) * hwo..(c * kk + r + 1) * hwo];
            col2im_row(g, row, r / g.kw, r % g.kw, plane);
        }
    };
    let threads = if cols.len() >= ELEMENTWISE_PAR_THRESHOLD {
        threads
    } else {
        1
    };
    for_each_chunk_mut(threads, dxg, hw, fold);
}

// ----- kernels ----------------------------------------------------------------

/// Runs `f(index, sample_in, sample_out, scratch, threads)` for every
/// sample of a batch: `src` holds `src_len` elements per sample, `dst`
/// `dst_len`. Each part of the batch gets a pooled scratch (see
/// `scratch.rs`) with `cols` empty (so that im2col zero-fills it once
/// per part) and a `block` of at least `block_len`.
fn per_sample<T: Float>(
    g: &Geom,
    src: &[T],
    src_len: usize,
    dst: &mut [T],
    dst_len: usize,
    block_len: usize,
    f: impl Fn(usize, &[T], &mut [T], &mut Scratch<T>, usize) + Sync,
) {
    let cols_len = if g.pointwise() { 0 } else { g.k() * g.hw_out() };
    if dst.is_empty() {
        return;
    }
    let n = g.n;
    maybe_parallel(g.macs(), CONV_PAR_THRESHOLD, |threads| {
        if threads <= 1 || n <= 1 {
            with_scratch(cols_len, block_len, |scratch| {
                for (i, out) in dst.chunks_mut(dst_len).enumerate() {
                    f(
                        i,
                        &src[i * src_len..(i + 1) * src_len],
                        out,
                        scratch,
                        threads,
                    );
                }
            })
        } else {
            // Whole samples per part, each with sequential GEMMs and its
            // own scratch buffers.
            let dst = SharedMut::new(dst);
            for_each_range(threads, n, n.div_ceil(threads * 2), |samples| {
                with_scratch(cols_len, block_len, |scratch| {
                    for i in samples {
                        // SAFETY: each sample's output block is written by one part.
                        let out = unsafe { dst.range(i * dst_len..(i + 1) * dst_len) };
                        f(i, &src[i * src_len..(i + 1) * src_len], out, scratch, 1)
                    }
                })
            });
        }
    });
}

/// One sample of the forward convolution: `x: [C_in, H, W]` to
/// `out: [C_out, H_out, W_out]`.
fn forward_sample<T: Float>(
    g: &Geom,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    out: &mut [T],
    cols: &mut Vec<T>,
    threads: usize,
) {
    let (cg, og, k, hw, hwo) = (g.cg(), g.og(), g.k(), g.hw_in(), g.hw_out());
    if let Some(b) = bias {
        for (row, &bv) in out.chunks_mut(hwo).zip(b) {
            row.fill(bv);
        }
    }
    for grp in 0..g.groups {
        let xg = &x[grp * cg * hw..(grp + 1) * cg * hw];
        let wg = MatView::row_major(&w[grp * og * k..(grp + 1) * og * k], og, k);
        let dst = &mut out[grp * og * hwo..(grp + 1) * og * hwo];
        if g.pointwise() {
            gemm(
                dst,
                wg,
                MatView::row_major(xg, cg, hw),
                bias.is_some(),
                threads,
            );
        } else {
            im2col(g, xg, cols, threads);
            gemm(
                dst,
                wg,
                MatView::row_major(cols, k, hwo),
                bias.is_some(),
                threads,
            );
        }
    }
}

/// One sample of the input gradient: `gout: [C_out, H_out, W_out]` to
/// `dx: [C_in, H, W]` (overwritten).
fn backward_input_sample<T: Float>(
    g: &Geom,
    gout: &[T],
    w: &[T],
    dx: &mut [T],
    cols: &mut Vec<T>,
    threads: usize,
) {
    let (cg, og, k, hw, hwo) = (g.cg(), g.og(), g.k(), g.hw_in(), g.hw_out());
    for grp in 0..g.groups {
        let wt = MatView::row_major(&w[grp * og * k..(grp + 1) * og * k], og, k).t();
        let gg = MatView::row_major(&gout[grp * og * hwo..(grp + 1) * og * hwo], og, hwo);
        let dxg = &mut dx[grp * cg * hw..(grp + 1) * cg * hw];
        if g.pointwise() {
            gemm(dxg, wt, gg, false, threads);
        } else {
            cols.resize(k * hwo, T::ZERO);
            gemm(cols, wt, gg, false, threads);
            col2im(g, cols, dxg, threads);
        }
    }
}

/// One sample of the weight gradient, added onto `dw: [C_out, C_in/groups * kH * kW]`.
fn backward_weight_sample<T: Float>(
    g: &Geom,
    x: &[T],
    gout: &[T],
    dw: &mut [T],
    cols: &mut Vec<T>,
    threads: usize,
) {
    let (cg, og, k, hw, hwo) = (g.cg(), g.og(), g.k(), g.hw_in(), g.hw_out());
    for grp in 0..g.groups {
        let xg = &x[grp * cg * hw..(grp + 1) * cg * hw];
        let gg = MatView::row_major(&gout[grp * og * hwo..(grp + 1) * og * hwo], og, hwo);
        let dst = &mut dw[grp * og * k..(grp + 1) * og * k];
        if g.pointwise() {
            gemm(dst, gg, MatView::row_major(xg, cg, hw).t(), true, threads);
        } else {
            im2col(g, xg, cols, threads);
            gemm(dst, gg, MatView::row_major(cols, k, hwo).t(), true, threads);
        }
    }
}

/// Work done on each sample's output right after its convolution, while
/// it is in cache: called with the sample's `[C_out, H_out, W_out]` block
/// and the flat index of its first element in the whole output.
type SampleEpilogue<'a, T> = Option<&'a (dyn Fn(&mut [T], usize) + Sync)>;

/// Forward convolution of a whole batch.
fn conv_forward<T: Float>(
    g: &Geom,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    epilogue: SampleEpilogue<'_, T>,
) -> Vec<T> {
    let (in_len, out_len) = (g.c_in * g.hw_in(), g.c_out * g.hw_out());
    let mut out = zeroed(g.n * out_len);
    per_sample(
        g,
        x,
        in_len,
        &mut out,
        out_len,
        0,
        |i, xs, o, scratch, threads| {
            forward_sample(g, xs, w, bias, o, &mut scratch.cols, threads);
            if let Some(f) = epilogue {
                f(o, i * out_len);
            }
        },
    );
    out
}

/// [`conv_forward`] with each sample's result, after `epilogue`, max
/// pooled by `pool` into the output: the convolution's result never
/// leaves the sample's scratch buffer.
fn conv_forward_pooled<T: Float>(
    g: &Geom,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    epilogue: &(dyn Fn(&mut [T], usize) + Sync),
    pool: &PlanePool,
) -> Vec<T> {
    let (in_len, conv_len, out_len) = (g.c_in * g.hw_in(), g.c_out * g.hw_out(), pool.out_len());
    let mut out = zeroed(g.n * out_len);
    per_sample(
        g,
        x,
        in_len,
        &mut out,
        out_len,
        conv_len,
        |i, xs, o, scratch, threads| {
            // forward_sample writes every element (bias fill or a
            // replacing GEMM): the block's stale contents are never read.
            let conv = &mut scratch.block[..conv_len];
            forward_sample(g, xs, w, bias, conv, &mut scratch.cols, threads);
            epilogue(conv, i * conv_len);
            pool.run(conv, o);
        },
    );
    out
}

/// Input gradient of a whole batch (also the transposed convolution).
fn conv_backward_input<T: Float>(g: &Geom, gout: &[T], w: &[T]) -> Vec<T> {
    let (in_len, out_len) = (g.c_in * g.hw_in(), g.c_out * g.hw_out());
    let mut dx = vec![T::ZERO; g.n * in_len];
    per_sample(
        g,
        gout,
        out_len,
        &mut dx,
        in_len,
        0,
        |_, gs, d, scratch, threads| backward_input_sample(g, gs, w, d, &mut scratch.cols, threads),
    );
    dx
}

/// Weight gradient summed over the batch.
fn conv_backward_weight<T: Float>(g: &Geom, gout: &[T], x: &[T]) -> Vec<T> {
    let (in_len, out_len) = (g.c_in * g.hw_in(), g.c_out * g.hw_out());
    let w_len = g.c_out * g.k();
    let mut dw = vec![T::ZERO; w_len];
    let n = g.n;
    if w_len == 0 || n == 0 {
        return dw;
    }
    let sample = |i: usize, acc: &mut [T], cols: &mut Vec<T>, threads: usize| {
        let xs = &x[i * in_len..(i + 1) * in_len];
        let gs = &gout[i * out_len..(i + 1) * out_len];
        backward_weight_sample(g, xs, gs, acc, cols, threads);
    };
    // Fixed contiguous slices of the batch, one partial sum each, added in
    // order: the result depends on the shapes only, not on the thread
    // count. At most 8 slices and 4M partial-sum elements.
    let parts = n.min(8).min((1 << 22) / w_len).max(1);
    let partials: Vec<Vec<T>> = maybe_parallel(g.macs(), CONV_PAR_THRESHOLD, |threads| {
        map_collect(threads, parts, |p| {
            let mut acc = vec![T::ZERO; w_len];
            let mut cols = Vec::new();
            for i in p * n / parts..(p + 1) * n / parts {
                sample(i, &mut acc, &mut cols, threads);
            }
            acc
        })
    });
    for part in partials {
        for (d, v) in dw.iter_mut().zip(part) {
            *d += v;
        }
    }
    dw
}

// ----- ops ---------------------------------------------------------------------

/// A forward convolution's geometry and dtype, its operands checked.
fn checked_forward(
    op: &'static str,
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    hy: &Hyper,
) -> Result<(Geom, crate::DType)> {
    let g = conv_geometry(op, input.shape(), weight.shape(), hy)?;
    if let Some(b) = bias {
        check_bias(op, weight.shape(), b.shape(), g.c_out)?;
    }
    let dtype = match bias {
        Some(b) => check_dtypes(op, &[("input", input), ("weight", weight), ("bias", b)])?,
        None => check_dtypes(op, &[("input", input), ("weight", weight)])?,
    };
    Ok((g, dtype))
}

/// [`checked_forward`] for the 2-d epilogue forms, whose epilogue runs
/// on `T`: the operands must be of `T` (`[stride, padding, dilation]`).
fn checked_epilogue<T: Float>(
    op: &'static str,
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    [stride, padding, dilation]: [[usize; 2]; 3],
    groups: usize,
) -> Result<Geom> {
    let hy = Hyper {
        stride: &stride,
        padding: &padding,
        dilation: &dilation,
        groups,
    };
    let (g, dt) = checked_forward(op, input, weight, bias, &hy)?;
    if dt != T::DTYPE {
        return Err(crate::TensorError::dtype(
            op,
            format!("an epilogue over {}", T::DTYPE),
            dt,
        ));
    }
    Ok(g)
}

fn conv_op(
    op: &'static str,
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    hy: &Hyper,
) -> Result<Tensor> {
    let (g, dt) = checked_forward(op, input, weight, bias, hy)?;
    Ok(with_float!(dt, T => {
        let (x, w) = (input.values::<T>(), weight.values::<T>());
        let b = bias.map(|b| b.values::<T>());
        Tensor::from_data(conv_forward::<T>(&g, &x, &w, b.as_deref(), None), &g.output_shape())
    }))
}

fn backward_input_op(
    op: &'static str,
    fwd: &str,
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    hy: &Hyper,
) -> Result<Tensor> {
    let g = conv_geometry(op, input_shape, weight.shape(), hy)?;
    check_grad_out(op, grad_out, &g, weight.shape(), fwd)?;
    let dt = check_dtypes(op, &[("grad_out", grad_out), ("weight", weight)])?;
    Ok(with_float!(dt, T => {
        let (go, w) = (grad_out.values::<T>(), weight.values::<T>());
        Tensor::from_data(conv_backward_input::<T>(&g, &go, &w), &g.input_shape())
    }))
}

fn backward_weight_op(
    op: &'static str,
    fwd: &str,
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    hy: &Hyper,
) -> Result<Tensor> {
    let g = conv_geometry(op, input.shape(), weight_shape, hy)?;
    check_grad_out(op, grad_out, &g, input.shape(), fwd)?;
    let dt = check_dtypes(op, &[("grad_out", grad_out), ("input", input)])?;
    Ok(with_float!(dt, T => {
        let (go, x) = (grad_out.values::<T>(), input.values::<T>());
        Tensor::from_data(conv_backward_weight::<T>(&g, &go, &x), weight_shape)
    }))
}

impl Tensor {
    /// 2-d convolution over an input of shape `[N, C_in, H, W]` (or an
    /// unbatched `[C_in, H, W]`), like `torch.nn.functional.conv2d`.
    ///
    /// - `weight`: `[C_out, C_in / groups, kH, kW]`.
    /// - `bias`: optional `[C_out]`, added to every output position.
    /// - `stride`: step of the kernel over `[H, W]` (each > 0).
    /// - `padding`: implicit zeros added on both sides of `[H, W]`.
    /// - `dilation`: spacing between kernel taps (each > 0).
    /// - `groups`: input and output channels are split into `groups`
    ///   blocks, block `g` of the output seeing only block `g` of the input
    ///   (`groups = C_in` is a depthwise convolution). Both channel counts
    ///   must be divisible by it.
    ///
    /// The output is `[N, C_out, H_out, W_out]` (unbatched: without `N`)
    /// with `H_out = (H + 2*padding[0] - dilation[0]*(kH-1) - 1) / stride[0] + 1`
    /// (same for `W`). Input, weight and bias must share a float dtype.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]).unwrap();
    /// let w = Tensor::from_vec(vec![1.0f32; 4], &[1, 1, 2, 2]).unwrap(); // 2x2 box sum
    /// let y = x.conv2d(&w, None, [2, 2], [0, 0], [1, 1], 1).unwrap();
    /// assert_eq!(y.shape(), &[1, 1, 2, 2]);
    /// assert_eq!(y.to_vec::<f32>().unwrap(), vec![10.0, 18.0, 42.0, 50.0]);
    /// ```
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<Tensor> {
        let hy = Hyper {
            stride: &stride,
            padding: &padding,
            dilation: &dilation,
            groups,
        };
        conv_op("conv2d", self, weight, bias, &hy)
    }

    /// [`Tensor::conv2d`] that runs `epilogue` on each sample's output
    /// (bias added) right after computing it, while it is in cache: the
    /// activation, residual add or other elementwise work a compiler fuses
    /// into a convolution, without another pass over memory. `epilogue`
    /// gets the sample's `[C_out, H_out, W_out]` block and the flat index
    /// of its first element in the whole output; samples may run on
    /// several threads at once. `T` must be the input's dtype.
    ///
    /// ```
    /// use torchlet_tensor::Tensor;
    /// let x = Tensor::randn(&[2, 1, 5, 5]);
    /// let w = Tensor::randn(&[3, 1, 3, 3]);
    /// let relu = |block: &mut [f32], _start: usize| block.iter_mut().for_each(|v| *v = v.max(0.0));
    /// let fused = x.conv2d_then(&w, None, [1, 1], [0, 0], [1, 1], 1, &relu).unwrap();
    /// let plain = x.conv2d(&w, None, [1, 1], [0, 0], [1, 1], 1).unwrap().relu();
    /// assert_eq!(fused.to_vec::<f32>().unwrap(), plain.to_vec::<f32>().unwrap());
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn conv2d_then<T: Float>(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
        epilogue: &(dyn Fn(&mut [T], usize) + Sync),
    ) -> Result<Tensor> {
        const OP: &str = "conv2d";
        let g = checked_epilogue::<T>(OP, self, weight, bias, [stride, padding, dilation], groups)?;
        let (x, w) = (self.values::<T>(), weight.values::<T>());
        let b = bias.map(|b| b.values::<T>());
        let out = conv_forward::<T>(&g, &x, &w, b.as_deref(), Some(epilogue));
        Ok(Tensor::from_data(out, &g.output_shape()))
    }

    /// [`Tensor::conv2d_then`] followed by
    /// [`max_pool2d`](Tensor::max_pool2d) with `pool`, per sample: each
    /// sample's convolution result stays in a scratch buffer, gets
    /// `epilogue` (with its index in the unpooled output), and only its
    /// pooled form is written out. Values are those of the three ops in
    /// a row (LeNet's conv → ReLU → max-pool) without the unpooled
    /// tensor. The input must be batched (`[N, C_in, H, W]`).
    ///
    /// ```
    /// use torchlet_tensor::{MaxPool2dWindow, Tensor};
    /// let x = Tensor::randn(&[2, 1, 8, 8]);
    /// let w = Tensor::randn(&[3, 1, 3, 3]);
    /// let relu = |block: &mut [f32], _: usize| block.iter_mut().for_each(|v| *v = v.max(0.0));
    /// let pool = MaxPool2dWindow { kernel: [2, 2], stride: [2, 2], padding: [0, 0] };
    /// let fused = x.conv2d_then_max_pool2d(&w, None, [1, 1], [1, 1], [1, 1], 1, &relu, pool).unwrap();
    /// let plain = x.conv2d(&w, None, [1, 1], [1, 1], [1, 1], 1).unwrap().relu()
    ///     .max_pool2d([2, 2], [2, 2], [0, 0]).unwrap();
    /// assert_eq!(fused.to_vec::<f32>().unwrap(), plain.to_vec::<f32>().unwrap());
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn conv2d_then_max_pool2d<T: Float>(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
        epilogue: &(dyn Fn(&mut [T], usize) + Sync),
        pool: MaxPool2dWindow,
    ) -> Result<Tensor> {
        const OP: &str = "conv2d_then_max_pool2d";
        if self.dim() != 4 {
            return Err(crate::TensorError::invalid(
                OP,
                format!("expected a batched 4-d input, got shape {:?}", self.shape()),
            ));
        }
        let g = checked_epilogue::<T>(OP, self, weight, bias, [stride, padding, dilation], groups)?;
        let plane_pool = PlanePool::new(OP, &[g.c_out, g.h_out, g.w_out], pool)?;
        let (x, w) = (self.values::<T>(), weight.values::<T>());
        let b = bias.map(|b| b.values::<T>());
        let out = conv_forward_pooled::<T>(&g, &x, &w, b.as_deref(), epilogue, &plane_pool);
        let [oh, ow] = plane_pool.out_hw();
        Ok(Tensor::from_data(out, &[g.n, g.c_out, oh, ow]))
    }

    /// 1-d convolution over an input of shape `[N, C_in, L]` (or an
    /// unbatched `[C_in, L]`), like `torch.nn.functional.conv1d`.
    ///
    /// `weight` is `[C_out, C_in / groups, k]`, `bias` an optional
    /// `[C_out]`; `stride`, `padding`, `dilation` and `groups` mean what
    /// they mean for [`Tensor::conv2d`]. The output is `[N, C_out, L_out]`
    /// with `L_out = (L + 2*padding - dilation*(k-1) - 1) / stride + 1`.
    pub fn conv1d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Result<Tensor> {
        let hy = Hyper {
            stride: &[stride],
            padding: &[padding],
            dilation: &[dilation],
            groups,
        };
        conv_op("conv1d", self, weight, bias, &hy)
    }

    /// Gradient of [`Tensor::conv2d`] with respect to its input, given the
    /// gradient `grad_out` of its output (`torch.nn.grad.conv2d_input`).
    ///
    /// `input_shape` is the forward input's shape (`[N, C_in, H, W]` or
    /// `[C_in, H, W]`); it is needed because with `stride > 1` several
    /// input sizes give the same output size. `grad_out` must have the
    /// forward output's shape. Computes `weight^T @ grad_out` per sample
    /// and group and folds the columns back onto the input grid (col2im).
    pub fn conv2d_backward_input(
        grad_out: &Tensor,
        weight: &Tensor,
        input_shape: &[usize],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<Tensor> {
        let hy = Hyper {
            stride: &stride,
            padding: &padding,
            dilation: &dilation,
            groups,
        };
        backward_input_op(
            "conv2d_backward_input",
            "conv2d",
            grad_out,
            weight,
            input_shape,
            &hy,
        )
    }

    /// Gradient of [`Tensor::conv2d`] with respect to its weight, given the
    /// forward `input` and the gradient `grad_out` of its output
    /// (`torch.nn.grad.conv2d_weight`): `grad_out @ cols^T` summed over the
    /// batch, of shape `weight_shape` (`[C_out, C_in / groups, kH, kW]`).
    pub fn conv2d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<Tensor> {
        let hy = Hyper {
            stride: &stride,
            padding: &padding,
            dilation: &dilation,
            groups,
        };
        backward_weight_op(
            "conv2d_backward_weight",
            "conv2d",
            grad_out,
            input,
            weight_shape,
            &hy,
        )
    }

    /// Gradient of [`Tensor::conv1d`] with respect to its input
    /// (`input_shape`: `[N, C_in, L]` or `[C_in, L]`); see
    /// [`Tensor::conv2d_backward_input`].
    pub fn conv1d_backward_input(
        grad_out: &Tensor,
        weight: &Tensor,
        input_shape: &[usize],
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Result<Tensor> {
        let hy = Hyper {
            stride: &[stride],
            padding: &[padding],
            dilation: &[dilation],
            groups,
        };
        backward_input_op(
            "conv1d_backward_input",
            "conv1d",
            grad_out,
            weight,
            input_shape,
            &hy,
        )
    }

    /// Gradient of [`Tensor::conv1d`] with respect to its weight
    /// (`weight_shape`: `[C_out, C_in / groups, k]`); see
    /// [`Tensor::conv2d_backward_weight`].
    pub fn conv1d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Result<Tensor> {
        let hy = Hyper {
            stride: &[stride],
            padding: &[padding],
            dilation: &[dilation],
            groups,
        };
        backward_weight_op(
            "conv1d_backward_weight",
            "conv1d",
            grad_out,
            input,
            weight_shape,
            &hy,
        )
    }

    /// 2-d transposed convolution ("deconvolution") over an input of shape
    /// `[N, C_in, H, W]` (or `[C_in, H, W]`), like
    /// `torch.nn.functional.conv_transpose2d`: the gradient of
    /// [`Tensor::conv2d`] with respect to its input, which is how it is
    /// computed.
    ///
    /// - `weight`: `[C_in, C_out / groups, kH, kW]` (note the order).
    /// - `bias`: optional `[C_out]`.
    /// - `stride`, `padding`, `dilation`, `groups`: those of the
    ///   convolution this transposes; `padding` crops that many rows and
    ///   columns from each side of the full output.
    /// - `output_padding`: extra rows/columns added on the bottom/right of
    ///   the output to pick one of the input sizes a strided convolution
    ///   maps to the same size; each must be smaller than its stride or its
    ///   dilation.
    ///
    /// The output is `[N, C_out, H_out, W_out]` with
    /// `H_out = (H - 1)*stride[0] - 2*padding[0] + dilation[0]*(kH - 1) + output_padding[0] + 1`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: [usize; 2],
        padding: [usize; 2],
        output_padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<Tensor> {
        let op = "conv_transpose2d";
        let hy = Hyper {
            stride: &stride,
            padding: &padding,
            dilation: &dilation,
            groups,
        };
        let g = conv_transpose_geometry(op, self.shape(), weight.shape(), &hy, &output_padding)?;
        if let Some(b) = bias {
            check_bias(op, weight.shape(), b.shape(), g.c_in)?;
        }
        let mut operands = vec![("input", self), ("weight", weight)];
        operands.extend(bias.map(|b| ("bias", b)));
        let dt = check_dtypes(op, &operands)?;
        Ok(with_float!(dt, T => {
            let (x, w) = (self.values::<T>(), weight.values::<T>());
            let mut out = conv_backward_input::<T>(&g, &x, &w);
            if let Some(b) = bias {
                let b = b.values::<T>();
                let hw = g.hw_in();
                if hw > 0 {
                    for (i, plane) in out.chunks_mut(hw).enumerate() {
                        let bv = b[i % g.c_in];
                        plane.iter_mut().for_each(|v| *v += bv);
                    }
                }
            }
            Tensor::from_data(out, &g.input_shape())
        }))
    }
}

#[cfg(test)]
mod tests;
