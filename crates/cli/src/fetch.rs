//! `sesh fetch`: one request through the session's network service.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use sesh::Session;
use sesh::net::{NetworkEmulation, Request};
use sesh::proxy::ProxyConfig;
use url::Url;

/// Arguments of `sesh fetch`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The URL.
    #[arg(value_name = "URL")]
    url: String,
    /// The method.
    #[arg(
        short = 'X',
        long = "request",
        value_name = "METHOD",
        default_value = "GET"
    )]
    method: String,
    /// A request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// The request body.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    data: Option<String>,
    /// Write the body to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print the status line and headers before the body.
    #[arg(short = 'i', long = "include")]
    include: bool,
    /// proxyRules for this run.
    #[arg(long, value_name = "R")]
    proxy_rules: Option<String>,
    // (Not a doc comment: rustdoc would read `<local>` as an HTML tag.)
    #[arg(
        long,
        value_name = "B",
        help = "proxyBypassRules for this run, e.g. \"<local>\""
    )]
    bypass: Option<String>,
    /// A PAC script for this run: a path, or a file: or data: URL.
    #[arg(long, value_name = "PAC")]
    pac: Option<String>,
    /// Emulate being offline.
    #[arg(long)]
    offline: bool,
    /// Emulated latency, in milliseconds.
    #[arg(long, value_name = "MS")]
    latency: Option<f64>,
    /// Emulated download throughput, in bytes per second.
    #[arg(long, value_name = "N")]
    download_bps: Option<f64>,
    /// Emulated upload throughput, in bytes per second.
    #[arg(long, value_name = "N")]
    upload_bps: Option<f64>,
    /// Trust this CA certificate (PEM file) too (repeatable).
    #[arg(long, value_name = "PEM")]
    ca: Vec<PathBuf>,
    /// Fail with net::ERR_TIMED_OUT when no response arrives in time.
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// fetch's cache mode: default, no-store, reload, no-cache, force-cache
    /// or only-if-cached.
    #[arg(long, value_name = "MODE", default_value = "default", value_parser = cache_mode)]
    cache: sesh::net::CacheMode,
    /// Print the response as JSON (status, statusText, headers, url,
    /// urlChain, fromCache, body).
    #[arg(long)]
    json: bool,
    /// Record the session's network events to this file (Chromium's
    /// netlog format, as `--log-net-log` does for Chromium).
    #[arg(long, value_name = "FILE")]
    log_net_log: Option<PathBuf>,
    /// What the net log records: default, includeSensitive (cookies and
    /// credentials) or everything (socket bytes too).
    #[arg(long, value_name = "MODE", default_value = "default", value_parser = capture_mode)]
    net_log_capture_mode: sesh::net::CaptureMode,
    /// Keep the net log within this many bytes (the oldest events go).
    #[arg(long, value_name = "BYTES")]
    net_log_max_size: Option<u64>,
}

/// A capture mode by Electron's name.
fn capture_mode(name: &str) -> Result<sesh::net::CaptureMode, String> {
    name.parse()
        .map_err(|e: sesh::net::NetLogError| e.to_string())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonResponse {
    status: u16,
    status_text: String,
    headers: Vec<(String, String)>,
    url: String,
    url_chain: Vec<String>,
    from_cache: bool,
    body: String,
}

pub(crate) fn run(ses: &Session, args: &Args) -> anyhow::Result<ExitCode> {
    let url = Url::parse(&args.url).with_context(|| format!("{:?} is not a URL", args.url))?;
    let mut request = Request::get(url);
    request.cache = args.cache;
    if let Some(seconds) = args.timeout {
        request.timeout = Some(
            std::time::Duration::try_from_secs_f64(seconds)
                .map_err(|_| anyhow::anyhow!("--timeout {seconds}: not a duration"))?,
        );
    }
    request.method = args
        .method
        .parse()
        .with_context(|| format!("{:?} is not a method", args.method))?;
    for (name, value) in &crate::parse_headers(&args.headers)? {
        request.headers.append(name, value.clone());
    }
    if let Some(data) = &args.data {
        request.body = bytes::Bytes::from(data.clone().into_bytes());
    }
    for pem in &args.ca {
        let text = std::fs::read_to_string(pem)
            .with_context(|| format!("cannot read {}", pem.display()))?;
        ses.cert_verifier()
            .add_root_pem(&text)
            .with_context(|| format!("{} holds no usable certificate", pem.display()))?;
    }
    ses.enable_network_emulation(NetworkEmulation {
        offline: args.offline,
        latency: args.latency.unwrap_or(0.0),
        download_throughput: args.download_bps.unwrap_or(0.0),
        upload_throughput: args.upload_bps.unwrap_or(0.0),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if let Some(path) = &args.log_net_log {
            let mut options = sesh::net::NetLogOptions::new(args.net_log_capture_mode);
            options.max_file_size = args.net_log_max_size;
            ses.net_log().start_logging(path, options).await?;
        }
        let result = fetch_and_print(ses, args, request).await;
        if args.log_net_log.is_some() {
            ses.net_log().stop_logging().await?;
        }
        result
    })
}

/// Sends the request and prints the answer (or the net error).
async fn fetch_and_print(ses: &Session, args: &Args, request: Request) -> anyhow::Result<ExitCode> {
    {
        if args.proxy_rules.is_some() || args.pac.is_some() {
            let pac = match &args.pac {
                Some(p) if Url::parse(p).is_ok() => Some(p.clone()),
                Some(p) => Some(
                    Url::from_file_path(std::path::absolute(p)?)
                        .map_err(|()| anyhow::anyhow!("{p:?} is not a usable path"))?
                        .to_string(),
                ),
                None => None,
            };
            ses.set_proxy(ProxyConfig {
                pac_script: pac,
                proxy_rules: args.proxy_rules.clone(),
                proxy_bypass_rules: args.bypass.clone(),
                ..Default::default()
            })
            .await?;
        }
        let mut response = match ses.fetch(request).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{}: {}", e.error, e.detail);
                return Ok(ExitCode::from(1));
            }
        };
        let mut out: Box<dyn Write> = match &args.output {
            Some(path) => Box::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            ),
            None => Box::new(std::io::stdout().lock()),
        };
        if args.json {
            let status = response.status.as_u16();
            let status_text = response.status_text.clone();
            let headers = response
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let url = response.url.to_string();
            let url_chain = response.url_chain.iter().map(Url::to_string).collect();
            let from_cache = response.from_cache;
            let body = match response.bytes().await {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => {
                    eprintln!("{}: {}", e.error, e.detail);
                    return Ok(ExitCode::from(1));
                }
            };
            let json = JsonResponse {
                status,
                status_text,
                headers,
                url,
                url_chain,
                from_cache,
                body,
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
        } else {
            if args.include {
                writeln!(
                    out,
                    "{:?} {} {}",
                    response.version,
                    response.status.as_u16(),
                    response.status_text
                )?;
                for (k, v) in &response.headers {
                    writeln!(out, "{k}: {}", String::from_utf8_lossy(v.as_bytes()))?;
                }
                writeln!(out)?;
            }
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => out.write_all(&chunk)?,
                    Ok(None) => break,
                    Err(e) => {
                        eprintln!("{}: {}", e.error, e.detail);
                        return Ok(ExitCode::from(1));
                    }
                }
            }
        }
        out.flush()?;
        ses.flush_storage_data()?;
        Ok(ExitCode::SUCCESS)
    }
}

/// A cache mode by fetch's name.
fn cache_mode(name: &str) -> Result<sesh::net::CacheMode, String> {
    use sesh::net::CacheMode;
    Ok(match name {
        "default" => CacheMode::Default,
        "no-store" => CacheMode::NoStore,
        "reload" => CacheMode::Reload,
        "no-cache" => CacheMode::NoCache,
        "force-cache" => CacheMode::ForceCache,
        "only-if-cached" => CacheMode::OnlyIfCached,
        other => {
            return Err(format!(
                "unknown cache mode {other:?}: default, no-store, reload, no-cache, force-cache or only-if-cached"
            ));
        }
    })
}
