//! Dataset combinators and iterable datasets.

use std::sync::Arc;

use torchlet_data::{
    from_fn, ConcatDataset, DataError, DataLoader, Dataset, IterableLoader, MapDataset, Result,
    Subset, TensorDataset,
};
use torchlet_tensor::Tensor;

fn range_dataset(start: i64, end: i64) -> TensorDataset {
    let x = Tensor::arange(start, end, 1).unwrap();
    TensorDataset::new(vec![x]).unwrap()
}

fn value(sample: &[Tensor]) -> i64 {
    sample[0].item::<i64>().unwrap()
}

#[test]
fn tensor_dataset_rows_and_errors() {
    let x = Tensor::arange(0.0f32, 12.0, 1.0)
        .unwrap()
        .reshape(&[4, 3])
        .unwrap();
    let y = Tensor::from_vec(vec![10i64, 11, 12, 13], &[4]).unwrap();
    let ds = TensorDataset::new(vec![x, y]).unwrap();
    assert_eq!(ds.len(), 4);
    let s = ds.get(1).unwrap();
    assert_eq!(s[0].to_vec::<f32>().unwrap(), vec![3.0, 4.0, 5.0]);
    assert_eq!(s[1].item::<i64>().unwrap(), 11);
    assert!(matches!(
        ds.get(4),
        Err(DataError::Index {
            index: 4,
            len: 4,
            ..
        })
    ));

    assert!(TensorDataset::new(vec![]).is_err());
    assert!(TensorDataset::new(vec![Tensor::zeros(&[3]), Tensor::zeros(&[4])]).is_err());
    assert!(TensorDataset::new(vec![Tensor::scalar(1.0f32)]).is_err());
}

#[test]
fn tensor_dataset_batches_stack_back() {
    let x = Tensor::arange(0.0f32, 12.0, 1.0)
        .unwrap()
        .reshape(&[6, 2])
        .unwrap();
    let y = Tensor::arange(0i64, 6, 1).unwrap();
    let l = DataLoader::builder(TensorDataset::new(vec![x, y]).unwrap())
        .batch_size(4)
        .build()
        .unwrap();
    let batches: Vec<Vec<Tensor>> = l.iter().collect::<Result<_>>().unwrap();
    assert_eq!(batches[0][0].shape(), &[4, 2]);
    assert_eq!(batches[1][1].to_vec::<i64>().unwrap(), vec![4, 5]);
}

#[test]
fn subset_maps_indices() {
    let ds = range_dataset(100, 110);
    let sub = Subset::new(&ds, vec![9, 0, 9]).unwrap();
    assert_eq!(sub.len(), 3);
    assert_eq!(value(&sub.get(0).unwrap()), 109);
    assert_eq!(value(&sub.get(2).unwrap()), 109);
    assert!(matches!(sub.get(3), Err(DataError::Index { .. })));
    assert!(Subset::new(&ds, vec![10]).is_err());
}

#[test]
fn concat_dataset_walks_parts_in_order() {
    let parts = vec![
        range_dataset(0, 3),
        range_dataset(3, 3),
        range_dataset(10, 12),
    ];
    let ds = ConcatDataset::new(parts).unwrap();
    assert_eq!(ds.len(), 5);
    assert_eq!(ds.cumulative_sizes(), &[3, 3, 5]);
    let all: Vec<i64> = (0..5).map(|i| value(&ds.get(i).unwrap())).collect();
    assert_eq!(all, [0, 1, 2, 10, 11]);
    assert!(ds.get(5).is_err());
    assert!(ConcatDataset::<TensorDataset>::new(vec![]).is_err());
}

#[test]
fn concat_of_different_dataset_types_through_boxes() {
    let a: Box<dyn Dataset<Item = Vec<Tensor>>> = Box::new(range_dataset(0, 2));
    let b: Box<dyn Dataset<Item = Vec<Tensor>>> =
        Box::new(Subset::new(Arc::new(range_dataset(5, 9)), vec![3]).unwrap());
    let ds = ConcatDataset::new(vec![a, b]).unwrap();
    assert_eq!(value(&ds.get(2).unwrap()), 8);
}

#[test]
fn map_dataset_transforms_and_propagates_errors() {
    let ds = MapDataset::new(range_dataset(0, 4), |s: Vec<Tensor>| {
        let v = s[0].item::<i64>()?;
        if v == 2 {
            Err(DataError::Source("two is not allowed".into()))
        } else {
            Ok(v * 10)
        }
    });
    assert_eq!(ds.get(3).unwrap(), 30);
    assert!(ds.get(2).is_err());
}

#[test]
fn iterable_loader_batches_a_stream() {
    let stream = from_fn(|| (0..10i64).map(Ok));
    let l = IterableLoader::new(stream, 4).unwrap();
    let batches: Vec<Vec<i64>> = l
        .iter()
        .map(|b| b.unwrap().to_vec::<i64>().unwrap())
        .collect();
    assert_eq!(
        batches,
        vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]
    );
    // A second pass starts over.
    assert_eq!(l.iter().count(), 3);
    let l = l.drop_last(true);
    assert_eq!(l.iter().count(), 2);
    assert!(IterableLoader::new(from_fn(|| (0..1i64).map(Ok)), 0).is_err());
}

#[test]
fn iterable_loader_reports_errors_and_keeps_going() {
    let stream = from_fn(|| {
        (0..6i64).map(|i| {
            if i == 2 {
                Err(DataError::Source("bad record 2".into()))
            } else {
                Ok(i)
            }
        })
    });
    let l = IterableLoader::new(stream, 2)
        .unwrap()
        .collate(|v: Vec<i64>| -> Result<Vec<i64>> { Ok(v) });
    let out: Vec<std::result::Result<Vec<i64>, String>> =
        l.iter().map(|r| r.map_err(|e| e.to_string())).collect();
    assert_eq!(
        out,
        vec![
            Ok(vec![0, 1]),
            Err("bad record 2".to_string()),
            Ok(vec![3, 4]),
            Ok(vec![5]),
        ]
    );
}
