//! `sesh download-name`: the file name Chromium gives a download.

use std::path::PathBuf;

use anyhow::Context;
use sesh::downloads::{generate_file_name, unique_path};
use url::Url;

/// Arguments of `sesh download-name`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The download's URL.
    #[arg(value_name = "URL")]
    url: String,
    /// The Content-Disposition header value.
    #[arg(long, value_name = "VALUE")]
    content_disposition: Option<String>,
    /// The Content-Type header value.
    #[arg(long, value_name = "TYPE")]
    mime_type: Option<String>,
    /// Print the free path for it in this directory (`name (1).ext` when
    /// the name is taken) instead of the bare name.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let url = Url::parse(&args.url).with_context(|| format!("{:?} is not a URL", args.url))?;
    let name = generate_file_name(
        &url,
        args.content_disposition.as_deref().map(str::as_bytes),
        args.mime_type.as_deref(),
    );
    match &args.dir {
        None => println!("{name}"),
        Some(dir) => {
            let path = unique_path(dir, &name)
                .with_context(|| format!("no free name for {name:?} in {}", dir.display()))?;
            println!("{}", path.display());
        }
    }
    Ok(())
}
