//! The jit's errors: each names what failed (the op, the input, the file)
//! and the offending value.

use torchlet_autograd::AutogradError;
use torchlet_tensor::TensorError;

/// What went wrong in tracing, running, saving or loading a script.
#[derive(Debug, thiserror::Error)]
pub enum JitError {
    /// The model could not be traced into a graph.
    #[error("jit::trace: {0}")]
    Trace(String),
    /// A call's inputs do not fit the traced signature.
    #[error("ScriptModule::forward: {0}")]
    Input(String),
    /// An op of the graph failed while running.
    #[error("{op} (node {node}): {source}")]
    Op {
        /// The op's name (`aten::linear`).
        op: String,
        /// Its position in the graph.
        node: usize,
        /// What the kernel said.
        #[source]
        source: AutogradError,
    },
    /// A script file is unreadable: truncated, corrupted, of an unknown
    /// version, or holding an op this build does not know.
    #[error("{path}: {why}")]
    File {
        /// The file (or `<bytes>`).
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// A tensor-level failure outside any op (serializing weights).
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

/// The jit's result type.
pub type Result<T> = std::result::Result<T, JitError>;
