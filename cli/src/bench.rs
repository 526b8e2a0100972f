//! `torchlet bench`: times the benchmark workloads of `torchlet-benches`
//! (the ones `benches/compare.py` runs against PyTorch) on this machine.

use std::error::Error;

use clap::Args;
use torchlet_benches::{find, run, Spec, WORKLOADS};

/// Options of `torchlet bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Workloads to run, in order (default: every workload that has a
    /// PyTorch twin; see --list).
    names: Vec<String>,
    /// Run every workload, the torchlet-only ones (data loading) too.
    #[arg(long)]
    all: bool,
    /// List the workloads and exit.
    #[arg(long)]
    list: bool,
    /// Compute threads (default: torchlet's default, the CPU count).
    #[arg(long)]
    threads: Option<usize>,
    /// Timed steps per workload (default: each workload's own, a second or
    /// two of work).
    #[arg(long)]
    steps: Option<usize>,
    /// Print one JSON object per workload (the `workloads` runner's format)
    /// instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `torchlet bench`.
pub fn bench(args: &BenchArgs) -> Result<(), Box<dyn Error>> {
    if args.list {
        for s in WORKLOADS {
            let py = if s.in_pytorch { "" } else { " (torchlet only)" };
            println!("{:<18} {}{py}", s.name, s.description);
        }
        return Ok(());
    }
    let specs = selected(args)?;
    if let Some(t) = args.threads {
        torchlet_tensor::set_num_threads(t.max(1));
    }
    if !args.json {
        println!(
            "threads: {}; each line: median (10th percentile) of the timed steps",
            torchlet_tensor::get_num_threads()
        );
        println!(
            "{:<18} {:>12} {:>12} {:>7}  throughput",
            "workload", "median ms", "p10 ms", "steps"
        );
    }
    for spec in specs {
        let r = run(spec, None, args.steps);
        if args.json {
            println!("{}", r.to_json());
        } else {
            let t = r.timing;
            println!(
                "{:<18} {:>12.4} {:>12.4} {:>7}  {}",
                r.workload,
                t.median_ms,
                t.p10_ms,
                t.steps,
                r.throughput()
            );
        }
    }
    if !args.json {
        println!("compare with PyTorch: python3 benches/compare.py --python PATH (see benches/README.md)");
    }
    Ok(())
}

/// The workloads named on the command line, or the default set.
fn selected(args: &BenchArgs) -> Result<Vec<&'static Spec>, Box<dyn Error>> {
    if args.all {
        return Ok(WORKLOADS.iter().collect());
    }
    if args.names.is_empty() {
        return Ok(WORKLOADS.iter().filter(|s| s.in_pytorch).collect());
    }
    args.names
        .iter()
        .map(|n| {
            find(n).ok_or_else(|| {
                let known: Vec<&str> = WORKLOADS.iter().map(|s| s.name).collect();
                format!("unknown workload {n:?}; known: {}", known.join(", ")).into()
            })
        })
        .collect()
}
