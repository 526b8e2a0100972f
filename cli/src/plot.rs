//! `curves.png`: loss and accuracy per epoch, train vs test, drawn with
//! plotters.
//!
//! plotters draws text with a TrueType font it must be given; we look for
//! a common system sans-serif font (DejaVu, Liberation, Noto, Arial...) and
//! draw the chart without text when none is found.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use torchlet_train::{write_atomic, EpochMetrics};

use crate::run::{BoxError, Msg};

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers a system font as plotters' `sans-serif` once; whether one was
/// found.
fn have_font() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        FONT_PATHS.iter().any(|p| match std::fs::read(p) {
            Ok(bytes) => {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
            }
            Err(_) => false,
        })
    })
}

/// Draws the curves and writes them to `path` (PNG, temp file + rename).
pub fn curves(epochs: &[EpochMetrics], path: &Path) -> Result<(), BoxError> {
    const W: u32 = 1000;
    const H: u32 = 400;
    let mut pixels = vec![0u8; (W * H * 3) as usize];
    draw(epochs, &mut pixels, W, H).map_err(|e| Msg(format!("cannot draw curves: {e}")))?;
    let mut png = Vec::new();
    image::RgbImage::from_raw(W, H, pixels)
        .ok_or_else(|| Msg("cannot draw curves: bad buffer".into()))?
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    write_atomic(path, &png)?;
    Ok(())
}

type Series = (&'static str, RGBColor, Vec<(f64, f64)>);

fn draw(epochs: &[EpochMetrics], buf: &mut [u8], w: u32, h: u32) -> Result<(), BoxError> {
    let text = have_font();
    let root = BitMapBackend::with_buffer(buf, (w, h)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let pts = |f: &dyn Fn(&EpochMetrics) -> Option<f64>| -> Vec<(f64, f64)> {
        epochs
            .iter()
            .filter_map(|m| f(m).filter(|v| v.is_finite()).map(|v| (m.epoch as f64, v)))
            .collect()
    };
    let loss: Vec<Series> = vec![
        ("train", BLUE, pts(&|m| Some(m.train_loss))),
        ("test", RED, pts(&|m| m.eval_loss)),
    ];
    let acc: Vec<Series> = vec![
        ("train", BLUE, pts(&|m| Some(m.train_acc))),
        ("test", RED, pts(&|m| m.eval_acc)),
    ];
    let last = epochs.len().max(2) as f64;
    for (area, title, series) in [(&panels[0], "loss", loss), (&panels[1], "accuracy", acc)] {
        let values = series.iter().flat_map(|s| s.2.iter().map(|p| p.1));
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        let pad = ((hi - lo) * 0.08).max(1e-3);
        let mut builder = ChartBuilder::on(area);
        builder.margin(15);
        if text {
            builder
                .caption(title, ("sans-serif", 22))
                .x_label_area_size(35)
                .y_label_area_size(55);
        }
        let mut chart = builder.build_cartesian_2d(1.0..last, (lo - pad)..(hi + pad))?;
        let mut mesh = chart.configure_mesh();
        mesh.light_line_style(WHITE.mix(0.0));
        if text {
            mesh.x_desc("epoch")
                .x_labels(epochs.len().clamp(2, 10))
                .x_label_formatter(&|x| format!("{}", x.round() as i64))
                .y_labels(6);
        } else {
            mesh.disable_x_mesh().disable_y_mesh();
        }
        mesh.draw()?;
        for (label, color, points) in series {
            let s = chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?;
            if text {
                s.label(label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            }
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        if text {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font(("sans-serif", 15))
                .draw()?;
        }
    }
    root.present()?;
    Ok(())
}
