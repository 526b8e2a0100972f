//! `torch.utils.data.random_split`.

use crate::dataset::{Dataset, Subset};
use crate::error::{DataError, Result};
use crate::sampler::{permutation, seeded_rng};

/// Splits `dataset` into non-overlapping random subsets of the given
/// `lengths`, which must add up to `dataset.len()`. The permutation is a
/// function of `seed` alone.
///
/// Each subset holds a clone of `dataset`: pass an `Arc<D>` (or a `&D`) to
/// share one dataset without copying it.
///
/// ```
/// use std::sync::Arc;
/// use torchlet_data::{random_split, Dataset, TensorDataset};
/// use torchlet_tensor::Tensor;
/// let ds = Arc::new(TensorDataset::new(vec![Tensor::zeros(&[10, 2])]).unwrap());
/// let parts = random_split(ds, &[7, 3], 42).unwrap();
/// assert_eq!((parts[0].len(), parts[1].len()), (7, 3));
/// ```
pub fn random_split<D: Dataset + Clone>(
    dataset: D,
    lengths: &[usize],
    seed: u64,
) -> Result<Vec<Subset<D>>> {
    let total: usize = lengths.iter().sum();
    if total != dataset.len() {
        return Err(DataError::invalid(
            "random_split",
            format!(
                "sum of input lengths {lengths:?} ({total}) does not equal the length of the input dataset ({})",
                dataset.len()
            ),
        ));
    }
    let indices = permutation(total, &mut seeded_rng(seed, 0));
    let mut parts = Vec::with_capacity(lengths.len());
    let mut offset = 0;
    for &len in lengths {
        let part = indices[offset..offset + len].to_vec();
        parts.push(Subset::new(dataset.clone(), part)?);
        offset += len;
    }
    Ok(parts)
}

/// [`random_split`] with lengths given as fractions of `dataset.len()` that
/// sum to 1 (PyTorch ≥ 1.13): each part gets `floor(len * fraction)`
/// samples, and the remainder is handed out one by one to the parts in
/// order, as PyTorch does.
///
/// ```
/// use torchlet_data::{random_split_fractions, Dataset, TensorDataset};
/// use torchlet_tensor::Tensor;
/// let ds = TensorDataset::new(vec![Tensor::zeros(&[11, 2])]).unwrap();
/// let parts = random_split_fractions(&ds, &[0.5, 0.5], 0).unwrap();
/// assert_eq!((parts[0].len(), parts[1].len()), (6, 5));
/// ```
pub fn random_split_fractions<D: Dataset + Clone>(
    dataset: D,
    fractions: &[f64],
    seed: u64,
) -> Result<Vec<Subset<D>>> {
    let lengths = fraction_lengths(dataset.len(), fractions)?;
    random_split(dataset, &lengths, seed)
}

/// PyTorch's conversion of split fractions to lengths.
fn fraction_lengths(n: usize, fractions: &[f64]) -> Result<Vec<usize>> {
    if fractions.is_empty() {
        return Err(DataError::invalid(
            "random_split",
            "expected at least one fraction",
        ));
    }
    if let Some(bad) = fractions
        .iter()
        .find(|f| !(0.0..=1.0).contains(*f) || f.is_nan())
    {
        return Err(DataError::invalid(
            "random_split",
            format!("fraction {bad} is not between 0 and 1"),
        ));
    }
    let sum: f64 = fractions.iter().sum();
    // math.isclose(sum, 1) with its default rel_tol of 1e-9.
    if (sum - 1.0).abs() > 1e-9 {
        return Err(DataError::invalid(
            "random_split",
            format!("fractions {fractions:?} sum to {sum}, not 1"),
        ));
    }
    let mut lengths: Vec<usize> = fractions
        .iter()
        .map(|f| ((n as f64) * f).floor() as usize)
        .collect();
    let assigned: usize = lengths.iter().sum();
    let parts = lengths.len();
    for i in 0..n.saturating_sub(assigned) {
        lengths[i % parts] += 1;
    }
    Ok(lengths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::TensorDataset;
    use std::collections::HashSet;
    use torchlet_tensor::Tensor;

    fn dataset(n: usize) -> TensorDataset {
        let x = Tensor::arange(0i64, n as i64, 1).unwrap();
        TensorDataset::new(vec![x]).unwrap()
    }

    #[test]
    fn fractions_follow_pytorch() {
        // torch: random_split(range(10), [0.3, 0.3, 0.4]) -> lengths 3, 3, 4
        assert_eq!(fraction_lengths(10, &[0.3, 0.3, 0.4]).unwrap(), [3, 3, 4]);
        // floor gives 3, 3, 3 for n = 11; the remainder goes to the first parts.
        assert_eq!(
            fraction_lengths(11, &[1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]).unwrap(),
            [4, 4, 3]
        );
        assert_eq!(fraction_lengths(0, &[0.5, 0.5]).unwrap(), [0, 0]);
        assert!(fraction_lengths(10, &[0.5, 0.6]).is_err());
        assert!(fraction_lengths(10, &[1.5, -0.5]).is_err());
        assert!(fraction_lengths(10, &[]).is_err());
    }

    #[test]
    fn splits_are_disjoint_and_cover_everything() {
        let ds = dataset(100);
        let parts = random_split(&ds, &[50, 30, 20], 3).unwrap();
        let sizes: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        assert_eq!(sizes, [50, 30, 20]);
        let mut seen = HashSet::new();
        for p in &parts {
            for i in 0..p.len() {
                let v = p.get(i).unwrap()[0].item::<i64>().unwrap();
                assert!(seen.insert(v), "sample {v} appears twice");
            }
        }
        assert_eq!(seen.len(), 100);
    }

    #[test]
    fn same_seed_same_split_other_seed_other_split() {
        let ds = dataset(50);
        let a = random_split(&ds, &[25, 25], 9).unwrap();
        let b = random_split(&ds, &[25, 25], 9).unwrap();
        let c = random_split(&ds, &[25, 25], 10).unwrap();
        assert_eq!(a[0].indices(), b[0].indices());
        assert_ne!(a[0].indices(), c[0].indices());
    }

    #[test]
    fn lengths_must_sum_to_len() {
        let ds = dataset(10);
        let err = random_split(&ds, &[5, 4], 0).unwrap_err();
        assert!(err.to_string().contains("does not equal"), "{err}");
        assert!(random_split(&ds, &[5, 6], 0).is_err());
        assert!(random_split_fractions(&ds, &[0.5, 0.4], 0).is_err());
    }
}
