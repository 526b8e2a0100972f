//! A saved BPE tokenizer: parsed, then encoding and decoding text.
#![no_main]

use torchlet_text::BpeTokenizer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(bpe) = BpeTokenizer::from_json(json, "fuzz") else {
        return;
    };
    let text = "Hello, wörld! 12 fortunes\n";
    let ids = bpe.encode(text);
    if let Ok(bytes) = bpe.decode_bytes(&ids) {
        assert_eq!(bytes, text.as_bytes());
    }
    let _ = bpe.decode(&[bpe.vocab_size()]);
    let again = BpeTokenizer::from_json(&bpe.to_json(), "again").expect("a saved tokenizer loads");
    assert_eq!(again.encode(text), ids);
});
