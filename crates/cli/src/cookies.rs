//! `sesh cookies …`: the session's cookie jar from a shell.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use sesh::Session;
use sesh::storage::MemoryBackend;
use sesh::storage::cookies::{CookieDetails, CookieFilter, CookieJar, CookieOptions, SameSite};
use url::Url;

/// `sesh cookies` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum CookiesCommand {
    /// Cookies matching a filter (ses.cookies.get).
    Get {
        /// Only cookies sent to this URL.
        #[arg(long)]
        url: Option<String>,
        /// Only this name.
        #[arg(long)]
        name: Option<String>,
        /// Only this domain and its subdomains.
        #[arg(long)]
        domain: Option<String>,
        /// Print Electron's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a cookie (ses.cookies.set).
    Set {
        /// The URL the cookie is for.
        #[arg(long)]
        url: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// Its value.
        #[arg(long)]
        value: String,
        /// Its domain (host-only when absent).
        #[arg(long)]
        domain: Option<String>,
        /// Its path (the URL's default path when absent).
        #[arg(long)]
        path: Option<String>,
        /// Secure.
        #[arg(long)]
        secure: bool,
        /// HttpOnly.
        #[arg(long)]
        http_only: bool,
        /// Expiry in seconds since the Unix epoch (a session cookie when absent).
        #[arg(long, value_name = "EPOCH")]
        expires: Option<f64>,
        /// unspecified, no_restriction, lax or strict (default lax).
        #[arg(long)]
        same_site: Option<String>,
    },
    /// Remove the cookies of a name that a URL gets (ses.cookies.remove).
    Remove {
        /// The URL.
        #[arg(long)]
        url: String,
        /// The name.
        #[arg(long)]
        name: String,
    },
    /// Store each value as if it came in a Set-Cookie header from the URL.
    SetHeader {
        /// The URL the response came from.
        #[arg(long)]
        url: String,
        /// Set-Cookie header values.
        #[arg(required = true, value_name = "SET-COOKIE VALUE")]
        values: Vec<String>,
    },
    /// The Cookie header a top-level GET navigation to the URL sends.
    Header {
        /// The URL.
        #[arg(long)]
        url: String,
    },
    /// After FROM's response set these cookies, the Cookie header a
    /// top-level GET navigation to TO sends (in a scratch jar).
    Simulate(SimulateArgs),
}

/// Arguments of `sesh cookies simulate`.
#[derive(Debug, clap::Args)]
pub(crate) struct SimulateArgs {
    /// The URL whose response sets the cookies.
    #[arg(long)]
    from: String,
    /// A Set-Cookie header value (repeatable).
    #[arg(long = "set-cookie", value_name = "VALUE")]
    set_cookies: Vec<String>,
    /// The URL navigated to next.
    #[arg(long)]
    to: String,
}

fn url(s: &str) -> anyhow::Result<Url> {
    Url::parse(s).with_context(|| format!("invalid URL {s:?}"))
}

fn same_site(s: &str) -> anyhow::Result<SameSite> {
    Ok(match s {
        "unspecified" => SameSite::Unspecified,
        "no_restriction" => SameSite::NoRestriction,
        "lax" => SameSite::Lax,
        "strict" => SameSite::Strict,
        other => {
            anyhow::bail!("Failed to convert '{other}' to an appropriate cookie same site value")
        }
    })
}

pub(crate) fn run(ses: &Session, cmd: &CookiesCommand) -> anyhow::Result<ExitCode> {
    let jar = ses.cookies();
    match cmd {
        CookiesCommand::Get {
            url,
            name,
            domain,
            json,
        } => {
            let cookies = jar.get(&CookieFilter {
                url: url.clone(),
                name: name.clone(),
                domain: domain.clone(),
                ..Default::default()
            });
            if *json {
                println!("{}", serde_json::to_string_pretty(&cookies)?);
            } else {
                for c in cookies {
                    let expiry = c
                        .expiration_date
                        .map_or("session".to_owned(), |e| format!("expires {e}"));
                    println!(
                        "{}={}  domain={} path={}{}{} sameSite={:?} {expiry}",
                        c.name,
                        c.value,
                        c.domain,
                        c.path,
                        if c.secure { " secure" } else { "" },
                        if c.http_only { " httpOnly" } else { "" },
                        c.same_site
                    );
                }
            }
        }
        CookiesCommand::Set {
            url,
            name,
            value,
            domain,
            path,
            secure,
            http_only,
            expires,
            same_site: ss,
        } => {
            jar.set(&CookieDetails {
                url: url.clone(),
                name: Some(name.clone()),
                value: Some(value.clone()),
                domain: domain.clone(),
                path: path.clone(),
                secure: secure.then_some(true),
                http_only: http_only.then_some(true),
                expiration_date: *expires,
                same_site: ss.as_deref().map(same_site).transpose()?,
            })?;
        }
        CookiesCommand::Remove { url: u, name } => {
            let n = jar.remove(&url(u)?, name);
            eprintln!("removed {n} cookie(s)");
        }
        CookiesCommand::SetHeader { url: u, values } => {
            let target = url(u)?;
            let mut failed = false;
            for v in values {
                if let Err(e) = jar.set_from_header(&target, v) {
                    eprintln!("error: {v:?}: {e}");
                    failed = true;
                }
            }
            ses.flush_storage()?;
            return Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            });
        }
        CookiesCommand::Header { url: u } => {
            println!("{}", jar.cookie_header(&url(u)?, CookieOptions::default()));
        }
        CookiesCommand::Simulate(args) => return simulate(args),
    }
    ses.flush_storage()?;
    Ok(ExitCode::SUCCESS)
}

/// `sesh cookies simulate`: a scratch in-memory jar, so the session's own
/// cookies are neither used nor changed.
pub(crate) fn simulate(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let jar = CookieJar::open(Arc::new(MemoryBackend::new()))?;
    let from = url(&args.from)?;
    for v in &args.set_cookies {
        if let Err(e) = jar.set_from_header(&from, v) {
            eprintln!("rejected {v:?}: {e}");
        }
    }
    println!(
        "{}",
        jar.cookie_header(&url(&args.to)?, CookieOptions::default())
    );
    Ok(ExitCode::SUCCESS)
}
