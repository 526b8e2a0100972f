//! The `torchlet` command.
//!
//! With no subcommand it runs the main job, which for now is the seed
//! course's tensor walkthrough (`torchlet seed`).

use std::error::Error;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod seed;

/// PyTorch's stack rebuilt in Rust: follow the seed course from the command line.
#[derive(Debug, Parser)]
#[command(name = "torchlet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the seed course's tensor walkthrough: creating tensors,
    /// reshaping, reductions, element access, sigmoid and softmax.
    Seed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<(), Box<dyn Error>> = match cli.command.unwrap_or(Command::Seed) {
        Command::Seed => seed::walkthrough(&mut std::io::stdout().lock()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
