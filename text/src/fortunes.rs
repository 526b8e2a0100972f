//! fortunes-4: short English texts in four classes, built into the crate.

use std::path::Path;

use crate::corpus::Corpus;
use crate::dataset::LabeledTexts;
use crate::error::Result;

const EMBEDDED_TRAIN: &str = include_str!("../data/fortunes-4/train.tsv");
const EMBEDDED_TEST: &str = include_str!("../data/fortunes-4/test.tsv");

/// The fortunes-4 text-classification set: fortune-cookie texts of
/// Debian's BSD-licensed `fortunes` package (fortune-mod 1.99.1) in four
/// classes, `computers`, `politics`, `science` and `work`, split 80/20
/// (2,194 training and 549 test texts; see `data/fortunes-4/README.md`).
///
/// Both splits share the class list (sorted, so `computers` = 0 ...
/// `work` = 3).
///
/// ```
/// use torchlet_text::Fortunes;
/// let data = Fortunes::embedded()?;
/// assert_eq!((data.train.len(), data.test.len()), (2194, 549));
/// assert_eq!(data.classes(), Fortunes::CLASSES);
/// # Ok::<(), torchlet_text::TextError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Fortunes {
    /// The training split.
    pub train: LabeledTexts,
    /// The test split.
    pub test: LabeledTexts,
}

impl Fortunes {
    /// The class names, in label order.
    pub const CLASSES: [&'static str; 4] = ["computers", "politics", "science", "work"];

    /// The copy built into this crate (no file needed).
    pub fn embedded() -> Result<Fortunes> {
        let train = LabeledTexts::from_tsv_str(EMBEDDED_TRAIN, "embedded:fortunes-4/train.tsv")?;
        let test = LabeledTexts::from_tsv_str(EMBEDDED_TEST, "embedded:fortunes-4/test.tsv")?;
        Fortunes::from_splits(train, test)
    }

    /// Reads `dir/train.tsv` and `dir/test.tsv` (header `label<TAB>text`);
    /// the class list is the sorted union of both files' labels.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Fortunes> {
        let dir = dir.as_ref();
        let train = LabeledTexts::from_tsv_file(dir.join("train.tsv"))?;
        let test = LabeledTexts::from_tsv_file(dir.join("test.tsv"))?;
        Fortunes::from_splits(train, test)
    }

    fn from_splits(train: LabeledTexts, test: LabeledTexts) -> Result<Fortunes> {
        let mut classes: Vec<String> = train.classes().to_vec();
        classes.extend(test.classes().iter().cloned());
        classes.sort();
        classes.dedup();
        Ok(Fortunes {
            train: train.with_classes(&classes)?,
            test: test.with_classes(&classes)?,
        })
    }

    /// The class names; label `k` is `classes()[k]`.
    pub fn classes(&self) -> &[String] {
        self.train.classes()
    }

    /// The training texts joined by newlines: a small corpus for a
    /// character-level language model or for training a BPE.
    pub fn train_corpus(&self) -> Corpus {
        Corpus::from_text(self.train.texts().join("\n"), self.train.source())
    }
}
