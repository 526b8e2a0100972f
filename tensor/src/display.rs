//! PyTorch-style printing (placeholder: replaced by the full formatter).

use crate::tensor::Tensor;

impl std::fmt::Display for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tensor(shape={:?}, dtype={})", self.shape(), self.dtype())
    }
}
