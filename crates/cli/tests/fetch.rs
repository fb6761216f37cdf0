//! `sesh fetch`: requests through the session, from separate processes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};

use serde_json::Value;

use crate::{sesh_in, stderr, stdout};

/// `/set` sets a cookie; anything else echoes the method, the cookie, the
/// `x-test` header and the body.
fn server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                let (mut cookie, mut test, mut length) = (String::new(), String::new(), 0);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    let value = line.split_once(':').map(|(_, v)| v.trim().to_owned());
                    if lower.starts_with("cookie:") {
                        cookie = value.unwrap_or_default();
                    } else if lower.starts_with("x-test:") {
                        test = value.unwrap_or_default();
                    } else if lower.starts_with("content-length:") {
                        length = value.and_then(|v| v.parse().ok()).unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                let method = first.split(' ').next().unwrap_or_default().to_owned();
                let (extra, text) = if first.contains(" /set ") {
                    (
                        "Set-Cookie: flavour=mint; Max-Age=3600\r\n",
                        "set".to_owned(),
                    )
                } else {
                    (
                        "",
                        format!(
                            "{method} cookie={cookie} x-test={test} body={}",
                            String::from_utf8_lossy(&body)
                        ),
                    )
                };
                let mut out = stream;
                let _ = write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{text}",
                    text.len()
                );
            });
        }
    });
    addr
}

#[test]
fn cookies_persist_in_the_partition_across_processes() {
    let addr = server();
    let tmp = tempfile::tempdir().unwrap();
    let out = sesh_in(tmp.path(), &["fetch", &format!("http://{addr}/set")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "set");
    let out = sesh_in(
        tmp.path(),
        &[
            "fetch",
            &format!("http://{addr}/echo"),
            "-X",
            "POST",
            "-d",
            "payload",
            "-H",
            "X-Test: yes",
            "-i",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("HTTP/1.1 200 OK\n"), "{text}");
    assert!(
        text.ends_with("POST cookie=flavour=mint x-test=yes body=payload"),
        "{text}"
    );
}

#[test]
fn json_output_and_net_errors() {
    let addr = server();
    let tmp = tempfile::tempdir().unwrap();
    let out = sesh_in(
        tmp.path(),
        &["fetch", &format!("http://{addr}/x"), "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["status"], 200);
    assert_eq!(json["statusText"], "OK");
    assert_eq!(json["urlChain"].as_array().unwrap().len(), 1);
    assert_eq!(json["fromCache"], false);
    assert!(json["body"].as_str().unwrap().starts_with("GET "));

    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = sesh_in(tmp.path(), &["fetch", &format!("http://{closed}/")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("net::ERR_CONNECTION_REFUSED"),
        "{}",
        stderr(&out)
    );

    // only-if-cached with an empty cache: Chromium's CACHE_MISS.
    let out = sesh_in(
        tmp.path(),
        &[
            "fetch",
            &format!("http://{addr}/y"),
            "--cache",
            "only-if-cached",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("net::ERR_CACHE_MISS"),
        "{}",
        stderr(&out)
    );
    let out = sesh_in(
        tmp.path(),
        &["fetch", &format!("http://{addr}/y"), "--cache", "sometimes"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown cache mode"),
        "{}",
        stderr(&out)
    );

    let out = sesh_in(
        tmp.path(),
        &["fetch", &format!("http://{addr}/"), "--offline"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("net::ERR_INTERNET_DISCONNECTED"),
        "{}",
        stderr(&out)
    );

    let file = tmp.path().join("body.txt");
    let out = sesh_in(
        tmp.path(),
        &[
            "fetch",
            &format!("http://{addr}/y"),
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&file).unwrap().starts_with("GET "));

    let out = sesh_in(tmp.path(), &["fetch", "http://x/", "-H", "no colon"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("\"no colon\""), "{}", stderr(&out));
}

/// A PAC server that is also the proxy its script names: `/proxy.pac`
/// sends the script; a request in absolute form is answered as a proxy.
fn pac_and_proxy() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let target = first.split(' ').nth(1).unwrap_or_default().to_owned();
                let (kind, body) = if target == "/proxy.pac" {
                    (
                        "application/x-ns-proxy-autoconfig",
                        format!(
                            "function FindProxyForURL(url, host) {{ return dnsDomainIs(host, '.sesh.test') ? 'PROXY {addr}' : 'DIRECT'; }}"
                        ),
                    )
                } else {
                    ("text/plain", format!("through the PAC's proxy: {target}"))
                };
                let mut out = stream;
                let _ = write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    addr
}

#[test]
fn a_pac_script_named_by_the_system_settings_is_fetched_over_http() {
    let addr = pac_and_proxy();
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = crate::sesh();
    for name in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "XDG_CURRENT_DESKTOP",
        "DESKTOP_SESSION",
    ] {
        cmd.env_remove(name);
    }
    // The session starts in system mode; auto_proxy names the script,
    // which only the session's own network service can fetch.
    let out = cmd
        .env("auto_proxy", format!("http://{addr}/proxy.pac"))
        .arg("--user-data-dir")
        .arg(tmp.path())
        .args(["fetch", "http://intranet.sesh.test/page"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "through the PAC's proxy: http://intranet.sesh.test/page"
    );
    // Loading it later is expected, not a warning.
    assert!(!stderr(&out).contains("WARN"), "{}", stderr(&out));
}

#[test]
fn a_net_log_records_the_fetch_and_its_failure() {
    let addr = server();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("net.json");
    let out = sesh_in(
        tmp.path(),
        &[
            "fetch",
            &format!("http://{addr}/set"),
            "--log-net-log",
            log.to_str().unwrap(),
            "--net-log-capture-mode",
            "includeSensitive",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&log).unwrap()).unwrap();
    assert_eq!(json["constants"]["logCaptureMode"], "IncludeSensitive");
    let alive = json["constants"]["logEventTypes"]["REQUEST_ALIVE"].clone();
    let begin = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == alive && e["phase"] == 1)
        .expect("the request is in the log");
    assert_eq!(begin["params"]["url"], format!("http://{addr}/set"));
    assert!(json.to_string().contains("flavour=mint"));

    // A failed fetch still leaves a complete log, its error in it.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = sesh_in(
        tmp.path(),
        &[
            "fetch",
            &format!("http://{closed}/"),
            "--log-net-log",
            log.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&log).unwrap()).unwrap();
    assert!(
        !json.to_string().contains("flavour=mint"),
        "the file starts again"
    );
    let failed = json["constants"]["logEventTypes"]["FAILED"].clone();
    assert!(
        json["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == failed && e["params"]["net_error"] == -102)
    );

    let out = sesh_in(
        tmp.path(),
        &[
            "fetch",
            &format!("http://{addr}/"),
            "--log-net-log",
            log.to_str().unwrap(),
            "--net-log-capture-mode",
            "verbose",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("Invalid value for captureMode"),
        "{}",
        stderr(&out)
    );
}
