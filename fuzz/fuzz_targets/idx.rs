//! IDX files, raw or gzip (MNIST's format): any array, images, labels.
#![no_main]

use torchlet_vision::idx::{parse_idx, parse_idx_images, parse_idx_labels};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(array) = parse_idx(data, "fuzz") {
        assert_eq!(array.data.len(), array.dims.iter().product::<usize>());
    }
    if let Ok(images) = parse_idx_images(data, "fuzz") {
        assert_eq!(
            images.pixels.len(),
            images.count * images.rows * images.cols
        );
    }
    let _ = parse_idx_labels(data, "fuzz");
});
