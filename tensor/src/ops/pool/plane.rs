//! Max pooling of one block a kernel has just made (a convolution's
//! sample): [`PlanePool`], over a [`MaxPool2dWindow`].

use super::{max_plane, pool_geometry, Pool2d};
use crate::dtype::Float;
use crate::error::Result;

/// A max pooling window (`kernel`, `stride`, `padding`, no dilation,
/// floor mode), for kernels that pool a result they just made (see
/// [`Tensor::conv2d_then_max_pool2d`](crate::Tensor::conv2d_then_max_pool2d)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2dWindow {
    /// Window size `[kH, kW]`.
    pub kernel: [usize; 2],
    /// Step `[sH, sW]`.
    pub stride: [usize; 2],
    /// Implicit `-inf` padding `[pH, pW]`.
    pub padding: [usize; 2],
}

/// [`MaxPool2dWindow`] over one `[planes, H, W]` block: the same kernel as
/// [`Tensor::max_pool2d`](crate::Tensor::max_pool2d), plane by plane.
pub(crate) struct PlanePool {
    g: Pool2d,
}

impl PlanePool {
    /// The pooling of blocks of shape `block` (`[C, H, W]`).
    pub(crate) fn new(op: &'static str, block: &[usize], w: MaxPool2dWindow) -> Result<PlanePool> {
        let g = pool_geometry(op, block, w.kernel, w.stride, w.padding, [1, 1], false)?;
        Ok(PlanePool { g })
    }

    /// The pooled block's `[H_out, W_out]`.
    pub(crate) fn out_hw(&self) -> [usize; 2] {
        [self.g.oh, self.g.ow]
    }

    /// Elements of a pooled block.
    pub(crate) fn out_len(&self) -> usize {
        self.g.planes * self.g.ohw()
    }

    /// Pools `x` (one block) into `out`.
    pub(crate) fn run<T: Float>(&self, x: &[T], out: &mut [T]) {
        let (hw, ohw) = (self.g.hw(), self.g.ohw());
        for p in 0..self.g.planes {
            max_plane(
                &self.g,
                &x[p * hw..(p + 1) * hw],
                &mut out[p * ohw..(p + 1) * ohw],
                None,
            );
        }
    }
}
