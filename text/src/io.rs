//! File helpers shared by the readers and the JSON savers.

use std::path::Path;

use crate::error::{Result, TextError};

/// Reads `path` as UTF-8. Invalid UTF-8 is a [`TextError::Parse`] naming
/// the 1-based line of the first bad byte.
pub(crate) fn read_utf8(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| TextError::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = 1 + bytes[..good].iter().filter(|&&b| b == b'\n').count();
        TextError::parse(
            &path.display().to_string(),
            line,
            format!("invalid UTF-8 at byte offset {good}"),
        )
    })
}

/// Writes `contents` to a temporary file in `path`'s folder, syncs it and
/// renames it over `path`, so a reader never sees a half-written file.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    torchlet_tensor::io::write_atomic(path, contents).map_err(|e| TextError::io(path, e))
}
