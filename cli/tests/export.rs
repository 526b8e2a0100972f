//! `cli/src/export.rs`: a run folder exported to ONNX with its
//! normalisation folded in (the numbers are checked against onnxruntime by
//! `.ci/run`, see onnx-export/scripts/check_mnist_onnx.py).

#[allow(dead_code, unused_imports)]
#[path = "../src/run.rs"]
mod run;

#[allow(dead_code)]
#[path = "../src/export.rs"]
mod export;

use std::path::Path;

use run::{DatasetConfig, ModelOptions, Normalization, RunConfig, MNIST_MEAN, MNIST_STD};
use torchlet_nn::Module;
use torchlet_onnx::read_model;

fn config() -> RunConfig {
    RunConfig {
        torchlet_version: env!("CARGO_PKG_VERSION").into(),
        model: "lenet".into(),
        model_options: ModelOptions { batch_norm: true },
        num_classes: 10,
        in_channels: 1,
        image_size: [28, 28],
        classes: (0..10).map(|i| i.to_string()).collect(),
        normalize: Normalization {
            mean: vec![MNIST_MEAN],
            std: vec![MNIST_STD],
        },
        dataset: DatasetConfig {
            name: "mnist-embedded".into(),
            dir: None,
            train_samples: 8000,
            test_samples: 2000,
        },
        seed: 0,
        optimizer: "adam".into(),
        lr: 1e-3,
        lr_schedule: "constant".into(),
        momentum: 0.0,
        epochs: 1,
        batch_size: 64,
        threads: None,
        quantization: None,
        test_accuracy: None,
    }
}

fn write_run(dir: &Path) -> Box<dyn Module> {
    let config = config();
    let model = config.build_model().unwrap();
    torchlet_nn::state::save_safetensors(&*model, dir.join("model.safetensors")).unwrap();
    let json = serde_json::to_string_pretty(&config).unwrap();
    std::fs::write(dir.join("config.json"), json).unwrap();
    model
}

#[test]
fn export_run_folds_the_normalisation_into_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path());
    let onnx = dir.path().join("lenet.onnx");
    export::export_run(dir.path(), &onnx, 13).unwrap();
    let m = read_model(&onnx).unwrap();
    assert_eq!(m.opset_import[0].version(), 13);
    let g = m.graph.as_ref().unwrap();
    // raw [0, 1] pixels in, normalised by the first two nodes
    assert_eq!(g.input[0].name(), "input");
    assert_eq!(g.output[0].name(), "logits");
    let (sub, div) = (&g.node[0], &g.node[1]);
    assert_eq!((sub.op_type(), div.op_type()), ("Sub", "Div"));
    assert_eq!(sub.input[0], "input");
    assert_eq!(div.input[0], sub.output[0]);
    let value = |name: &str| -> Vec<u8> {
        let t = g.initializer.iter().find(|t| t.name() == name).unwrap();
        assert_eq!(t.dims, [1, 1, 1, 1]);
        t.raw_data.clone().unwrap()
    };
    assert_eq!(value(&sub.input[1]), MNIST_MEAN.to_le_bytes());
    assert_eq!(value(&div.input[1]), MNIST_STD.to_le_bytes());
    assert_eq!(g.node[2].op_type(), "Conv");
    assert_eq!(g.node[2].input[0], div.output[0]);
    // PyTorch's names for weights and buffers; nothing for the wrapper
    let names: Vec<&str> = g.initializer.iter().map(|t| t.name()).collect();
    for want in ["conv1.weight", "bn1.running_mean", "fc3.bias"] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    let meta: Vec<(&str, &str)> = m
        .metadata_props
        .iter()
        .map(|p| (p.key(), p.value()))
        .collect();
    assert!(meta
        .iter()
        .any(|(k, v)| *k == "classes" && v.starts_with("[\"0\"")));
    assert!(m.doc_string().contains("[0, 1]"));
}

#[test]
fn write_run_onnx_writes_model_onnx_and_errors_are_messages() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_run(dir.path());
    export::write_run_onnx(dir.path(), &config(), &*model).unwrap();
    let m = read_model(dir.path().join(export::RUN_ONNX)).unwrap();
    assert_eq!(m.opset_import[0].version(), torchlet_onnx::DEFAULT_OPSET);
    // no temporary file left behind
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 3);

    let missing = dir.path().join("nope");
    let err = export::export_run(&missing, &dir.path().join("x.onnx"), 17).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    let err = export::export_run(dir.path(), &dir.path().join("x.onnx"), 40).unwrap_err();
    assert!(err.to_string().contains("opset 40"), "{err}");
}
