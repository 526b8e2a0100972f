//! Runs named workloads and prints one JSON object per line:
//! `{"workload": ..., "threads": ..., "median_ms": ..., "p10_ms": ..., "steps": ...}`
//! plus `gflops` (matmul), `gb_per_s` (memory-bound ops) or `us_per_op`
//! (op_overhead) where they apply.
//!
//! `cargo run --release -p torchlet-benches --bin workloads -- matmul1024 seed_b1 --threads 2`

use clap::Parser;
use torchlet_benches::{find, run, WORKLOADS};

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
    for spec in specs {
        println!("{}", run(spec, args.warmup, args.steps).to_json());
    }
}
