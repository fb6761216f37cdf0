//! `cargo xtask ci`: every check, in the order that fails fastest.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

/// Options of `cargo xtask ci`.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Skip the cargo-deny checks (for a machine without cargo-deny).
    #[arg(long)]
    pub no_deny: bool,
}

struct Step {
    name: &'static str,
    program: String,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
}

fn cargo(name: &'static str, args: &[&str]) -> Step {
    Step {
        name,
        program: std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
    }
}

pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let tour_dir = root.join("target").join("xtask-tour");
    if tour_dir.exists() {
        std::fs::remove_dir_all(&tour_dir)
            .with_context(|| format!("cannot clear {}", tour_dir.display()))?;
    }
    let tour_dir = tour_dir.to_string_lossy().into_owned();

    let mut steps = vec![
        cargo("format", &["fmt", "--all", "--", "--check"]),
        cargo(
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
        ),
        cargo(
            "tests",
            &[
                "nextest",
                "run",
                "--workspace",
                "--locked",
                "--no-fail-fast",
            ],
        ),
        cargo("doctests", &["test", "--workspace", "--doc", "--locked"]),
        Step {
            env: vec![("RUSTDOCFLAGS", "-D warnings".into())],
            ..cargo("docs", &["doc", "--workspace", "--no-deps", "--locked"])
        },
    ];
    if !options.no_deny {
        // cargo-deny reads the metadata of every package of the lock file,
        // those of other targets (wasm) included, which a build for this
        // machine never downloads: fetch them first.
        steps.push(cargo("fetch", &["fetch", "--locked"]));
        // The advisory database needs the internet; the other checks read
        // only the lock file and the local registry.
        steps.push(cargo(
            "deny",
            &[
                "deny",
                "--locked",
                "--offline",
                "check",
                "licenses",
                "bans",
                "sources",
            ],
        ));
    }
    steps.push(cargo(
        "tour",
        &[
            "run",
            "--locked",
            "--quiet",
            "-p",
            "sesh-cli",
            "--",
            "--user-data-dir",
            &tour_dir,
            "tour",
        ],
    ));

    let started = Instant::now();
    for step in &steps {
        println!("\n=== xtask ci: {} ===", step.name);
        let t = Instant::now();
        let status = Command::new(&step.program)
            .args(&step.args)
            .envs(step.env.iter().map(|(k, v)| (k, v)))
            .current_dir(root)
            .status()
            .with_context(|| format!("cannot run {} {}", step.program, step.args.join(" ")))?;
        if !status.success() {
            bail!(
                "step `{}` failed ({status}): {} {}",
                step.name,
                step.program,
                step.args.join(" ")
            );
        }
        println!("=== {} passed in {:.1?} ===", step.name, t.elapsed());
    }
    println!(
        "\nxtask ci: all {} steps passed in {:.1?}",
        steps.len(),
        started.elapsed()
    );
    Ok(())
}
