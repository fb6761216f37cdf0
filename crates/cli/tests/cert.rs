//! `sesh cert`: a real TLS server on 127.0.0.1, certificates from rcgen.

use std::net::{SocketAddr, TcpListener};

use serde_json::Value;
use sesh_test_support::{Ca, ServerOptions, serve_tls};

use crate::{sesh, stderr, stdout};

struct Server {
    addr: SocketAddr,
    ca_pem: String,
}

/// A server for `app.test` whose certificate comes from a fresh private CA.
fn server() -> Server {
    let ca = Ca::root("cli test CA");
    let leaf = ca.leaf(&["app.test"]);
    let addr = serve_tls(
        vec![leaf.der.clone(), ca.der.clone()],
        &leaf.key,
        ServerOptions::default(),
    );
    Server {
        addr,
        ca_pem: ca.pem,
    }
}

fn run(args: &[&str]) -> std::process::Output {
    sesh().arg("cert").args(args).output().unwrap()
}

#[test]
fn trusted_with_the_ca_json_has_electrons_keys() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &s.ca_pem).unwrap();
    let target = s.addr.to_string();
    let out = run(&[
        &target,
        "--servername",
        "app.test",
        "--ca",
        ca.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "certificate",
            "errorCode",
            "isIssuedByKnownRoot",
            "verificationResult"
        ]
    );
    assert_eq!(json["verificationResult"], "net::OK");
    assert_eq!(json["errorCode"], 0);
    assert_eq!(json["isIssuedByKnownRoot"], false);
    assert_eq!(json["certificate"]["subjectName"], "app.test");
    assert_eq!(
        json["certificate"]["issuerCert"]["subjectName"],
        "cli test CA"
    );
}

#[test]
fn untrusted_and_wrong_names_exit_1() {
    let s = server();
    let target = s.addr.to_string();
    let out = run(&[&target, "--servername", "app.test"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("verificationResult:  net::ERR_CERT_AUTHORITY_INVALID"),
        "{text}"
    );
    assert!(text.contains("errorCode:           -202"), "{text}");
    assert!(text.contains("0: app.test"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &s.ca_pem).unwrap();
    let out = run(&[
        &target,
        "--servername",
        "other.test",
        "--ca",
        ca.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        json["verificationResult"],
        "net::ERR_CERT_COMMON_NAME_INVALID"
    );
    assert_eq!(json["errorCode"], -200);
}

#[test]
fn usage_and_connection_errors_exit_2() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = run(&[&closed.to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("net::ERR_CONNECTION_FAILED"),
        "{}",
        stderr(&out)
    );

    let out = run(&["127.0.0.1:notaport"]);
    assert_eq!(out.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let out = run(&["127.0.0.1:1", "--ca", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.pem"), "{}", stderr(&out));
}
