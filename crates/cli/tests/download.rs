//! `sesh download`: a real download, interrupted by the server, listed and
//! resumed from another process.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::{sesh_in, stderr, stdout};

fn file() -> Vec<u8> {
    (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// Serves `file()` at any path with an ETag and ranges; when `cut` is set,
/// the first transfer stops after that many bytes.
fn server(cut: Option<usize>) -> SocketAddr {
    serve(cut, false)
}

/// [`server`], where the cut transfer stalls (the connection stays open)
/// instead of closing.
fn serve(cut: Option<usize>, stall: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Arc::new(file());
    let cut_done = Arc::new(AtomicBool::new(cut.is_none()));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (body, cut_done) = (body.clone(), cut_done.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut start = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                        start = v.trim().trim_end_matches('-').parse::<usize>().ok();
                    }
                }
                let from = start.unwrap_or(0);
                let status = match start {
                    Some(s) => format!(
                        "206 Partial\r\nContent-Range: bytes {s}-{}/{}",
                        body.len() - 1,
                        body.len()
                    ),
                    None => "200 OK".to_owned(),
                };
                let mut out = stream;
                let _ = write!(
                    out,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nETag: \"e1\"\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
                    body.len() - from
                );
                let end = if cut_done.swap(true, Ordering::SeqCst) {
                    body.len()
                } else {
                    cut.unwrap_or(body.len())
                };
                let _ = out.write_all(&body[from..end]);
                let _ = out.flush();
                if stall && end < body.len() {
                    std::thread::sleep(std::time::Duration::from_secs(60));
                }
            });
        }
    });
    addr
}

#[test]
fn a_download_lands_in_the_directory_under_chromiums_name() {
    let addr = server(None);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let url = format!("http://{addr}/files/data.bin");
    let out = sesh_in(
        tmp.path(),
        &["download", &url, "--dir", dir.to_str().unwrap(), "--quiet"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim_end(),
        dir.join("data.bin").display().to_string()
    );
    assert_eq!(std::fs::read(dir.join("data.bin")).unwrap(), file());
    // -o names it; a second download of the same name gets a number.
    for expected in ["mine.bin", "mine (1).bin"] {
        let out = sesh_in(
            tmp.path(),
            &[
                "download",
                &url,
                "--dir",
                dir.to_str().unwrap(),
                "-o",
                "mine.bin",
                "--quiet",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(std::fs::read(dir.join(expected)).unwrap(), file());
    }
}

#[test]
fn an_interrupted_download_is_listed_and_resumed_by_another_process() {
    let addr = server(Some(300_000));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let url = format!("http://{addr}/big.bin");
    let out = sesh_in(
        tmp.path(),
        &["download", &url, "--dir", dir.to_str().unwrap(), "--quiet"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sesh download --resume "),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join("big.bin").exists());

    let out = sesh_in(tmp.path(), &["download", "--list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let entry = &listed.as_array().unwrap()[0];
    let keys: Vec<&str> = entry
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "url",
        "savePath",
        "receivedBytes",
        "totalBytes",
        "state",
        "canResume",
    ] {
        assert!(keys.contains(&key), "{key} missing: {entry}");
    }
    assert_eq!(entry["receivedBytes"], 300_000);
    assert_eq!(entry["totalBytes"], 1_000_000);
    assert_eq!(entry["state"], "interrupted");
    assert_eq!(entry["url"], url.as_str());

    let id = entry["id"].as_str().unwrap();
    let out = sesh_in(tmp.path(), &["download", "--resume", id, "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(dir.join("big.bin")).unwrap(), file());
    // Done: no longer listed.
    let out = sesh_in(tmp.path(), &["download", "--list", "--json"]);
    assert_eq!(stdout(&out).trim(), "[]");

    let out = sesh_in(tmp.path(), &["download", "--resume", "nope"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("\"nope\""), "{}", stderr(&out));
}

#[test]
fn ctrl_c_interrupts_and_records_the_download() {
    let addr = serve(Some(250_000), true);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let url = format!("http://{addr}/stalled.bin");
    let child = crate::sesh()
        .arg("--user-data-dir")
        .arg(tmp.path())
        .args(["download", &url, "--dir", dir.to_str().unwrap(), "--quiet"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the partial file is open (its bytes sit in the write
    // buffer), let the stalled transfer deliver, then press Ctrl-C.
    let partial = dir.join("stalled.bin.crdownload");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !partial.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the download never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("USER_SHUTDOWN"), "{}", stderr(&out));

    let out = sesh_in(tmp.path(), &["download", "--list", "--json"]);
    let listed: Value = serde_json::from_str(&stdout(&out)).unwrap();
    // What was received is on disk and recorded (all of what the server
    // sent, unless the machine is very slow).
    let received = listed[0]["receivedBytes"].as_u64().unwrap();
    assert!(received > 0 && received <= 250_000, "{listed}");
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), received);
}

#[test]
fn headers_given_with_h_go_with_the_download() {
    // Serves the file only to a request carrying the token.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut authorized = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                authorized |= line.trim_end() == "authorization: Bearer t0ken";
            }
            let body = file();
            let mut out = stream;
            let _ = if authorized {
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .and_then(|()| out.write_all(&body))
            } else {
                write!(
                    out,
                    "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            };
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let url = format!("http://{addr}/private/data.bin");
    let args = ["download", &url, "--dir", dir.to_str().unwrap(), "--quiet"];
    let out = sesh_in(tmp.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let with_token = [&args[..], &["-H", "Authorization: Bearer t0ken"]].concat();
    let out = sesh_in(tmp.path(), &with_token);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(dir.join("data.bin")).unwrap(), file());
}
