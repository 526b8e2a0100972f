//! Tokenizers against torchtext's outputs, and their edge cases.

use std::collections::HashMap;

use serde_json::Value;
use torchlet_text::{basic_english, BasicEnglish, CharTokenizer, Fortunes, Tokenizer, Whitespace};

/// Expected outputs computed by torchtext's own `_basic_english_normalize`
/// code (`fixtures/basic_english.py` regenerates the file).
fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/basic_english.json")).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn basic_english_matches_torchtext_cases() {
    let f = fixture();
    let cases = f["cases"].as_array().unwrap();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for case in cases {
        let text = case["text"].as_str().unwrap();
        assert_eq!(
            basic_english(text),
            strings(&case["tokens"]),
            "text {text:?}"
        );
    }
}

#[test]
fn basic_english_token_counts_over_fortunes_match_torchtext() {
    let f = fixture();
    let expected = &f["fortunes_train"];
    let data = Fortunes::embedded().unwrap();
    let mut counts: HashMap<String, u64> = HashMap::new();
    for text in data.train.texts() {
        for t in BasicEnglish.tokenize(text) {
            *counts.entry(t).or_default() += 1;
        }
    }
    assert_eq!(
        counts.values().sum::<u64>(),
        expected["total_tokens"].as_u64().unwrap()
    );
    assert_eq!(
        counts.len() as u64,
        expected["distinct_tokens"].as_u64().unwrap()
    );
    let mut top: Vec<(String, u64)> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (k, pair) in expected["top"].as_array().unwrap().iter().enumerate() {
        assert_eq!(top[k].0, pair[0].as_str().unwrap(), "rank {k}");
        assert_eq!(top[k].1, pair[1].as_u64().unwrap(), "rank {k}");
    }
}

#[test]
fn the_seed_sentences() {
    assert_eq!(
        basic_english(" The course contents are well organized"),
        ["the", "course", "contents", "are", "well", "organized"]
    );
    assert_eq!(
        Whitespace.tokenize("Text is something different from images"),
        ["Text", "is", "something", "different", "from", "images"]
    );
}

#[test]
fn char_tokens_concatenate_to_the_text() {
    for text in ["", "héllo wörld", "e\u{301} 😀\r\n\t", "東京"] {
        let tokens = CharTokenizer.tokenize(text);
        assert_eq!(tokens.len(), text.chars().count());
        assert_eq!(tokens.concat(), text);
    }
}

#[test]
fn tokenizers_behind_dyn_and_references() {
    let all: Vec<Box<dyn Tokenizer>> = vec![
        Box::new(BasicEnglish),
        Box::new(Whitespace),
        Box::new(CharTokenizer),
    ];
    let counts: Vec<usize> = all.iter().map(|t| t.tokenize("Hi, you.").len()).collect();
    assert_eq!(counts, [4, 2, 8]);
    let by_ref: &dyn Tokenizer = &BasicEnglish;
    assert_eq!((&by_ref).tokenize("A"), ["a"]);
}
