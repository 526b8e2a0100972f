//! Convolution layers (`torch.nn.modules.conv`): [`Conv1d`], [`Conv2d`]
//! and [`ConvTranspose2d`].
//!
//! Each is a private `ConvCore` (PyTorch's `_ConvNd`: validation,
//! `weight` and `bias` with PyTorch's default initialisation, the parameter
//! list, the input check and the call of the op) plus its public options
//! struct; `conv_module!` writes the accessors and the [`Module`] impl
//! they share.

use torchlet_autograd::Variable;

use crate::error::{NnError, Result};
use crate::init::{default_bound, uniform_parameter};
use crate::linear::weight_and_bias;
use crate::module::Module;

/// Checks that `x` is `[C, *spatial]` or `[N, C, *spatial]` with
/// `spatial_dims` spatial dims and, if given, `channels` channels. The
/// convolutions and poolings share it.
pub(crate) fn check_spatial_input(
    module: &'static str,
    x: &Variable,
    spatial_dims: usize,
    channels: Option<usize>,
) -> Result<()> {
    let shape = x.shape();
    if shape.len() != spatial_dims + 1 && shape.len() != spatial_dims + 2 {
        let dims = match spatial_dims {
            1 => "L",
            2 => "H, W",
            _ => "D, H, W",
        };
        return Err(NnError::input(
            module,
            format!(
                "expected a {}-d [C, {dims}] or {}-d [N, C, {dims}] input, got a {}-d input of shape {shape:?}",
                spatial_dims + 1,
                spatial_dims + 2,
                shape.len()
            ),
        ));
    }
    if let Some(c) = channels {
        let got = shape[shape.len() - spatial_dims - 1];
        if got != c {
            return Err(NnError::input(
                module,
                format!("expected {c} input channels, got {got} (input shape {shape:?})"),
            ));
        }
    }
    Ok(())
}

/// The sizes of a convolution over `D` spatial dims, one entry per dim,
/// whichever options struct they came from.
#[derive(Debug, Clone, Copy)]
struct ConvGeometry<const D: usize> {
    kernel_size: [usize; D],
    stride: [usize; D],
    padding: [usize; D],
    /// Zeros unless the convolution is transposed.
    output_padding: [usize; D],
    dilation: [usize; D],
    groups: usize,
}

/// What every convolution module is (PyTorch's `_ConvNd`): its channels,
/// its sizes, and `weight` and `bias`.
struct ConvCore<const D: usize> {
    /// The module's name in errors (`"Conv2d"`).
    module: &'static str,
    transposed: bool,
    in_channels: usize,
    out_channels: usize,
    geometry: ConvGeometry<D>,
    weight: Variable,
    bias: Option<Variable>,
}

impl<const D: usize> ConvCore<D> {
    /// Checks the configuration as `_ConvNd.__init__` does, then creates
    /// `weight` — `[C_out, C_in / groups, *kernel]`, or
    /// `[C_in, C_out / groups, *kernel]` when transposed — and the optional
    /// `bias` `[C_out]`, both from `U(-1/√fan_in, 1/√fan_in)` where
    /// `fan_in` is the weight's dim 1 times the kernel's elements
    /// (`reset_parameters`; for a transposed convolution that is
    /// `C_out / groups · k`, as in PyTorch).
    fn new(
        module: &'static str,
        transposed: bool,
        in_channels: usize,
        out_channels: usize,
        geometry: ConvGeometry<D>,
        bias: bool,
    ) -> Result<ConvCore<D>> {
        let ConvGeometry {
            kernel_size,
            stride,
            output_padding,
            dilation,
            groups: g,
            ..
        } = geometry;
        let bad = |m: String| Err(NnError::config(module, m));
        if in_channels == 0 || out_channels == 0 || g == 0 {
            return bad(format!(
                "in_channels, out_channels and groups must be positive, got {in_channels}, {out_channels} and {g}"
            ));
        }
        if !in_channels.is_multiple_of(g) || !out_channels.is_multiple_of(g) {
            return bad(format!(
                "in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by groups ({g})"
            ));
        }
        if kernel_size.contains(&0) || stride.contains(&0) || dilation.contains(&0) {
            return bad(format!(
                "kernel_size, stride and dilation must be positive, got {kernel_size:?}, {stride:?} and {dilation:?}"
            ));
        }
        if transposed && (0..D).any(|d| output_padding[d] >= stride[d].max(dilation[d])) {
            return bad(format!(
                "output_padding must be smaller than either stride or dilation, got output_padding {output_padding:?}, stride {stride:?}, dilation {dilation:?}"
            ));
        }
        let (dim0, dim1) = if transposed {
            (in_channels, out_channels / g)
        } else {
            (out_channels, in_channels / g)
        };
        let bound = default_bound(dim1 * kernel_size.iter().product::<usize>());
        let mut shape = vec![dim0, dim1];
        shape.extend(kernel_size);
        let weight = uniform_parameter(&shape, bound);
        let bias = bias.then(|| uniform_parameter(&[out_channels], bound));
        Ok(ConvCore {
            module,
            transposed,
            in_channels,
            out_channels,
            geometry,
            weight,
            bias,
        })
    }

    fn check_input(&self, x: &Variable) -> Result<()> {
        check_spatial_input(self.module, x, D, Some(self.in_channels))
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        weight_and_bias(&self.weight, self.bias.as_ref())
    }
}

impl ConvCore<1> {
    /// `conv1d` (there is no transposed 1-d module).
    fn forward(&self, x: &Variable) -> Result<Variable> {
        self.check_input(x)?;
        let g = &self.geometry;
        Ok(x.conv1d(
            &self.weight,
            self.bias.as_ref(),
            g.stride[0],
            g.padding[0],
            g.dilation[0],
            g.groups,
        )?)
    }
}

impl ConvCore<2> {
    /// `conv2d`, or `conv_transpose2d` when transposed.
    fn forward(&self, x: &Variable) -> Result<Variable> {
        self.check_input(x)?;
        let (g, w, b) = (&self.geometry, &self.weight, self.bias.as_ref());
        Ok(if self.transposed {
            x.conv_transpose2d(
                w,
                b,
                g.stride,
                g.padding,
                g.output_padding,
                g.dilation,
                g.groups,
            )?
        } else {
            x.conv2d(w, b, g.stride, g.padding, g.dilation, g.groups)?
        })
    }
}

/// The accessors and the [`Module`] impl of a convolution module
/// `$t { core: ConvCore<_>, options: $options }`; `$weight` is the shape of
/// its weight, for the docs.
macro_rules! conv_module {
    ($t:ident, $options:ident, $weight:literal) => {
        impl $t {
            /// The number of input channels.
            pub fn in_channels(&self) -> usize {
                self.core.in_channels
            }

            /// The number of output channels.
            pub fn out_channels(&self) -> usize {
                self.core.out_channels
            }

            #[doc = concat!("The options it was built with ([`", stringify!($options), "`]).")]
            pub fn options(&self) -> $options {
                self.options
            }

            #[doc = concat!("The weight, `", $weight, "`.")]
            pub fn weight(&self) -> &Variable {
                &self.core.weight
            }

            /// The bias, `[C_out]`, if the layer has one.
            pub fn bias(&self) -> Option<&Variable> {
                self.core.bias.as_ref()
            }
        }

        impl Module for $t {
            fn forward(&self, x: &Variable) -> Result<Variable> {
                self.core.forward(x)
            }

            fn local_parameters(&self) -> Vec<(&str, Variable)> {
                self.core.local_parameters()
            }
        }
    };
}

/// The builder methods the options of the 2-d convolutions share.
macro_rules! options_2d_setters {
    ($t:ident) => {
        impl $t {
            /// Sets the stride: one number for both dims, or `[sH, sW]`.
            pub fn stride(mut self, s: impl Into<crate::Size2>) -> Self {
                self.stride = crate::size::pair(s);
                self
            }

            /// Sets the zero padding: one number for both dims, or `[pH, pW]`.
            pub fn padding(mut self, p: impl Into<crate::Size2>) -> Self {
                self.padding = crate::size::pair(p);
                self
            }

            /// Sets the number of groups.
            pub fn groups(mut self, g: usize) -> Self {
                self.groups = g;
                self
            }

            /// Sets whether the layer has a bias.
            pub fn bias(mut self, bias: bool) -> Self {
                self.bias = bias;
                self
            }
        }
    };
}

/// Options of a [`Conv1d`] with PyTorch's defaults (stride 1, padding 0,
/// dilation 1, groups 1, bias).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv1dOptions {
    /// Step of the kernel.
    pub stride: usize,
    /// Zero padding on both sides.
    pub padding: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Number of channel groups.
    pub groups: usize,
    /// Whether the layer adds a learnable bias.
    pub bias: bool,
}

impl Default for Conv1dOptions {
    fn default() -> Self {
        Conv1dOptions {
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
            bias: true,
        }
    }
}

/// 1-d convolution (`torch.nn.Conv1d`) over `[N, C_in, L]` (or
/// `[C_in, L]`): `weight` `[C_out, C_in / groups, k]`, `bias` `[C_out]`,
/// both from `U(-1/√fan_in, 1/√fan_in)` with `fan_in = C_in / groups · k`.
pub struct Conv1d {
    core: ConvCore<1>,
    options: Conv1dOptions,
}

impl Conv1d {
    /// `Conv1d(in, out, k)` with the default options.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Result<Conv1d> {
        Conv1d::with_options(
            in_channels,
            out_channels,
            kernel_size,
            Conv1dOptions::default(),
        )
    }

    /// A convolution with explicit options.
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        options: Conv1dOptions,
    ) -> Result<Conv1d> {
        let o = options;
        let geometry = ConvGeometry {
            kernel_size: [kernel_size],
            stride: [o.stride],
            padding: [o.padding],
            output_padding: [0],
            dilation: [o.dilation],
            groups: o.groups,
        };
        let core = ConvCore::new("Conv1d", false, in_channels, out_channels, geometry, o.bias)?;
        Ok(Conv1d { core, options })
    }

    /// The kernel size.
    pub fn kernel_size(&self) -> usize {
        self.core.geometry.kernel_size[0]
    }
}

conv_module!(Conv1d, Conv1dOptions, "[C_out, C_in / groups, k]");

/// Options of a [`Conv2d`] beyond the channels and kernel size, with
/// PyTorch's defaults (stride 1, padding 0, dilation 1, groups 1, bias).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// Step of the kernel over `[H, W]`.
    pub stride: [usize; 2],
    /// Zero padding added on both sides of `[H, W]`.
    pub padding: [usize; 2],
    /// Spacing between kernel taps.
    pub dilation: [usize; 2],
    /// Number of channel groups; both channel counts must divide by it.
    pub groups: usize,
    /// Whether the layer adds a learnable bias.
    pub bias: bool,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
            bias: true,
        }
    }
}

options_2d_setters!(Conv2dOptions);

impl Conv2dOptions {
    /// Sets the dilation: one number for both dims, or `[dH, dW]`.
    pub fn dilation(mut self, d: impl Into<crate::Size2>) -> Self {
        self.dilation = crate::size::pair(d);
        self
    }
}

/// 2-d convolution (`torch.nn.Conv2d`) over `[N, C_in, H, W]` (or
/// `[C_in, H, W]`): `weight` `[C_out, C_in / groups, kH, kW]`, `bias`
/// `[C_out]`, both from `U(-1/√fan_in, 1/√fan_in)` with
/// `fan_in = C_in / groups · kH · kW`.
pub struct Conv2d {
    core: ConvCore<2>,
    options: Conv2dOptions,
}

impl Conv2d {
    /// A convolution with the default options; `kernel_size` is one
    /// number (square) or `[kH, kW]` (`Conv2d(in, out, 3)`).
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<crate::Size2>,
    ) -> Result<Conv2d> {
        Conv2d::with_options(
            in_channels,
            out_channels,
            kernel_size,
            Conv2dOptions::default(),
        )
    }

    /// A convolution with explicit options, e.g.
    /// `Conv2dOptions::default().padding(2)`.
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<crate::Size2>,
        options: Conv2dOptions,
    ) -> Result<Conv2d> {
        let o = options;
        let geometry = ConvGeometry {
            kernel_size: crate::size::pair(kernel_size),
            stride: o.stride,
            padding: o.padding,
            output_padding: [0, 0],
            dilation: o.dilation,
            groups: o.groups,
        };
        let core = ConvCore::new("Conv2d", false, in_channels, out_channels, geometry, o.bias)?;
        Ok(Conv2d { core, options })
    }

    /// The kernel size `[kH, kW]`.
    pub fn kernel_size(&self) -> [usize; 2] {
        self.core.geometry.kernel_size
    }
}

conv_module!(Conv2d, Conv2dOptions, "[C_out, C_in / groups, kH, kW]");

/// Options of a [`ConvTranspose2d`] with PyTorch's defaults (stride 1,
/// padding 0, output padding 0, dilation 1, groups 1, bias).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvTranspose2dOptions {
    /// Step of the kernel over the output.
    pub stride: [usize; 2],
    /// Implicit padding removed from both sides of the output.
    pub padding: [usize; 2],
    /// Extra size added to one side of the output (less than the stride or
    /// the dilation).
    pub output_padding: [usize; 2],
    /// Spacing between kernel taps.
    pub dilation: [usize; 2],
    /// Number of channel groups.
    pub groups: usize,
    /// Whether the layer adds a learnable bias.
    pub bias: bool,
}

impl Default for ConvTranspose2dOptions {
    fn default() -> Self {
        ConvTranspose2dOptions {
            stride: [1, 1],
            padding: [0, 0],
            output_padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
            bias: true,
        }
    }
}

options_2d_setters!(ConvTranspose2dOptions);

impl ConvTranspose2dOptions {
    /// Sets the output padding: one number for both dims, or `[pH, pW]`.
    pub fn output_padding(mut self, p: impl Into<crate::Size2>) -> Self {
        self.output_padding = crate::size::pair(p);
        self
    }
}

/// 2-d transposed convolution (`torch.nn.ConvTranspose2d`) over
/// `[N, C_in, H, W]` (or `[C_in, H, W]`): `weight`
/// `[C_in, C_out / groups, kH, kW]`, `bias` `[C_out]`, both from
/// `U(-1/√fan_in, 1/√fan_in)` where, as in PyTorch, `fan_in` is computed
/// from the weight's dim 1: `C_out / groups · kH · kW`. The output size is
/// `(H - 1)·stride - 2·padding + dilation·(kH - 1) + output_padding + 1`.
pub struct ConvTranspose2d {
    core: ConvCore<2>,
    options: ConvTranspose2dOptions,
}

impl ConvTranspose2d {
    /// A transposed convolution with default options; `kernel_size` is
    /// one number (square) or `[kH, kW]`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<crate::Size2>,
    ) -> Result<ConvTranspose2d> {
        ConvTranspose2d::with_options(
            in_channels,
            out_channels,
            kernel_size,
            ConvTranspose2dOptions::default(),
        )
    }

    /// A transposed convolution with explicit options.
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<crate::Size2>,
        options: ConvTranspose2dOptions,
    ) -> Result<ConvTranspose2d> {
        let o = options;
        let geometry = ConvGeometry {
            kernel_size: crate::size::pair(kernel_size),
            stride: o.stride,
            padding: o.padding,
            output_padding: o.output_padding,
            dilation: o.dilation,
            groups: o.groups,
        };
        let core = ConvCore::new(
            "ConvTranspose2d",
            true,
            in_channels,
            out_channels,
            geometry,
            o.bias,
        )?;
        Ok(ConvTranspose2d { core, options })
    }

    /// The kernel size `[kH, kW]`.
    pub fn kernel_size(&self) -> [usize; 2] {
        self.core.geometry.kernel_size
    }
}

conv_module!(
    ConvTranspose2d,
    ConvTranspose2dOptions,
    "[C_in, C_out / groups, kH, kW]"
);

#[cfg(test)]
mod tests {
    use super::*;
    use torchlet_tensor::{DType, Tensor};

    fn max_abs(v: &Variable) -> f64 {
        let x = v.data().to_dtype(DType::F64).to_vec::<f64>().unwrap();
        x.iter().fold(0.0, |m, a| m.max(a.abs()))
    }

    #[test]
    fn conv1d_shapes_init_values() {
        let c = Conv1d::new(4, 6, 3).unwrap();
        assert_eq!(c.weight().shape(), [6, 4, 3]);
        assert!(max_abs(c.weight()) <= 1.0 / 12f64.sqrt());
        let names: Vec<String> = c.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
        let y = c
            .forward(&Variable::constant(Tensor::ones(&[2, 4, 10])))
            .unwrap();
        assert_eq!(y.shape(), [2, 6, 8]);
        let opts = Conv1dOptions {
            padding: 1,
            stride: 2,
            groups: 2,
            bias: false,
            ..Default::default()
        };
        let c = Conv1d::with_options(4, 6, 3, opts).unwrap();
        assert_eq!(c.weight().shape(), [6, 2, 3]);
        assert!(c.bias().is_none());
        assert_eq!(
            c.forward(&Variable::constant(Tensor::ones(&[4, 10])))
                .unwrap()
                .shape(),
            [6, 5]
        );
        assert!(c
            .forward(&Variable::constant(Tensor::ones(&[1, 3, 10])))
            .is_err());
        assert!(Conv1d::new(3, 4, 0).is_err());

        // Exact values: a single-channel moving sum.
        let c = Conv1d::with_options(
            1,
            1,
            2,
            Conv1dOptions {
                bias: false,
                ..Default::default()
            },
        )
        .unwrap();
        c.weight()
            .set_data(Tensor::from_slice(&[1.0f32, 2.0], &[1, 1, 2]).unwrap())
            .unwrap();
        let x = Variable::constant(Tensor::from_slice(&[1.0f32, 2.0, 3.0], &[1, 1, 3]).unwrap());
        assert_eq!(
            c.forward(&x).unwrap().data().to_vec::<f32>().unwrap(),
            [5.0, 8.0]
        );
    }

    #[test]
    fn conv_transpose2d_shapes_init_values() {
        let c = ConvTranspose2d::new(4, 6, 3).unwrap();
        assert_eq!(c.weight().shape(), [4, 6, 3, 3]);
        assert_eq!(c.bias().unwrap().shape(), [6]);
        // fan_in from dim 1: 6 · 9.
        assert!(max_abs(c.weight()) <= 1.0 / 54f64.sqrt());
        let y = c
            .forward(&Variable::constant(Tensor::ones(&[2, 4, 5, 5])))
            .unwrap();
        assert_eq!(y.shape(), [2, 6, 7, 7]);
        let opts = ConvTranspose2dOptions::default()
            .stride(2)
            .padding(1)
            .output_padding(1)
            .groups(2);
        let c = ConvTranspose2d::with_options(4, 6, [3, 3], opts).unwrap();
        assert_eq!(c.weight().shape(), [4, 3, 3, 3]);
        let y = c
            .forward(&Variable::constant(Tensor::ones(&[4, 5, 5])))
            .unwrap();
        assert_eq!(y.shape(), [6, 10, 10]);
        let bad = ConvTranspose2dOptions::default().output_padding(1);
        assert!(ConvTranspose2d::with_options(4, 6, [3, 3], bad).is_err());

        // Exact values: 1x1 input scattered by a 2x2 kernel.
        let c = ConvTranspose2d::with_options(
            1,
            1,
            [2, 2],
            ConvTranspose2dOptions::default().bias(false),
        )
        .unwrap();
        c.weight()
            .set_data(Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap())
            .unwrap();
        let x = Variable::constant(Tensor::from_slice(&[2.0f32], &[1, 1, 1, 1]).unwrap());
        assert_eq!(
            c.forward(&x).unwrap().data().to_vec::<f32>().unwrap(),
            [2.0, 4.0, 6.0, 8.0]
        );
    }
}
