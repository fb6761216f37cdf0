//! The session's host resolver against a real DNS server (dnsmasq) on
//! 127.0.0.1: names resolved for fetches, the cache and its clearing, the
//! PAC helpers.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sesh_core::HostResolverConfig;
use sesh_core::net::Request;

use crate::fresh;

/// dnsmasq answering `app.sesh.test` with 127.0.0.1 and nothing else,
/// logging every query; stopped on drop.
struct Dnsmasq {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Dnsmasq {
    fn start() -> Dnsmasq {
        Self::start_with_ttl(60)
    }

    /// With answers that live `ttl` seconds.
    fn start_with_ttl(ttl: u32) -> Dnsmasq {
        // The port is picked free for UDP; dnsmasq needs it for TCP too,
        // and another test may hold that: try again on another port.
        for _ in 0..10 {
            if let Some(dns) = Self::try_start(ttl) {
                return dns;
            }
        }
        panic!("dnsmasq did not start on any of ten ports");
    }

    fn try_start(ttl: u32) -> Option<Dnsmasq> {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("queries.log");
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--pid-file=",
                "--user=root",
                "--log-queries",
                "--address=/app.sesh.test/127.0.0.1",
                "--address=/both.sesh.test/127.0.0.2",
                "--address=/both.sesh.test/::1",
                "--address=/collide.sesh.test/127.0.53.53",
            ])
            // dnsmasq's default TTL, 0, would never be cached.
            .arg(format!("--local-ttl={ttl}"))
            .arg(format!("--port={port}"))
            .arg(format!("--log-facility={}", log.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dnsmasq must be installed (.ci/run installs dnsmasq-base)");
        // Ready once it answers over TCP too; gone if the port was taken.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if child.try_wait().unwrap().is_some() {
                return None;
            }
            assert!(Instant::now() < deadline, "dnsmasq did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Dnsmasq {
            child,
            port,
            log,
            _dir: dir,
        })
    }

    /// How many A queries for `name` it has seen.
    fn queries(&self, name: &str) -> usize {
        self.queries_of("A", name)
    }

    /// How many queries of `kind` (`A`, `AAAA`) for `name` it has seen.
    fn queries_of(&self, kind: &str, name: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&format!("query[{kind}] {name} ")))
            .count()
    }

    fn config(&self) -> HostResolverConfig {
        HostResolverConfig {
            nameservers: vec![format!("127.0.0.1:{}", self.port).parse().unwrap()],
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP server answering `hello` (and closing) to every request.
fn hello_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let _ = reader.get_mut().write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                );
            });
        }
    });
    port
}

/// Waits for dnsmasq's log to show `n` queries for `name`.
async fn queries_reach(dns: &Dnsmasq, name: &str, n: usize) -> usize {
    for _ in 0..100 {
        if dns.queries(name) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Give a stray extra query the chance to show.
    tokio::time::sleep(Duration::from_millis(100)).await;
    dns.queries(name)
}

#[tokio::test]
async fn fetches_resolve_through_the_sessions_dns_and_its_cache() {
    let dns = Dnsmasq::start();
    let port = hello_server();
    let (_tmp, _, sessions) = fresh();
    let ses = sessions.from_partition("dns", Default::default()).unwrap();
    ses.configure_host_resolver(dns.config());
    let url = |host: &str| format!("http://{host}:{port}/").parse().unwrap();

    let response = ses.fetch(Request::get(url("app.sesh.test"))).await.unwrap();
    assert_eq!(response.remote_addr.unwrap().ip().to_string(), "127.0.0.1");
    assert_eq!(response.bytes().await.unwrap(), b"hello");
    assert_eq!(
        queries_reach(&dns, "app.sesh.test", 1).await,
        1,
        "{}",
        std::fs::read_to_string(&dns.log).unwrap_or_default()
    );

    // Answered from the cache: no second query.
    ses.fetch(Request::get(url("app.sesh.test"))).await.unwrap();
    assert_eq!(queries_reach(&dns, "app.sesh.test", 2).await, 1);

    ses.clear_host_resolver_cache().await;
    ses.fetch(Request::get(url("app.sesh.test"))).await.unwrap();
    assert_eq!(queries_reach(&dns, "app.sesh.test", 2).await, 2);

    // A name the server does not know is Chromium's NAME_NOT_RESOLVED.
    let err = ses
        .fetch(Request::get(url("missing.sesh.test")))
        .await
        .unwrap_err();
    assert_eq!(err.error.code(), -105, "{err}");

    // ICANN's name collision address is an error of its own.
    let err = ses
        .fetch(Request::get(url("collide.sesh.test")))
        .await
        .unwrap_err();
    assert_eq!(err.error.code(), -166, "{err}");

    // localhost is never asked about.
    ses.fetch(Request::get(url("localhost"))).await.unwrap();
    assert_eq!(dns.queries("localhost"), 0);

    // Another session keeps the system's resolver, which knows nothing of
    // the test's names.
    let other = sessions
        .from_partition("dns-other", Default::default())
        .unwrap();
    assert!(
        other
            .fetch(Request::get(url("app.sesh.test")))
            .await
            .is_err()
    );
}

#[cfg(feature = "pac")]
#[tokio::test]
async fn pac_helpers_ask_the_sessions_dns() {
    let dns = Dnsmasq::start();
    let (_tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("dns-pac", Default::default())
        .unwrap();
    ses.configure_host_resolver(dns.config());
    let pac = "function FindProxyForURL(url, host) { \
        if (isResolvable('missing.sesh.test')) return 'PROXY wrong:1'; \
        if (dnsResolve(host) == '127.0.0.1' && isInNet(host, '127.0.0.0', '255.0.0.0')) \
            return 'PROXY lab-proxy:3128'; \
        return 'DIRECT'; }";
    ses.set_proxy(sesh_core::proxy::ProxyConfig {
        pac_script: Some(format!(
            "data:application/x-ns-proxy-autoconfig,{}",
            pac.replace('%', "%25")
                .replace(' ', "%20")
                .replace('\'', "%27")
        )),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        ses.resolve_proxy("http://app.sesh.test/").await.unwrap(),
        "PROXY lab-proxy:3128"
    );
    assert_eq!(
        ses.resolve_proxy("http://elsewhere.sesh.test/")
            .await
            .unwrap(),
        "DIRECT"
    );
    assert!(dns.queries("app.sesh.test") >= 1);
}

#[tokio::test]
async fn socks4_hands_names_it_cannot_resolve_to_the_proxy() {
    let dns = Dnsmasq::start();
    let port = hello_server();
    let socks = crate::socks4_proxy(0x5A).await;
    let (proxy, asked) = (socks.port, socks.asked);
    let (_tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("socks4a", Default::default())
        .unwrap();
    ses.configure_host_resolver(dns.config());
    ses.set_proxy(sesh_core::proxy::ProxyConfig {
        proxy_rules: Some(format!("socks4://127.0.0.1:{proxy}")),
        proxy_bypass_rules: Some("<-loopback>".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let url = |host: &str| format!("http://{host}:{port}/").parse().unwrap();

    // A name resolved here goes as an address (SOCKS4, as Chromium).
    let response = ses.fetch(Request::get(url("app.sesh.test"))).await.unwrap();
    assert_eq!(response.bytes().await.unwrap(), b"hello");
    // A name this side cannot resolve goes to the proxy (SOCKS4a).
    let response = ses
        .fetch(Request::get(url("proxy-only.sesh.test")))
        .await
        .unwrap();
    assert_eq!(response.remote_addr.unwrap().port(), proxy);
    assert_eq!(response.bytes().await.unwrap(), b"hello");
    assert!(dns.queries("proxy-only.sesh.test") >= 1, "asked here first");
    // One neither side knows: the proxy refuses.
    let err = ses
        .fetch(Request::get(url("nowhere.sesh.test")))
        .await
        .unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "net::ERR_SOCKS_CONNECTION_FAILED",
        "{err}"
    );
    assert_eq!(
        *asked.lock().unwrap(),
        [
            "address 127.0.0.1",
            "name proxy-only.sesh.test",
            "name nowhere.sesh.test"
        ]
    );
}

fn addresses(found: &sesh_core::ResolvedHost) -> Vec<(String, sesh_core::AddressFamily)> {
    found
        .endpoints
        .iter()
        .map(|e| (e.address.clone(), e.family))
        .collect()
}

#[tokio::test]
async fn resolve_host_takes_electrons_options() {
    use sesh_core::{
        AddressFamily::{Ipv4, Ipv6},
        CacheUsage, HostResolverSource, QueryType, ResolveHostOptions,
    };
    let dns = Dnsmasq::start();
    let (_tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("resolve-host", Default::default())
        .unwrap();
    ses.configure_host_resolver(dns.config());
    let with = |f: fn(&mut ResolveHostOptions)| {
        let mut options = ResolveHostOptions::default();
        f(&mut options);
        options
    };
    let code = |r: Result<sesh_core::ResolvedHost, sesh_core::ResolveHostError>| {
        r.map(|found| panic!("resolved: {found:?}"))
            .unwrap_err()
            .error
            .code()
    };

    let found = ses
        .resolve_host("app.sesh.test", &Default::default())
        .await
        .unwrap();
    assert_eq!(addresses(&found), [("127.0.0.1".to_owned(), Ipv4)]);
    assert_eq!(queries_reach(&dns, "app.sesh.test", 1).await, 1);
    // Cached: no second query, for a fetch's lookup either.
    ses.resolve_host("APP.sesh.test.", &Default::default())
        .await
        .unwrap();
    assert_eq!(queries_reach(&dns, "app.sesh.test", 2).await, 1);
    // `disallowed`: asked again.
    let disallowed = with(|o| o.cache_usage = CacheUsage::Disallowed);
    ses.resolve_host("app.sesh.test", &disallowed)
        .await
        .unwrap();
    assert_eq!(queries_reach(&dns, "app.sesh.test", 2).await, 2);

    // `localOnly`: the cache, never a query.
    let local = with(|o| o.source = HostResolverSource::LocalOnly);
    let found = ses.resolve_host("app.sesh.test", &local).await.unwrap();
    assert_eq!(addresses(&found), [("127.0.0.1".to_owned(), Ipv4)]);
    // One family out of an answer for both; none of the other one.
    let local_v4 = with(|o| {
        o.source = HostResolverSource::LocalOnly;
        o.query_type = Some(QueryType::A);
    });
    let found = ses.resolve_host("app.sesh.test", &local_v4).await.unwrap();
    assert_eq!(addresses(&found), [("127.0.0.1".to_owned(), Ipv4)]);
    let local_v6 = with(|o| {
        o.source = HostResolverSource::LocalOnly;
        o.query_type = Some(QueryType::Aaaa);
    });
    assert_eq!(
        code(ses.resolve_host("app.sesh.test", &local_v6).await),
        -804
    );
    assert_eq!(code(ses.resolve_host("both.sesh.test", &local).await), -804);
    assert_eq!(dns.queries("both.sesh.test"), 0);
    ses.clear_host_resolver_cache().await;
    assert_eq!(code(ses.resolve_host("app.sesh.test", &local).await), -804);

    // One family, asked for alone.
    let v6 = with(|o| o.query_type = Some(QueryType::Aaaa));
    let found = ses.resolve_host("both.sesh.test", &v6).await.unwrap();
    assert_eq!(addresses(&found), [("::1".to_owned(), Ipv6)]);
    assert!(dns.queries_of("AAAA", "both.sesh.test") >= 1);
    assert_eq!(dns.queries("both.sesh.test"), 0, "no A query for AAAA");
    let v4 = with(|o| o.query_type = Some(QueryType::A));
    let found = ses.resolve_host("both.sesh.test", &v4).await.unwrap();
    assert_eq!(addresses(&found), [("127.0.0.2".to_owned(), Ipv4)]);
    let found = ses
        .resolve_host("both.sesh.test", &Default::default())
        .await
        .unwrap();
    assert_eq!(
        addresses(&found),
        [("127.0.0.2".to_owned(), Ipv4), ("::1".to_owned(), Ipv6)]
    );
    assert_eq!(code(ses.resolve_host("app.sesh.test", &v6).await), -105);

    // Names never asked about, failures, and what sesh does not do.
    let found = ses.resolve_host("localhost", &v4).await.unwrap();
    assert_eq!(addresses(&found), [("127.0.0.1".to_owned(), Ipv4)]);
    let found = ses
        .resolve_host("[::1]", &Default::default())
        .await
        .unwrap();
    assert_eq!(addresses(&found), [("::1".to_owned(), Ipv6)]);
    assert_eq!(
        code(
            ses.resolve_host("missing.sesh.test", &Default::default())
                .await
        ),
        -105
    );
    // DNS answering ICANN's name collision address: an error, never kept.
    for asked in 1..=2 {
        let collision = ses
            .resolve_host("collide.sesh.test", &Default::default())
            .await;
        assert_eq!(code(collision), -166);
        assert_eq!(queries_reach(&dns, "collide.sesh.test", asked).await, asked);
    }
    let mdns = with(|o| o.source = HostResolverSource::Mdns);
    assert_eq!(code(ses.resolve_host("app.sesh.test", &mdns).await), -11);
    // The system's resolver knows nothing of the test's names.
    let system = with(|o| o.source = HostResolverSource::System);
    assert_eq!(code(ses.resolve_host("app.sesh.test", &system).await), -105);

    // The hosts file answers `localOnly` too (whatever names this
    // machine's has besides localhost).
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    for line in hosts.lines() {
        let mut fields = line.split('#').next().unwrap_or("").split_whitespace();
        let Some(Ok(ip)) = fields.next().map(str::parse::<std::net::Ipv4Addr>) else {
            continue;
        };
        for name in fields.filter(|n| !n.contains("localhost")) {
            let found = ses.resolve_host(name, &local).await.unwrap();
            assert!(
                found.endpoints.iter().any(|e| e.address == ip.to_string()),
                "{name}: {found:?}"
            );
        }
    }
}

/// Waits (on the thread: the test's clock is paused) until dnsmasq's log
/// shows `n` A queries for `name`, or two seconds pass.
fn queries_now(dns: &Dnsmasq, name: &str, n: usize) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while dns.queries(name) < n && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    dns.queries(name)
}

// The host cache runs on Tokio's clock: paused here, and moved on by hand.
#[tokio::test(start_paused = true)]
async fn dns_answers_live_a_minute_at_least_and_stale_ones_only_when_allowed() {
    use sesh_core::{CacheUsage, HostResolverSource, ResolveHostOptions};
    let dns = Dnsmasq::start_with_ttl(1);
    let (_tmp, _, sessions) = fresh();
    let ses = sessions
        .from_partition("stale", Default::default())
        .unwrap();
    ses.configure_host_resolver(dns.config());
    ses.resolve_host("app.sesh.test", &Default::default())
        .await
        .unwrap();
    assert_eq!(queries_now(&dns, "app.sesh.test", 1), 1);
    let local = |cache_usage| ResolveHostOptions {
        source: HostResolverSource::LocalOnly,
        cache_usage,
        ..Default::default()
    };

    // Past the answer's TTL of one second, as Chromium keeps it a minute.
    tokio::time::advance(Duration::from_secs(2)).await;
    ses.resolve_host("app.sesh.test", &local(CacheUsage::Allowed))
        .await
        .unwrap();
    ses.resolve_host("app.sesh.test", &Default::default())
        .await
        .unwrap();
    assert_eq!(queries_now(&dns, "app.sesh.test", 2), 1);

    // Past the minute: stale, taken only when allowed.
    tokio::time::advance(Duration::from_secs(59)).await;
    let miss = ses
        .resolve_host("app.sesh.test", &local(CacheUsage::Allowed))
        .await
        .unwrap_err();
    assert_eq!(miss.error.code(), -804, "{miss}");
    let stale = ses
        .resolve_host("app.sesh.test", &local(CacheUsage::StaleAllowed))
        .await
        .unwrap();
    assert_eq!(stale.endpoints[0].address, "127.0.0.1");
    assert_eq!(dns.queries("app.sesh.test"), 1);
    // And asked for again otherwise.
    ses.resolve_host("app.sesh.test", &Default::default())
        .await
        .unwrap();
    assert_eq!(queries_now(&dns, "app.sesh.test", 2), 2);
}
