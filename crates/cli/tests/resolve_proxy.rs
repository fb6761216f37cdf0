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

#[test]
fn a_pac_script_over_http_is_fetched_by_the_session() {
    use std::io::{BufRead, BufReader, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let (status, body) = if first.contains(" /corp.pac ") {
                (
                    "200 OK",
                    "function FindProxyForURL(url, host) { return 'PROXY corp-proxy:8080; DIRECT'; }",
                )
            } else {
                ("404 Not Found", "no")
            };
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = crate::sesh_in(
        tmp.path(),
        &[
            "resolve-proxy",
            "--pac",
            &format!("http://{addr}/corp.pac"),
            "http://example.com/",
        ],
    );
    assert!(out.status.success(), "{}", crate::stderr(&out));
    assert_eq!(crate::stdout(&out), "PROXY corp-proxy:8080;DIRECT\n");
    // A script the server does not have: DIRECT, and the reason.
    let out = crate::sesh_in(
        tmp.path(),
        &[
            "resolve-proxy",
            "--pac",
            &format!("http://{addr}/missing.pac"),
            "http://example.com/",
        ],
    );
    assert_eq!(crate::stdout(&out), "DIRECT\n");
    assert!(
        crate::stderr(&out).contains("404"),
        "{}",
        crate::stderr(&out)
    );
}
