//! `torchlet train --dataset fortunes`, `eval` and `generate` end to end.

mod common;

use common::{accuracy, assert_one_line_error, stderr, stdout, tiny_fortunes, torchlet};

/// The bag-of-subwords classifier on the embedded fortunes-4: 4 epochs
/// already beat PyTorch's bag model (66%); eval reloads the same number.
#[test]
fn bag_classifier_trains_on_embedded_fortunes() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("bag");
    let run_s = run.to_str().unwrap();
    let out = torchlet(&[
        "train",
        "--dataset",
        "fortunes",
        "--epochs",
        "4",
        "--quiet",
        "--out",
        run_s,
    ]);
    assert!(out.status.success(), "train failed: {}", stderr(&out));
    let acc = accuracy(&stdout(&out));
    assert!(acc >= 0.68, "test accuracy {acc}");
    for file in [
        "model.safetensors",
        "config.json",
        "vocab.json",
        "metrics.csv",
        "curves.png",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["task"], "text-classification");
    assert_eq!(config["tokenizer"], "subword");
    assert_eq!(config["classes"][3], "work");

    let eval = torchlet(&["eval", "--run", run_s]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert_eq!(accuracy(&stdout(&eval)), acc);

    let out = torchlet(&["generate", "--run", run_s, "--prompt", "x"]);
    assert_one_line_error(&out, "generate needs a charlm run");
}

/// The bag model with sparse embedding gradients (SparseAdam for the
/// table, Adam for the head; 15 epochs): within a point or two of dense
/// Adam (72.1% with seed 0), and eval reloads it.
#[test]
fn bag_with_sparse_embeddings_trains_with_sparse_adam() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("sparse");
    let run_s = run.to_str().unwrap();
    let out = torchlet(&[
        "train",
        "--dataset",
        "fortunes",
        "--sparse-embeddings",
        "--quiet",
        "--out",
        run_s,
    ]);
    assert!(out.status.success(), "train failed: {}", stderr(&out));
    let acc = accuracy(&stdout(&out));
    assert!(acc >= 0.70, "test accuracy {acc}");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["optimizer"], "sparse_adam+adam");
    assert_eq!(config["epochs"], 15);
    assert_eq!(config["model_options"]["sparse_embeddings"], true);
    let eval = torchlet(&["eval", "--run", run_s]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert_eq!(accuracy(&stdout(&eval)), acc);

    let out = torchlet(&[
        "train",
        "--dataset",
        "fortunes",
        "--model",
        "lstm",
        "--sparse-embeddings",
    ]);
    assert_one_line_error(
        &out,
        "--sparse-embeddings needs --dataset fortunes --model bag",
    );
    let out = torchlet(&[
        "train",
        "--dataset",
        "fortunes",
        "--sparse-embeddings",
        "--optimizer",
        "sgd",
    ]);
    assert_one_line_error(&out, "leave --optimizer at adam");
}

/// The sparse TF-IDF classifier with its default recipe (10 epochs, a
/// few seconds): at least 70% on the test texts, like the bag model;
/// eval reloads the vectorizer and gets the same number.
#[test]
fn tfidf_classifier_trains_on_embedded_fortunes() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("tfidf");
    let run_s = run.to_str().unwrap();
    let out = torchlet(&[
        "train",
        "--dataset",
        "fortunes",
        "--model",
        "tfidf",
        "--quiet",
        "--out",
        run_s,
    ]);
    assert!(out.status.success(), "train failed: {}", stderr(&out));
    let acc = accuracy(&stdout(&out));
    assert!(acc >= 0.70, "test accuracy {acc}");
    for file in [
        "model.safetensors",
        "config.json",
        "tfidf.json",
        "metrics.csv",
        "curves.png",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model"], "tfidf");
    assert_eq!(config["tokenizer"], "tfidf");

    let eval = torchlet(&["eval", "--run", run_s]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert_eq!(accuracy(&stdout(&eval)), acc);

    let onnx = dir.path().join("t.onnx");
    let out = torchlet(&["export", "--run", run_s, "--onnx", onnx.to_str().unwrap()]);
    assert_one_line_error(&out, "no ONNX lowering");
}

/// The recurrent classifiers and the char LM on `--data DIR`, then
/// `generate` continues a prompt with characters the model knows.
#[test]
fn recurrent_models_and_generate_on_a_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    tiny_fortunes(dir.path(), 6);
    let data = dir.path().to_str().unwrap();
    for model in ["lstm", "gru"] {
        let run = dir.path().join(model);
        let out = torchlet(&[
            "train",
            "--dataset",
            "fortunes",
            "--model",
            model,
            "--data",
            data,
            "--epochs",
            "6",
            "--batch-size",
            "4",
            "--lr",
            "0.01",
            "--quiet",
            "--out",
            run.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{model}: {}", stderr(&out));
        // Four classes with distinct vocabularies: easy.
        assert!(accuracy(&stdout(&out)) >= 0.9, "{model}: {}", stdout(&out));
        let eval = torchlet(&["eval", "--run", run.to_str().unwrap()]);
        assert_eq!(accuracy(&stdout(&eval)), accuracy(&stdout(&out)));
    }
    let run = dir.path().join("lm");
    let run_s = run.to_str().unwrap();
    let out = torchlet(&[
        "train",
        "--dataset",
        "fortunes",
        "--model",
        "charlm",
        "--data",
        data,
        "--epochs",
        "2",
        "--quiet",
        "--out",
        run_s,
    ]);
    assert!(out.status.success(), "charlm: {}", stderr(&out));
    assert!(stdout(&out).contains("sample: The "), "{}", stdout(&out));
    let gen = |seed: &str| {
        let out = torchlet(&[
            "generate", "--run", run_s, "--prompt", "the ", "--len", "40", "--seed", seed,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let text = gen("1");
    assert!(text.starts_with("the "), "{text}");
    assert_eq!(text, gen("1"), "same seed, same text");
    let known: std::collections::HashSet<char> =
        std::fs::read_to_string(dir.path().join("train.tsv"))
            .unwrap()
            .chars()
            .collect();
    assert!(
        text.trim_end().chars().all(|c| known.contains(&c)),
        "{text}"
    );
}

#[test]
fn text_options_are_checked() {
    let out = torchlet(&["train", "--dataset", "fortunes", "--model", "lenet"]);
    assert_one_line_error(
        &out,
        "with --dataset fortunes use bag, lstm, gru, charlm or tfidf",
    );
    let out = torchlet(&["train", "--model", "bag"]);
    assert_one_line_error(&out, "add --dataset fortunes");
    let out = torchlet(&["generate", "--run", "/no/such/run", "--prompt", "a"]);
    assert_one_line_error(&out, "does not exist");
    let dir = tempfile::tempdir().unwrap();
    let out = torchlet(&[
        "train",
        "--dataset",
        "fortunes",
        "--data",
        dir.path().to_str().unwrap(),
    ]);
    assert_one_line_error(&out, "train.tsv");
}
