//! Measures sequential vs parallel faer GEMM at a range of sizes, to set
//! the threshold above which matmul uses threads.
//! `cargo run --release -p torchlet-tensor --example gemm_threshold`
use std::time::Instant;
use torchlet_tensor::{set_num_threads, Generator, Tensor};

fn time(a: &Tensor, b: &Tensor) -> f64 {
    let reps = (2e8 / (a.shape()[0] as f64).powi(3)).max(3.0) as usize;
    let _ = a.matmul(b).unwrap();
    let t = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(a.matmul(b).unwrap());
    }
    t.elapsed().as_secs_f64() / reps as f64
}

fn main() {
    let mut g = Generator::new(0);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("size  seq_us  par_us  (threads {threads}; parallel only used above the built-in threshold)");
    for n in [32usize, 64, 96, 128, 160, 192, 256, 384, 512] {
        let a = Tensor::randn_with(&[n, n], &mut g);
        let b = Tensor::randn_with(&[n, n], &mut g);
        set_num_threads(1);
        let seq = time(&a, &b);
        set_num_threads(threads);
        let par = time(&a, &b);
        println!("{n:4}  {:7.1}  {:7.1}", seq * 1e6, par * 1e6);
    }
}
