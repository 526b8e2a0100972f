//! TSV/CSV readers, the embedded fortunes and plain-text corpora.

use torchlet_data::Dataset;
use torchlet_text::{Corpus, Fortunes, LabeledTexts, TextError};

#[test]
fn embedded_fortunes_counts() {
    let data = Fortunes::embedded().unwrap();
    assert_eq!(data.train.len(), 2194);
    assert_eq!(data.test.len(), 549);
    assert_eq!(data.classes(), ["computers", "politics", "science", "work"]);
    assert_eq!(data.test.classes(), data.classes());
    assert_eq!(data.train.class_counts(), [729, 557, 450, 458]);
    // All texts: computers 920, politics 676, science 561, work 586.
    assert_eq!(data.test.class_counts(), [191, 119, 111, 128]);
    // The first data row of train.tsv.
    assert_eq!(
        data.train.texts()[0],
        "Don't steal... the IRS hates competition!"
    );
    assert_eq!(data.train.labels()[0], 1); // politics
    let (text, label) = data.train.get(2).unwrap();
    assert!(text.starts_with("Of course you can't flap your arms"));
    assert_eq!(label, 2); // science
    assert!(data.train.get(2194).is_err());
    assert!(data.train.source().contains("fortunes-4/train.tsv"));
    let corpus = data.train_corpus();
    assert_eq!(corpus.lines().count(), 2194);
}

#[test]
fn from_dir_reads_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    for split in ["train", "test"] {
        std::fs::copy(
            format!("{}/data/fortunes-4/{split}.tsv", env!("CARGO_MANIFEST_DIR")),
            dir.path().join(format!("{split}.tsv")),
        )
        .unwrap();
    }
    let from_dir = Fortunes::from_dir(dir.path()).unwrap();
    let embedded = Fortunes::embedded().unwrap();
    assert_eq!(from_dir.train.texts(), embedded.train.texts());
    assert_eq!(from_dir.test.labels(), embedded.test.labels());
    std::fs::remove_file(dir.path().join("test.tsv")).unwrap();
    let err = Fortunes::from_dir(dir.path()).unwrap_err();
    assert!(matches!(err, TextError::Io { .. }));
    assert!(err.to_string().contains("test.tsv"), "{err}");
}

#[test]
fn tsv_malformed_line_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.tsv");
    std::fs::write(
        &path,
        "label\ttext\nwork\tfine\n\nscience\tok\nno tab on line five\n",
    )
    .unwrap();
    let err = LabeledTexts::from_tsv_file(&path).unwrap_err();
    match &err {
        TextError::Parse { path: p, line, .. } => {
            assert!(p.ends_with("broken.tsv"));
            assert_eq!(*line, 5);
        }
        other => panic!("expected a parse error, got {other}"),
    }
    assert!(
        err.to_string()
            .ends_with("broken.tsv:5: expected 2 tab-separated fields (label, text), found 1"),
        "{err}"
    );

    let err = LabeledTexts::from_tsv_str("label\ttext\na\tb\tc\n", "x.tsv").unwrap_err();
    assert_eq!(
        err.to_string(),
        "x.tsv:2: expected 2 tab-separated fields (label, text), found 3"
    );
    let err = LabeledTexts::from_tsv_str("label\ttext\n\tno label\n", "x.tsv").unwrap_err();
    assert_eq!(err.to_string(), "x.tsv:2: empty label");
    let err = LabeledTexts::from_tsv_str("class\tsentence\na\tb\n", "x.tsv").unwrap_err();
    assert!(
        err.to_string().starts_with("x.tsv:1: expected a header"),
        "{err}"
    );
    let err = LabeledTexts::from_tsv_str("\n\n", "x.tsv").unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn tsv_details() {
    // BOM, CRLF, columns in either order, quotes kept, header only.
    let data = LabeledTexts::from_tsv_str(
        "\u{feff}text\tlabel\r\n\"quoted\" text\tb\r\nnaïve 東京\ta\r\n",
        "t.tsv",
    )
    .unwrap();
    assert_eq!(data.classes(), ["a", "b"]);
    assert_eq!(data.texts(), ["\"quoted\" text", "naïve 東京"]);
    assert_eq!(data.labels(), [1, 0]);
    let empty = LabeledTexts::from_tsv_str("label\ttext\n", "t.tsv").unwrap();
    assert!(empty.is_empty() && empty.classes().is_empty());
}

#[test]
fn csv_with_quotes() {
    let csv = "label,text\nwork,\"Meetings, meetings\"\ncomputers,\"He said \"\"hi\"\"\nand left\"\nwork,plain\n";
    let data = LabeledTexts::from_csv_str(csv, "m.csv").unwrap();
    assert_eq!(data.classes(), ["computers", "work"]);
    assert_eq!(data.labels(), [1, 0, 1]);
    assert_eq!(data.texts()[0], "Meetings, meetings");
    assert_eq!(data.texts()[1], "He said \"hi\"\nand left");
    // The record after a multi-line one is reported at its own line (6).
    let err = LabeledTexts::from_csv_str(&format!("{csv}oops\n"), "m.csv").unwrap_err();
    assert_eq!(
        err.to_string(),
        "m.csv:6: expected 2 comma-separated fields (label, text), found 1"
    );
    let err = LabeledTexts::from_csv_str("label,text\na,\"never closed\n", "m.csv").unwrap_err();
    assert!(
        err.to_string().starts_with("m.csv:2: unterminated"),
        "{err}"
    );
}

#[test]
fn with_classes_reindexes_and_rejects_unknown_labels() {
    let data = LabeledTexts::from_tsv_str("label\ttext\nb\tx\na\ty\n", "t.tsv").unwrap();
    let classes: Vec<String> = ["b", "a", "c"].map(String::from).to_vec();
    let re = data.clone().with_classes(&classes).unwrap();
    assert_eq!(re.labels(), [0, 1]);
    assert_eq!(re.class_counts(), [1, 1, 0]);
    let err = data.with_classes(&classes[..1]).unwrap_err();
    assert!(err.to_string().starts_with("t.tsv:3: label \"a\""), "{err}");
}

#[test]
fn invalid_utf8_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.tsv");
    std::fs::write(&path, b"label\ttext\nwork\tok\nwork\tcaf\xe9\n").unwrap();
    let err = LabeledTexts::from_tsv_file(&path).unwrap_err();
    assert!(matches!(err, TextError::Parse { line: 3, .. }), "{err}");
    assert!(
        err.to_string().contains("latin1.tsv:3: invalid UTF-8"),
        "{err}"
    );
}

#[test]
fn corpus_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.txt");
    std::fs::write(&path, "\u{feff}line one\r\n\nzwei 東京\n").unwrap();
    let c = Corpus::from_file(&path).unwrap();
    assert_eq!(c.text(), "line one\r\n\nzwei 東京\n");
    assert_eq!(c.lines().collect::<Vec<_>>(), ["line one", "zwei 東京"]);
    assert!(c.name().ends_with("c.txt"));
    let err = Corpus::from_file(dir.path().join("none.txt")).unwrap_err();
    assert!(err.to_string().contains("none.txt"), "{err}");
    assert_eq!(Corpus::from_text("", "e").lines().count(), 0);
}

/// Writes a CSV field the way Python's `csv.writer` does (quoting when
/// needed, doubling quotes).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

proptest::proptest! {
    #[test]
    fn csv_round_trips_written_rows(
        rows in proptest::collection::vec(("[a-z]{1,6}", "[a-zé東 ,\"\\n.]{0,20}"), 0..20),
        crlf: bool,
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut csv = format!("label,text{eol}");
        for (label, text) in &rows {
            csv += &format!("{},{}{eol}", csv_field(label), csv_field(text));
        }
        let data = LabeledTexts::from_csv_str(&csv, "p.csv").unwrap();
        let texts: Vec<String> = rows.iter().map(|(_, t)| t.clone()).collect();
        proptest::prop_assert_eq!(data.texts(), texts.as_slice());
        for ((label, _), &k) in rows.iter().zip(data.labels()) {
            proptest::prop_assert_eq!(&data.classes()[k], label);
        }
    }
}
