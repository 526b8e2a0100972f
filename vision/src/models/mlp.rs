//! The multilayer perceptron.

use std::sync::atomic::{AtomicBool, Ordering};

use torchlet_autograd::Variable;
use torchlet_nn::{Flatten, Linear, Module, NnError, Result};

/// A multilayer perceptron on flattened input: `Flatten`, then
/// `fc1 … fcK` Linear layers with ReLU between them (none after the last).
///
/// The equivalent PyTorch code, for [`mlp()`]:
///
/// ```python
/// class Mlp(nn.Module):
///     def __init__(self):
///         super().__init__()
///         self.fc1 = nn.Linear(784, 256)
///         self.fc2 = nn.Linear(256, 128)
///         self.fc3 = nn.Linear(128, 10)
///     def forward(self, x):
///         x = torch.flatten(x, 1)
///         return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
/// ```
pub struct Mlp {
    names: Vec<String>,
    layers: Vec<Linear>,
    training: AtomicBool,
}

/// The MNIST MLP 784-256-128-10 (235,146 parameters): takes `[N, 1, 28, 28]`
/// (or anything that flattens to 784 features) and returns `[N, 10]`
/// logits.
///
/// ```
/// use torchlet_autograd::Variable;
/// use torchlet_nn::Module;
/// use torchlet_tensor::Tensor;
///
/// let model = torchlet_vision::models::mlp().unwrap();
/// let y = model.forward(&Variable::constant(Tensor::zeros(&[2, 1, 28, 28]))).unwrap();
/// assert_eq!(y.shape(), [2, 10]);
/// ```
pub fn mlp() -> Result<Mlp> {
    Mlp::new(784, &[256, 128], 10)
}

impl Mlp {
    /// `in_features → hidden[0] → … → out_features`, layers named `fc1`,
    /// `fc2`, ….
    pub fn new(in_features: usize, hidden: &[usize], out_features: usize) -> Result<Mlp> {
        if in_features == 0 || out_features == 0 || hidden.contains(&0) {
            return Err(NnError::Config {
                module: "Mlp",
                message: format!(
                    "layer sizes must be positive, got {in_features}, {hidden:?}, {out_features}"
                ),
            });
        }
        let sizes: Vec<usize> = std::iter::once(in_features)
            .chain(hidden.iter().copied())
            .chain(std::iter::once(out_features))
            .collect();
        let layers = sizes
            .windows(2)
            .map(|w| Linear::new(w[0], w[1]))
            .collect::<Result<Vec<_>>>()?;
        let names = (1..=layers.len()).map(|i| format!("fc{i}")).collect();
        Ok(Mlp {
            names,
            layers,
            training: AtomicBool::new(true),
        })
    }

    /// The Linear layers, in order.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Variable) -> Result<Variable> {
        let mut x = Flatten::new().forward(x)?;
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(&x)?;
            if i < last {
                x = x.relu();
            }
        }
        Ok(x)
    }

    fn children(&self) -> Vec<(&str, &dyn Module)> {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.layers.iter().map(|l| l as &dyn Module))
            .collect()
    }

    fn set_local_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }
}
