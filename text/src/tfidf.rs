//! [`TfidfVectorizer`]: texts as a sparse TF-IDF matrix, scikit-learn's
//! `TfidfVectorizer`.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use torchlet_sparse::{sparse_csr_tensor, SparseTensor};
use torchlet_tensor::Tensor;

use crate::error::{Result, TextError};
use crate::io::{read_utf8, write_atomic};

/// How a [`TfidfVectorizer`] reads texts and weighs terms; the defaults
/// are scikit-learn's except `ngram_range`, which here also takes word
/// pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TfidfOptions {
    /// The smallest and largest n of the word n-grams (`(1, 2)`: words
    /// and pairs of adjacent words).
    pub ngram_range: (usize, usize),
    /// Terms found in fewer training texts are dropped (`min_df`, a
    /// count).
    pub min_df: usize,
    /// `idf = ln((1 + n) / (1 + df)) + 1` (as if one more text held every
    /// term once) instead of `ln(n / df) + 1`.
    pub smooth_idf: bool,
    /// `1 + ln(tf)` instead of the raw count `tf`.
    pub sublinear_tf: bool,
    /// Also the character n-grams inside each white-space-separated word
    /// padded with one space on each side (sklearn's `analyzer='char_wb'`),
    /// for n in this range, as terms `char:<n-gram>` (`None`: words only).
    #[serde(default)]
    pub char_ngram_range: Option<(usize, usize)>,
}

impl Default for TfidfOptions {
    fn default() -> Self {
        TfidfOptions {
            ngram_range: (1, 2),
            min_df: 1,
            smooth_idf: true,
            sublinear_tf: false,
            char_ngram_range: None,
        }
    }
}

/// Texts as rows of TF-IDF weights over word n-grams, as scikit-learn's
/// `TfidfVectorizer` computes them, in a sparse CSR matrix.
///
/// - **Analysis** (sklearn's default analyzer): lowercase, the tokens are
///   the runs of two or more word characters (letters, digits, `_`; the
///   pattern `(?u)\b\w\w+\b`), then their n-grams joined by one space.
/// - **Fit** on the training texts only: the vocabulary (terms in at
///   least `min_df` texts, in sorted order: column `j` is
///   `vocabulary()[j]`) and each term's inverse document frequency.
/// - **Transform**: each text's term counts times the idf, the row scaled
///   to unit Euclidean length (`norm='l2'`); unseen terms are ignored and
///   a text without any known term is a zero row.
///
/// ```
/// use torchlet_text::{TfidfOptions, TfidfVectorizer};
///
/// # fn main() -> Result<(), torchlet_text::TextError> {
/// // scikit-learn's documentation example (`ngram_range=(1, 1)`).
/// let corpus = [
///     "This is the first document.",
///     "This document is the second document.",
///     "And this is the third one.",
///     "Is this the first document?",
/// ];
/// let options = TfidfOptions { ngram_range: (1, 1), ..Default::default() };
/// let tfidf = TfidfVectorizer::fit(&corpus, options)?;
/// assert_eq!(tfidf.vocabulary(), ["and", "document", "first", "is", "one", "second", "the", "third", "this"]);
/// let x = tfidf.transform(&corpus)?; // CSR [4, 9]
/// let row0 = x.to_dense()?.to_vec::<f32>()?[..9].to_vec();
/// let sklearn = [0.0, 0.46979139, 0.58028582, 0.38408524, 0.0, 0.0, 0.38408524, 0.0, 0.38408524];
/// assert!(row0.iter().zip(sklearn).all(|(a, b)| (a - b).abs() < 1e-6));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TfidfVectorizer {
    options: TfidfOptions,
    vocabulary: Vec<String>,
    index: HashMap<String, usize>,
    idf: Vec<f64>,
}

/// The JSON file of a fitted vectorizer.
#[derive(Serialize, Deserialize)]
struct TfidfFile {
    r#type: String,
    options: TfidfOptions,
    vocabulary: Vec<String>,
    idf: Vec<f64>,
}

const FILE_TYPE: &str = "tfidf_vectorizer";

impl TfidfVectorizer {
    /// Learns the vocabulary and the idf of `texts`.
    pub fn fit<S: AsRef<str>>(texts: &[S], options: TfidfOptions) -> Result<TfidfVectorizer> {
        for (name, range) in [
            ("ngram_range", Some(options.ngram_range)),
            ("char_ngram_range", options.char_ngram_range),
        ] {
            if let Some((lo, hi)) = range {
                if lo == 0 || lo > hi {
                    return Err(TextError::invalid(
                        "TfidfVectorizer",
                        format!("{name} must be (min, max) with 1 <= min <= max, got ({lo}, {hi})"),
                    ));
                }
            }
        }
        let mut df: HashMap<String, usize> = HashMap::new();
        for text in texts {
            let mut terms = analyze(text.as_ref(), &options);
            terms.sort_unstable();
            terms.dedup();
            for t in terms {
                *df.entry(t).or_insert(0) += 1;
            }
        }
        let mut vocabulary: Vec<String> = df
            .iter()
            .filter(|(_, &d)| d >= options.min_df.max(1))
            .map(|(t, _)| t.clone())
            .collect();
        if vocabulary.is_empty() {
            return Err(TextError::invalid(
                "TfidfVectorizer",
                format!(
                    "no term is in at least min_df = {} of the {} texts",
                    options.min_df,
                    texts.len()
                ),
            ));
        }
        vocabulary.sort_unstable();
        let n = texts.len() as f64;
        let s = if options.smooth_idf { 1.0 } else { 0.0 };
        let idf = vocabulary
            .iter()
            .map(|t| ((n + s) / (df[t] as f64 + s)).ln() + 1.0)
            .collect();
        Ok(TfidfVectorizer::from_parts(options, vocabulary, idf))
    }

    fn from_parts(options: TfidfOptions, vocabulary: Vec<String>, idf: Vec<f64>) -> Self {
        let index = vocabulary
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i))
            .collect();
        TfidfVectorizer {
            options,
            vocabulary,
            index,
            idf,
        }
    }

    /// The terms of `text` in order, repeats kept (sklearn's
    /// `build_analyzer()`): the words, then the pairs, ... up to the
    /// largest n.
    pub fn analyze(&self, text: &str) -> Vec<String> {
        analyze(text, &self.options)
    }

    /// The rows of `texts`: a float32 CSR matrix `[texts, features]` with
    /// unit-length rows (columns sorted within each row).
    pub fn transform<S: AsRef<str>>(&self, texts: &[S]) -> Result<SparseTensor> {
        let mut crow = Vec::with_capacity(texts.len() + 1);
        let mut col: Vec<i64> = Vec::new();
        let mut values: Vec<f32> = Vec::new();
        crow.push(0i64);
        for text in texts {
            let mut ids: Vec<usize> = self
                .analyze(text.as_ref())
                .iter()
                .filter_map(|t| self.index.get(t).copied())
                .collect();
            ids.sort_unstable();
            let mut row: Vec<(usize, f64)> = Vec::new();
            for id in ids {
                match row.last_mut() {
                    Some((last, count)) if *last == id => *count += 1.0,
                    _ => row.push((id, 1.0)),
                }
            }
            let weights: Vec<f64> = row
                .iter()
                .map(|&(id, tf)| {
                    let tf = if self.options.sublinear_tf {
                        1.0 + tf.ln()
                    } else {
                        tf
                    };
                    tf * self.idf[id]
                })
                .collect();
            let norm = weights.iter().map(|w| w * w).sum::<f64>().sqrt();
            for (&(id, _), w) in row.iter().zip(weights) {
                col.push(id as i64);
                values.push(if norm > 0.0 { (w / norm) as f32 } else { 0.0 });
            }
            crow.push(col.len() as i64);
        }
        let nnz = col.len();
        Ok(sparse_csr_tensor(
            &Tensor::from_vec(crow, &[texts.len() + 1])?,
            &Tensor::from_vec(col, &[nnz])?,
            Tensor::from_vec(values, &[nnz])?,
            &[texts.len(), self.vocabulary.len()],
        )?)
    }

    /// The features (terms), by column.
    pub fn vocabulary(&self) -> &[String] {
        &self.vocabulary
    }

    /// Number of features (columns).
    pub fn num_features(&self) -> usize {
        self.vocabulary.len()
    }

    /// Each feature's inverse document frequency (`idf_`).
    pub fn idf(&self) -> &[f64] {
        &self.idf
    }

    /// The options it was fitted with.
    pub fn options(&self) -> TfidfOptions {
        self.options
    }

    /// The fitted vectorizer as JSON (options, vocabulary, idf).
    pub fn to_json(&self) -> String {
        let file = TfidfFile {
            r#type: FILE_TYPE.into(),
            options: self.options,
            vocabulary: self.vocabulary.clone(),
            idf: self.idf.clone(),
        };
        serde_json::to_string(&file).expect("strings and numbers always serialize")
    }

    /// Reads [`to_json`](Self::to_json)'s format; `name` (a file name)
    /// goes into error messages.
    pub fn from_json(json: &str, name: &str) -> Result<TfidfVectorizer> {
        let file: TfidfFile =
            serde_json::from_str(json).map_err(|e| TextError::format(name, e.to_string()))?;
        if file.r#type != FILE_TYPE {
            return Err(TextError::format(
                name,
                format!("expected type {FILE_TYPE:?}, got {:?}", file.r#type),
            ));
        }
        if file.vocabulary.len() != file.idf.len() {
            return Err(TextError::format(
                name,
                format!(
                    "{} terms but {} idf values",
                    file.vocabulary.len(),
                    file.idf.len()
                ),
            ));
        }
        if let Some(w) = file.vocabulary.windows(2).find(|w| w[0] >= w[1]) {
            return Err(TextError::format(
                name,
                format!(
                    "the vocabulary is not sorted without repeats ({:?} before {:?})",
                    w[0], w[1]
                ),
            ));
        }
        Ok(TfidfVectorizer::from_parts(
            file.options,
            file.vocabulary,
            file.idf,
        ))
    }

    /// Writes [`to_json`](Self::to_json) to `path` (a temporary file,
    /// then a rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), self.to_json().as_bytes())
    }

    /// Reads a vectorizer written by [`save`](Self::save); errors name the
    /// file.
    pub fn load(path: impl AsRef<Path>) -> Result<TfidfVectorizer> {
        let path = path.as_ref();
        TfidfVectorizer::from_json(&read_utf8(path)?, &path.display().to_string())
    }
}

/// The terms of `text`: [`word_ngrams`], then (if asked)
/// [`char_wb_ngrams`] marked `char:`.
fn analyze(text: &str, options: &TfidfOptions) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut out = word_ngrams(&lower, options.ngram_range);
    if let Some(range) = options.char_ngram_range {
        out.extend(
            char_wb_ngrams(&lower, range)
                .into_iter()
                .map(|g| format!("char:{g}")),
        );
    }
    out
}

/// sklearn's word analyzer on lowercased text: tokens `(?u)\b\w\w+\b`
/// (runs of two or more word characters), n-grams for n in `range`
/// joined by a space. A term never holds `:`.
fn word_ngrams(lower: &str, (lo, hi): (usize, usize)) -> Vec<String> {
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.chars().nth(1).is_some())
        .collect();
    let mut out = Vec::new();
    for n in lo..=hi.min(words.len()) {
        out.extend(words.windows(n).map(|w| w.join(" ")));
    }
    out
}

/// sklearn's `char_wb` analyzer on lowercased text: each
/// white-space-separated word padded to `" word "`, its character
/// n-grams for n in `range` (a padded word shorter than n gives itself
/// once).
fn char_wb_ngrams(lower: &str, (lo, hi): (usize, usize)) -> Vec<String> {
    let mut out = Vec::new();
    for word in lower.split_whitespace() {
        let padded: Vec<char> = std::iter::once(' ')
            .chain(word.chars())
            .chain(std::iter::once(' '))
            .collect();
        for n in lo..=hi {
            if padded.len() <= n {
                out.push(padded.iter().collect());
                // sklearn: offset 0 ends the loop for this n.
                continue;
            }
            out.extend(padded.windows(n).map(|w| w.iter().collect::<String>()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_analyzer_is_sklearns() {
        // scikit-learn's documentation: CountVectorizer(ngram_range=(1, 2))
        // .build_analyzer()('Bi-grams are cool!').
        assert_eq!(
            word_ngrams("bi-grams are cool!", (1, 2)),
            [
                "bi",
                "grams",
                "are",
                "cool",
                "bi grams",
                "grams are",
                "are cool"
            ]
        );
        // One-character tokens are dropped (so is the `t` of "don't").
        assert_eq!(word_ngrams("i don't x_y 42", (1, 1)), ["don", "x_y", "42"]);
        assert!(word_ngrams("a b", (1, 2)).is_empty());
        // CountVectorizer(analyzer='char_wb', ngram_range=(5, 5))
        // .build_analyzer()('jumpy fox') in sklearn's documentation.
        assert_eq!(
            char_wb_ngrams("jumpy fox", (5, 5)),
            [" jump", "jumpy", "umpy ", " fox "]
        );
    }

    #[test]
    fn rows_have_unit_length_and_unknown_terms_are_ignored() {
        let tfidf =
            TfidfVectorizer::fit(&["red apple", "green apple pie"], Default::default()).unwrap();
        let x = tfidf
            .transform(&["apple apple red", "nothing known", "pie"])
            .unwrap();
        assert_eq!(x.shape(), [3, tfidf.num_features()]);
        let dense = x.to_dense().unwrap().to_vec::<f32>().unwrap();
        let f = tfidf.num_features();
        let norm = |r: usize| dense[r * f..(r + 1) * f].iter().map(|v| v * v).sum::<f32>();
        assert!((norm(0) - 1.0).abs() < 1e-6);
        assert_eq!(norm(1), 0.0);
        assert!((norm(2) - 1.0).abs() < 1e-6);
        // "apple" (df 2, idf 1) counted twice, "red" (df 1, idf ln(3/2)+1)
        // once; the pair "apple red" was never seen.
        let (apple, red) = (2.0f64, (1.5f64).ln() + 1.0);
        let n = (apple * apple + red * red).sqrt();
        let col = |t: &str| tfidf.vocabulary().iter().position(|v| v == t).unwrap();
        assert!((dense[col("apple")] as f64 - apple / n).abs() < 1e-6);
        assert!((dense[col("red")] as f64 - red / n).abs() < 1e-6);
    }

    #[test]
    fn json_round_trips_and_min_df_drops_rare_terms() {
        let options = TfidfOptions {
            min_df: 2,
            ..Default::default()
        };
        let tfidf = TfidfVectorizer::fit(&["a cat sat", "the cat sat", "dog"], options).unwrap();
        assert_eq!(tfidf.vocabulary(), ["cat", "cat sat", "sat"]);
        let back = TfidfVectorizer::from_json(&tfidf.to_json(), "t.json").unwrap();
        assert_eq!(back, tfidf);
        let err = TfidfVectorizer::from_json("{}", "t.json").unwrap_err();
        assert!(err.to_string().starts_with("t.json: "), "{err}");
    }
}
