//! The text models: PyTorch's text LSTM fixture loads into
//! `RnnClassifier` and gives PyTorch's output; padding never changes a
//! classifier's prediction; the bag model is a masked mean; the char LM
//! learns a sequence and samples reproducibly.

use serde_json::Value;
use torchlet_autograd::Variable;
use torchlet_nn::Module;
use torchlet_optim::{Adam, AdamOptions, Optimizer};
use torchlet_tensor::{manual_seed, Generator, Tensor};
use torchlet_text::models::{
    BagClassifier, CharLm, CharLmOptions, RecurrentKind, RnnClassifier, RnnClassifierOptions,
};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/models");

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// PyTorch: `embed Embedding(50,16,padding_idx=0) - lstm LSTM(16,24,
/// num_layers=2,batch_first) - head Linear(24,4)` on `h_n[-1]`.
#[test]
fn pytorch_text_lstm_fixture_loads_and_matches() {
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{ROOT}/text_lstm.json")).unwrap())
            .unwrap();
    let options = RnnClassifierOptions {
        kind: RecurrentKind::Lstm,
        embed_dim: 16,
        hidden_size: 24,
        num_layers: 2,
        pad_index: Some(0),
        ..Default::default()
    };
    let model = RnnClassifier::new(50, 4, options).unwrap();
    torchlet_nn::state::load_safetensors(&model, format!("{ROOT}/text_lstm.safetensors"), true)
        .unwrap();
    model.eval();
    let input: Vec<i64> = meta["input"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    let tokens = Tensor::from_vec(input, &[3, 7]).unwrap();
    let want = floats(&meta["output"]["data"]);
    // Without lengths (the fixture's full rows) and with full lengths.
    for lengths in [None, Some(&[7, 7, 7][..])] {
        let got = model
            .forward_tokens(&tokens, lengths)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-4, "{g} vs {w} (lengths {lengths:?})");
        }
    }
}

/// Each row of a padded batch, classified with lengths, gets exactly the
/// logits it gets alone, for LSTM and GRU, one or two directions, two
/// layers: padding does not leak into the final state.
#[test]
fn rnn_classifier_ignores_padding_given_lengths() {
    manual_seed(3);
    let pad = 1i64;
    let rows: [&[i64]; 3] = [&[5, 9, 12, 4, 7], &[8, 3], &[11, 6, 2, 10]];
    let mut padded = Vec::new();
    for r in rows {
        padded.extend_from_slice(r);
        padded.extend(std::iter::repeat_n(pad, 5 - r.len()));
    }
    let batch = Tensor::from_vec(padded, &[3, 5]).unwrap();
    let lengths: Vec<usize> = rows.iter().map(|r| r.len()).collect();
    for kind in [RecurrentKind::Lstm, RecurrentKind::Gru] {
        for bidirectional in [false, true] {
            let options = RnnClassifierOptions {
                kind,
                embed_dim: 6,
                hidden_size: 5,
                num_layers: 2,
                bidirectional,
                pad_index: Some(pad as usize),
                ..Default::default()
            };
            let model = RnnClassifier::new(13, 3, options).unwrap();
            model.eval();
            let all = model.forward_tokens(&batch, Some(&lengths)).unwrap().data();
            // Module::forward infers the same lengths from the padding.
            assert_eq!(model.infer_lengths(&batch).unwrap(), Some(lengths.clone()));
            let inferred = model.forward(&Variable::constant(batch.clone())).unwrap();
            assert_eq!(
                inferred.to_vec::<f32>().unwrap(),
                all.to_vec::<f32>().unwrap()
            );
            for (n, r) in rows.iter().enumerate() {
                let alone = Tensor::from_vec(r.to_vec(), &[1, r.len()]).unwrap();
                let want = model
                    .forward_tokens(&alone, None)
                    .unwrap()
                    .to_vec::<f32>()
                    .unwrap();
                let got = all.select(0, n as i64).unwrap().to_vec::<f32>().unwrap();
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() < 1e-5,
                        "{kind:?} bi={bidirectional} row {n}: {g} vs {w}"
                    );
                }
            }
        }
    }
}

#[test]
fn bag_classifier_is_a_masked_mean_then_linear() {
    manual_seed(5);
    let model = BagClassifier::new(10, 4, 3, Some(1), 0.5).unwrap();
    model.eval();
    let tokens = Tensor::from_vec(vec![2i64, 7, 1, 1], &[1, 4]).unwrap();
    let got = model
        .forward_tokens(&tokens)
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    let params: std::collections::BTreeMap<String, Variable> =
        model.named_parameters().into_iter().collect();
    let names: Vec<&str> = params.keys().map(String::as_str).collect();
    assert_eq!(names, ["embed.weight", "head.bias", "head.weight"]);
    let e = params["embed.weight"].to_vec::<f32>().unwrap();
    let w = params["head.weight"].to_vec::<f32>().unwrap();
    let b = params["head.bias"].to_vec::<f32>().unwrap();
    let mean: Vec<f32> = (0..4)
        .map(|k| (e[2 * 4 + k] + e[7 * 4 + k]) / 2.0)
        .collect();
    for c in 0..3 {
        let want: f32 = b[c] + (0..4).map(|k| w[c * 4 + k] * mean[k]).sum::<f32>();
        assert!(
            (got[c] - want).abs() < 1e-5,
            "class {c}: {} vs {want}",
            got[c]
        );
    }
    let err = model.forward_tokens(&Tensor::ones(&[1, 2])).unwrap_err();
    assert!(err.to_string().contains("int64"), "{err}");
}

/// A repeating sequence is learnt: after training, greedy generation
/// continues it, which needs the previous characters (after `a` comes `b`
/// or `c` depending on what came before).
#[test]
fn char_lm_learns_a_sequence_and_samples_reproducibly() {
    manual_seed(0);
    let pattern = [0i64, 1, 0, 2]; // a b a c a b a c ...
    let seq: Vec<i64> = pattern.iter().cycle().take(33).copied().collect();
    let inputs = Tensor::from_vec(seq[..32].to_vec(), &[1, 32]).unwrap();
    let targets = Tensor::from_vec(seq[1..].to_vec(), &[32]).unwrap();
    let options = CharLmOptions {
        embed_dim: 8,
        hidden_size: 16,
        ..Default::default()
    };
    let lm = CharLm::new(3, options).unwrap();
    let names: Vec<String> = lm.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "embed.weight",
            "lstm.weight_ih_l0",
            "lstm.weight_hh_l0",
            "lstm.bias_ih_l0",
            "lstm.bias_hh_l0",
            "head.weight",
            "head.bias"
        ]
    );
    let mut opt = Adam::new(
        lm.parameters(),
        AdamOptions {
            lr: 0.05,
            ..Default::default()
        },
    )
    .unwrap();
    for _ in 0..150 {
        let (logits, _) = lm.forward_with_state(&inputs, None).unwrap();
        let loss = torchlet_nn::CrossEntropyLoss::new()
            .forward(logits.reshape(&[32, 3]).unwrap(), &targets)
            .unwrap();
        opt.zero_grad();
        loss.backward().unwrap();
        opt.step().unwrap();
    }
    let greedy = lm
        .generate(&[0, 1, 0, 2, 0], 7, 0.0, &mut Generator::new(0))
        .unwrap();
    assert_eq!(greedy, [1, 0, 2, 0, 1, 0, 2]);
    let a = lm.generate(&[0], 20, 1.0, &mut Generator::new(9)).unwrap();
    let b = lm.generate(&[0], 20, 1.0, &mut Generator::new(9)).unwrap();
    assert_eq!(a, b);
    assert!(lm.is_training(), "generate restores training mode");
    assert!(lm.generate(&[], 3, 1.0, &mut Generator::new(0)).is_err());
    assert!(lm.generate(&[3], 3, 1.0, &mut Generator::new(0)).is_err());
    assert!(lm.generate(&[0], 3, -1.0, &mut Generator::new(0)).is_err());
}
