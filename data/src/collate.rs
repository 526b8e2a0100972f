//! Turning a list of samples into a batch (`collate_fn`).

use torchlet_tensor::Tensor;

use crate::error::{DataError, Result};

/// Merges the samples of one batch (`collate_fn` of PyTorch's DataLoader).
///
/// [`DefaultCollate`] stacks anything that implements [`Stack`]; any
/// closure `Fn(Vec<T>) -> Result<B> + Send + Sync` is a collate function
/// too (padding variable-length sequences, building masks, ...).
///
/// ```
/// use torchlet_data::{Collate, DefaultCollate, Result};
/// use torchlet_tensor::Tensor;
/// let samples = vec![(Tensor::zeros(&[3, 4, 4]), 1i64), (Tensor::ones(&[3, 4, 4]), 7)];
/// let (images, labels) = DefaultCollate.collate(samples).unwrap();
/// assert_eq!(images.shape(), &[2, 3, 4, 4]);
/// assert_eq!(labels.to_vec::<i64>().unwrap(), vec![1, 7]);
///
/// // A closure: the batch is just the number of samples.
/// let count = |items: Vec<i64>| -> Result<usize> { Ok(items.len()) };
/// assert_eq!(count.collate(vec![4, 5, 6]).unwrap(), 3);
/// ```
pub trait Collate<T>: Send + Sync {
    /// What a batch looks like.
    type Batch: Send + 'static;

    /// Merges `items` (never empty when called by a loader) into a batch.
    fn collate(&self, items: Vec<T>) -> Result<Self::Batch>;
}

impl<T, B, F> Collate<T> for F
where
    F: Fn(Vec<T>) -> Result<B> + Send + Sync,
    B: Send + 'static,
{
    type Batch = B;

    fn collate(&self, items: Vec<T>) -> Result<B> {
        self(items)
    }
}

/// PyTorch's `default_collate`: stacks the samples along a new first
/// dimension, recursively through tuples and `Vec`s (see [`Stack`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefaultCollate;

impl<T: Stack> Collate<T> for DefaultCollate
where
    T::Batch: Send + 'static,
{
    type Batch = T::Batch;

    fn collate(&self, items: Vec<T>) -> Result<T::Batch> {
        T::stack(items)
    }
}

/// A sample type that [`DefaultCollate`] knows how to batch.
///
/// | sample | batch |
/// |---|---|
/// | `Tensor` of shape `S` | `Tensor` of shape `[N, S...]` (`Tensor::stack`) |
/// | `i64`, `f32`, `f64`, `bool` | 1-D `Tensor` `[N]` of that dtype |
/// | `(A, B)`, `(A, B, C)`, `(A, B, C, D)` | the tuple of each field's batch |
/// | `Vec<A>` (same length `k` in every sample) | `Vec` of `k` batches |
///
/// So an image dataset's `(Tensor [C,H,W], i64)` becomes
/// `(Tensor [N,C,H,W], Tensor i64 [N])`.
pub trait Stack: Sized {
    /// The batched form.
    type Batch;

    /// Batches `items` (non-empty).
    fn stack(items: Vec<Self>) -> Result<Self::Batch>;
}

impl Stack for Tensor {
    type Batch = Tensor;

    fn stack(items: Vec<Tensor>) -> Result<Tensor> {
        Ok(Tensor::stack(&items, 0)?)
    }
}

macro_rules! stack_scalar {
    ($($t:ty),*) => {$(
        impl Stack for $t {
            type Batch = Tensor;

            fn stack(items: Vec<$t>) -> Result<Tensor> {
                let n = items.len();
                Ok(Tensor::from_vec(items, &[n])?)
            }
        }
    )*};
}

stack_scalar!(i64, f32, f64, bool);

macro_rules! stack_tuple {
    ($($name:ident $col:ident),+) => {
        impl<$($name: Stack),+> Stack for ($($name,)+) {
            type Batch = ($($name::Batch,)+);

            fn stack(items: Vec<Self>) -> Result<Self::Batch> {
                $(let mut $col = Vec::with_capacity(items.len());)+
                for ($($name,)+) in items {
                    $($col.push($name);)+
                }
                Ok(($($name::stack($col)?,)+))
            }
        }
    };
}

#[allow(non_snake_case)]
mod tuples {
    use super::*;
    stack_tuple!(A a);
    stack_tuple!(A a, B b);
    stack_tuple!(A a, B b, C c);
    stack_tuple!(A a, B b, C c, D d);
}

impl<T: Stack> Stack for Vec<T> {
    type Batch = Vec<T::Batch>;

    fn stack(items: Vec<Vec<T>>) -> Result<Vec<T::Batch>> {
        let k = items.first().map_or(0, Vec::len);
        if let Some(bad) = items.iter().find(|v| v.len() != k) {
            return Err(DataError::invalid(
                "default collate",
                format!(
                    "each element in list of batch should be of equal size, got lengths {k} and {}",
                    bad.len()
                ),
            ));
        }
        let mut columns: Vec<Vec<T>> = (0..k).map(|_| Vec::with_capacity(items.len())).collect();
        for row in items {
            for (column, x) in columns.iter_mut().zip(row) {
                column.push(x);
            }
        }
        columns.into_iter().map(T::stack).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(v: f32) -> Tensor {
        Tensor::full(&[1, 2, 2], v)
    }

    #[test]
    fn tensors_stack_on_a_new_first_dim() {
        let b = DefaultCollate
            .collate(vec![image(0.0), image(1.0), image(2.0)])
            .unwrap();
        assert_eq!(b.shape(), &[3, 1, 2, 2]);
        assert_eq!(b.get::<f32>(&[2, 0, 1, 1]).unwrap(), 2.0);
    }

    #[test]
    fn image_and_class_give_images_and_int64_labels() {
        let (x, y) = DefaultCollate
            .collate(vec![(image(0.0), 3i64), (image(1.0), 9)])
            .unwrap();
        assert_eq!(x.shape(), &[2, 1, 2, 2]);
        assert_eq!(y.dtype(), torchlet_tensor::DType::I64);
        assert_eq!(y.to_vec::<i64>().unwrap(), vec![3, 9]);
    }

    #[test]
    fn tensor_pairs_and_vecs() {
        let t = |v: f32| Tensor::full(&[2], v);
        let (a, b) = DefaultCollate
            .collate(vec![(t(1.0), t(2.0)), (t(3.0), t(4.0))])
            .unwrap();
        assert_eq!(a.to_vec::<f32>().unwrap(), vec![1.0, 1.0, 3.0, 3.0]);
        assert_eq!(b.shape(), &[2, 2]);
        let v = DefaultCollate
            .collate(vec![vec![t(1.0), t(5.0)], vec![t(2.0), t(6.0)]])
            .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].to_vec::<f32>().unwrap(), vec![5.0, 5.0, 6.0, 6.0]);
    }

    #[test]
    fn mismatched_samples_are_errors() {
        let err = DefaultCollate
            .collate(vec![Tensor::zeros(&[2]), Tensor::zeros(&[3])])
            .unwrap_err();
        assert!(matches!(err, DataError::Tensor(_)), "{err}");
        let err = DefaultCollate
            .collate(vec![vec![1i64, 2], vec![3]])
            .unwrap_err();
        assert!(err.to_string().contains("equal size"), "{err}");
    }

    #[test]
    fn closures_collate() {
        let sum = |items: Vec<i64>| -> Result<i64> { Ok(items.iter().sum()) };
        assert_eq!(sum.collate(vec![1, 2, 3]).unwrap(), 6);
    }
}
