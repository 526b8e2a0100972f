//! Runs the PyTorch-computed optimizer and scheduler cases
//! (`conformance/torch_optim.json`, or the file named by `OPTIM_CASES`).
//!
//! Optimizer cases: a `Linear(4, 3)` starting from `weight0`/`bias0`; each
//! step is zero_grad, `loss = mse_loss(linear(x), y)` (mean), backward,
//! step; the loss before the step and the parameters after it are compared.
//! Scheduler cases: `lr_per_step[i]` is the learning rate after `i`
//! scheduler steps (index 0: right after construction);
//! ReduceLROnPlateau is fed `metrics[i]` and compared with
//! `lr_after_each_step[i]`.

use serde_json::Value;
use torchlet_autograd::functional::{mse_loss, Reduction};
use torchlet_autograd::Variable;
use torchlet_optim::lr_scheduler::{
    AnnealStrategy, CosineAnnealingLr, ExponentialLr, LinearLr, LinearLrOptions, LrScheduler,
    MultiStepLr, OneCycleLr, OneCycleLrOptions, PlateauMode, ReduceLrOnPlateau,
    ReduceLrOnPlateauOptions, StepLr, ThresholdMode,
};
use torchlet_optim::{
    Adagrad, AdagradOptions, Adam, AdamOptions, AdamW, Optimizer, RmsProp, RmsPropOptions, Sgd,
    SgdOptions, SparseAdam, SparseAdamOptions,
};
use torchlet_tensor::Tensor;

/// Optimizers and schedulers whose cases may go unrun, each with the
/// reason. Empty: every one in the case files is built below. Any other
/// unknown name fails the test like a wrong value, so a dropped mapping
/// cannot pass unnoticed.
const NOT_IMPLEMENTED_ALLOWED: &[(&str, &str)] = &[];

const RTOL: f64 = 1e-5;
const ATOL: f64 = 1e-5;

type Res<T> = Result<T, String>;

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= ATOL + RTOL * want.abs()
}

fn floats(v: &Value) -> Res<Vec<f64>> {
    v.as_array()
        .ok_or("expected an array")?
        .iter()
        .map(|x| x.as_f64().ok_or_else(|| format!("not a number: {x}")))
        .collect()
}

fn tensor(v: &Value) -> Res<Tensor> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .ok_or("missing shape")?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize).ok_or("bad dim"))
        .collect::<Result<_, _>>()?;
    let data: Vec<f32> = floats(&v["data"])?.into_iter().map(|x| x as f32).collect();
    Tensor::from_vec(data, &shape).map_err(|e| e.to_string())
}

fn f(o: &Value, key: &str, default: f64) -> f64 {
    o.get(key).and_then(Value::as_f64).unwrap_or(default)
}

fn b(o: &Value, key: &str, default: bool) -> bool {
    o.get(key).and_then(Value::as_bool).unwrap_or(default)
}

fn u(o: &Value, key: &str) -> Res<usize> {
    o.get(key)
        .and_then(Value::as_u64)
        .map(|x| x as usize)
        .ok_or_else(|| format!("missing option {key}"))
}

fn betas(o: &Value, default: (f64, f64)) -> Res<(f64, f64)> {
    match o.get("betas") {
        None => Ok(default),
        Some(v) => {
            let v = floats(v)?;
            Ok((v[0], v[1]))
        }
    }
}

fn build_optimizer(name: &str, o: &Value, params: Vec<Variable>) -> Res<Box<dyn Optimizer>> {
    let known = |keys: &[&str]| -> Res<()> {
        for k in o.as_object().ok_or("options must be an object")?.keys() {
            if !keys.contains(&k.as_str()) {
                return Err(format!("unsupported option {k}"));
            }
        }
        Ok(())
    };
    let e = |e: torchlet_optim::OptimError| e.to_string();
    Ok(match name {
        "SGD" => {
            known(&[
                "lr",
                "momentum",
                "dampening",
                "weight_decay",
                "nesterov",
                "maximize",
            ])?;
            let d = SgdOptions::default();
            Box::new(
                Sgd::new(
                    params,
                    SgdOptions {
                        lr: f(o, "lr", d.lr),
                        momentum: f(o, "momentum", d.momentum),
                        dampening: f(o, "dampening", d.dampening),
                        weight_decay: f(o, "weight_decay", d.weight_decay),
                        nesterov: b(o, "nesterov", d.nesterov),
                        maximize: b(o, "maximize", d.maximize),
                    },
                )
                .map_err(e)?,
            )
        }
        "Adam" | "AdamW" => {
            known(&["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"])?;
            let d = if name == "Adam" {
                AdamOptions::default()
            } else {
                AdamOptions::adamw_default()
            };
            let opts = AdamOptions {
                lr: f(o, "lr", d.lr),
                betas: betas(o, d.betas)?,
                eps: f(o, "eps", d.eps),
                weight_decay: f(o, "weight_decay", d.weight_decay),
                amsgrad: b(o, "amsgrad", d.amsgrad),
                maximize: b(o, "maximize", d.maximize),
            };
            if name == "Adam" {
                Box::new(Adam::new(params, opts).map_err(e)?)
            } else {
                Box::new(AdamW::new(params, opts).map_err(e)?)
            }
        }
        "RMSprop" => {
            known(&[
                "lr",
                "alpha",
                "eps",
                "weight_decay",
                "momentum",
                "centered",
                "maximize",
            ])?;
            let d = RmsPropOptions::default();
            Box::new(
                RmsProp::new(
                    params,
                    RmsPropOptions {
                        lr: f(o, "lr", d.lr),
                        alpha: f(o, "alpha", d.alpha),
                        eps: f(o, "eps", d.eps),
                        weight_decay: f(o, "weight_decay", d.weight_decay),
                        momentum: f(o, "momentum", d.momentum),
                        centered: b(o, "centered", d.centered),
                        maximize: b(o, "maximize", d.maximize),
                    },
                )
                .map_err(e)?,
            )
        }
        "Adagrad" => {
            known(&[
                "lr",
                "lr_decay",
                "weight_decay",
                "initial_accumulator_value",
                "eps",
                "maximize",
            ])?;
            let d = AdagradOptions::default();
            Box::new(
                Adagrad::new(
                    params,
                    AdagradOptions {
                        lr: f(o, "lr", d.lr),
                        lr_decay: f(o, "lr_decay", d.lr_decay),
                        weight_decay: f(o, "weight_decay", d.weight_decay),
                        initial_accumulator_value: f(
                            o,
                            "initial_accumulator_value",
                            d.initial_accumulator_value,
                        ),
                        eps: f(o, "eps", d.eps),
                        maximize: b(o, "maximize", d.maximize),
                    },
                )
                .map_err(e)?,
            )
        }
        "SparseAdam" => {
            known(&["lr", "betas", "eps", "maximize"])?;
            let d = SparseAdamOptions::default();
            Box::new(
                SparseAdam::new(
                    params,
                    SparseAdamOptions {
                        lr: f(o, "lr", d.lr),
                        betas: betas(o, d.betas)?,
                        eps: f(o, "eps", d.eps),
                        maximize: b(o, "maximize", d.maximize),
                    },
                )
                .map_err(e)?,
            )
        }
        other => return Err(format!("unknown optimizer {other}")),
    })
}

fn compare(what: &str, got: &[f64], want: &[f64]) -> Res<()> {
    if got.len() != want.len() {
        return Err(format!("{what}: {} values, want {}", got.len(), want.len()));
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if !close(*g, *w) {
            return Err(format!("{what}[{i}]: got {g}, want {w}"));
        }
    }
    Ok(())
}

fn values(v: &Variable) -> Res<Vec<f64>> {
    Ok(v.data()
        .to_vec::<f32>()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(f64::from)
        .collect())
}

fn run_optimizer_case(problem: &Value, case: &Value) -> Res<()> {
    let x = Variable::constant(tensor(&problem["x"])?);
    let y = Variable::constant(tensor(&problem["y"])?);
    let w = Variable::parameter(tensor(&problem["weight0"])?);
    let bias = Variable::parameter(tensor(&problem["bias0"])?);
    let name = case["optimizer"].as_str().ok_or("missing optimizer")?;
    let mut opt = build_optimizer(name, &case["options"], vec![w.clone(), bias.clone()])?;
    let steps = case["steps"].as_array().ok_or("missing steps")?;
    for (i, st) in steps.iter().enumerate() {
        opt.zero_grad();
        let loss = mse_loss(
            &x.linear(&w, Some(&bias)).map_err(|e| e.to_string())?,
            &y,
            Reduction::Mean,
        )
        .map_err(|e| e.to_string())?;
        loss.backward().map_err(|e| e.to_string())?;
        let l = f64::from(loss.item::<f32>().map_err(|e| e.to_string())?);
        opt.step().map_err(|e| e.to_string())?;
        let want_loss = st["loss_before_step"].as_f64().ok_or("missing loss")?;
        compare(&format!("step {i} loss"), &[l], &[want_loss])?;
        compare(
            &format!("step {i} weight"),
            &values(&w)?,
            &floats(&st["weight"])?,
        )?;
        compare(
            &format!("step {i} bias"),
            &values(&bias)?,
            &floats(&st["bias"])?,
        )?;
    }
    Ok(())
}

fn run_scheduler_case(case: &Value) -> Res<()> {
    let name = case["scheduler"].as_str().ok_or("missing scheduler")?;
    let o = &case["options"];
    let base_lr = case["base_lr"].as_f64().ok_or("missing base_lr")?;
    let param = Variable::parameter(Tensor::zeros(&[1]));
    let mut opt = Sgd::new(
        vec![param],
        SgdOptions {
            lr: base_lr,
            ..Default::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let e = |e: torchlet_optim::OptimError| e.to_string();
    if name == "ReduceLROnPlateau" {
        let d = ReduceLrOnPlateauOptions::default();
        let mode = match o.get("mode").and_then(Value::as_str) {
            None | Some("min") => PlateauMode::Min,
            Some("max") => PlateauMode::Max,
            Some(m) => return Err(format!("unknown mode {m}")),
        };
        let threshold_mode = match o.get("threshold_mode").and_then(Value::as_str) {
            None | Some("rel") => ThresholdMode::Rel,
            Some("abs") => ThresholdMode::Abs,
            Some(m) => return Err(format!("unknown threshold_mode {m}")),
        };
        let opts = ReduceLrOnPlateauOptions {
            mode,
            factor: f(o, "factor", d.factor),
            patience: o
                .get("patience")
                .and_then(Value::as_u64)
                .map_or(d.patience, |p| p as usize),
            threshold: f(o, "threshold", d.threshold),
            threshold_mode,
            cooldown: o
                .get("cooldown")
                .and_then(Value::as_u64)
                .map_or(d.cooldown, |p| p as usize),
            min_lr: f(o, "min_lr", d.min_lr),
            eps: f(o, "eps", d.eps),
        };
        let mut sched = ReduceLrOnPlateau::new(&mut opt, opts).map_err(e)?;
        let metrics = floats(&case["metrics"])?;
        let mut got = vec![];
        for m in metrics {
            sched.step(m, &mut opt).map_err(e)?;
            got.push(sched.get_last_lr()[0]);
        }
        return compare("lr", &got, &floats(&case["lr_after_each_step"])?);
    }
    let mut sched: Box<dyn LrScheduler> = match name {
        "StepLR" => {
            Box::new(StepLr::new(&mut opt, u(o, "step_size")?, f(o, "gamma", 0.1)).map_err(e)?)
        }
        "MultiStepLR" => {
            let milestones = floats(&o["milestones"])?
                .into_iter()
                .map(|m| m as usize)
                .collect();
            Box::new(MultiStepLr::new(&mut opt, milestones, f(o, "gamma", 0.1)).map_err(e)?)
        }
        "ExponentialLR" => Box::new(
            ExponentialLr::new(&mut opt, o["gamma"].as_f64().ok_or("missing gamma")?).map_err(e)?,
        ),
        "CosineAnnealingLR" => Box::new(
            CosineAnnealingLr::new(&mut opt, u(o, "T_max")?, f(o, "eta_min", 0.0)).map_err(e)?,
        ),
        "LinearLR" => {
            let d = LinearLrOptions::default();
            let opts = LinearLrOptions {
                start_factor: f(o, "start_factor", d.start_factor),
                end_factor: f(o, "end_factor", d.end_factor),
                total_iters: o
                    .get("total_iters")
                    .and_then(Value::as_u64)
                    .map_or(d.total_iters, |t| t as usize),
            };
            Box::new(LinearLr::new(&mut opt, opts).map_err(e)?)
        }
        "OneCycleLR" => {
            let d = OneCycleLrOptions::default();
            let anneal_strategy = match o.get("anneal_strategy").and_then(Value::as_str) {
                None | Some("cos") => AnnealStrategy::Cos,
                Some("linear") => AnnealStrategy::Linear,
                Some(s) => return Err(format!("unknown anneal_strategy {s}")),
            };
            let opts = OneCycleLrOptions {
                max_lr: o["max_lr"].as_f64().ok_or("missing max_lr")?,
                total_steps: u(o, "total_steps")?,
                pct_start: f(o, "pct_start", d.pct_start),
                anneal_strategy,
                cycle_momentum: b(o, "cycle_momentum", d.cycle_momentum),
                base_momentum: f(o, "base_momentum", d.base_momentum),
                max_momentum: f(o, "max_momentum", d.max_momentum),
                div_factor: f(o, "div_factor", d.div_factor),
                final_div_factor: f(o, "final_div_factor", d.final_div_factor),
                three_phase: b(o, "three_phase", d.three_phase),
            };
            Box::new(OneCycleLr::new(&mut opt, opts).map_err(e)?)
        }
        other => return Err(format!("unknown scheduler {other}")),
    };
    let want = floats(&case["lr_per_step"])?;
    let mut got = vec![];
    for i in 0..want.len() {
        if i > 0 {
            opt.step().map_err(e)?;
            sched.step(&mut opt).map_err(e)?;
        }
        let last = sched.get_last_lr()[0];
        if last != opt.lr(0) {
            return Err(format!(
                "get_last_lr {last} differs from the optimizer's lr {}",
                opt.lr(0)
            ));
        }
        got.push(last);
    }
    compare("lr", &got, &want)
}

#[test]
fn optim_conformance() {
    let path = std::env::var("OPTIM_CASES").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../conformance/torch_optim.json"
        )
        .to_string()
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (mut passed, mut failed, mut allowed) = (0usize, 0usize, 0usize);
    let mut record = |id: String, r: Res<()>| match r {
        Ok(()) => passed += 1,
        Err(why) if is_allowed_unknown(&why) => {
            allowed += 1;
            println!("not implemented (allowed) {id}: {why}");
        }
        Err(why) => {
            failed += 1;
            println!("FAIL {id}: {why}");
        }
    };
    let problem = &doc["optimizers"];
    let empty = vec![];
    let cases = problem["cases"].as_array().unwrap_or(&empty);
    for (i, case) in cases.iter().enumerate() {
        let id = format!(
            "optimizers/{i} {} {}",
            case["optimizer"].as_str().unwrap_or("?"),
            case["options"]
        );
        let r = std::panic::catch_unwind(|| run_optimizer_case(problem, case))
            .unwrap_or_else(|_| Err("panicked".into()));
        record(id, r);
    }
    let scheds = doc["schedulers"].as_array().unwrap_or(&empty);
    for (i, case) in scheds.iter().enumerate() {
        let id = format!(
            "schedulers/{i} {} {}",
            case["scheduler"].as_str().unwrap_or("?"),
            case["options"]
        );
        let r = std::panic::catch_unwind(|| run_scheduler_case(case))
            .unwrap_or_else(|_| Err("panicked".into()));
        record(id, r);
    }
    println!("optim conformance: {passed} passed, {failed} failed, {allowed} not implemented");
    assert_eq!(failed, 0, "{failed} optim conformance cases failed");
    assert!(passed > 0, "no optim conformance case ran from {path}");
}

/// Whether `why` is an unknown optimizer or scheduler that
/// [`NOT_IMPLEMENTED_ALLOWED`] excuses.
fn is_allowed_unknown(why: &str) -> bool {
    let name = why
        .strip_prefix("unknown optimizer ")
        .or_else(|| why.strip_prefix("unknown scheduler "));
    name.is_some_and(|n| NOT_IMPLEMENTED_ALLOWED.iter().any(|(m, _)| *m == n))
}

const SPARSE_CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../conformance/sparse_optim.json"
);

fn index_tensor(v: &Value) -> Res<Tensor> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .ok_or("missing shape")?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize).ok_or("bad dim"))
        .collect::<Result<_, _>>()?;
    let data: Vec<i64> = v["data"]
        .as_array()
        .ok_or("missing data")?
        .iter()
        .map(|x| x.as_i64().ok_or_else(|| format!("not an index: {x}")))
        .collect::<Result<_, _>>()?;
    Tensor::from_vec(data, &shape).map_err(|e| e.to_string())
}

/// One sparse-gradient trajectory: an embedding table trained on the
/// file's batches; the loss before and the table after every step must
/// match, and rows never looked up so far must equal `weight0` bit for bit.
fn run_sparse_case(file: &Value, case: &Value) -> Res<()> {
    let weight0 = tensor(&file["weight0"])?;
    let table = Variable::parameter(weight0.clone());
    let name = case["optimizer"].as_str().ok_or("missing optimizer")?;
    let mut opt = build_optimizer(name, &case["options"], vec![table.clone()])?;
    let index = file["index"].as_array().ok_or("missing index")?;
    let ys = file["y"].as_array().ok_or("missing y")?;
    let rows = weight0.shape()[0];
    let width = weight0.shape()[1];
    let start = weight0.to_vec::<f32>().map_err(|e| e.to_string())?;
    let mut seen = vec![false; rows];
    for (t, step) in case["steps"]
        .as_array()
        .ok_or("missing steps")?
        .iter()
        .enumerate()
    {
        let idx = index_tensor(&index[t])?;
        for &i in &idx.to_vec::<i64>().map_err(|e| e.to_string())? {
            seen[i as usize] = true;
        }
        let y = Variable::constant(tensor(&ys[t])?);
        opt.zero_grad();
        let looked_up = torchlet_autograd::functional::embedding_sparse(&idx, &table, None)
            .map_err(|e| e.to_string())?;
        let loss = mse_loss(
            &looked_up.sum_dim(1).map_err(|e| e.to_string())?,
            &y,
            Reduction::Mean,
        )
        .map_err(|e| e.to_string())?;
        loss.backward().map_err(|e| e.to_string())?;
        if !table.has_sparse_grad() {
            return Err(format!("step {t}: the gradient is not sparse"));
        }
        let want_loss = step["loss_before_step"].as_f64().ok_or("missing loss")?;
        let got_loss = loss.item::<f32>().map_err(|e| e.to_string())? as f64;
        compare(&format!("step {t} loss"), &[got_loss], &[want_loss])?;
        opt.step().map_err(|e| e.to_string())?;
        let got = table.data().to_vec::<f32>().map_err(|e| e.to_string())?;
        let want = floats(&step["weight"])?;
        compare(
            &format!("step {t} weight"),
            &got.iter().map(|&x| x as f64).collect::<Vec<_>>(),
            &want,
        )?;
        for r in (0..rows).filter(|&r| !seen[r]) {
            let (a, b) = (
                &got[r * width..(r + 1) * width],
                &start[r * width..(r + 1) * width],
            );
            if a.iter().zip(b).any(|(x, y)| x.to_bits() != y.to_bits()) {
                return Err(format!("step {t}: row {r} was never looked up but changed"));
            }
        }
    }
    Ok(())
}

#[test]
fn sparse_optim_conformance() {
    let path = std::env::var("SPARSE_OPTIM_CASES").unwrap_or_else(|_| SPARSE_CASES.to_string());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let file: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (mut passed, mut failed) = (0, 0);
    for (i, case) in file["cases"].as_array().expect("cases").iter().enumerate() {
        match run_sparse_case(&file, case) {
            Ok(()) => passed += 1,
            Err(why) => {
                println!("FAIL sparse case {i} ({}): {why}", case["optimizer"]);
                failed += 1;
            }
        }
    }
    // Dense Adam refuses a sparse gradient with PyTorch's message.
    if let Some(want) = file["adam_refuses_sparse_grad"].as_str() {
        let table = Variable::parameter(tensor(&file["weight0"]).unwrap());
        let idx = Tensor::from_vec(vec![0i64], &[1]).unwrap();
        torchlet_autograd::functional::embedding_sparse(&idx, &table, None)
            .map(|v| v.sum())
            .and_then(|v| v.backward())
            .unwrap();
        let mut adam = Adam::new(vec![table], AdamOptions::default()).unwrap();
        match adam.step() {
            Err(e) if e.to_string().contains(want) => passed += 1,
            other => {
                println!("FAIL adam_refuses_sparse_grad: got {other:?}, want an error containing {want:?}");
                failed += 1;
            }
        }
    }
    println!("sparse optim conformance: {passed} passed, {failed} failed");
    assert_eq!(
        failed, 0,
        "{failed} sparse optimizer case(s) failed (see FAIL lines above)"
    );
    assert!(passed > 0, "no sparse optimizer case ran from {path}");
}
