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

pub mod graphs;
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

/// Which workloads to run and how, as the `workloads` runner and
/// `torchlet bench` take them on the command line.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Selection {
    /// Workloads to run, in order (see --list).
    pub names: Vec<String>,
    /// Run every workload.
    #[arg(long)]
    pub all: bool,
    /// List the workloads and exit.
    #[arg(long)]
    pub list: bool,
    /// Compute threads (default: torchlet's default, the CPU count).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Timed steps per workload (default: each workload's own, a second or
    /// two of work).
    #[arg(long)]
    pub steps: Option<usize>,
}

impl Selection {
    /// The named workloads (an error names an unknown one and lists the
    /// known), every workload with `--all`, or `default` when none is
    /// named.
    pub fn specs(
        &self,
        default: impl Fn(&Spec) -> bool,
    ) -> std::result::Result<Vec<&'static Spec>, String> {
        if self.all {
            return Ok(WORKLOADS.iter().collect());
        }
        if self.names.is_empty() {
            return Ok(WORKLOADS.iter().filter(|s| default(s)).collect());
        }
        self.names
            .iter()
            .map(|n| {
                find(n).ok_or_else(|| {
                    let known: Vec<&str> = WORKLOADS.iter().map(|s| s.name).collect();
                    format!("unknown workload {n:?}; known: {}", known.join(", "))
                })
            })
            .collect()
    }

    /// The `--list` text: one line per workload.
    pub fn list_text() -> String {
        WORKLOADS
            .iter()
            .map(|s| {
                let py = if s.in_pytorch { "" } else { " (torchlet only)" };
                format!("{:<18} {}{py}\n", s.name, s.description)
            })
            .collect()
    }

    /// Applies `--threads` to torchlet's thread team.
    pub fn apply_threads(&self) {
        if let Some(n) = self.threads {
            torchlet_tensor::set_num_threads(n.max(1));
        }
    }
}

/// One workload's timing with the throughput derived from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The workload's name.
    pub workload: &'static str,
    /// Threads torchlet's kernels used.
    pub threads: usize,
    /// Step times.
    pub timing: Timing,
    /// GFLOP/s, for workloads that count their floating-point operations.
    pub gflops: Option<f64>,
    /// GB/s moved, for memory-bound workloads.
    pub gb_per_s: Option<f64>,
    /// Microseconds per operation (per recorded op, or per loaded sample).
    pub us_per_op: Option<f64>,
}

impl Report {
    /// The runner's JSON line: `{"workload": ..., "threads": ...,
    /// "median_ms": ..., "p10_ms": ..., "steps": ..., "simd": ...,
    /// "int8": ...}` plus `gflops`, `gb_per_s` or `us_per_op` where they
    /// apply (`simd`, `int8`: the kernel families that ran, see
    /// [`kernel_families`]).
    pub fn to_json(&self) -> String {
        let t = &self.timing;
        let (simd, int8) = kernel_families();
        let mut line = format!(
            "{{\"workload\": \"{}\", \"threads\": {}, \"median_ms\": {:.6}, \"p10_ms\": {:.6}, \"steps\": {}, \"simd\": \"{simd}\", \"int8\": \"{int8}\"",
            self.workload, self.threads, t.median_ms, t.p10_ms, t.steps
        );
        if let Some(g) = self.gflops {
            line += &format!(", \"gflops\": {g:.3}");
        }
        if let Some(b) = self.gb_per_s {
            line += &format!(", \"gb_per_s\": {b:.3}");
        }
        if let Some(u) = self.us_per_op {
            line += &format!(", \"us_per_op\": {u:.4}");
        }
        line.push('}');
        line
    }

    /// The throughput in words (`"79.0 GFLOP/s"`), or an empty string.
    pub fn throughput(&self) -> String {
        match (self.gflops, self.gb_per_s, self.us_per_op) {
            (Some(g), _, _) => format!("{g:.1} GFLOP/s"),
            (_, Some(b), _) => format!("{b:.1} GB/s"),
            (_, _, Some(u)) => format!("{u:.3} µs/op"),
            _ => String::new(),
        }
    }
}

/// The kernel families this process runs: torchlet-tensor's SIMD level
/// (`baseline`, `avx2`, `avx512`; `TORCHLET_SIMD` forces one) and the int8
/// kernels (`TORCHLET_INT8_KERNELS`).
pub fn kernel_families() -> (&'static str, &'static str) {
    (
        torchlet_tensor::simd_level().name(),
        torchlet_quantize::kernels::kernel_name(),
    )
}

/// Builds and times one workload on the current thread count: `steps`
/// timed steps (default: the workload's own) after `warmup` untimed ones
/// (default: steps / 10, between 1 and 20).
pub fn run(spec: &Spec, warmup: Option<usize>, steps: Option<usize>) -> Report {
    let steps = steps.unwrap_or(spec.default_steps).max(1);
    let warmup = warmup.unwrap_or((steps / 10).clamp(1, 20));
    let mut w = (spec.build)();
    let timing = time_workload(&mut w, warmup, steps);
    let secs = timing.median_ms * 1e-3;
    Report {
        workload: spec.name,
        threads: torchlet_tensor::get_num_threads(),
        timing,
        gflops: w.flops_per_step.map(|f| f / secs / 1e9),
        gb_per_s: w.bytes_per_step.map(|b| b / secs / 1e9),
        us_per_op: w.ops_per_step.map(|n| timing.median_ms * 1e3 / n as f64),
    }
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
    fn report_json_line() {
        let r = Report {
            workload: "matmul64",
            threads: 2,
            timing: Timing {
                median_ms: 0.0055,
                p10_ms: 0.0054,
                steps: 100,
            },
            gflops: Some(95.3251),
            gb_per_s: None,
            us_per_op: None,
        };
        let (simd, int8) = kernel_families();
        assert_eq!(
            r.to_json(),
            format!("{{\"workload\": \"matmul64\", \"threads\": 2, \"median_ms\": 0.005500, \"p10_ms\": 0.005400, \"steps\": 100, \"simd\": \"{simd}\", \"int8\": \"{int8}\", \"gflops\": 95.325}}")
        );
        assert_eq!(r.throughput(), "95.3 GFLOP/s");
    }

    #[test]
    fn names_are_unique() {
        for (i, s) in WORKLOADS.iter().enumerate() {
            assert!(WORKLOADS[i + 1..].iter().all(|o| o.name != s.name));
        }
    }
}
