//! Fully connected and convolution layers.

use torchlet_autograd::{functional, Variable};

use crate::error::{NnError, Result};
use crate::init::{default_bound, uniform_parameter};
use crate::module::Module;

/// `y = x Wᵀ + b` (`torch.nn.Linear`): `weight` `[out_features,
/// in_features]`, `bias` `[out_features]`, both initialised from
/// `U(-1/√in_features, 1/√in_features)` as in PyTorch.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::{Linear, Module, Result};
/// use torchlet_tensor::Tensor;
///
/// # fn main() -> Result<()> {
/// let fc = Linear::new(3, 2)?;
/// assert_eq!(fc.weight().shape(), [2, 3]);
/// let y = fc.forward(&Variable::constant(Tensor::ones(&[5, 3])))?;
/// assert_eq!(y.shape(), [5, 2]);
/// assert!(Linear::new(3, 2)?.forward(&Variable::constant(Tensor::ones(&[5, 4]))).is_err());
/// # Ok(())
/// # }
/// ```
pub struct Linear {
    in_features: usize,
    out_features: usize,
    weight: Variable,
    bias: Option<Variable>,
}

impl Linear {
    /// A layer with a bias.
    pub fn new(in_features: usize, out_features: usize) -> Result<Linear> {
        Linear::with_bias(in_features, out_features, true)
    }

    /// A layer with or without a bias (`Linear(in, out, bias=...)`).
    pub fn with_bias(in_features: usize, out_features: usize, bias: bool) -> Result<Linear> {
        if in_features == 0 || out_features == 0 {
            return Err(NnError::config(
                "Linear",
                format!("in_features and out_features must be positive, got {in_features} and {out_features}"),
            ));
        }
        let bound = default_bound(in_features);
        let weight = uniform_parameter(&[out_features, in_features], bound);
        let bias = bias.then(|| uniform_parameter(&[out_features], bound));
        Ok(Linear {
            in_features,
            out_features,
            weight,
            bias,
        })
    }

    /// The number of input features.
    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// The number of output features.
    pub fn out_features(&self) -> usize {
        self.out_features
    }

    /// The weight, `[out_features, in_features]`.
    pub fn weight(&self) -> &Variable {
        &self.weight
    }

    /// The bias, `[out_features]`, if the layer has one.
    pub fn bias(&self) -> Option<&Variable> {
        self.bias.as_ref()
    }
}

impl Module for Linear {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let shape = x.shape();
        if shape.last() != Some(&self.in_features) {
            return Err(NnError::input(
                "Linear",
                format!(
                    "expected an input whose last dimension is in_features = {}, got shape {shape:?}",
                    self.in_features
                ),
            ));
        }
        Ok(functional::linear(x, &self.weight, self.bias.as_ref())?)
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        let mut out = vec![("weight", self.weight.clone())];
        out.extend(self.bias.iter().map(|b| ("bias", b.clone())));
        out
    }
}

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

impl Conv2dOptions {
    /// Sets the same stride on both dims.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = [s, s];
        self
    }

    /// Sets the same padding on both dims.
    pub fn padding(mut self, p: usize) -> Self {
        self.padding = [p, p];
        self
    }

    /// Sets the same dilation on both dims.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = [d, d];
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

/// 2-d convolution (`torch.nn.Conv2d`) over `[N, C_in, H, W]` (or
/// `[C_in, H, W]`): `weight` `[C_out, C_in / groups, kH, kW]`, `bias`
/// `[C_out]`, both from `U(-1/√fan_in, 1/√fan_in)` with
/// `fan_in = C_in / groups · kH · kW`.
pub struct Conv2d {
    in_channels: usize,
    out_channels: usize,
    kernel_size: [usize; 2],
    options: Conv2dOptions,
    weight: Variable,
    bias: Option<Variable>,
}

impl Conv2d {
    /// A square `kernel_size` convolution with the default options.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Result<Conv2d> {
        Conv2d::with_options(
            in_channels,
            out_channels,
            [kernel_size, kernel_size],
            Conv2dOptions::default(),
        )
    }

    /// A convolution with explicit options, e.g.
    /// `Conv2dOptions::default().padding(2)`.
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: [usize; 2],
        options: Conv2dOptions,
    ) -> Result<Conv2d> {
        let g = options.groups;
        let bad = |m: String| Err(NnError::config("Conv2d", m));
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
        if kernel_size.contains(&0) || options.stride.contains(&0) || options.dilation.contains(&0)
        {
            return bad(format!(
                "kernel_size, stride and dilation must be positive, got {kernel_size:?}, {:?} and {:?}",
                options.stride, options.dilation
            ));
        }
        let fan_in = in_channels / g * kernel_size[0] * kernel_size[1];
        let bound = default_bound(fan_in);
        let weight = uniform_parameter(
            &[
                out_channels,
                in_channels / g,
                kernel_size[0],
                kernel_size[1],
            ],
            bound,
        );
        let bias = options
            .bias
            .then(|| uniform_parameter(&[out_channels], bound));
        Ok(Conv2d {
            in_channels,
            out_channels,
            kernel_size,
            options,
            weight,
            bias,
        })
    }

    /// The number of input channels.
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    /// The number of output channels.
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// The kernel size `[kH, kW]`.
    pub fn kernel_size(&self) -> [usize; 2] {
        self.kernel_size
    }

    /// Stride, padding, dilation, groups and bias.
    pub fn options(&self) -> Conv2dOptions {
        self.options
    }

    /// The weight, `[C_out, C_in / groups, kH, kW]`.
    pub fn weight(&self) -> &Variable {
        &self.weight
    }

    /// The bias, `[C_out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Variable> {
        self.bias.as_ref()
    }
}

/// Checks a `[N, C, H, W]` / `[C, H, W]` input and returns its channel count.
pub(crate) fn check_image(
    module: &'static str,
    x: &Variable,
    channels: Option<usize>,
) -> Result<()> {
    let shape = x.shape();
    if shape.len() != 3 && shape.len() != 4 {
        return Err(NnError::input(
            module,
            format!(
                "expected a 3-d [C, H, W] or 4-d [N, C, H, W] input, got a {}-d input of shape {shape:?}",
                shape.len()
            ),
        ));
    }
    if let Some(c) = channels {
        let got = shape[shape.len() - 3];
        if got != c {
            return Err(NnError::input(
                module,
                format!("expected {c} input channels, got {got} (input shape {shape:?})"),
            ));
        }
    }
    Ok(())
}

impl Module for Conv2d {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        check_image("Conv2d", x, Some(self.in_channels))?;
        let o = &self.options;
        Ok(x.conv2d(
            &self.weight,
            self.bias.as_ref(),
            o.stride,
            o.padding,
            o.dilation,
            o.groups,
        )?)
    }

    fn local_parameters(&self) -> Vec<(&str, Variable)> {
        let mut out = vec![("weight", self.weight.clone())];
        out.extend(self.bias.iter().map(|b| ("bias", b.clone())));
        out
    }
}
