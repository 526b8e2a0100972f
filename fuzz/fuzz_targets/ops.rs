//! The public op API: a byte string decodes to a short program of tensor
//! and autograd ops (fuzz/src/program.rs), run forward and backward.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torchlet_fuzz::program::run(data));
