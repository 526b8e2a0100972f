//! Writes a quantized MNIST model as ONNX for
//! `scripts/check_quantized_onnx.py`: trains LeNet-5 with BatchNorm for a
//! short while on the embedded MNIST training digits, quantizes it
//! (capture → fuse conv+bn → prepare with PyTorch's x86 qconfig →
//! calibrate → convert), and writes into DIR
//!
//! - `model_int8.onnx`: the QDQ graph, taking `[N, 1, 28, 28]` pixels in
//!   `[0, 1]` (the normalization is folded in front);
//! - `predictions.txt`: the int8 model's class for each of the 2,000
//!   embedded test digits, one per line, in order.
//!
//! `--steps` sets the training steps (batches of 64, default 500), `--opset`
//! the ONNX opset, `--bias-input` [`QuantizedExportOptions::bias_input`].
//!
//! ```sh
//! cargo run --release -p torchlet-onnx --example export_quantized_check -- DIR [--opset N] [--steps N] [--bias-input]
//! python3 onnx-export/scripts/check_quantized_onnx.py DIR/model_int8.onnx --predictions DIR/predictions.txt
//! ```

use std::error::Error;
use std::path::PathBuf;

use torchlet_autograd::functional::{cross_entropy, Reduction};
use torchlet_autograd::{no_grad, Variable};
use torchlet_nn::Module;
use torchlet_onnx::{export_quantized_to_file, QuantizedExportOptions};
use torchlet_quantize::{capture, convert, fuse_modules, get_default_qconfig, prepare};
use torchlet_tensor::Tensor;
use torchlet_vision::models::LeNet5;
use torchlet_vision::Mnist;

const MEAN: f32 = 0.1307;
const STD: f32 = 0.3081;

/// `(x - mean) / std`, the same float ops as the graph's `Sub` and `Div`.
fn normalize(x: &Tensor) -> Result<Tensor, Box<dyn Error>> {
    let m = Tensor::from_vec(vec![MEAN], &[1, 1, 1, 1])?;
    let s = Tensor::from_vec(vec![STD], &[1, 1, 1, 1])?;
    Ok(x.sub(&m)?.div(&s)?)
}

fn argmax_rows(t: &Tensor) -> Result<Vec<usize>, Box<dyn Error>> {
    let cols = t.shape()[1];
    let v = t.to_vec::<f32>()?;
    Ok(v.chunks(cols)
        .map(|r| (0..cols).fold(0, |b, i| if r[i] > r[b] { i } else { b }))
        .collect())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let (mut opset, mut steps, mut bias_input) = (torchlet_onnx::DEFAULT_OPSET, 500usize, false);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--opset" => opset = args.next().ok_or("--opset N")?.parse()?,
            "--steps" => steps = args.next().ok_or("--steps N")?.parse()?,
            "--bias-input" => bias_input = true,
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let dir =
        dir.ok_or("usage: export_quantized_check DIR [--opset N] [--steps N] [--bias-input]")?;
    std::fs::create_dir_all(&dir)?;
    let (train, test) = (Mnist::embedded(true)?, Mnist::embedded(false)?);

    torchlet_tensor::manual_seed(0);
    let model = LeNet5::with_batch_norm()?;
    model.train();
    let batch = 64;
    for step in 0..steps {
        let idx: Vec<usize> = (0..batch)
            .map(|i| (step * batch + i) % train.len())
            .collect();
        let (x, y) = train.batch(&idx)?;
        let logits = model.forward(&Variable::constant(normalize(&x)?))?;
        let loss = cross_entropy(&logits, &y, None, -100, Reduction::Mean, 0.0)?;
        model.zero_grad();
        loss.backward()?;
        for p in model.parameters() {
            if let Some(g) = p.grad() {
                p.update_data(|d| d.add_scaled_(&g, -0.05))??;
            }
        }
    }
    model.eval();

    let test_idx: Vec<usize> = (0..test.len()).collect();
    let (tx, ty) = test.batch(&test_idx)?;
    let (tx, labels) = (normalize(&tx)?, ty.to_vec::<i64>()?);
    let float_out = no_grad(|| model.forward(&Variable::constant(tx.clone())))?.data();

    let mut g = capture(&model, &normalize(&train.batch(&[0, 1])?.0)?)?;
    fuse_modules(&mut g, &[["conv1", "bn1"], ["conv2", "bn2"]])?;
    let prepared = prepare(g, &get_default_qconfig("x86")?)?;
    for b in 0..8 {
        let idx: Vec<usize> = (b * 128..(b + 1) * 128).collect();
        prepared.forward(&Variable::constant(normalize(&train.batch(&idx)?.0)?))?;
    }
    let q = convert(&prepared)?;
    let int8_out = q.run(&tx)?;

    let accuracy = |preds: &[usize]| {
        let right = preds.iter().zip(&labels).filter(|(p, l)| **p as i64 == **l);
        right.count() as f64 / labels.len() as f64
    };
    let preds = argmax_rows(&int8_out)?;
    let raw: Vec<u8> = int8_out
        .to_vec::<f32>()?
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(dir.join("logits.f32"), raw)?;
    println!(
        "LeNet-5 after {steps} steps: float accuracy {:.4}, int8 accuracy {:.4} on {} test digits",
        accuracy(&argmax_rows(&float_out)?),
        accuracy(&preds),
        labels.len()
    );
    let lines: String = preds.iter().map(|p| format!("{p}\n")).collect();
    std::fs::write(dir.join("predictions.txt"), lines)?;

    let mut options = QuantizedExportOptions::with_opset(opset);
    options.normalize = Some((vec![MEAN], vec![STD]));
    options.base.output_name = "logits".into();
    options.bias_input = bias_input;
    let path = dir.join("model_int8.onnx");
    export_quantized_to_file(&q, &[1, 1, 28, 28], &path, &options)?;
    println!("wrote {} and predictions.txt", path.display());
    Ok(())
}
