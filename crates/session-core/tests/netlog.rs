//! `ses.netLog`: a session's network events in Chromium's netlog file.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sesh_core::net::Request;
use sesh_core::{CaptureMode, NetLogError, NetLogOptions, Session};
use url::Url;

use crate::fresh;

/// A keep-alive HTTP/1.1 server: `/redirect` sends a 302 to `/final`,
/// every other path a 200 with a cookie and the body `hello`.
fn server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut first = String::new();
                    if reader.read_line(&mut first).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                    }
                    let target = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let answer = if target == "/redirect" {
                        "HTTP/1.1 302 Found\r\nLocation: /final\r\nContent-Length: 0\r\n\r\n"
                            .to_owned()
                    } else {
                        "HTTP/1.1 200 OK\r\nSet-Cookie: got=it\r\nContent-Length: 5\r\n\r\nhello"
                            .to_owned()
                    };
                    let out = reader.get_mut();
                    if out.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn url(addr: SocketAddr, path: &str) -> Url {
    Url::parse(&format!("http://{addr}{path}")).unwrap()
}

async fn get(session: &Session, url: Url) -> Vec<u8> {
    session
        .fetch(Request::get(url))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
}

/// The log file, parsed.
/// Starts `session`'s net log in `dir`/net.json with the default options;
/// the file's path.
async fn start(session: &Session, dir: &Path) -> std::path::PathBuf {
    let path = dir.join("net.json");
    session
        .net_log()
        .start_logging(&path, NetLogOptions::default())
        .await
        .unwrap();
    path
}

fn read_log(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The number of an event or source type, through the constants.
fn constant(log: &Value, table: &str, name: &str) -> u64 {
    log["constants"][table][name]
        .as_u64()
        .unwrap_or_else(|| panic!("{table}.{name} is not in the constants"))
}

/// The events of `kind`.
fn events<'a>(log: &'a Value, kind: &str) -> Vec<&'a Value> {
    let kind = constant(log, "logEventTypes", kind);
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .collect()
}

/// The events about source `id`.
fn of_source(log: &Value, id: &Value) -> Vec<(String, u64, Value)> {
    let names: std::collections::HashMap<u64, String> = log["constants"]["logEventTypes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, n)| (n.as_u64().unwrap(), name.clone()))
        .collect();
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"]["id"] == *id)
        .map(|e| {
            (
                names[&e["type"].as_u64().unwrap()].clone(),
                e["phase"].as_u64().unwrap(),
                e.get("params").cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_net_log_follows_a_request_from_start_to_end() {
    let (tmp, _, sessions) = fresh();
    let session = sessions.from_partition("log", Default::default()).unwrap();
    let addr = server();
    session
        .cookies()
        .set_from_header(&url(addr, "/"), "secret=sauce")
        .unwrap();
    let path = tmp.path().join("net.json");
    assert!(!session.net_log().currently_logging());
    session
        .net_log()
        .start_logging(&path, NetLogOptions::default())
        .await
        .unwrap();
    assert!(session.net_log().currently_logging());
    assert_eq!(get(&session, url(addr, "/redirect")).await, b"hello");

    // Written as it grows: what is on disk now is a log cut short, which
    // `]}` repairs.
    let mut text = String::new();
    for _ in 0..200 {
        text = std::fs::read_to_string(&path).unwrap();
        if text.contains("\"url\":\"http://") && text.ends_with(",\n") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let repaired = format!("{}]}}", text.trim_end_matches(",\n"));
    let partial: Value = serde_json::from_str(&repaired).unwrap();
    assert!(!partial["events"].as_array().unwrap().is_empty());

    session.net_log().stop_logging().await.unwrap();
    assert!(!session.net_log().currently_logging());
    let log = read_log(&path);

    let constants = &log["constants"];
    assert_eq!(constants["logFormatVersion"], 1);
    assert_eq!(constants["logCaptureMode"], "Default");
    assert_eq!(constants["netError"]["ERR_CONNECTION_REFUSED"], -102);
    assert_eq!(constants["logEventPhase"]["PHASE_BEGIN"], 1);

    // The request: alive from its URL to its end, one source throughout.
    let alive = events(&log, "REQUEST_ALIVE");
    let begin = alive
        .iter()
        .find(|e| e["phase"] == 1 && e["params"]["url"] == url(addr, "/redirect").as_str())
        .expect("REQUEST_ALIVE begins with the request's URL");
    assert_eq!(
        begin["source"]["type"],
        constant(&log, "logSourceType", "URL_REQUEST")
    );
    let id = &begin["source"]["id"];
    let request = of_source(&log, id);
    let names: Vec<&str> = request.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"REQUEST_ALIVE"));
    assert_eq!(
        request.last().map(|(n, p, _)| (n.as_str(), *p)),
        Some(("REQUEST_ALIVE", 2))
    );
    for expected in [
        "URL_REQUEST_START_JOB",
        "PROXY_RESOLUTION_SERVICE",
        "PROXY_RESOLUTION_SERVICE_RESOLVED_PROXY_LIST",
        "HOST_RESOLVER_MANAGER_REQUEST",
        "SOCKET_POOL_BOUND_TO_SOCKET",
        "HTTP_TRANSACTION_SEND_REQUEST_HEADERS",
        "HTTP_TRANSACTION_READ_RESPONSE_HEADERS",
        "URL_REQUEST_REDIRECTED",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // The second hop reuses the socket of the first.
    assert!(
        names.contains(&"SOCKET_POOL_REUSED_AN_EXISTING_SOCKET"),
        "{names:?}"
    );
    let redirected = request
        .iter()
        .find(|(n, _, _)| n == "URL_REQUEST_REDIRECTED")
        .unwrap();
    assert_eq!(redirected.2["location"], url(addr, "/final").as_str());
    let proxy = request
        .iter()
        .find(|(n, _, _)| n == "PROXY_RESOLUTION_SERVICE_RESOLVED_PROXY_LIST")
        .unwrap();
    assert_eq!(proxy.2["proxy_info"], "DIRECT");

    // Headers as sent and received, the cookie's value stripped.
    let sent: Vec<&Value> = request
        .iter()
        .filter(|(n, _, _)| n == "HTTP_TRANSACTION_SEND_REQUEST_HEADERS")
        .map(|(_, _, p)| p)
        .collect();
    assert_eq!(sent[0]["line"], "GET /redirect HTTP/1.1\r\n");
    let sent_headers: Vec<&str> = sent[0]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        sent_headers.contains(&"cookie: [12 bytes were stripped]"),
        "{sent_headers:?}"
    );
    assert!(!log.to_string().contains("secret=sauce"));
    let received: Vec<&Value> = request
        .iter()
        .filter(|(n, _, _)| n == "HTTP_TRANSACTION_READ_RESPONSE_HEADERS")
        .map(|(_, _, p)| p)
        .collect();
    assert_eq!(received[0]["headers"][0], "HTTP/1.1 302 Found");
    assert_eq!(received[1]["headers"][0], "HTTP/1.1 200 OK");
    assert!(
        received[1]["headers"]
            .as_array()
            .unwrap()
            .contains(&Value::from("set-cookie: [6 bytes were stripped]"))
    );

    // The socket: bound to the request, connected to the server.
    let bound = request
        .iter()
        .find(|(n, _, _)| n == "SOCKET_POOL_BOUND_TO_SOCKET")
        .unwrap();
    let socket_id = &bound.2["source_dependency"]["id"];
    let socket = of_source(&log, socket_id);
    let alive = socket
        .iter()
        .find(|(n, p, _)| n == "SOCKET_ALIVE" && *p == 1)
        .unwrap();
    assert_eq!(alive.2["source_dependency"]["id"], *id);
    let connected = socket
        .iter()
        .find(|(n, p, _)| n == "TCP_CONNECT" && *p == 2)
        .unwrap();
    assert_eq!(connected.2["remote_address"], addr.to_string());
    let received_bytes: Vec<&Value> = socket
        .iter()
        .filter(|(n, _, _)| n == "SOCKET_BYTES_RECEIVED")
        .map(|(_, _, p)| p)
        .collect();
    assert!(!received_bytes.is_empty());
    assert!(
        received_bytes
            .iter()
            .all(|p| p["byte_count"].as_u64().unwrap() > 0)
    );
    assert!(received_bytes.iter().all(|p| p.get("bytes").is_none()));

    // Times convert to the wall clock through timeTickOffset.
    let offset = constants["timeTickOffset"].as_u64().unwrap();
    let time: u64 = begin["time"].as_str().unwrap().parse().unwrap();
    let now = u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    assert!(
        (offset + time).abs_diff(now) < 120_000,
        "{offset} + {time} vs {now}"
    );

    // Polled data at the end.
    assert_eq!(
        log["polledData"]["proxySettings"]["effective"]["mode"],
        "system"
    );
    assert!(log["polledData"]["socketPoolInfo"]["groups"].is_object());
}

#[tokio::test]
async fn capture_modes_decide_what_is_recorded() {
    let (tmp, _, sessions) = fresh();
    let session = sessions
        .from_partition("modes", Default::default())
        .unwrap();
    let addr = server();
    session
        .cookies()
        .set_from_header(&url(addr, "/"), "secret=sauce")
        .unwrap();

    let sensitive = tmp.path().join("sensitive.json");
    session
        .net_log()
        .start_logging(
            &sensitive,
            NetLogOptions::new(CaptureMode::IncludeSensitive),
        )
        .await
        .unwrap();
    get(&session, url(addr, "/a")).await;
    session.net_log().stop_logging().await.unwrap();
    let log = read_log(&sensitive);
    assert_eq!(log["constants"]["logCaptureMode"], "IncludeSensitive");
    let text = log.to_string();
    assert!(text.contains("cookie: secret=sauce"));
    assert!(text.contains("set-cookie: got=it"));
    assert!(
        events(&log, "SOCKET_BYTES_RECEIVED")
            .iter()
            .all(|e| e["params"].get("bytes").is_none())
    );

    let everything = tmp.path().join("everything.json");
    session
        .net_log()
        .start_logging(&everything, NetLogOptions::new(CaptureMode::Everything))
        .await
        .unwrap();
    // A new connection, so that the log sees it from the start.
    session.close_all_connections().await;
    get(&session, url(addr, "/b")).await;
    session.net_log().stop_logging().await.unwrap();
    let log = read_log(&everything);
    let decode = |e: &&Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(e["params"]["bytes"].as_str().unwrap())
            .unwrap()
    };
    let sent: Vec<u8> = events(&log, "SOCKET_BYTES_SENT")
        .iter()
        .flat_map(decode)
        .collect();
    let received: Vec<u8> = events(&log, "SOCKET_BYTES_RECEIVED")
        .iter()
        .flat_map(decode)
        .collect();
    let sent = String::from_utf8_lossy(&sent);
    assert!(sent.starts_with("GET /b HTTP/1.1\r\n"), "{sent}");
    assert!(sent.contains("cookie: secret=sauce"));
    assert!(String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200 OK\r\n"));
}

#[tokio::test]
async fn misuse_gets_electrons_errors() {
    let (tmp, _, sessions) = fresh();
    let session = sessions
        .from_partition("misuse", Default::default())
        .unwrap();
    let log = session.net_log();
    let err = log.stop_logging().await.unwrap_err();
    assert!(matches!(err, NetLogError::NotLogging));
    assert_eq!(err.to_string(), "No net log in progress");
    let err = log
        .start_logging("", NetLogOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The first parameter must be a valid string"
    );
    let missing = tmp.path().join("no-such-dir").join("net.json");
    let err = log
        .start_logging(&missing, NetLogOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, NetLogError::File { error, .. } if error.to_string() == "net::ERR_FILE_NOT_FOUND"),
        "{err}"
    );
    assert!(!log.currently_logging());

    let path = tmp.path().join("net.json");
    log.start_logging(&path, NetLogOptions::default())
        .await
        .unwrap();
    let err = log
        .start_logging(tmp.path().join("other.json"), NetLogOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "There is already a net log running");
    assert!(!tmp.path().join("other.json").exists());
    log.stop_logging().await.unwrap();
    // Nothing happened: the events list is empty and the file complete.
    let empty = read_log(&path);
    assert_eq!(empty["events"], Value::Array(Vec::new()));
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains(",\n\"events\": [\n]")
    );
    assert!(matches!(
        log.stop_logging().await.unwrap_err(),
        NetLogError::NotLogging
    ));
}

#[tokio::test]
async fn a_failed_request_ends_with_its_net_error() {
    let (tmp, _, sessions) = fresh();
    let session = sessions
        .from_partition("failing", Default::default())
        .unwrap();
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let path = start(&session, tmp.path()).await;
    let err = session
        .fetch(Request::get(url(closed, "/")))
        .await
        .unwrap_err();
    assert_eq!(err.error.code(), -102);
    session.net_log().stop_logging().await.unwrap();
    let log = read_log(&path);
    let begin = events(&log, "REQUEST_ALIVE")
        .into_iter()
        .find(|e| e["phase"] == 1)
        .unwrap();
    let request = of_source(&log, &begin["source"]["id"]);
    let failed = request.iter().find(|(n, _, _)| n == "FAILED").unwrap();
    assert_eq!(failed.2["net_error"], -102);
    let end = request.last().unwrap();
    assert_eq!((end.0.as_str(), end.1), ("REQUEST_ALIVE", 2));
    assert_eq!(end.2["net_error"], -102);
    let tcp_end = events(&log, "TCP_CONNECT")
        .into_iter()
        .find(|e| e["phase"] == 2)
        .unwrap();
    assert_eq!(tcp_end["params"]["net_error"], -102);
}

#[tokio::test]
async fn a_bounded_log_keeps_the_newest_events_within_its_size() {
    let (tmp, _, sessions) = fresh();
    let session = sessions
        .from_partition("bounded", Default::default())
        .unwrap();
    let addr = server();
    let path = tmp.path().join("net.json");
    let max = 40_000;
    session
        .net_log()
        .start_logging(&path, NetLogOptions::default().with_max_file_size(max))
        .await
        .unwrap();
    let in_progress = tmp.path().join("net.json.inprogress");
    assert!(in_progress.join("constants.json").exists());
    for n in 0..150 {
        get(&session, url(addr, &format!("/n/{n}"))).await;
    }
    session.net_log().stop_logging().await.unwrap();
    assert!(
        !in_progress.exists(),
        "the event files are joined and removed"
    );
    let log = read_log(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    let constants_len = log["constants"].to_string().len() as u64;
    let polled_len = log["polledData"].to_string().len() as u64;
    let events_len = text.len() as u64 - constants_len - polled_len;
    // Ten files of max/10, each allowed to pass its share by one event.
    assert!(
        events_len <= max + 10 * 2_000,
        "{events_len} bytes of events"
    );
    let urls: Vec<String> = events(&log, "REQUEST_ALIVE")
        .iter()
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_owned))
        .collect();
    assert!(
        urls.contains(&url(addr, "/n/149").to_string()),
        "the newest are kept"
    );
    assert!(
        !urls.contains(&url(addr, "/n/0").to_string()),
        "the oldest are dropped"
    );
    // Events stay in order.
    let times: Vec<u64> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["time"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[cfg(feature = "pac")]
#[tokio::test]
async fn pac_alerts_and_errors_go_to_the_net_log() {
    use sesh_core::proxy::ProxyConfig;

    let (tmp, _, sessions) = fresh();
    let session = sessions.from_partition("pac", Default::default()).unwrap();
    let script = tmp.path().join("proxy.pac");
    std::fs::write(
        &script,
        "function FindProxyForURL(url, host) {\n  alert('routing ' + host);\n  if (host == 'broken.test') throw new Error('no route');\n  return 'PROXY p.test:8080; DIRECT';\n}\n",
    )
    .unwrap();
    session
        .set_proxy(ProxyConfig {
            pac_script: Some(Url::from_file_path(&script).unwrap().to_string()),
            ..Default::default()
        })
        .await
        .unwrap();
    let path = start(&session, tmp.path()).await;
    assert_eq!(
        session.resolve_proxy("http://example.test/").await.unwrap(),
        "PROXY p.test:8080;DIRECT"
    );
    // A request whose script throws goes DIRECT, the error in its log.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let _ = session
        .fetch(Request::get(
            Url::parse(&format!("http://broken.test:{closed}/")).unwrap(),
        ))
        .await;
    session.net_log().stop_logging().await.unwrap();
    let log = read_log(&path);
    let alerts: Vec<&str> = events(&log, "PAC_JAVASCRIPT_ALERT")
        .iter()
        .filter_map(|e| e["params"]["message"].as_str())
        .collect();
    assert!(alerts.contains(&"routing example.test"), "{alerts:?}");
    assert!(alerts.contains(&"routing broken.test"), "{alerts:?}");
    let alert = events(&log, "PAC_JAVASCRIPT_ALERT")[0];
    assert_eq!(
        alert["source"]["type"],
        constant(&log, "logSourceType", "NONE")
    );
    let errors = events(&log, "PAC_JAVASCRIPT_ERROR");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]["params"]["message"]
            .as_str()
            .unwrap()
            .contains("no route")
    );
    let answer = events(&log, "PROXY_RESOLUTION_SERVICE_RESOLVED_PROXY_LIST")
        .into_iter()
        .find(|e| e["source"]["id"] == errors[0]["source"]["id"])
        .unwrap();
    assert_eq!(answer["params"]["proxy_info"], "DIRECT");
}

#[tokio::test]
async fn a_request_given_up_before_its_end_is_cancelled() {
    let (tmp, _, sessions) = fresh();
    let session = sessions
        .from_partition("given-up", Default::default())
        .unwrap();
    let addr = server();
    let path = start(&session, tmp.path()).await;
    // Read to the end: no error.
    get(&session, url(addr, "/whole")).await;
    // Dropped before the body is read: cancelled.
    drop(
        session
            .fetch(Request::get(url(addr, "/dropped")))
            .await
            .unwrap(),
    );
    session.net_log().stop_logging().await.unwrap();
    let log = read_log(&path);
    let ending = |path: &str| {
        let begin = events(&log, "REQUEST_ALIVE")
            .into_iter()
            .find(|e| e["phase"] == 1 && e["params"]["url"] == url(addr, path).as_str())
            .unwrap();
        of_source(&log, &begin["source"]["id"])
    };
    let whole = ending("/whole");
    assert_eq!(whole.last().unwrap().2, Value::Null, "{whole:?}");
    assert!(!whole.iter().any(|(n, _, _)| n == "CANCELLED"));
    let dropped = ending("/dropped");
    assert!(
        dropped.iter().any(|(n, _, _)| n == "CANCELLED"),
        "{dropped:?}"
    );
    assert_eq!(dropped.last().unwrap().2["net_error"], -3);
}
