//! Next-token windows over one long token sequence: the data of a
//! (character-level) language model.

use torchlet_data::{DataError, Dataset};
use torchlet_tensor::Tensor;

use crate::error::{Result, TextError};

/// Consecutive, non-overlapping windows of a token sequence, each paired
/// with the same window shifted by one token: sample `i` is
/// `(ids[i*T .. i*T+T], ids[i*T+1 .. i*T+T+1])` as int64 `[T]` tensors,
/// `T = seq_len` (PyTorch's `word_language_model` `get_batch`, batch first).
/// The default collate stacks a batch into `[N, T]` inputs and targets.
/// The tail that does not fill a whole window is left out.
///
/// ```
/// use torchlet_data::Dataset;
/// use torchlet_text::{CharTokenizer, LmWindows, Tokenizer, Vocab, VocabOptions};
/// let text = "hello world";
/// let chars = CharTokenizer.tokenize(text);
/// let vocab = Vocab::build([&chars], VocabOptions::default())?;
/// let windows = LmWindows::new(vocab.numericalize(&chars)?, 4)?;
/// assert_eq!(windows.len(), 2); // 11 chars: 10 (input, target) steps, 2 whole windows
/// let (x, y) = windows.get(1)?;
/// assert_eq!(x.to_vec::<i64>()?, vocab.numericalize(&["o", " ", "w", "o"])?);
/// assert_eq!(y.to_vec::<i64>()?, vocab.numericalize(&[" ", "w", "o", "r"])?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LmWindows {
    ids: Vec<i64>,
    seq_len: usize,
}

impl LmWindows {
    /// Windows of `seq_len` (> 0) tokens over `ids`, which must hold at
    /// least `seq_len + 1` tokens (one whole window and its last target).
    pub fn new(ids: Vec<i64>, seq_len: usize) -> Result<LmWindows> {
        if seq_len == 0 {
            return Err(TextError::invalid("LmWindows", "seq_len must be positive"));
        }
        if ids.len() <= seq_len {
            return Err(TextError::invalid(
                "LmWindows",
                format!(
                    "{} tokens cannot fill one window of {seq_len} (need at least {})",
                    ids.len(),
                    seq_len + 1
                ),
            ));
        }
        Ok(LmWindows { ids, seq_len })
    }

    /// The window length `T`.
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// The whole token sequence.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }
}

impl Dataset for LmWindows {
    type Item = (Tensor, Tensor);

    fn len(&self) -> usize {
        (self.ids.len() - 1) / self.seq_len
    }

    fn get(&self, index: usize) -> torchlet_data::Result<(Tensor, Tensor)> {
        if index >= self.len() {
            return Err(DataError::Index {
                dataset: "LmWindows",
                index,
                len: self.len(),
            });
        }
        let (t, start) = (self.seq_len, index * self.seq_len);
        let x = Tensor::from_slice(&self.ids[start..start + t], &[t])?;
        let y = Tensor::from_slice(&self.ids[start + 1..start + t + 1], &[t])?;
        Ok((x, y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_targets() {
        let w = LmWindows::new((0..10).collect(), 3).unwrap();
        assert_eq!(w.len(), 3); // 9 steps → 3 windows
        let (x, y) = w.get(2).unwrap();
        assert_eq!(x.to_vec::<i64>().unwrap(), [6, 7, 8]);
        assert_eq!(y.to_vec::<i64>().unwrap(), [7, 8, 9]);
        assert!(w.get(3).is_err());
        let w = LmWindows::new((0..4).collect(), 3).unwrap();
        assert_eq!(w.len(), 1);
        assert!(LmWindows::new((0..3).collect(), 3).is_err());
        assert!(LmWindows::new((0..3).collect(), 0).is_err());
    }
}
