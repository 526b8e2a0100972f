//! LeNet-5.

use std::sync::atomic::AtomicBool;

use torchlet_autograd::Variable;
use torchlet_nn::{BatchNorm2d, Conv2d, Conv2dOptions, Flatten, Linear, MaxPool2d, Module, Result};

/// Options of [`LeNet5`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeNet5Options {
    /// Input channels (1 for MNIST).
    pub in_channels: usize,
    /// Output classes (10).
    pub num_classes: usize,
    /// Whether a BatchNorm2d follows `[conv1, conv2]` (named `bn1`, `bn2`).
    pub batch_norm: [bool; 2],
}

impl Default for LeNet5Options {
    fn default() -> Self {
        LeNet5Options {
            in_channels: 1,
            num_classes: 10,
            batch_norm: [false, false],
        }
    }
}

/// LeNet-5 for 28×28 input (`[N, C, 28, 28]` → `[N, classes]`):
/// `conv1` 5×5 C→6 with padding 2, (`bn1`), ReLU, max-pool 2, `conv2` 5×5
/// 6→16, (`bn2`), ReLU, max-pool 2, flatten (16·5·5 = 400), `fc1` 400→120,
/// ReLU, `fc2` 120→84, ReLU, `fc3` 84→classes. 61,706 parameters without
/// BatchNorm.
///
/// The equivalent PyTorch code (the optional `bn1`/`bn2` are
/// `nn.BatchNorm2d(6)`/`(16)` applied before the ReLU):
///
/// ```python
/// class LeNet5(nn.Module):
///     def __init__(self):
///         super().__init__()
///         self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
///         self.conv2 = nn.Conv2d(6, 16, 5)
///         self.fc1 = nn.Linear(400, 120)
///         self.fc2 = nn.Linear(120, 84)
///         self.fc3 = nn.Linear(84, 10)
///     def forward(self, x):
///         x = F.max_pool2d(F.relu(self.conv1(x)), 2)
///         x = F.max_pool2d(F.relu(self.conv2(x)), 2)
///         x = torch.flatten(x, 1)
///         return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
/// ```
#[derive(Module)]
pub struct LeNet5 {
    conv1: Conv2d,
    bn1: Option<BatchNorm2d>,
    conv2: Conv2d,
    bn2: Option<BatchNorm2d>,
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
    #[module(training)]
    training: AtomicBool,
}

impl LeNet5 {
    /// The plain LeNet-5 for MNIST (1 channel, 10 classes).
    pub fn new() -> Result<LeNet5> {
        LeNet5::with_options(LeNet5Options::default())
    }

    /// LeNet-5 with a BatchNorm2d after each convolution.
    pub fn with_batch_norm() -> Result<LeNet5> {
        LeNet5::with_options(LeNet5Options {
            batch_norm: [true, true],
            ..LeNet5Options::default()
        })
    }

    /// LeNet-5 with explicit options.
    pub fn with_options(options: LeNet5Options) -> Result<LeNet5> {
        let [b1, b2] = options.batch_norm;
        Ok(LeNet5 {
            conv1: Conv2d::with_options(
                options.in_channels,
                6,
                [5, 5],
                Conv2dOptions::default().padding(2),
            )?,
            bn1: b1.then(|| BatchNorm2d::new(6)).transpose()?,
            conv2: Conv2d::new(6, 16, 5)?,
            bn2: b2.then(|| BatchNorm2d::new(16)).transpose()?,
            fc1: Linear::new(16 * 5 * 5, 120)?,
            fc2: Linear::new(120, 84)?,
            fc3: Linear::new(84, options.num_classes)?,
            training: AtomicBool::new(true),
        })
    }
}

impl LeNet5 {
    /// The logits of `x` (`[N, C, 28, 28]` → `[N, classes]`).
    pub fn forward(&self, x: &Variable) -> Result<Variable> {
        let pool = MaxPool2d::new(2);
        let block = |x: &Variable, conv: &Conv2d, bn: &Option<BatchNorm2d>| -> Result<Variable> {
            let mut y = conv.forward(x)?;
            if let Some(bn) = bn {
                y = bn.forward(&y)?;
            }
            pool.forward(&y.relu())
        };
        let x = block(x, &self.conv1, &self.bn1)?;
        let x = block(&x, &self.conv2, &self.bn2)?;
        let x = Flatten::new().forward(&x)?;
        let x = self.fc1.forward(&x)?.relu();
        let x = self.fc2.forward(&x)?.relu();
        self.fc3.forward(&x)
    }
}
