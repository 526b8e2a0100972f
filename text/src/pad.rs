//! Padding and truncation, and collating variable-length sequences into a
//! padded batch (`torch.nn.utils.rnn.pad_sequence`, torchtext's
//! `Truncate` / `PadTransform` / `ToTensor(padding_value)`).

use torchlet_data::Collate;
use torchlet_tensor::Tensor;

use crate::error::{Result, TextError};

/// `ids` cut to at most `len` (keeping the start), then padded with
/// `pad_index` at the end up to exactly `len`.
///
/// ```
/// use torchlet_text::truncate_pad;
/// assert_eq!(truncate_pad(&[5, 6, 7], 5, 1), [5, 6, 7, 1, 1]);
/// assert_eq!(truncate_pad(&[5, 6, 7], 2, 1), [5, 6]);
/// ```
pub fn truncate_pad(ids: &[i64], len: usize, pad_index: i64) -> Vec<i64> {
    let mut out: Vec<i64> = ids.iter().take(len).copied().collect();
    out.resize(len, pad_index);
    out
}

/// `ids` with `bos` in front and `eos` at the end, each if given
/// (torchtext's `AddToken(token, begin=True/False)`).
///
/// ```
/// use torchlet_text::add_bos_eos;
/// assert_eq!(add_bos_eos(&[7, 8], Some(2), Some(3)), [2, 7, 8, 3]);
/// assert_eq!(add_bos_eos(&[7, 8], None, Some(3)), [7, 8, 3]);
/// ```
pub fn add_bos_eos(ids: &[i64], bos: Option<i64>, eos: Option<i64>) -> Vec<i64> {
    bos.into_iter()
        .chain(ids.iter().copied())
        .chain(eos)
        .collect()
}

/// A batch of sequences padded to a common length, **batch first**
/// (`pad_sequence(..., batch_first=True)`): row `i` holds sequence `i`
/// followed by padding at the end (right padding).
#[derive(Clone, Debug)]
pub struct PaddedBatch {
    /// Token indices, int64 `[N, T]`; `T` is the longest (truncated) length
    /// in the batch, positions past a row's length hold the padding index.
    pub tokens: Tensor,
    /// Each row's length before padding, int64 `[N]` (what
    /// `pack_padded_sequence` takes).
    pub lengths: Tensor,
    /// bool `[N, T]`, **`true` at padding** positions: PyTorch's
    /// `key_padding_mask` convention (`nn.MultiheadAttention`,
    /// `nn.Transformer`). See [`token_mask`](Self::token_mask) for the
    /// float complement.
    pub padding_mask: Tensor,
    /// The padding index used.
    pub pad_index: i64,
}

impl PaddedBatch {
    /// The number of sequences `N`.
    pub fn batch_size(&self) -> usize {
        self.tokens.shape()[0]
    }

    /// The padded length `T`.
    pub fn max_len(&self) -> usize {
        self.tokens.shape()[1]
    }

    /// The lengths as `usize`.
    pub fn lengths_vec(&self) -> Vec<usize> {
        self.lengths
            .to_vec::<i64>()
            .expect("lengths are int64")
            .into_iter()
            .map(|l| l as usize)
            .collect()
    }

    /// float32 `[N, T]`: 1.0 at real tokens, 0.0 at padding — the weights
    /// of a masked mean (`(x * m).sum(1) / m.sum(1)`).
    pub fn token_mask(&self) -> Tensor {
        let (n, t) = (self.batch_size(), self.max_len());
        let mut m = vec![0.0f32; n * t];
        for (row, len) in self.lengths_vec().into_iter().enumerate() {
            m[row * t..row * t + len].fill(1.0);
        }
        Tensor::from_vec(m, &[n, t]).expect("n * t values")
    }
}

/// Pads `sequences` (token indices) into a [`PaddedBatch`], after cutting
/// each to `max_len` if given. An empty batch is an error; empty sequences
/// are allowed (length 0, all padding).
///
/// ```
/// use torchlet_text::pad_batch;
/// let b = pad_batch(&[vec![4, 5, 6], vec![7]], 1, None)?;
/// assert_eq!(b.tokens.shape(), [2, 3]);
/// assert_eq!(b.tokens.to_vec::<i64>()?, [4, 5, 6, 7, 1, 1]);
/// assert_eq!(b.lengths.to_vec::<i64>()?, [3, 1]);
/// assert_eq!(b.padding_mask.to_vec::<bool>()?, [false, false, false, false, true, true]);
/// # Ok::<(), torchlet_text::TextError>(())
/// ```
pub fn pad_batch<S: AsRef<[i64]>>(
    sequences: &[S],
    pad_index: i64,
    max_len: Option<usize>,
) -> Result<PaddedBatch> {
    if sequences.is_empty() {
        return Err(TextError::invalid(
            "pad_batch",
            "received an empty list of sequences",
        ));
    }
    let n = sequences.len();
    let lengths: Vec<usize> = sequences
        .iter()
        .map(|s| max_len.map_or(s.as_ref().len(), |m| s.as_ref().len().min(m)))
        .collect();
    let t = lengths.iter().copied().max().unwrap_or(0);
    let mut tokens = vec![pad_index; n * t];
    let mut mask = vec![true; n * t];
    for (row, (seq, &len)) in sequences.iter().zip(&lengths).enumerate() {
        tokens[row * t..row * t + len].copy_from_slice(&seq.as_ref()[..len]);
        mask[row * t..row * t + len].fill(false);
    }
    Ok(PaddedBatch {
        tokens: Tensor::from_vec(tokens, &[n, t])?,
        lengths: Tensor::from_vec(lengths.iter().map(|&l| l as i64).collect::<Vec<_>>(), &[n])?,
        padding_mask: Tensor::from_vec(mask, &[n, t])?,
        pad_index,
    })
}

/// A [`Collate`] for a [`DataLoader`](torchlet_data::DataLoader) over
/// token sequences: samples `Vec<i64>` become a [`PaddedBatch`], samples
/// `(Vec<i64>, i64)` (sequence, class) become `(PaddedBatch, labels)` with
/// labels int64 `[N]`.
///
/// ```
/// use torchlet_data::Collate;
/// use torchlet_text::PadCollate;
/// let collate = PadCollate::new(1).max_len(2);
/// let (batch, labels) = collate.collate(vec![(vec![5, 6, 7], 0), (vec![8], 3)])?;
/// assert_eq!(batch.tokens.to_vec::<i64>()?, [5, 6, 8, 1]);
/// assert_eq!(labels.to_vec::<i64>()?, [0, 3]);
/// # Ok::<(), torchlet_data::DataError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PadCollate {
    pad_index: i64,
    max_len: Option<usize>,
}

impl PadCollate {
    /// Pads with `pad_index` (usually [`Vocab::pad_index`](crate::Vocab::pad_index)).
    pub fn new(pad_index: usize) -> PadCollate {
        PadCollate {
            pad_index: pad_index as i64,
            max_len: None,
        }
    }

    /// Cuts every sequence to at most `max_len` tokens first.
    pub fn max_len(mut self, max_len: usize) -> PadCollate {
        self.max_len = Some(max_len);
        self
    }
}

impl Collate<Vec<i64>> for PadCollate {
    type Batch = PaddedBatch;

    fn collate(&self, items: Vec<Vec<i64>>) -> torchlet_data::Result<PaddedBatch> {
        Ok(pad_batch(&items, self.pad_index, self.max_len)?)
    }
}

impl Collate<(Vec<i64>, i64)> for PadCollate {
    type Batch = (PaddedBatch, Tensor);

    fn collate(&self, items: Vec<(Vec<i64>, i64)>) -> torchlet_data::Result<(PaddedBatch, Tensor)> {
        let n = items.len();
        let (seqs, labels): (Vec<Vec<i64>>, Vec<i64>) = items.into_iter().unzip();
        let batch = pad_batch(&seqs, self.pad_index, self.max_len)?;
        Ok((batch, Tensor::from_vec(labels, &[n])?))
    }
}
