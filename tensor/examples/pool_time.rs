use std::time::Instant;
use torchlet_tensor::Tensor;
fn main() {
    let x = Tensor::randn(&[64, 6, 28, 28]);
    for _ in 0..20 {
        std::hint::black_box(x.max_pool2d_with_indices([2, 2], [2, 2], [0, 0]).unwrap());
    }
    let reps = 500;
    let s = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(x.max_pool2d_with_indices([2, 2], [2, 2], [0, 0]).unwrap());
    }
    println!(
        "maxpool w/ idx [64,6,28,28]: {:.1} us",
        s.elapsed().as_secs_f64() * 1e6 / reps as f64
    );
}
