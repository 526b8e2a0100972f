//! Every threaded kernel gives bit-for-bit the same result on 1, 2 and 3
//! threads: parts are fixed by the data, never by the thread count, and
//! GEMMs split rows or columns but never the summed dimension. The inputs
//! are large enough to cross every kernel's threading threshold.
//!
//! One test function, because the thread count is process-wide.

use torchlet_tensor::functional::{lstm_sequence, lstm_sequence_backward};
use torchlet_tensor::{set_num_threads, AdamStep, Generator, SgdStep, Tensor};

/// Runs `f` on 1, 2 and 3 threads and checks the outputs are identical.
fn same_on_all_thread_counts(name: &str, f: &dyn Fn() -> Vec<Tensor>) {
    set_num_threads(1);
    let one: Vec<Vec<f32>> = f().iter().map(|t| t.to_vec::<f32>().unwrap()).collect();
    for threads in [2, 3] {
        set_num_threads(threads);
        let many: Vec<Vec<f32>> = f().iter().map(|t| t.to_vec::<f32>().unwrap()).collect();
        for (k, (a, b)) in one.iter().zip(&many).enumerate() {
            let same =
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(
                same,
                "{name}: output {k} differs between 1 and {threads} threads"
            );
        }
    }
}

#[test]
fn threaded_kernels_do_not_depend_on_the_thread_count() {
    let mut g = Generator::new(7);
    let mut randn = |shape: &[usize]| Tensor::randn_with(shape, &mut g);

    // GEMM: tall (split by rows), wide (split by columns), a transposed
    // operand, odd sizes, and a batch of small products.
    let (a, b) = (randn(&[301, 97]), randn(&[97, 83]));
    let (w, x) = (randn(&[67, 250]), randn(&[250, 389]));
    let (bt, batch_a, batch_b) = (randn(&[83, 97]), randn(&[40, 33, 29]), randn(&[40, 29, 31]));
    // Matrix-vector products large enough to be split (one row or one
    // column of output).
    let (row, wide, tall, col) = (
        randn(&[1, 700]),
        randn(&[700, 900]),
        randn(&[900, 700]),
        randn(&[700, 1]),
    );
    same_on_all_thread_counts("matmul", &|| {
        vec![
            a.matmul(&b).unwrap(),
            w.matmul(&x).unwrap(),
            a.matmul(&bt.t().unwrap()).unwrap(),
            batch_a.matmul(&batch_b).unwrap(),
            row.matmul(&wide).unwrap(),
            tall.matmul(&col).unwrap(),
            randn_free_square(64)
                .matmul(&randn_free_square(64))
                .unwrap(),
        ]
    });

    gemm_shape_sweep();

    // Elementwise, reductions, softmax.
    let big = randn(&[1 << 18]);
    let rows = randn(&[512, 300]);
    same_on_all_thread_counts("elementwise and reductions", &|| {
        vec![
            big.sigmoid(),
            big.add(&big).unwrap(),
            big.sum(),
            rows.sum_dim(0).unwrap(),
            rows.sum_dim(1).unwrap(),
            rows.softmax(1).unwrap(),
            rows.log_softmax(0).unwrap(),
        ]
    });

    // Convolution forward and both backwards, pooling, batch norm.
    let img = randn(&[16, 3, 32, 32]);
    let kernel = randn(&[8, 3, 5, 5]);
    let gout = randn(&[16, 8, 28, 28]);
    same_on_all_thread_counts("conv, pool, batch norm", &|| {
        let y = img
            .conv2d(&kernel, None, [1, 1], [0, 0], [1, 1], 1)
            .unwrap();
        let dx =
            Tensor::conv2d_backward_input(&gout, &kernel, img.shape(), [1, 1], [0, 0], [1, 1], 1)
                .unwrap();
        let dw =
            Tensor::conv2d_backward_weight(&gout, &img, kernel.shape(), [1, 1], [0, 0], [1, 1], 1)
                .unwrap();
        let pooled = y.max_pool2d([2, 2], [2, 2], [0, 0]).unwrap();
        let bn = y.batch_norm(None, None, None, None, true, 1e-5).unwrap();
        let stats = y.batch_norm_stats().unwrap();
        let rstd = stats.var.add_scalar(1e-5).rsqrt();
        let (gx, gw, gb) = y
            .batch_norm_backward(&gout, &stats.mean, &rstd, None)
            .unwrap();
        vec![y, dx, dw, pooled, bn, gx, gw, gb]
    });

    // The fused LSTM: forward and backward, batch large enough to split
    // each step's rows across threads.
    let (t, n, i, h) = (6, 32, 40, 64);
    let (xs, h0, c0) = (randn(&[t, n, i]), randn(&[n, h]), randn(&[n, h]));
    let (w_ih, w_hh, b_ih) = (randn(&[4 * h, i]), randn(&[4 * h, h]), randn(&[4 * h]));
    let (d_out, d_c) = (randn(&[t, n, h]), randn(&[n, h]));
    same_on_all_thread_counts("lstm", &|| {
        let f = lstm_sequence(&xs, &h0, &c0, &w_ih, &w_hh, Some(&b_ih), None, false).unwrap();
        let g = lstm_sequence_backward(
            &f.trace, &xs, &h0, &c0, &w_ih, &w_hh, &f.output, &d_out, &d_c, false,
        )
        .unwrap();
        vec![f.output, f.c_n, g.input, g.h0, g.c0, g.w_ih, g.w_hh, g.bias]
    });

    // Optimizer steps over a large parameter.
    let (p0, grad) = (randn(&[1 << 17]), randn(&[1 << 17]));
    same_on_all_thread_counts("optimizer steps", &|| {
        let (mut p, mut m, mut v) = (
            p0.clone(),
            Tensor::zeros(p0.shape()),
            Tensor::zeros(p0.shape()),
        );
        let adam = AdamStep {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            decoupled_weight_decay: true,
            maximize: false,
            step: 1,
        };
        p.adam_step_(&grad, &mut m, &mut v, None, &adam).unwrap();
        let (mut q, mut buf) = (p0.clone(), Tensor::zeros(p0.shape()));
        let sgd = SgdStep {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: true,
            maximize: false,
            first_step: true,
        };
        q.sgd_step_(&grad, Some(&mut buf), &sgd).unwrap();
        vec![p, m, v, q, buf]
    });
}

/// A fixed square matrix (its own generator, so the closure stays `Fn`).
fn randn_free_square(n: usize) -> Tensor {
    Tensor::randn_with(&[n, n], &mut Generator::new(n as u64))
}

/// Every GEMM shape with m, n in 1..=70 and k in {1, 7, 125, 513, 1030},
/// as a plain, a transposed (`F.linear`'s `x @ w.T`, and `a.T @ b`) and
/// two batched products (per-product and one tall GEMM), bit-identical on
/// 1, 2 and 3 threads. Odd widths are where a split could leave a thin
/// block that faer sums in another order.
fn gemm_shape_sweep() {
    const MAX: usize = 70;
    const BATCH: usize = 2;
    let ks = [1, 7, 125, 513, 1030];
    let mut g = Generator::new(11);
    let operands: Vec<[Tensor; 5]> = ks
        .iter()
        .map(|&k| {
            [
                Tensor::randn_with(&[MAX, k], &mut g),
                Tensor::randn_with(&[k, MAX], &mut g),
                Tensor::randn_with(&[MAX, k], &mut g),
                Tensor::randn_with(&[BATCH, MAX, k], &mut g),
                Tensor::randn_with(&[BATCH, k, MAX], &mut g),
            ]
        })
        .collect();
    const VARIANTS: [&str; 5] = [
        "a @ b",
        "x @ w.T",
        "a.T @ b",
        "batched a @ b",
        "batched a @ shared b (one tall GEMM)",
    ];
    // The products of one case, in VARIANTS order.
    let products = |ki: usize, m: usize, n: usize| -> Vec<Tensor> {
        let [a, b, w, ba, bb] = &operands[ki];
        let a_mk = a.narrow(0, 0, m).unwrap();
        let b_kn = b.narrow(1, 0, n).unwrap();
        let w_nk = w.narrow(0, 0, n).unwrap();
        let at_km = a_mk.t().unwrap().contiguous();
        let ba = ba.narrow(1, 0, m).unwrap();
        let bb = bb.narrow(2, 0, n).unwrap();
        vec![
            a_mk.matmul(&b_kn).unwrap(),
            a_mk.matmul(&w_nk.t().unwrap()).unwrap(),
            at_km.t().unwrap().matmul(&b_kn).unwrap(),
            ba.matmul(&bb).unwrap(),
            ba.contiguous().matmul(&b_kn).unwrap(),
        ]
    };
    let cases: Vec<(usize, usize, usize)> = (0..ks.len())
        .flat_map(|ki| (1..=MAX).flat_map(move |m| (1..=MAX).map(move |n| (ki, m, n))))
        .collect();
    let fingerprints = |threads: usize| -> Vec<u64> {
        set_num_threads(threads);
        cases
            .iter()
            .flat_map(|&(ki, m, n)| products(ki, m, n).iter().map(bits_hash).collect::<Vec<_>>())
            .collect()
    };
    let one = fingerprints(1);
    for threads in [2, 3] {
        let many = fingerprints(threads);
        if let Some(at) = (0..one.len()).find(|&i| one[i] != many[i]) {
            let (ki, m, n) = cases[at / VARIANTS.len()];
            let variant = at % VARIANTS.len();
            let got = products(ki, m, n).swap_remove(variant);
            set_num_threads(1);
            let want = products(ki, m, n).swap_remove(variant);
            let (got, want) = (got.to_vec::<f32>().unwrap(), want.to_vec::<f32>().unwrap());
            let differing = got.iter().zip(&want).filter(|(x, y)| x != y).count();
            panic!(
                "{}: m={m} n={n} k={} gives {differing} of {} outputs that differ between 1 and {threads} threads",
                VARIANTS[variant],
                ks[ki],
                got.len()
            );
        }
    }
}

/// FNV-1a over the bits of a float tensor's values.
fn bits_hash(t: &Tensor) -> u64 {
    t.to_vec::<f32>()
        .unwrap()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
            (h ^ u64::from(x.to_bits())).wrapping_mul(0x0000_0100_0000_01b3)
        })
}
