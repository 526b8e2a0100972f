//! # torchlet-vision
