//! ONNX's protobuf messages (`onnx.proto`, package `onnx`), generated once
//! by `onnx-export/codegen` with protox + prost-build and committed, so a
//! build needs no `protoc`. Regenerate with
//! `cargo run --manifest-path onnx-export/codegen/Cargo.toml`.
#![allow(missing_docs, clippy::all, rustdoc::all)]

include!("onnx.rs");
