//! The text pipeline on the built-in fortunes: tokenize, build a
//! vocabulary, numericalize, bucket and pad batches; then train a small
//! byte-level BPE on the same texts.
//!
//! ```sh
//! cargo run --release -p torchlet-text --example fortunes
//! ```

use torchlet_data::DataLoader;
use torchlet_text::{
    BasicEnglish, BpeTokenizer, BucketBatchSampler, Fortunes, PadCollate, Tokenizer, VocabOptions,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = Fortunes::embedded()?;
    println!(
        "fortunes-4: {} train / {} test texts, classes {:?}",
        data.train.len(),
        data.test.len(),
        data.classes()
    );
    let first = &data.train.texts()[0];
    println!("text:   {first}");
    println!("tokens: {:?}", BasicEnglish.tokenize(first));

    let options = VocabOptions {
        min_freq: 2,
        ..Default::default()
    };
    let vocab = data.train.build_vocab(&BasicEnglish, options)?;
    println!(
        "vocabulary: {} tokens (min_freq 2), first words {:?}",
        vocab.len(),
        &vocab.itos()[4..12]
    );
    let train = data.train.encode(&BasicEnglish, &vocab)?;
    println!("indices: {:?}", train.ids()[0]);

    let sampler = BucketBatchSampler::new(train.lengths(), 8)?.seed(0);
    let loader = DataLoader::builder(train)
        .batch_sampler(sampler)
        .collate(PadCollate::new(vocab.pad_index().unwrap_or(0)))
        .build()?;
    let (batch, labels) = loader.iter().next().unwrap()?;
    println!(
        "a bucketed batch: tokens {:?}, lengths {:?}, labels {:?}",
        batch.tokens.shape(),
        batch.lengths_vec(),
        labels.to_vec::<i64>()?
    );
    println!("{}", batch.tokens);

    let bpe = BpeTokenizer::train(data.train.texts(), 1000)?;
    let sample = "Computers are useless. They can only give you answers. — Picasso";
    let ids = bpe.encode(sample);
    println!(
        "byte-level BPE ({} tokens): {:?}",
        bpe.vocab_size(),
        bpe.tokenize(sample)
    );
    assert_eq!(bpe.decode(&ids)?, sample);
    println!(
        "{} bytes → {} ids, decoded back exactly",
        sample.len(),
        ids.len()
    );
    Ok(())
}
