use std::time::Instant;
use torchlet_quantize::{
    quantize_per_channel, quantize_per_tensor, quantized_linear, PackedParams, QDtype,
};
use torchlet_tensor::{Generator, Tensor};
fn main() {
    torchlet_tensor::set_num_threads(1);
    let mut g = Generator::new(0);
    let m: usize = std::env::var("M")
        .map(|v| v.parse().unwrap())
        .unwrap_or(128);
    let x = Tensor::randn_with(&[m, 784], &mut g);
    let mk = |n: usize, k: usize, g: &mut Generator| {
        let w = Tensor::randn_with(&[n, k], g);
        let scales = Tensor::full(&[n], 3.0 / 127.0);
        let zps = Tensor::from_vec(vec![0i64; n], &[n]).unwrap();
        let wq = quantize_per_channel(&w, &scales, &zps, 0, QDtype::QInt8).unwrap();
        let b = Tensor::randn_with(&[n], g);
        PackedParams::new(&wq, Some(&b.to_vec::<f32>().unwrap())).unwrap()
    };
    let (p1, p2, p3) = (
        mk(256, 784, &mut g),
        mk(128, 256, &mut g),
        mk(10, 128, &mut g),
    );
    let reps = 2000;
    let mut t = [0f64; 5];
    for _ in 0..reps {
        let s = Instant::now();
        let xq = quantize_per_tensor(&x, 0.06, 64, QDtype::QUInt8).unwrap();
        let a = s.elapsed().as_secs_f64();
        let s = Instant::now();
        let h1 = quantized_linear(&xq, &p1, 1.0, 0, true).unwrap();
        let b = s.elapsed().as_secs_f64();
        let s = Instant::now();
        let h2 = quantized_linear(&h1, &p2, 1.0, 0, true).unwrap();
        let c = s.elapsed().as_secs_f64();
        let s = Instant::now();
        let h3 = quantized_linear(&h2, &p3, 0.05, 64, false).unwrap();
        let d = s.elapsed().as_secs_f64();
        let s = Instant::now();
        let out = h3.dequantize();
        let e = s.elapsed().as_secs_f64();
        std::hint::black_box(out);
        if t[0] == 0.0 {
            for (nm, q) in [("x", &xq), ("h1", &h1), ("h2", &h2)] {
                let v = q.as_u8().unwrap();
                println!(
                    "{nm}: {} of {} above 127, max {}",
                    v.iter().filter(|&&b| b > 127).count(),
                    v.len(),
                    v.iter().max().unwrap()
                );
            }
        }
        for (ti, v) in t.iter_mut().zip([a, b, c, d, e]) {
            *ti += v;
        }
    }
    for (name, v) in ["quant", "fc1", "fc2", "fc3", "deq"].iter().zip(t) {
        println!("{name} {:.2} us", v / reps as f64 * 1e6);
    }
    let macs = [784 * 256, 256 * 128, 128 * 10];
    for (i, mac) in macs.iter().enumerate() {
        println!(
            "fc{} {:.1} GMAC/s",
            i + 1,
            (m * mac) as f64 / (t[i + 1] / reps as f64) / 1e9
        );
    }
}
#[allow(dead_code)]
fn unused() {}
