//! File helpers shared by the readers and the JSON savers.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

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
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        TextError::invalid("save", format!("{} is not a file path", path.display()))
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    // Unique per process and call, so concurrent saves never share a file.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    tmp_name.push(format!(".tmp{}-{n}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        TextError::io(path, e)
    })
}
