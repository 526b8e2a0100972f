//! # torchlet-text
//!
//! `torchtext` for torchlet: tokenizers, vocabularies, numericalization,
//! padding and bucketing, and text datasets.
//!
//! | torchtext / PyTorch | torchlet-text |
//! |---|---|
//! | `get_tokenizer("basic_english")`, `get_tokenizer(None)` | [`basic_english`] / [`BasicEnglish`], [`Whitespace`], [`get_tokenizer`]; [`CharTokenizer`] (`list(text)`) |
//! | a trained BPE (`tokenizers`' `ByteLevelBPETokenizer`) | [`BpeTokenizer`] (byte-level, exact round trips, JSON files) |
//! | `build_vocab_from_iterator(it, min_freq, specials, max_tokens)`, `Vocab` | [`Vocab::build`] with [`VocabOptions`], [`Vocab`] |
//! | `Truncate`, `PadTransform`, `AddToken` | [`truncate_pad`], [`add_bos_eos`] |
//! | `pad_sequence(batch_first=True)` + lengths + `key_padding_mask` | [`pad_batch`] → [`PaddedBatch`]; [`PadCollate`] for a `DataLoader` |
//! | `BucketIterator` | [`BucketBatchSampler`] (a [`torchlet_data::BatchSampling`]) |
//! | `AG_NEWS`-style `(label, text)` datasets | [`LabeledTexts`] (TSV/CSV), [`EncodedTexts`], [`Fortunes`] (built in), [`Corpus`] |
//! | `word_language_model`'s `batchify`/`get_batch` | [`LmWindows`] (next-token windows, batch first) |
//! | scikit-learn's `TfidfVectorizer` | [`TfidfVectorizer`] (word and in-word character n-grams, smooth idf, l2 rows; a sparse CSR matrix) |
//! | fastText's subword features | [`SubwordNgrams`] (words plus their character n-grams) |
//!
//! [`models`] holds the text models, with PyTorch's parameter names:
//! [`BagClassifier`](models::BagClassifier) (torchtext's
//! `TextClassificationModel`), [`RnnClassifier`](models::RnnClassifier)
//! (LSTM/GRU reading each text to its own length),
//! [`CharLm`](models::CharLm) (a character-level language model with
//! sampling) and [`TfidfClassifier`](models::TfidfClassifier) (linear over
//! sparse TF-IDF rows).
//!
//! Every tokenizer implements [`Tokenizer`], so a model or the CLI can hold
//! a `Box<dyn Tokenizer>`. Batches are **batch first**: token indices
//! `[N, T]` int64, lengths `[N]` int64, and a bool padding mask `[N, T]`
//! that is `true` at padding (PyTorch's `key_padding_mask` convention).
//!
//! ## The course's sentence
//!
//! Tokenize → numericalize → embed, as the course's slide shows it:
//!
//! ```
//! use torchlet_nn::Embedding;
//! use torchlet_tensor::Tensor;
//! use torchlet_text::{basic_english, Vocab, VocabOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sentence = " The course contents are well organized";
//! let tokens = basic_english(sentence);
//! assert_eq!(tokens, ["the", "course", "contents", "are", "well", "organized"]);
//!
//! // Specials <unk>, <pad>, <bos>, <eos> take 0..4; the words (all seen
//! // once) follow in alphabetical order.
//! let vocab = Vocab::build([&tokens], VocabOptions::default())?;
//! assert_eq!(vocab.len(), 10);
//! let indices = vocab.numericalize(&tokens)?;
//! assert_eq!(indices, [8, 6, 5, 4, 9, 7]);
//! assert_eq!(vocab.index("course")?, 6);
//! assert_eq!(vocab.index("unseen")?, 0); // <unk>
//!
//! let embedding = Embedding::new(vocab.len(), 3)?;
//! let vectors = embedding.forward_indices(&Tensor::from_vec(indices, &[6])?)?;
//! assert_eq!(vectors.shape(), [6, 3]); // one 3-d vector per token
//! # Ok(())
//! # }
//! ```
//!
//! ## A classification pipeline
//!
//! ```
//! use torchlet_data::DataLoader;
//! use torchlet_text::{BasicEnglish, BucketBatchSampler, Fortunes, PadCollate, VocabOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let data = Fortunes::embedded()?;
//! let vocab = data.train.build_vocab(&BasicEnglish, VocabOptions { min_freq: 2, ..Default::default() })?;
//! let train = data.train.encode(&BasicEnglish, &vocab)?;
//! let sampler = BucketBatchSampler::new(train.lengths(), 32)?.seed(0);
//! let pad = vocab.pad_index().unwrap();
//! let loader = DataLoader::builder(train)
//!     .batch_sampler(sampler)
//!     .collate(PadCollate::new(pad))
//!     .build()?;
//! let (batch, labels) = loader.iter().next().unwrap()?;
//! assert_eq!(batch.tokens.shape()[0], labels.shape()[0]);
//! assert_eq!(batch.padding_mask.shape(), batch.tokens.shape());
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod bpe;
mod bucket;
mod corpus;
mod dataset;
mod error;
mod fortunes;
mod io;
mod lm;
pub mod models;
mod pad;
mod records;
mod subword;
mod tfidf;
mod tokenizer;
mod vocab;

pub use bpe::{BpeOptions, BpeTokenizer};
pub use bucket::BucketBatchSampler;
pub use corpus::Corpus;
pub use dataset::{EncodedTexts, LabeledTexts};
pub use error::{Result, TextError};
pub use fortunes::Fortunes;
pub use lm::LmWindows;
pub use pad::{add_bos_eos, pad_batch, truncate_pad, PadCollate, PaddedBatch};
pub use subword::SubwordNgrams;
pub use tfidf::{TfidfOptions, TfidfVectorizer};
pub use tokenizer::{
    basic_english, get_tokenizer, is_python_space, BasicEnglish, CharTokenizer, FnTokenizer,
    Tokenizer, Whitespace,
};
pub use vocab::{Vocab, VocabOptions, BOS, EOS, PAD, UNK};

// Runs this crate's README example as a doctest, so it cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
