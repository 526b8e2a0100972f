//! Vocabulary building, lookups and files.

use torchlet_text::{basic_english, TextError, Vocab, VocabOptions, BOS, EOS, PAD, UNK};

fn tokens(texts: &[&str]) -> Vec<Vec<String>> {
    texts.iter().map(|t| basic_english(t)).collect()
}

#[test]
fn specials_first_then_frequency_then_token() {
    let seqs = tokens(&["b a c a", "c a d", "e"]);
    // a: 3, c: 2, b d e: 1 each (ties alphabetical).
    let v = Vocab::build(&seqs, VocabOptions::default()).unwrap();
    assert_eq!(
        v.itos(),
        ["<unk>", "<pad>", "<bos>", "<eos>", "a", "c", "b", "d", "e"]
    );
    assert_eq!(v.specials(), [UNK, PAD, BOS, EOS]);
    assert_eq!(
        (v.unk_index(), v.pad_index(), v.bos_index(), v.eos_index()),
        (Some(0), Some(1), Some(2), Some(3))
    );
    assert_eq!(v.len(), 9);
    assert_eq!(v.default_index(), Some(0));
}

#[test]
fn min_freq_and_max_size() {
    let seqs = tokens(&["b a c a", "c a d", "e"]);
    let v = Vocab::build(
        &seqs,
        VocabOptions {
            min_freq: 2,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(&v.itos()[4..], ["a", "c"]);
    // max_size counts the specials (torchtext's max_tokens).
    let v = Vocab::build(
        &seqs,
        VocabOptions {
            max_size: Some(6),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(v.len(), 6);
    assert_eq!(&v.itos()[4..], ["a", "c"]);
    let err = Vocab::build(
        &seqs,
        VocabOptions {
            max_size: Some(3),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("max_size 3"), "{err}");
    let err = Vocab::build(
        &seqs,
        VocabOptions {
            min_freq: 0,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("min_freq"), "{err}");
}

#[test]
fn specials_in_the_stream_are_not_counted_twice() {
    let seqs = vec![vec!["<pad>", "x", "<pad>", "<unk>"]];
    let v = Vocab::build(&seqs, VocabOptions::default()).unwrap();
    assert_eq!(v.itos(), ["<unk>", "<pad>", "<bos>", "<eos>", "x"]);
    let err = Vocab::build(
        &seqs,
        VocabOptions {
            specials: vec!["<pad>".into(), "<pad>".into()],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("\"<pad>\" appears twice"), "{err}");
}

#[test]
fn unknown_tokens_and_default_index() {
    let seqs = tokens(&["hello world"]);
    let mut v = Vocab::build(&seqs, VocabOptions::default()).unwrap();
    assert_eq!(v.lookup_indices(&["world", "mars", ""]).unwrap(), [5, 0, 0]);
    assert_eq!(v.get("mars"), None);
    assert!(!v.contains("mars") && v.contains("hello"));
    v.set_default_index(Some(1)).unwrap();
    assert_eq!(v.index("mars").unwrap(), 1);
    assert!(v.set_default_index(Some(99)).is_err());
    v.set_default_index(None).unwrap();
    let err = v.index("mars").unwrap_err();
    assert!(
        matches!(&err, TextError::UnknownToken { token } if token == "mars"),
        "{err}"
    );

    // Without <unk> among the specials there is no default.
    let v = Vocab::build(
        &seqs,
        VocabOptions {
            specials: vec![PAD.into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(v.itos(), ["<pad>", "hello", "world"]);
    assert_eq!(v.default_index(), None);
    assert!(v.numericalize(&["nope"]).is_err());
}

#[test]
fn index_to_token_and_back() {
    let seqs = tokens(&["Ünïcode tökens, 東京 and 😀 😀"]);
    let v = Vocab::build(&seqs, VocabOptions::default()).unwrap();
    // 😀 twice first, then code-point order: "," < "and" < ... < "東京".
    assert_eq!(
        &v.itos()[4..],
        ["😀", ",", "and", "tökens", "ünïcode", "東京"]
    );
    for (i, t) in v.itos().iter().enumerate() {
        assert_eq!(v.index(t).unwrap(), i);
        assert_eq!(v.lookup_token(i).unwrap(), t);
    }
    assert_eq!(v.lookup_tokens(&[9, 4]).unwrap(), ["東京", "😀"]);
    let err = v.lookup_token(10).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Vocab::lookup_token: index 10 is out of range for a vocabulary of size 10"
    );
}

#[test]
fn empty_inputs() {
    let v = Vocab::build(Vec::<Vec<String>>::new(), VocabOptions::default()).unwrap();
    assert_eq!(v.len(), 4);
    let v = Vocab::build(
        [Vec::<String>::new()],
        VocabOptions {
            specials: vec![],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(v.is_empty());
    assert!(v.numericalize(&Vec::<String>::new()).unwrap().is_empty());
}

#[test]
fn new_and_append() {
    let mut v = Vocab::new(vec!["a".into(), "b".into()]).unwrap();
    assert_eq!(v.append_token("c").unwrap(), 2);
    assert!(v.append_token("a").is_err());
    assert!(Vocab::new(vec!["a".into(), "a".into()]).is_err());
    assert_eq!(v.specials().len(), 0);
}

#[test]
fn save_and_load() {
    let seqs = tokens(&["the cat", "the dog", "naïve 東京"]);
    let mut v = Vocab::build(&seqs, VocabOptions::default()).unwrap();
    v.set_default_index(Some(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vocab.json");
    v.save(&path).unwrap();
    let loaded = Vocab::load(&path).unwrap();
    assert_eq!(loaded, v);
    assert_eq!(loaded.default_index(), Some(1));
    assert_eq!(loaded.specials().len(), 4);
    // Overwriting keeps a single file (temporary file renamed over it).
    loaded.save(&path).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn load_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = Vocab::load(dir.path().join("absent.json")).unwrap_err();
    assert!(matches!(err, TextError::Io { .. }) && err.to_string().contains("absent.json"));
    let path = dir.path().join("dup.json");
    std::fs::write(
        &path,
        r#"{"version": 1, "tokens": ["a", "a"], "num_specials": 0, "default_index": null}"#,
    )
    .unwrap();
    let err = Vocab::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("dup.json") && err.contains("appears twice"),
        "{err}"
    );
    std::fs::write(
        &path,
        r#"{"version": 1, "tokens": ["a"], "num_specials": 0, "default_index": 3}"#,
    )
    .unwrap();
    let err = Vocab::load(&path).unwrap_err().to_string();
    assert!(err.contains("default_index 3"), "{err}");
    std::fs::write(&path, "[1, 2]").unwrap();
    assert!(Vocab::load(&path)
        .unwrap_err()
        .to_string()
        .contains("dup.json"));
    // Saving into a folder that does not exist names the target.
    let err = Vocab::new(vec![])
        .unwrap()
        .save(dir.path().join("no/such/dir/v.json"))
        .unwrap_err();
    assert!(err.to_string().contains("v.json"), "{err}");
}

proptest::proptest! {
    #[test]
    fn json_round_trips_any_tokens(
        seqs in proptest::collection::vec(proptest::collection::vec(".{0,6}", 0..10), 0..10),
        min_freq in 1usize..3,
    ) {
        let options = VocabOptions { min_freq, ..Default::default() };
        let v = Vocab::build(&seqs, options).unwrap();
        let back = Vocab::from_json(&v.to_json(), "p.json").unwrap();
        proptest::prop_assert_eq!(&back, &v);
        // Every kept token maps to its position; counts decide the order.
        for (i, t) in v.itos().iter().enumerate() {
            proptest::prop_assert_eq!(v.index(t).unwrap(), i);
        }
        let count = |t: &str| seqs.iter().flatten().filter(|s| s.as_str() == t).count();
        for pair in v.itos()[4..].windows(2) {
            let (a, b) = (count(&pair[0]), count(&pair[1]));
            proptest::prop_assert!(a > b || (a == b && pair[0] < pair[1]));
        }
    }
}
