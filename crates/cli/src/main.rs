//! `sesh`: inspect and drive sesh sessions from a shell.
//!
//! `sesh session info` shows a session; `sesh tour` walks through what sesh
//! does, offline, on the default session's own storage.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cert;
mod cookies;
mod download;
mod download_name;
mod fetch;
mod resolve_host;
mod resolve_proxy;
mod tour;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;
use sesh::{PartitionOptions, Session, Sessions};

/// Electron's session module, from the command line.
#[derive(Debug, Parser)]
#[command(name = "sesh", version, about)]
struct Cli {
    /// The user-data directory (default: $SESH_USER_DATA_DIR, else
    /// $XDG_CONFIG_HOME/sesh, else ~/.config/sesh).
    #[arg(long, global = true, value_name = "DIR")]
    user_data_dir: Option<PathBuf>,

    /// The session's partition: "" for the default session, persist:NAME for
    /// a persistent one, anything else for an in-memory one.
    #[arg(long, global = true, value_name = "P", default_value = "")]
    partition: String,

    /// The session stored in this directory instead of a partition
    /// (session.fromPath; absolute).
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "partition")]
    session_path: Option<PathBuf>,

    /// Log more (repeat for even more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show or change a session.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Connect to a TLS server, verify its certificate, print the chain and
    /// the verdict (exit 0 trusted, 1 not trusted, 2 usage or connection
    /// error).
    Cert(cert::Args),
    /// Read and write the session's cookies.
    #[command(subcommand)]
    Cookies(cookies::CookiesCommand),
    /// Download a URL through the session (progress bar; Ctrl-C or a dropped
    /// connection interrupts and records it; --list and --resume continue
    /// it). Exit 0 when completed, 1 when interrupted or cancelled.
    Download(download::Args),
    /// Send one request through the session (cookies and cache persist in
    /// the partition); the body goes to stdout. On failure the net error
    /// goes to stderr and the exit status is 1.
    Fetch(fetch::Args),
    /// Print the name a download is saved under, as Chromium picks it.
    DownloadName(download_name::Args),
    /// Print what ses.resolveProxy(url) answers for each URL.
    ResolveProxy(resolve_proxy::Args),
    /// Print what ses.resolveHost(host, options) answers: an address and its
    /// family a line; on failure the net error goes to stderr and the exit
    /// status is 1.
    ResolveHost(resolve_host::Args),
    /// The session's HTTP cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// The session's per-origin storage.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// A guided tour of sesh, offline, on the default storage.
    Tour,
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// ses.getCacheSize: the bytes the HTTP cache uses.
    Size,
    /// ses.clearCache: empty the HTTP cache.
    Clear,
}

#[derive(Debug, Subcommand)]
enum StorageCommand {
    /// ses.clearStorageData: clear kinds of data of one origin or all.
    Clear {
        /// Only this origin (scheme://host:port).
        #[arg(long)]
        origin: Option<String>,
        /// Comma-separated kinds: cookies, filesystem, indexdb, localstorage,
        /// shadercache, websql, serviceworkers, cachestorage.
        #[arg(long, value_delimiter = ',')]
        storages: Option<Vec<String>>,
        /// Comma-separated quota types: temporary, syncable.
        #[arg(long, value_delimiter = ',')]
        quotas: Option<Vec<String>>,
    },
    /// ses.clearData: clear types of data for some origins or all but some
    /// (cookies by registrable domain).
    ClearData {
        /// Comma-separated types: backgroundFetch, cache, cookies, downloads,
        /// fileSystems, indexedDB, localStorage, serviceWorkers, webSQL (all
        /// by default).
        #[arg(long, value_delimiter = ',')]
        data_types: Option<Vec<String>>,
        /// Only these origins (comma-separated).
        #[arg(long, value_delimiter = ',', conflicts_with = "exclude_origins")]
        origins: Option<Vec<String>>,
        /// Every origin but these (comma-separated).
        #[arg(long, value_delimiter = ',')]
        exclude_origins: Option<Vec<String>>,
        /// Keep the HTTP auth cache and open connections when clearing
        /// cookies.
        #[arg(long)]
        avoid_closing_connections: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SessionCommand {
    /// Print the session's partition, persistence, storage path and user agent.
    Info {
        /// Print JSON (keys: partition, isPersistent, storagePath, userAgent).
        #[arg(long)]
        json: bool,
    },
}

/// `sesh session info --json`: Electron's names for the same facts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionInfo {
    partition: String,
    is_persistent: bool,
    storage_path: Option<PathBuf>,
    user_agent: String,
}

impl SessionInfo {
    fn of(ses: &Session) -> Self {
        SessionInfo {
            partition: ses.partition().to_owned(),
            is_persistent: ses.is_persistent(),
            storage_path: ses.storage_path().map(PathBuf::from),
            user_agent: ses.user_agent(),
        }
    }
}

fn sessions(cli: &Cli) -> anyhow::Result<Sessions> {
    let mut builder = Sessions::builder()
        .app_name("sesh")
        .app_version(env!("CARGO_PKG_VERSION"));
    if let Some(dir) = &cli.user_data_dir {
        builder = builder.user_data_dir(dir);
    }
    Ok(builder.build()?)
}

fn open_session(cli: &Cli) -> anyhow::Result<Session> {
    let sessions = sessions(cli)?;
    match &cli.session_path {
        Some(path) => sessions
            .from_path(path, PartitionOptions::default())
            .with_context(|| format!("cannot open the session in {}", path.display())),
        None => sessions
            .from_partition(&cli.partition, PartitionOptions::default())
            .with_context(|| format!("cannot open the session for partition {:?}", cli.partition)),
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Cert(args) => cert::run(args),
        Command::Cookies(cmd) => {
            if let cookies::CookiesCommand::Simulate(args) = cmd {
                return cookies::simulate(args);
            }
            cookies::run(&open_session(&cli)?, cmd)
        }
        Command::Session(SessionCommand::Info { json }) => {
            let info = SessionInfo::of(&open_session(&cli)?);
            if *json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                println!("partition:    {:?}", info.partition);
                println!("isPersistent: {}", info.is_persistent);
                match &info.storage_path {
                    Some(p) => println!("storagePath:  {}", p.display()),
                    None => println!("storagePath:  (none: in memory)"),
                }
                println!("userAgent:    {}", info.user_agent);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Cache(CacheCommand::Size) => {
            println!("{}", open_session(&cli)?.cache_size());
            Ok(ExitCode::SUCCESS)
        }
        Command::Cache(CacheCommand::Clear) => {
            let ses = open_session(&cli)?;
            ses.clear_cache()?;
            ses.flush_storage()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Storage(StorageCommand::Clear {
            origin,
            storages,
            quotas,
        }) => {
            let ses = open_session(&cli)?;
            ses.clear_storage_data(&sesh::ClearStorageDataOptions {
                origin: origin.clone(),
                storages: storages.clone(),
                quotas: quotas.clone(),
            })?;
            ses.flush_storage()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Storage(StorageCommand::ClearData {
            data_types,
            origins,
            exclude_origins,
            avoid_closing_connections,
        }) => {
            let ses = open_session(&cli)?;
            ses.clear_data(&sesh::ClearDataOptions {
                data_types: data_types.clone(),
                origins: origins.clone(),
                exclude_origins: exclude_origins.clone(),
                avoid_closing_connections: *avoid_closing_connections,
                origin_matching_mode: None,
            })?;
            ses.flush_storage()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Download(args) => download::run(&open_session(&cli)?, args),
        Command::Fetch(args) => fetch::run(&open_session(&cli)?, args),
        Command::DownloadName(args) => download_name::run(args).map(|()| ExitCode::SUCCESS),
        Command::ResolveProxy(args) => {
            resolve_proxy::run(args, || open_session(&cli)).map(|()| ExitCode::SUCCESS)
        }
        Command::ResolveHost(args) => resolve_host::run(&open_session(&cli)?, args),
        Command::Tour => tour::run(&sessions(&cli)?).map(|()| ExitCode::SUCCESS),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `-H 'Name: value'` arguments as a header map.
fn parse_headers(list: &[String]) -> anyhow::Result<http::HeaderMap> {
    let mut headers = http::HeaderMap::new();
    for header in list {
        let (name, value) = header
            .split_once(':')
            .with_context(|| format!("{header:?} is not `Name: value`"))?;
        headers.append(
            http::HeaderName::from_bytes(name.trim().as_bytes())
                .with_context(|| format!("{name:?} is not a header name"))?,
            http::HeaderValue::from_str(value.trim())
                .with_context(|| format!("{value:?} is not a header value"))?,
        );
    }
    Ok(headers)
}
