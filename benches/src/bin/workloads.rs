//! Runs named workloads and prints one JSON object per line:
//! `{"workload": ..., "threads": ..., "median_ms": ..., "p10_ms": ..., "steps": ...}`
//! plus `gflops` (matmul), `gb_per_s` (memory-bound ops) or `us_per_op`
//! (op_overhead) where they apply.
//!
//! `cargo run --release -p torchlet-benches --bin workloads -- matmul1024 seed_b1 --threads 2`

use clap::Parser;
use torchlet_benches::{run, Selection};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// torchlet workload runner (the same workloads as benches/pytorch/workloads.py).
#[derive(Parser, Debug)]
#[command(name = "workloads")]
struct Args {
    #[command(flatten)]
    selection: Selection,
    /// Untimed warm-up steps (default: steps / 10, between 1 and 20).
    #[arg(long)]
    warmup: Option<usize>,
}

fn main() {
    let args = Args::parse();
    let sel = &args.selection;
    if sel.list {
        print!("{}", Selection::list_text());
        return;
    }
    // No name and no --all is an error here (the CLI has a default set).
    let specs = match sel.specs(|_| false) {
        Ok(s) if s.is_empty() => {
            eprintln!("no workload given: name some (see --list) or pass --all");
            std::process::exit(2);
        }
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let default_threads = torchlet_tensor::get_num_threads();
    for spec in specs {
        // Before each: a workload may set its own (the DDP ones use one
        // thread per rank).
        torchlet_tensor::set_num_threads(default_threads);
        sel.apply_threads();
        println!("{}", run(spec, args.warmup, sel.steps).to_json());
    }
}
