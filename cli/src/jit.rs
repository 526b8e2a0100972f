//! `torchlet jit`: a trained image run's model as one script file
//! (torchlet-jit, traced then optimised), which `torchlet eval --model` and `torchlet predict
//! --model` run without rebuilding the model from its config. Like the
//! run's ONNX file, the script takes pixels in `[0, 1]` with the run's
//! normalisation folded in as its first ops, and gives logits.

use std::path::{Path, PathBuf};

use torchlet_jit::ScriptModule;
use torchlet_tensor::Tensor;
use torchlet_train::BatchSource;

use crate::export::Normalized;
use crate::predict::{load_image, print_probabilities};
use crate::run::{
    accuracy_line, bail, load_mnist, mnist_batches, BoxError, Msg, Normalization, RunConfig,
    EVAL_BATCH,
};

/// The file `torchlet jit` writes into the run folder by default.
pub const RUN_SCRIPT: &str = "model.tlj";

/// `torchlet jit` options.
#[derive(Debug, clap::Args)]
pub struct JitArgs {
    /// The run folder `torchlet train` wrote (an image run).
    #[arg(long)]
    run: PathBuf,
    /// The script file to write (default: RUN/model.tlj).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the graph as traced and after the optimisation passes.
    #[arg(long)]
    print: bool,
}

fn jit_error(e: torchlet_jit::JitError) -> BoxError {
    Box::new(Msg(e.to_string()))
}

/// `torchlet jit --run DIR [--out FILE] [--print]`.
pub fn jit(args: &JitArgs) -> Result<(), BoxError> {
    let config = RunConfig::load(&args.run)?;
    if config.quantization.is_some() {
        bail!(
            "{} is a quantized run: the jit traces float models (script the float run)",
            args.run.display()
        );
    }
    let model = config.load_model(&args.run)?;
    let [h, w] = config.image_size;
    let c = config.in_channels;
    let wrapped = Normalized::new(&*model, &config.normalize, c)?;
    let example = Tensor::rand(&[2, c, h, w]);
    let traced = torchlet_jit::trace(&wrapped, &[example]).map_err(jit_error)?;
    let mut script = traced.optimize().map_err(jit_error)?;
    script.set_metadata("classes", &serde_json::to_string(&config.classes)?);
    script.set_metadata("input_range", "[0, 1]");
    script.set_metadata("model", &config.model);
    script.set_metadata("dataset", &config.dataset.name);
    if args.print {
        println!("traced:\n{}\n", traced.graph());
        println!("optimized:\n{}\n", script.graph());
        println!("{}\n", script.memory_plan());
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run.join(RUN_SCRIPT));
    script.save(&out).map_err(jit_error)?;
    let bytes = std::fs::metadata(&out)?.len();
    println!(
        "wrote {} ({bytes} bytes, {} ops)",
        out.display(),
        script.graph().nodes.len()
    );
    Ok(())
}

/// A script file and its class names.
fn load(path: &Path) -> Result<(ScriptModule, Vec<String>), BoxError> {
    let script = torchlet_jit::load(path).map_err(jit_error)?;
    let classes = match script.metadata("classes") {
        Some(json) => serde_json::from_str(json)?,
        None => Vec::new(),
    };
    Ok((script, classes))
}

/// The `[C, H, W]` of a script's image input.
fn image_shape(script: &ScriptModule, path: &Path) -> Result<[usize; 3], BoxError> {
    use torchlet_jit::graph::Dim;
    let inputs = &script.graph().inputs;
    match inputs.as_slice() {
        [x] => match x.dims.as_slice() {
            [_, Dim::Fixed(c), Dim::Fixed(h), Dim::Fixed(w)] => Ok([*c, *h, *w]),
            _ => bail!(
                "{}: the script's input is not an image batch [N, C, H, W]",
                path.display()
            ),
        },
        _ => bail!(
            "{}: the script takes {} inputs, not one image batch",
            path.display(),
            inputs.len()
        ),
    }
}

/// `torchlet eval --model FILE [--data DIR]`: the script's accuracy on
/// the MNIST test split (the embedded 2,000 digits, or full MNIST).
pub fn eval(path: &Path, data: Option<&Path>) -> Result<(), BoxError> {
    let (script, _) = load(path)?;
    let [c, h, w] = image_shape(&script, path)?;
    let test = load_mnist(data, false)?;
    if test.image_shape() != [c, h, w] {
        bail!(
            "{}: the script takes images [{c}, {h}, {w}], the data has {:?}",
            path.display(),
            test.image_shape()
        );
    }
    // Pixels in [0, 1]: the normalisation is in the script.
    let raw = Normalization {
        mean: vec![0.0],
        std: vec![1.0],
    };
    let (mut right, mut total) = (0usize, 0usize);
    for batch in mnist_batches(&test, &raw, EVAL_BATCH).batches(0)? {
        let (x, y) = batch?;
        let logits = script.forward(&[x]).map_err(jit_error)?;
        let pred = logits[0].argmax(1)?.to_vec::<i64>()?;
        let labels = y.to_vec::<i64>()?;
        right += pred.iter().zip(&labels).filter(|(p, l)| p == l).count();
        total += labels.len();
    }
    println!("{}", accuracy_line(right as f64 / total.max(1) as f64));
    Ok(())
}

/// `torchlet predict --model FILE IMAGE...`.
pub fn predict(path: &Path, images: &[PathBuf]) -> Result<(), BoxError> {
    let (script, classes) = load(path)?;
    let [c, h, w] = image_shape(&script, path)?;
    if c != 1 {
        bail!("predict supports grey-scale models only");
    }
    let mut pixels = Vec::with_capacity(images.len() * h * w);
    for image in images {
        pixels.extend(load_image(image, [h, w])?);
    }
    let x = Tensor::from_vec(pixels, &[images.len(), 1, h, w])?;
    let logits = script.forward(&[x]).map_err(jit_error)?;
    let probs = logits[0].softmax(1)?.to_vec::<f32>()?;
    print_probabilities(images, &probs, &classes)
}
