use std::time::Instant;
use torchlet_tensor::Tensor;
fn time(name: &str, f: &dyn Fn() -> Tensor) {
    for _ in 0..50 {
        std::hint::black_box(f());
    }
    let reps = 2000;
    let s = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(f());
    }
    let us = s.elapsed().as_secs_f64() * 1e6 / reps as f64;
    println!("{name}: {us:.1} us");
}
fn main() {
    let h = Tensor::rand(&[32, 128]);
    let w = Tensor::rand(&[512, 128]);
    let wt = w.transpose(0, 1).unwrap().contiguous();
    time("h @ w.T (view)", &|| {
        h.matmul(&w.transpose(0, 1).unwrap()).unwrap()
    });
    time("h @ wt (contig)", &|| h.matmul(&wt).unwrap());
    let hb = Tensor::rand(&[32, 512]);
    time("dg @ w (contig [512,128])", &|| hb.matmul(&w).unwrap());
    time("dg @ wt.T (view)", &|| {
        hb.matmul(&wt.transpose(0, 1).unwrap()).unwrap()
    });
    let big = Tensor::rand(&[1024, 512]);
    let x = Tensor::rand(&[1024, 128]);
    time("dgT @ hprev [512,1024]x[1024,128]", &|| {
        big.transpose(0, 1).unwrap().matmul(&x).unwrap()
    });
}
