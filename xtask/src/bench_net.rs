//! `cargo xtask bench fetch|download`: sesh's network service beside
//! reqwest, hyper, curl and wget, on one loopback server, in one run. Each
//! client runs in a process of its own (the `sesh-bench` binary, or the
//! tool), so its peak memory is its own; each cell is the best of five
//! rounds for the request workloads and three for the 1 GiB downloads
//! (a shared machine only ever makes a run slower), and the
//! rounds of one workload take its clients in turn, so that a change in
//! the machine's load falls on all of them.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Rounds of the request workloads: short runs, so more of them, for a
/// best that a busy moment of the machine does not decide.
pub(crate) const FETCH_ROUNDS: usize = 5;

/// Rounds of the 1 GiB downloads, the clients taken in turn in each.
const DOWNLOAD_ROUNDS: usize = 5;

/// The longest one run may take (runs take seconds; a run that takes
/// longer is stuck).
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// A run stopped for taking longer than [`RUN_LIMIT`]: what it printed.
#[derive(Debug)]
struct Hung(String);

impl std::fmt::Display for Hung {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Hung {}

/// A child process killed on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Lab {
    bin: PathBuf,
    dir: PathBuf,
    http: u16,
    https: u16,
    https2: u16,
    _server: Guard,
}

fn build(root: &Path) -> anyhow::Result<PathBuf> {
    crate::bench::status(
        Command::new(crate::bench::cargo())
            .args(["build", "--release", "-p", "sesh-bench"])
            .current_dir(root),
    )?;
    Ok(root.join("target/release/sesh-bench"))
}

fn lab(root: &Path) -> anyhow::Result<Lab> {
    let bin = build(root)?;
    let dir = root.join("target/bench-net");
    std::fs::create_dir_all(&dir)?;
    let mut child = Command::new(&bin)
        .args(["serve", "--dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the benchmark server")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let server = Guard(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let ports: Value = serde_json::from_str(&line).context("the server printed no ports")?;
    let port = |name: &str| {
        ports[name]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .with_context(|| format!("no {name} port"))
    };
    Ok(Lab {
        http: port("http")?,
        https: port("https")?,
        https2: port("https2")?,
        bin,
        dir,
        _server: server,
    })
}

/// What one run of a client gave.
#[derive(Clone)]
struct Run {
    seconds: f64,
    /// The median round's time (of the rounds that did not hang): on a
    /// noisy machine the best round flatters whichever client drew the
    /// quietest moment, and the median says what a client usually does.
    median_seconds: f64,
    /// Each round's (seconds, errors), `None` for a round that hung: the
    /// rounds of a workload's clients are taken in turn, so one client's
    /// round `i` and another's ran at nearly the same moment.
    rounds: Vec<Option<(f64, u64)>>,
    errors: u64,
    peak_kib: u64,
    /// Rounds stopped for taking longer than [`RUN_LIMIT`].
    hung: usize,
}

/// The peak resident set of a live process (VmHWM), in KiB.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Runs `cmd`, timing it and sampling its peak memory; the JSON it prints
/// (if any) is returned too.
fn run(cmd: &mut Command) -> anyhow::Result<(Run, Option<Value>)> {
    let shown = format!("{cmd:?}");
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {shown}"))?;
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = peak_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            // A run that hangs is a finding, not a reason to wait forever:
            // stop it and say what it printed (the sesh client reports its
            // pool when it stops making progress).
            let _ = child.kill();
            let _ = child.wait();
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                std::io::Read::read_to_string(&mut stderr, &mut err)?;
            }
            return Err(Hung(format!(
                "{shown} did not finish within {} s: {}",
                RUN_LIMIT.as_secs(),
                err.trim()
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let wall = started.elapsed().as_secs_f64();
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut out)?;
    }
    if !status.success() {
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            std::io::Read::read_to_string(&mut stderr, &mut err)?;
        }
        bail!("{shown} failed ({status}): {}", err.trim());
    }
    let json: Option<Value> = out
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok());
    let (seconds, errors) = match &json {
        Some(v) => (
            v["seconds"].as_f64().unwrap_or(wall),
            v["errors"].as_u64().unwrap_or(0),
        ),
        None => (wall, 0),
    };
    Ok((
        Run {
            seconds,
            median_seconds: seconds,
            rounds: vec![Some((seconds, errors))],
            errors,
            peak_kib: peak,
            hung: 0,
        },
        json,
    ))
}

/// The best of `rounds` runs of each command, the rounds taken in turn
/// (one run of each, then the next round), so that a change in the
/// machine's load during a workload falls on every client alike. A round
/// that hangs is reported at once and counted in the row (`hung`), and the
/// other rounds go on; a client whose every round hangs fails the bench.
fn best_of_each(
    makers: &mut [Box<dyn FnMut() -> Command + '_>],
    rounds: usize,
) -> anyhow::Result<Vec<Run>> {
    let mut bests: Vec<Option<Run>> = vec![None; makers.len()];
    let mut worst: Vec<(u64, u64)> = vec![(0, 0); makers.len()];
    let mut hung = vec![0; makers.len()];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); makers.len()];
    let mut each: Vec<Vec<Option<(f64, u64)>>> = vec![Vec::new(); makers.len()];
    for _ in 0..rounds {
        for (i, make) in makers.iter_mut().enumerate() {
            let r = match run(&mut make()) {
                Ok((r, _)) => r,
                Err(e) if e.downcast_ref::<Hung>().is_some() => {
                    eprintln!("HUNG: {e}");
                    hung[i] += 1;
                    each[i].push(None);
                    continue;
                }
                Err(e) => return Err(e),
            };
            worst[i] = (worst[i].0.max(r.errors), worst[i].1.max(r.peak_kib));
            times[i].push(r.seconds);
            each[i].push(Some((r.seconds, r.errors)));
            if bests[i].as_ref().is_none_or(|b| r.seconds < b.seconds) {
                bests[i] = Some(r);
            }
        }
    }
    bests
        .into_iter()
        .zip(worst)
        .zip(hung)
        .zip(times)
        .zip(each)
        .map(
            |((((best, (errors, peak_kib)), hung), mut times), rounds)| {
                let best = best.context("every round hung")?;
                times.sort_by(f64::total_cmp);
                let median_seconds = match times.len() {
                    0 => best.seconds,
                    n if n % 2 == 1 => times[n / 2],
                    n => (times[n / 2 - 1] + times[n / 2]) / 2.0,
                };
                Ok(Run {
                    errors,
                    peak_kib,
                    hung,
                    median_seconds,
                    rounds,
                    ..best
                })
            },
        )
        .collect()
}

/// A tinyproxy on 127.0.0.1 for the proxied workloads.
fn tinyproxy(dir: &Path) -> anyhow::Result<(Guard, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let conf = dir.join("tinyproxy.conf");
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 256\nAllow 127.0.0.1\nLogLevel Critical\n"
        ),
    )?;
    let child = Command::new("tinyproxy")
        .arg("-d")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context(
            "tinyproxy is needed for the proxied workloads (Debian: apt-get install tinyproxy)",
        )?;
    let guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("tinyproxy did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((guard, port))
}

/// The request headers sesh sends to `url` besides Host (`sesh-bench
/// headers`), which every peer sends too: the same exchange on the wire.
fn sesh_headers(lab: &Lab, url: &str) -> anyhow::Result<Vec<String>> {
    let out = Command::new(&lab.bin)
        .args(["headers", "--url", url])
        .output()
        .context("cannot run sesh-bench headers")?;
    if !out.status.success() {
        bail!(
            "sesh-bench headers failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8(out.stdout)?
        .lines()
        .map(str::to_owned)
        .collect())
}

/// A curl config fetching `url` `n` times (one connection kept alive, or
/// up to `parallel` at once), with sesh's request headers.
fn curl(lab: &Lab, url: &str, n: usize, parallel: usize) -> anyhow::Result<Command> {
    let path = lab.dir.join(format!("curl-{n}-{parallel}.conf"));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for header in sesh_headers(lab, url)? {
        writeln!(file, "header = \"{}\"", header.replace('"', "\\\""))?;
    }
    for _ in 0..n {
        writeln!(file, "url = \"{url}\"\noutput = \"/dev/null\"")?;
    }
    file.flush()?;
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--noproxy", "*", "--cacert"])
        .arg(lab.dir.join("ca.pem"))
        .arg("-K")
        .arg(&path);
    if parallel > 1 {
        cmd.args(["--parallel", "--parallel-max", &parallel.to_string()]);
    }
    Ok(cmd)
}

struct Row {
    workload: String,
    client: String,
    run: Run,
    requests: usize,
}

/// Marks a client of a workload run with six tasks instead of the
/// workload's (not passed to the client).
const SIX_IN_FLIGHT: &str = "six in flight";

/// A hyper peer's fresh-TLS flags for what Chromium's rules ask of sesh, on
/// sesh's provider: Chromium's suite order and the hybrid key share in
/// every ClientHello (the six sockets are [`SIX_IN_FLIGHT`]).
const CHROMIUM_RULES: &[&str] = &["--fresh", "--aws-lc", "--chromium-suites", "--hybrid-share"];

/// The speed goals for `bench fetch`: (workload, sesh's row, the
/// peer's row, the least ratio sesh ÷ peer that meets it).
const GOALS: &[(&str, &str, &str, f64)] = &[
    ("http keep-alive, sequential", "sesh", "reqwest", 0.95),
    ("https keep-alive, sequential", "sesh", "reqwest", 0.95),
    ("http keep-alive, 64 tasks", "sesh", "reqwest", 1.0),
    ("https keep-alive, 64 tasks", "sesh", "reqwest", 1.0),
    (
        "https with HTTP/2 offered, 64 tasks",
        "sesh",
        "reqwest",
        1.0,
    ),
    (
        "http keep-alive, 64 tasks",
        "sesh (3k cookies, 8 hooks)",
        "reqwest",
        0.9,
    ),
    (
        "fresh TLS connections, sequential",
        "sesh",
        "hyper-rustls (aws-lc-rs)",
        0.95,
    ),
    (
        "fresh TLS connections, 64 tasks",
        "sesh",
        "hyper-rustls (aws-lc-rs)",
        0.95,
    ),
    ("through tinyproxy, sequential", "sesh", "reqwest", 0.9),
    ("through tinyproxy, 64 tasks", "sesh", "reqwest", 0.9),
    (
        "through tinyproxy (CONNECT), sequential",
        "sesh",
        "reqwest",
        0.9,
    ),
];

/// `a ÷ b` three ways: best round against best round, median against
/// median, and the median of the round-by-round ratios (the clients of a
/// workload run in turn, so round `i` of each ran at nearly the same
/// moment and a change in the machine's load falls on both sides).
fn ratios(a: &Row, b: &Row) -> (f64, f64, f64) {
    run_ratios((a.requests, &a.run), (b.requests, &b.run))
}

/// [`ratios`] of two runs, each given with the requests (units of work)
/// one of its rounds did; a round's failed requests are not done work.
fn run_ratios((an, a): (usize, &Run), (bn, b): (usize, &Run)) -> (f64, f64, f64) {
    let done = |n: usize, seconds: f64, errors: u64| (n as f64 - errors as f64).max(0.0) / seconds;
    let mut paired: Vec<f64> = a
        .rounds
        .iter()
        .zip(&b.rounds)
        .filter_map(|(x, y)| {
            let (xs, xe) = (*x)?;
            let (ys, ye) = (*y)?;
            Some(done(an, xs, xe) / done(bn, ys, ye))
        })
        .collect();
    paired.sort_by(f64::total_cmp);
    let paired_median = match paired.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => paired[n / 2],
        n => (paired[n / 2 - 1] + paired[n / 2]) / 2.0,
    };
    (
        done(an, a.seconds, a.errors) / done(bn, b.seconds, b.errors),
        done(an, a.median_seconds, a.errors) / done(bn, b.median_seconds, b.errors),
        paired_median,
    )
}

/// `cargo xtask bench fetch`.
pub fn fetch(root: &Path, only: Option<&str>, rounds: usize) -> anyhow::Result<()> {
    let lab = lab(root)?;
    let (_proxy, proxy_port) = tinyproxy(&lab.dir)?;
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let http = format!("http://127.0.0.1:{}/small", lab.http);
    let https = format!("https://127.0.0.1:{}/small", lab.https);
    let https2 = format!("https://127.0.0.1:{}/small", lab.https2);
    let ca = lab.dir.join("ca.pem");
    let jar = root.join("../shared/bench/cookies/workload.json");
    let jar = jar
        .to_str()
        .context("the workload's path is not UTF-8")?
        .to_owned();
    let mut rows = Vec::new();
    let client = |name: &str, url: &str, n: usize, concurrency: usize, extra: &[&str]| {
        let mut cmd = Command::new(&lab.bin);
        cmd.args(["fetch", "--client", name, "--url", url])
            .args(["--requests", &n.to_string()])
            .args(["--concurrency", &concurrency.to_string(), "--ca"])
            .arg(&ca)
            .args(extra);
        cmd
    };
    type Case<'a> = (
        &'a str,
        &'a str,
        usize,
        usize,
        Vec<(&'a str, Vec<&'a str>)>,
        bool,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "http keep-alive, sequential",
            &http,
            20_000,
            1,
            vec![("sesh", vec![]), ("reqwest", vec![]), ("hyper", vec![])],
            true,
        ),
        (
            "http keep-alive, 64 tasks",
            &http,
            100_000,
            64,
            vec![
                ("sesh", vec![]),
                ("sesh", vec!["--per-host", "64"]),
                ("sesh", vec!["--jar", &jar, "--hooks"]),
                ("reqwest", vec![]),
                ("reqwest", vec!["--own-headers"]),
                ("reqwest", vec![SIX_IN_FLIGHT]),
                ("hyper", vec![]),
            ],
            true,
        ),
        (
            "https keep-alive, sequential",
            &https,
            20_000,
            1,
            vec![("sesh", vec![]), ("reqwest", vec![])],
            true,
        ),
        (
            "https keep-alive, 64 tasks",
            &https,
            100_000,
            64,
            vec![
                ("sesh", vec![]),
                ("sesh", vec!["--per-host", "64"]),
                ("reqwest", vec![]),
            ],
            false,
        ),
        (
            "https with HTTP/2 offered, 64 tasks",
            &https2,
            100_000,
            64,
            vec![("sesh", vec![]), ("reqwest", vec![])],
            false,
        ),
        (
            "fresh TLS connections, sequential",
            &https,
            2_000,
            1,
            vec![
                ("sesh", vec!["--fresh"]),
                ("reqwest", vec!["--fresh"]),
                ("hyper", vec!["--fresh"]),
                ("hyper", vec!["--fresh", "--aws-lc"]),
                ("hyper", CHROMIUM_RULES.to_vec()),
                ("hyper", vec!["--fresh", "--aws-lc", "--hyper-rustls"]),
                ("hyper", [CHROMIUM_RULES, &["--hyper-rustls"]].concat()),
            ],
            false,
        ),
        (
            "fresh TLS connections, 64 tasks",
            &https,
            6_000,
            64,
            vec![
                ("sesh", vec!["--fresh"]),
                ("reqwest", vec!["--fresh"]),
                ("hyper", vec!["--fresh"]),
                ("hyper", vec!["--fresh", "--aws-lc"]),
                ("hyper", vec!["--fresh", "--aws-lc", SIX_IN_FLIGHT]),
                ("hyper", [CHROMIUM_RULES, &[SIX_IN_FLIGHT]].concat()),
                ("hyper", vec!["--fresh", "--aws-lc", "--hyper-rustls"]),
                (
                    "hyper",
                    [CHROMIUM_RULES, &["--hyper-rustls", SIX_IN_FLIGHT]].concat(),
                ),
            ],
            false,
        ),
        (
            "through tinyproxy, sequential",
            &http,
            5_000,
            1,
            vec![
                ("sesh", vec!["--proxy", &proxy]),
                ("reqwest", vec!["--proxy", &proxy]),
            ],
            false,
        ),
        (
            "through tinyproxy, 64 tasks",
            &http,
            20_000,
            64,
            // reqwest with six tasks as well (sesh's six sockets), and with
            // its own headers (tinyproxy handles each header line with
            // system calls of its own).
            vec![
                ("sesh", vec!["--proxy", &proxy]),
                ("reqwest", vec!["--proxy", &proxy]),
                ("reqwest", vec!["--proxy", &proxy, SIX_IN_FLIGHT]),
                ("reqwest", vec!["--proxy", &proxy, "--own-headers"]),
            ],
            false,
        ),
        (
            "through tinyproxy (CONNECT), sequential",
            &https,
            5_000,
            1,
            vec![
                ("sesh", vec!["--proxy", &proxy]),
                ("reqwest", vec!["--proxy", &proxy]),
            ],
            false,
        ),
    ];
    for (workload, url, n, concurrency, clients, with_curl) in &cases {
        if only.is_some_and(|only| !workload.contains(only)) {
            continue;
        }
        println!("{workload}…");
        let mut labels = Vec::new();
        let mut makers: Vec<Box<dyn FnMut() -> Command + '_>> = Vec::new();
        for (name, extra) in clients {
            // Six tasks: six requests in flight, on six sockets, as sesh
            // has by default.
            let six = extra.contains(&SIX_IN_FLIGHT);
            let concurrency = if six { 6 } else { *concurrency };
            let extra: Vec<&str> = extra
                .iter()
                .copied()
                .filter(|a| *a != SIX_IN_FLIGHT)
                .collect();
            let notes: Vec<&str> = [
                ("--aws-lc", "aws-lc-rs"),
                ("--chromium-suites", "Chromium's suites"),
                ("--hybrid-share", "hybrid share"),
                ("--per-host", "64 per host"),
                ("--hooks", "3k cookies, 8 hooks"),
                ("--own-headers", "own headers"),
            ]
            .into_iter()
            .filter(|(flag, _)| extra.contains(flag))
            .map(|(_, note)| note)
            .chain(six.then_some("6 sockets"))
            .collect();
            // hyper through hyper-util's client and hyper-rustls's
            // connector is shown by the connector's name.
            let shown = if extra.contains(&"--hyper-rustls") {
                "hyper-rustls"
            } else {
                name
            };
            labels.push(if notes.is_empty() {
                shown.to_owned()
            } else {
                format!("{shown} ({})", notes.join(", "))
            });
            let client = &client;
            makers.push(Box::new(move || client(name, url, *n, concurrency, &extra)));
        }
        if *with_curl {
            labels.push("curl".into());
            let lab = &lab;
            makers.push(Box::new(move || {
                curl(lab, url, *n, *concurrency).unwrap_or_else(|_| Command::new("false"))
            }));
        }
        for (label, run) in labels.into_iter().zip(best_of_each(&mut makers, rounds)?) {
            rows.push(Row {
                workload: (*workload).to_owned(),
                client: label,
                run,
                requests: *n,
            });
        }
    }
    println!("\n=== fetch: GETs of a 64-byte body on loopback (best of {rounds}) ===");
    // The client column as wide as its longest label.
    let w = rows
        .iter()
        .map(|r| r.client.chars().count())
        .max()
        .unwrap_or(6);
    println!(
        "{:<42} {:<w$} {:>10} {:>10} {:>7} {:>9} {:>10}",
        "workload", "client", "req/s", "median", "errors", "peak MiB", "× reqwest"
    );
    // Answered requests a second: a request that failed was not served.
    let answered =
        |row: &Row| (row.requests as f64 - row.run.errors as f64).max(0.0) / row.run.seconds;
    let answered_median =
        |row: &Row| (row.requests as f64 - row.run.errors as f64).max(0.0) / row.run.median_seconds;
    let mut out = Vec::new();
    for row in &rows {
        let rate = answered(row);
        let reqwest = rows
            .iter()
            .find(|r| r.workload == row.workload && r.client == "reqwest")
            .map(answered);
        let ratio = reqwest.map(|q| rate / q).unwrap_or(f64::NAN);
        let hung = match row.run.hung {
            0 => String::new(),
            n => format!("  ({n} of {rounds} rounds hung)"),
        };
        println!(
            "{:<42} {:<w$} {:>10.0} {:>10.0} {:>7} {:>9.1} {:>10.2}{hung}",
            row.workload,
            row.client,
            rate,
            answered_median(row),
            row.run.errors,
            row.run.peak_kib as f64 / 1024.0,
            ratio
        );
        out.push(json!({
            "workload": row.workload, "client": row.client, "requestsPerSecond": rate,
            "medianRequestsPerSecond": answered_median(row),
            "errors": row.run.errors, "peakKiB": row.run.peak_kib, "vsReqwest": ratio,
            "hungRounds": row.run.hung,
        }));
    }
    // Fresh TLS: sesh against each hyper row, best against best, median
    // against median and round by round.
    println!(
        "\nfresh TLS, sesh ÷ each hyper peer (best of {rounds} / median / median of the rounds' ratios):"
    );
    for sesh in rows
        .iter()
        .filter(|r| r.client == "sesh" && r.workload.starts_with("fresh TLS"))
    {
        for peer in rows
            .iter()
            .filter(|r| r.workload == sesh.workload && r.client.starts_with("hyper"))
        {
            let (best, median, paired) = ratios(sesh, peer);
            println!(
                "  {:<34} ÷ {:<w$} {best:>5.2} / {median:.2} / {paired:.2}",
                sesh.workload, peer.client,
            );
        }
    }
    // The goals, each judged by the median of the rounds' ratios
    // (the statistic a change in the machine's load moves least); a goal
    // through tinyproxy also wants no failed request.
    println!(
        "\ngoals (best of {rounds} / median / median of the rounds' ratios; judged by the last):"
    );
    let mut missed = 0;
    for (workload, ours, theirs, goal) in GOALS {
        let find = |client: &str| {
            rows.iter()
                .find(|r| r.workload == *workload && r.client == client)
        };
        let (Some(sesh), Some(peer)) = (find(ours), find(theirs)) else {
            continue;
        };
        let (best, median, paired) = ratios(sesh, peer);
        let clean = !workload.contains("tinyproxy") || sesh.run.errors == 0;
        let met = paired >= *goal && clean;
        missed += usize::from(!met);
        println!(
            "  {:<40} {:<40} {best:.2} / {median:.2} / {paired:.2}  (≥ {goal:.2}{}) {}",
            workload,
            format!("{ours} ÷ {theirs}:"),
            if workload.contains("tinyproxy") {
                ", 0 errors"
            } else {
                ""
            },
            if met { "met" } else { "NOT MET" },
        );
    }
    if missed > 0 {
        println!("  {missed} goal(s) not met in this run");
    }
    println!(
        "\nreq/s counts answered requests (a client's errors are not served requests).\n\
         Every client sends sesh's request headers (its user agent, Accept-Language, Accept-Encoding: `sesh-bench headers`), so each makes the same exchange\n\
         on the wire; \"reqwest (own headers)\" sends reqwest's two instead (Accept and Host).\n\
         sesh keeps Chromium's 6 sockets per host by default (reqwest and hyper open one per task): the \"64 per host\" row is the same code with the limit raised,\n\
         and \"reqwest/hyper (6 sockets)\" is that client with six tasks, i.e. six requests in flight on six sockets, as sesh has by default.\n\
         sesh's TLS runs on rustls's aws-lc-rs provider; \"hyper\" is hyper over tokio-rustls on ring (X25519 alone), \"hyper (aws-lc-rs)\" on rustls's aws-lc-rs\n\
         provider, hyper-rustls's default (X25519 first: it sends no X25519MLKEM768 share unless a server asks). sesh sends an X25519MLKEM768 key share in\n\
         every ClientHello, as Chromium does; \"Chromium's suites, hybrid share\" is hyper on aws-lc-rs offering Chromium's suite order and sending that share\n\
         in every ClientHello too (and so, with six sockets, doing what Chromium's rules ask of sesh, on sesh's provider).\n\
         \"hyper-rustls\" is hyper as an app on it fetches over https: hyper-util's pooling client with hyper-rustls's connector (the same TLS config as the\n\
         hyper row beside it); the bare \"hyper\" rows make each connection by hand (a parsed address, tokio-rustls, hyper's connection API), less than any client does.\n\
         \"3k cookies, 8 hooks\": the cookie workload's 3,000 cookies in the jar and a webRequest hook at every stage."
    );
    std::fs::write(lab.dir.join("fetch.json"), serde_json::to_vec_pretty(&out)?)?;
    println!("(also in {})", lab.dir.join("fetch.json").display());
    Ok(())
}

/// `cargo xtask bench download`.
pub fn download(root: &Path) -> anyhow::Result<()> {
    const SIZE: u64 = 1 << 30;
    const CLIENTS: [&str; 5] = ["sesh", "reqwest", "reqwest+sync", "curl", "wget"];
    let lab = lab(root)?;
    let url = format!("http://127.0.0.1:{}/big/{SIZE}", lab.http);
    let out = lab.dir.join("download");
    // Before each run: what the run before wrote is checked (the whole
    // body, nothing else) and the directory emptied, so that no file
    // of another client is left for the kernel to write back meanwhile.
    let before: std::cell::RefCell<(Option<&str>, Option<anyhow::Error>)> =
        std::cell::RefCell::new((None, None));
    let check_and_clear = |next: Option<&'static str>| {
        let mut state = before.borrow_mut();
        if let Some(last) = state.0.take() {
            let written: u64 = std::fs::read_dir(&out)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum();
            if written != SIZE && state.1.is_none() {
                state.1 = Some(anyhow::anyhow!("{last} wrote {written} bytes, not {SIZE}"));
            }
        }
        let _ = std::fs::remove_dir_all(&out);
        if let Err(e) = std::fs::create_dir_all(&out) {
            state.1.get_or_insert(e.into());
        }
        state.0 = next;
    };
    let mut makers: Vec<Box<dyn FnMut() -> Command + '_>> = Vec::new();
    for name in CLIENTS {
        let (url, out, check_and_clear) = (&url, &out, &check_and_clear);
        let bin = &lab.bin;
        makers.push(Box::new(move || {
            check_and_clear(Some(name));
            match name {
                "curl" => {
                    let mut cmd = Command::new("curl");
                    cmd.args(["-s", "--noproxy", "*", "-o"])
                        .arg(out.join("curl.bin"))
                        .arg(url);
                    cmd
                }
                "wget" => {
                    let mut cmd = Command::new("wget");
                    cmd.args(["-q", "--no-proxy", "-O"])
                        .arg(out.join("wget.bin"))
                        .arg(url);
                    cmd
                }
                _ => {
                    let mut cmd = Command::new(bin);
                    let client = name.trim_end_matches("+sync");
                    cmd.args(["download", "--client", client, "--url", url, "--dir"])
                        .arg(out);
                    if name.ends_with("+sync") {
                        cmd.arg("--sync");
                    }
                    cmd
                }
            }
        }));
    }
    println!(
        "{} clients, {DOWNLOAD_ROUNDS} rounds in turn…",
        CLIENTS.join(", ")
    );
    let runs = best_of_each(&mut makers, DOWNLOAD_ROUNDS)?;
    drop(makers);
    check_and_clear(None);
    let _ = std::fs::remove_dir_all(&out);
    if let Some(e) = before.into_inner().1 {
        return Err(e);
    }
    let rows: Vec<(&str, Run)> = CLIENTS.into_iter().zip(runs).collect();
    let rate = |seconds: f64| SIZE as f64 / seconds / 1e9;
    let of = |n: &str| rows.iter().find(|(name, _)| *name == n).map(|(_, r)| r);
    let (Some(reqwest), Some(curl)) = (of("reqwest"), of("curl")) else {
        bail!("no reqwest or curl row");
    };
    println!(
        "\n=== download: 1 GiB over loopback to a file (best of {DOWNLOAD_ROUNDS}, clients in turn) ==="
    );
    println!(
        "{:<13} {:>8} {:>8} {:>10} {:>10} {:>9}",
        "client", "GB/s", "median", "× reqwest", "× curl", "peak MiB"
    );
    let mut json_rows = Vec::new();
    for (name, run) in &rows {
        let r = rate(run.seconds);
        let hung = match run.hung {
            0 => String::new(),
            n => format!("  ({n} of {DOWNLOAD_ROUNDS} rounds hung)"),
        };
        println!(
            "{:<13} {:>8.2} {:>8.2} {:>10.2} {:>10.2} {:>9.1}{hung}",
            name,
            r,
            rate(run.median_seconds),
            r / rate(reqwest.seconds),
            r / rate(curl.seconds),
            run.peak_kib as f64 / 1024.0
        );
        json_rows.push(json!({
            "client": name, "gbPerSecond": r, "medianGbPerSecond": rate(run.median_seconds),
            "peakKiB": run.peak_kib, "hungRounds": run.hung,
        }));
    }
    if let Some(sesh) = of("sesh") {
        // Each run moves the same gigabyte: the ratios of rates are those
        // of one unit of work.
        let (best, median, paired) = run_ratios((1, sesh), (1, reqwest));
        let met = paired >= 1.0 && sesh.peak_kib <= 16 * 1024;
        println!(
            "\ngoal: sesh ≥ 1.0× reqwest (best / median / median of the rounds' ratios, judged by the last) with a peak RSS ≤ 16 MiB:\n  \
             {best:.2} / {median:.2} / {paired:.2}, {:.1} MiB {}",
            sesh.peak_kib as f64 / 1024.0,
            if met { "met" } else { "NOT MET" },
        );
    }
    println!(
        "sesh writes a .crdownload file, makes it durable (fdatasync, as Chromium's download file does on completion)\n\
         and links it into place: \"reqwest+sync\" is reqwest paying the same fdatasync."
    );
    std::fs::write(
        lab.dir.join("download.json"),
        serde_json::to_vec_pretty(&json_rows)?,
    )?;
    Ok(())
}
