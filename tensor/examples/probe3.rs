use std::time::Instant;
use torchlet_tensor::{Generator, Tensor};
fn main() {
    let op = std::env::args().nth(1).unwrap_or("sigmoid".into());
    let mut g = Generator::new(1);
    let a = Tensor::randn_with(&[4 << 20], &mut g);
    let f = || match op.as_str() { "sigmoid" => a.sigmoid(), "exp" => a.exp(), "softmax" => a.reshape(&[4096, 1024]).unwrap().softmax(1).unwrap(), "transpose" => a.reshape(&[2048, 2048]).unwrap().t().unwrap().contiguous(), _ => a.relu() };
    f();
    let t = Instant::now();
    for _ in 0..100 { std::hint::black_box(f()); }
    println!("{op}: {:.3} ms", t.elapsed().as_secs_f64() * 1e3 / 100.0);
}
