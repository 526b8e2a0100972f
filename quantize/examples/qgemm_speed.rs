//! Quick side-by-side timing of the int8 GEMM and torchlet's f32 GEMM at
//! 1024³ (the criterion bench and the PyTorch comparison live in benches/).
use std::time::Instant;

use torchlet_quantize::kernels::{qgemm, PackedWeight};
use torchlet_tensor::Tensor;

fn main() {
    let n = 1024;
    let a: Vec<u8> = (0..n * n).map(|i| (i * 7 % 127) as u8).collect();
    let w: Vec<i8> = (0..n * n).map(|i| (i * 13 % 255) as i8).collect();
    let packed = PackedWeight::new(&w, n, n);
    let mut out = vec![0i32; n * n];
    let x = Tensor::randn(&[n, n]);
    let y = Tensor::randn(&[n, n]);
    for round in 0..3 {
        let t = Instant::now();
        qgemm(&a, n, 3, &packed, &mut out);
        let q = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let z = x.matmul(&y).unwrap();
        let f = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "round {round}: int8 {q:.2} ms, f32 {f:.2} ms, ratio {:.2} ({})",
            f / q,
            z.numel()
        );
    }
}
