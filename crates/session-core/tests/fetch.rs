//! `Session::fetch` against loopback HTTP and HTTPS servers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::Method;
use sesh_core::net::{Credentials, RedirectMode, Request};
use sesh_core::tls::NetError;
use sesh_test_support::Ca;
use url::Url;

use crate::fresh;

/// Answers one request on `stream`: the routes of the tests.
fn answer<S: Read + Write>(stream: S, port: u16, requests: &AtomicUsize) {
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    if reader.read_line(&mut first).unwrap_or(0) == 0 {
        return;
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let line = line.trim_end().to_owned();
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
            headers.push((k.to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if target == "/garbage" || target == "/silent" || target == "/cut" {
        let mut out = reader.into_inner();
        let _ = match target.as_str() {
            "/garbage" => out.write_all(b"SPEAKING NONSENSE\r\n\r\n"),
            "/cut" => out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b"),
            _ => Ok(()),
        };
        let _ = out.flush();
        return;
    }
    if target == "/slow" {
        std::thread::sleep(std::time::Duration::from_secs(30));
        return;
    }
    if target == "/trickle" {
        let mut out = reader.into_inner();
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n0123456789"
        );
        let _ = out.flush();
        std::thread::sleep(std::time::Duration::from_secs(30));
        return;
    }
    if let Some(encoding) = target.strip_prefix("/encoded/") {
        let plain = FILE.repeat(200);
        let body = encode(encoding, plain.as_bytes());
        let mut out = reader.into_inner();
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Encoding: {}\r\nConnection: close\r\n\r\n",
            body.len(),
            encoding.trim_end_matches("-broken")
        );
        let _ = out.write_all(&body);
        let _ = out.flush();
        return;
    }
    let (status, extra, content) = if target == "/hello" {
        (
            "200 OK",
            "Set-Cookie: sid=abc; Path=/; HttpOnly\r\n".to_owned(),
            "hello".to_owned(),
        )
    } else if target == "/echo" {
        let text = format!(
            "method={method}\nfirst={}\nhost={}\nuser-agent={}\naccept-language={}\naccept-encoding={}\ncookie={}\nauthorization={}\nvia={}\npragma={}\ncache-control={}\nbody={}\n",
            headers.first().map(|(k, _)| k.as_str()).unwrap_or_default(),
            headers
                .iter()
                .filter(|(k, _)| k == "host")
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(","),
            header("user-agent"),
            header("accept-language"),
            header("accept-encoding"),
            header("cookie"),
            header("authorization"),
            header("via"),
            header("pragma"),
            header("cache-control"),
            String::from_utf8_lossy(&body)
        );
        ("200 OK", String::new(), text)
    } else if let Some(rest) = target.strip_prefix("/redirect/") {
        let (code, to) = rest.split_once("?to=").unwrap();
        let to = to.replace("%3A", ":").replace("%2F", "/");
        (
            match code {
                "301" => "301 Moved",
                "302" => "302 Found",
                "303" => "303 See Other",
                _ => "307 Temporary Redirect",
            },
            format!("Location: {to}\r\n"),
            String::new(),
        )
    } else if target == "/file" {
        (
            "200 OK",
            "Content-Disposition: attachment; filename=\"report.txt\"\r\nETag: \"f1\"\r\nAccept-Ranges: bytes\r\n"
                .to_owned(),
            FILE.repeat(1000),
        )
    } else if let Some(algorithm) = target.strip_prefix("/digest/") {
        if digest_ok(&header("authorization"), &method, algorithm) {
            ("200 OK", String::new(), format!("digest {algorithm} ok"))
        } else {
            (
                "401 Unauthorized",
                format!(
                    "WWW-Authenticate: Basic realm=\"vault\"\r\nWWW-Authenticate: Digest realm=\"vault\", qop=\"auth,auth-int\", nonce=\"n0nc3\", opaque=\"0paq\", algorithm={algorithm}\r\n"
                ),
                "no".to_owned(),
            )
        }
    } else if target == "/private" {
        // user:pass
        if header("authorization") == "Basic dXNlcjpwYXNz" {
            ("200 OK", String::new(), "secret".to_owned())
        } else {
            (
                "401 Unauthorized",
                "WWW-Authenticate: Basic realm=\"staff area\"\r\n".to_owned(),
                "who are you?".to_owned(),
            )
        }
    } else if target == "/login-redirect" {
        (
            "302 Found",
            "Set-Cookie: session=from-redirect; Path=/\r\nLocation: /echo\r\n".to_owned(),
            String::new(),
        )
    } else if target == "/proxy.pac" {
        (
            "200 OK",
            "Content-Type: application/x-ns-proxy-autoconfig\r\n".to_owned(),
            "function FindProxyForURL(url, host) { return host == 'corp.test' ? 'PROXY gate:8080; DIRECT' : 'DIRECT'; }".to_owned(),
        )
    } else if target == "/big" {
        ("200 OK", String::new(), FILE.repeat(10_000))
    } else if target == "/cached" {
        (
            "200 OK",
            "Cache-Control: max-age=60\r\n".to_owned(),
            format!("cached copy {}", requests.load(Ordering::SeqCst)),
        )
    } else if target == "/ntlm" {
        (
            "401 Unauthorized",
            "WWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n".to_owned(),
            "who are you".to_owned(),
        )
    } else if target == "/reason" {
        ("200 Fine Thanks", String::new(), "reason".to_owned())
    } else if target == "/stale" {
        if header("if-none-match") == "\"s1\"" {
            (
                "304 Not Modified",
                "ETag: \"s1\"\r\nCache-Control: max-age=0\r\n".to_owned(),
                String::new(),
            )
        } else {
            (
                "200 OK",
                "ETag: \"s1\"\r\nCache-Control: max-age=0\r\n".to_owned(),
                format!("stale copy {}", requests.load(Ordering::SeqCst)),
            )
        }
    } else if target == "/validated" {
        if header("if-none-match") == "\"v1\"" {
            (
                "304 Not Modified",
                "ETag: \"v1\"\r\nCache-Control: no-cache\r\n".to_owned(),
                String::new(),
            )
        } else {
            (
                "200 OK",
                "ETag: \"v1\"\r\nCache-Control: no-cache\r\n".to_owned(),
                "the validated body".to_owned(),
            )
        }
    } else if target == "/loop" {
        ("302 Found", "Location: /loop\r\n".to_owned(), String::new())
    } else {
        (
            "404 Not Found",
            String::new(),
            format!("no {target} on {port}"),
        )
    };
    let mut out = reader.into_inner();
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{content}",
        content.len()
    );
    let _ = out.flush();
}

/// Whether `authorization` is a right Digest answer for user `user`,
/// password `pass`, realm `vault`, nonce `n0nc3`.
fn digest_ok(authorization: &str, method: &str, algorithm: &str) -> bool {
    let Some(params) = authorization.strip_prefix("Digest ") else {
        return false;
    };
    let mut fields = std::collections::HashMap::new();
    for part in params.split(", ") {
        if let Some((k, v)) = part.split_once('=') {
            fields.insert(k.to_owned(), v.trim_matches('"').to_owned());
        }
    }
    let hash = |text: String| -> String {
        let bytes = if algorithm == "SHA-256" {
            ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
                .as_ref()
                .to_vec()
        } else {
            use md5::Digest as _;
            md5::Md5::digest(text.as_bytes()).to_vec()
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let ha1 = hash(format!("{}:vault:pass", get("username")));
    let ha2 = hash(format!("{method}:{}", get("uri")));
    let expected = hash(format!(
        "{ha1}:n0nc3:{}:{}:{}:{ha2}",
        get("nc"),
        get("cnonce"),
        get("qop")
    ));
    get("username") == "user"
        && get("qop") == "auth"
        && get("opaque") == "0paq"
        && get("algorithm") == algorithm
        && get("response") == expected
}

/// `plain` compressed with `encoding` (`gzip-broken`: a gzip stream cut
/// in the middle).
fn encode(encoding: &str, plain: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    match encoding {
        "gzip" | "gzip-broken" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(plain).unwrap();
            let mut out = e.finish().unwrap();
            if encoding == "gzip-broken" {
                out.truncate(out.len() / 2);
            }
            out
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(plain).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut e = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                e.write_all(plain).unwrap();
            }
            out
        }
        "zstd" => zstd::encode_all(plain, 3).unwrap(),
        other => panic!("no encoding {other}"),
    }
}

/// The line `/file` repeats.
const FILE: &str = "a line of the downloaded report\n";

struct Server {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
}

fn http_server() -> Server {
    http_server_with(answer)
}

/// A server on 127.0.0.1 giving each connection to `handle` on a thread of
/// its own, with the port and the request counter.
fn http_server_with(handle: fn(std::net::TcpStream, u16, &AtomicUsize)) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || handle(stream, addr.port(), &counter));
        }
    });
    Server { addr, requests }
}

fn https_server(ca: &Ca) -> Server {
    let config = ca.server_config(&["localhost", "127.0.0.1"]);
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (config, counter) = (config.clone(), counter.clone());
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                answer(
                    rustls::StreamOwned::new(conn, stream),
                    addr.port(),
                    &counter,
                );
            });
        }
    });
    Server { addr, requests }
}

/// A real tinyproxy on 127.0.0.1, stopped on drop. `connect_ports`: the
/// ports CONNECT may reach (empty: all).
/// A real microsocks (SOCKS5) on 127.0.0.1, stopped on drop.
struct Microsocks {
    child: std::process::Child,
    port: u16,
}

impl Microsocks {
    fn start() -> Microsocks {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("microsocks")
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("microsocks must be installed (.ci/run installs it)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "microsocks did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Microsocks { child, port }
    }
}

impl Drop for Microsocks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) struct Tinyproxy {
    child: std::process::Child,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    pub(crate) fn start(connect_ports: &[u16]) -> Tinyproxy {
        Self::start_with(connect_ports, None)
    }

    /// [`Tinyproxy::start`], asking for `user`/`password` with Basic auth.
    fn start_with(connect_ports: &[u16], basic_auth: Option<(&str, &str)>) -> Tinyproxy {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\nAllow 127.0.0.1\nLogLevel Critical\n"
        );
        for p in connect_ports {
            conf.push_str(&format!("ConnectPort {p}\n"));
        }
        if let Some((user, password)) = basic_auth {
            conf.push_str(&format!("BasicAuth {user} {password}\n"));
        }
        let path = dir.path().join("tinyproxy.conf");
        std::fs::write(&path, conf).unwrap();
        let child = std::process::Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tinyproxy must be installed (.ci/run installs it)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "tinyproxy did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Tinyproxy {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn proxy_rules(rules: &str) -> sesh_core::proxy::ProxyConfig {
    sesh_core::proxy::ProxyConfig {
        proxy_rules: Some(rules.to_owned()),
        // The targets are on loopback, which bypasses proxies unless told.
        proxy_bypass_rules: Some("<-loopback>".to_owned()),
        ..Default::default()
    }
}

fn url(server: &Server, host: &str, path: &str, https: bool) -> Url {
    let scheme = if https { "https" } else { "http" };
    Url::parse(&format!("{scheme}://{host}:{}{path}", server.addr.port())).unwrap()
}

fn lines(body: &[u8]) -> std::collections::HashMap<String, String> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

#[tokio::test]
async fn a_fetch_carries_the_sessions_identity_and_cookies() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    ses.set_user_agent("SeshTest/1.0", Some("fr,en")).unwrap();
    let server = http_server();
    let response = ses
        .fetch(Request::get(url(&server, "127.0.0.1", "/hello", false)))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.status_text, "OK");
    assert_eq!(response.remote_addr, Some(server.addr));
    assert_eq!(response.url_chain.len(), 1);
    assert_eq!(response.bytes().await.unwrap(), b"hello");
    // The reason phrase as the server sent it.
    let reason = ses
        .fetch(Request::get(url(&server, "127.0.0.1", "/reason", false)))
        .await
        .unwrap();
    assert_eq!(reason.status_text, "Fine Thanks");

    let echo = ses
        .fetch(Request::get(url(&server, "127.0.0.1", "/echo", false)))
        .await
        .unwrap();
    let seen = lines(&echo.bytes().await.unwrap());
    // Host first, as Chromium sends it.
    assert_eq!(seen["first"], "host");
    assert_eq!(seen["host"], format!("127.0.0.1:{}", server.addr.port()));
    assert_eq!(seen["user-agent"], "SeshTest/1.0");
    assert_eq!(seen["accept-language"], "fr,en;q=0.9");
    assert_eq!(
        seen["cookie"], "sid=abc",
        "the Set-Cookie of /hello went back"
    );

    // A Host the app sets gives way to the URL's: one Host goes out.
    let mut hosted = Request::get(url(&server, "127.0.0.1", "/echo", false));
    hosted
        .headers
        .insert(http::header::HOST, "elsewhere.example".parse().unwrap());
    let seen = lines(&ses.fetch(hosted).await.unwrap().bytes().await.unwrap());
    assert_eq!(seen["host"], format!("127.0.0.1:{}", server.addr.port()));

    let mut omit = Request::get(url(&server, "127.0.0.1", "/echo", false));
    omit.credentials = Credentials::Omit;
    let seen = lines(&ses.fetch(omit).await.unwrap().bytes().await.unwrap());
    assert_eq!(seen["cookie"], "");
}

#[tokio::test]
async fn redirects_follow_browser_rules() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    let post = |code: &str, to: &Url| {
        let mut r = Request::get(url(
            &server,
            "127.0.0.1",
            &format!("/redirect/{code}?to={}", to.as_str()),
            false,
        ));
        r.method = Method::POST;
        r.body = bytes::Bytes::from_static(b"payload");
        r.headers
            .insert("authorization", "Bearer secret".parse().unwrap());
        r
    };
    let same = url(&server, "127.0.0.1", "/echo", false);
    let cross = url(&server, "localhost", "/echo", false);

    for (code, method, body) in [
        ("303", "GET", ""),
        ("302", "GET", ""),
        ("301", "GET", ""),
        ("307", "POST", "payload"),
    ] {
        let response = ses.fetch(post(code, &same)).await.unwrap();
        assert_eq!(response.url_chain.len(), 2, "{code}");
        assert_eq!(response.url, same);
        let seen = lines(&response.bytes().await.unwrap());
        assert_eq!(seen["method"], method, "{code}");
        assert_eq!(seen["body"], body, "{code}");
        assert_eq!(
            seen["authorization"], "Bearer secret",
            "same origin keeps it"
        );
    }
    let seen = lines(
        &ses.fetch(post("307", &cross))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(seen["authorization"], "", "another origin never sees it");

    let mut manual = post("302", &same);
    manual.redirect = RedirectMode::Manual;
    let response = ses.fetch(manual).await.unwrap();
    assert_eq!(response.status, 302);
    assert_eq!(response.url_chain.len(), 1);

    let mut error = post("302", &same);
    error.redirect = RedirectMode::Error;
    let err = ses.fetch(error).await.unwrap_err();
    assert_eq!(err.error, NetError::from_code(-303));

    let before = server.requests.load(Ordering::SeqCst);
    let err = ses
        .fetch(Request::get(url(&server, "127.0.0.1", "/loop", false)))
        .await
        .unwrap_err();
    assert_eq!(err.error, NetError::from_code(-310), "{err}");
    // The request and 20 redirects followed; the 21st redirect fails.
    assert_eq!(server.requests.load(Ordering::SeqCst) - before, 21);
}

#[tokio::test]
async fn connection_failures_are_chromium_net_errors() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = ses
        .fetch(Request::get(
            Url::parse(&format!("http://{closed}/")).unwrap(),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "net::ERR_CONNECTION_REFUSED",
        "{err}"
    );
    let err = ses
        .fetch(Request::get(Url::parse("ftp://127.0.0.1/x").unwrap()))
        .await
        .unwrap_err();
    assert_eq!(err.error, NetError::from_code(-301));
}

#[tokio::test]
async fn https_is_verified_by_the_session_before_any_byte_is_sent() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let ca = Ca::root("sesh fetch test CA");
    let server = https_server(&ca);
    let target = url(&server, "localhost", "/hello", true);
    let err = ses.fetch(Request::get(target.clone())).await.unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "net::ERR_CERT_AUTHORITY_INVALID",
        "{err}"
    );
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        0,
        "no request reached it"
    );

    ses.cert_verifier().add_root_pem(&ca.pem).unwrap();
    let response = ses.fetch(Request::get(target)).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.bytes().await.unwrap(), b"hello");
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn download_url_saves_through_the_session_into_its_download_path() {
    use sesh_core::downloads::{DownloadState, WillDownload};

    let (tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let dir = tmp.path().join("Downloads");
    ses.set_download_path(&dir).unwrap();
    let server = http_server();
    let item = ses.download_url(url(&server, "127.0.0.1", "/file", false));
    assert_eq!(item.wait_done().await, DownloadState::Completed);
    assert_eq!(item.save_path(), dir.join("report.txt"));
    assert_eq!(
        std::fs::read_to_string(dir.join("report.txt")).unwrap(),
        FILE.repeat(1000)
    );
    assert_eq!(item.etag(), "\"f1\"");

    // A will-download handler prevents the next one: nothing is written.
    ses.set_will_download_handler(Some(Arc::new(
        |_item: &sesh_core::downloads::DownloadItem| WillDownload::Prevent,
    )));
    let item = ses.download_url(url(&server, "127.0.0.1", "/file", false));
    assert_eq!(item.wait_done().await, DownloadState::Cancelled);
    assert!(!dir.join("report (1).txt").exists());
    ses.set_will_download_handler(None);

    // A download that cannot connect is interrupted, resumable.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let item = ses.download_url(Url::parse(&format!("http://{closed}/x")).unwrap());
    let mut rx = item.subscribe();
    let event = rx.recv().await.unwrap();
    assert_eq!(
        event,
        sesh_core::downloads::DownloadEvent::Updated(DownloadState::Interrupted)
    );
    assert_eq!(
        item.interrupt_reason(),
        Some(sesh_core::downloads::InterruptReason::NetworkFailed)
    );
}

#[tokio::test]
async fn requests_go_through_an_http_proxy_and_https_through_its_tunnel() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let proxy = Tinyproxy::start(&[]);
    ses.set_proxy(proxy_rules(&format!("127.0.0.1:{}", proxy.port)))
        .await
        .unwrap();
    let server = http_server();
    let response = ses
        .fetch(Request::get(url(&server, "127.0.0.1", "/echo", false)))
        .await
        .unwrap();
    assert_eq!(
        response.remote_addr.unwrap().port(),
        proxy.port,
        "it went to the proxy"
    );
    let seen = lines(&response.bytes().await.unwrap());
    assert!(seen["via"].contains("tinyproxy"), "{seen:?}");

    let ca = Ca::root("sesh proxy test CA");
    let tls = https_server(&ca);
    ses.cert_verifier().add_root_pem(&ca.pem).unwrap();
    let response = ses
        .fetch(Request::get(url(&tls, "localhost", "/hello", true)))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.remote_addr.unwrap().port(), proxy.port);
    assert_eq!(response.bytes().await.unwrap(), b"hello");
}

#[tokio::test]
async fn an_unreachable_proxy_is_skipped_and_marked_bad() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let proxy = Tinyproxy::start(&[]);
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    ses.set_proxy(proxy_rules(&format!("{dead},127.0.0.1:{}", proxy.port)))
        .await
        .unwrap();
    let server = http_server();
    let target = url(&server, "127.0.0.1", "/echo", false);
    let response = ses.fetch(Request::get(target.clone())).await.unwrap();
    assert_eq!(response.remote_addr.unwrap().port(), proxy.port);
    // The dead proxy now comes last in the session's answers.
    assert_eq!(
        ses.resolve_proxy(target.as_str()).await.unwrap(),
        format!("PROXY 127.0.0.1:{};PROXY {dead}", proxy.port)
    );

    // With no proxy reachable, the request fails as Chromium says.
    ses.set_proxy(proxy_rules(&dead.to_string())).await.unwrap();
    ses.force_reload_proxy_config().await.unwrap();
    let err = ses.fetch(Request::get(target)).await.unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "net::ERR_PROXY_CONNECTION_FAILED",
        "{err}"
    );
}

#[tokio::test]
async fn a_refused_tunnel_fails_without_trying_the_next_proxy() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    // This one only tunnels to port 443.
    let strict = Tinyproxy::start(&[443]);
    let open = Tinyproxy::start(&[]);
    ses.set_proxy(proxy_rules(&format!(
        "127.0.0.1:{},127.0.0.1:{}",
        strict.port, open.port
    )))
    .await
    .unwrap();
    let ca = Ca::root("sesh tunnel test CA");
    let tls = https_server(&ca);
    let err = ses
        .fetch(Request::get(url(&tls, "localhost", "/hello", true)))
        .await
        .unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "net::ERR_TUNNEL_CONNECTION_FAILED",
        "{err}"
    );
    assert_eq!(tls.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn requests_go_through_a_socks5_proxy_which_resolves_the_name() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let socks = Microsocks::start();
    ses.set_proxy(proxy_rules(&format!("socks5://127.0.0.1:{}", socks.port)))
        .await
        .unwrap();
    let server = http_server();
    let response = ses
        .fetch(Request::get(url(&server, "localhost", "/hello", false)))
        .await
        .unwrap();
    assert_eq!(
        response.remote_addr.unwrap().port(),
        socks.port,
        "it went to the proxy"
    );
    assert_eq!(response.bytes().await.unwrap(), b"hello");

    let ca = Ca::root("sesh socks test CA");
    let tls = https_server(&ca);
    ses.cert_verifier().add_root_pem(&ca.pem).unwrap();
    let response = ses
        .fetch(Request::get(url(&tls, "localhost", "/hello", true)))
        .await
        .unwrap();
    assert_eq!(response.bytes().await.unwrap(), b"hello");

    // The proxy cannot reach the target: Chromium fails over to the next
    // entry; with none left, the request fails with the SOCKS error.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = ses
        .fetch(Request::get(
            Url::parse(&format!("http://{closed}/")).unwrap(),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "net::ERR_SOCKS_CONNECTION_FAILED",
        "{err}"
    );
}

#[tokio::test]
async fn bodies_are_decoded_and_accept_encoding_is_chromiums() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    let seen = lines(
        &ses.fetch(Request::get(url(&server, "127.0.0.1", "/echo", false)))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(
        seen["accept-encoding"], "gzip, deflate",
        "no br/zstd over http"
    );
    let ca = Ca::root("sesh encoding test CA");
    let tls = https_server(&ca);
    ses.cert_verifier().add_root_pem(&ca.pem).unwrap();
    let seen = lines(
        &ses.fetch(Request::get(url(&tls, "localhost", "/echo", true)))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(seen["accept-encoding"], "gzip, deflate, br, zstd");

    let plain = FILE.repeat(200);
    for encoding in ["gzip", "deflate", "br", "zstd"] {
        let response = ses
            .fetch(Request::get(url(
                &server,
                "127.0.0.1",
                &format!("/encoded/{encoding}"),
                false,
            )))
            .await
            .unwrap();
        assert_eq!(response.headers["content-encoding"], encoding);
        let body = response.bytes().await.unwrap();
        assert_eq!(String::from_utf8(body).unwrap(), plain, "{encoding}");
    }
    // An app that asks for the raw bytes gets them.
    let mut raw = Request::get(url(&server, "127.0.0.1", "/encoded/gzip", false));
    raw.headers
        .insert("accept-encoding", "identity".parse().unwrap());
    let body = ses.fetch(raw).await.unwrap().bytes().await.unwrap();
    assert_eq!(body, encode("gzip", plain.as_bytes()));
    // A broken stream is Chromium's decoding error.
    let err = ses
        .fetch(Request::get(url(
            &server,
            "127.0.0.1",
            "/encoded/gzip-broken",
            false,
        )))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "net::ERR_CONTENT_DECODING_FAILED",
        "{err}"
    );
}

#[tokio::test]
async fn an_abort_handle_cancels_the_request_and_its_body() {
    use sesh_core::net::AbortHandle;
    use std::time::Duration;

    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();

    // Before the response head.
    let abort = AbortHandle::new();
    let mut request = Request::get(url(&server, "127.0.0.1", "/slow", false));
    request.abort = Some(abort.clone());
    let later = abort.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        later.abort();
    });
    let err = tokio::time::timeout(Duration::from_secs(10), ses.fetch(request))
        .await
        .expect("the abort did not end the fetch")
        .unwrap_err();
    assert_eq!(err.error.to_string(), "net::ERR_ABORTED");

    // While the body trickles in.
    let abort = AbortHandle::new();
    let mut request = Request::get(url(&server, "127.0.0.1", "/trickle", false));
    request.abort = Some(abort.clone());
    let mut response = ses.fetch(request).await.unwrap();
    assert_eq!(&response.chunk().await.unwrap().unwrap()[..], b"0123456789");
    let later = abort.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        later.abort();
    });
    let err = tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .expect("the abort did not end the read")
        .unwrap_err();
    assert_eq!(err.error.to_string(), "net::ERR_ABORTED");

    // An aborted handle fails at once.
    let mut request = Request::get(url(&server, "127.0.0.1", "/hello", false));
    request.abort = Some(abort);
    assert_eq!(ses.fetch(request).await.unwrap_err().error.code(), -3);
}

#[tokio::test]
async fn https_servers_that_speak_http2_get_http2() {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let ca = Ca::root("sesh h2 test CA");
    let mut config = ca.server_config(&["localhost"]);
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                    let text = format!(
                        "{:?} {} ua={}",
                        req.version(),
                        req.uri().path(),
                        req.headers()
                            .get("user-agent")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                    );
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                        bytes::Bytes::from(text),
                    )))
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    ses.cert_verifier().add_root_pem(&ca.pem).unwrap();
    ses.set_user_agent("H2Test/1", None).unwrap();
    let response = ses
        .fetch(Request::get(
            Url::parse(&format!("https://localhost:{port}/over/h2")).unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(response.version, http::Version::HTTP_2);
    assert_eq!(response.status_text, "", "HTTP/2 has no reason phrase");
    let body = String::from_utf8(response.bytes().await.unwrap()).unwrap();
    assert_eq!(body, "HTTP/2.0 /over/h2 ua=H2Test/1");
}

#[tokio::test]
async fn close_all_connections_fails_a_request_waiting_for_its_answer_without_sending_it_again() {
    use std::time::Duration;

    // Keeps connections alive; answers the first request of each and
    // none after it, counting requests.
    let server = http_server_with(|stream, _, counter| {
        let mut reader = BufReader::new(stream);
        let mut answered = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line != "\r\n" {
                if line.starts_with("GET ") {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                continue;
            }
            if !answered {
                answered = true;
                let _ = reader
                    .get_mut()
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
            }
        }
    });
    let addr = server.addr;
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let at = |path: &str| Request::get(Url::parse(&format!("http://{addr}{path}")).unwrap());
    // A pooled socket: a request that fails on a reused socket may be sent
    // again, but not one the session itself closed.
    let hello = ses.fetch(at("/hello")).await.unwrap();
    assert_eq!(hello.bytes().await.unwrap(), b"hello");
    assert_eq!(ses.connections().idle(), 1);
    let closer = {
        let ses = ses.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            ses.close_all_connections().await;
        })
    };
    let err = tokio::time::timeout(Duration::from_secs(10), ses.fetch(at("/unanswered")))
        .await
        .expect("the request outlived close_all_connections")
        .unwrap_err();
    closer.await.unwrap();
    assert_eq!(err.error.to_string(), "net::ERR_ABORTED", "{err}");
    // Give a request sent again the time to arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        2,
        "the request was not sent again"
    );
    assert_eq!(ses.connections().open(), 0);
}

#[tokio::test]
async fn close_all_connections_fails_the_requests_in_flight() {
    use std::time::Duration;

    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    let mut response = ses
        .fetch(Request::get(url(&server, "127.0.0.1", "/trickle", false)))
        .await
        .unwrap();
    assert_eq!(&response.chunk().await.unwrap().unwrap()[..], b"0123456789");
    assert_eq!(ses.connections().open(), 1);
    ses.close_all_connections().await;
    let err = tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .expect("the read did not end")
        .unwrap_err();
    assert_eq!(err.error.to_string(), "net::ERR_ABORTED", "{err}");
    assert_eq!(ses.connections().open(), 0);
    // New requests open new connections.
    let response = ses
        .fetch(Request::get(url(&server, "127.0.0.1", "/hello", false)))
        .await
        .unwrap();
    assert_eq!(response.bytes().await.unwrap(), b"hello");
}

#[tokio::test]
async fn the_http_cache_answers_fresh_responses_and_revalidates_stale_ones() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    let get = |path: &str| Request::get(url(&server, "127.0.0.1", path, false));

    let first = ses.fetch(get("/cached")).await.unwrap();
    assert!(!first.from_cache);
    let first_body = first.bytes().await.unwrap();
    let before = server.requests.load(Ordering::SeqCst);
    let second = ses.fetch(get("/cached")).await.unwrap();
    assert!(second.from_cache);
    assert_eq!(second.remote_addr, None);
    assert_eq!(second.bytes().await.unwrap(), first_body);
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        before,
        "no request sent"
    );
    assert!(ses.cache_size() > 0);
    // cache: 'no-store' goes to the server.
    let mut no_store = get("/cached");
    no_store.cache = sesh_core::net::CacheMode::NoStore;
    let before = server.requests.load(Ordering::SeqCst);
    assert!(!ses.fetch(no_store).await.unwrap().from_cache);
    assert_eq!(server.requests.load(Ordering::SeqCst), before + 1);

    // no-cache: stored, but asked again with If-None-Match; a 304 answers
    // with the stored body.
    let first = ses.fetch(get("/validated")).await.unwrap();
    assert_eq!(first.bytes().await.unwrap(), b"the validated body");
    let before = server.requests.load(Ordering::SeqCst);
    let again = ses.fetch(get("/validated")).await.unwrap();
    assert_eq!(server.requests.load(Ordering::SeqCst), before + 1);
    assert_eq!(again.status, 200);
    assert!(again.from_cache);
    assert_eq!(again.bytes().await.unwrap(), b"the validated body");

    // After clear_cache the server is asked again.
    ses.clear_cache().unwrap();
    let before = server.requests.load(Ordering::SeqCst);
    let fresh_copy = ses.fetch(get("/cached")).await.unwrap();
    assert!(!fresh_copy.from_cache);
    assert_eq!(server.requests.load(Ordering::SeqCst), before + 1);
}

#[tokio::test]
async fn a_partition_without_cache_always_asks_the_server() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions
        .from_partition("nocache", sesh_core::PartitionOptions { cache: false })
        .unwrap();
    let server = http_server();
    for _ in 0..2 {
        let response = ses
            .fetch(Request::get(url(&server, "127.0.0.1", "/cached", false)))
            .await
            .unwrap();
        assert!(!response.from_cache);
        response.bytes().await.unwrap();
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn network_emulation_goes_offline_adds_latency_and_throttles() {
    use sesh_core::net::NetworkEmulation;
    use std::time::{Duration, Instant};

    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    let get = |path: &str| Request::get(url(&server, "127.0.0.1", path, false));

    ses.enable_network_emulation(NetworkEmulation {
        offline: true,
        ..Default::default()
    });
    let err = ses.fetch(get("/hello")).await.unwrap_err();
    assert_eq!(err.error.to_string(), "net::ERR_INTERNET_DISCONNECTED");
    assert_eq!(server.requests.load(Ordering::SeqCst), 0);

    ses.enable_network_emulation(NetworkEmulation {
        latency: 300.0,
        ..Default::default()
    });
    let start = Instant::now();
    ses.fetch(get("/hello"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );

    // 320,000 bytes at 200,000 bytes per second: 1.6 s, within 10 %.
    let rate = 200_000.0;
    ses.enable_network_emulation(NetworkEmulation {
        download_throughput: rate,
        ..Default::default()
    });
    let start = Instant::now();
    let body = ses.fetch(get("/big")).await.unwrap().bytes().await.unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    let expected = body.len() as f64 / rate;
    assert_eq!(body.len(), FILE.len() * 10_000);
    assert!(
        elapsed >= expected * 0.9 && elapsed <= expected * 1.1 + 0.2,
        "{elapsed} s for {expected} s"
    );

    // Uploads too: 320,000 bytes posted at 200,000 bytes per second.
    ses.enable_network_emulation(NetworkEmulation {
        upload_throughput: rate,
        ..Default::default()
    });
    let mut post = get("/echo");
    post.method = Method::POST;
    post.body = bytes::Bytes::from(FILE.repeat(10_000));
    let start = Instant::now();
    let echoed = ses.fetch(post).await.unwrap().bytes().await.unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    assert!(
        echoed.len() > FILE.len() * 10_000,
        "the server got the whole body"
    );
    assert!(
        elapsed >= expected * 0.9 && elapsed <= expected * 1.1 + 0.2,
        "upload: {elapsed} s for {expected} s"
    );

    ses.disable_network_emulation();
    assert_eq!(ses.network_emulation(), NetworkEmulation::default());
    let start = Instant::now();
    ses.fetch(get("/big")).await.unwrap().bytes().await.unwrap();
    assert!(start.elapsed().as_secs_f64() < expected * 0.5);
}

#[tokio::test]
async fn cookies_set_by_a_redirect_go_with_the_next_hop() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    let response = ses
        .fetch(Request::get(url(
            &server,
            "127.0.0.1",
            "/login-redirect",
            false,
        )))
        .await
        .unwrap();
    assert_eq!(response.url_chain.len(), 2);
    let seen = lines(&response.bytes().await.unwrap());
    assert_eq!(seen["cookie"], "session=from-redirect");
}

#[tokio::test]
async fn basic_auth_asks_the_login_handler_once_and_caches_the_answer() {
    use sesh_core::net::AuthChallenge;
    use std::sync::Mutex;

    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    let get = || Request::get(url(&server, "127.0.0.1", "/private", false));

    // No handler: the 401 comes back as it is.
    let response = ses.fetch(get()).await.unwrap();
    assert_eq!(response.status, 401);

    let asked: Arc<Mutex<Vec<AuthChallenge>>> = Arc::default();
    let answers = Arc::new(Mutex::new(vec![
        Some(("user".to_owned(), "pass".to_owned())),
        Some(("user".to_owned(), "wrong".to_owned())),
    ]));
    let (asked2, answers2) = (asked.clone(), answers.clone());
    ses.set_login_handler(Some(Arc::new(move |challenge: AuthChallenge| {
        asked2.lock().unwrap().push(challenge);
        let answer = answers2.lock().unwrap().pop().flatten();
        Box::pin(async move { answer })
    })));
    // The first answer is wrong, the second right.
    let response = ses.fetch(get()).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.bytes().await.unwrap(), b"secret");
    {
        let asked = asked.lock().unwrap();
        assert_eq!(asked.len(), 2);
        assert_eq!(asked[0].realm, "staff area");
        assert_eq!(asked[0].scheme, "basic");
        assert_eq!(asked[0].host, "127.0.0.1");
        assert!(!asked[0].is_proxy);
    }
    // Cached now: the handler is not asked again.
    assert_eq!(ses.fetch(get()).await.unwrap().status, 200);
    assert_eq!(asked.lock().unwrap().len(), 2);
    assert_eq!(ses.auth_cache().len(), 1);

    // After clear_auth_cache it is, and giving up returns the 401.
    ses.clear_auth_cache().await;
    let response = ses.fetch(get()).await.unwrap();
    assert_eq!(response.status, 401);
    assert_eq!(asked.lock().unwrap().len(), 3);
    assert_eq!(response.bytes().await.unwrap(), b"who are you?");
}

#[tokio::test]
async fn digest_is_preferred_to_basic_and_answered_with_md5_or_sha256() {
    use sesh_core::net::AuthChallenge;
    use std::sync::Mutex;

    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    let schemes: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = schemes.clone();
    ses.set_login_handler(Some(Arc::new(move |challenge: AuthChallenge| {
        seen.lock().unwrap().push(challenge.scheme);
        Box::pin(async { Some(("user".to_owned(), "pass".to_owned())) })
    })));
    for algorithm in ["MD5", "SHA-256"] {
        let response = ses
            .fetch(Request::get(url(
                &server,
                "127.0.0.1",
                &format!("/digest/{algorithm}"),
                false,
            )))
            .await
            .unwrap();
        assert_eq!(response.status, 200, "{algorithm}");
        assert_eq!(
            response.bytes().await.unwrap(),
            format!("digest {algorithm} ok").as_bytes()
        );
        ses.clear_auth_cache().await;
    }
    assert_eq!(*schemes.lock().unwrap(), ["digest", "digest"]);
}

#[tokio::test]
async fn a_proxy_that_asks_for_credentials_gets_them_from_the_login_handler() {
    use sesh_core::net::AuthChallenge;
    use std::sync::Mutex;

    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let proxy = Tinyproxy::start_with(&[], Some(("puser", "ppass")));
    ses.set_proxy(proxy_rules(&format!("127.0.0.1:{}", proxy.port)))
        .await
        .unwrap();
    let server = http_server();
    let ca = Ca::root("sesh proxy auth CA");
    let tls = https_server(&ca);
    ses.cert_verifier().add_root_pem(&ca.pem).unwrap();

    // Without a handler: the proxy's 407, and no tunnel.
    let response = ses
        .fetch(Request::get(url(&server, "127.0.0.1", "/hello", false)))
        .await
        .unwrap();
    assert_eq!(response.status, 407);
    let err = ses
        .fetch(Request::get(url(&tls, "localhost", "/hello", true)))
        .await
        .unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "net::ERR_PROXY_AUTH_REQUESTED",
        "{err}"
    );

    let asked: Arc<Mutex<Vec<AuthChallenge>>> = Arc::default();
    let seen = asked.clone();
    ses.set_login_handler(Some(Arc::new(move |challenge: AuthChallenge| {
        seen.lock().unwrap().push(challenge);
        Box::pin(async { Some(("puser".to_owned(), "ppass".to_owned())) })
    })));
    let response = ses
        .fetch(Request::get(url(&server, "127.0.0.1", "/hello", false)))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.bytes().await.unwrap(), b"hello");
    let response = ses
        .fetch(Request::get(url(&tls, "localhost", "/hello", true)))
        .await
        .unwrap();
    assert_eq!(response.bytes().await.unwrap(), b"hello");
    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 1, "asked once, then cached: {asked:?}");
    assert!(asked[0].is_proxy);
    assert_eq!(asked[0].port, proxy.port);
}

#[tokio::test]
async fn a_pac_script_is_fetched_over_http_directly() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    ses.set_proxy(sesh_core::proxy::ProxyConfig {
        pac_script: Some(url(&server, "127.0.0.1", "/proxy.pac", false).to_string()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        ses.resolve_proxy("http://corp.test/").await.unwrap(),
        "PROXY gate:8080;DIRECT"
    );
    assert_eq!(
        ses.resolve_proxy("http://example.org/").await.unwrap(),
        "DIRECT"
    );
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);

    // A script that cannot be had: DIRECT, with the reason kept.
    ses.set_proxy(sesh_core::proxy::ProxyConfig {
        pac_script: Some(url(&server, "127.0.0.1", "/missing.pac", false).to_string()),
        ..Default::default()
    })
    .await
    .unwrap();
    let resolution = ses
        .resolve_proxy_detailed("http://corp.test/")
        .await
        .unwrap();
    assert_eq!(resolution.to_string(), "DIRECT");
    let error = resolution.error.unwrap().to_string();
    assert!(error.contains("404"), "{error}");
}

#[tokio::test]
async fn an_https_proxy_is_reached_over_tls_and_its_certificate_checked() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let proxy = Tinyproxy::start(&[]);
    // TLS in front of tinyproxy: an HTTPS proxy on "localhost".
    let ca = Ca::root("sesh https proxy CA");
    let config = ca.server_config(&["localhost"]);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_port = listener.local_addr().unwrap().port();
    let inner = proxy.port;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(("127.0.0.1", inner)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    ses.set_proxy(proxy_rules(&format!("https://localhost:{tls_port}")))
        .await
        .unwrap();
    let server = http_server();
    let target_ca = Ca::root("sesh target CA");
    let tls_server = https_server(&target_ca);

    // The proxy's certificate is not trusted yet.
    let err = ses
        .fetch(Request::get(url(&server, "127.0.0.1", "/echo", false)))
        .await
        .unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "net::ERR_PROXY_CERTIFICATE_INVALID",
        "{err}"
    );

    ses.cert_verifier().add_root_pem(&ca.pem).unwrap();
    ses.cert_verifier().add_root_pem(&target_ca.pem).unwrap();
    ses.force_reload_proxy_config().await.unwrap();
    let response = ses
        .fetch(Request::get(url(&server, "127.0.0.1", "/echo", false)))
        .await
        .unwrap();
    assert_eq!(response.remote_addr.unwrap().port(), tls_port);
    let seen = lines(&response.bytes().await.unwrap());
    assert!(seen["via"].contains("tinyproxy"), "{seen:?}");
    let response = ses
        .fetch(Request::get(url(&tls_server, "localhost", "/hello", true)))
        .await
        .unwrap();
    assert_eq!(response.bytes().await.unwrap(), b"hello");
}

#[tokio::test]
async fn socks4_proxies_get_an_address_resolved_here() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    let granting = crate::socks4_proxy(0x5A).await.port;
    ses.set_proxy(proxy_rules(&format!("socks4://127.0.0.1:{granting}")))
        .await
        .unwrap();
    let response = ses
        .fetch(Request::get(url(&server, "localhost", "/hello", false)))
        .await
        .unwrap();
    assert_eq!(response.remote_addr.unwrap().port(), granting);
    assert_eq!(response.bytes().await.unwrap(), b"hello");

    // "Host unreachable" surfaces as the address being unreachable.
    let unreachable = crate::socks4_proxy(0x5C).await.port;
    ses.set_proxy(proxy_rules(&format!("socks4://127.0.0.1:{unreachable}")))
        .await
        .unwrap();
    let err = ses
        .fetch(Request::get(url(&server, "127.0.0.1", "/hello", false)))
        .await
        .unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "net::ERR_ADDRESS_UNREACHABLE",
        "{err}"
    );
}

#[tokio::test]
async fn broken_servers_get_chromiums_errors() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    let get = |path: &str| Request::get(url(&server, "127.0.0.1", path, false));
    let err = ses.fetch(get("/garbage")).await.unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "net::ERR_INVALID_HTTP_RESPONSE",
        "{err}"
    );
    let err = ses.fetch(get("/silent")).await.unwrap_err();
    assert_eq!(err.error.to_string(), "net::ERR_EMPTY_RESPONSE", "{err}");
    // A server that never answers: the request's timeout ends it.
    let mut slow = get("/slow");
    slow.timeout = Some(std::time::Duration::from_millis(300));
    let err = ses.fetch(slow).await.unwrap_err();
    assert_eq!(err.error.to_string(), "net::ERR_TIMED_OUT", "{err}");
    let response = ses.fetch(get("/cut")).await.unwrap();
    let err = response.bytes().await.unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "net::ERR_CONTENT_LENGTH_MISMATCH",
        "{err}"
    );
}

#[tokio::test]
async fn fetch_cache_modes_read_and_write_the_cache_as_the_standard_says() {
    use sesh_core::net::CacheMode;

    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    let get = |path: &str, mode: CacheMode| {
        let mut request = Request::get(url(&server, "127.0.0.1", path, false));
        request.cache = mode;
        request
    };
    let sent = || server.requests.load(Ordering::SeqCst);
    let body = |r: sesh_core::net::Response| async move {
        String::from_utf8(r.bytes().await.unwrap()).unwrap()
    };

    // reload: the server answers, and its answer replaces the stored one.
    let stored = body(ses.fetch(get("/cached", CacheMode::Default)).await.unwrap()).await;
    let before = sent();
    let reloaded = ses.fetch(get("/cached", CacheMode::Reload)).await.unwrap();
    assert!(!reloaded.from_cache);
    let reloaded = body(reloaded).await;
    assert_eq!(sent(), before + 1);
    assert_ne!(reloaded, stored);
    let cached = ses.fetch(get("/cached", CacheMode::Default)).await.unwrap();
    assert!(cached.from_cache);
    assert_eq!(body(cached).await, reloaded);

    // no-cache: even a fresh answer is checked with the server.
    let before = sent();
    assert!(
        !ses.fetch(get("/cached", CacheMode::NoCache))
            .await
            .unwrap()
            .from_cache
    );
    assert_eq!(sent(), before + 1);

    // A stale answer: default revalidates (304), force-cache and
    // only-if-cached use it without asking.
    let first = body(ses.fetch(get("/stale", CacheMode::Default)).await.unwrap()).await;
    let before = sent();
    let revalidated = ses.fetch(get("/stale", CacheMode::Default)).await.unwrap();
    assert!(revalidated.from_cache);
    assert_eq!(sent(), before + 1, "revalidated with the server");
    assert_eq!(body(revalidated).await, first);
    for mode in [CacheMode::ForceCache, CacheMode::OnlyIfCached] {
        let before = sent();
        let response = ses.fetch(get("/stale", mode)).await.unwrap();
        assert!(response.from_cache, "{mode:?}");
        assert_eq!(body(response).await, first);
        assert_eq!(sent(), before, "{mode:?} asked the server");
    }

    // only-if-cached with nothing stored fails without a request.
    let before = sent();
    let err = ses
        .fetch(get("/never-fetched", CacheMode::OnlyIfCached))
        .await
        .unwrap_err();
    assert_eq!(err.error.to_string(), "net::ERR_CACHE_MISS", "{err}");
    assert_eq!(sent(), before);
    // force-cache with nothing stored goes out.
    assert!(
        !ses.fetch(get("/cached-later", CacheMode::ForceCache))
            .await
            .unwrap()
            .from_cache
    );
    assert_eq!(sent(), before + 1);

    // The standard's request headers for each mode.
    for (mode, pragma, cache_control) in [
        (CacheMode::Default, "", ""),
        (CacheMode::NoStore, "no-cache", "no-cache"),
        (CacheMode::Reload, "no-cache", "no-cache"),
        (CacheMode::NoCache, "", "max-age=0"),
    ] {
        let echoed = lines(
            &ses.fetch(get("/echo", mode))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        );
        assert_eq!(echoed["pragma"], pragma, "{mode:?}");
        assert_eq!(echoed["cache-control"], cache_control, "{mode:?}");
    }
}

/// A body of the given chunks, length unknown (sent chunked).
struct Chunks(std::collections::VecDeque<bytes::Bytes>);

impl hyper::body::Body for Chunks {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|c| Ok(hyper::body::Frame::data(c))))
    }
}

/// A hyper server that reads request bodies whole and says what it got;
/// `/307` and `/303` redirect to `/`.
async fn body_server() -> SocketAddr {
    use http_body_util::BodyExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |request: http::Request<hyper::body::Incoming>| async move {
                        let path = request.uri().path().to_owned();
                        let chunked = request.headers().contains_key("transfer-encoding");
                        let length = request
                            .headers()
                            .get("content-length")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("none")
                            .to_owned();
                        let method = request.method().to_string();
                        let body = request.into_body().collect().await?.to_bytes();
                        let mut response = http::Response::new(http_body_util::Full::new(
                            bytes::Bytes::from(format!(
                                "method={method}\nlen={}\nchunked={chunked}\ncontent-length={length}\n",
                                body.len()
                            )),
                        ));
                        if let Some(code) = path.strip_prefix('/').and_then(|p| p.parse().ok()) {
                            *response.status_mut() = http::StatusCode::from_u16(code).unwrap();
                            response
                                .headers_mut()
                                .insert("location", http::HeaderValue::from_static("/"));
                        }
                        Ok::<_, hyper::Error>(response)
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn request_bodies_can_be_streams() {
    let addr = body_server().await;
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let post = |path: &str| {
        let mut request = Request::get(format!("http://{addr}{path}").parse().unwrap());
        request.method = Method::POST;
        request
    };
    let chunks = || {
        Chunks(
            ["first ", "second ", "third"]
                .into_iter()
                .map(|s: &'static str| bytes::Bytes::from_static(s.as_bytes()))
                .collect(),
        )
    };

    // Unknown length: chunked.
    let got = lines(
        &ses.fetch(post("/").with_body_stream(chunks()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(got["len"], "18");
    assert_eq!(got["chunked"], "true");
    // Known length: Content-Length.
    let full = http_body_util::Full::new(bytes::Bytes::from_static(b"twelve bytes"));
    let got = lines(
        &ses.fetch(post("/").with_body_stream(full))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(got["content-length"], "12");
    assert_eq!(got["chunked"], "false");

    // 303 turns into a GET without body: fine. 307 would send the stream
    // again: Chromium's error.
    let got = lines(
        &ses.fetch(post("/303").with_body_stream(chunks()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(got["method"], "GET");
    assert_eq!(got["len"], "0");
    let err = ses
        .fetch(post("/307").with_body_stream(chunks()))
        .await
        .unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "net::ERR_UPLOAD_STREAM_REWIND_NOT_SUPPORTED",
        "{err}"
    );
    // Bytes bodies are sent again on 307.
    let mut again = post("/307");
    again.body = bytes::Bytes::from_static(b"resent");
    let got = lines(&ses.fetch(again).await.unwrap().bytes().await.unwrap());
    assert_eq!((got["method"].as_str(), got["len"].as_str()), ("POST", "6"));
}

#[tokio::test]
async fn ntlm_and_negotiate_are_refused_clearly() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    let get = || Request::get(url(&server, "127.0.0.1", "/ntlm", false));
    // Without a login handler the 401 is the answer.
    assert_eq!(ses.fetch(get()).await.unwrap().status, 401);
    // An app that wants to log in learns why it cannot.
    ses.set_login_handler(Some(Arc::new(|_challenge| {
        Box::pin(async { Some(("user".to_owned(), "pass".to_owned())) })
    })));
    let err = ses.fetch(get()).await.unwrap_err();
    assert_eq!(err.error.to_string(), "net::ERR_UNSUPPORTED_AUTH_SCHEME");
    assert!(err.detail.contains("Negotiate"), "{err}");
}

/// What a TLS server saw of its clients' handshakes.
#[derive(Default)]
struct Handshakes {
    /// Connections whose client sent its Finished.
    completed: AtomicUsize,
    /// Connections that ended before the client's Finished.
    unfinished: AtomicUsize,
    /// Requests answered.
    requests: AtomicUsize,
    /// Handshakes that resumed a session.
    resumed: AtomicUsize,
    /// Connections the client closed after a TLS close_notify alert.
    close_notify: AtomicUsize,
    /// Connections the client closed without one.
    closed_bare: AtomicUsize,
}

/// A TLS server on 127.0.0.1 that tells how each handshake and each
/// connection ended; it answers `ok`.
fn handshake_server(ca: &Ca) -> (SocketAddr, Arc<Handshakes>) {
    handshake_server_with(ca.server_config(&["localhost"]))
}

fn handshake_server_with(config: rustls::ServerConfig) -> (SocketAddr, Arc<Handshakes>) {
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Handshakes::default());
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let (config, log) = (config.clone(), log.clone());
            std::thread::spawn(move || {
                let Ok(mut conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                while conn.is_handshaking() {
                    if conn.complete_io(&mut stream).is_err() {
                        log.unfinished.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                }
                log.completed.fetch_add(1, Ordering::SeqCst);
                if conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                    log.resumed.fetch_add(1, Ordering::SeqCst);
                }
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                // What came with the client's Finished, if anything.
                if let Ok(n) = conn.reader().read(&mut buf) {
                    head.extend_from_slice(&buf[..n]);
                }
                let mut tls = rustls::StreamOwned::new(conn, stream);
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                log.requests.fetch_add(1, Ordering::SeqCst);
                let _ = tls.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
                let _ = tls.flush();
                // The client closes: with close_notify (a clean end of
                // the stream) or without (an unexpected end).
                loop {
                    match tls.read(&mut buf) {
                        Ok(0) => {
                            log.close_notify.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        Ok(_) => {}
                        Err(_) => {
                            log.closed_bare.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// Waits up to 10 s for `done`.
async fn until(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The client's last handshake flight waits for the session's verdict on
/// the certificate (a rejected one never gets it, as in Chromium, which
/// checks the certificate before it sends Finished), and then goes out.
#[tokio::test]
async fn tls_finished_waits_for_the_verdict() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let ca = Ca::root("sesh finished test CA");
    let (addr, seen) = handshake_server(&ca);
    let target = Url::parse(&format!("https://localhost:{}/", addr.port())).unwrap();

    let err = ses.fetch(Request::get(target.clone())).await.unwrap_err();
    assert_eq!(err.error.to_string(), "net::ERR_CERT_AUTHORITY_INVALID");
    until(|| seen.unfinished.load(Ordering::SeqCst) == 1).await;
    assert_eq!(seen.unfinished.load(Ordering::SeqCst), 1);
    assert_eq!(seen.completed.load(Ordering::SeqCst), 0, "no Finished sent");

    ses.cert_verifier().add_root_pem(&ca.pem).unwrap();
    for round in 1..=3 {
        let response = ses.fetch(Request::get(target.clone())).await.unwrap();
        assert_eq!(response.bytes().await.unwrap(), b"ok");
        assert_eq!(seen.completed.load(Ordering::SeqCst), round);
        assert_eq!(seen.requests.load(Ordering::SeqCst), round);
    }
}

/// A connection sesh is done with is closed as Chromium closes one: no
/// TLS close_notify alert first (`SSLClientSocketImpl::Disconnect` just
/// disconnects the socket).
#[tokio::test]
async fn a_finished_tls_connection_closes_without_close_notify() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let ca = Ca::root("sesh close CA");
    ses.cert_verifier().add_root_pem(&ca.pem).unwrap();
    let (addr, seen) = handshake_server(&ca);
    let target = Url::parse(&format!("https://localhost:{}/", addr.port())).unwrap();
    for round in 1..=2 {
        let response = ses.fetch(Request::get(target.clone())).await.unwrap();
        assert_eq!(response.bytes().await.unwrap(), b"ok");
        until(|| {
            seen.closed_bare.load(Ordering::SeqCst) + seen.close_notify.load(Ordering::SeqCst)
                == round
        })
        .await;
        assert_eq!(
            seen.closed_bare.load(Ordering::SeqCst),
            round,
            "closed, round {round}"
        );
        assert_eq!(
            seen.close_notify.load(Ordering::SeqCst),
            0,
            "no close_notify"
        );
    }
}

/// A preconnected TLS socket finishes its handshake at once, though no
/// request goes with it.
#[tokio::test]
async fn a_preconnected_tls_socket_finishes_its_handshake() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let ca = Ca::root("sesh preconnect TLS CA");
    ses.cert_verifier().add_root_pem(&ca.pem).unwrap();
    let (addr, seen) = handshake_server(&ca);
    let target = format!("https://localhost:{}/", addr.port());
    assert_eq!(ses.preconnect(&target, 2).await.unwrap(), 2);
    until(|| seen.completed.load(Ordering::SeqCst) == 2).await;
    assert_eq!(seen.completed.load(Ordering::SeqCst), 2);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
    // The request then goes on one of them, with no new handshake.
    let response = ses.fetch(Request::get(Url::parse(&target).unwrap())).await;
    assert_eq!(response.unwrap().bytes().await.unwrap(), b"ok");
    assert_eq!(seen.completed.load(Ordering::SeqCst), 2);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
}

/// Over TLS 1.2 the client's last flight (key exchange, Finished) goes
/// before the server's Finished on a full handshake, and after it on a
/// resumed one, once the session has accepted the certificate: every
/// handshake completes and carries its request.
#[tokio::test]
async fn tls_1_2_servers_are_answered_on_full_and_resumed_handshakes() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let ca = Ca::root("sesh TLS 1.2 CA");
    ses.cert_verifier().add_root_pem(&ca.pem).unwrap();
    let (addr, seen) =
        handshake_server_with(ca.server_config_with(&["localhost"], &[&rustls::version::TLS12]));
    let target = Url::parse(&format!("https://localhost:{}/", addr.port())).unwrap();
    for round in 1..=3 {
        let response = ses.fetch(Request::get(target.clone())).await.unwrap();
        assert_eq!(response.bytes().await.unwrap(), b"ok", "round {round}");
    }
    assert_eq!(seen.completed.load(Ordering::SeqCst), 3);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 3);
    assert_eq!(
        seen.resumed.load(Ordering::SeqCst),
        2,
        "the later two resume"
    );
}

#[tokio::test]
async fn clear_data_of_cookies_clears_the_auth_cache_and_connections_unless_asked_not_to() {
    let (_tmp, _ud, sessions) = fresh();
    let ses = sessions.default_session().unwrap();
    let server = http_server();
    let get = || Request::get(url(&server, "127.0.0.1", "/private", false));
    ses.set_login_handler(Some(Arc::new(|_| {
        Box::pin(async { Some(("user".to_owned(), "pass".to_owned())) })
    })));
    let response = ses.fetch(get()).await.unwrap();
    assert_eq!(response.status, 200);
    response.bytes().await.unwrap();
    assert_eq!(ses.auth_cache().len(), 1);
    // An idle socket to the server (this one closes after each answer).
    let origin = url(&server, "127.0.0.1", "/", false);
    let preconnect = || ses.preconnect(origin.as_str(), 1);
    preconnect().await.unwrap();
    assert!(ses.connections().open() >= 1);
    let cookies = |avoid_closing_connections| sesh_core::ClearDataOptions {
        data_types: Some(vec!["cookies".into()]),
        avoid_closing_connections,
        ..Default::default()
    };

    ses.clear_data(&cookies(true)).unwrap();
    assert_eq!(ses.auth_cache().len(), 1);
    assert!(ses.connections().open() >= 1);

    // Another origin's credentials and connections are another matter for
    // the cache, not for the connections (Chromium closes them all).
    ses.clear_data(&sesh_core::ClearDataOptions {
        origins: Some(vec!["https://elsewhere.test".into()]),
        ..cookies(false)
    })
    .unwrap();
    assert_eq!(ses.auth_cache().len(), 1);
    assert_eq!(ses.connections().open(), 0);

    ses.fetch(get()).await.unwrap().bytes().await.unwrap();
    preconnect().await.unwrap();
    assert!(ses.connections().open() >= 1);
    ses.clear_data(&cookies(false)).unwrap();
    assert_eq!(ses.auth_cache().len(), 0);
    assert_eq!(ses.connections().open(), 0);
}
