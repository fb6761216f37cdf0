//! `sesh tour`: a walk through what sesh does, offline, on real storage.
//!
//! Each chapter uses the real library on the default session of the
//! user-data directory (or the one given with `--user-data-dir`) and prints
//! what it did and what came back.

use anyhow::Context;
use sesh::{PartitionOptions, SessionEvent, Sessions};

fn chapter(n: u32, title: &str) {
    println!();
    println!("── {n}. {title} ──");
}

pub(crate) fn run(sessions: &Sessions) -> anyhow::Result<()> {
    println!("sesh tour: Electron's session module, in Rust. Nothing here uses the network.");
    println!(
        "user-data directory: {}",
        sessions.user_data_dir().display()
    );
    sessions_and_partitions(sessions)?;
    settings(sessions)?;
    events(sessions)?;
    println!();
    println!("End of the tour. `sesh --help` lists the commands.");
    Ok(())
}

fn sessions_and_partitions(sessions: &Sessions) -> anyhow::Result<()> {
    chapter(1, "Sessions and partitions");
    let default = sessions
        .default_session()
        .context("cannot open the default session")?;
    println!(
        "session.defaultSession        persistent={}  storage={}",
        default.is_persistent(),
        default
            .storage_path()
            .map_or("-".into(), |p| p.display().to_string())
    );
    let work = sessions.from_partition("persist:tour", PartitionOptions::default())?;
    println!(
        "fromPartition('persist:tour')  persistent={}  storage={}",
        work.is_persistent(),
        work.storage_path()
            .map_or("-".into(), |p| p.display().to_string())
    );
    let again = sessions.from_partition("persist:tour", PartitionOptions { cache: false })?;
    println!(
        "asking again returns the same session: {} (and its options stay: cache={})",
        again == work,
        again.options().cache
    );
    let scratch = sessions.from_partition("tour-scratch", PartitionOptions::default())?;
    println!(
        "fromPartition('tour-scratch')  persistent={}  storage={:?}  (in memory: nothing on disk)",
        scratch.is_persistent(),
        scratch.storage_path()
    );
    let hostile = "persist:../../etc";
    let dir = sesh::partition_dir_name(hostile, "../../etc")?;
    println!("a hostile name {hostile:?} stays inside Partitions/ as {dir:?}");
    match sessions.from_partition("persist:", PartitionOptions::default()) {
        Err(e) => println!("and a bad one is refused: {e}"),
        Ok(_) => anyhow::bail!("persist: with no name was accepted"),
    }
    Ok(())
}

fn settings(sessions: &Sessions) -> anyhow::Result<()> {
    chapter(2, "Settings: user agent, languages, paths");
    let ses = sessions.default_session()?;
    println!("getUserAgent()   {}", ses.user_agent());
    println!("Accept-Language  {}", ses.accept_language_header());
    let scratch = sessions.from_partition("tour-scratch", PartitionOptions::default())?;
    scratch.set_user_agent("TourBot/1.0", Some("fr-FR,fr,en-US,en"))?;
    println!(
        "setUserAgent('TourBot/1.0', 'fr-FR,fr,en-US,en') → Accept-Language {}",
        scratch.accept_language_header()
    );
    if let Err(e) = scratch.set_user_agent("Bad\r\nX-Injected: 1", None) {
        println!("a user agent that would inject a header is refused: {e}");
    }
    println!("getDownloadPath  {}", ses.download_path().display());
    println!(
        "code cache       {}",
        ses.code_cache_path()
            .map_or("(in memory)".into(), |p| p.display().to_string())
    );
    scratch.set_preloads(["/opt/app/preload.js"])?;
    println!("getPreloads()    {:?}", scratch.preloads());
    if let Err(e) = scratch.set_preloads(["preload.js"]) {
        println!("a relative preload is refused: {e}");
    }
    ses.flush_storage()?;
    println!("flushed the default session's storage to disk");
    Ok(())
}

fn events(sessions: &Sessions) -> anyhow::Result<()> {
    chapter(3, "Events");
    let ses = sessions.from_partition("tour-scratch", PartitionOptions::default())?;
    let mut events = ses.subscribe();
    let told = ses.notify_preconnect("https://example.com/", true);
    println!("a page hints preconnect to https://example.com/ → {told} subscriber(s) told");
    match events.try_recv() {
        Ok(event @ SessionEvent::Preconnect { .. }) => {
            println!("received: {}", serde_json::to_string(&event)?);
        }
        Ok(other) => anyhow::bail!("unexpected event {other:?}"),
        Err(e) => anyhow::bail!("the preconnect event did not arrive: {e}"),
    }
    Ok(())
}
