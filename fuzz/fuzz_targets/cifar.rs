//! CIFAR-10 and CIFAR-100 binary batches, then a sample of each dataset.
#![no_main]

use torchlet_data::Dataset;
use torchlet_vision::cifar::{parse_cifar100_batch, parse_cifar10_batch};
use torchlet_vision::{Cifar10, Cifar100, Cifar100Label};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = parse_cifar10_batch(data, "fuzz") {
        if let Ok(set) = Cifar10::from_batch(batch) {
            let _ = set.get(0);
        }
    }
    if let Ok(batch) = parse_cifar100_batch(data, "fuzz") {
        for label in [Cifar100Label::Fine, Cifar100Label::Coarse] {
            if let Ok(set) = Cifar100::from_batch(batch.clone(), label) {
                let _ = set.get(set.len().saturating_sub(1));
            }
        }
    }
});
