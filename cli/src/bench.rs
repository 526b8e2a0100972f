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
