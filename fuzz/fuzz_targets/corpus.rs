//! A plain-text corpus (the character LM's input): tokenized, its
//! vocabulary built, numericalized and cut into windows.
#![no_main]

use torchlet_text::{basic_english, Corpus, LmWindows, Vocab, VocabOptions};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let seq_len = data[0] as usize % 9;
    let corpus = Corpus::from_text(String::from_utf8_lossy(&data[1..]), "fuzz");
    let chars: Vec<Vec<String>> = corpus
        .lines()
        .map(|l| l.chars().map(String::from).collect())
        .collect();
    let words: Vec<Vec<String>> = corpus.lines().map(basic_english).collect();
    for seqs in [chars, words] {
        let Ok(vocab) = Vocab::build(seqs.iter(), VocabOptions::default()) else {
            continue;
        };
        let ids: Vec<i64> = seqs
            .iter()
            .flat_map(|s| vocab.numericalize(s).unwrap_or_default())
            .collect();
        let _ = LmWindows::new(ids, seq_len);
    }
});
