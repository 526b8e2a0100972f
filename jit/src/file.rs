//! Script files: [`ScriptModule::save`] and [`load`].
//!
//! One file holds a header, the graph (serde + bincode 2) and the
//! constants (safetensors, under the graph's constant names):
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `TLJIT\0\r\n` (a text-mode copy breaks it visibly) |
//! | 4 | format version, little-endian u32 ([`FORMAT_VERSION`]) |
//! | 8 | graph length in bytes, LE u64 |
//! | 8 | constants length in bytes, LE u64 |
//! | 8 | FNV-1a 64 of the graph and constants bytes, LE u64 |
//! | … | the graph, then the constants |
//!
//! Loading checks each part before using it: a short file, a foreign or
//! newer one, a bad checksum, a graph that does not decode (an op this
//! build does not know) or does not fit its constants is an error naming
//! the file and what is wrong.

use std::collections::BTreeMap;
use std::path::Path;

use torchlet_tensor::io::{from_safetensors_bytes, to_safetensors_bytes, write_atomic};

use crate::graph::Graph;
use crate::{JitError, Result, ScriptModule};

/// The first bytes of every script file.
pub const MAGIC: &[u8; 8] = b"TLJIT\0\r\n";

/// The version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const HEADER: usize = 8 + 4 + 8 + 8 + 8;

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in parts.iter().flat_map(|p| p.iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl ScriptModule {
    /// The script as one file's bytes (see the module docs).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let graph = bincode::serde::encode_to_vec(self.graph(), bincode::config::standard())
            .map_err(|e| JitError::File {
                path: "<bytes>".into(),
                why: format!("the graph does not encode: {e}"),
            })?;
        let tensors: BTreeMap<String, _> = self
            .constants()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect();
        let weights = to_safetensors_bytes(&tensors, None)?;
        let mut out = Vec::with_capacity(HEADER + graph.len() + weights.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(graph.len() as u64).to_le_bytes());
        out.extend_from_slice(&(weights.len() as u64).to_le_bytes());
        out.extend_from_slice(&fnv1a(&[&graph, &weights]).to_le_bytes());
        out.extend_from_slice(&graph);
        out.extend_from_slice(&weights);
        Ok(out)
    }

    /// Writes the script to `path` (`torch.jit.save`), through a
    /// temporary file renamed into place, so a failed write leaves no
    /// half file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        write_atomic(path, &bytes).map_err(|source| JitError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// A script from bytes [`to_bytes`](ScriptModule::to_bytes) wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<ScriptModule> {
        parse(bytes, "<bytes>")
    }
}

/// Reads a script file (`torch.jit.load`): the model runs from it alone.
///
/// ```
/// use torchlet_nn::{Linear, Module};
/// use torchlet_tensor::Tensor;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let model = Linear::new(3, 2)?;
/// let x = Tensor::rand(&[4, 3]);
/// let script = torchlet_jit::trace(&model, &[x.clone()])?;
/// let dir = tempfile::tempdir()?;
/// script.save(dir.path().join("model.tlj"))?;
/// let back = torchlet_jit::load(dir.path().join("model.tlj"))?;
/// assert_eq!(back.forward(&[x.clone()])?[0].to_vec::<f32>()?, script.forward(&[x])?[0].to_vec::<f32>()?);
/// # Ok(())
/// # }
/// ```
pub fn load(path: impl AsRef<Path>) -> Result<ScriptModule> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| JitError::Io {
        path: name.clone(),
        source,
    })?;
    parse(&bytes, &name)
}

fn parse(bytes: &[u8], path: &str) -> Result<ScriptModule> {
    let bad = |why: String| JitError::File {
        path: path.to_string(),
        why,
    };
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(bad("not a torchlet script file (no TLJIT header)".into()));
    }
    if bytes.len() < HEADER {
        return Err(bad(format!(
            "truncated: {} bytes, shorter than the {HEADER}-byte header",
            bytes.len()
        )));
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(bad(format!(
            "format version {version}; this build reads version {FORMAT_VERSION}"
        )));
    }
    let (graph_len, weights_len, sum) = (word(12), word(20), word(28));
    let body = &bytes[HEADER..];
    let want = graph_len.checked_add(weights_len);
    if want != Some(body.len() as u64) {
        return Err(bad(format!(
            "truncated or padded: the header announces {graph_len} + {weights_len} bytes, the file holds {}",
            body.len()
        )));
    }
    let (graph, weights) = body.split_at(graph_len as usize);
    if fnv1a(&[graph, weights]) != sum {
        return Err(bad("corrupted: the checksum does not match".into()));
    }
    // The limit keeps a damaged length prefix from asking for a huge
    // allocation before the bytes run out.
    let config = bincode::config::standard().with_limit::<{ 1 << 28 }>();
    let (graph, used): (Graph, usize) =
        bincode::serde::decode_from_slice(graph, config).map_err(|e| {
            bad(format!(
                "the graph does not decode (an op this build does not know?): {e}"
            ))
        })?;
    if used != graph_len as usize {
        return Err(bad(format!(
            "the graph ends after {used} of its {graph_len} bytes"
        )));
    }
    let (mut tensors, _) = from_safetensors_bytes(weights)
        .map_err(|e| bad(format!("the constants do not parse: {e}")))?;
    let constants = graph
        .constants
        .iter()
        .map(|name| {
            tensors
                .remove(name)
                .ok_or_else(|| bad(format!("the constant {name} is missing")))
        })
        .collect::<Result<Vec<_>>>()?;
    ScriptModule::from_parts(graph, constants).map_err(|e| match e {
        JitError::File { why, .. } => bad(why),
        other => other,
    })
}
