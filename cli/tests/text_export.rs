//! Text runs as ONNX: `train` writes `model.onnx` and `export` rewrites
//! it; run by the ONNX interpreter of torchlet-onnx's tests on the whole
//! test split, padded to its longest text, the exported classifiers give
//! the reloaded model's logits and exactly `torchlet eval`'s accuracy (so
//! padding and lengths are handled in the graph), and the character LM
//! gives logits for every position.

mod common;
#[path = "../../onnx-export/tests/common/interp.rs"]
mod interp;

use std::path::Path;

use common::{accuracy, stderr, stdout, tiny_fortunes, torchlet};
use torchlet_autograd::Variable;
use torchlet_nn::Module;
use torchlet_tensor::Tensor;
use torchlet_text::models::{
    BagClassifier, CharLm, CharLmOptions, RecurrentKind, RnnClassifier, RnnClassifierOptions,
};
use torchlet_text::{get_tokenizer, SubwordNgrams, Tokenizer, Vocab};

fn train(data: &Path, run: &Path, model: &str) -> f64 {
    let out = torchlet(&[
        "train",
        "--dataset",
        "fortunes",
        "--model",
        model,
        "--data",
        data.to_str().unwrap(),
        "--epochs",
        "3",
        "--batch-size",
        "4",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{model}: {}", stderr(&out));
    accuracy(&stdout(&out))
}

/// The test split's texts as right-padded ids (the run's own
/// preprocessing) and their class indices.
fn encoded_test_split(data: &Path, run: &Path, model: &str) -> (Tensor, Vec<usize>) {
    let vocab = Vocab::load(run.join("vocab.json")).unwrap();
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    let classes: Vec<String> = serde_json::from_value(config["classes"].clone()).unwrap();
    let tokenizer: Box<dyn Tokenizer> = if model == "bag" {
        Box::new(SubwordNgrams::new(3, 5))
    } else {
        get_tokenizer("basic_english").unwrap()
    };
    let unk = vocab.unk_index().map(|u| u as i64);
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    let tsv = std::fs::read_to_string(data.join("test.tsv")).unwrap();
    for line in tsv.lines().skip(1) {
        let (label, text) = line.split_once('\t').unwrap();
        let mut ids = vocab.numericalize(&tokenizer.tokenize(text)).unwrap();
        if model == "bag" {
            // Each token once, unknown tokens left out (the metadata says so).
            let mut seen = std::collections::HashSet::new();
            ids.retain(|&i| Some(i) != unk && seen.insert(i));
        }
        rows.push(ids);
        labels.push(classes.iter().position(|c| c == label).unwrap());
    }
    let pad = vocab.pad_index().unwrap() as i64;
    let width = rows.iter().map(Vec::len).max().unwrap();
    let flat: Vec<i64> = rows
        .iter()
        .flat_map(|r| r.iter().copied().chain(std::iter::repeat(pad)).take(width))
        .collect();
    (
        Tensor::from_vec(flat, &[rows.len(), width]).unwrap(),
        labels,
    )
}

/// The run's classifier rebuilt from `config.json` and its weights.
fn reloaded(run: &Path, model: &str) -> Box<dyn Module> {
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    let o = &config["model_options"];
    let size = |k: &str| o[k].as_u64().unwrap() as usize;
    let vocab = config["vocab_size"].as_u64().unwrap() as usize;
    let pad = Vocab::load(run.join("vocab.json")).unwrap().pad_index();
    let dropout = o["dropout"].as_f64().unwrap();
    let m: Box<dyn Module> = if model == "bag" {
        Box::new(BagClassifier::new(vocab, size("embed_dim"), 4, pad, dropout).unwrap())
    } else {
        let options = RnnClassifierOptions {
            kind: RecurrentKind::Gru,
            embed_dim: size("embed_dim"),
            hidden_size: size("hidden_size"),
            num_layers: size("num_layers"),
            bidirectional: o["bidirectional"].as_bool().unwrap(),
            dropout,
            pad_index: pad,
        };
        Box::new(RnnClassifier::new(vocab, 4, options).unwrap())
    };
    torchlet_nn::state::load_safetensors(&*m, run.join("model.safetensors"), true).unwrap();
    m.eval();
    m
}

#[test]
fn exported_text_classifiers_reproduce_eval_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    tiny_fortunes(dir.path(), 5);
    for model in ["bag", "gru"] {
        let run = dir.path().join(model);
        train(dir.path(), &run, model);
        let eval = accuracy(&stdout(&torchlet(&[
            "eval",
            "--run",
            run.to_str().unwrap(),
        ])));
        let onnx = dir.path().join(format!("{model}13.onnx"));
        let out = torchlet(&[
            "export",
            "--run",
            run.to_str().unwrap(),
            "--onnx",
            onnx.to_str().unwrap(),
            "--opset",
            "13",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let (tokens, labels) = encoded_test_split(dir.path(), &run, model);
        let want = reloaded(&run, model).forward(&Variable::constant(tokens.clone()));
        let want = want.unwrap().data();
        for file in [run.join("model.onnx"), onnx] {
            let proto = torchlet_onnx::read_model(&file).unwrap();
            let logits = interp::run(&proto, &tokens).unwrap();
            let diff = interp::max_abs_diff(&logits, &want);
            assert!(
                diff < 1e-5,
                "{model} {}: max abs diff {diff}",
                file.display()
            );
            assert_eq!(logits.shape(), [labels.len(), 4]);
            let predicted = logits.argmax(1).unwrap().to_vec::<i64>().unwrap();
            let correct = predicted
                .iter()
                .zip(&labels)
                .filter(|(p, l)| **p as usize == **l)
                .count();
            let acc = correct as f64 / labels.len() as f64;
            assert!(
                (acc - eval).abs() < 1e-4,
                "{model} {}: onnx {acc}, eval {eval}",
                file.display()
            );
        }
    }
}

#[test]
fn exported_char_lm_gives_logits_per_position() {
    let dir = tempfile::tempdir().unwrap();
    tiny_fortunes(dir.path(), 2);
    let run = dir.path().join("lm");
    train(dir.path(), &run, "charlm");
    let proto = torchlet_onnx::read_model(run.join("model.onnx")).unwrap();
    let meta: Vec<(&str, &str)> = proto
        .metadata_props
        .iter()
        .map(|p| (p.key(), p.value()))
        .collect();
    assert!(meta.contains(&("task", "char-lm")), "{meta:?}");
    let vocab = Vocab::load(run.join("vocab.json")).unwrap();
    let ids = vocab
        .numericalize(&"the lab".chars().map(String::from).collect::<Vec<_>>())
        .unwrap();
    let x = Tensor::from_vec(ids.repeat(2), &[2, 7]).unwrap();
    let logits = interp::run(&proto, &x).unwrap();
    assert_eq!(logits.shape(), [2, 7, vocab.len()]);
    // The same logits as the run's CharLm rebuilt from its weights.
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    let o = &config["model_options"];
    let size = |k: &str| o[k].as_u64().unwrap() as usize;
    let options = CharLmOptions {
        embed_dim: size("embed_dim"),
        hidden_size: size("hidden_size"),
        num_layers: size("num_layers"),
        dropout: o["dropout"].as_f64().unwrap(),
    };
    let lm = CharLm::new(vocab.len(), options).unwrap();
    torchlet_nn::state::load_safetensors(&lm, run.join("model.safetensors"), true).unwrap();
    lm.eval();
    let want = lm.forward(&Variable::constant(x)).unwrap().data();
    let diff = interp::max_abs_diff(&logits, &want);
    assert!(diff < 1e-5, "char LM: max abs diff {diff}");
}
