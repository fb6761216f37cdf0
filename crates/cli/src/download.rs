//! `sesh download`: a download through the session, with progress, that
//! survives Ctrl-C and dropped connections.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use sesh::Session;
use sesh::downloads::{
    DownloadEvent, DownloadItem, DownloadState, InterruptedDownload, WillDownload, unique_path,
};
use url::Url;

/// Arguments of `sesh download`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The URL to download.
    #[arg(value_name = "URL", required_unless_present_any = ["list", "resume"])]
    url: Option<String>,
    /// The directory to save to (default: the session's download path).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The file name to save as (default: the one Chromium picks).
    #[arg(short = 'o', long = "output", value_name = "NAME")]
    output: Option<String>,
    /// List the interrupted downloads recorded in the session.
    #[arg(long, conflicts_with_all = ["url", "resume"])]
    list: bool,
    /// With --list: one JSON array.
    #[arg(long, requires = "list")]
    json: bool,
    /// Continue the interrupted download with this id (from --list).
    #[arg(long, value_name = "ID", conflicts_with = "url")]
    resume: Option<String>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// A header sent with every request of the download, `Name: value`
    /// (repeatable): `downloadURL`'s `options.headers`.
    #[arg(
        short = 'H',
        long = "header",
        value_name = "HEADER",
        conflicts_with = "resume"
    )]
    headers: Vec<String>,
}

/// One line of `--list --json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    id: String,
    url: String,
    save_path: PathBuf,
    received_bytes: u64,
    total_bytes: u64,
    state: &'static str,
    can_resume: bool,
}

/// A stable id for a recorded download: the start of the SHA-256 of its
/// path.
fn id_of(record: &InterruptedDownload) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        record.path.as_os_str().as_encoded_bytes(),
    );
    digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn run(ses: &Session, args: &Args) -> anyhow::Result<ExitCode> {
    if args.list {
        return list(ses, args.json);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let item = if let Some(id) = &args.resume {
            let record = ses
                .interrupted_downloads()?
                .into_iter()
                .find(|r| &id_of(r) == id)
                .with_context(|| {
                    format!("no interrupted download has the id {id:?} (see --list)")
                })?;
            let item = ses
                .create_interrupted_download(record)
                .context("the recorded download is not usable")?;
            item.resume();
            item
        } else {
            let raw = args.url.as_deref().unwrap_or_default();
            let url = Url::parse(raw).with_context(|| format!("{raw:?} is not a URL"))?;
            let output = args.output.clone();
            let dir = match &args.dir {
                Some(dir) => Some(std::path::absolute(dir)?),
                None => None,
            };
            if output.is_some() || dir.is_some() {
                let dir = dir.unwrap_or_else(|| ses.download_path());
                ses.set_will_download_handler(Some(Arc::new(move |item: &DownloadItem| {
                    let name = output.clone().unwrap_or_else(|| item.filename());
                    if std::fs::create_dir_all(&dir).is_ok()
                        && let Ok(path) = unique_path(&dir, &name)
                    {
                        item.set_save_path(path);
                    }
                    WillDownload::Continue
                })));
            }
            ses.download_url_with(
                url,
                sesh::downloads::DownloadOptions::with_headers(crate::parse_headers(
                    &args.headers,
                )?),
            )
        };
        follow(ses, &item, args.quiet).await
    })
}

fn list(ses: &Session, json: bool) -> anyhow::Result<ExitCode> {
    let listed: Vec<Listed> = ses
        .interrupted_downloads()?
        .into_iter()
        .map(|r| Listed {
            id: id_of(&r),
            url: r.url_chain.last().map(Url::to_string).unwrap_or_default(),
            save_path: r.path.clone(),
            received_bytes: r.offset,
            total_bytes: r.length,
            state: DownloadState::Interrupted.as_str(),
            can_resume: true,
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
    } else if listed.is_empty() {
        println!("no interrupted downloads");
    } else {
        for l in listed {
            println!(
                "{}  {}/{} bytes  {}  {}",
                l.id,
                l.received_bytes,
                l.total_bytes,
                l.save_path.display(),
                l.url
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows the progress until the item ends or is interrupted; Ctrl-C
/// interrupts it. An interrupted item is recorded in the session.
async fn follow(ses: &Session, item: &DownloadItem, quiet: bool) -> anyhow::Result<ExitCode> {
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_bar}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut events = item.subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let end = loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(DownloadEvent::Done(state)) => break state,
                Some(DownloadEvent::Updated(DownloadState::Interrupted)) => {
                    break DownloadState::Interrupted;
                }
                Some(_) => {}
                None => break item.state(),
            },
            _ = tick.tick() => {
                bar.set_length(item.total_bytes());
                bar.set_position(item.received_bytes());
            }
            _ = &mut ctrl_c => {
                item.shut_down();
                break DownloadState::Interrupted;
            }
        }
    };
    bar.finish_and_clear();
    let path = item.save_path();
    match end {
        DownloadState::Completed => {
            ses.forget_interrupted_download(&path)?;
            ses.flush_storage_data()?;
            println!("{}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        DownloadState::Interrupted => {
            let reason = item
                .interrupt_reason()
                .map(|r| r.name())
                .unwrap_or("unknown");
            if let Some(record) = item.to_interrupted() {
                let id = id_of(&record);
                ses.record_interrupted_download(&record)?;
                ses.flush_storage_data()?;
                eprintln!(
                    "interrupted ({reason}) after {} of {} bytes; continue with: sesh download --resume {id}",
                    item.received_bytes(),
                    item.total_bytes()
                );
            } else {
                eprintln!("interrupted ({reason}) before the server answered");
            }
            Ok(ExitCode::from(1))
        }
        other => {
            eprintln!("the download ended {}", other.as_str());
            Ok(ExitCode::from(1))
        }
    }
}
