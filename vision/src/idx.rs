//! Readers for the IDX format of MNIST and Fashion-MNIST.
//!
//! An IDX file is a big-endian header — the magic number `0x0000TTNN`
//! (`TT` the element type, `08` for unsigned bytes; `NN` the number of
//! dimensions), then one `u32` per dimension — followed by the elements in
//! row-major order. MNIST's image files have magic `0x00000803`
//! (`[N, rows, cols]` bytes) and its label files `0x00000801` (`[N]`
//! bytes). Files may be gzip-compressed; the reader recognises the gzip
//! magic (`1f 8b`) and decompresses on the fly.
//!
//! The header's claimed size is checked against the bytes actually present
//! before anything is allocated for it, so a corrupt header (say, one
//! claiming 10⁹ images) gives an error, not an out-of-memory abort.

use std::fs;
use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use crate::error::{Result, VisionError};

/// The magic number of an IDX file of unsigned-byte images `[N, rows, cols]`.
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// The magic number of an IDX file of unsigned-byte labels `[N]`.
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// The IDX element-type code of unsigned bytes, the only type MNIST uses.
const IDX_U8: u8 = 0x08;

/// A decoded IDX array of unsigned bytes: its dimensions and its elements
/// in row-major order (`data.len()` is the product of `dims`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions from the header (`[N, rows, cols]` for images).
    pub dims: Vec<usize>,
    /// The elements, row-major.
    pub data: Vec<u8>,
}

/// A decoded IDX image file: `count` images of `rows × cols` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// The number of images `N`.
    pub count: usize,
    /// The height of each image.
    pub rows: usize,
    /// The width of each image.
    pub cols: usize,
    /// `N · rows · cols` pixels, image after image, row-major (0 = black
    /// background in MNIST, 255 = ink).
    pub pixels: Vec<u8>,
}

/// Reads an IDX file of any unsigned-byte array (raw or gzip).
///
/// Errors name the file and the problem: unreadable file, gzip corruption,
/// an element type other than unsigned bytes, a truncated header or data,
/// or bytes left over after the data the header declares.
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| VisionError::io(path, e))?;
    parse_idx(&bytes, &path.display().to_string())
}

/// Parses IDX bytes (raw or gzip); `source` names them in errors (a path,
/// or `embedded:...`).
pub fn parse_idx(bytes: &[u8], source: &str) -> Result<IdxArray> {
    decode(bytes, source, None)
}

/// Reads an IDX image file (magic `0x00000803`, raw or gzip), e.g.
/// `train-images-idx3-ubyte.gz`.
///
/// ```no_run
/// let images = torchlet_vision::idx::read_idx_images("data/train-images-idx3-ubyte.gz")?;
/// assert_eq!((images.rows, images.cols), (28, 28));
/// # Ok::<(), torchlet_vision::VisionError>(())
/// ```
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<IdxImages> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| VisionError::io(path, e))?;
    parse_idx_images(&bytes, &path.display().to_string())
}

/// Parses the bytes of an IDX image file (raw or gzip); `source` names
/// them in errors.
pub fn parse_idx_images(bytes: &[u8], source: &str) -> Result<IdxImages> {
    let IdxArray { dims, data } = decode(bytes, source, Some(IDX_IMAGES_MAGIC))?;
    Ok(IdxImages {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels: data,
    })
}

/// Reads an IDX label file (magic `0x00000801`, raw or gzip), e.g.
/// `train-labels-idx1-ubyte.gz`: one byte per sample.
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| VisionError::io(path, e))?;
    parse_idx_labels(&bytes, &path.display().to_string())
}

/// Parses the bytes of an IDX label file (raw or gzip); `source` names
/// them in errors.
pub fn parse_idx_labels(bytes: &[u8], source: &str) -> Result<Vec<u8>> {
    Ok(decode(bytes, source, Some(IDX_LABELS_MAGIC))?.data)
}

/// Whether `bytes` start with the gzip magic `1f 8b`.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

fn describe_magic(magic: u32) -> String {
    match magic {
        IDX_IMAGES_MAGIC => " (an IDX image file)".to_string(),
        IDX_LABELS_MAGIC => " (an IDX label file)".to_string(),
        _ => String::new(),
    }
}

/// Reads exactly `buf.len()` bytes of the header, naming what was being read
/// when the input ends early.
fn read_header(
    reader: &mut dyn Read,
    buf: &mut [u8],
    source: &str,
    what: &str,
    gzip: bool,
) -> Result<()> {
    reader.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof && gzip {
            VisionError::format(
                source,
                format!("gzip stream is truncated or holds a truncated IDX header (it ends inside the {what})"),
            )
        } else if e.kind() == std::io::ErrorKind::UnexpectedEof {
            VisionError::format(source, format!("truncated IDX header: the file ends inside the {what}"))
        } else if gzip {
            VisionError::format(source, format!("corrupt gzip stream: {e}"))
        } else {
            VisionError::format(source, e.to_string())
        }
    })
}

/// The shared decoder: header, size checks against the bytes present, data.
fn decode(bytes: &[u8], source: &str, expected_magic: Option<u32>) -> Result<IdxArray> {
    let gzip = is_gzip(bytes);
    let mut reader: Box<dyn Read + '_> = if gzip {
        Box::new(GzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    };

    let mut magic_bytes = [0u8; 4];
    read_header(&mut reader, &mut magic_bytes, source, "magic number", gzip)?;
    let magic = u32::from_be_bytes(magic_bytes);
    if let Some(expected) = expected_magic {
        if magic != expected {
            return Err(VisionError::format(
                source,
                format!(
                    "wrong magic number 0x{magic:08x}{}, expected 0x{expected:08x}{}",
                    describe_magic(magic),
                    describe_magic(expected)
                ),
            ));
        }
    }
    if magic_bytes[0] != 0 || magic_bytes[1] != 0 {
        return Err(VisionError::format(
            source,
            format!(
                "not an IDX file: magic number 0x{magic:08x} does not start with two zero bytes"
            ),
        ));
    }
    if magic_bytes[2] != IDX_U8 {
        return Err(VisionError::format(
            source,
            format!(
                "unsupported IDX element type 0x{:02x} (magic 0x{magic:08x}); only unsigned bytes (0x08) are supported",
                magic_bytes[2]
            ),
        ));
    }
    let ndims = magic_bytes[3] as usize;
    if ndims == 0 {
        return Err(VisionError::format(
            source,
            "IDX header declares 0 dimensions",
        ));
    }

    let mut dim_bytes = vec![0u8; 4 * ndims];
    read_header(&mut reader, &mut dim_bytes, source, "dimension sizes", gzip)?;
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            VisionError::format(
                source,
                format!("IDX header dimensions {dims:?} overflow the address space"),
            )
        })?;
    let header_len = 4 + 4 * ndims;
    let claim = || match dims.as_slice() {
        [n, r, c] => format!("{n} images of {r}x{c} ({expected} bytes)"),
        [n] => format!("{n} labels ({expected} bytes)"),
        _ => format!("an array of shape {dims:?} ({expected} bytes)"),
    };

    // Read at most one byte more than the header claims: the buffer grows
    // with the data actually present, never with the header's claim.
    let (data, present) = if gzip {
        let mut data = Vec::new();
        reader
            .take(expected as u64 + 1)
            .read_to_end(&mut data)
            .map_err(|e| {
                let what = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    "gzip stream is truncated".to_string()
                } else {
                    format!("corrupt gzip stream: {e}")
                };
                VisionError::format(
                    source,
                    format!(
                        "{what} (reading the data of {} declared by the header)",
                        claim()
                    ),
                )
            })?;
        let present = data.len();
        (Some(data), present)
    } else {
        (None, bytes.len() - header_len)
    };
    if present < expected {
        return Err(VisionError::format(
            source,
            format!(
                "truncated: the header claims {} but only {present} bytes of data follow the header",
                claim()
            ),
        ));
    }
    if present > expected {
        let extra = if gzip {
            "more bytes".to_string()
        } else {
            format!("{} more bytes", present - expected)
        };
        return Err(VisionError::format(
            source,
            format!(
                "the header claims {} but the file holds {extra} of data: wrong header or a corrupt file",
                claim()
            ),
        ));
    }
    let data = data.unwrap_or_else(|| bytes[header_len..].to_vec());
    Ok(IdxArray { dims, data })
}

/// Writes an IDX header + data (used by tests and tools that produce IDX
/// files); `dims` must multiply to `data.len()`.
pub fn encode_idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, IDX_U8, dims.len() as u8]);
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}
