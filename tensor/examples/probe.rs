use std::time::Instant;
use torchlet_tensor::{Generator, Tensor};
fn main() {
    let mut g = Generator::new(1);
    let a = Tensor::randn_with(&[4 << 20], &mut g);
    let b = Tensor::randn_with(&[4 << 20], &mut g);
    for threads in [1, 2] {
        torchlet_tensor::set_num_threads(threads);
        for (name, f) in [
            (
                "sigmoid",
                Box::new(|| {
                    std::hint::black_box(a.sigmoid());
                }) as Box<dyn Fn()>,
            ),
            (
                "add",
                Box::new(|| {
                    std::hint::black_box(a.add(&b).unwrap());
                }),
            ),
            (
                "exp",
                Box::new(|| {
                    std::hint::black_box(a.exp());
                }),
            ),
            (
                "relu",
                Box::new(|| {
                    std::hint::black_box(a.relu());
                }),
            ),
        ] {
            f();
            let t = Instant::now();
            for _ in 0..20 {
                f();
            }
            println!(
                "{threads} {name}: {:.3} ms",
                t.elapsed().as_secs_f64() * 1e3 / 20.0
            );
        }
    }
}
