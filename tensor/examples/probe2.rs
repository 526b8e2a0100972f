use std::time::Instant;
use torchlet_tensor::math::sigmoid_f32;
#[target_feature(enable = "avx2,fma")]
unsafe fn run(src: &[f32], dst: &mut [f32], reps: usize) {
    for _ in 0..reps {
        for (d, &s) in dst.iter_mut().zip(src) { *d = sigmoid_f32(s); }
        std::hint::black_box(&mut *dst);
    }
}
fn main() {
    let src: Vec<f32> = (0..4096).map(|i| (i as f32) * 0.001 - 2.0).collect();
    let reps = 20000;
    let t = Instant::now();
    let mut dst = vec![0.0f32; 4096];
    unsafe { run(&src, &mut dst, reps) };
    let e1 = t.elapsed();
    println!("1 thread: {:?} = {:.3} ns/elem", e1, e1.as_nanos() as f64 / (4096.0 * reps as f64));
    let t = Instant::now();
    std::thread::scope(|s| { for _ in 0..2 { let src = &src; s.spawn(move || { let mut d = vec![0.0f32; 4096]; unsafe { run(src, &mut d, reps) } }); } });
    println!("2 threads same work each: {:?}", t.elapsed());
}
