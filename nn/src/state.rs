//! State dicts: loading them into modules and reading/writing them as
//! safetensors files.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use torchlet_tensor::{io, DType, Tensor};

use crate::error::{NnError, Result};
use crate::module::Module;

/// A tensor of the state dict whose shape or dtype differs from the
/// module's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The dotted name.
    pub key: String,
    /// The module's shape.
    pub expected_shape: Vec<usize>,
    /// The state dict's shape.
    pub got_shape: Vec<usize>,
    /// The module's dtype.
    pub expected_dtype: DType,
    /// The state dict's dtype.
    pub got_dtype: DType,
}

/// What a state-dict load found besides the matching tensors
/// (PyTorch's `missing_keys` / `unexpected_keys`, plus mismatches).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Module keys absent from the state dict (left unchanged).
    pub missing_keys: Vec<String>,
    /// State-dict keys the module does not have (ignored).
    pub unexpected_keys: Vec<String>,
    /// Keys present in both with a different shape or dtype (left
    /// unchanged).
    pub mismatched: Vec<Mismatch>,
}

impl LoadReport {
    /// Whether every key matched.
    pub fn is_clean(&self) -> bool {
        self.missing_keys.is_empty()
            && self.unexpected_keys.is_empty()
            && self.mismatched.is_empty()
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.missing_keys.is_empty() {
            parts.push(format!("missing key(s): {}", self.missing_keys.join(", ")));
        }
        if !self.unexpected_keys.is_empty() {
            parts.push(format!(
                "unexpected key(s): {}",
                self.unexpected_keys.join(", ")
            ));
        }
        for m in &self.mismatched {
            parts.push(format!(
                "mismatch for {}: the module has shape {:?} ({}), the state dict has shape {:?} ({})",
                m.key, m.expected_shape, m.expected_dtype, m.got_shape, m.got_dtype
            ));
        }
        if parts.is_empty() {
            write!(f, "all keys matched")
        } else {
            write!(f, "{}", parts.join("; "))
        }
    }
}

/// Copies the tensors of `dict` into the module's parameters and buffers
/// by dotted name.
///
/// With `strict`, any missing key, unexpected key or shape/dtype mismatch
/// is an [`NnError::StateDict`] naming the keys, and nothing is loaded.
/// Without it, the matching tensors are loaded and the rest is returned in
/// the [`LoadReport`].
pub fn load_state_dict<M: Module + ?Sized>(
    module: &M,
    dict: &BTreeMap<String, Tensor>,
    strict: bool,
) -> Result<LoadReport> {
    let targets: Vec<_> = module
        .named_parameters()
        .into_iter()
        .chain(module.named_buffers())
        .collect();
    let mut report = LoadReport::default();
    let mut loads = Vec::new();
    for (key, var) in &targets {
        match dict.get(key) {
            None => report.missing_keys.push(key.clone()),
            Some(t) => {
                let (shape, dtype) = (var.shape(), var.dtype());
                if t.shape() != shape || t.dtype() != dtype {
                    report.mismatched.push(Mismatch {
                        key: key.clone(),
                        expected_shape: shape,
                        got_shape: t.shape().to_vec(),
                        expected_dtype: dtype,
                        got_dtype: t.dtype(),
                    });
                } else {
                    loads.push((var, t));
                }
            }
        }
    }
    for key in dict.keys() {
        if !targets.iter().any(|(k, _)| k == key) {
            report.unexpected_keys.push(key.clone());
        }
    }
    if strict && !report.is_clean() {
        return Err(NnError::StateDict(report));
    }
    for (var, t) in loads {
        var.set_data(t.contiguous())?;
    }
    Ok(report)
}

/// A safetensors error from the tensor layer as this crate's.
fn st_error(e: torchlet_tensor::TensorError) -> NnError {
    match e {
        torchlet_tensor::TensorError::InvalidArgument { message, .. } => {
            NnError::Safetensors(message)
        }
        other => NnError::Tensor(other),
    }
}

/// Serializes named tensors to safetensors bytes.
pub fn to_safetensors_bytes(dict: &BTreeMap<String, Tensor>) -> Result<Vec<u8>> {
    io::to_safetensors_bytes(dict, None).map_err(st_error)
}

/// Parses safetensors bytes into named tensors (F32, F64, I64 and BOOL).
pub fn from_safetensors_bytes(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>> {
    Ok(io::from_safetensors_bytes(bytes).map_err(st_error)?.0)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> NnError + '_ {
    move |source| NnError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes named tensors to a safetensors file: the bytes go to a temporary
/// file next to `path`, which is then renamed over it, so a crash never
/// leaves a half-written checkpoint.
pub fn write_safetensors(dict: &BTreeMap<String, Tensor>, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = to_safetensors_bytes(dict)?;
    io::write_atomic(path, &bytes).map_err(io_error(path))
}

/// Reads all tensors of a safetensors file.
pub fn read_safetensors(path: impl AsRef<Path>) -> Result<BTreeMap<String, Tensor>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    from_safetensors_bytes(&bytes).map_err(|e| match e {
        NnError::Safetensors(m) => NnError::Safetensors(format!("{}: {m}", path.display())),
        e => e,
    })
}

/// Writes the module's [`state_dict`](Module::state_dict) to a safetensors
/// file (see [`write_safetensors`]); PyTorch's `safetensors.torch.load_file`
/// reads it.
pub fn save_safetensors<M: Module + ?Sized>(module: &M, path: impl AsRef<Path>) -> Result<()> {
    write_safetensors(&module.state_dict(), path)
}

/// Reads a safetensors file and loads it into the module (see
/// [`load_state_dict`] for `strict`).
pub fn load_safetensors<M: Module + ?Sized>(
    module: &M,
    path: impl AsRef<Path>,
    strict: bool,
) -> Result<LoadReport> {
    load_state_dict(module, &read_safetensors(path)?, strict)
}
