//! The course's text lesson: "Text is an ordered sequence". The slide's
//! sentence tokenized, numericalized, embedded and read by an RNN, with
//! each stage's shape and values; then a real task, an LSTM classifying
//! the fortunes-4 texts (computers, politics, science, work). It reaches
//! about 45% (chance: 25%): 2,194 training texts are few for a recurrent
//! model, and a bag of words and subwords does better (72%, `torchlet
//! train --dataset fortunes`).
//!
//! `cargo run --release -p torchlet --example text_rnn [EPOCHS]`

use torchlet::nn::{Nonlinearity, RnnOptions};
use torchlet::prelude::*;
use torchlet::text::models::{RnnClassifier, RnnClassifierOptions};
use torchlet::text::{basic_english, BasicEnglish, BucketBatchSampler, Fortunes, PadCollate};
use torchlet::text::{Vocab, VocabOptions};

fn main() -> Result<()> {
    let epochs = std::env::args()
        .nth(1)
        .map_or(Ok(4), |s| s.parse())
        .expect("EPOCHS is a number");
    manual_seed(0);

    // Tokenize, numericalize, embed.
    let tokens = basic_english("Text is something different from images");
    println!("tokens: {tokens:?}");
    assert_eq!(
        tokens,
        ["text", "is", "something", "different", "from", "images"]
    );
    let vocab = Vocab::build([&tokens], VocabOptions::default())?;
    let ids = vocab.numericalize(&tokens)?;
    let pairs: Vec<String> = tokens
        .iter()
        .zip(&ids)
        .map(|(t, i)| format!("{t}:{i}"))
        .collect();
    println!("numericalized: [{}]", pairs.join(", "));
    let embedding = Embedding::new(vocab.len(), 4)?;
    let x = embedding.forward_indices(&Tensor::from_vec(ids.clone(), &[1, ids.len()])?)?;
    println!("embedded: {:?}, one 4-d vector per token\n{x}", x.shape());

    // An RNN reads the vectors in order; its hidden state carries what came before.
    let batch_first = RnnOptions::default().batch_first(true);
    let rnn = RNN::with_options(4, 3, Nonlinearity::Tanh, batch_first)?;
    let (outputs, h_n) = no_grad(|| rnn.forward_with_state(&x, None))?;
    println!(
        "RNN outputs: {:?}, a hidden state after each token\n{outputs}",
        outputs.shape()
    );
    assert_eq!(
        (x.shape(), outputs.shape(), h_n.shape()),
        (vec![1, 6, 4], vec![1, 6, 3], vec![1, 1, 3])
    );
    // Order matters: the same words backwards end in another state.
    let backwards: Vec<i64> = ids.iter().rev().copied().collect();
    let x_rev = embedding.forward_indices(&Tensor::from_vec(backwards, &[1, 6])?)?;
    let (_, h_rev) = no_grad(|| rnn.forward_with_state(&x_rev, None))?;
    println!("last state forwards {h_n}, backwards {h_rev}");
    assert!(!h_n.equal(&h_rev));

    // A real task: fortunes-4 with an LSTM classifier.
    let data = Fortunes::embedded()?;
    let options = VocabOptions {
        min_freq: 2,
        ..Default::default()
    };
    let vocab = data.train.build_vocab(&BasicEnglish, options)?;
    let train = data.train.encode(&BasicEnglish, &vocab)?;
    let test = data.test.encode(&BasicEnglish, &vocab)?;
    let pad = vocab.pad_index().expect("a <pad> token");
    let sampler = BucketBatchSampler::new(train.lengths(), 32)?.seed(0);
    let train = DataLoader::builder(train)
        .batch_sampler(sampler)
        .collate(PadCollate::new(pad));
    let train = train.build()?;
    let test = DataLoader::builder(test)
        .batch_size(256)
        .collate(PadCollate::new(pad))
        .build()?;
    let options = RnnClassifierOptions {
        pad_index: Some(pad),
        ..Default::default()
    };
    let model = RnnClassifier::new(vocab.len(), Fortunes::CLASSES.len(), options)?;
    let loss_fn = CrossEntropyLoss::new();
    let mut optimizer = Adam::new(model.parameters(), AdamOptions::default().lr(3e-3))?;
    let lengths = |t: &Tensor| -> Result<Vec<usize>> {
        Ok(t.to_vec::<i64>()?.into_iter().map(|n| n as usize).collect())
    };
    for epoch in 0..epochs {
        model.train();
        for batch in train.iter() {
            let (batch, labels) = batch?;
            let logits = model.forward_tokens(&batch.tokens, Some(&lengths(&batch.lengths)?))?;
            let loss = loss_fn.forward(&logits, &labels)?;
            optimizer.zero_grad();
            loss.backward()?;
            optimizer.step()?;
        }
        model.eval();
        let (mut correct, mut seen) = (0, 0);
        for batch in test.iter() {
            let (batch, labels) = batch?;
            let n = lengths(&batch.lengths)?;
            let logits = no_grad(|| model.forward_tokens(&batch.tokens, Some(&n)))?;
            correct += logits.argmax(1)?.eq(&labels)?.sum().item::<i64>()?;
            seen += labels.numel();
        }
        let accuracy = correct as f64 / seen as f64;
        println!("epoch {epoch}: test accuracy {accuracy:.3}");
        assert!(
            epoch + 1 < epochs || accuracy > 0.4,
            "4 classes: chance is 0.25"
        );
    }
    Ok(())
}
