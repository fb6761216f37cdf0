//! `sesh resolve-proxy`: exactly what `ses.resolveProxy` answers.

use serde_json::Value;

use crate::{sesh, stderr, stdout};

fn run(args: &[&str]) -> std::process::Output {
    sesh().arg("resolve-proxy").args(args).output().unwrap()
}

#[test]
fn fixed_rules_one_line_per_url() {
    let out = run(&[
        "--rules",
        "http=foopy:80;https=socks5://bar;socks=baz",
        "--bypass",
        "*.internal, <local>",
        "http://example.com/",
        "https://example.com/",
        "ftp://example.com/",
        "http://wiki.internal/",
        "http://intranet/",
        "http://127.0.0.1:3000/",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "PROXY foopy:80\nSOCKS5 bar:1080\nSOCKS baz:1080\nDIRECT\nDIRECT\nDIRECT\n"
    );
}

#[test]
fn all_invalid_rules_give_an_empty_line_and_warnings() {
    let out = run(&[
        "--rules",
        "quic://x,foopy:,ftp://y",
        "http://a/",
        "http://localhost/",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "\nDIRECT\n");
    let err = stderr(&out);
    for token in ["\"quic://x\"", "\"foopy:\"", "\"ftp://y\""] {
        assert!(err.contains(token), "{token} not named in {err}");
    }
}

#[test]
fn pac_files_with_failures_fall_back_to_direct() {
    let dir = tempfile::tempdir().unwrap();
    let pac = dir.path().join("corp.pac");
    std::fs::write(
        &pac,
        r#"function FindProxyForURL(url, host) {
             if (host == "boom.example") throw new Error("no rule for " + host);
             if (host == "num.example") return 7;
             if (dnsDomainIs(host, ".corp.example")) return "DIRECT";
             return "PROXY p1.corp.example:8080; proxy p2.corp.example; DIRECT";
           }"#,
    )
    .unwrap();
    let out = run(&[
        "--pac",
        pac.to_str().unwrap(),
        "http://www.example.com/",
        "http://boom.example/",
        "http://num.example/",
        "http://git.corp.example/",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "PROXY p1.corp.example:8080;PROXY p2.corp.example:80;DIRECT\nDIRECT\nDIRECT\nDIRECT\n"
    );
    let err = stderr(&out);
    assert!(err.contains("no rule for boom.example"), "{err}");
    assert!(err.contains("did not return a string"), "{err}");

    std::fs::write(
        &pac,
        "function FindProxyForURL(url, host) { return 'DIRECT';",
    )
    .unwrap();
    let out = run(&["--pac", pac.to_str().unwrap(), "http://a/"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "DIRECT\n");
    assert!(stderr(&out).contains("SyntaxError"), "{}", stderr(&out));
}

#[test]
fn json_adds_the_typed_list() {
    let out = run(&["--json", "--rules", "https://p:8443,direct://", "http://a/"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(line["url"], "http://a/");
    assert_eq!(line["pacString"], "HTTPS p:8443;DIRECT");
    assert_eq!(
        line["proxies"],
        serde_json::json!([{"scheme": "https", "host": "p", "port": 8443}, {"scheme": "direct"}])
    );
}

#[test]
fn bad_modes_and_urls_are_errors() {
    let out = run(&["--mode", "bogus", "http://a/"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("Invalid mode"), "{}", stderr(&out));
    let out = run(&["--mode", "direct", "not a url", "http://a/"]);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "DIRECT\n");
    assert!(stderr(&out).contains("\"not a url\""), "{}", stderr(&out));
}
