//! [`Vocab`]: tokens ↔ indices (`torchtext.vocab.Vocab`).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TextError};
use crate::io::{read_utf8, write_atomic};

/// The unknown-token special, index 0 with the default specials.
pub const UNK: &str = "<unk>";
/// The padding special, index 1 with the default specials.
pub const PAD: &str = "<pad>";
/// The beginning-of-sequence special, index 2 with the default specials.
pub const BOS: &str = "<bos>";
/// The end-of-sequence special, index 3 with the default specials.
pub const EOS: &str = "<eos>";

/// How [`Vocab::build`] chooses and orders its tokens
/// (`build_vocab_from_iterator(..., min_freq, specials, max_tokens)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VocabOptions {
    /// Tokens seen fewer times are left out (default 1: keep all).
    pub min_freq: usize,
    /// The largest vocabulary, specials included (torchtext's
    /// `max_tokens`); `None` (default) for no limit.
    pub max_size: Option<usize>,
    /// Tokens placed first, at indices `0..specials.len()`, in this order
    /// (default `<unk>`, `<pad>`, `<bos>`, `<eos>`). They are never counted
    /// as ordinary tokens, even when the stream contains them.
    pub specials: Vec<String>,
}

impl Default for VocabOptions {
    fn default() -> VocabOptions {
        VocabOptions {
            min_freq: 1,
            max_size: None,
            specials: [UNK, PAD, BOS, EOS].map(String::from).to_vec(),
        }
    }
}

/// A vocabulary: tokens at indices `0..len`, looked up both ways.
///
/// [`Vocab::build`] places the specials first, then the other tokens by
/// frequency (most frequent first), ties by token (code-point order), so
/// the same corpus always gives the same indices — what torchtext's
/// `build_vocab_from_iterator` does. Unknown tokens map to the default
/// index, which is `<unk>`'s index whenever `<unk>` is a special.
///
/// ```
/// use torchlet_text::{basic_english, Vocab, VocabOptions};
/// let texts = ["the cat sat", "the cat", "a dog"];
/// let vocab = Vocab::build(texts.iter().map(|t| basic_english(t)), VocabOptions::default())?;
/// assert_eq!(vocab.len(), 4 + 5);
/// // cat and the (2 each) come first, cat before the; then a, dog, sat.
/// assert_eq!(vocab.lookup_indices(&["the", "cat", "a", "zebra"])?, [5, 4, 6, 0]);
/// assert_eq!(vocab.lookup_token(8)?, "sat");
/// assert_eq!(vocab.pad_index(), Some(1));
/// # Ok::<(), torchlet_text::TextError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    itos: Vec<String>,
    stoi: HashMap<String, usize>,
    specials: usize,
    default_index: Option<usize>,
}

/// The JSON file.
#[derive(Serialize, Deserialize)]
struct VocabFile {
    version: u32,
    tokens: Vec<String>,
    num_specials: usize,
    default_index: Option<usize>,
}

impl Vocab {
    /// Counts the tokens of `sequences` (each an iterator of tokens, e.g.
    /// one tokenized text) and builds the vocabulary as [`VocabOptions`]
    /// says. Duplicate specials, `min_freq = 0` and a `max_size` smaller
    /// than the specials are errors.
    pub fn build<I, S, T>(sequences: I, options: VocabOptions) -> Result<Vocab>
    where
        I: IntoIterator<Item = S>,
        S: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        const WHAT: &str = "Vocab::build";
        if options.min_freq == 0 {
            return Err(TextError::invalid(WHAT, "min_freq must be at least 1"));
        }
        if let Some(max) = options.max_size {
            if max < options.specials.len() {
                return Err(TextError::invalid(
                    WHAT,
                    format!(
                        "max_size {max} is smaller than the {} specials",
                        options.specials.len()
                    ),
                ));
            }
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        for seq in sequences {
            for token in seq {
                let token = token.as_ref();
                if let Some(c) = counts.get_mut(token) {
                    *c += 1;
                } else {
                    counts.insert(token.to_string(), 1);
                }
            }
        }
        for s in &options.specials {
            counts.remove(s);
        }
        let mut ordered: Vec<(String, usize)> = counts
            .into_iter()
            .filter(|(_, c)| *c >= options.min_freq)
            .collect();
        ordered.sort_unstable_by(|(ta, ca), (tb, cb)| cb.cmp(ca).then_with(|| ta.cmp(tb)));
        if let Some(max) = options.max_size {
            ordered.truncate(max - options.specials.len());
        }
        let num_specials = options.specials.len();
        let tokens = options
            .specials
            .into_iter()
            .chain(ordered.into_iter().map(|(t, _)| t))
            .collect();
        Vocab::with_specials(tokens, num_specials).map_err(|e| match e {
            TextError::Invalid { message, .. } => TextError::invalid(WHAT, message),
            other => other,
        })
    }

    /// A vocabulary of `tokens` in this order, with no specials and no
    /// default index. Duplicates are an error.
    pub fn new(tokens: Vec<String>) -> Result<Vocab> {
        Vocab::with_specials(tokens, 0)
    }

    /// `tokens`, whose first `num_specials` are specials; the default index
    /// is `<unk>`'s if it is among them.
    fn with_specials(tokens: Vec<String>, num_specials: usize) -> Result<Vocab> {
        let mut stoi = HashMap::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            if let Some(first) = stoi.insert(t.clone(), i) {
                return Err(TextError::invalid(
                    "Vocab",
                    format!("token {t:?} appears twice (indices {first} and {i})"),
                ));
            }
        }
        let default_index = tokens[..num_specials.min(tokens.len())]
            .iter()
            .position(|t| t == UNK);
        Ok(Vocab {
            itos: tokens,
            stoi,
            specials: num_specials,
            default_index,
        })
    }

    /// The number of tokens, specials included (`len(vocab)`).
    pub fn len(&self) -> usize {
        self.itos.len()
    }

    /// Whether the vocabulary has no token.
    pub fn is_empty(&self) -> bool {
        self.itos.is_empty()
    }

    /// Whether `token` is in the vocabulary (`token in vocab`).
    pub fn contains(&self, token: &str) -> bool {
        self.stoi.contains_key(token)
    }

    /// `token`'s own index, ignoring the default (`None` if absent).
    pub fn get(&self, token: &str) -> Option<usize> {
        self.stoi.get(token).copied()
    }

    /// `token`'s index, or the default index for an unknown token
    /// (`vocab[token]`); [`TextError::UnknownToken`] when there is none.
    pub fn index(&self, token: &str) -> Result<usize> {
        self.get(token)
            .or(self.default_index)
            .ok_or_else(|| TextError::UnknownToken {
                token: token.to_string(),
            })
    }

    /// The indices of `tokens` (`vocab.lookup_indices` / `vocab(tokens)`):
    /// numericalization.
    pub fn lookup_indices<T: AsRef<str>>(&self, tokens: &[T]) -> Result<Vec<usize>> {
        tokens.iter().map(|t| self.index(t.as_ref())).collect()
    }

    /// Like [`lookup_indices`](Self::lookup_indices), as `i64` ready for a
    /// tensor.
    pub fn numericalize<T: AsRef<str>>(&self, tokens: &[T]) -> Result<Vec<i64>> {
        tokens
            .iter()
            .map(|t| Ok(self.index(t.as_ref())? as i64))
            .collect()
    }

    /// The token at `index` (`vocab.lookup_token`).
    pub fn lookup_token(&self, index: usize) -> Result<&str> {
        self.itos
            .get(index)
            .map(String::as_str)
            .ok_or(TextError::Index {
                what: "Vocab::lookup_token",
                index,
                len: self.itos.len(),
            })
    }

    /// The tokens at `indices` (`vocab.lookup_tokens`).
    pub fn lookup_tokens(&self, indices: &[usize]) -> Result<Vec<&str>> {
        indices.iter().map(|&i| self.lookup_token(i)).collect()
    }

    /// All tokens in index order (`vocab.get_itos()`).
    pub fn itos(&self) -> &[String] {
        &self.itos
    }

    /// The specials (the first tokens), in order.
    pub fn specials(&self) -> &[String] {
        &self.itos[..self.specials]
    }

    /// The index unknown tokens map to (`vocab.get_default_index()`).
    pub fn default_index(&self) -> Option<usize> {
        self.default_index
    }

    /// Sets (or with `None` clears) the index unknown tokens map to
    /// (`vocab.set_default_index`); it must be below [`len`](Self::len).
    pub fn set_default_index(&mut self, index: Option<usize>) -> Result<()> {
        if let Some(i) = index {
            self.lookup_token(i).map_err(|_| TextError::Index {
                what: "Vocab::set_default_index",
                index: i,
                len: self.len(),
            })?;
        }
        self.default_index = index;
        Ok(())
    }

    /// `<unk>`'s index, if present.
    pub fn unk_index(&self) -> Option<usize> {
        self.get(UNK)
    }

    /// `<pad>`'s index, if present.
    pub fn pad_index(&self) -> Option<usize> {
        self.get(PAD)
    }

    /// `<bos>`'s index, if present.
    pub fn bos_index(&self) -> Option<usize> {
        self.get(BOS)
    }

    /// `<eos>`'s index, if present.
    pub fn eos_index(&self) -> Option<usize> {
        self.get(EOS)
    }

    /// Adds `token` at the end (`vocab.append_token`); returns its index.
    /// A token already present is an error.
    pub fn append_token(&mut self, token: &str) -> Result<usize> {
        if let Some(i) = self.get(token) {
            return Err(TextError::invalid(
                "Vocab::append_token",
                format!("token {token:?} already exists at index {i}"),
            ));
        }
        self.itos.push(token.to_string());
        self.stoi.insert(token.to_string(), self.itos.len() - 1);
        Ok(self.itos.len() - 1)
    }

    /// The vocabulary as JSON: `{"version": 1, "tokens": [...],
    /// "num_specials": 4, "default_index": 0}`.
    pub fn to_json(&self) -> String {
        let file = VocabFile {
            version: 1,
            tokens: self.itos.clone(),
            num_specials: self.specials,
            default_index: self.default_index,
        };
        serde_json::to_string_pretty(&file).expect("strings always serialize")
    }

    /// Reads [`to_json`](Self::to_json)'s format; `name` (a file name) goes
    /// into error messages.
    pub fn from_json(json: &str, name: &str) -> Result<Vocab> {
        let file: VocabFile =
            serde_json::from_str(json).map_err(|e| TextError::format(name, e.to_string()))?;
        if file.version != 1 {
            return Err(TextError::format(
                name,
                format!("unsupported vocabulary version {}", file.version),
            ));
        }
        let len = file.tokens.len();
        if file.num_specials > len {
            return Err(TextError::format(
                name,
                format!(
                    "num_specials {} exceeds the {len} tokens",
                    file.num_specials
                ),
            ));
        }
        if let Some(d) = file.default_index.filter(|&d| d >= len) {
            return Err(TextError::format(
                name,
                format!("default_index {d} is out of range for {len} tokens"),
            ));
        }
        let mut vocab = Vocab::with_specials(file.tokens, file.num_specials)
            .map_err(|e| TextError::format(name, e.to_string()))?;
        vocab.default_index = file.default_index;
        Ok(vocab)
    }

    /// Writes [`to_json`](Self::to_json) to `path` (a temporary file in the
    /// same folder, then renamed); errors name the file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), self.to_json().as_bytes())
    }

    /// Reads a vocabulary written by [`save`](Self::save); errors name the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Vocab> {
        let path = path.as_ref();
        Vocab::from_json(&read_utf8(path)?, &path.display().to_string())
    }
}
