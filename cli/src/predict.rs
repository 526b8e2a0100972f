//! `torchlet predict --run DIR IMAGE...`.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use torchlet_autograd::Variable;
use torchlet_tensor::Tensor;

use crate::run::{bail, one_line, BoxError, RunConfig};

/// Reads an image (PNG/JPEG, any size), converts it to grey, resizes it to
/// `size` and scales it to `[0, 1]` like MNIST: white strokes on black.
/// A picture with a light background (dark digit on white paper) is
/// inverted, judged by the mean of its border pixels.
pub fn load_image(path: &Path, size: [usize; 2]) -> Result<Vec<f32>, BoxError> {
    let bytes =
        std::fs::read(path).map_err(|e| crate::run::Msg(format!("{}: {e}", path.display())))?;
    image_pixels(&bytes, size, &path.display().to_string())
}

/// [`load_image`] on a file's bytes; `what` names it in errors.
pub fn image_pixels(bytes: &[u8], size: [usize; 2], what: &str) -> Result<Vec<f32>, BoxError> {
    let img = image::load_from_memory(bytes).map_err(|e| {
        crate::run::Msg(format!(
            "{what}: not a readable PNG/JPEG image ({})",
            one_line(&e.to_string())
        ))
    })?;
    if img.width() == 0 || img.height() == 0 {
        bail!("{what}: empty image");
    }
    let grey = img.to_luma8();
    let (w, h) = (grey.width(), grey.height());
    let border: Vec<u8> = grey
        .enumerate_pixels()
        .filter(|(x, y, _)| *x == 0 || *y == 0 || *x == w - 1 || *y == h - 1)
        .map(|(_, _, p)| p.0[0])
        .collect();
    let invert = border.iter().map(|&v| v as f64).sum::<f64>() / border.len() as f64 > 127.5;
    let resized = if (w as usize, h as usize) == (size[1], size[0]) {
        grey
    } else {
        image::imageops::resize(&grey, size[1] as u32, size[0] as u32, FilterType::Triangle)
    };
    Ok(resized
        .into_raw()
        .into_iter()
        .map(|v| {
            let v = v as f32 / 255.0;
            if invert {
                1.0 - v
            } else {
                v
            }
        })
        .collect())
}

/// Runs `torchlet predict`: one line per image with the predicted class,
/// its probability and every class's probability.
pub fn predict(run: &Path, images: &[PathBuf]) -> Result<(), BoxError> {
    let config = RunConfig::load(run)?;
    if config.in_channels != 1 {
        bail!("predict supports grey-scale models only");
    }
    let size = config.image_size;
    // Read every image before printing anything.
    let mut pixels = Vec::with_capacity(images.len() * size[0] * size[1]);
    for path in images {
        pixels.extend(load_image(path, size)?);
    }
    let model = config.load_model(run)?;
    let (mean, std) = (config.normalize.mean[0], config.normalize.std[0]);
    let x = Tensor::from_vec(
        pixels.into_iter().map(|v| (v - mean) / std).collect(),
        &[images.len(), 1, size[0], size[1]],
    )?;
    let probs = torchlet_autograd::no_grad(|| model.forward(&Variable::constant(x)))?
        .data()
        .softmax(1)?;
    print_probabilities(images, &probs.to_vec::<f32>()?, &config.classes)
}

/// Prints each image's likeliest class and every class's probability
/// (`probs` is `[images, classes]`, rows summing to one).
pub fn print_probabilities(
    images: &[PathBuf],
    probs: &[f32],
    classes: &[String],
) -> Result<(), BoxError> {
    let k = probs.len() / images.len().max(1);
    let class = |i: usize| classes.get(i).cloned().unwrap_or_else(|| i.to_string());
    for (path, p) in images.iter().zip(probs.chunks(k.max(1))) {
        let (best, pbest) =
            p.iter()
                .enumerate()
                .fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
        let all: Vec<String> = p
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{}:{v:.4}", class(i)))
            .collect();
        println!(
            "{}: class {} (p={pbest:.4}) probabilities {}",
            path.display(),
            class(best),
            all.join(" ")
        );
    }
    Ok(())
}
