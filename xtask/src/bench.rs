//! `cargo xtask bench [proxy]`: sesh's benchmarks beside their peers, on the
//! same inputs, in the same run, with the ratios and an agreement check.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sesh_proxy_rules::{
    BypassRules, DnsOp, HostResolver, PacOptions, PacScript, ProxyRules, Url, script_url,
};

/// Options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Which workload: `proxy`, `cookies`, `tls`, `fetch` or `download`.
    #[arg(default_value = "proxy")]
    pub workload: String,
    /// fetch only: run only the workloads whose name contains this text
    /// (e.g. `--only "fresh TLS"`).
    #[arg(long)]
    pub only: Option<String>,
    /// fetch only: rounds per client (default 5; the table gives the best
    /// and the median round).
    #[arg(long, default_value_t = crate::bench_net::FETCH_ROUNDS)]
    pub rounds: usize,
}

pub fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    match options.workload.as_str() {
        "proxy" => proxy(root),
        "tls" => tls(root),
        "cookies" => cookies(root),
        "fetch" => crate::bench_net::fetch(root, options.only.as_deref(), options.rounds.max(1)),
        "download" => crate::bench_net::download(root),
        other => bail!("unknown workload {other:?}; known: proxy, cookies, tls, fetch, download"),
    }
}

pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

pub(crate) fn status(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{cmd:?}");
    let st = cmd
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    if !st.success() {
        bail!("{shown} failed ({st})");
    }
    Ok(())
}

struct LabHosts(HashMap<String, IpAddr>);

impl HostResolver for LabHosts {
    fn resolve(&self, host: &str, op: DnsOp) -> Option<Vec<IpAddr>> {
        match op {
            DnsOp::MyIpAddress | DnsOp::MyIpAddressEx => Some(vec![IpAddr::from([127, 0, 0, 1])]),
            _ => self.0.get(host).map(|ip| vec![*ip]),
        }
    }
}

/// Criterion's mean time of one iteration, in nanoseconds.
fn criterion_mean(root: &Path, group: &str, id: &str) -> anyhow::Result<f64> {
    let path = root
        .join("target/criterion")
        .join(group)
        .join(id)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let v: Value = serde_json::from_str(&text)?;
    v["mean"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("no mean in {}", path.display()))
}

fn ensure_peers(dir: &Path) -> anyhow::Result<()> {
    for tool in ["node", "npm"] {
        if Command::new(tool).arg("--version").output().is_err() {
            bail!(
                "cargo xtask bench runs its peers with {tool}; install Node.js and npm (Debian: apt-get install nodejs npm)"
            );
        }
    }
    if dir.join("node_modules/pac-resolver").is_dir()
        && dir.join("node_modules/proxy-from-env").is_dir()
    {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"sesh-bench-peers","private":true}"#,
    )?;
    println!(
        "installing the peers (pac-resolver 9 with quickjs-wasi, proxy-from-env, tough-cookie) with npm…"
    );
    status(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .args([
                "pac-resolver@9",
                "@tootallnate/quickjs-emscripten",
                "proxy-from-env",
            ])
            .current_dir(dir),
    )
}

/// Cookies: sesh and cookie_store (criterion, same binary), tough-cookie
/// (node), on `shared/bench/cookies/workload.json`.
fn cookies(root: &Path) -> anyhow::Result<()> {
    let workload = root.join("../shared/bench/cookies/workload.json");
    let peers = root.join("target/bench-peers");
    ensure_peers(&peers)?;
    status(
        Command::new(cargo())
            .args(["bench", "-p", "sesh-storage", "--bench", "cookies"])
            .current_dir(root),
    )?;
    let json: Value =
        serde_json::from_slice(&std::fs::read(root.join("target/bench-cookies/rust.json"))?)?;
    let w: Value = serde_json::from_slice(&std::fs::read(&workload)?)?;
    let sets = w["sets"].as_array().map_or(1, Vec::len) as f64;
    let requests = w["requests"].as_array().map_or(1, Vec::len) as f64;
    let out = peers.join("cookies-output.json");
    status(
        Command::new("node")
            .arg(root.join("xtask/bench/cookies_peers.mjs"))
            .args([workload.as_path(), out.as_path(), peers.as_path()])
            .current_dir(root),
    )?;
    let tough: Value = serde_json::from_slice(&std::fs::read(&out)?)?;
    let mean = |id: &str| criterion_mean(root, "cookies", id);
    let (s_store, c_store) = (
        mean("sesh_store_3000")? / sets,
        mean("cookie_store_store_3000")? / sets,
    );
    let (s_head, c_head) = (
        mean("sesh_header_10000")? / requests,
        mean("cookie_store_header_10000")? / requests,
    );
    let (t_store, t_head) = (
        tough["storeNs"]
            .as_f64()
            .context("no tough-cookie store time")?,
        tough["headerNs"]
            .as_f64()
            .context("no tough-cookie header time")?,
    );
    println!("\n=== cookies: {sets} Set-Cookie values, {requests} requests ===");
    println!(
        "{:<28} {:>10} {:>14} {:>14}",
        "per operation", "sesh", "cookie_store", "tough-cookie"
    );
    println!(
        "{:<28} {:>8.2}µs {:>12.2}µs {:>12.2}µs",
        "store one Set-Cookie",
        s_store / 1e3,
        c_store / 1e3,
        t_store / 1e3
    );
    println!(
        "{:<28} {:>8.2}µs {:>12.2}µs {:>12.2}µs",
        "build one Cookie header",
        s_head / 1e3,
        c_head / 1e3,
        t_head / 1e3
    );
    println!(
        "header: cookie_store {:.0}× slower, tough-cookie {:.0}× slower; store: cookie_store {:.2}×, tough-cookie {:.1}×",
        c_head / s_head,
        t_head / s_head,
        c_store / s_store,
        t_store / s_store
    );
    let totals = |v: &Value| {
        (
            v["pairs"].as_u64().unwrap_or(0),
            v["bytes"].as_u64().unwrap_or(0),
        )
    };
    let (ours, theirs, tc) = (
        totals(&json["sesh"]),
        totals(&json["cookie_store"]),
        totals(&tough),
    );
    println!("totals (pairs, bytes): sesh {ours:?}, cookie_store {theirs:?}, tough-cookie {tc:?}");
    if ours != theirs || ours != tc {
        bail!("the jars disagree on the workload's totals");
    }
    Ok(())
}

/// Certificate verification: cold (default verification of a 2-certificate
/// chain to an added root) and warm (a cached verdict). No peer runs: the
/// point is that a warm verdict costs well under a microsecond.
fn tls(root: &Path) -> anyhow::Result<()> {
    status(
        Command::new(cargo())
            .args(["bench", "-p", "sesh-cert-verify", "--bench", "verify"])
            .current_dir(root),
    )?;
    let cold = criterion_mean(root, "cert_verify", "cold_default_verification")?;
    let warm = criterion_mean(root, "cert_verify", "warm_cached_verdict")?;
    let block_on = criterion_mean(root, "cert_verify", "runtime_block_on_alone")?;
    println!("\n=== tls ===");
    println!("cold default verification   {:>10.1} µs", cold / 1000.0);
    println!(
        "warm cached verdict         {:>10.0} ns ({:.0} ns beyond the runtime's block_on)",
        warm,
        warm - block_on
    );
    let share = |id: &str| criterion_mean(root, "key_share", id);
    println!(
        "client key share: X25519MLKEM768 {:>6.1} µs, X25519 alone {:>5.1} µs (ring {:>5.1} µs)",
        share("x25519mlkem768_client_share")? / 1000.0,
        share("x25519_client_share")? / 1000.0,
        share("x25519_client_share_ring")? / 1000.0
    );
    println!(
        "X25519 exchange (key pair and secret): {:>5.1} µs (ring {:>5.1} µs)",
        share("x25519_exchange")? / 1000.0,
        share("x25519_exchange_ring")? / 1000.0
    );
    Ok(())
}

fn proxy(root: &Path) -> anyhow::Result<()> {
    let shared = root.join("../shared/bench/proxy");
    let read = |name: &str| {
        std::fs::read_to_string(shared.join(name))
            .with_context(|| format!("cannot read {}", shared.join(name).display()))
    };
    let pac_script = read("corp.pac")?;
    let urls: Vec<String> = read("urls.txt")?.lines().map(str::to_owned).collect();
    let lab: HashMap<String, IpAddr> = read("lab_hosts.txt")?
        .lines()
        .filter_map(|l| {
            let mut p = l.split_whitespace();
            Some((p.next()?.to_owned(), p.next()?.parse().ok()?))
        })
        .collect();
    let rules = read("proxy_rules.txt")?.trim().to_owned();
    let bypass = read("bypass_rules.txt")?
        .lines()
        .collect::<Vec<_>>()
        .join(",");

    let peers = root.join("target/bench-peers");
    ensure_peers(&peers)?;

    println!("\n=== sesh (criterion) ===");
    status(
        Command::new(cargo())
            .args(["bench", "-p", "sesh-proxy-rules", "--bench", "proxy"])
            .current_dir(root),
    )?;
    let n = urls.len() as f64;
    let sesh_pac = criterion_mean(root, "proxy", "pac_corp")? / n;
    let sesh_fixed = criterion_mean(root, "proxy", "fixed_100_bypass")? / n;

    // sesh's answers, to compare with the peers': the script's raw answer
    // for the URL and host Chromium hands it, and the bypass decision.
    let pac = PacScript::load(
        &pac_script,
        PacOptions {
            resolver: Arc::new(LabHosts(lab.clone())),
            ..PacOptions::default()
        },
    )?;
    let bypass_rules = BypassRules::parse(&bypass);
    let _ = ProxyRules::parse(&rules);
    let mut pac_cases = Vec::new();
    let mut sesh_answers = Vec::new();
    let mut sesh_bypassed = Vec::new();
    for u in &urls {
        let url = Url::parse(u).with_context(|| format!("bad URL in the workload: {u}"))?;
        let host = url
            .host_str()
            .unwrap_or("")
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let script_url = script_url(&url);
        sesh_answers.push(pac.find_proxy(&url)?);
        pac_cases.push(json!({"url": script_url, "host": host}));
        sesh_bypassed.push(bypass_rules.matches(&url));
    }
    let input = peers.join("input.json");
    let output = peers.join("output.json");
    std::fs::write(
        &input,
        serde_json::to_vec(&json!({
            "pacScript": pac_script,
            "labHosts": lab.iter().map(|(k, v)| (k.clone(), v.to_string())).collect::<HashMap<_, _>>(),
            "pacCases": pac_cases,
            "urls": urls,
            "noProxy": bypass,
        }))?,
    )?;
    println!("\n=== peers (node) ===");
    status(
        Command::new("node")
            .arg(root.join("xtask/bench/proxy_peers.mjs"))
            .args([&input, &output, &peers])
            .current_dir(root),
    )?;
    let out: Value = serde_json::from_slice(&std::fs::read(&output)?)?;
    let peer_pac = out["pacResolver"]["nsPerUrl"]
        .as_f64()
        .context("no pac-resolver time")?;
    let peer_env = out["proxyFromEnv"]["nsPerUrl"]
        .as_f64()
        .context("no proxy-from-env time")?;

    let peer_answers: Vec<&str> = out["pacResolver"]["answers"]
        .as_array()
        .context("no pac-resolver answers")?
        .iter()
        .map(|v| v.as_str().unwrap_or(""))
        .collect();
    let pac_disagree: Vec<usize> = (0..urls.len())
        .filter(|&i| peer_answers.get(i).copied() != Some(sesh_answers[i].as_str()))
        .collect();
    let env_bypassed: Vec<bool> = out["proxyFromEnv"]["bypassed"]
        .as_array()
        .context("no proxy-from-env answers")?
        .iter()
        .map(|v| v.as_bool().unwrap_or(false))
        .collect();
    let env_disagree: Vec<usize> = (0..urls.len())
        .filter(|&i| env_bypassed.get(i) != Some(&sesh_bypassed[i]))
        .collect();

    println!("\n=== proxy: {} URLs ===", urls.len());
    println!(
        "{:<44} {:>12} {:>12} {:>8}",
        "workload", "sesh µs/URL", "peer µs/URL", "peer÷sesh"
    );
    println!(
        "{:<44} {:>12.3} {:>12.3} {:>8.1}×",
        "corp.pac (peer: pac-resolver 9)",
        sesh_pac / 1000.0,
        peer_pac / 1000.0,
        peer_pac / sesh_pac
    );
    println!(
        "{:<44} {:>12.3} {:>12.3} {:>8.1}×",
        "rules + 100 bypass (peer: proxy-from-env)",
        sesh_fixed / 1000.0,
        peer_env / 1000.0,
        peer_env / sesh_fixed
    );
    println!(
        "PAC answers: {} of {} agree with pac-resolver",
        urls.len() - pac_disagree.len(),
        urls.len()
    );
    for &i in pac_disagree.iter().take(5) {
        println!(
            "  differs: {} → sesh {:?}, pac-resolver {:?}",
            urls[i],
            sesh_answers[i],
            peer_answers.get(i)
        );
    }
    println!(
        "Bypass decisions: {} of {} agree with proxy-from-env's NO_PROXY matching \
         (sesh follows Chromium: implicit loopback bypass, `*` spanning dots, CIDR blocks)",
        urls.len() - env_disagree.len(),
        urls.len()
    );
    for &i in env_disagree.iter().take(5) {
        println!(
            "  differs: {} → sesh bypass={}, proxy-from-env bypass={}",
            urls[i], sesh_bypassed[i], env_bypassed[i]
        );
    }
    if !pac_disagree.is_empty() {
        bail!(
            "{} PAC answers differ from pac-resolver's",
            pac_disagree.len()
        );
    }
    Ok(())
}
