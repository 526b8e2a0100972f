//! A saved vocabulary (`vocab.json`): parsed, looked up, saved again.
#![no_main]

use torchlet_text::Vocab;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(vocab) = Vocab::from_json(json, "fuzz") else {
        return;
    };
    for (i, token) in vocab.itos().iter().enumerate() {
        assert_eq!(vocab.get(token), Some(i));
    }
    let _ = vocab.index("the");
    let _ = vocab.lookup_token(vocab.len());
    let again = Vocab::from_json(&vocab.to_json(), "again").expect("a saved vocab loads");
    assert_eq!(again.itos(), vocab.itos());
});
