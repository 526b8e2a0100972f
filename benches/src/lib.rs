//! torchlet's benchmarks: the workloads compared against PyTorch
//! ([`workloads`]) and the timing helpers of the `workloads` runner.
//!
//! - `cargo bench -p torchlet-benches` runs the criterion benches
//!   (tensor_ops, autograd_overhead, training_steps, data_loading);
//! - `cargo run --release -p torchlet-benches --bin workloads -- --list`
//!   lists the workloads the runner times;
//! - `python3 benches/compare.py --python PATH` compares with PyTorch.
//!
//! The runner and the benches use mimalloc as global allocator, like
//! torchlet's binaries: a training step allocates and frees multi-megabyte
//! buffers, which glibc's malloc hands back to the kernel and faults in
//! again on every step.

pub mod workloads;

pub use workloads::{build, find, Spec, Workload, WORKLOADS};

/// Summary of timed steps, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Median step time.
    pub median_ms: f64,
    /// 10th percentile of the step times (a fast, low-noise step).
    pub p10_ms: f64,
    /// Number of timed steps.
    pub steps: usize,
}

/// Median and 10th percentile (nearest rank) of step times in ms.
///
/// Panics on an empty slice.
pub fn summarize(times_ms: &[f64]) -> Timing {
    assert!(!times_ms.is_empty(), "no step was timed");
    let mut t = times_ms.to_vec();
    t.sort_by(f64::total_cmp);
    let n = t.len();
    let median_ms = if n % 2 == 1 {
        t[n / 2]
    } else {
        (t[n / 2 - 1] + t[n / 2]) / 2.0
    };
    let p10_ms = t[((n - 1) as f64 * 0.1).round() as usize];
    Timing {
        median_ms,
        p10_ms,
        steps: n,
    }
}

/// Runs `warmup` untimed steps, then times `steps` steps one by one.
pub fn time_workload(w: &mut Workload, warmup: usize, steps: usize) -> Timing {
    for _ in 0..warmup {
        w.step();
    }
    let times: Vec<f64> = (0..steps.max(1))
        .map(|_| {
            let start = std::time::Instant::now();
            w.step();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    summarize(&times)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_median_and_p10() {
        let t = summarize(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(t.median_ms, 3.0);
        assert_eq!(t.p10_ms, 1.0);
        assert_eq!(t.steps, 5);
        let t = summarize(&(1..=10).map(f64::from).collect::<Vec<_>>());
        assert_eq!(t.median_ms, 5.5);
        assert_eq!(t.p10_ms, 2.0);
    }

    #[test]
    fn names_are_unique() {
        for (i, s) in WORKLOADS.iter().enumerate() {
            assert!(WORKLOADS[i + 1..].iter().all(|o| o.name != s.name));
        }
    }
}
