//! `torchlet bench`: times the benchmark workloads of `torchlet-benches`
//! (the ones `benches/compare.py` runs against PyTorch) on this machine.

use std::error::Error;

use clap::Args;
use torchlet_benches::{run, Selection};

use crate::run::Msg;

/// Options of `torchlet bench`: workload names (default: every workload
/// that has a PyTorch twin), `--all`, `--list`, `--threads`, `--steps`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    selection: Selection,
    /// Print one JSON object per workload (the `workloads` runner's format)
    /// instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `torchlet bench`.
pub fn bench(args: &BenchArgs) -> Result<(), Box<dyn Error>> {
    let sel = &args.selection;
    if sel.list {
        print!("{}", Selection::list_text());
        return Ok(());
    }
    let specs = sel.specs(|s| s.in_pytorch).map_err(Msg)?;
    sel.apply_threads();
    if !args.json {
        let (simd, int8) = torchlet_benches::kernel_families();
        println!(
            "CPU: {}; kernels: {simd} (int8: {int8}); threads: {}",
            cpu_model(),
            torchlet_tensor::get_num_threads()
        );
        println!("each line: median (10th percentile) of the timed steps");
        println!(
            "{:<18} {:>12} {:>12} {:>7}  throughput",
            "workload", "median ms", "p10 ms", "steps"
        );
    }
    for spec in specs {
        let r = run(spec, None, sel.steps);
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

/// The CPU's model name (`/proc/cpuinfo` on Linux), or the architecture.
fn cpu_model() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, m)| m.trim().to_string())
    });
    model.unwrap_or_else(|| std::env::consts::ARCH.to_string())
}
