//! [`Conv1d`] and [`ConvTranspose2d`].

use torchlet_autograd::Variable;

use crate::error::{NnError, Result};
use crate::init::{default_bound, uniform_parameter};
use crate::module::Module;

fn check_channels(
    module: &'static str,
    x: &Variable,
    spatial: usize,
    channels: usize,
) -> Result<()> {
    let shape = x.shape();
    if shape.len() != spatial + 1 && shape.len() != spatial + 2 {
        return Err(NnError::input(
            module,
            format!(
                "expected a {}-d or {}-d input, got a {}-d input of shape {shape:?}",
                spatial + 1,
                spatial + 2,
                shape.len()
            ),
        ));
    }
    let got = shape[shape.len() - spatial - 1];
    if got != channels {
        return Err(NnError::input(
            module,
            format!("expected {channels} input channels, got {got} (input shape {shape:?})"),
        ));
    }
    Ok(())
}

fn check_config(
    module: &'static str,
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    positive: &[usize],
) -> Result<()> {
    let bad = |m: String| Err(NnError::config(module, m));
    if in_channels == 0 || out_channels == 0 || groups == 0 {
        return bad(format!(
            "in_channels, out_channels and groups must be positive, got {in_channels}, {out_channels} and {groups}"
        ));
    }
    if !in_channels.is_multiple_of(groups) || !out_channels.is_multiple_of(groups) {
        return bad(format!(
            "in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by groups ({groups})"
        ));
    }
    if positive.contains(&0) {
        return bad(format!(
            "kernel_size, stride and dilation must be positive, got {positive:?}"
        ));
    }
    Ok(())
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
    in_channels: usize,
    out_channels: usize,
    kernel_size: usize,
    options: Conv1dOptions,
    weight: Variable,
    bias: Option<Variable>,
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
        let g = options.groups;
        check_config(
            "Conv1d",
            in_channels,
            out_channels,
            g,
            &[kernel_size, options.stride, options.dilation],
        )?;
        let bound = default_bound(in_channels / g * kernel_size);
        let weight = uniform_parameter(&[out_channels, in_channels / g, kernel_size], bound);
        let bias = options
            .bias
            .then(|| uniform_parameter(&[out_channels], bound));
        Ok(Conv1d {
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

    /// The kernel size.
    pub fn kernel_size(&self) -> usize {
        self.kernel_size
    }

    /// Stride, padding, dilation, groups and bias.
    pub fn options(&self) -> Conv1dOptions {
        self.options
    }

    /// The weight, `[C_out, C_in / groups, k]`.
    pub fn weight(&self) -> &Variable {
        &self.weight
    }

    /// The bias, `[C_out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Variable> {
        self.bias.as_ref()
    }
}

impl Module for Conv1d {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        check_channels("Conv1d", x, 1, self.in_channels)?;
        let o = &self.options;
        Ok(x.conv1d(
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

impl ConvTranspose2dOptions {
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

    /// Sets the same output padding on both dims.
    pub fn output_padding(mut self, p: usize) -> Self {
        self.output_padding = [p, p];
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

/// 2-d transposed convolution (`torch.nn.ConvTranspose2d`) over
/// `[N, C_in, H, W]` (or `[C_in, H, W]`): `weight`
/// `[C_in, C_out / groups, kH, kW]`, `bias` `[C_out]`, both from
/// `U(-1/√fan_in, 1/√fan_in)` where, as in PyTorch, `fan_in` is computed
/// from the weight's dim 1: `C_out / groups · kH · kW`. The output size is
/// `(H - 1)·stride - 2·padding + dilation·(kH - 1) + output_padding + 1`.
pub struct ConvTranspose2d {
    in_channels: usize,
    out_channels: usize,
    kernel_size: [usize; 2],
    options: ConvTranspose2dOptions,
    weight: Variable,
    bias: Option<Variable>,
}

impl ConvTranspose2d {
    /// A square `kernel_size` transposed convolution with default options.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
    ) -> Result<ConvTranspose2d> {
        ConvTranspose2d::with_options(
            in_channels,
            out_channels,
            [kernel_size; 2],
            ConvTranspose2dOptions::default(),
        )
    }

    /// A transposed convolution with explicit options.
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: [usize; 2],
        options: ConvTranspose2dOptions,
    ) -> Result<ConvTranspose2d> {
        let g = options.groups;
        let o = &options;
        check_config(
            "ConvTranspose2d",
            in_channels,
            out_channels,
            g,
            &[
                kernel_size[0],
                kernel_size[1],
                o.stride[0],
                o.stride[1],
                o.dilation[0],
                o.dilation[1],
            ],
        )?;
        for d in 0..2 {
            if o.output_padding[d] >= o.stride[d] && o.output_padding[d] >= o.dilation[d] {
                return Err(NnError::config(
                    "ConvTranspose2d",
                    format!(
                        "output_padding must be smaller than either stride or dilation, got output_padding {:?}, stride {:?}, dilation {:?}",
                        o.output_padding, o.stride, o.dilation
                    ),
                ));
            }
        }
        let bound = default_bound(out_channels / g * kernel_size[0] * kernel_size[1]);
        let weight = uniform_parameter(
            &[
                in_channels,
                out_channels / g,
                kernel_size[0],
                kernel_size[1],
            ],
            bound,
        );
        let bias = options
            .bias
            .then(|| uniform_parameter(&[out_channels], bound));
        Ok(ConvTranspose2d {
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

    /// Stride, padding, output padding, dilation, groups and bias.
    pub fn options(&self) -> ConvTranspose2dOptions {
        self.options
    }

    /// The weight, `[C_in, C_out / groups, kH, kW]`.
    pub fn weight(&self) -> &Variable {
        &self.weight
    }

    /// The bias, `[C_out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Variable> {
        self.bias.as_ref()
    }
}

impl Module for ConvTranspose2d {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        check_channels("ConvTranspose2d", x, 2, self.in_channels)?;
        let o = &self.options;
        Ok(x.conv_transpose2d(
            &self.weight,
            self.bias.as_ref(),
            o.stride,
            o.padding,
            o.output_padding,
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
