//! Tokenizers: the [`Tokenizer`] trait, torchtext's `basic_english`,
//! whitespace splitting and character-level splitting.
//! The trainable byte-pair encoder is in [`crate::bpe`].

use crate::error::{Result, TextError};

/// Splits text into tokens (`torchtext.data.utils.get_tokenizer(...)`).
///
/// Models and the CLI hold a `Box<dyn Tokenizer>` (see [`get_tokenizer`]),
/// so any of the built-in tokenizers, a trained
/// [`BpeTokenizer`](crate::BpeTokenizer) or a closure wrapped by
/// [`FnTokenizer`] can be swapped in.
///
/// ```
/// use torchlet_text::{BasicEnglish, FnTokenizer, Tokenizer};
/// assert_eq!(BasicEnglish.tokenize("Hello, World!"), ["hello", ",", "world", "!"]);
/// let by_dash = FnTokenizer(|s: &str| s.split('-').map(String::from).collect());
/// assert_eq!(by_dash.tokenize("a-b"), ["a", "b"]);
/// ```
pub trait Tokenizer: Send + Sync {
    /// The tokens of `text`, in order. Never fails: every string has a
    /// tokenization (possibly empty).
    fn tokenize(&self, text: &str) -> Vec<String>;
}

/// A closure `Fn(&str) -> Vec<String>` as a [`Tokenizer`].
#[derive(Clone, Copy, Debug)]
pub struct FnTokenizer<F>(pub F);

impl<F> Tokenizer for FnTokenizer<F>
where
    F: Fn(&str) -> Vec<String> + Send + Sync,
{
    fn tokenize(&self, text: &str) -> Vec<String> {
        (self.0)(text)
    }
}

impl<T: Tokenizer + ?Sized> Tokenizer for &T {
    fn tokenize(&self, text: &str) -> Vec<String> {
        (**self).tokenize(text)
    }
}

impl<T: Tokenizer + ?Sized> Tokenizer for Box<T> {
    fn tokenize(&self, text: &str) -> Vec<String> {
        (**self).tokenize(text)
    }
}

impl<T: Tokenizer + ?Sized> Tokenizer for std::sync::Arc<T> {
    fn tokenize(&self, text: &str) -> Vec<String> {
        (**self).tokenize(text)
    }
}

/// Python's `str.isspace()` (what `str.split()` and the regex `\s` match
/// on `str` patterns): Unicode `White_Space` plus the ASCII separators
/// U+001C..U+001F, which Python also counts as white space.
pub fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `text.split()`: the runs of non-white-space characters
/// (white space as [`is_python_space`]).
fn python_split(text: &str) -> Vec<String> {
    text.split(is_python_space)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// torchtext's `get_tokenizer("basic_english")`, exactly.
///
/// torchtext lowercases the line, then applies these substitutions in
/// order (`torchtext/data/utils.py`, `_basic_english_normalize`):
///
/// | pattern | replacement |
/// |---|---|
/// | `'` | `" '  "` |
/// | `"` | `""` (removed) |
/// | `.` | `" . "` |
/// | `<br />` | `" "` |
/// | `,` `(` `)` `!` `?` | the character with a space on each side |
/// | `;` `:` | `" "` |
/// | `\s+` | `" "` |
///
/// and splits on white space. The order matters: `<br "/>` loses its quote
/// first and then counts as a line break. Lowercasing is Unicode's full
/// mapping, as Python's `str.lower()`.
///
/// ```
/// use torchlet_text::basic_english;
/// assert_eq!(
///     basic_english("Don't panic: it's 4.5 (or so)!"),
///     ["don", "'", "t", "panic", "it", "'", "s", "4", ".", "5", "(", "or", "so", ")", "!"]
/// );
/// ```
pub fn basic_english(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    // Step 1-3 are per character; `<br />` must be matched on their result.
    let mut s = String::with_capacity(lower.len() + lower.len() / 4);
    for c in lower.chars() {
        match c {
            '\'' => s.push_str(" '  "),
            '"' => {}
            '.' => s.push_str(" . "),
            c => s.push(c),
        }
    }
    let s = if s.contains("<br />") {
        s.replace("<br />", " ")
    } else {
        s
    };
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    for c in s.chars() {
        match c {
            ',' | '(' | ')' | '!' | '?' => {
                out.push(' ');
                out.push(c);
                out.push(' ');
            }
            ';' | ':' => out.push(' '),
            c => out.push(c),
        }
    }
    python_split(&out)
}

/// [`basic_english`] as a [`Tokenizer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BasicEnglish;

impl Tokenizer for BasicEnglish {
    fn tokenize(&self, text: &str) -> Vec<String> {
        basic_english(text)
    }
}

/// Splits on runs of white space, keeping case and punctuation: Python's
/// `str.split()`, which is torchtext's `get_tokenizer(None)`.
///
/// ```
/// use torchlet_text::{Tokenizer, Whitespace};
/// assert_eq!(Whitespace.tokenize("  The  course\tcontents\n"), ["The", "course", "contents"]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Whitespace;

impl Tokenizer for Whitespace {
    fn tokenize(&self, text: &str) -> Vec<String> {
        python_split(text)
    }
}

/// One token per Unicode scalar value (Python's `list(text)`), white space
/// included: the tokenizer of a character-level language model. A
/// combining accent is its own token (no grapheme clustering), so
/// concatenating the tokens gives back the text exactly.
///
/// ```
/// use torchlet_text::{CharTokenizer, Tokenizer};
/// assert_eq!(CharTokenizer.tokenize("né x"), ["n", "é", " ", "x"]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CharTokenizer;

impl Tokenizer for CharTokenizer {
    fn tokenize(&self, text: &str) -> Vec<String> {
        text.chars().map(String::from).collect()
    }
}

/// A built-in tokenizer by name, for configuration files and the CLI:
/// `"basic_english"`, `"whitespace"` (also `"split"`) or `"char"`
/// (also `"character"`). A [`BpeTokenizer`](crate::BpeTokenizer) is trained
/// or loaded from a file instead.
///
/// ```
/// use torchlet_text::get_tokenizer;
/// let tok = get_tokenizer("basic_english").unwrap();
/// assert_eq!(tok.tokenize("Well, organized."), ["well", ",", "organized", "."]);
/// assert!(get_tokenizer("spacy").is_err());
/// ```
pub fn get_tokenizer(name: &str) -> Result<Box<dyn Tokenizer>> {
    match name {
        "basic_english" => Ok(Box::new(BasicEnglish)),
        "whitespace" | "split" => Ok(Box::new(Whitespace)),
        "char" | "character" => Ok(Box::new(CharTokenizer)),
        other => Err(TextError::invalid(
            "get_tokenizer",
            format!(
                "unknown tokenizer {other:?}; expected \"basic_english\", \"whitespace\" or \"char\""
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    // Expected outputs derived by hand from the substitution table above
    // (torchtext 0.18 `_basic_english_normalize`).
    #[test]
    fn basic_english_known_outputs() {
        assert_eq!(
            basic_english(" The course contents are well organized"),
            toks(&["the", "course", "contents", "are", "well", "organized"])
        );
        assert_eq!(
            basic_english("I loved it.<br /><br />Great; really: \"great\"!?"),
            toks(&["i", "loved", "it", ".", "great", "really", "great", "!", "?"])
        );
        assert_eq!(
            basic_english("e.g., (x)"),
            toks(&["e", ".", "g", ".", ",", "(", "x", ")"])
        );
        // The quote is removed before `<br />` is matched.
        assert_eq!(basic_english("a<br \"/>b"), toks(&["a", "b"]));
        // Lowercasing happens first, so `<BR />` is a line break too.
        assert_eq!(basic_english("a<BR />b"), toks(&["a", "b"]));
        // `<br/>` (no space) is not a line break: only `/` and `>` stay glued.
        assert_eq!(basic_english("a<br/>b"), toks(&["a<br/>b"]));
        // Other punctuation stays attached.
        assert_eq!(
            basic_english("C++ & co-op #1"),
            toks(&["c++", "&", "co-op", "#1"])
        );
    }

    #[test]
    fn basic_english_edge_cases() {
        assert!(basic_english("").is_empty());
        assert!(basic_english(" \t\n\u{a0}\u{1f}").is_empty());
        assert!(basic_english("\";:").is_empty());
        assert_eq!(basic_english("''"), toks(&["'", "'"]));
        // Unicode: full lowercasing (final sigma included), non-ASCII kept.
        assert_eq!(
            basic_english("ΟΔΥΣΣΕΥΣ Café NAÏVE 東京!"),
            toks(&["οδυσσευς", "café", "naïve", "東京", "!"])
        );
        // U+2003 EM SPACE and U+3000 are white space; U+200B is not.
        assert_eq!(
            basic_english("a\u{2003}b\u{3000}c\u{200b}d"),
            toks(&["a", "b", "c\u{200b}d"])
        );
    }

    #[test]
    fn whitespace_and_char() {
        assert_eq!(
            Whitespace.tokenize("Hello,  World!"),
            toks(&["Hello,", "World!"])
        );
        assert!(Whitespace.tokenize("   ").is_empty());
        assert_eq!(Whitespace.tokenize("x\u{1c}y"), toks(&["x", "y"]));
        assert!(CharTokenizer.tokenize("").is_empty());
        assert_eq!(CharTokenizer.tokenize("a b"), toks(&["a", " ", "b"]));
        // "e" + combining acute accent: two scalar values.
        assert_eq!(
            CharTokenizer.tokenize("e\u{301}😀"),
            toks(&["e", "\u{301}", "😀"])
        );
    }

    #[test]
    fn tokenizers_by_name() {
        for (name, text, expected) in [
            ("basic_english", "A, b", vec!["a", ",", "b"]),
            ("whitespace", "A, b", vec!["A,", "b"]),
            ("char", "Ab", vec!["A", "b"]),
        ] {
            assert_eq!(get_tokenizer(name).unwrap().tokenize(text), toks(&expected));
        }
        let err = get_tokenizer("moses").err().unwrap().to_string();
        assert!(
            err.contains("moses") && err.contains("basic_english"),
            "{err}"
        );
    }
}
