//! [`Size2`]: a 2-d size given as one number or a pair, as PyTorch's
//! `kernel_size=3` or `kernel_size=(3, 5)`.

/// A 2-d size (kernel, stride, padding, dilation, output size): `3`,
/// `[3, 5]` or `(3, 5)` wherever a layer takes one, as PyTorch's
/// `_size_2_t`. A single number means the same value on both dims.
///
/// ```
/// use torchlet_nn::{Conv2d, Conv2dOptions, MaxPool2d};
/// let a = Conv2d::new(1, 8, 3).unwrap();
/// let b = Conv2d::new(1, 8, [3, 5]).unwrap();
/// let c = Conv2d::with_options(1, 8, (3, 5), Conv2dOptions::default().padding([1, 2])).unwrap();
/// assert_eq!((a.kernel_size(), b.kernel_size(), c.kernel_size()), ([3, 3], [3, 5], [3, 5]));
/// assert_eq!(MaxPool2d::new([2, 1]).kernel_size, [2, 1]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size2(pub [usize; 2]);

impl From<usize> for Size2 {
    fn from(n: usize) -> Size2 {
        Size2([n, n])
    }
}

impl From<[usize; 2]> for Size2 {
    fn from(pair: [usize; 2]) -> Size2 {
        Size2(pair)
    }
}

impl From<(usize, usize)> for Size2 {
    fn from((h, w): (usize, usize)) -> Size2 {
        Size2([h, w])
    }
}

/// The pair behind any [`Size2`] argument.
pub(crate) fn pair(size: impl Into<Size2>) -> [usize; 2] {
    size.into().0
}
