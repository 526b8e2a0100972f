//! Reference models (`torchvision.models` and the classic small nets):
//! [`Mlp`] / [`mlp`], [`LeNet5`] and a CIFAR-style [`ResNet`]
//! (ResNet-8/20).
//!
//! Each is a torchlet-nn [`Module`](torchlet_nn::Module) whose parameter
//! names are those of the equivalent PyTorch code (given in each type's
//! docs), so a state dict saved by PyTorch loads unchanged with
//! `load_safetensors`, and PyTorch loads ours. Layers use PyTorch's default
//! initialisation (and torchvision's Kaiming init for the ResNet).

mod lenet;
mod mlp;
mod resnet;

pub use lenet::{LeNet5, LeNet5Options};
pub use mlp::{mlp, Mlp};
pub use resnet::{BasicBlock, ResNet, ResNetConfig};
