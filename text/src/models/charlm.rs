//! [`CharLm`]: a character-level LSTM language model that predicts the
//! next character, and samples text from it.

use torchlet_autograd::{no_grad, Variable};
use torchlet_nn::{Dropout, Embedding, Linear, Module, Result, RnnOptions, LSTM};
use torchlet_tensor::{DType, Generator, Tensor};

use super::{check_batch, config, input};

/// The sizes of a [`CharLm`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CharLmOptions {
    /// Embedding width.
    pub embed_dim: usize,
    /// LSTM hidden features.
    pub hidden_size: usize,
    /// Stacked LSTM layers.
    pub num_layers: usize,
    /// Dropout between LSTM layers and before the head (training only).
    pub dropout: f64,
}

impl Default for CharLmOptions {
    fn default() -> Self {
        CharLmOptions {
            embed_dim: 32,
            hidden_size: 128,
            num_layers: 1,
            dropout: 0.0,
        }
    }
}

/// A character-level language model (PyTorch's `word_language_model`
/// example with characters): `Embedding` → `LSTM` (batch first) →
/// dropout → `Linear(hidden, vocab)`, giving at every position the
/// logits of the next character. This is where the course's "text is a
/// sequence: each word depends on the ones before" becomes visible: after
/// training, [`CharLm::generate`] continues a prompt one character at a
/// time. Parameters: `embed.weight`, `lstm.*`, `head.weight`,
/// `head.bias`.
///
/// ```
/// use torchlet_tensor::{DType, Generator, Tensor};
/// use torchlet_text::models::{CharLm, CharLmOptions};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let lm = CharLm::new(30, CharLmOptions { hidden_size: 16, ..Default::default() })?;
/// let tokens = Tensor::from_vec(vec![3i64, 4, 5, 6, 7, 8], &[2, 3])?;
/// let (logits, _) = lm.forward_with_state(&tokens, None)?;
/// assert_eq!(logits.shape(), [2, 3, 30]); // next-character logits
/// let sample = lm.generate(&[3, 4], 5, 0.8, &mut Generator::new(0))?;
/// assert_eq!(sample.len(), 5);
/// # Ok(())
/// # }
/// ```
#[derive(Module)]
pub struct CharLm {
    embed: Embedding,
    lstm: LSTM,
    dropout: Dropout,
    head: Linear,
    #[module(skip)]
    options: CharLmOptions,
}

impl CharLm {
    /// A model over `vocab_size` characters.
    pub fn new(vocab_size: usize, options: CharLmOptions) -> Result<CharLm> {
        if vocab_size < 2 {
            return Err(config(
                "CharLm",
                format!("vocab_size must be at least 2, got {vocab_size}"),
            ));
        }
        let rnn_options = RnnOptions::default()
            .num_layers(options.num_layers)
            .batch_first(true)
            .dropout(options.dropout);
        Ok(CharLm {
            embed: Embedding::new(vocab_size, options.embed_dim)?,
            lstm: LSTM::with_options(options.embed_dim, options.hidden_size, rnn_options)?,
            dropout: Dropout::new(options.dropout)?,
            head: Linear::new(options.hidden_size, vocab_size)?,
            options,
        })
    }

    /// The sizes.
    pub fn options(&self) -> CharLmOptions {
        self.options
    }

    /// The number of characters it predicts over.
    pub fn vocab_size(&self) -> usize {
        self.head.weight().shape()[0]
    }

    /// Next-character logits `[N, T, vocab]` for int64 indices `[N, T]`,
    /// continuing from `state` (`(h, c)`, each `[layers, N, hidden]`;
    /// zeros if `None`), and the state after the last position.
    pub fn forward_with_state(
        &self,
        tokens: &Tensor,
        state: Option<(&Variable, &Variable)>,
    ) -> Result<(Variable, (Variable, Variable))> {
        check_batch("CharLm", tokens, None)?;
        let x = self.embed.forward_indices(tokens)?;
        let (out, h, c) = self.lstm.forward_with_state(&x, state)?;
        let logits = self.head.forward(&self.dropout.forward(&out)?)?;
        Ok((logits, (h, c)))
    }

    /// Continues `prompt` (character indices, at least one) with `len`
    /// sampled characters and returns them (without the prompt). Each is
    /// drawn from `softmax(logits / temperature)` with `generator`;
    /// `temperature` 0 picks the most likely character every time, lower
    /// values are more conservative, higher ones more surprising. Runs in
    /// eval mode without recording gradients, and restores the training
    /// flag afterwards.
    pub fn generate(
        &self,
        prompt: &[i64],
        len: usize,
        temperature: f64,
        generator: &mut Generator,
    ) -> Result<Vec<i64>> {
        if prompt.is_empty() {
            return Err(input("CharLm", "the prompt must not be empty".into()));
        }
        if !(temperature.is_finite() && temperature >= 0.0) {
            return Err(input(
                "CharLm",
                format!("temperature must be a finite number >= 0, got {temperature}"),
            ));
        }
        let vocab = self.vocab_size() as i64;
        if let Some(bad) = prompt.iter().find(|&&i| i < 0 || i >= vocab) {
            return Err(input(
                "CharLm",
                format!("prompt index {bad} out of range for a vocabulary of {vocab}"),
            ));
        }
        let was_training = self.is_training();
        self.eval();
        let result = no_grad(|| {
            let mut out = Vec::with_capacity(len);
            let tokens = Tensor::from_vec(prompt.to_vec(), &[1, prompt.len()])?;
            let (mut logits, mut state) = self.forward_with_state(&tokens, None)?;
            for _ in 0..len {
                let last = logits
                    .data()
                    .select(1, -1)?
                    .reshape(&[-1])?
                    .to_dtype(DType::F64);
                let next = sample(&last.to_vec::<f64>()?, temperature, generator);
                out.push(next as i64);
                let token = Tensor::from_vec(vec![next as i64], &[1, 1])?;
                (logits, state) = self.forward_with_state(&token, Some((&state.0, &state.1)))?;
            }
            Ok(out)
        });
        self.set_training(was_training);
        result
    }
}

/// Draws an index from `softmax(logits / temperature)` (the argmax for
/// temperature 0), computed stably in f64.
fn sample(logits: &[f64], temperature: f64, generator: &mut Generator) -> usize {
    let argmax = logits
        .iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > logits[best] { i } else { best });
    if temperature == 0.0 {
        return argmax;
    }
    let max = logits[argmax];
    let weights: Vec<f64> = logits
        .iter()
        .map(|&v| ((v - max) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut u = generator.uniform() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    argmax
}

impl CharLm {
    /// `x` holds int64 indices `[N, T]`; gives logits `[N, T, vocab]`.
    pub fn forward(&self, x: &Variable) -> Result<Variable> {
        Ok(self.forward_with_state(&x.data(), None)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_the_softmax() {
        let logits = [0.0, (3.0f64).ln(), f64::NEG_INFINITY];
        // Temperature 1: probabilities 1/4, 3/4, 0.
        let mut g = Generator::new(7);
        let mut counts = [0usize; 3];
        for _ in 0..20_000 {
            counts[sample(&logits, 1.0, &mut g)] += 1;
        }
        assert_eq!(counts[2], 0);
        let p1 = counts[1] as f64 / 20_000.0;
        assert!((p1 - 0.75).abs() < 0.015, "p1 = {p1}");
        // Temperature 0 is the argmax; a tiny temperature nearly so.
        assert_eq!(sample(&logits, 0.0, &mut g), 1);
        assert!((0..100).all(|_| sample(&logits, 0.05, &mut g) == 1));
    }
}
