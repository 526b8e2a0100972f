//! Image decoding as ImageFolder and `torchlet predict` read images.
#![no_main]

use torchlet_vision::{decode_image, ColorMode};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for mode in [ColorMode::Rgb, ColorMode::Gray] {
        if let Ok(t) = decode_image(data, "fuzz", mode) {
            assert_eq!(t.dim(), 3);
        }
    }
});
