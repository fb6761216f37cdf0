//! `DownloadItem` against the loopback server: states, events, pause,
//! interruption, resume, restart, cancel.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sesh_downloads::{
    DownloadEvent, DownloadItem, DownloadState, InterruptReason, InterruptedDownload,
    InterruptedDownloadError, SaveTo, WillDownload, partial_path,
};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::server::{Resource, Server, TcpTransport};

fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// Events until (and including) the first that matches `stop`.
async fn events_until(
    rx: &mut UnboundedReceiver<DownloadEvent>,
    stop: impl Fn(&DownloadEvent) -> bool,
) -> Vec<DownloadEvent> {
    let mut out = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("no event within 20 s")
            .expect("the item dropped its subscribers");
        let last = stop(&event);
        out.push(event);
        if last {
            return out;
        }
    }
}

/// Starts a download of `path` on `server` into `dir`, subscribed before
/// the first event.
fn start(
    server: &Server,
    path: &str,
    dir: &std::path::Path,
) -> (DownloadItem, UnboundedReceiver<DownloadEvent>) {
    let item = DownloadItem::start(
        Arc::new(TcpTransport),
        server.url(path),
        SaveTo::Directory(dir.to_owned()),
    );
    let rx = item.subscribe();
    (item, rx)
}

/// Waits for the resumable interruption.
async fn until_interrupted(rx: &mut UnboundedReceiver<DownloadEvent>) -> Vec<DownloadEvent> {
    events_until(rx, |e| {
        *e == DownloadEvent::Updated(DownloadState::Interrupted)
    })
    .await
}

#[tokio::test]
async fn a_download_completes_with_its_events_and_chromiums_name() {
    let body = content(300_000, 1);
    let mut resource = Resource::new(body.clone());
    resource.content_disposition = Some("attachment; filename=\"../report.pdf\"".into());
    let server = Server::start(resource);
    let dir = tempfile::tempdir().unwrap();
    let (item, mut rx) = start(&server, "/get", dir.path());
    let events = events_until(&mut rx, |e| matches!(e, DownloadEvent::Done(_))).await;
    assert_eq!(
        events.last(),
        Some(&DownloadEvent::Done(DownloadState::Completed))
    );
    assert!(
        events[..events.len() - 1]
            .iter()
            .all(|e| *e == DownloadEvent::Updated(DownloadState::Progressing)),
        "{events:?}"
    );
    assert_eq!(item.state(), DownloadState::Completed);
    assert_eq!(item.filename(), "_report.pdf");
    assert_eq!(item.save_path(), dir.path().join("_report.pdf"));
    assert_eq!(item.total_bytes(), 300_000);
    assert_eq!(item.received_bytes(), 300_000);
    assert_eq!(item.percent_complete(), 100);
    assert_eq!(item.etag(), "\"v1\"");
    assert_eq!(item.mime_type(), "application/octet-stream");
    assert!(item.is_done() && !item.can_resume());
    assert!(item.end_time() >= item.start_time());
    assert_eq!(
        sha256(&std::fs::read(item.save_path()).unwrap()),
        sha256(&body)
    );
    assert!(!partial_path(&item.save_path()).exists());
}

#[tokio::test]
async fn a_dropped_connection_interrupts_and_resume_appends_the_rest() {
    let body = content(500_000, 2);
    let mut resource = Resource::new(body.clone());
    resource.drop_after = Some(123_457);
    let server = Server::start(resource);
    let dir = tempfile::tempdir().unwrap();
    let (item, mut rx) = start(&server, "/file.bin", dir.path());
    let events = until_interrupted(&mut rx).await;
    assert!(!events.iter().any(|e| matches!(e, DownloadEvent::Done(_))));
    assert_eq!(item.state(), DownloadState::Interrupted);
    assert_eq!(
        item.interrupt_reason(),
        Some(InterruptReason::NetworkDisconnected)
    );
    assert!(item.can_resume() && !item.is_done());
    let received = item.received_bytes();
    assert!(received > 0 && received < 500_000, "{received}");
    assert!(
        !item.save_path().exists(),
        "no file under the final name yet"
    );

    item.resume();
    let events = events_until(&mut rx, |e| matches!(e, DownloadEvent::Done(_))).await;
    assert_eq!(
        events.last(),
        Some(&DownloadEvent::Done(DownloadState::Completed))
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1].range.as_deref(),
        Some(format!("bytes={received}-").as_str())
    );
    assert_eq!(seen[1].if_range.as_deref(), Some("\"v1\""));
    assert_eq!(
        sha256(&std::fs::read(item.save_path()).unwrap()),
        sha256(&body)
    );
}

#[tokio::test]
async fn a_changed_resource_restarts_from_zero_on_resume() {
    let old = content(200_000, 3);
    let new = content(250_000, 4);
    let mut resource = Resource::new(old);
    resource.drop_after = Some(50_000);
    let server = Server::start(resource);
    let dir = tempfile::tempdir().unwrap();
    let (item, mut rx) = start(&server, "/data", dir.path());
    until_interrupted(&mut rx).await;
    {
        let mut r = server.resource.lock().unwrap();
        r.body = new.clone();
        r.etag = Some("\"v2\"".into());
    }
    item.resume();
    let state = item.wait_done().await;
    assert_eq!(state, DownloadState::Completed);
    // If-Range did not match: the server sent the whole new resource.
    assert_eq!(server.seen()[1].if_range.as_deref(), Some("\"v1\""));
    assert_eq!(
        sha256(&std::fs::read(item.save_path()).unwrap()),
        sha256(&new)
    );
    assert_eq!(item.etag(), "\"v2\"");
}

#[tokio::test]
async fn without_validators_resume_starts_over() {
    let body = content(200_000, 5);
    let mut resource = Resource::new(body.clone());
    resource.etag = None;
    resource.ranges = false;
    resource.drop_after = Some(70_000);
    let server = Server::start(resource);
    let dir = tempfile::tempdir().unwrap();
    let (item, mut rx) = start(&server, "/x.bin", dir.path());
    until_interrupted(&mut rx).await;
    item.resume();
    assert_eq!(item.wait_done().await, DownloadState::Completed);
    let seen = server.seen();
    assert_eq!(
        seen[1].range, None,
        "no Range without a validator to guard it"
    );
    assert_eq!(
        sha256(&std::fs::read(item.save_path()).unwrap()),
        sha256(&body)
    );
}

#[tokio::test]
async fn pause_stops_the_flow_and_resume_continues() {
    // Larger than the socket buffers, so that a client that stops reading
    // stalls the server.
    let body = content(16 << 20, 6);
    let server = Server::start(Resource::new(body.clone()));
    let dir = tempfile::tempdir().unwrap();
    let (item, mut rx) = start(&server, "/big.bin", dir.path());
    events_until(&mut rx, |_| true).await;
    item.pause();
    assert!(item.is_paused() && item.can_resume());
    assert_eq!(item.state(), DownloadState::Progressing);
    // Let the socket buffers fill: wait until the server stops making
    // progress (it never would if the pause did not stop the reads)…
    let written = || server.body_bytes_written.load(Ordering::SeqCst);
    let mut last = written();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = written();
        if now == last {
            break;
        }
        last = now;
    }
    // …then it must stay stopped.
    let before = written();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = written();
    assert_eq!(before, after, "the server kept writing while paused");
    assert!(after < body.len() as u64);
    item.resume();
    assert!(!item.is_paused());
    assert_eq!(item.wait_done().await, DownloadState::Completed);
    assert_eq!(
        server.seen().len(),
        1,
        "a pause does not make a new request"
    );
    assert_eq!(
        sha256(&std::fs::read(item.save_path()).unwrap()),
        sha256(&body)
    );
}

#[tokio::test]
async fn cancel_removes_the_partial_file_and_ends_cancelled() {
    let server = Server::start(Resource::new(content(16 << 20, 7)));
    let dir = tempfile::tempdir().unwrap();
    let (item, mut rx) = start(&server, "/big.bin", dir.path());
    events_until(&mut rx, |_| true).await;
    item.pause();
    let partial = partial_path(&item.save_path());
    assert!(partial.exists());
    item.cancel();
    let events = events_until(&mut rx, |e| matches!(e, DownloadEvent::Done(_))).await;
    assert_eq!(
        events.last(),
        Some(&DownloadEvent::Done(DownloadState::Cancelled))
    );
    assert_eq!(item.state(), DownloadState::Cancelled);
    assert!(!partial.exists() && !item.save_path().exists());
    assert!(!item.can_resume());
    // Nothing more happens after done.
    item.resume();
    assert_eq!(item.state(), DownloadState::Cancelled);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_missing_resource_is_interrupted_as_bad_content() {
    let mut resource = Resource::new(Vec::new());
    resource.status = 404;
    let server = Server::start(resource);
    let dir = tempfile::tempdir().unwrap();
    let (item, mut rx) = start(&server, "/missing", dir.path());
    until_interrupted(&mut rx).await;
    assert_eq!(
        item.interrupt_reason(),
        Some(InterruptReason::ServerBadContent)
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file");
}

#[tokio::test]
async fn a_taken_name_gets_a_number_and_a_save_path_is_honoured() {
    let body = content(10_000, 8);
    let server = Server::start(Resource::new(body.clone()));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    let (item, _rx) = start(&server, "/notes.txt", dir.path());
    assert_eq!(item.wait_done().await, DownloadState::Completed);
    assert_eq!(item.save_path(), dir.path().join("notes (1).txt"));
    assert_eq!(
        std::fs::read(dir.path().join("notes.txt")).unwrap(),
        b"mine"
    );

    let chosen = dir.path().join("sub/dir/chosen.bin");
    let item = DownloadItem::start(
        Arc::new(TcpTransport),
        server.url("/notes.txt"),
        SaveTo::Path(chosen.clone()),
    );
    assert_eq!(item.wait_done().await, DownloadState::Completed);
    assert_eq!(std::fs::read(&chosen).unwrap(), body);
}

#[tokio::test]
async fn an_interrupted_download_is_recorded_and_continued_by_a_new_item() {
    let body = content(400_000, 9);
    let mut resource = Resource::new(body.clone());
    resource.drop_after = Some(150_000);
    let server = Server::start(resource);
    let dir = tempfile::tempdir().unwrap();
    let (first, mut rx) = start(&server, "/disk.img", dir.path());
    until_interrupted(&mut rx).await;
    // What an app stores, as Electron's JSON, to survive a restart.
    let record = first.to_interrupted().unwrap();
    let json = serde_json::to_value(&record).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "path",
        "urlChain",
        "mimeType",
        "offset",
        "length",
        "eTag",
        "startTime",
    ] {
        assert!(keys.contains(&key), "{key} missing from {json}");
    }
    drop(first);

    let options: InterruptedDownload = serde_json::from_value(json).unwrap();
    let offset = options.offset;
    let item = DownloadItem::create_interrupted(Arc::new(TcpTransport), options).unwrap();
    assert_eq!(item.state(), DownloadState::Interrupted);
    assert!(item.can_resume());
    assert_eq!(item.received_bytes(), offset);
    assert_eq!(item.total_bytes(), 400_000);
    assert_eq!(item.filename(), "disk.img");
    // Nothing happens until resume.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.seen().len(), 1);
    item.resume();
    assert_eq!(item.wait_done().await, DownloadState::Completed);
    assert_eq!(
        server.seen()[1].range.as_deref(),
        Some(format!("bytes={offset}-").as_str())
    );
    assert_eq!(
        sha256(&std::fs::read(item.save_path()).unwrap()),
        sha256(&body)
    );
}

#[tokio::test]
async fn create_interrupted_without_validators_starts_over_and_bad_options_are_named() {
    let body = content(50_000, 10);
    let server = Server::start(Resource::new(body.clone()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("again.bin");
    std::fs::write(partial_path(&path), b"stale partial bytes").unwrap();
    let options = InterruptedDownload {
        path: path.clone(),
        url_chain: vec![server.url("/again.bin")],
        mime_type: None,
        offset: 19,
        length: 50_000,
        last_modified: None,
        etag: None,
        start_time: None,
    };
    let item = DownloadItem::create_interrupted(Arc::new(TcpTransport), options.clone()).unwrap();
    item.resume();
    assert_eq!(item.wait_done().await, DownloadState::Completed);
    assert_eq!(server.seen()[0].range, None);
    assert_eq!(std::fs::read(&path).unwrap(), body);

    let relative = InterruptedDownload {
        path: "rel/x.bin".into(),
        ..options.clone()
    };
    let err = DownloadItem::create_interrupted(Arc::new(TcpTransport), relative).unwrap_err();
    assert!(err.to_string().contains("rel/x.bin"), "{err}");
    let no_url = InterruptedDownload {
        url_chain: Vec::new(),
        ..options.clone()
    };
    assert_eq!(
        DownloadItem::create_interrupted(Arc::new(TcpTransport), no_url).unwrap_err(),
        InterruptedDownloadError::NoUrl
    );
    let past = InterruptedDownload {
        offset: 60_000,
        ..options
    };
    let err = DownloadItem::create_interrupted(Arc::new(TcpTransport), past).unwrap_err();
    assert!(err.to_string().contains("60000"), "{err}");
}

#[tokio::test]
async fn will_download_sees_the_item_and_can_redirect_the_save_path() {
    let body = content(80_000, 11);
    let mut resource = Resource::new(body.clone());
    resource.content_disposition = Some("attachment; filename=\"quarterly.csv\"".into());
    let server = Server::start(resource);
    let dir = tempfile::tempdir().unwrap();
    let chosen = dir.path().join("chosen/by/app.csv");
    let seen = Arc::new(std::sync::Mutex::new(None));
    let (seen2, chosen2) = (seen.clone(), chosen.clone());
    let item = DownloadItem::start_with_handler(
        Arc::new(TcpTransport),
        server.url("/export"),
        SaveTo::Directory(dir.path().to_owned()),
        Box::new(move |item: &DownloadItem| {
            *seen2.lock().unwrap() = Some((item.filename(), item.total_bytes(), item.mime_type()));
            assert!(item.set_save_path(&chosen2));
            WillDownload::Continue
        }),
    );
    assert_eq!(item.wait_done().await, DownloadState::Completed);
    assert_eq!(
        seen.lock().unwrap().clone(),
        Some((
            "quarterly.csv".to_owned(),
            80_000,
            "application/octet-stream".to_owned()
        ))
    );
    assert_eq!(item.save_path(), chosen);
    assert_eq!(std::fs::read(&chosen).unwrap(), body);
    assert!(!dir.path().join("quarterly.csv").exists());
    // Too late now.
    assert!(!item.set_save_path(dir.path().join("other.csv")));
    assert_eq!(item.save_path(), chosen);
}

#[tokio::test]
async fn will_download_can_prevent_and_nothing_is_written() {
    let server = Server::start(Resource::new(content(80_000, 12)));
    let dir = tempfile::tempdir().unwrap();
    let item = DownloadItem::start_with_handler(
        Arc::new(TcpTransport),
        server.url("/unwanted.exe"),
        SaveTo::Directory(dir.path().to_owned()),
        Box::new(|_: &DownloadItem| WillDownload::Prevent),
    );
    let mut rx = item.subscribe();
    let events = events_until(&mut rx, |e| matches!(e, DownloadEvent::Done(_))).await;
    assert_eq!(events, vec![DownloadEvent::Done(DownloadState::Cancelled)]);
    assert_eq!(item.state(), DownloadState::Cancelled);
    assert!(item.is_done() && !item.can_resume());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file at all"
    );
}

#[tokio::test]
async fn the_save_path_is_fixed_once_bytes_are_written() {
    let server = Server::start(Resource::new(content(16 << 20, 13)));
    let dir = tempfile::tempdir().unwrap();
    let (item, mut rx) = start(&server, "/big.bin", dir.path());
    events_until(&mut rx, |_| true).await;
    item.pause();
    let path = item.save_path();
    assert!(!item.set_save_path(dir.path().join("elsewhere.bin")));
    assert_eq!(item.save_path(), path);
    item.cancel();
}

#[tokio::test]
async fn a_416_interrupts_with_no_range_and_resume_starts_over() {
    let body = content(30_000, 14);
    let server = Server::start(Resource::new(body.clone()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whole.bin");
    std::fs::write(partial_path(&path), content(30_000, 99)).unwrap();
    // An offset the server cannot serve a range from.
    let item = DownloadItem::create_interrupted(
        Arc::new(TcpTransport),
        InterruptedDownload {
            path: path.clone(),
            url_chain: vec![server.url("/whole.bin")],
            mime_type: None,
            offset: 30_000,
            length: 0,
            last_modified: None,
            etag: Some("\"v1\"".into()),
            start_time: None,
        },
    )
    .unwrap();
    let mut rx = item.subscribe();
    item.resume();
    until_interrupted(&mut rx).await;
    assert_eq!(
        item.interrupt_reason(),
        Some(InterruptReason::ServerNoRange)
    );
    assert!(item.can_resume());
    item.resume();
    assert_eq!(item.wait_done().await, DownloadState::Completed);
    let seen = server.seen();
    assert_eq!(seen[0].range.as_deref(), Some("bytes=30000-"));
    assert_eq!(
        seen[1].range, None,
        "the second attempt asks for everything"
    );
    assert_eq!(std::fs::read(&path).unwrap(), body);
}

#[tokio::test]
async fn download_options_headers_go_with_every_request_of_the_download() {
    use http::header::{AUTHORIZATION, HeaderMap, HeaderValue, RANGE};
    let body = content(300_000, 5);
    let mut resource = Resource::new(body.clone());
    resource.drop_after = Some(100_000);
    let server = Server::start(resource);
    let dir = tempfile::tempdir().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer t0ken"));
    // A Range of the app's own is not sent: ranges are the download's.
    headers.insert(RANGE, HeaderValue::from_static("bytes=5-"));
    let item = DownloadItem::start_with_options(
        Arc::new(TcpTransport),
        server.url("/file.bin"),
        SaveTo::Directory(dir.path().to_owned()),
        sesh_downloads::DownloadOptions::with_headers(headers),
        Box::new(|_: &DownloadItem| sesh_downloads::WillDownload::Continue),
    );
    let mut rx = item.subscribe();
    until_interrupted(&mut rx).await;
    let received = item.received_bytes();
    item.resume();
    let events = events_until(&mut rx, |e| matches!(e, DownloadEvent::Done(_))).await;
    assert_eq!(
        events.last(),
        Some(&DownloadEvent::Done(DownloadState::Completed))
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(request.authorization.as_deref(), Some("Bearer t0ken"));
    }
    assert_eq!(seen[0].range, None);
    assert_eq!(
        seen[1].range.as_deref(),
        Some(format!("bytes={received}-").as_str())
    );
    assert_eq!(
        sha256(&std::fs::read(item.save_path()).unwrap()),
        sha256(&body)
    );
    // Not part of what createInterruptedDownload takes back.
    let record = serde_json::to_string(&item.to_interrupted().unwrap()).unwrap();
    assert!(!record.contains("t0ken"), "{record}");
}
