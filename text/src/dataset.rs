//! Labelled texts read from TSV/CSV files, and their numericalized form.

use std::collections::BTreeSet;
use std::path::Path;

use torchlet_data::{DataError, Dataset};

use crate::error::{Result, TextError};
use crate::io::read_utf8;
use crate::records::{csv_records, tsv_records, Record};
use crate::tokenizer::Tokenizer;
use crate::vocab::{Vocab, VocabOptions};

/// Texts with a class each: a text-classification dataset
/// (torchtext's `AG_NEWS`-style datasets, as `(label, text)` rows).
///
/// Read from a file with a header row naming a `label` and a `text`
/// column (in either order, other columns are not allowed), one row per
/// text: TSV (tab-separated, no quoting) or CSV (RFC 4180 quoting). The
/// class names are the distinct labels **sorted** (code-point order), so
/// the indices do not depend on row order, and a train and a test file
/// with the same labels agree; [`with_classes`](Self::with_classes) maps
/// onto another list. A malformed row is a [`TextError::Parse`] naming
/// the file and its 1-based line.
///
/// As a [`Dataset`] the item is `(text, class index)`;
/// [`encode`](Self::encode) gives token indices instead.
///
/// ```
/// use torchlet_text::LabeledTexts;
/// let data = LabeledTexts::from_tsv_str("label\ttext\nwork\tMeetings.\ncomputers\tIt compiles!\n", "mini.tsv")?;
/// assert_eq!(data.classes(), ["computers", "work"]);
/// assert_eq!(data.labels(), [1, 0]);
/// assert_eq!(data.texts()[1], "It compiles!");
///
/// let err = LabeledTexts::from_tsv_str("label\ttext\nwork\tok\nno tab here\n", "bad.tsv").unwrap_err();
/// assert_eq!(err.to_string(), "bad.tsv:3: expected 2 tab-separated fields (label, text), found 1");
/// # Ok::<(), torchlet_text::TextError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabeledTexts {
    classes: Vec<String>,
    labels: Vec<usize>,
    texts: Vec<String>,
    /// Each row's 1-based line, for error messages.
    lines: Vec<usize>,
    source: String,
}

impl LabeledTexts {
    /// Reads a TSV file (`label<TAB>text` header).
    pub fn from_tsv_file(path: impl AsRef<Path>) -> Result<LabeledTexts> {
        let path = path.as_ref();
        LabeledTexts::from_tsv_str(&read_utf8(path)?, &path.display().to_string())
    }

    /// Reads a CSV file (`label,text` header, RFC 4180 quoting).
    pub fn from_csv_file(path: impl AsRef<Path>) -> Result<LabeledTexts> {
        let path = path.as_ref();
        LabeledTexts::from_csv_str(&read_utf8(path)?, &path.display().to_string())
    }

    /// Parses TSV text; `name` (a file name) goes into error messages.
    pub fn from_tsv_str(text: &str, name: &str) -> Result<LabeledTexts> {
        LabeledTexts::from_records(tsv_records(strip_bom(text)), name, "tab-separated")
    }

    /// Parses CSV text; `name` (a file name) goes into error messages.
    pub fn from_csv_str(text: &str, name: &str) -> Result<LabeledTexts> {
        LabeledTexts::from_records(csv_records(strip_bom(text), name)?, name, "comma-separated")
    }

    fn from_records(records: Vec<Record>, name: &str, kind: &str) -> Result<LabeledTexts> {
        let mut records = records.into_iter();
        let header = records.next().ok_or_else(|| {
            TextError::format(
                name,
                "the file is empty (expected a header row \"label\", \"text\")",
            )
        })?;
        let column = |wanted: &str| header.fields.iter().position(|f| f.trim() == wanted);
        let (Some(label_col), Some(text_col), 2) =
            (column("label"), column("text"), header.fields.len())
        else {
            return Err(TextError::parse(
                name,
                header.line,
                format!(
                    "expected a header with the columns \"label\" and \"text\", found {:?}",
                    header.fields
                ),
            ));
        };
        let (mut raw_labels, mut texts, mut lines) = (Vec::new(), Vec::new(), Vec::new());
        for mut record in records {
            if record.fields.len() != 2 {
                return Err(TextError::parse(
                    name,
                    record.line,
                    format!(
                        "expected 2 {kind} fields (label, text), found {}",
                        record.fields.len()
                    ),
                ));
            }
            let text = std::mem::take(&mut record.fields[text_col]);
            let label = std::mem::take(&mut record.fields[label_col]);
            if label.trim().is_empty() {
                return Err(TextError::parse(name, record.line, "empty label"));
            }
            raw_labels.push(label);
            texts.push(text);
            lines.push(record.line);
        }
        let classes: Vec<String> = raw_labels
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let labels = raw_labels
            .iter()
            .map(|l| classes.binary_search(l).expect("every label is a class"))
            .collect();
        Ok(LabeledTexts {
            classes,
            labels,
            texts,
            lines,
            source: name.to_string(),
        })
    }

    /// The same rows indexed by `classes` instead (e.g. the training
    /// split's list for the test split). A label missing from `classes` is
    /// an error naming the file and line of its first row.
    pub fn with_classes(self, classes: &[String]) -> Result<LabeledTexts> {
        let mut labels = Vec::with_capacity(self.labels.len());
        for (row, &l) in self.labels.iter().enumerate() {
            let name = &self.classes[l];
            let Some(new) = classes.iter().position(|c| c == name) else {
                return Err(TextError::parse(
                    &self.source,
                    self.lines[row],
                    format!("label {name:?} is not one of the classes {classes:?}"),
                ));
            };
            labels.push(new);
        }
        Ok(LabeledTexts {
            classes: classes.to_vec(),
            labels,
            ..self
        })
    }

    /// The class names; label `k` is `classes()[k]`.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Each row's class index.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Each row's text.
    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    /// Where the rows came from (a file name or `embedded:<name>`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The number of rows of each class, indexed like [`classes`](Self::classes).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        self.labels.iter().for_each(|&l| counts[l] += 1);
        counts
    }

    /// A vocabulary of the tokens of every text (see [`Vocab::build`]).
    pub fn build_vocab(&self, tokenizer: &dyn Tokenizer, options: VocabOptions) -> Result<Vocab> {
        Vocab::build(self.texts.iter().map(|t| tokenizer.tokenize(t)), options)
    }

    /// Tokenizes and numericalizes every text: the dataset a
    /// [`DataLoader`](torchlet_data::DataLoader) with
    /// [`PadCollate`](crate::PadCollate) batches. Unknown tokens take the
    /// vocabulary's default index (an error if it has none).
    pub fn encode(&self, tokenizer: &dyn Tokenizer, vocab: &Vocab) -> Result<EncodedTexts> {
        let ids = self
            .texts
            .iter()
            .map(|t| vocab.numericalize(&tokenizer.tokenize(t)))
            .collect::<Result<Vec<_>>>()?;
        Ok(EncodedTexts {
            ids,
            labels: self.labels.iter().map(|&l| l as i64).collect(),
            classes: self.classes.clone(),
        })
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
}

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

impl Dataset for LabeledTexts {
    type Item = (String, i64);

    fn len(&self) -> usize {
        self.texts.len()
    }

    fn get(&self, index: usize) -> torchlet_data::Result<(String, i64)> {
        check_index("LabeledTexts", index, self.texts.len())?;
        Ok((self.texts[index].clone(), self.labels[index] as i64))
    }
}

fn check_index(dataset: &'static str, index: usize, len: usize) -> torchlet_data::Result<()> {
    if index < len {
        Ok(())
    } else {
        Err(DataError::Index {
            dataset,
            index,
            len,
        })
    }
}

/// Texts as token indices with their classes
/// ([`LabeledTexts::encode`]); the item is `(indices, class)`, which
/// [`PadCollate`](crate::PadCollate) batches and whose
/// [`lengths`](Self::lengths) feed a
/// [`BucketBatchSampler`](crate::BucketBatchSampler).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedTexts {
    ids: Vec<Vec<i64>>,
    labels: Vec<i64>,
    classes: Vec<String>,
}

impl EncodedTexts {
    /// Sequences `ids` with class indices `labels` (as many) into
    /// `classes`.
    pub fn new(ids: Vec<Vec<i64>>, labels: Vec<i64>, classes: Vec<String>) -> Result<EncodedTexts> {
        if ids.len() != labels.len() {
            return Err(TextError::invalid(
                "EncodedTexts::new",
                format!("{} sequences but {} labels", ids.len(), labels.len()),
            ));
        }
        if let Some(&bad) = labels
            .iter()
            .find(|&&l| l < 0 || l as usize >= classes.len())
        {
            return Err(TextError::invalid(
                "EncodedTexts::new",
                format!(
                    "label {bad} is not a class index for {} classes",
                    classes.len()
                ),
            ));
        }
        Ok(EncodedTexts {
            ids,
            labels,
            classes,
        })
    }

    /// Each text's token indices.
    pub fn ids(&self) -> &[Vec<i64>] {
        &self.ids
    }

    /// Each text's class index.
    pub fn labels(&self) -> &[i64] {
        &self.labels
    }

    /// The class names.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Each text's number of tokens.
    pub fn lengths(&self) -> Vec<usize> {
        self.ids.iter().map(Vec::len).collect()
    }
}

impl Dataset for EncodedTexts {
    type Item = (Vec<i64>, i64);

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn get(&self, index: usize) -> torchlet_data::Result<(Vec<i64>, i64)> {
        check_index("EncodedTexts", index, self.ids.len())?;
        Ok((self.ids[index].clone(), self.labels[index]))
    }
}
