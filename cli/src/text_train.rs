//! `torchlet train --dataset fortunes` and `torchlet eval` on a text run.

use std::path::Path;

use torchlet_text::{BucketBatchSampler, CharTokenizer, LmWindows, Tokenizer};
use torchlet_train::{write_atomic, BatchSource};

use crate::plot;
use crate::run::{accuracy_line, BoxError, DatasetConfig, Msg};
use crate::text::{
    build_vocab, classification_batches, decode_chars, defaults, encode, lm_batches, lm_text,
    load_fortunes, save_vocab, tokenizer, tokenizer_name, TextModel, TextRunConfig,
};
use crate::train::{
    create_folder, make_optimizer, make_trainer, optimizer_settings, out_folder, schedule_name,
    TrainArgs,
};

/// Batch size of evaluation passes over texts.
const EVAL_BATCH: usize = 256;

/// The training and test batches of `config`'s task over fortunes.
struct TextData {
    train: Box<dyn BatchSource>,
    test: Box<dyn BatchSource>,
}

/// The test batches of a text run (what `eval` scores).
pub fn test_batches(
    config: &TextRunConfig,
    fortunes: &torchlet_text::Fortunes,
    vocab: &torchlet_text::Vocab,
) -> Result<Box<dyn BatchSource>, BoxError> {
    Ok(text_data(config, fortunes, vocab, config.seed)?.test)
}

/// Tokenizes, numericalizes and batches the run's data.
fn text_data(
    config: &TextRunConfig,
    fortunes: &torchlet_text::Fortunes,
    vocab: &torchlet_text::Vocab,
    shuffle_seed: u64,
) -> Result<TextData, BoxError> {
    let tok = tokenizer(&config.tokenizer)?;
    if config.model == "charlm" {
        let seq_len = config.seq_len.unwrap_or(64);
        let windows = |texts| -> Result<LmWindows, BoxError> {
            let ids = vocab.numericalize(&CharTokenizer.tokenize(&lm_text(texts)))?;
            Ok(LmWindows::new(ids, seq_len)?)
        };
        return Ok(TextData {
            train: Box::new(lm_batches(
                windows(&fortunes.train)?,
                config.batch_size,
                Some(shuffle_seed),
            )),
            test: Box::new(lm_batches(windows(&fortunes.test)?, EVAL_BATCH, None)),
        });
    }
    let pad = vocab
        .pad_index()
        .ok_or_else(|| Msg("the vocabulary has no <pad> token".into()))? as i64;
    let (train_ids, train_labels) = encode(&config.model, &fortunes.train, &*tok, vocab)?;
    let (test_ids, test_labels) = encode(&config.model, &fortunes.test, &*tok, vocab)?;
    let lengths = |ids: &[Vec<i64>]| ids.iter().map(Vec::len).collect::<Vec<_>>();
    // Recurrent models read every padded step: batch similar lengths. The
    // bag model ignores padding: plain random batches (pools of one).
    let pool = if config.model == "bag" { 1 } else { 100 };
    let train_sampler = BucketBatchSampler::new(lengths(&train_ids), config.batch_size)?
        .pool_batches(pool)
        .seed(shuffle_seed);
    let test_sampler = BucketBatchSampler::new(lengths(&test_ids), EVAL_BATCH)?.shuffle(false);
    Ok(TextData {
        train: Box::new(classification_batches(
            train_ids,
            train_labels,
            pad,
            train_sampler,
        )),
        test: Box::new(classification_batches(
            test_ids,
            test_labels,
            pad,
            test_sampler,
        )),
    })
}

/// Runs `torchlet train --dataset fortunes --model NAME`.
pub fn train(args: &TrainArgs, name: &str) -> Result<(), BoxError> {
    if name == "tfidf" {
        return crate::tfidf::train(args, name);
    }
    let (epochs, batch_size, adam_lr, mut model_options, seq_len) = defaults(name);
    model_options.sparse_embeddings = args.sparse_embeddings;
    // SparseAdam is lazy: a row moves only in the steps that look it up
    // (dense Adam's momentum keeps moving it), so rare tokens learn
    // slower; 15 epochs (each ~2.4x faster) match dense Adam's 10.
    let epochs = args
        .epochs
        .unwrap_or(if args.sparse_embeddings { 15 } else { epochs });
    let batch_size = args.batch_size.unwrap_or(batch_size);
    let (mut optimizer, lr, momentum) = optimizer_settings(args, adam_lr)?;
    if args.sparse_embeddings {
        optimizer = "sparse_adam+adam";
    }
    let out = out_folder(args, name);
    let fortunes = load_fortunes(args.data.as_deref())?;
    let tokenizer_name = tokenizer_name(name);
    let vocab = build_vocab(name, &fortunes.train, &*tokenizer(tokenizer_name)?)?;
    let mut config = TextRunConfig {
        torchlet_version: env!("CARGO_PKG_VERSION").into(),
        task: if name == "charlm" {
            "char-lm"
        } else {
            "text-classification"
        }
        .into(),
        model: name.into(),
        tokenizer: tokenizer_name.into(),
        model_options,
        vocab_size: vocab.len(),
        classes: if name == "charlm" {
            Vec::new()
        } else {
            fortunes.classes().to_vec()
        },
        seq_len,
        dataset: DatasetConfig {
            name: if args.data.is_some() {
                "fortunes"
            } else {
                "fortunes-embedded"
            }
            .into(),
            dir: args
                .data
                .as_ref()
                .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone())),
            train_samples: fortunes.train.len(),
            test_samples: fortunes.test.len(),
        },
        seed: args.seed,
        optimizer: optimizer.into(),
        lr,
        lr_schedule: schedule_name(args).into(),
        momentum,
        epochs,
        batch_size,
        threads: args.threads,
        test_accuracy: None,
        quantization: None,
    };
    let data = text_data(&config, &fortunes, &vocab, args.seed)?;

    create_folder(&out)?;
    println!(
        "training {name} on {} ({} train / {} test texts, {} {} tokens), {optimizer} lr {lr}, batch {batch_size}, {epochs} epochs, seed {} -> {}",
        config.dataset.name,
        fortunes.train.len(),
        fortunes.test.len(),
        vocab.len(),
        tokenizer_name,
        args.seed,
        out.display()
    );
    torchlet_tensor::manual_seed(args.seed);
    let model = config.build_model(vocab.pad_index())?;
    let module = model.module();
    let mut opt: Box<dyn torchlet_optim::Optimizer> = if args.sparse_embeddings {
        Box::new(crate::optimizers::sparse_adam_and_adam(module, lr)?)
    } else {
        make_optimizer(args.optimizer, module.parameters(), lr, momentum)?
    };
    let batches = data.train.num_batches().unwrap_or(1);
    let mut trainer = make_trainer(args, epochs, &out, &mut *opt, batches)?;
    let history = trainer.fit(module, &mut *opt, &*data.train, Some(&*data.test))?;
    let acc = history
        .last()
        .and_then(|m| m.eval_acc)
        .ok_or_else(|| Msg("training produced no test accuracy".into()))?;
    config.test_accuracy = Some(acc);

    torchlet_nn::state::save_safetensors(module, out.join("model.safetensors"))?;
    save_vocab(&vocab, &out)?;
    plot::curves(&history.epochs, &out.join("curves.png"))?;
    let json = serde_json::to_string_pretty(&config)?;
    write_atomic(out.join("config.json"), format!("{json}\n").as_bytes())?;
    // Last, and not fatal: the run is complete and reloadable without it.
    crate::train::warn_on_onnx_error(
        crate::text_export::write_text_run_onnx(&out, &config, &vocab, &model),
        &out,
    );
    println!("run saved to {}", out.display());
    if let TextModel::Lm(lm) = &model {
        let prompt = "The ";
        let ids = vocab.numericalize(&CharTokenizer.tokenize(prompt))?;
        let sample = lm.0.generate(
            &ids,
            120,
            0.7,
            &mut torchlet_tensor::Generator::new(args.seed),
        )?;
        println!("sample: {prompt}{}", decode_chars(&vocab, &sample)?);
    }
    println!("{}", accuracy_line(acc));
    Ok(())
}

/// Runs `torchlet eval --run DIR [--data DIR]` on a text run.
pub fn eval(run: &Path, data: Option<&Path>) -> Result<(), BoxError> {
    let config = TextRunConfig::load(run)?;
    if config.model == "tfidf" {
        return crate::tfidf::eval(run, &config, data);
    }
    let (vocab, model) = config.load_run(run)?;
    let fortunes = load_fortunes(data.or(config.dataset.dir.as_deref()))?;
    let batches = text_data(&config, &fortunes, &vocab, config.seed)?;
    let metrics = torchlet_train::evaluate(model.module(), &*batches.test)?;
    println!("{}", accuracy_line(metrics.accuracy));
    Ok(())
}
