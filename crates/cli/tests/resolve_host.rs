//! `sesh resolve-host`: what `ses.resolveHost` answers, offline (the
//! options against a DNS server are tested in sesh-core).

use crate::{sesh_in, stderr, stdout};

/// Runs `sesh resolve-host ARGS…` on an in-memory partition.
fn resolve_host(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let all = [&["--partition", "m", "resolve-host"][..], args].concat();
    sesh_in(dir.path(), &all)
}

#[test]
fn endpoints_one_a_line_or_as_electrons_json() {
    let out = resolve_host(&["localhost"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "127.0.0.1 ipv4\n::1 ipv6\n");
    let out = resolve_host(&["--type", "AAAA", "--json", "localhost"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"endpoints": [{"address": "::1", "family": "ipv6"}]})
    );
}

#[test]
fn a_failure_is_the_net_error_and_exit_status_1() {
    let out = resolve_host(&["--source", "localOnly", "nowhere.sesh.test"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("net::ERR_DNS_CACHE_MISS"),
        "{}",
        stderr(&out)
    );
    let out = resolve_host(&["--type", "MX", "example.test"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("expected A, AAAA"),
        "{}",
        stderr(&out)
    );
}
