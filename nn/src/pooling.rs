//! Pooling layers (`torch.nn.modules.pooling`): [`MaxPool2d`],
//! [`AvgPool2d`] and [`AdaptiveAvgPool2d`].

use crate::size::{pair, Size2};
use torchlet_autograd::Variable;

use crate::conv::check_spatial_input;
use crate::error::Result;
use crate::module::Module;

/// 2-d max pooling (`torch.nn.MaxPool2d`) over `[N, C, H, W]` or
/// `[C, H, W]`; stride defaults to the kernel size, padding to 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2d {
    /// Window size `[kH, kW]`.
    pub kernel_size: [usize; 2],
    /// Step of the window.
    pub stride: [usize; 2],
    /// Implicit `-inf` padding on both sides (at most half the kernel).
    pub padding: [usize; 2],
}

impl MaxPool2d {
    /// A window of `kernel_size` (one number or `[kH, kW]`) with stride
    /// `kernel_size` (`MaxPool2d(k)`).
    pub fn new(kernel_size: impl Into<Size2>) -> MaxPool2d {
        let k = pair(kernel_size);
        MaxPool2d::with_stride(k, k, 0)
    }

    /// Window, stride and padding (`MaxPool2d(k, stride, padding)`), each
    /// one number or a pair.
    pub fn with_stride(
        kernel_size: impl Into<Size2>,
        stride: impl Into<Size2>,
        padding: impl Into<Size2>,
    ) -> MaxPool2d {
        MaxPool2d {
            kernel_size: pair(kernel_size),
            stride: pair(stride),
            padding: pair(padding),
        }
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        check_spatial_input("MaxPool2d", x, 2, None)?;
        Ok(x.max_pool2d(self.kernel_size, self.stride, self.padding)?)
    }
}

/// 2-d average pooling (`torch.nn.AvgPool2d`) over `[N, C, H, W]` or
/// `[C, H, W]`; stride defaults to the kernel size, padding to 0, and zero
/// padding counts towards the average (`count_include_pad=True`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvgPool2d {
    /// Window size `[kH, kW]`.
    pub kernel_size: [usize; 2],
    /// Step of the window.
    pub stride: [usize; 2],
    /// Implicit zero padding on both sides.
    pub padding: [usize; 2],
}

impl AvgPool2d {
    /// A window of `kernel_size` (one number or `[kH, kW]`) with stride
    /// `kernel_size` (`AvgPool2d(k)`).
    pub fn new(kernel_size: impl Into<Size2>) -> AvgPool2d {
        let k = pair(kernel_size);
        AvgPool2d::with_stride(k, k, 0)
    }

    /// Window, stride and padding (`AvgPool2d(k, stride, padding)`), each
    /// one number or a pair.
    pub fn with_stride(
        kernel_size: impl Into<Size2>,
        stride: impl Into<Size2>,
        padding: impl Into<Size2>,
    ) -> AvgPool2d {
        AvgPool2d {
            kernel_size: pair(kernel_size),
            stride: pair(stride),
            padding: pair(padding),
        }
    }
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        check_spatial_input("AvgPool2d", x, 2, None)?;
        Ok(x.avg_pool2d(self.kernel_size, self.stride, self.padding)?)
    }
}

/// Adaptive 2-d average pooling to a fixed `[H_out, W_out]`
/// (`torch.nn.AdaptiveAvgPool2d`); window `i` spans
/// `floor(i·H/H_out)..ceil((i+1)·H/H_out)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptiveAvgPool2d {
    /// The output size `[H_out, W_out]`.
    pub output_size: [usize; 2],
}

impl AdaptiveAvgPool2d {
    /// `AdaptiveAvgPool2d((h, w))`; `AdaptiveAvgPool2d::new([1, 1])` is global
    /// average pooling.
    pub fn new(output_size: impl Into<Size2>) -> AdaptiveAvgPool2d {
        AdaptiveAvgPool2d {
            output_size: pair(output_size),
        }
    }
}

impl Module for AdaptiveAvgPool2d {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        check_spatial_input("AdaptiveAvgPool2d", x, 2, None)?;
        Ok(x.adaptive_avg_pool2d(self.output_size)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torchlet_tensor::Tensor;

    #[test]
    fn pools() {
        let x: Vec<f32> = (0..16).map(|i| i as f32).collect();
        let x = Variable::parameter(Tensor::from_vec(x, &[1, 1, 4, 4]).unwrap());
        let y = AvgPool2d::new(2).forward(&x).unwrap();
        assert_eq!(y.shape(), [1, 1, 2, 2]);
        assert_eq!(y.data().to_vec::<f32>().unwrap(), [2.5, 4.5, 10.5, 12.5]);
        let y = AvgPool2d::with_stride(2, 2, 1).forward(&x).unwrap();
        assert_eq!(y.shape(), [1, 1, 3, 3]);
        assert_eq!(y.data().to_vec::<f32>().unwrap()[0], 0.0);

        let g = AdaptiveAvgPool2d::new([1, 1]).forward(&x).unwrap();
        assert_eq!(g.data().to_vec::<f32>().unwrap(), [7.5]);
        let a = AdaptiveAvgPool2d::new([2, 2]).forward(&x).unwrap();
        assert_eq!(a.data().to_vec::<f32>().unwrap(), [2.5, 4.5, 10.5, 12.5]);
        g.sum().backward().unwrap();
        let grad = x.grad().unwrap().to_vec::<f32>().unwrap();
        assert!(grad.iter().all(|&v| (v - 1.0 / 16.0).abs() < 1e-7));
        let bad = Variable::constant(Tensor::zeros(&[4, 4]));
        assert!(AvgPool2d::new(2).forward(&bad).is_err());
    }
}
