//! ResNet with BasicBlocks for small (CIFAR/MNIST-sized) images.

use std::sync::atomic::{AtomicBool, Ordering};

use torchlet_autograd::{no_grad, Variable};
use torchlet_nn::init::{kaiming_normal_, FanMode, Nonlinearity};
use torchlet_nn::{
    AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Conv2dOptions, Flatten, Linear, Module, NnError,
    Result, Sequential,
};

/// A 3×3 convolution without bias (`conv3x3` in torchvision), with
/// torchvision's Kaiming-normal (fan-out, ReLU) initialisation.
fn conv(in_planes: usize, out_planes: usize, kernel: usize, stride: usize) -> Result<Conv2d> {
    let c = Conv2d::with_options(
        in_planes,
        out_planes,
        [kernel, kernel],
        Conv2dOptions::default()
            .stride(stride)
            .padding(kernel / 2)
            .bias(false),
    )?;
    no_grad(|| kaiming_normal_(c.weight(), FanMode::FanOut, Nonlinearity::Relu))?;
    Ok(c)
}

/// torchvision's `BasicBlock`: `relu(bn2(conv2(relu(bn1(conv1(x))))) +
/// shortcut(x))`, where both convolutions are 3×3 (the first with the
/// block's stride) and the shortcut is the identity, or
/// `downsample` = 1×1 convolution + BatchNorm2d when the stride or the
/// width changes (ResNet "option B"). Parameter names: `conv1.weight`,
/// `bn1.*`, `conv2.weight`, `bn2.*`, `downsample.0.weight`,
/// `downsample.1.*`.
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    conv2: Conv2d,
    bn2: BatchNorm2d,
    downsample: Option<Sequential>,
    training: AtomicBool,
}

impl BasicBlock {
    /// A block from `in_planes` to `planes` channels with `stride` on the
    /// first convolution.
    pub fn new(in_planes: usize, planes: usize, stride: usize) -> Result<BasicBlock> {
        let downsample = if stride != 1 || in_planes != planes {
            Some(
                Sequential::new()
                    .append(conv(in_planes, planes, 1, stride)?)
                    .append(BatchNorm2d::new(planes)?),
            )
        } else {
            None
        };
        Ok(BasicBlock {
            conv1: conv(in_planes, planes, 3, stride)?,
            bn1: BatchNorm2d::new(planes)?,
            conv2: conv(planes, planes, 3, 1)?,
            bn2: BatchNorm2d::new(planes)?,
            downsample,
            training: AtomicBool::new(true),
        })
    }
}

impl Module for BasicBlock {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let out = self.bn1.forward(&self.conv1.forward(x)?)?.relu();
        let out = self.bn2.forward(&self.conv2.forward(&out)?)?;
        let identity = match &self.downsample {
            Some(d) => d.forward(x)?,
            None => x.clone(),
        };
        Ok(out.add(&identity)?.relu())
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        let mut out: Vec<(&str, &dyn Module)> = vec![
            ("conv1", &self.conv1),
            ("bn1", &self.bn1),
            ("conv2", &self.conv2),
            ("bn2", &self.bn2),
        ];
        if let Some(d) = &self.downsample {
            out.push(("downsample", d));
        }
        out
    }

    fn set_local_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }
}

/// The shape of a [`ResNet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResNetConfig {
    /// Input channels: 3 for CIFAR, 1 for MNIST.
    pub in_channels: usize,
    /// Output classes.
    pub num_classes: usize,
    /// BasicBlocks per stage; stage `k` (named `layer{k+1}`) has
    /// `base_width · 2^k` channels and halves the resolution (stride 2)
    /// except for the first.
    pub blocks: Vec<usize>,
    /// Channels of the stem and the first stage (16 in He et al.'s CIFAR
    /// ResNets).
    pub base_width: usize,
}

impl ResNetConfig {
    /// ResNet-`6n+2` for CIFAR (He et al. 2016, §4.2): three stages of `n`
    /// blocks with 16, 32 and 64 channels.
    pub fn cifar(n: usize, in_channels: usize, num_classes: usize) -> ResNetConfig {
        ResNetConfig {
            in_channels,
            num_classes,
            blocks: vec![n; 3],
            base_width: 16,
        }
    }
}

/// A ResNet of [`BasicBlock`]s for small images (He et al.'s CIFAR
/// ResNets, torchvision's module names): a 3×3 stem `conv1` (stride 1, no
/// max-pool) + `bn1` + ReLU, the stages `layer1`, `layer2`, … (each a
/// Sequential of blocks, so names read `layer2.0.conv1.weight`,
/// `layer2.0.downsample.0.weight`), adaptive average pooling to 1×1 (so
/// any input size works: 32×32 CIFAR, 28×28 MNIST), and `fc`.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::Module;
/// use torchlet_tensor::Tensor;
/// use torchlet_vision::models::ResNet;
///
/// let model = ResNet::resnet8(1, 10).unwrap(); // MNIST: 1 channel
/// model.eval();
/// let y = model.forward(&Variable::constant(Tensor::rand(&[2, 1, 28, 28]))).unwrap();
/// assert_eq!(y.shape(), [2, 10]);
/// ```
pub struct ResNet {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    layer_names: Vec<String>,
    layers: Vec<Sequential>,
    fc: Linear,
    training: AtomicBool,
}

impl ResNet {
    /// ResNet-8: three stages of one block (78,042 parameters for 3-channel
    /// input and 10 classes).
    pub fn resnet8(in_channels: usize, num_classes: usize) -> Result<ResNet> {
        ResNet::new(&ResNetConfig::cifar(1, in_channels, num_classes))
    }

    /// ResNet-20: three stages of three blocks (272,474 parameters for
    /// 3-channel input and 10 classes).
    pub fn resnet20(in_channels: usize, num_classes: usize) -> Result<ResNet> {
        ResNet::new(&ResNetConfig::cifar(3, in_channels, num_classes))
    }

    /// A ResNet of any [`ResNetConfig`].
    pub fn new(config: &ResNetConfig) -> Result<ResNet> {
        if config.blocks.is_empty() || config.blocks.contains(&0) || config.base_width == 0 {
            return Err(NnError::Config {
                module: "ResNet",
                message: format!(
                    "need at least one stage, each of at least one block, and a positive width; got blocks {:?}, base width {}",
                    config.blocks, config.base_width
                ),
            });
        }
        let conv1 = conv(config.in_channels, config.base_width, 3, 1)?;
        let bn1 = BatchNorm2d::new(config.base_width)?;
        let mut in_planes = config.base_width;
        let mut layers = Vec::new();
        for (stage, &n) in config.blocks.iter().enumerate() {
            let planes = config.base_width << stage;
            let mut layer = Sequential::new();
            for b in 0..n {
                let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                layer = layer.append(BasicBlock::new(in_planes, planes, stride)?);
                in_planes = planes;
            }
            layers.push(layer);
        }
        Ok(ResNet {
            conv1,
            bn1,
            layer_names: (1..=layers.len()).map(|i| format!("layer{i}")).collect(),
            layers,
            fc: Linear::new(in_planes, config.num_classes)?,
            training: AtomicBool::new(true),
        })
    }
}

impl Module for ResNet {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let mut x = self.bn1.forward(&self.conv1.forward(x)?)?.relu();
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        let x = AdaptiveAvgPool2d::new([1, 1]).forward(&x)?;
        self.fc.forward(&Flatten::new().forward(&x)?)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        let mut out: Vec<(&str, &dyn Module)> = vec![("conv1", &self.conv1), ("bn1", &self.bn1)];
        for (name, layer) in self.layer_names.iter().zip(&self.layers) {
            out.push((name.as_str(), layer));
        }
        out.push(("fc", &self.fc));
        out
    }

    fn set_local_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }
}
