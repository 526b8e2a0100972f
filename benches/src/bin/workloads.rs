//! Runs named workloads and prints one JSON object per line:
//! `{"workload": ..., "threads": ..., "median_ms": ..., "p10_ms": ..., "steps": ...}`
//! plus `gflops` (matmul), `gb_per_s` (memory-bound ops) or `us_per_op`
//! (op_overhead) where they apply.
//!
//! `cargo run --release -p torchlet-benches --bin workloads -- matmul1024 seed_b1 --threads 2`

use clap::Parser;
use torchlet_benches::{find, time_workload, WORKLOADS};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// torchlet workload runner (the same workloads as benches/pytorch/workloads.py).
#[derive(Parser, Debug)]
#[command(name = "workloads")]
struct Args {
    /// Workloads to run, in order (see --list).
    names: Vec<String>,
    /// Run every workload.
    #[arg(long)]
    all: bool,
    /// List the workloads and exit.
    #[arg(long)]
    list: bool,
    /// Threads for torchlet's pool (default: torchlet's default).
    #[arg(long)]
    threads: Option<usize>,
    /// Timed steps per workload (default: each workload's own).
    #[arg(long)]
    steps: Option<usize>,
    /// Untimed warm-up steps (default: steps / 10, between 1 and 20).
    #[arg(long)]
    warmup: Option<usize>,
}

fn main() {
    let args = Args::parse();
    if args.list {
        for s in WORKLOADS {
            let py = if s.in_pytorch { "" } else { " (torchlet only)" };
            println!("{:<18} {}{py}", s.name, s.description);
        }
        return;
    }
    let specs: Vec<_> = if args.all {
        WORKLOADS.iter().collect()
    } else {
        let mut specs = Vec::new();
        for name in &args.names {
            match find(name) {
                Some(s) => specs.push(s),
                None => {
                    eprintln!("unknown workload {name:?}; --list shows them");
                    std::process::exit(2);
                }
            }
        }
        specs
    };
    if specs.is_empty() {
        eprintln!("no workload given: name some (see --list) or pass --all");
        std::process::exit(2);
    }
    if let Some(n) = args.threads {
        torchlet_tensor::set_num_threads(n);
    }
    let threads = torchlet_tensor::get_num_threads();
    for spec in specs {
        let steps = args.steps.unwrap_or(spec.default_steps).max(1);
        let warmup = args.warmup.unwrap_or((steps / 10).clamp(1, 20));
        let mut w = (spec.build)();
        let t = time_workload(&mut w, warmup, steps);
        let mut line = format!(
            "{{\"workload\": \"{}\", \"threads\": {threads}, \"median_ms\": {:.6}, \"p10_ms\": {:.6}, \"steps\": {}",
            spec.name, t.median_ms, t.p10_ms, t.steps
        );
        if let Some(f) = w.flops_per_step {
            line += &format!(", \"gflops\": {:.3}", f / (t.median_ms * 1e-3) / 1e9);
        }
        if let Some(b) = w.bytes_per_step {
            line += &format!(", \"gb_per_s\": {:.3}", b / (t.median_ms * 1e-3) / 1e9);
        }
        if let Some(n) = w.ops_per_step {
            line += &format!(", \"us_per_op\": {:.4}", t.median_ms * 1e3 / n as f64);
        }
        line.push('}');
        println!("{line}");
    }
}
