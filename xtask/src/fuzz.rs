//! `cargo xtask fuzz`: every fuzz target of `fuzz/` for a while, seeded with
//! the conformance vectors.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

/// Options of `cargo xtask fuzz`.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Seconds per target.
    #[arg(long, default_value_t = 30)]
    pub seconds: u32,
    /// Only these targets (default: all).
    pub targets: Vec<String>,
}

const TARGETS: &[&str] = &[
    "proxy_rules",
    "bypass_rules",
    "pac_string",
    "proxy_uri",
    "pac_script",
];

pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    if Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_err()
    {
        bail!("cargo xtask fuzz needs cargo-fuzz: cargo install --locked cargo-fuzz");
    }
    let targets: Vec<&str> = if options.targets.is_empty() {
        TARGETS.to_vec()
    } else {
        options.targets.iter().map(String::as_str).collect()
    };
    for target in &targets {
        if !TARGETS.contains(target) {
            bail!(
                "unknown fuzz target {target:?}; known: {}",
                TARGETS.join(", ")
            );
        }
        seed(root, target)?;
        println!("\n=== fuzz {target} for {} s ===", options.seconds);
        let status = Command::new("cargo")
            .args(["fuzz", "run", "-O", target, "--"])
            .arg(format!("-max_total_time={}", options.seconds))
            // cargo-fuzz passes nightly-only flags to rustc; this lets the
            // stable toolchain accept them.
            .env("RUSTC_BOOTSTRAP", "1")
            .current_dir(root.join("fuzz"))
            .status()
            .context("cannot run cargo fuzz")?;
        if !status.success() {
            bail!(
                "fuzz target {target} failed ({status}); the input is in fuzz/artifacts/{target}/"
            );
        }
    }
    println!(
        "\nxtask fuzz: {} targets ran {} s each without a failure",
        targets.len(),
        options.seconds
    );
    Ok(())
}

/// Writes the conformance vectors' inputs into the target's corpus.
fn seed(root: &Path, target: &str) -> anyhow::Result<()> {
    let (file, keys): (&str, &[&str]) = match target {
        "proxy_rules" => ("proxy_rules_parse.json", &["rules"]),
        "bypass_rules" => ("bypass_rules.json", &["rules", "rule"]),
        "pac_string" => ("pac_string_parse.json", &["input"]),
        "proxy_uri" => ("proxy_uri_parse.json", &["input"]),
        "pac_script" => ("pac_scripts.json", &["script"]),
        _ => return Ok(()),
    };
    let path = root.join("../shared/conformance/proxy").join(file);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let json: Value = serde_json::from_str(&text)?;
    let corpus = root.join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&corpus)?;
    let mut n = 0;
    for list in json
        .as_object()
        .into_iter()
        .flat_map(|o| o.values())
        .filter_map(Value::as_array)
    {
        for case in list {
            for key in keys {
                if let Some(input) = case.get(*key).and_then(Value::as_str) {
                    std::fs::write(corpus.join(format!("seed-{n}")), input)?;
                    n += 1;
                }
            }
        }
    }
    Ok(())
}
