//! Profiling aid: the seed network's training step in a loop, for `perf`.
//! `cargo run --release -p torchlet-autograd --example seed_step_probe`
use torchlet_autograd::functional as F;
use torchlet_autograd::Variable;
use torchlet_tensor::functional::Reduction;
use torchlet_tensor::Tensor;

fn main() {
    let p = |v: Vec<f32>, s: &[usize]| Variable::parameter(Tensor::from_vec(v, s).unwrap());
    let params = [
        p(vec![0.05; 9], &[3, 3]),
        p(vec![0.01, 0.02, 0.03], &[3]),
        p(vec![0.025; 9], &[3, 3]),
        p(vec![0.01, 0.02, 0.03], &[3]),
        p(vec![1.0; 6], &[2, 3]),
        p(vec![0.01, 0.02], &[2]),
    ];
    let x = Variable::constant(Tensor::from_vec(vec![1.5f32, 2.5, 3.0], &[3]).unwrap());
    let y = Variable::constant(Tensor::from_vec(vec![1.0f32, 0.0], &[2]).unwrap());
    let n = 100_000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        let h1 = params[0]
            .matmul(&x)
            .unwrap()
            .add(&params[1])
            .unwrap()
            .sigmoid();
        let h2 = params[2]
            .matmul(&h1)
            .unwrap()
            .add(&params[3])
            .unwrap()
            .sigmoid();
        let h3 = params[4]
            .matmul(&h2)
            .unwrap()
            .add(&params[5])
            .unwrap()
            .softmax(0)
            .unwrap();
        let loss = F::binary_cross_entropy(&h3, &y, None, Reduction::Mean).unwrap();
        loss.backward().unwrap();
        for q in &params {
            let g = q.grad().unwrap();
            q.update_data(|w| w.add_scaled_(&g, -0.1)).unwrap().unwrap();
            q.zero_grad();
        }
    }
    println!(
        "seed step: {:.2} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
