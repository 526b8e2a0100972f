//! [`Error`]: one error type over every torchlet crate, so application
//! code and `main` can use `?` on any call and return `torchlet::Result`.

/// Any error a torchlet crate returns, wrapping the crate's own error
/// (its message unchanged). Each crate's error converts with `?`, as does
/// `std::io::Error`; match a variant to handle one crate's errors.
///
/// ```
/// use torchlet::prelude::*;
///
/// fn run() -> Result<f32> {
///     let x = Tensor::ones(&[2, 3]);
///     let y = x.matmul(&Tensor::ones(&[3, 1]))?; // a TensorError
///     let w = Variable::parameter(y);
///     Ok(w.sum().item::<f32>()?) // an AutogradError
/// }
/// assert_eq!(run().unwrap(), 6.0);
/// let err: Error = Tensor::ones(&[2]).matmul(&Tensor::ones(&[3])).unwrap_err().into();
/// assert!(err.to_string().contains("matmul"), "{err}");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From torchlet-tensor.
    #[cfg(feature = "tensor")]
    #[error(transparent)]
    Tensor(#[from] torchlet_tensor::TensorError),
    /// From torchlet-autograd.
    #[cfg(feature = "autograd")]
    #[error(transparent)]
    Autograd(#[from] torchlet_autograd::AutogradError),
    /// From torchlet-nn.
    #[cfg(feature = "nn")]
    #[error(transparent)]
    Nn(#[from] torchlet_nn::NnError),
    /// From torchlet-optim.
    #[cfg(feature = "optim")]
    #[error(transparent)]
    Optim(#[from] torchlet_optim::OptimError),
    /// From torchlet-data.
    #[cfg(feature = "data")]
    #[error(transparent)]
    Data(#[from] torchlet_data::DataError),
    /// From torchlet-vision.
    #[cfg(feature = "vision")]
    #[error(transparent)]
    Vision(#[from] torchlet_vision::VisionError),
    /// From torchlet-text.
    #[cfg(feature = "text")]
    #[error(transparent)]
    Text(#[from] torchlet_text::TextError),
    /// From torchlet-train.
    #[cfg(feature = "train")]
    #[error(transparent)]
    Train(#[from] torchlet_train::TrainError),
    /// From torchlet-onnx.
    #[cfg(feature = "onnx")]
    #[error(transparent)]
    Onnx(#[from] torchlet_onnx::OnnxError),
    /// From torchlet-sparse.
    #[cfg(feature = "sparse")]
    #[error(transparent)]
    Sparse(#[from] torchlet_sparse::SparseError),
    /// From torchlet-graph.
    #[cfg(feature = "graph")]
    #[error(transparent)]
    Graph(#[from] torchlet_graph::GraphError),
    /// From torchlet-quantize.
    #[cfg(feature = "quantize")]
    #[error(transparent)]
    Quantize(#[from] torchlet_quantize::QuantError),
    /// From torchlet-jit.
    #[cfg(feature = "jit")]
    #[error(transparent)]
    Jit(#[from] torchlet_jit::JitError),
    /// From torchlet-distributed.
    #[cfg(feature = "distributed")]
    #[error(transparent)]
    Distributed(#[from] torchlet_distributed::DistError),
    /// Reading or writing a file or stream.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// `Result` with [`Error`] as the default error type (another error type
/// can still be named: `Result<T, MyError>`).
pub type Result<T, E = Error> = std::result::Result<T, E>;
