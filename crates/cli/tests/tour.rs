//! `sesh tour` runs offline and exits 0.

use crate::{sesh_in, stderr, stdout};

#[test]
fn the_tour_runs_every_chapter() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sesh_in(tmp.path(), &["tour"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "1. Sessions and partitions",
        "2. Settings",
        "3. Events",
        "4. Proxies",
        "resolveProxy(https://example.com/        ) → SOCKS5 socks.example:1080",
        "resolveProxy(https://www.bank.example/login ) → HTTPS secure-proxy.corp.example:443",
        "resolveProxy(http://www.example.com/        ) → PROXY proxy1.corp.example:8080;PROXY proxy2.corp.example:8080;DIRECT",
        "ReferenceError",
        "5. TLS",
        "default verification, app.tour.test      → net::ERR_CERT_AUTHORITY_INVALID",
        "legacy.tour.test   → net::ERR_FAILED",
        "the proc was asked 2 times",
        "6. Cookies",
        "tracker=1; Domain=example                      refused",
        "after a restart (session cookies are gone): theme=dark; cart=3; consent=yes",
        "cookies.remove(url, 'cart') removed 1",
        "localStorage after the restart: recently-viewed = Some(\"[42, 7]\")",
        "  cookies left: 0, localStorage: None",
        "clearData({ dataTypes: ['cookies'], origins: ['https://help.shop.example'] }) → left: edition=uk (all of shop.example went)",
        "ses.resolveProxy(http://wiki.internal/       ) → DIRECT",
        "7. Download names",
        "      → _.._.ssh_authorized_keys",
        "three downloads of report.pdf: report (2).pdf",
        "8. Fetch and a download",
        "→ 200 OK \"hello from loopback\"",
        "the session kept its cookie: visit=1",
        "will-download: \"quarterly report.bin\", 3145728 bytes",
        "the server dropped the connection: state=interrupted after 1200000 of 3145728 bytes (38%), canResume=true",
        "resumed with Range: bytes=1200000- → completed: quarterly report.bin (3145728 bytes, SHA-256 identical to the server's: true)",
        "9. HTTPS through a proxy chosen by a PAC script",
        "→ 200 OK \"hello from the intranet\"",
        "two more fetches; tunnels the proxy opened: 1 (the session's pool kept the tunnelled connection alive), 1 idle in the pool",
        "ses.resolveHost('localhost', { queryType: 'A' }) → {\"endpoints\":[{\"address\":\"127.0.0.1\",\"family\":\"ipv4\"}]}",
        "ses.resolveHost('intranet.tour.test', { source: 'localOnly' }) → net::ERR_DNS_CACHE_MISS",
        "ses.interrupted_downloads() → 1 recorded by the session for a restart (offset 1200000)",
        "completed, so the record is gone: 0 interrupted download(s) left",
        "End of the tour",
        "asking again returns the same session: true",
        "registerPreloadScript({ type: 'service-worker', … }) → \"sw-bridge\"",
        "  a relative one is refused: a session's path must be an absolute path, got tour-profile",
        "\"preconnectUrl\":\"https://example.com/\"",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // It used the default storage of the given user-data directory.
    assert!(tmp.path().join("sesh.db").is_dir());
    assert!(tmp.path().join("Partitions/tour/sesh.db").is_dir());
    // A second run finds the same storage and still succeeds.
    let again = sesh_in(tmp.path(), &["tour"]);
    assert!(again.status.success(), "{}", stderr(&again));
}
