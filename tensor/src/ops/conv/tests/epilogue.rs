//! `conv2d_then` and `conv2d_then_max_pool2d`: the epilogue runs on
//! every sample at its offset, and the fused forms give the plain ops'
//! bits.

use super::{err_msg, randn};
use crate::dtype::DType;

#[test]
fn conv2d_then_runs_the_epilogue_on_every_sample_at_its_offset() {
    // Big enough to split samples over threads, and a single sample.
    for (n, c, hw) in [(8, 16, 20), (1, 3, 7)] {
        let x = randn(&[n, c, hw, hw], DType::F32, 1);
        let w = randn(&[5, c, 3, 3], DType::F32, 2);
        let b = randn(&[5], DType::F32, 3);
        let plain = x.conv2d(&w, Some(&b), [1, 1], [1, 1], [1, 1], 1).unwrap();
        // Adds each element's flat index, so a wrong offset shows.
        let add_index = |block: &mut [f32], start: usize| {
            for (j, v) in block.iter_mut().enumerate() {
                *v += (start + j) as f32;
            }
        };
        let fused = x
            .conv2d_then(&w, Some(&b), [1, 1], [1, 1], [1, 1], 1, &add_index)
            .unwrap();
        let want: Vec<f32> = plain
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, v)| v + i as f32)
            .collect();
        assert_eq!(fused.shape(), plain.shape());
        assert_eq!(fused.to_vec::<f32>().unwrap(), want, "batch {n}");
    }
    let x = randn(&[1, 1, 4, 4], DType::F64, 4);
    let w = randn(&[1, 1, 3, 3], DType::F64, 5);
    let nothing = |_: &mut [f32], _: usize| {};
    let e = err_msg(x.conv2d_then(&w, None, [1, 1], [0, 0], [1, 1], 1, &nothing));
    assert!(
        e.contains("an epilogue over float32, got dtype float64"),
        "{e}"
    );
}

#[test]
fn conv2d_then_max_pool2d_gives_the_three_ops_bits() {
    use crate::MaxPool2dWindow;
    let windows = [
        MaxPool2dWindow {
            kernel: [2, 2],
            stride: [2, 2],
            padding: [0, 0],
        },
        MaxPool2dWindow {
            kernel: [3, 3],
            stride: [2, 1],
            padding: [1, 1],
        },
    ];
    // Samples over threads, and one sample with a threaded GEMM.
    for (n, c, hw) in [(8, 16, 20), (1, 3, 9)] {
        let x = randn(&[n, c, hw, hw], DType::F32, 6);
        let w = randn(&[5, c, 3, 3], DType::F32, 7);
        let b = randn(&[5], DType::F32, 8);
        let shift = |block: &mut [f32], start: usize| {
            for (j, v) in block.iter_mut().enumerate() {
                *v = (*v + ((start + j) % 7) as f32).max(0.0);
            }
        };
        for pool in windows {
            let fused = x
                .conv2d_then_max_pool2d(&w, Some(&b), [1, 1], [1, 1], [1, 1], 1, &shift, pool)
                .unwrap();
            let plain = x
                .conv2d_then(&w, Some(&b), [1, 1], [1, 1], [1, 1], 1, &shift)
                .unwrap()
                .max_pool2d(pool.kernel, pool.stride, pool.padding)
                .unwrap();
            assert_eq!(fused.shape(), plain.shape());
            assert_eq!(
                fused.to_vec::<f32>().unwrap(),
                plain.to_vec::<f32>().unwrap(),
                "batch {n} {pool:?}"
            );
        }
    }
    let x = randn(&[1, 4, 4], DType::F32, 9);
    let w = randn(&[1, 1, 3, 3], DType::F32, 10);
    let nothing = |_: &mut [f32], _: usize| {};
    let e = err_msg(x.conv2d_then_max_pool2d(
        &w,
        None,
        [1, 1],
        [0, 0],
        [1, 1],
        1,
        &nothing,
        windows[0],
    ));
    assert!(e.contains("expected a batched 4-d input"), "{e}");
}
