//! # torchlet-train
