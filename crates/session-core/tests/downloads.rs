//! Interrupted downloads recorded in a session, across restarts.

use std::path::PathBuf;

use sesh_core::downloads::{DownloadState, InterruptedDownload};
use sesh_core::{Error, PartitionOptions, Sessions};

use crate::{fresh, walk};

fn record(path: PathBuf, offset: u64, start: f64) -> InterruptedDownload {
    InterruptedDownload {
        path,
        url_chain: vec![
            "https://example.com/a".parse().unwrap(),
            "https://cdn.example.com/a.iso".parse().unwrap(),
        ],
        mime_type: Some("application/x-iso9660-image".into()),
        offset,
        length: 1_000_000,
        last_modified: None,
        etag: Some("\"abc\"".into()),
        start_time: Some(start),
    }
}

#[test]
fn a_persistent_session_lists_its_interrupted_downloads_after_a_restart() {
    let (tmp, user_data, sessions) = fresh();
    let downloads = tmp.path().join("dl");
    let first = record(downloads.join("a.iso"), 100, 2.0);
    let second = record(downloads.join("b.iso"), 200, 1.0);
    {
        let ses = sessions
            .from_partition("persist:work", PartitionOptions::default())
            .unwrap();
        ses.record_interrupted_download(&first).unwrap();
        ses.record_interrupted_download(&second).unwrap();
        // Recording the same path again replaces its record.
        ses.record_interrupted_download(&record(downloads.join("a.iso"), 150, 2.0))
            .unwrap();
        ses.flush_storage_data().unwrap();
    }
    drop(sessions);

    let sessions = Sessions::builder()
        .app_name("sesh-test")
        .user_data_dir(&user_data)
        .build()
        .unwrap();
    let ses = sessions
        .from_partition("persist:work", PartitionOptions::default())
        .unwrap();
    let listed = ses.interrupted_downloads().unwrap();
    assert_eq!(listed.len(), 2);
    // Oldest first.
    assert_eq!(listed[0], second);
    assert_eq!(listed[1].path, first.path);
    assert_eq!(listed[1].offset, 150);
    assert!(ses.forget_interrupted_download(&second.path).unwrap());
    assert!(!ses.forget_interrupted_download(&second.path).unwrap());
    assert_eq!(ses.interrupted_downloads().unwrap().len(), 1);
    // Other partitions have their own.
    let other = sessions.default_session().unwrap();
    assert!(other.interrupted_downloads().unwrap().is_empty());
}

#[test]
fn an_in_memory_session_writes_no_record_to_disk() {
    let (tmp, user_data, sessions) = fresh();
    let ses = sessions
        .from_partition("scratch", PartitionOptions::default())
        .unwrap();
    ses.record_interrupted_download(&record(tmp.path().join("x.iso"), 1, 1.0))
        .unwrap();
    assert_eq!(ses.interrupted_downloads().unwrap().len(), 1);
    assert!(walk(&user_data).is_empty(), "{:?}", walk(&user_data));
}

#[test]
fn bad_records_are_refused_or_reported_not_lost() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let err = ses
        .record_interrupted_download(&record("relative/x.iso".into(), 1, 1.0))
        .unwrap_err();
    assert!(matches!(err, Error::RelativePath { .. }), "{err:?}");
    // A record damaged on disk is named, and left in place.
    ses.backend()
        .insert("downloads", b"/tmp/broken.iso", b"{not json")
        .unwrap();
    let err = ses.interrupted_downloads().unwrap_err();
    assert!(err.to_string().contains("/tmp/broken.iso"), "{err}");
    assert!(
        ses.backend()
            .get("downloads", b"/tmp/broken.iso")
            .unwrap()
            .is_some()
    );
}

/// The bytes of the test resource.
fn content() -> Vec<u8> {
    (0..4_000_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

/// A server for `/big.bin` (4 MB, with an ETag and ranges). A request
/// without `Range` gets `cut` bytes and then, with `stall`, silence for a
/// minute, else a closed connection; a request with `Range` gets the rest.
fn range_server(cut: usize, stall: bool) -> std::net::SocketAddr {
    use std::io::{BufRead, BufReader, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let body = content();
        for stream in listener.incoming().flatten() {
            let body = body.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut from = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                        from = v.trim().trim_end_matches('-').parse::<usize>().ok();
                    }
                }
                let mut out = reader.into_inner();
                let head = "Content-Type: application/octet-stream\r\nETag: \"v1\"\r\nAccept-Ranges: bytes\r\nConnection: close\r\n";
                match from {
                    Some(from) => {
                        let _ = write!(
                            out,
                            "HTTP/1.1 206 Partial Content\r\n{head}Content-Range: bytes {from}-{}/{}\r\nContent-Length: {}\r\n\r\n",
                            body.len() - 1,
                            body.len(),
                            body.len() - from
                        );
                        let _ = out.write_all(&body[from..]);
                    }
                    None => {
                        let _ = write!(
                            out,
                            "HTTP/1.1 200 OK\r\n{head}Content-Length: {}\r\n\r\n",
                            body.len()
                        );
                        let _ = out.write_all(&body[..cut]);
                        let _ = out.flush();
                        if stall {
                            std::thread::sleep(std::time::Duration::from_secs(60));
                        }
                    }
                }
            });
        }
    });
    addr
}

/// Polls `check` for up to ten seconds.
async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if check() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_download_cut_short_is_recorded_by_itself_and_forgotten_once_done() {
    let addr = range_server(200_000, false);
    let (tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("persist:auto", PartitionOptions::default())
        .unwrap();
    ses.set_download_path(tmp.path().join("out")).unwrap();
    let url: url::Url = format!("http://{addr}/big.bin").parse().unwrap();
    let item = ses.download_url(url.clone());
    // Running: recorded for a crash, but not listed as interrupted.
    assert!(
        eventually(|| {
            !ses.backend()
                .scan_prefix("downloads", b"")
                .unwrap()
                .is_empty()
                || item.state() == DownloadState::Interrupted
        })
        .await
    );
    assert!(eventually(|| item.state() == DownloadState::Interrupted).await);
    assert!(
        eventually(|| ses
            .interrupted_downloads()
            .unwrap()
            .iter()
            .any(|r| r.offset == 200_000))
        .await,
        "the interruption is recorded without being asked"
    );
    let listed = ses.interrupted_downloads().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].url_chain, vec![url]);
    assert_eq!(listed[0].etag.as_deref(), Some("\"v1\""));
    item.resume();
    assert_eq!(item.wait_done().await, DownloadState::Completed);
    assert_eq!(std::fs::read(item.save_path()).unwrap(), content());
    assert!(
        eventually(|| ses.interrupted_downloads().unwrap().is_empty()
            && ses
                .backend()
                .scan_prefix("downloads", b"")
                .unwrap()
                .is_empty())
        .await,
        "a completed download leaves no record"
    );
}

#[test]
fn a_download_running_when_the_app_is_killed_is_listed_after_a_restart() {
    let addr = range_server(3_000_000, true);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("url"), format!("http://{addr}/big.bin")).unwrap();
    let (seen, status) = sesh_test_support::run_child_until(
        "downloads::download_killed_child",
        ("SESH_TEST_DOWNLOAD_DIR", tmp.path()),
        "DOWNLOADING",
    );
    assert!(seen, "the child never got going");
    assert!(!status.success());

    let sessions = Sessions::builder()
        .app_name("sesh-test")
        .user_data_dir(tmp.path().join("ud"))
        .build()
        .unwrap();
    let ses = sessions
        .from_partition("persist:dl", PartitionOptions::default())
        .unwrap();
    let listed = ses.interrupted_downloads().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let record = listed[0].clone();
    assert_eq!(record.path, tmp.path().join("out").join("big.bin"));
    // The record counts what reached the disk, so the download goes on
    // from there (this server stalls any request that starts over).
    let on_disk = std::fs::metadata(sesh_core::downloads::partial_path(&record.path))
        .unwrap()
        .len();
    assert!(on_disk >= 1 << 20, "{on_disk}");
    assert_eq!(record.offset, on_disk);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let item = ses.create_interrupted_download(record.clone()).unwrap();
        item.resume();
        assert_eq!(item.wait_done().await, DownloadState::Completed);
        assert_eq!(std::fs::read(&record.path).unwrap(), content());
        assert!(eventually(|| ses.interrupted_downloads().unwrap().is_empty()).await);
    });
}

/// The child half of the test above: downloads until killed.
#[test]
#[ignore = "the child process of a_download_running_when_the_app_is_killed_is_listed_after_a_restart"]
fn download_killed_child() {
    let dir = PathBuf::from(std::env::var_os("SESH_TEST_DOWNLOAD_DIR").unwrap());
    let url: url::Url = std::fs::read_to_string(dir.join("url"))
        .unwrap()
        .parse()
        .unwrap();
    let sessions = Sessions::builder()
        .app_name("sesh-test")
        .user_data_dir(dir.join("ud"))
        .build()
        .unwrap();
    let ses = sessions
        .from_partition("persist:dl", PartitionOptions::default())
        .unwrap();
    ses.set_download_path(dir.join("out")).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let _item = ses.download_url(url);
        // Past the write buffer, and the record written since.
        let partial = dir.join("out").join("big.bin.crdownload");
        assert!(
            eventually(|| std::fs::metadata(&partial).is_ok_and(|m| m.len() > 0)
                && ses
                    .backend()
                    .scan_prefix("downloads", b"")
                    .unwrap()
                    .iter()
                    .any(|(_, v)| serde_json::from_slice::<InterruptedDownload>(v)
                        .is_ok_and(|r| r.offset >= 3_000_000)))
            .await
        );
        ses.flush_storage_data().unwrap();
        println!("DOWNLOADING");
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    });
}
