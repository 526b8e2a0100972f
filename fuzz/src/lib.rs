//! Helpers shared by the fuzz targets: a reader that turns the fuzzer's
//! bytes into small numbers, and a per-process scratch folder for the
//! parsers that only read files.

use std::path::PathBuf;
use std::sync::OnceLock;

pub mod program;

/// Reads numbers off the fuzzer's bytes; past the end every read is 0,
/// so any input decodes to something.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        self.byte() as usize % n
    }

    /// A signed dimension index in `-4..4`, PyTorch's negative dims
    /// included (some out of range for small ranks).
    pub fn dim(&mut self) -> i64 {
        self.below(8) as i64 - 4
    }

    /// A size: mostly 0..=4, sometimes one that no tensor can have
    /// (the product of two of them overflows `usize`), to check that ops
    /// refuse it before they allocate.
    pub fn size(&mut self) -> usize {
        match self.byte() {
            255 => usize::MAX / 3,
            254 => 1 << 40,
            b => b as usize % 5,
        }
    }

    /// A float: small integers, halves, and the awkward ones (0, -0,
    /// infinities, NaN, huge and tiny).
    pub fn float(&mut self) -> f32 {
        match self.byte() {
            0 => 0.0,
            1 => -0.0,
            2 => f32::INFINITY,
            3 => f32::NEG_INFINITY,
            4 => f32::NAN,
            5 => f32::MAX,
            6 => f32::MIN_POSITIVE,
            7 => -1e30,
            b => (b as f32 - 128.0) / 8.0,
        }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }
}

/// A folder of this process's own (made once), for parsers that read a
/// run folder.
pub fn scratch_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("torchlet-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch folder in the temp dir");
        dir
    })
}
