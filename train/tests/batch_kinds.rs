//! The trainer takes what a `DataLoader` yields: `(inputs, targets)`
//! pairs and `Vec<Tensor>` batches of a `TensorDataset`, and reports the
//! accuracy of binary `[N, 1]` logits trained with BCE-with-logits.

use torchlet_autograd::functional::{binary_cross_entropy_with_logits, Reduction};
use torchlet_autograd::Variable;
use torchlet_data::{DataLoader, TensorDataset};
use torchlet_nn::{Linear, Module, ReLU, Sequential};
use torchlet_optim::{Adam, AdamOptions};
use torchlet_tensor::{DType, Generator, Tensor};
use torchlet_train::{BatchSource, Progress, Trainer};

/// Points left of x = 0 are class 0, right of it class 1, as `[N, 1]`
/// float targets.
fn halves(n: usize) -> (Tensor, Tensor) {
    let mut g = Generator::new(7);
    let x = Tensor::randn_with(&[n, 2], &mut g);
    let y = x
        .select(1, 0)
        .unwrap()
        .gt(0.0)
        .unwrap()
        .to_dtype(DType::F32);
    (x, y.unsqueeze(1).unwrap())
}

#[test]
fn a_tensor_dataset_trains_a_binary_classifier_with_accuracy() {
    let (x, y) = halves(256);
    let data = TensorDataset::new(vec![x, y]).unwrap();
    let loader = DataLoader::builder(data)
        .batch_size(32)
        .shuffle(true)
        .seed(1)
        .build()
        .unwrap();
    let model = Sequential::new()
        .append(Linear::new(2, 16).unwrap())
        .append(ReLU)
        .append(Linear::new(16, 1).unwrap());
    let mut opt = Adam::new(model.parameters(), AdamOptions::default().lr(0.02)).unwrap();
    let history = Trainer::new(6)
        .progress(Progress::Hidden)
        .loss(|logits, t| {
            binary_cross_entropy_with_logits(
                logits,
                &Variable::from(t),
                None,
                None,
                Reduction::Mean,
            )
        })
        .fit(&model, &mut opt, &loader, Some(&loader))
        .unwrap();
    let last = history.last().unwrap();
    assert!(last.train_acc > 0.9, "{history:?}");
    assert!(last.eval_acc.unwrap() > 0.95, "{history:?}");
}

#[test]
fn a_batch_of_other_than_two_tensors_is_a_clear_error() {
    let (x, y) = halves(8);
    let three = TensorDataset::new(vec![x.clone(), y, x]).unwrap();
    let loader = DataLoader::builder(three).batch_size(4).build().unwrap();
    let err = match loader.batches(0).unwrap().next().unwrap() {
        Ok(_) => panic!("three tensors accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("3 tensors") && err.contains("two"), "{err}");
}

#[test]
fn a_nan_loss_stops_training_before_the_weights_change() {
    let (x, y) = halves(64);
    let loader = DataLoader::builder(TensorDataset::new(vec![x, y]).unwrap())
        .batch_size(16)
        .build()
        .unwrap();
    let model = Sequential::new().append(Linear::new(2, 1).unwrap());
    let before = model.state_dict();
    let nan_loss =
        |logits: &Variable, _: &torchlet_tensor::Tensor| Ok(logits.mean().mul_scalar(f64::NAN));
    let mut opt = Adam::new(model.parameters(), AdamOptions::default()).unwrap();
    let err = Trainer::new(2)
        .progress(Progress::Hidden)
        .loss(nan_loss)
        .fit(&model, &mut opt, &loader, None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            torchlet_train::TrainError::NonFiniteLoss {
                epoch: 1,
                step: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("epoch 1, step 1: the loss is NaN"),
        "{err}"
    );
    for (k, v) in model.state_dict() {
        assert_eq!(
            v.to_vec::<f32>().unwrap(),
            before[&k].to_vec::<f32>().unwrap(),
            "{k} changed"
        );
    }
    // allow_nan keeps going (and the weights become NaN, as in PyTorch).
    Trainer::new(1)
        .progress(Progress::Hidden)
        .allow_nan(true)
        .loss(nan_loss)
        .fit(&model, &mut opt, &loader, None)
        .unwrap();
    assert!(model.parameters()[0]
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .any(|v| v.is_nan()));
}
