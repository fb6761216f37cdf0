//! The connection pool: keep-alive reuse, Chromium's limits, preconnect,
//! retries on sockets the server closed, and what is never reused.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sesh_core::net::{ConnectionLimits, Request};
use sesh_core::{Error, SessionEvent};
use sesh_test_support::Ca;
use url::Url;

use crate::fetch::{Tinyproxy, proxy_rules};
use crate::fresh;

/// What the keep-alive server does.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Answers every request of a connection.
    Normal,
    /// Answers the first request of a connection, then reads the second
    /// and closes without a word.
    CloseOnSecond,
    /// Holds each answer this long.
    Hold(Duration),
    /// Answers one request, then closes the connection without saying so
    /// (as tinyproxy does).
    CloseAfterAnswer,
    /// Answers one request, waits this long, then closes the connection
    /// without saying so: the close comes while the socket waits idle.
    CloseWhileIdle(Duration),
    /// Waits this long after the connection opens, then closes it without
    /// a word, asked or not.
    CloseUnasked(Duration),
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1 that counts what it sees.
struct Server {
    addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    busiest: Arc<AtomicUsize>,
}

/// Serves requests on one connection until it closes.
fn serve<S: Read + Write>(stream: S, mode: Mode, counters: [Arc<AtomicUsize>; 3], conn: usize) {
    let [requests, busy, busiest] = counters;
    if let Mode::CloseUnasked(pause) = mode {
        std::thread::sleep(pause);
        return;
    }
    let mut reader = BufReader::new(stream);
    for nth in 1.. {
        let mut first = String::new();
        if reader.read_line(&mut first).unwrap_or(0) == 0 {
            return;
        }
        requests.fetch_add(1, Ordering::SeqCst);
        let mut via = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("via")
            {
                via = v.trim().to_owned();
            }
        }
        if mode == Mode::CloseOnSecond && nth == 2 {
            return;
        }
        let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
        busiest.fetch_max(now, Ordering::SeqCst);
        if let Mode::Hold(pause) = mode {
            std::thread::sleep(pause);
        }
        busy.fetch_sub(1, Ordering::SeqCst);
        let body = format!("conn={conn}\nnth={nth}\nvia={via}\n");
        let out = reader.get_mut();
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
            body.len()
        );
        let _ = out.flush();
        if mode == Mode::CloseAfterAnswer {
            return;
        }
        if let Mode::CloseWhileIdle(pause) = mode {
            std::thread::sleep(pause);
            return;
        }
    }
}

fn server(mode: Mode, tls: Option<&Ca>) -> Server {
    let config = tls.map(|ca| Arc::new(ca.server_config(&["localhost", "127.0.0.1"])));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let counters = [
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    ];
    let [accepts, requests, busy, busiest] = counters.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let conn = accepts.fetch_add(1, Ordering::SeqCst) + 1;
            let counters = [requests.clone(), busy.clone(), busiest.clone()];
            let config = config.clone();
            std::thread::spawn(move || match config {
                Some(config) => {
                    let Ok(tls) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    serve(rustls::StreamOwned::new(tls, stream), mode, counters, conn);
                }
                None => serve(stream, mode, counters, conn),
            });
        }
    });
    let [accepts, requests, _, busiest] = counters;
    Server {
        addr,
        accepts,
        requests,
        busiest,
    }
}

impl Server {
    fn url(&self, https: bool) -> Url {
        let scheme = if https { "https" } else { "http" };
        Url::parse(&format!("{scheme}://127.0.0.1:{}/", self.addr.port())).unwrap()
    }
    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

async fn get(ses: &sesh_core::Session, url: &Url) -> String {
    let response = ses.fetch(Request::get(url.clone())).await.unwrap();
    assert_eq!(response.status, 200);
    String::from_utf8(response.bytes().await.unwrap()).unwrap()
}

/// `n` GETs of `url` at once, each on a task of its own.
async fn get_all(ses: &sesh_core::Session, url: &Url, n: usize) {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (ses, url) = (ses.clone(), url.clone());
            tokio::spawn(async move { get(&ses, &url).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn sequential_requests_share_one_kept_alive_socket() {
    let server = server(Mode::Normal, None);
    let (_tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("pool-seq", Default::default())
        .unwrap();
    let url = server.url(false);
    for nth in 1..=5 {
        let body = get(&ses, &url).await;
        assert!(body.contains(&format!("nth={nth}\n")), "{body}");
    }
    assert_eq!(server.accepts(), 1);
    assert_eq!(ses.connections().idle(), 1);
    // Another session has a pool of its own.
    let other = sessions
        .from_partition("pool-seq-2", Default::default())
        .unwrap();
    get(&other, &url).await;
    assert_eq!(server.accepts(), 2);
}

#[tokio::test]
async fn a_group_holds_six_sockets_and_further_requests_wait() {
    let server = server(Mode::Hold(Duration::from_millis(150)), None);
    let (_tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("pool-limit", Default::default())
        .unwrap();
    assert_eq!(
        ses.connections().limits(),
        ConnectionLimits {
            per_host: 6,
            total: 256,
            per_proxy: 32,
        }
    );
    let url = server.url(false);
    get_all(&ses, &url, 14).await;
    assert_eq!(server.accepts(), 6, "Chromium's 6 per host");
    assert_eq!(server.busiest.load(Ordering::SeqCst), 6);
    assert_eq!(server.requests.load(Ordering::SeqCst), 14);

    // A crawler may want another limit.
    let server = self::server(Mode::Hold(Duration::from_millis(100)), None);
    ses.connections().set_limits(ConnectionLimits {
        per_host: 2,
        ..ConnectionLimits::default()
    });
    let url = server.url(false);
    get_all(&ses, &url, 6).await;
    assert_eq!(server.accepts(), 2);
    assert_eq!(server.busiest.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn preconnect_opens_exactly_the_sockets_asked_for() {
    let server = server(Mode::Normal, None);
    let (_tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("pool-pre", Default::default())
        .unwrap();
    let mut events = ses.subscribe();
    let url = server.url(false);
    for bad in [0, 7] {
        match ses.preconnect(url.as_str(), bad).await {
            Err(Error::InvalidArgument(reason)) => assert!(reason.contains("between 1 and 6")),
            other => panic!("numSockets {bad}: {other:?}"),
        }
    }
    assert_eq!(ses.preconnect(url.as_str(), 3).await.unwrap(), 3);
    assert!(matches!(
        events.try_recv(),
        Ok(SessionEvent::Preconnect { preconnect_url, .. }) if preconnect_url == url.as_str()
    ));
    // The kernel completes a connection before the server's accept() sees
    // it: wait for the server's count.
    for _ in 0..200 {
        if server.accepts() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.accepts(), 3);
    assert_eq!(server.requests.load(Ordering::SeqCst), 0);
    assert_eq!(ses.connections().idle(), 3);
    // The group already holds three: asking for two opens none.
    assert_eq!(ses.preconnect(url.as_str(), 2).await.unwrap(), 0);
    // Requests use the sockets opened ahead.
    get_all(&ses, &url, 3).await;
    assert_eq!(server.accepts(), 3);
}

#[tokio::test]
async fn a_pooled_socket_the_server_closed_gets_the_request_again() {
    let server = server(Mode::CloseOnSecond, None);
    let (_tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("pool-retry", Default::default())
        .unwrap();
    let url = server.url(false);
    assert!(get(&ses, &url).await.contains("conn=1\n"));
    // Sent on the kept-alive socket, which closes without an answer: sent
    // again on a new one.
    assert!(get(&ses, &url).await.contains("conn=2\nnth=1\n"));
    assert_eq!(server.accepts(), 2);
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_ssl_config_change_does_not_reuse_a_pooled_socket() {
    let ca = Ca::root("sesh pool CA");
    let server = server(Mode::Normal, Some(&ca));
    let (_tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("pool-ssl", Default::default())
        .unwrap();
    ses.cert_verifier().add_root_pem(&ca.pem).unwrap();
    let url = server.url(true);
    get(&ses, &url).await;
    get(&ses, &url).await;
    assert_eq!(server.accepts(), 1, "HTTPS keep-alive");
    ses.set_ssl_config(sesh_core::tls::SslConfig {
        min_version: Some("tls1.2".to_owned()),
        ..Default::default()
    })
    .unwrap();
    assert!(get(&ses, &url).await.contains("conn=2\n"));
    get(&ses, &url).await;
    assert_eq!(server.accepts(), 2);
    // New trust rules (a verify proc) do not reuse sockets either.
    ses.cert_verifier()
        .set_certificate_verify_proc(Some(|_request: sesh_core::tls::VerifyRequest| async { -3 }));
    assert!(get(&ses, &url).await.contains("conn=3\n"));
}

#[tokio::test]
async fn a_proxy_change_does_not_reuse_a_pooled_socket() {
    let server = server(Mode::Normal, None);
    let proxy = Tinyproxy::start(&[]);
    let (_tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("pool-proxy", Default::default())
        .unwrap();
    let url = server.url(false);
    assert!(get(&ses, &url).await.contains("via=\n"));
    assert_eq!(ses.connections().idle(), 1);
    ses.set_proxy(proxy_rules(&format!("http://127.0.0.1:{}", proxy.port)))
        .await
        .unwrap();
    let body = get(&ses, &url).await;
    assert!(
        body.contains("via=") && !body.contains("via=\n"),
        "through the proxy: {body}"
    );
}

#[tokio::test]
async fn close_all_connections_empties_the_pool() {
    let server = server(Mode::Normal, None);
    let (_tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("pool-close", Default::default())
        .unwrap();
    let url = server.url(false);
    get(&ses, &url).await;
    assert_eq!(ses.connections().idle(), 1);
    ses.close_all_connections().await;
    assert_eq!(ses.connections().idle(), 0);
    assert!(get(&ses, &url).await.contains("conn=2\n"));
}

#[tokio::test]
async fn requests_through_tinyproxy_survive_its_closed_keep_alive_sockets() {
    let server = server(Mode::Normal, None);
    let proxy = Tinyproxy::start(&[]);
    let (_tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("pool-tiny", Default::default())
        .unwrap();
    ses.set_proxy(proxy_rules(&format!("http://127.0.0.1:{}", proxy.port)))
        .await
        .unwrap();
    let url = server.url(false);
    for _ in 0..50 {
        get(&ses, &url).await;
    }
    get_all(&ses, &url, 100).await;
    assert_eq!(server.requests.load(Ordering::SeqCst), 150);
}

/// How often a request was put on a pooled socket, by the net log of
/// `n` requests of `method` each right after the previous one's body, to
/// a server that closes each connection after one answer.
async fn reuses_of_closed_sockets(method: http::Method, n: usize, tls: bool) -> usize {
    use sesh_core::net::NetLogOptions;

    let ca = Ca::root("sesh pool CA");
    let server = server(Mode::CloseAfterAnswer, tls.then_some(&ca));
    let (tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("pool-probe", Default::default())
        .unwrap();
    ses.cert_verifier().add_root_pem(&ca.pem).unwrap();
    let url = server.url(tls);
    let log = tmp.path().join("net.json");
    ses.net_log()
        .start_logging(&log, NetLogOptions::default())
        .await
        .unwrap();
    for i in 1..=n {
        let mut request = Request::get(url.clone());
        request.method = method.clone();
        request.body = bytes::Bytes::from_static(b"x=1");
        let response = ses.fetch(request).await.unwrap();
        assert_eq!(response.status, 200);
        let body = String::from_utf8(response.bytes().await.unwrap()).unwrap();
        // Every request reached the server once, on a new connection.
        assert!(body.contains(&format!("conn={i}\nnth=1\n")), "{body}");
    }
    ses.net_log().stop_logging().await.unwrap();
    assert_eq!(server.accepts(), n);
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&log).unwrap()).unwrap();
    let reused = &log["constants"]["logEventTypes"]["SOCKET_POOL_REUSED_AN_EXISTING_SOCKET"];
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == *reused)
        .count()
}

#[tokio::test]
async fn an_unsafe_request_is_not_put_on_a_socket_the_server_closed() {
    // The server's FIN is there when the next POST comes, and the socket
    // is checked before anything is sent (Chromium's IsConnectedAndIdle):
    // a server that only stopped writing never sees a POST it cannot
    // answer. Left to the connection alone, nearly every request would
    // try the dead socket first (the runtime has not read the FIN yet);
    // the check leaves only a FIN that arrives after it.
    let tries = reuses_of_closed_sockets(http::Method::POST, 100, false).await;
    assert!(
        tries <= 5,
        "a closed socket was taken for a POST {tries} times of 99"
    );
}

#[tokio::test]
async fn a_safe_request_that_meets_a_closed_socket_is_sent_again() {
    // GETs skip the peek (a syscall a reuse): those that meet the close
    // are sent again on a new connection, and each is answered once —
    // the helper fails on an error, an answer from a reused connection
    // or a connection too many.
    reuses_of_closed_sockets(http::Method::GET, 100, false).await;
    // Over TLS too, where the close comes as close_notify and a FIN.
    reuses_of_closed_sockets(http::Method::GET, 50, true).await;
}

#[tokio::test]
async fn a_request_that_met_a_closed_socket_checks_the_next_ones() {
    use sesh_core::net::NetLogOptions;

    let server = server(Mode::CloseUnasked(Duration::from_millis(100)), None);
    let (tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("pool-careful", Default::default())
        .unwrap();
    let url = server.url(false);
    assert_eq!(ses.preconnect(url.as_str(), 3).await.unwrap(), 3);
    // The server closes all three while they wait (no sweep comes yet).
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(ses.connections().idle(), 3);
    let log = tmp.path().join("net.json");
    ses.net_log()
        .start_logging(&log, NetLogOptions::default())
        .await
        .unwrap();
    // The GET goes on the first idle socket unchecked and meets the
    // close; sent again, it checks the next ones, finds them closed too
    // and opens a new connection — which this server closes unasked as
    // well, so the request fails; what counts is how it got there.
    let _ = ses.fetch(Request::get(url.clone())).await;
    ses.net_log().stop_logging().await.unwrap();
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&log).unwrap()).unwrap();
    let reused = &log["constants"]["logEventTypes"]["SOCKET_POOL_REUSED_AN_EXISTING_SOCKET"];
    let tries = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == *reused)
        .count();
    assert_eq!(tries, 1, "only the first closed socket was tried");
    assert_eq!(server.accepts(), 4, "then a new connection");
    assert_eq!(ses.connections().idle(), 0);
}

#[tokio::test]
async fn idle_sockets_the_server_closed_are_swept_without_a_request() {
    let keeps = server(Mode::Normal, None);
    let closes = server(Mode::CloseWhileIdle(Duration::from_millis(100)), None);
    let (_tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("pool-sweep", Default::default())
        .unwrap();
    ses.connections()
        .set_idle_sweep_interval(Duration::from_millis(50));
    get(&ses, &keeps.url(false)).await;
    get(&ses, &closes.url(false)).await;
    assert_eq!((ses.connections().idle(), ses.connections().open()), (2, 2));
    // No request comes: only the sweep can notice the server's close.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while ses.connections().idle() > 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ses.connections().idle(), 1, "the closed socket is swept");
    assert_eq!(ses.connections().open(), 1, "and closed on our side too");
    // The live one stayed, through several sweeps, and is reused.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(get(&ses, &keeps.url(false)).await.contains("nth=2\n"));
    assert_eq!(keeps.accepts(), 1);
}
