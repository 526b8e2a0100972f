//! DistributedDataParallel: 2 ranks with batch 32 train to the weights of
//! one process with batch 64; `no_sync`, BatchNorm buffers, unused
//! parameters and disagreeing models.

use torchlet_autograd::functional::{cross_entropy, Reduction};
use torchlet_autograd::Variable;
use torchlet_distributed::{spawn, DdpOptions, DistError, DistributedDataParallel};
use torchlet_nn::{BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential};
use torchlet_optim::{Optimizer, Sgd, SgdOptions};
use torchlet_tensor::{Generator, Tensor};

type R<T> = Result<T, DistError>;

fn mlp() -> Sequential {
    Sequential::new()
        .append(Flatten::new())
        .append(Linear::new(36, 32).unwrap())
        .append(ReLU)
        .append(Linear::new(32, 4).unwrap())
}

fn small_lenet(batch_norm: bool) -> Sequential {
    let mut m = Sequential::new().append(Conv2d::new(1, 4, 3).unwrap());
    if batch_norm {
        m = m.append(BatchNorm2d::new(4).unwrap());
    }
    m.append(ReLU)
        .append(MaxPool2d::new(2))
        .append(Flatten::new())
        .append(Linear::new(16, 4).unwrap())
}

/// Step `k`'s batch of 64 images [64, 1, 6, 6] and class labels.
fn batch(k: u64) -> (Tensor, Tensor) {
    let mut g = Generator::new(1000 + k);
    let x = Tensor::randn_with(&[64, 1, 6, 6], &mut g);
    let y = Tensor::randint_with(0, 4, &[64], &mut g).unwrap();
    (x, y)
}

/// `model` with its parameters drawn from a generator of its own (each
/// rank's default generator starts as a copy of the process's, which
/// the tests running beside this one move).
fn seeded<M: Module>(model: M, seed: u64) -> M {
    let mut g = Generator::new(seed);
    for p in model.parameters() {
        let shape = p.shape();
        p.set_data(Tensor::randn_with(&shape, &mut g).mul_scalar(0.3))
            .unwrap();
    }
    model
}

fn sgd(model: &dyn Module) -> Sgd {
    let options = SgdOptions {
        lr: 0.1,
        momentum: 0.9,
        ..SgdOptions::default()
    };
    Sgd::new(model.parameters(), options).unwrap()
}

/// 20 SGD steps on `rows` of each batch; returns the final state dict
/// values in name order.
fn train(model: &dyn Module, rows: std::ops::Range<usize>) -> R<Vec<Vec<f32>>> {
    let mut opt = sgd(model);
    for k in 0..20 {
        let (x, y) = batch(k);
        let n = rows.len();
        let x = x.narrow(0, rows.start as i64, n)?;
        let y = y.narrow(0, rows.start as i64, n)?;
        opt.zero_grad();
        let logits = model.forward(&Variable::constant(x))?;
        cross_entropy(&logits, &y, None, -100, Reduction::Mean, 0.0)?.backward()?;
        opt.step().map_err(|e| DistError::Backend {
            op: "step",
            message: e.to_string(),
        })?;
    }
    Ok(model
        .parameters()
        .iter()
        .map(|p| p.data().to_vec::<f32>().unwrap())
        .collect())
}

fn assert_close(a: &[Vec<f32>], b: &[Vec<f32>], what: &str) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        for (u, v) in x.iter().zip(y) {
            assert!(
                (u - v).abs() <= 1e-5 * (1.0 + v.abs()),
                "{what}: {u} vs {v}"
            );
        }
    }
}

#[test]
fn two_ranks_of_32_train_like_one_process_of_64() {
    for (name, make) in [
        ("mlp", mlp as fn() -> Sequential),
        ("lenet", || small_lenet(false)),
    ] {
        let single = train(&seeded(make(), 7), 0..64).unwrap();
        for cap_mb in [25.0, 0.0001] {
            let ranks = spawn(2, |pg| -> R<Vec<Vec<f32>>> {
                // Rank 1 starts from other weights: DDP gives it rank 0's.
                let seed = if pg.rank() == 0 { 7 } else { 99 };
                let options = DdpOptions {
                    bucket_cap_mb: cap_mb,
                    ..DdpOptions::default()
                };
                let model =
                    DistributedDataParallel::with_options(seeded(make(), seed), &pg, options)?;
                if cap_mb < 1.0 {
                    assert!(model.buckets().len() > 1);
                }
                let r = pg.rank() * 32;
                train(&model, r..r + 32)
            })
            .unwrap();
            assert_eq!(ranks[0], ranks[1], "{name}: the ranks' weights differ");
            assert_close(&ranks[0], &single, name);
        }
    }
}

#[test]
fn buckets_hold_the_parameters_in_reverse_order() {
    spawn(1, |pg| -> R<()> {
        let model = DistributedDataParallel::new(mlp(), &pg)?;
        // Everything fits the first 1 MiB bucket, last layer first.
        assert_eq!(
            model.buckets(),
            [[
                "module.3.bias",
                "module.3.weight",
                "module.1.bias",
                "module.1.weight"
            ]]
        );
        assert_eq!(model.named_parameters()[0].0, "module.1.weight");
        Ok(())
    })
    .unwrap();
}

#[test]
fn no_sync_accumulates_locally_and_the_next_backward_averages_it_all() {
    let grads = spawn(2, |pg| -> R<Vec<f32>> {
        let model = DistributedDataParallel::new(seeded(mlp(), 3 + pg.rank() as u64), &pg)?;
        let step = |k: u64| -> R<()> {
            let (x, y) = batch(k);
            let x = x.narrow(0, pg.rank() as i64 * 32, 32)?;
            let y = y.narrow(0, pg.rank() as i64 * 32, 32)?;
            let logits = model.forward(&Variable::constant(x))?;
            Ok(cross_entropy(&logits, &y, None, -100, Reduction::Mean, 0.0)?.backward()?)
        };
        {
            let _local = model.no_sync();
            step(0)?;
        }
        step(1)?;
        Ok(model.parameters()[0].grad().unwrap().to_vec::<f32>()?)
    })
    .unwrap();
    assert_eq!(grads[0], grads[1]);
    // One process: the mean loss over 64 rows for each of the two batches.
    let model = seeded(mlp(), 3);
    for k in 0..2 {
        let (x, y) = batch(k);
        let logits = model.forward(&Variable::constant(x)).unwrap();
        cross_entropy(&logits, &y, None, -100, Reduction::Mean, 0.0)
            .unwrap()
            .backward()
            .unwrap();
    }
    let want = model.parameters()[0]
        .grad()
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    assert_close(&[grads[0].clone()], &[want], "no_sync");
}

#[test]
fn batch_norm_buffers_come_from_rank_0_before_each_forward() {
    let out = spawn(2, |pg| -> R<(Vec<Vec<f32>>, Vec<f32>)> {
        let model = DistributedDataParallel::new(seeded(small_lenet(true), 5), &pg)?;
        let r = pg.rank() * 32;
        let weights = train(&model, r..r + 32)?;
        // Each rank's statistics are its own half's until the next forward
        // copies rank 0's.
        let stats = || model.named_buffers()[0].1.data().to_vec::<f32>().unwrap();
        let own = stats();
        model.eval();
        model.forward(&Variable::constant(Tensor::zeros(&[1, 1, 6, 6])))?;
        let after = stats();
        let mut all = pg.all_gather(&Tensor::from_vec(own.clone(), &[own.len()])?)?;
        if pg.rank() == 1 {
            assert_ne!(
                all[0].to_vec::<f32>()?,
                own,
                "the halves' statistics differ"
            );
        }
        assert_eq!(after, all.swap_remove(0).to_vec::<f32>()?);
        Ok((weights, after))
    })
    .unwrap();
    assert_eq!(out[0], out[1]);
}

#[test]
fn an_unused_parameter_is_named_at_the_next_forward() {
    struct HalfUsed {
        used: Linear,
        unused: Linear,
    }
    impl Module for HalfUsed {
        fn forward(&self, x: &Variable) -> torchlet_nn::Result<Variable> {
            self.used.forward(x)
        }
        fn children(&self) -> Vec<(&str, &dyn Module)> {
            vec![("used", &self.used), ("unused", &self.unused)]
        }
    }
    let err = spawn(2, |pg| -> R<()> {
        let m = HalfUsed {
            used: Linear::new(3, 2)?,
            unused: Linear::new(3, 2)?,
        };
        let model = DistributedDataParallel::new(m, &pg)?;
        let x = Variable::constant(Tensor::ones(&[2, 3]));
        model.forward(&x)?.sum().backward()?;
        model.forward(&x)?;
        Ok(())
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("got no gradient"), "{err}");
    assert!(
        err.contains("module.unused.weight, module.unused.bias"),
        "{err}"
    );
}

#[test]
fn ranks_with_other_models_are_refused() {
    let err = spawn(2, |pg| -> R<()> {
        let width = if pg.rank() == 0 { 4 } else { 5 };
        DistributedDataParallel::new(Linear::new(3, width)?, &pg)?;
        Ok(())
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("other parameters"), "{err}");
    assert!(err.contains("[4, 3]") && err.contains("[5, 3]"), "{err}");
}

#[test]
fn find_unused_parameters_averages_what_some_rank_used() {
    struct Branchy {
        used: Linear,
        sometimes: Linear,
        never: Linear,
        use_sometimes: bool,
    }
    impl Module for Branchy {
        fn forward(&self, x: &Variable) -> torchlet_nn::Result<Variable> {
            let y = self.used.forward(x)?;
            if self.use_sometimes {
                return Ok(y.add(&self.sometimes.forward(x)?)?);
            }
            Ok(y)
        }
        fn children(&self) -> Vec<(&str, &dyn Module)> {
            vec![
                ("used", &self.used),
                ("sometimes", &self.sometimes),
                ("never", &self.never),
            ]
        }
    }
    let out = spawn(2, |pg| -> R<Vec<Option<Vec<f32>>>> {
        let m = Branchy {
            used: Linear::new(3, 2)?,
            sometimes: Linear::new(3, 2)?,
            never: Linear::new(3, 2)?,
            use_sometimes: pg.rank() == 1,
        };
        let options = DdpOptions {
            find_unused_parameters: true,
            bucket_cap_mb: 0.00002,
            ..DdpOptions::default()
        };
        let model = DistributedDataParallel::with_options(m, &pg, options)?;
        let x = Variable::constant(Tensor::ones(&[2, 3]));
        for _ in 0..3 {
            model.zero_grad();
            model.forward(&x)?.sum().backward()?;
        }
        Ok(model
            .parameters()
            .iter()
            .map(|p| p.grad().map(|g| g.to_vec::<f32>().unwrap()))
            .collect())
    })
    .unwrap();
    assert_eq!(out[0], out[1]);
    // used.weight: every rank's d(sum)/dW = 2 per element; mean 2.
    assert_eq!(out[0][0].as_deref(), Some(&[2.0f32; 6][..]));
    // sometimes.weight: rank 1's 2, rank 0's nothing: mean 1.
    assert_eq!(out[0][2].as_deref(), Some(&[1.0f32; 6][..]));
    // never: no rank used it, its gradient stays None.
    assert_eq!(out[0][4], None);
    assert_eq!(out[0][5], None);
}
