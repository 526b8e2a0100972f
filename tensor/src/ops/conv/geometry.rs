//! Convolution geometry: the hyper-parameters as given, the sizes of one
//! convolution in 2-d terms ([`Geom`]), and the checks that turn bad
//! shapes, dtypes and hyper-parameters into errors naming the op.

use crate::dtype::DType;
use crate::error::{Result, TensorError};
use crate::layout::Dims;
use crate::tensor::Tensor;

/// Stride, padding and dilation per spatial dim (one entry for 1-d, two
/// for 2-d, as the caller gave them) and the number of groups.
#[derive(Clone, Copy)]
pub(super) struct Hyper<'a> {
    pub(super) stride: &'a [usize],
    pub(super) padding: &'a [usize],
    pub(super) dilation: &'a [usize],
    pub(super) groups: usize,
}

impl Hyper<'_> {
    /// Number of spatial dims (1 or 2).
    pub(super) fn spatial(&self) -> usize {
        self.stride.len()
    }

    pub(super) fn check(&self, op: &'static str) -> Result<()> {
        if self.stride.contains(&0) {
            return Err(TensorError::invalid(
                op,
                format!(
                    "non-positive stride is not supported, got stride={:?}",
                    self.stride
                ),
            ));
        }
        if self.dilation.contains(&0) {
            return Err(TensorError::invalid(
                op,
                format!(
                    "dilation should be greater than zero, got dilation={:?}",
                    self.dilation
                ),
            ));
        }
        if self.groups == 0 {
            return Err(TensorError::invalid(
                op,
                "non-positive groups is not supported, got groups=0",
            ));
        }
        Ok(())
    }
}

/// A 1- or 2-entry spatial value as `[height, width]`; 1-d values get
/// height `fill`.
pub(super) fn hw2(v: &[usize], fill: usize) -> [usize; 2] {
    match *v {
        [a] => [fill, a],
        [a, b] => [a, b],
        _ => unreachable!("convolution with {} spatial dims", v.len()),
    }
}

/// `[h, w]` as the user sees it: `"w"` in 1-d, `"h x w"` in 2-d.
pub(super) fn fmt_hw(v: [usize; 2], spatial: usize) -> String {
    if spatial == 1 {
        format!("{}", v[1])
    } else {
        format!("{} x {}", v[0], v[1])
    }
}

/// The sizes of one convolution, always in 2-d terms (a 1-d convolution
/// has `h = h_out = kh = 1`). `c_in`/`h`/`w` describe the convolution's
/// input and `c_out`/`h_out`/`w_out` its output, also for the transposed
/// convolution (whose input is the convolution's output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Geom {
    /// Whether the user's tensors have a batch dimension.
    pub(super) batched: bool,
    /// 1 or 2: how shapes are reported back.
    pub(super) spatial: usize,
    pub(super) n: usize,
    pub(super) c_in: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) c_out: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) groups: usize,
    pub(super) sh: usize,
    pub(super) sw: usize,
    pub(super) ph: usize,
    pub(super) pw: usize,
    pub(super) dh: usize,
    pub(super) dw: usize,
    pub(super) h_out: usize,
    pub(super) w_out: usize,
}

impl Geom {
    /// Input channels per group.
    pub(super) fn cg(&self) -> usize {
        self.c_in / self.groups
    }

    /// Output channels per group.
    pub(super) fn og(&self) -> usize {
        self.c_out / self.groups
    }

    /// Rows of `cols` per group: `C_in/groups * kH * kW`.
    pub(super) fn k(&self) -> usize {
        self.cg() * self.kh * self.kw
    }

    pub(super) fn hw_in(&self) -> usize {
        self.h * self.w
    }

    pub(super) fn hw_out(&self) -> usize {
        self.h_out * self.w_out
    }

    /// A 1x1 kernel, stride 1, no padding: `cols` is the input itself.
    pub(super) fn pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.sh == 1
            && self.sw == 1
            && self.ph == 0
            && self.pw == 0
            && self.h == self.h_out
            && self.w == self.w_out
    }

    /// Multiply-adds of the whole convolution (the thread decision).
    pub(super) fn macs(&self) -> usize {
        self.n
            .saturating_mul(self.c_out)
            .saturating_mul(self.k())
            .saturating_mul(self.hw_out())
    }

    pub(super) fn shape(&self, c: usize, h: usize, w: usize) -> Dims {
        let mut s = Dims::new();
        if self.batched {
            s.push(self.n);
        }
        s.push(c);
        if self.spatial == 2 {
            s.push(h);
        }
        s.push(w);
        s
    }

    /// Shape of the convolution's input.
    pub(super) fn input_shape(&self) -> Dims {
        self.shape(self.c_in, self.h, self.w)
    }

    /// Shape of the convolution's output.
    pub(super) fn output_shape(&self) -> Dims {
        self.shape(self.c_out, self.h_out, self.w_out)
    }
}

/// Splits an input shape into (batched, N, C, [H, W]).
pub(super) fn split_input(
    op: &'static str,
    shape: &[usize],
    sp: usize,
) -> Result<(bool, usize, usize, [usize; 2])> {
    let batched = if shape.len() == sp + 2 {
        true
    } else if shape.len() == sp + 1 {
        false
    } else {
        return Err(TensorError::invalid(
            op,
            format!(
                "expected {}D (unbatched) or {}D (batched) input, but got input of shape {shape:?}",
                sp + 1,
                sp + 2
            ),
        ));
    };
    let rest = if batched { &shape[1..] } else { shape };
    let n = if batched { shape[0] } else { 1 };
    Ok((batched, n, rest[0], hw2(&rest[1..], 1)))
}

pub(super) fn check_weight_rank(
    op: &'static str,
    input: &[usize],
    weight: &[usize],
    sp: usize,
    layout: &str,
) -> Result<()> {
    if weight.len() != sp + 2 {
        let kernel = if sp == 1 { "kL" } else { "kH, kW" };
        return Err(TensorError::shapes(
            op,
            &[input, weight],
            format!(
                "expected a {}-dimensional weight [{layout}, {kernel}], but got weight of shape {weight:?}",
                sp + 2
            ),
        ));
    }
    if weight[2..].contains(&0) {
        return Err(TensorError::shapes(
            op,
            &[input, weight],
            format!("the kernel size must be positive, but got weight of shape {weight:?}"),
        ));
    }
    Ok(())
}

/// Validates a convolution of `input` with `weight` and works out its
/// output size.
pub(super) fn conv_geometry(
    op: &'static str,
    input: &[usize],
    weight: &[usize],
    hy: &Hyper,
) -> Result<Geom> {
    let sp = hy.spatial();
    let (batched, n, c_in, [h, w]) = split_input(op, input, sp)?;
    check_weight_rank(op, input, weight, sp, "C_out, C_in/groups")?;
    hy.check(op)?;
    let groups = hy.groups;
    let c_out = weight[0];
    if !c_out.is_multiple_of(groups) {
        return Err(TensorError::shapes(
            op,
            &[input, weight],
            format!(
                "given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got weight of shape {weight:?}"
            ),
        ));
    }
    if weight[1] * groups != c_in {
        return Err(TensorError::shapes(
            op,
            &[input, weight],
            format!(
                "given groups={groups}, weight of shape {weight:?} expects the input to have {} channels, but got {c_in} channels",
                weight[1] * groups
            ),
        ));
    }
    let [kh, kw] = hw2(&weight[2..], 1);
    let [sh, sw] = hw2(hy.stride, 1);
    let [ph, pw] = hw2(hy.padding, 0);
    let [dh, dw] = hw2(hy.dilation, 1);
    let padded = [h + 2 * ph, w + 2 * pw];
    let eff = [dh * (kh - 1) + 1, dw * (kw - 1) + 1];
    if padded[0] < eff[0] || padded[1] < eff[1] {
        return Err(TensorError::shapes(
            op,
            &[input, weight],
            format!(
                "calculated padded input size per channel ({}) is smaller than the dilated kernel size ({}): the kernel can't be greater than the padded input",
                fmt_hw(padded, sp),
                fmt_hw(eff, sp)
            ),
        ));
    }
    Ok(Geom {
        batched,
        spatial: sp,
        n,
        c_in,
        h,
        w,
        c_out,
        kh,
        kw,
        groups,
        sh,
        sw,
        ph,
        pw,
        dh,
        dw,
        h_out: (padded[0] - eff[0]) / sh + 1,
        w_out: (padded[1] - eff[1]) / sw + 1,
    })
}

/// Validates a transposed convolution of `input` with `weight`
/// (`[C_in, C_out/groups, kH, kW]`) and works out its output size. The
/// returned geometry is that of the forward convolution it is the
/// adjoint of: its `c_in/h/w` are the transposed convolution's output.
pub(super) fn conv_transpose_geometry(
    op: &'static str,
    input: &[usize],
    weight: &[usize],
    hy: &Hyper,
    output_padding: &[usize],
) -> Result<Geom> {
    let sp = hy.spatial();
    let (batched, n, c_in, [h_in, w_in]) = split_input(op, input, sp)?;
    check_weight_rank(op, input, weight, sp, "C_in, C_out/groups")?;
    hy.check(op)?;
    let groups = hy.groups;
    if weight[0] != c_in {
        return Err(TensorError::shapes(
            op,
            &[input, weight],
            format!(
                "weight of shape {weight:?} expects the input to have {} channels (weight dimension 0), but got {c_in} channels",
                weight[0]
            ),
        ));
    }
    if c_in % groups != 0 {
        return Err(TensorError::shapes(
            op,
            &[input, weight],
            format!(
                "given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got weight of shape {weight:?}"
            ),
        ));
    }
    if output_padding
        .iter()
        .zip(hy.stride.iter().zip(hy.dilation))
        .any(|(&o, (&s, &d))| o >= s && o >= d)
    {
        return Err(TensorError::invalid(
            op,
            format!(
                "output padding must be smaller than either stride or dilation, but got output_padding={:?}, stride={:?}, dilation={:?}",
                output_padding, hy.stride, hy.dilation
            ),
        ));
    }
    let in_sizes = hw2(&input[input.len() - sp..], 1);
    if in_sizes.contains(&0) {
        return Err(TensorError::invalid(
            op,
            format!("expected non-empty spatial dimensions, but got input of shape {input:?}"),
        ));
    }
    let [kh, kw] = hw2(&weight[2..], 1);
    let [sh, sw] = hw2(hy.stride, 1);
    let [ph, pw] = hw2(hy.padding, 0);
    let [dh, dw] = hw2(hy.dilation, 1);
    let [oph, opw] = hw2(output_padding, 0);
    // (in - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
    let size = |i: usize, s: usize, p: usize, d: usize, k: usize, o: usize| -> i64 {
        (i as i64 - 1) * s as i64 - 2 * p as i64 + (d * (k - 1)) as i64 + o as i64 + 1
    };
    let (oh, ow) = (
        size(h_in, sh, ph, dh, kh, oph),
        size(w_in, sw, pw, dw, kw, opw),
    );
    if oh <= 0 || ow <= 0 {
        let shown = if sp == 1 {
            format!("{ow}")
        } else {
            format!("{oh} x {ow}")
        };
        return Err(TensorError::shapes(
            op,
            &[input, weight],
            format!(
                "given input size per channel ({}), the calculated output size per channel ({shown}) is too small",
                fmt_hw([h_in, w_in], sp)
            ),
        ));
    }
    Ok(Geom {
        batched,
        spatial: sp,
        n,
        c_in: weight[1] * groups,
        h: oh as usize,
        w: ow as usize,
        c_out: c_in,
        kh,
        kw,
        groups,
        sh,
        sw,
        ph,
        pw,
        dh,
        dw,
        h_out: h_in,
        w_out: w_in,
    })
}

pub(super) fn check_bias(
    op: &'static str,
    weight: &[usize],
    bias: &[usize],
    channels: usize,
) -> Result<()> {
    if bias != [channels] {
        return Err(TensorError::shapes(
            op,
            &[weight, bias],
            format!("expected bias to be 1-dimensional with {channels} elements, but got bias of shape {bias:?}"),
        ));
    }
    Ok(())
}

/// The common float dtype of the operands: the first must be f32/f64,
/// the rest must match it.
pub(super) fn check_dtypes(op: &'static str, operands: &[(&str, &Tensor)]) -> Result<DType> {
    let (first, t0) = operands[0];
    let dt = t0.dtype();
    if !dt.is_float() {
        return Err(TensorError::dtype(
            op,
            format!("a float32 or float64 {first}"),
            dt,
        ));
    }
    for &(name, t) in &operands[1..] {
        if t.dtype() != dt {
            return Err(TensorError::dtype(
                op,
                format!("{name} of the same dtype as the {first} ({dt})"),
                t.dtype(),
            ));
        }
    }
    Ok(dt)
}

pub(super) fn check_grad_out(
    op: &'static str,
    grad_out: &Tensor,
    g: &Geom,
    other: &[usize],
    fwd: &str,
) -> Result<()> {
    let want = g.output_shape();
    if grad_out.shape() != want.as_slice() {
        return Err(TensorError::shapes(
            op,
            &[grad_out.shape(), other],
            format!("expected grad_out of shape {want:?} (the {fwd} output for input shape {:?}), but got {:?}", g.input_shape(), grad_out.shape()),
        ));
    }
    Ok(())
}
