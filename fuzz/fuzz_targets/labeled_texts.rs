//! Labeled texts (TSV and CSV), then a vocabulary and their encoding.
#![no_main]

use torchlet_text::{basic_english, BasicEnglish, LabeledTexts, VocabOptions};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for parsed in [
        LabeledTexts::from_tsv_str(text, "fuzz"),
        LabeledTexts::from_csv_str(text, "fuzz"),
    ] {
        let Ok(set) = parsed else { continue };
        assert_eq!(set.texts().len(), set.labels().len());
        let _ = set
            .texts()
            .iter()
            .map(|t| basic_english(t).len())
            .sum::<usize>();
        if let Ok(vocab) = set.build_vocab(&BasicEnglish, VocabOptions::default()) {
            let _ = set.encode(&BasicEnglish, &vocab);
        }
    }
});
