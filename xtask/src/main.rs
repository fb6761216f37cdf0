//! Project automation for sesh: `cargo xtask ci` runs every check CI runs;
//! `cargo xtask bench` runs the benchmarks beside their peers; `cargo xtask
//! fuzz` runs the fuzz targets.
//!
//! One module per task; `ci` is the one CI and developers run. Tasks that
//! need the network are not here: CI has none.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod bench_net;
mod ci;
mod fuzz;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// sesh's project tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
struct Args {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// fmt check, clippy -D warnings, tests (nextest) and doctests, docs with
    /// -D warnings, cargo-deny (licenses, bans, sources), and the tour.
    Ci(ci::Options),
    /// Benchmarks beside their peers on the workloads of shared/bench/.
    Bench(bench::Options),
    /// Every fuzz target of fuzz/ for a while (needs cargo-fuzz).
    Fuzz(fuzz::Options),
}

/// The workspace root (the parent of `xtask/`).
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), PathBuf::from)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.task {
        Task::Ci(options) => ci::run(&workspace_root(), &options),
        Task::Bench(options) => bench::run(&workspace_root(), &options),
        Task::Fuzz(options) => fuzz::run(&workspace_root(), &options),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
