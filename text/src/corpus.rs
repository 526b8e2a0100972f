//! Plain-text corpora (for language models and BPE training).

use std::path::Path;

use crate::error::Result;
use crate::io::read_utf8;

/// A plain UTF-8 text, read whole: the input of a character-level language
/// model or of [`BpeTokenizer::train`](crate::BpeTokenizer::train).
///
/// ```
/// use torchlet_text::{CharTokenizer, Corpus, Tokenizer};
/// let corpus = Corpus::from_text("first line\r\n\nsecond\n", "mini.txt");
/// assert_eq!(corpus.lines().collect::<Vec<_>>(), ["first line", "second"]);
/// assert_eq!(CharTokenizer.tokenize(corpus.text()).len(), 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corpus {
    name: String,
    text: String,
}

impl Corpus {
    /// Reads `path`; a missing file or invalid UTF-8 (with the line of the
    /// first bad byte) is an error naming the file. A leading byte-order
    /// mark is dropped.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Corpus> {
        let path = path.as_ref();
        let text = read_utf8(path)?;
        Ok(Corpus::from_text(text, &path.display().to_string()))
    }

    /// A corpus of `text`, called `name`.
    pub fn from_text(text: impl Into<String>, name: &str) -> Corpus {
        let mut text = text.into();
        if text.starts_with('\u{feff}') {
            text.drain(..'\u{feff}'.len_utf8());
        }
        Corpus {
            name: name.to_string(),
            text,
        }
    }

    /// The whole text, exactly as read (line endings kept).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where the text came from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The non-empty lines, without their `\n` / `\r\n`.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.lines().filter(|l| !l.is_empty())
    }
}
