//! Profiling aid: a tight loop of tiny ops, for `perf record`.
//! `cargo run --release -p torchlet-tensor --example overhead_probe`
fn main() {
    let a = torchlet_tensor::Tensor::from_vec(vec![1.0f32], &[1]).unwrap();
    let b = torchlet_tensor::Tensor::from_vec(vec![2.0f32], &[1]).unwrap();
    let t = std::time::Instant::now();
    let n = 5_000_000;
    for _ in 0..n {
        std::hint::black_box(a.add(&b).unwrap());
    }
    println!(
        "add of 1-element tensors: {:.1} ns/op",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}
