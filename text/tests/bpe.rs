//! The byte-level BPE: exact round trips, deterministic training, the
//! vocabulary-size bound, files.

use proptest::prelude::*;
use torchlet_text::{BpeOptions, BpeTokenizer, Fortunes, TextError, Tokenizer};

fn fortunes_bpe(vocab_size: usize) -> BpeTokenizer {
    let data = Fortunes::embedded().unwrap();
    BpeTokenizer::train(data.train.texts(), vocab_size).unwrap()
}

#[test]
fn training_is_deterministic_and_bounded() {
    let a = fortunes_bpe(600);
    let b = fortunes_bpe(600);
    assert_eq!(a.vocab_size(), 600);
    assert_eq!(a.merges(), b.merges());
    assert_eq!(a.tokens(), b.tokens());
    assert_eq!(a.to_json(), b.to_json());
    // A smaller budget learns a prefix of the same merges.
    let small = fortunes_bpe(300);
    assert_eq!(small.vocab_size(), 300);
    assert_eq!(small.merges(), &a.merges()[..small.merges().len()]);
    // The most frequent pair in English text: " t" ("Ġt") or "e " never
    // crosses a chunk, so the first merges are within words.
    assert!(
        a.tokens()[256..].iter().any(|t| t == "Ġthe"),
        "Ġthe not learned"
    );
    // Merged tokens compress: fewer ids than bytes.
    let text = "The computer science department works on politics.";
    assert!(a.encode(text).len() * 2 < text.len());
}

#[test]
fn training_stops_when_no_pair_is_frequent_enough() {
    let bpe = BpeTokenizer::train(["abcd"], 10_000).unwrap();
    assert_eq!(bpe.vocab_size(), 256); // every pair occurs once, min_frequency 2
    let bpe = BpeTokenizer::train_with(
        ["abcd"],
        BpeOptions {
            vocab_size: 10_000,
            min_frequency: 1,
        },
    )
    .unwrap();
    assert_eq!(bpe.vocab_size(), 259); // ab, abc, abcd (ties broken by bytes)
    assert_eq!(bpe.token(258), Some("abcd"));
    assert_eq!(bpe.encode("abcd"), [258]);
    let err = BpeTokenizer::train(["x"], 255).unwrap_err();
    assert!(err.to_string().contains("at least 256"), "{err}");
}

#[test]
fn empty_corpus_and_empty_text() {
    let bpe = BpeTokenizer::train(Vec::<String>::new(), 1000).unwrap();
    assert_eq!(bpe.vocab_size(), 256);
    assert!(bpe.encode("").is_empty());
    assert_eq!(bpe.decode(&[]).unwrap(), "");
    assert!(bpe.tokenize("").is_empty());
}

#[test]
fn byte_tokens_and_printable_names() {
    let bpe = BpeTokenizer::bytes_only();
    assert_eq!(bpe.encode("é"), [0xc3, 0xa9]);
    assert_eq!(bpe.tokenize("a b\n"), ["a", "Ġ", "b", "Ċ"]);
    assert_eq!(bpe.id("Ġ"), Some(32));
    assert_eq!(bpe.token_bytes(0xe9), Some(&[0xe9u8][..]));
}

#[test]
fn decode_errors() {
    let bpe = BpeTokenizer::bytes_only();
    let err = bpe.decode(&[65, 256]).unwrap_err();
    assert!(
        matches!(
            err,
            TextError::Index {
                index: 256,
                len: 256,
                ..
            }
        ),
        "{err}"
    );
    // Half of "é" is not UTF-8; the raw bytes are still available.
    assert!(bpe.decode(&[0xc3]).is_err());
    assert_eq!(bpe.decode_bytes(&[0xc3]).unwrap(), [0xc3]);
}

#[test]
fn save_and_load_round_trip() {
    let bpe = fortunes_bpe(400);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bpe.json");
    bpe.save(&path).unwrap();
    let loaded = BpeTokenizer::load(&path).unwrap();
    assert_eq!(loaded.merges(), bpe.merges());
    assert_eq!(loaded.tokens(), bpe.tokens());
    let text = "Wörk smarter, not harder! 42 — ok";
    assert_eq!(loaded.encode(text), bpe.encode(text));
    // Only the target file is left in the folder (no temporary file).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn load_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let err = BpeTokenizer::load(&missing).unwrap_err().to_string();
    assert!(err.contains("missing.json"), "{err}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{not json").unwrap();
    let err = BpeTokenizer::load(&bad).unwrap_err().to_string();
    assert!(err.contains("bad.json"), "{err}");

    let unknown = dir.path().join("unknown.json");
    std::fs::write(
        &unknown,
        r#"{"type": "byte_level_bpe", "version": 1, "merges": ["a bc"], "tokens": []}"#,
    )
    .unwrap();
    let err = BpeTokenizer::load(&unknown).unwrap_err().to_string();
    assert!(
        err.contains("unknown.json") && err.contains("\"bc\""),
        "{err}"
    );

    let mut json: serde_json::Value =
        serde_json::from_str(&BpeTokenizer::train(["aa aa"], 300).unwrap().to_json()).unwrap();
    json["tokens"].as_array_mut().unwrap().pop();
    let err = BpeTokenizer::from_json(&json.to_string(), "t.json")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("t.json: the token list"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trips_any_string(text in any::<String>()) {
        let bpe = trained();
        let ids = bpe.encode(&text);
        prop_assert_eq!(bpe.decode(&ids).unwrap(), text.clone());
        prop_assert!(ids.iter().all(|&id| id < bpe.vocab_size()));
        prop_assert!(ids.len() <= text.len());
        // The token strings map back to the same ids.
        let names = bpe.tokenize(&text);
        let back: Vec<usize> = names.iter().map(|n| bpe.id(n).unwrap()).collect();
        prop_assert_eq!(back, ids);
    }

    #[test]
    fn round_trips_mixed_scripts(text in "[a-zé東 😀\\n\\t.,!]{0,40}") {
        let bpe = trained();
        prop_assert_eq!(bpe.decode(&bpe.encode(&text)).unwrap(), text);
    }

    #[test]
    fn training_on_arbitrary_text_is_deterministic(
        texts in proptest::collection::vec("[ab é😀]{0,12}", 0..8),
        vocab_size in 256usize..300,
    ) {
        let options = BpeOptions { vocab_size, min_frequency: 1 };
        let a = BpeTokenizer::train_with(&texts, options).unwrap();
        let b = BpeTokenizer::train_with(&texts, options).unwrap();
        prop_assert!(a.vocab_size() <= vocab_size);
        prop_assert_eq!(a.merges(), b.merges());
        for t in &texts {
            prop_assert_eq!(&a.decode(&a.encode(t)).unwrap(), t);
        }
    }
}

/// A BPE trained once on the fortunes plus some non-ASCII text.
fn trained() -> &'static BpeTokenizer {
    static BPE: std::sync::OnceLock<BpeTokenizer> = std::sync::OnceLock::new();
    BPE.get_or_init(|| {
        let data = Fortunes::embedded().unwrap();
        let mut texts: Vec<String> = data.train.texts().to_vec();
        texts.push("Ελληνικά καλημέρα, 東京 東京 😀😀 naïve café".repeat(3));
        BpeTokenizer::train(&texts, 500).unwrap()
    })
}
