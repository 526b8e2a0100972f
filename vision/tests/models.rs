//! Models: output shapes, parameter counts computed by hand (equal to
//! PyTorch's `sum(p.numel() for p in model.parameters())`), PyTorch names,
//! and loading the PyTorch-written fixtures in `conformance/models`.

use std::path::PathBuf;

use torchlet_autograd::{no_grad, Variable};
use torchlet_nn::Module;
use torchlet_tensor::Tensor;
use torchlet_vision::models::{mlp, LeNet5, LeNet5Options, ResNet, ResNetConfig};

fn count(m: &dyn Module) -> usize {
    m.parameters()
        .iter()
        .map(|p| p.shape().iter().product::<usize>())
        .sum()
}

fn names(m: &dyn Module) -> Vec<String> {
    m.named_parameters().into_iter().map(|(n, _)| n).collect()
}

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conformance/models"
    ))
}

#[test]
fn mlp_shapes_names_count() {
    let m = mlp().unwrap();
    // 784·256 + 256 + 256·128 + 128 + 128·10 + 10
    assert_eq!(count(&m), 200_960 + 32_896 + 1_290);
    assert_eq!(
        names(&m),
        [
            "fc1.weight",
            "fc1.bias",
            "fc2.weight",
            "fc2.bias",
            "fc3.weight",
            "fc3.bias"
        ]
    );
    let y = m
        .forward(&Variable::constant(Tensor::rand(&[3, 1, 28, 28])))
        .unwrap();
    assert_eq!(y.shape(), [3, 10]);
    m.eval();
    assert!(!m.is_training());
}

#[test]
fn lenet5_shapes_names_count() {
    let m = LeNet5::new().unwrap();
    // conv1 1·6·25 + 6 = 156, conv2 6·16·25 + 16 = 2,416, fc1 400·120 + 120
    // = 48,120, fc2 120·84 + 84 = 10,164, fc3 84·10 + 10 = 850.
    assert_eq!(count(&m), 61_706);
    assert_eq!(
        names(&m),
        [
            "conv1.weight",
            "conv1.bias",
            "conv2.weight",
            "conv2.bias",
            "fc1.weight",
            "fc1.bias",
            "fc2.weight",
            "fc2.bias",
            "fc3.weight",
            "fc3.bias"
        ]
    );
    let y = m
        .forward(&Variable::constant(Tensor::rand(&[2, 1, 28, 28])))
        .unwrap();
    assert_eq!(y.shape(), [2, 10]);

    let bn = LeNet5::with_batch_norm().unwrap();
    // + 2·6 (bn1) + 2·16 (bn2)
    assert_eq!(count(&bn), 61_706 + 12 + 32);
    let keys: Vec<String> = bn.state_dict().into_keys().collect();
    assert!(keys.contains(&"bn1.running_mean".to_string()));
    assert!(keys.contains(&"bn2.num_batches_tracked".to_string()));
    bn.train();
    let y = bn
        .forward(&Variable::constant(Tensor::rand(&[4, 1, 28, 28])))
        .unwrap();
    assert_eq!(y.shape(), [4, 10]);
    bn.eval();
    assert!(!bn.is_training());
    // A 32x32 input does not flatten to 400 features: an error, not a panic.
    assert!(m
        .forward(&Variable::constant(Tensor::rand(&[1, 1, 32, 32])))
        .is_err());
}

#[test]
fn resnet_shapes_names_count() {
    let r20 = ResNet::resnet20(3, 10).unwrap();
    // He et al.'s ResNet-20 has 269,722 parameters with the parameter-free
    // shortcut; the 1x1 conv + BN shortcuts add 16·32 + 2·32 and 32·64 + 2·64.
    assert_eq!(count(&r20), 269_722 + 576 + 2_176);
    let r8 = ResNet::resnet8(3, 10).unwrap();
    // conv1 432 + bn1 32; layer1 2·2304 + 64; layer2 4608 + 9216 + 128 + 512 + 64;
    // layer3 18432 + 36864 + 256 + 2048 + 128; fc 650.
    assert_eq!(count(&r8), 78_042);
    let n = names(&r8);
    for want in [
        "conv1.weight",
        "bn1.weight",
        "layer1.0.conv1.weight",
        "layer1.0.bn2.bias",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.weight",
        "layer3.0.conv2.weight",
        "fc.weight",
        "fc.bias",
    ] {
        assert!(n.contains(&want.to_string()), "missing {want} in {n:?}");
    }
    assert!(!n.iter().any(|k| k.starts_with("layer1.0.downsample")));
    assert!(
        !n.contains(&"conv1.bias".to_string()),
        "ResNet convs have no bias"
    );
    assert!(r20.state_dict().contains_key("layer3.2.bn2.running_var"));

    r8.train();
    let y = r8
        .forward(&Variable::constant(Tensor::rand(&[2, 3, 32, 32])))
        .unwrap();
    assert_eq!(y.shape(), [2, 10]);
    // MNIST-sized input through a 1-channel ResNet.
    let mnist = ResNet::resnet8(1, 10).unwrap();
    mnist.eval();
    let y = mnist
        .forward(&Variable::constant(Tensor::rand(&[2, 1, 28, 28])))
        .unwrap();
    assert_eq!(y.shape(), [2, 10]);
    assert_eq!(count(&mnist), 78_042 - 2 * 16 * 9);
    // Gradients reach the stem.
    let loss = r8
        .forward(&Variable::constant(Tensor::rand(&[2, 3, 8, 8])))
        .unwrap()
        .sum();
    loss.backward().unwrap();
    assert!(r8.named_parameters()[0].1.grad().is_some());
    assert!(ResNet::new(&ResNetConfig {
        blocks: vec![],
        ..ResNetConfig::cifar(1, 3, 10)
    })
    .is_err());
}

#[test]
fn pytorch_state_dicts_load_strictly() {
    // Written by PyTorch for the same architectures (see conformance/README.md).
    let m = mlp().unwrap();
    m.load_safetensors(fixtures().join("mlp.safetensors"), true)
        .unwrap();
    let lenet = LeNet5::with_options(LeNet5Options {
        batch_norm: [true, false],
        ..LeNet5Options::default()
    })
    .unwrap();
    lenet
        .load_safetensors(fixtures().join("lenet_bn.safetensors"), true)
        .unwrap();
    // Strict loading into the wrong architecture fails by name.
    let e = LeNet5::with_batch_norm()
        .unwrap()
        .load_safetensors(fixtures().join("lenet_bn.safetensors"), true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bn2"), "{e}");

    // And the loaded LeNet reproduces PyTorch's eval-mode output.
    let json = std::fs::read_to_string(fixtures().join("lenet_bn.json")).unwrap();
    let (input, in_shape) = array_after(&json, "\"input\"");
    let (output, out_shape) = array_after(&json, "\"output\"");
    lenet.eval();
    let y = no_grad(|| {
        lenet.forward(&Variable::constant(
            Tensor::from_vec(input, &in_shape).unwrap(),
        ))
    })
    .unwrap();
    assert_eq!(y.shape(), out_shape);
    for (a, b) in y.data().to_vec::<f32>().unwrap().iter().zip(&output) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
}

/// The `"shape"` and `"data"` arrays of the JSON object after `key` (the
/// fixture format of nn/tests/model_fixtures.rs), without a JSON crate.
fn array_after(json: &str, key: &str) -> (Vec<f32>, Vec<usize>) {
    let obj = &json[json.find(key).unwrap()..];
    let list = |name: &str| -> &str {
        let start = obj.find(name).unwrap() + name.len();
        let open = start + obj[start..].find('[').unwrap() + 1;
        let close = open + obj[open..].find(']').unwrap();
        &obj[open..close]
    };
    let shape = list("\"shape\"")
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let data = list("\"data\"")
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    (data, shape)
}
