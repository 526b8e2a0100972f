//! The `torchlet` command's code as a library, so that its fuzz targets
//! (`fuzz/`) and tests reach the run-folder readers; the command itself
//! is `src/main.rs`. Not a stable API: use the command, or the crates it
//! is built from.

pub mod bench;
pub mod distributed;
pub mod export;
pub mod graph;
pub mod jit;
pub mod optimizers;
pub mod plot;
pub mod predict;
pub mod quantize;
pub mod run;
pub mod seed;
pub mod serve;
pub mod text;
pub mod text_export;
pub mod text_train;
pub mod tfidf;
pub mod train;
