//! `sesh resolve-proxy`: Chromium's answer for URLs under a proxy config.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;
use sesh::proxy::{
    BypassRules, LocalFetcher, ProxyConfig, ProxyMode, ProxyResolver, ProxyRules, ProxyServer, Url,
};

/// Arguments of `sesh resolve-proxy`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// direct, auto_detect, pac_script, fixed_servers or system (default:
    /// inferred as Electron does: --pac wins over --rules, else direct).
    #[arg(long, value_name = "M")]
    mode: Option<String>,
    /// proxyRules, e.g. "http=foopy:80;socks=bar".
    #[arg(long, value_name = "R")]
    rules: Option<String>,
    // (Not a doc comment: rustdoc would read `<local>` as an HTML tag.)
    #[arg(
        long,
        value_name = "B",
        help = "proxyBypassRules, e.g. \"*.corp, <local>\""
    )]
    bypass: Option<String>,
    /// The PAC script: a file path, or a file:, data:, http: or https: URL
    /// (fetched directly through the chosen partition's session).
    #[arg(long, value_name = "PATH_OR_URL")]
    pac: Option<String>,
    /// Print one JSON object per URL, with the typed proxy list.
    #[arg(long)]
    json: bool,
    /// The URLs to resolve.
    #[arg(required = true, value_name = "URL")]
    urls: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    url: &'a str,
    pac_string: String,
    proxies: &'a [ProxyServer],
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn pac_url(pac: &str) -> anyhow::Result<String> {
    if let Ok(url) = Url::parse(pac)
        && url.scheme().len() > 1
    {
        return Ok(url.to_string());
    }
    let path = std::path::absolute(Path::new(pac))
        .with_context(|| format!("cannot resolve the PAC path {pac}"))?;
    Url::from_file_path(&path)
        .map(|u| u.to_string())
        .map_err(|()| anyhow::anyhow!("{} cannot be a file: URL", path.display()))
}

/// Runs `sesh resolve-proxy`; `session` opens the partition's session,
/// asked for only when a PAC script has to come over the network.
pub(crate) fn run(
    args: &Args,
    session: impl FnOnce() -> anyhow::Result<sesh::Session>,
) -> anyhow::Result<()> {
    let mode = args
        .mode
        .as_deref()
        .map(str::parse::<ProxyMode>)
        .transpose()?;
    let config = ProxyConfig {
        mode,
        pac_script: args.pac.as_deref().map(pac_url).transpose()?,
        proxy_rules: args.rules.clone(),
        proxy_bypass_rules: args.bypass.clone(),
    };
    // Say what Chromium would silently drop.
    if config.effective_mode() == ProxyMode::FixedServers {
        for e in ProxyRules::parse_with_errors(args.rules.as_deref().unwrap_or("")).1 {
            eprintln!("warning: {e}");
        }
        for e in BypassRules::parse_with_errors(args.bypass.as_deref().unwrap_or("")).1 {
            eprintln!("warning: {e}");
        }
    }
    let over_network = config
        .pac_script
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .is_some_and(|u| matches!(u.scheme(), "http" | "https"));
    // Kept alive while the resolver fetches through it.
    let session = over_network.then(session).transpose()?;
    let resolver = if let Some(ses) = &session {
        ProxyResolver::new(Arc::new(sesh::net::SessionPacFetcher::new(ses)))
    } else {
        ProxyResolver::new(Arc::new(LocalFetcher))
    };
    resolver.set_proxy(config);
    if let Some(e) = resolver.pac_error() {
        eprintln!("error: {e}; every URL goes DIRECT");
    }
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for url in &args.urls {
        let resolution = match resolver.resolve(url) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
                continue;
            }
        };
        if let Some(e) = &resolution.error
            && resolver.pac_error().is_none()
        {
            eprintln!("error: {e}; {url} goes DIRECT");
        }
        if args.json {
            let line = Line {
                url,
                pac_string: resolution.list.to_string(),
                proxies: resolution.list.servers(),
                error: resolution.error.as_ref().map(ToString::to_string),
            };
            writeln!(out, "{}", serde_json::to_string(&line)?)?;
        } else {
            writeln!(out, "{}", resolution.list)?;
        }
    }
    if failed {
        anyhow::bail!("some URLs could not be resolved");
    }
    Ok(())
}
