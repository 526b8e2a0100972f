//! A trainable byte-level byte-pair-encoding tokenizer (GPT-2's scheme).
//!
//! **Why byte-level.** The alphabet is the 256 byte values, so every UTF-8
//! string — any script, emoji, control characters, runs of white space —
//! encodes without an unknown token, and decoding concatenates the tokens'
//! bytes, which gives back the input exactly. A character-level BPE with an
//! end-of-word marker (Sennrich et al.) splits on white space first, so it
//! loses the exact spacing and needs `<unk>` for characters never seen in
//! training: it cannot promise exact round trips.

mod pretokenize;
mod train;

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TextError};
use crate::io::{read_utf8, write_atomic};
use crate::tokenizer::Tokenizer;
use pretokenize::{byte_to_char_table, pre_tokenize};
use train::{learn, merge_pair};

/// Options of [`BpeTokenizer::train_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpeOptions {
    /// The largest vocabulary to learn, the 256 byte tokens included
    /// (at least 256).
    pub vocab_size: usize,
    /// A pair is merged only if it occurs at least this often (default 2);
    /// training stops earlier when no pair does.
    pub min_frequency: u64,
}

impl BpeOptions {
    /// `vocab_size` tokens, pairs seen at least twice.
    pub fn new(vocab_size: usize) -> BpeOptions {
        BpeOptions {
            vocab_size,
            min_frequency: 2,
        }
    }
}

/// A byte-level BPE tokenizer: 256 byte tokens (ids 0..=255, id = byte
/// value) plus the tokens its merges create, in the order they were learned.
///
/// Text is first cut into chunks like GPT-2's pre-tokenizer (runs of
/// letters, digits or symbols with at most one leading space; white space
/// runs), and merges never cross a chunk boundary. Token strings use
/// GPT-2's printable byte alphabet, so a token that starts with a space
/// prints as `Ġthe`, and a token that is part of a multi-byte character is
/// still a valid string. [`encode`](Self::encode)/[`decode`](Self::decode)
/// work with ids; [`Tokenizer::tokenize`] gives the token strings, which a
/// [`Vocab`](crate::Vocab) can index in turn.
///
/// Training is deterministic: the same corpus and options give the same
/// merges (ties go to the pair whose bytes sort first).
///
/// ```
/// use torchlet_text::{BpeTokenizer, Tokenizer};
/// let corpus = ["the cat sat on the mat", "the hat", "that cat"];
/// let bpe = BpeTokenizer::train(corpus, 270)?;
/// assert!(bpe.vocab_size() <= 270);
/// let ids = bpe.encode("the bat, ça va? 🐈");
/// assert_eq!(bpe.decode(&ids)?, "the bat, ça va? 🐈");
/// assert_eq!(bpe.tokenize("the cat")[1], "Ġcat");
/// # Ok::<(), torchlet_text::TextError>(())
/// ```
#[derive(Clone, Debug)]
pub struct BpeTokenizer {
    /// The merged pairs, by rank.
    merges: Vec<(usize, usize)>,
    /// Pair → (rank, id of the merged token); the lowest rank wins.
    ranks: HashMap<(usize, usize), (usize, usize)>,
    /// Id → bytes.
    tokens: Vec<Vec<u8>>,
    /// Id → printable form (GPT-2's byte alphabet).
    names: Vec<String>,
    /// Printable form → id.
    ids: HashMap<String, usize>,
}

/// The JSON file: merges as `"left right"` in GPT-2's alphabet (which has
/// no space), and the resulting token list for readers of the file.
#[derive(Serialize, Deserialize)]
struct BpeFile {
    #[serde(rename = "type")]
    kind: String,
    version: u32,
    merges: Vec<String>,
    tokens: Vec<String>,
}

const FILE_KIND: &str = "byte_level_bpe";

impl BpeTokenizer {
    /// Learns a vocabulary of at most `vocab_size` tokens (≥ 256) from
    /// `texts`, merging pairs seen at least twice. See [`train_with`](Self::train_with).
    pub fn train<S: AsRef<str>>(
        texts: impl IntoIterator<Item = S>,
        vocab_size: usize,
    ) -> Result<BpeTokenizer> {
        BpeTokenizer::train_with(texts, BpeOptions::new(vocab_size))
    }

    /// Learns merges from `texts`: each step merges the most frequent
    /// adjacent pair of tokens within a chunk (ties: the pair whose left,
    /// then right, token's bytes sort first), until the vocabulary holds
    /// `options.vocab_size` tokens or no pair occurs
    /// `options.min_frequency` times.
    pub fn train_with<S: AsRef<str>>(
        texts: impl IntoIterator<Item = S>,
        options: BpeOptions,
    ) -> Result<BpeTokenizer> {
        if options.vocab_size < 256 {
            return Err(TextError::invalid(
                "BpeTokenizer::train",
                format!(
                    "vocab_size must be at least 256 (the byte alphabet), got {}",
                    options.vocab_size
                ),
            ));
        }
        let learned = learn(texts, options.vocab_size, options.min_frequency);
        Ok(BpeTokenizer::from_parts(learned.merges, learned.tokens))
    }

    /// The tokenizer with only the 256 byte tokens (no merges).
    pub fn bytes_only() -> BpeTokenizer {
        BpeTokenizer::from_parts(Vec::new(), (0..=255u8).map(|b| vec![b]).collect())
    }

    fn from_parts(merges: Vec<(usize, usize)>, tokens: Vec<Vec<u8>>) -> BpeTokenizer {
        let table = byte_to_char_table();
        let names: Vec<String> = tokens
            .iter()
            .map(|t| t.iter().map(|&b| table[b as usize]).collect())
            .collect();
        let ids = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let by_bytes: HashMap<&[u8], usize> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_slice(), i))
            .collect();
        let mut ranks = HashMap::new();
        for (rank, &(a, b)) in merges.iter().enumerate() {
            let merged = [tokens[a].as_slice(), tokens[b].as_slice()].concat();
            ranks
                .entry((a, b))
                .or_insert((rank, by_bytes[merged.as_slice()]));
        }
        BpeTokenizer {
            merges,
            ranks,
            tokens,
            names,
            ids,
        }
    }

    /// The number of tokens (256 + the distinct merged tokens).
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The learned merges in order, as pairs of token ids.
    pub fn merges(&self) -> &[(usize, usize)] {
        &self.merges
    }

    /// Token `id`'s printable form (`"Ġthe"`), or `None` past the end.
    pub fn token(&self, id: usize) -> Option<&str> {
        self.names.get(id).map(String::as_str)
    }

    /// Token `id`'s bytes, or `None` past the end.
    pub fn token_bytes(&self, id: usize) -> Option<&[u8]> {
        self.tokens.get(id).map(Vec::as_slice)
    }

    /// The id of a printable token string (`"Ġthe"`), if it is in the vocabulary.
    pub fn id(&self, token: &str) -> Option<usize> {
        self.ids.get(token).copied()
    }

    /// Every token's printable form, in id order (e.g. to build a
    /// [`Vocab`](crate::Vocab) with the same order).
    pub fn tokens(&self) -> &[String] {
        &self.names
    }

    /// The token ids of `text`. Never fails; `decode` gives `text` back.
    pub fn encode(&self, text: &str) -> Vec<usize> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        for chunk in pre_tokenize(text) {
            out.extend(self.encode_chunk(chunk.as_bytes()));
        }
        out
    }

    /// Applies the merges to one chunk: repeatedly merges the adjacent pair
    /// of lowest rank, which gives what training's merges in order give.
    fn encode_chunk(&self, bytes: &[u8]) -> Vec<usize> {
        let mut symbols: Vec<usize> = bytes.iter().map(|&b| usize::from(b)).collect();
        while symbols.len() > 1 {
            let best = symbols
                .windows(2)
                .filter_map(|p| self.ranks.get(&(p[0], p[1])).map(|&r| (r, (p[0], p[1]))))
                .min();
            let Some(((_, new_id), pair)) = best else {
                break;
            };
            symbols = merge_pair(&symbols, pair, new_id);
        }
        symbols
    }

    /// The bytes of the tokens `ids`, concatenated; an error names the first
    /// id past the vocabulary.
    pub fn decode_bytes(&self, ids: &[usize]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 3);
        for &id in ids {
            let token = self.tokens.get(id).ok_or(TextError::Index {
                what: "BpeTokenizer::decode",
                index: id,
                len: self.tokens.len(),
            })?;
            out.extend_from_slice(token);
        }
        Ok(out)
    }

    /// The text of the tokens `ids`: the exact inverse of
    /// [`encode`](Self::encode). An id past the vocabulary, or ids whose
    /// bytes are not valid UTF-8 (a character cut in half), are errors.
    pub fn decode(&self, ids: &[usize]) -> Result<String> {
        String::from_utf8(self.decode_bytes(ids)?).map_err(|e| {
            TextError::invalid(
                "BpeTokenizer::decode",
                format!(
                    "the tokens' bytes are not valid UTF-8 (at byte {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        })
    }

    /// The tokenizer as JSON: `{"type": "byte_level_bpe", "version": 1,
    /// "merges": ["Ġ t", ...], "tokens": [...]}`. Merges are written like
    /// GPT-2's `merges.txt` lines (two printable tokens and a space).
    pub fn to_json(&self) -> String {
        let file = BpeFile {
            kind: FILE_KIND.to_string(),
            version: 1,
            merges: self
                .merges
                .iter()
                .map(|&(a, b)| format!("{} {}", self.names[a], self.names[b]))
                .collect(),
            tokens: self.names.clone(),
        };
        serde_json::to_string_pretty(&file).expect("strings always serialize")
    }

    /// Reads [`to_json`](Self::to_json)'s format; `name` (a file name)
    /// goes into error messages. Every merge must combine tokens that exist
    /// before it, and `tokens` must be what the merges produce.
    pub fn from_json(json: &str, name: &str) -> Result<BpeTokenizer> {
        let file: BpeFile =
            serde_json::from_str(json).map_err(|e| TextError::format(name, e.to_string()))?;
        if file.kind != FILE_KIND || file.version != 1 {
            return Err(TextError::format(
                name,
                format!(
                    "expected type {FILE_KIND:?} version 1, got type {:?} version {}",
                    file.kind, file.version
                ),
            ));
        }
        let mut bpe = BpeTokenizer::bytes_only();
        let mut by_bytes: HashMap<Vec<u8>, usize> = bpe
            .tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i))
            .collect();
        let mut merges = Vec::with_capacity(file.merges.len());
        for (k, line) in file.merges.iter().enumerate() {
            let parts: Vec<&str> = line.split(' ').collect();
            let [a, b] = parts[..] else {
                return Err(TextError::format(
                    name,
                    format!("merge {k} is {line:?}, expected two tokens separated by one space"),
                ));
            };
            let id = |t: &str| {
                bpe.ids.get(t).copied().ok_or_else(|| {
                    TextError::format(
                        name,
                        format!("merge {k} ({line:?}) uses unknown token {t:?}"),
                    )
                })
            };
            let (a, b) = (id(a)?, id(b)?);
            let merged = [bpe.tokens[a].as_slice(), bpe.tokens[b].as_slice()].concat();
            if !by_bytes.contains_key(&merged) {
                by_bytes.insert(merged.clone(), bpe.tokens.len());
                let printable = format!("{}{}", bpe.names[a], bpe.names[b]);
                bpe.ids.insert(printable.clone(), bpe.tokens.len());
                bpe.names.push(printable);
                bpe.tokens.push(merged);
            }
            merges.push((a, b));
        }
        if file.tokens != bpe.names {
            return Err(TextError::format(
                name,
                format!(
                    "the token list ({} tokens) does not match what the merges produce ({} tokens)",
                    file.tokens.len(),
                    bpe.names.len()
                ),
            ));
        }
        Ok(BpeTokenizer::from_parts(merges, bpe.tokens))
    }

    /// Writes [`to_json`](Self::to_json) to `path` (a temporary file in the
    /// same folder, then renamed).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), self.to_json().as_bytes())
    }

    /// Reads a tokenizer written by [`save`](Self::save); errors name the file.
    pub fn load(path: impl AsRef<Path>) -> Result<BpeTokenizer> {
        let path = path.as_ref();
        BpeTokenizer::from_json(&read_utf8(path)?, &path.display().to_string())
    }
}

impl Tokenizer for BpeTokenizer {
    /// The printable forms of [`encode`](BpeTokenizer::encode)'s ids.
    fn tokenize(&self, text: &str) -> Vec<String> {
        self.encode(text)
            .into_iter()
            .map(|id| self.names[id].clone())
            .collect()
    }
}
