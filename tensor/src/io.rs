//! Files: crash-safe writes ([`write_atomic`]) and the safetensors format
//! ([`to_safetensors_bytes`], [`from_safetensors_bytes`]), shared by the
//! crates that save state dicts, optimizer states, vocabularies, run
//! configs and exported models.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use crate::error::{Result, TensorError};
use crate::{DType, Tensor};

/// Writes `bytes` to `path` so that readers never see a half-written
/// file: to a temporary file in the same folder (unique per process and
/// call), synced, then renamed over `path`. On failure the temporary file
/// is removed and `path` is left as it was.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let dir = std::env::temp_dir().join(format!("torchlet-io-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// torchlet_tensor::io::write_atomic(&dir.join("a.txt"), b"hello")?;
/// assert_eq!(std::fs::read(dir.join("a.txt"))?, b"hello");
/// # std::fs::remove_dir_all(&dir)
/// # }
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let Some(name) = path.file_name() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file path",
        ));
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    tmp_name.push(format!(".tmp{}-{n}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn st_dtype(dtype: DType) -> Dtype {
    match dtype {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::I64 => Dtype::I64,
        DType::Bool => Dtype::BOOL,
    }
}

/// The little-endian bytes of `t`'s values in row-major order (bools as
/// one byte, 0 or 1): the raw data of safetensors and ONNX tensors.
pub fn le_bytes(t: &Tensor) -> Result<Vec<u8>> {
    Ok(match t.dtype() {
        DType::F32 => t
            .to_vec::<f32>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::F64 => t
            .to_vec::<f64>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::I64 => t
            .to_vec::<i64>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::Bool => t.to_vec::<bool>()?.iter().map(|&v| u8::from(v)).collect(),
    })
}

fn from_view(name: &str, view: &TensorView<'_>) -> Result<Tensor> {
    fn values<const N: usize, T>(data: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
        data.chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunks of N bytes")))
            .collect()
    }
    let (data, shape) = (view.data(), view.shape());
    match view.dtype() {
        Dtype::F32 => Tensor::from_vec(values(data, f32::from_le_bytes), shape),
        Dtype::F64 => Tensor::from_vec(values(data, f64::from_le_bytes), shape),
        Dtype::I64 => Tensor::from_vec(values(data, i64::from_le_bytes), shape),
        Dtype::BOOL => Tensor::from_vec(data.iter().map(|&b| b != 0).collect::<Vec<_>>(), shape),
        other => Err(TensorError::invalid(
            "safetensors",
            format!(
                "tensor {name}: dtype {other} is not supported (expected F32, F64, I64 or BOOL)"
            ),
        )),
    }
}

/// Named tensors, in name order.
pub type TensorMap = BTreeMap<String, Tensor>;

/// The string metadata of a safetensors header.
pub type Metadata = HashMap<String, String>;

/// Serializes named tensors (and optional string metadata) in the
/// safetensors format: PyTorch's `safetensors.torch.save` reads the result.
///
/// ```
/// use std::collections::BTreeMap;
/// use torchlet_tensor::{io, Tensor};
/// # fn main() -> torchlet_tensor::Result<()> {
/// let dict = BTreeMap::from([("w".to_string(), Tensor::from_vec(vec![1.0f32, 2.0], &[2])?)]);
/// let bytes = io::to_safetensors_bytes(&dict, None)?;
/// let (back, metadata) = io::from_safetensors_bytes(&bytes)?;
/// assert_eq!(back["w"].to_vec::<f32>()?, [1.0, 2.0]);
/// assert!(metadata.is_none());
/// # Ok(())
/// # }
/// ```
pub fn to_safetensors_bytes(tensors: &TensorMap, metadata: Option<Metadata>) -> Result<Vec<u8>> {
    let owned = tensors
        .iter()
        .map(|(name, t)| Ok((name.as_str(), t.shape().to_vec(), t.dtype(), le_bytes(t)?)))
        .collect::<Result<Vec<_>>>()?;
    let views = owned
        .iter()
        .map(|(name, shape, dtype, bytes)| {
            TensorView::new(st_dtype(*dtype), shape.clone(), bytes)
                .map(|v| (*name, v))
                .map_err(|e| TensorError::invalid("safetensors", format!("tensor {name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, metadata)
        .map_err(|e| TensorError::invalid("safetensors", e.to_string()))
}

/// Parses safetensors bytes into named tensors (F32, F64, I64 and BOOL)
/// and the header's metadata. A malformed file or another dtype is an
/// error; nothing is allocated from an unchecked header.
pub fn from_safetensors_bytes(bytes: &[u8]) -> Result<(TensorMap, Option<Metadata>)> {
    let bad = |e: safetensors::SafeTensorError| TensorError::invalid("safetensors", e.to_string());
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(bad)?;
    let metadata = header.metadata().clone();
    if metadata
        .as_ref()
        .and_then(|m| m.get("format"))
        .map(String::as_str)
        == Some("torchlet-quantized")
    {
        return Err(TensorError::invalid(
            "safetensors",
            "this file is a quantized state dict (int8 weights, written by torchlet-quantize): load it with torchlet_quantize::load_quantized, not into a float model",
        ));
    }
    let st = SafeTensors::deserialize(bytes).map_err(bad)?;
    let tensors = st
        .iter()
        .map(|(name, view)| Ok((name.to_string(), from_view(name, &view)?)))
        .collect::<Result<BTreeMap<_, _>>>()?;
    Ok((tensors, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dtype_and_the_metadata_round_trip() {
        let dict = BTreeMap::from([
            (
                "a".to_string(),
                Tensor::from_vec(vec![1.5f32, -2.0], &[2, 1]).unwrap(),
            ),
            (
                "b".to_string(),
                Tensor::from_vec(vec![0.1f64], &[1]).unwrap(),
            ),
            (
                "c".to_string(),
                Tensor::from_vec(vec![7i64, -9, 3], &[3]).unwrap(),
            ),
            (
                "d".to_string(),
                Tensor::from_vec(vec![true, false], &[2]).unwrap(),
            ),
        ]);
        let meta = HashMap::from([("k".to_string(), "v".to_string())]);
        let bytes = to_safetensors_bytes(&dict, Some(meta.clone())).unwrap();
        let (back, got_meta) = from_safetensors_bytes(&bytes).unwrap();
        assert_eq!(got_meta, Some(meta));
        for (name, t) in &dict {
            assert_eq!(back[name].shape(), t.shape(), "{name}");
            assert_eq!(back[name].dtype(), t.dtype(), "{name}");
        }
        assert_eq!(back["a"].to_vec::<f32>().unwrap(), [1.5, -2.0]);
        assert_eq!(back["b"].to_vec::<f64>().unwrap(), [0.1]);
        assert_eq!(back["c"].to_vec::<i64>().unwrap(), [7, -9, 3]);
        assert_eq!(back["d"].to_vec::<bool>().unwrap(), [true, false]);
    }

    #[test]
    fn truncated_bytes_are_an_error() {
        let dict = BTreeMap::from([("a".to_string(), Tensor::ones(&[4]))]);
        let bytes = to_safetensors_bytes(&dict, None).unwrap();
        for cut in [0, 4, 8, bytes.len() - 1] {
            let err = from_safetensors_bytes(&bytes[..cut]).unwrap_err();
            assert!(err.to_string().contains("safetensors"), "{err}");
        }
    }

    #[test]
    fn atomic_writes_replace_and_leave_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("torchlet-io-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.bin");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["x.bin"]);
        // A missing folder fails and creates nothing.
        assert!(write_atomic(&dir.join("no/such/dir/y.bin"), b"z").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
