//! The course's convolution slide on a real digit: an image, four 3×3
//! filters (kernels), the activation maps they make, ReLU, then 2×2 max
//! pooling. Prints each stage's shape and writes a PNG of each, so you
//! see what the network sees.
//!
//! `cargo run --release -p torchlet --example conv_pool [OUT_DIR]`
//! (default: a `torchlet_conv_pool` folder in the system's temp folder).

use torchlet::prelude::*;
use torchlet::vision::utils::{save_image, GridOptions};
use torchlet::vision::Mnist;

fn main() -> Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("torchlet_conv_pool"));
    std::fs::create_dir_all(&out)?;

    // Image: one test digit, [N, C, H, W] = [1, 1, 28, 28], values in [0, 1].
    let (image, label) = Mnist::embedded(false)?.get(0)?;
    let x = image.unsqueeze(0)?;
    println!("image (a {label}): {:?}", x.shape());

    // Filters: two edge detectors (Sobel), a blur and a sharpen.
    #[rustfmt::skip]
    let kernels = Tensor::from_vec(vec![
        -1.0f32, 0.0, 1.0,   -2.0, 0.0, 2.0,   -1.0, 0.0, 1.0, // vertical edges
        -1.0, -2.0, -1.0,    0.0, 0.0, 0.0,    1.0, 2.0, 1.0,  // horizontal edges
        1.0 / 9.0, 1.0 / 9.0, 1.0 / 9.0, 1.0 / 9.0, 1.0 / 9.0,
        1.0 / 9.0, 1.0 / 9.0, 1.0 / 9.0, 1.0 / 9.0,             // blur
        0.0, -1.0, 0.0,      -1.0, 5.0, -1.0,   0.0, -1.0, 0.0, // sharpen
    ], &[4, 1, 3, 3])?;
    let conv = Conv2d::with_options(1, 4, 3, Conv2dOptions::default().bias(false))?;
    conv.weight().set_data(kernels.clone())?;
    let pool = MaxPool2d::new(2);

    // Activation maps: each filter slid over the image (no padding: 28 - 3 + 1 = 26).
    let maps = no_grad(|| conv.call(&x))?;
    let relu = maps.relu();
    let pooled = pool.forward(&relu)?;
    println!("activation maps (conv 3x3): {:?}", maps.shape());
    println!("after ReLU:                 {:?}", relu.shape());
    println!("after max pooling 2x2:      {:?}", pooled.shape());

    // What the slide says, checked: each output is the filter's weighted
    // sum of the 3x3 patch under it, and pooling keeps each window's max.
    let (img, k) = (image.to_vec::<f32>()?, kernels.to_vec::<f32>()?);
    let (m, r, p) = (
        maps.to_vec::<f32>()?,
        relu.to_vec::<f32>()?,
        pooled.to_vec::<f32>()?,
    );
    for (c, i, j) in [(0, 10, 12), (1, 5, 20), (3, 14, 14)] {
        // Activation (i, j): the filter's weighted sum of the patch under it.
        let sum: f32 = (0..9)
            .map(|t| k[c * 9 + t] * img[(i + t / 3) * 28 + j + t % 3])
            .sum();
        assert!((m[c * 676 + i * 26 + j] - sum).abs() < 1e-5);
        // Pooled cell (i/2, j/2): the largest ReLU output of its 2x2 window.
        let (pi, pj) = (i / 2, j / 2);
        let window = [(0, 0), (0, 1), (1, 0), (1, 1)]
            .map(|(di, dj)| r[c * 676 + (2 * pi + di) * 26 + 2 * pj + dj]);
        assert_eq!(
            p[c * 169 + pi * 13 + pj],
            window.into_iter().fold(f32::MIN, f32::max)
        );
    }
    assert!(r.iter().all(|&v| v >= 0.0));

    // Each channel as its own grey image, enlarged so the pixels show.
    let grid = GridOptions::default().nrow(4).normalize(true);
    let save = |t: &Tensor, scale: usize, name: &str| -> Result<()> {
        Ok(save_image(&enlarge(t, scale)?, out.join(name), &grid)?)
    };
    // [1, 4, H, W] (one image, four channels) -> four one-channel images.
    let per_channel = |v: &Variable| v.data().transpose(0, 1);
    save(&image, 4, "image.png")?;
    save(&kernels, 24, "kernels.png")?;
    save(&per_channel(&maps)?, 4, "maps.png")?;
    save(&per_channel(&relu)?, 4, "relu.png")?;
    save(&per_channel(&pooled)?, 8, "pooled.png")?;
    println!(
        "wrote image.png, kernels.png, maps.png, relu.png and pooled.png to {}",
        out.display()
    );
    Ok(())
}

/// Each pixel of `[.., H, W]` repeated `k` times down and across (nearest
/// neighbour), with views: `[.., H, 1, W, 1]` expanded to `[.., H, k, W, k]`.
fn enlarge(t: &Tensor, k: usize) -> Result<Tensor> {
    let s: Vec<i64> = t.shape().iter().map(|&n| n as i64).collect();
    let (lead, h, w) = (&s[..s.len() - 2], s[s.len() - 2], s[s.len() - 1]);
    let k = k as i64;
    let spread = [lead, &[h, 1, w, 1]].concat();
    let tiled = [lead, &[h, k, w, k]].concat();
    let out = [lead, &[h * k, w * k]].concat();
    Ok(t.reshape(&spread)?
        .expand(&tiled)?
        .contiguous()
        .reshape(&out)?)
}
