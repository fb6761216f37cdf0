//! `setSSLConfig`: versions and cipher suites, against servers that speak
//! only some of them.

use rustls::SupportedCipherSuite;
use sesh_cert_verify::{CertVerifier, Error, NetError, SslConfig};

use crate::support::{Ca, ServerOptions, connect, serve};

fn config(min: Option<&str>, max: Option<&str>, disabled: &[u16]) -> SslConfig {
    SslConfig {
        min_version: min.map(str::to_owned),
        max_version: max.map(str::to_owned),
        disabled_cipher_suites: disabled.to_vec(),
    }
}

/// A leaf for `tls.test` under a new root, and a verifier trusting that
/// root alone.
fn trusted_leaf(root_name: &str) -> (crate::support::Leaf, CertVerifier) {
    let root = Ca::root(root_name);
    let leaf = root.leaf(&["tls.test"]);
    let verifier = CertVerifier::without_system_roots();
    verifier.add_root_pem(&root.pem).unwrap();
    (leaf, verifier)
}

struct Servers {
    verifier: CertVerifier,
    tls12: std::net::SocketAddr,
    tls13: std::net::SocketAddr,
    one_suite: std::net::SocketAddr,
    suite: u16,
}

fn servers() -> Servers {
    let (leaf, verifier) = trusted_leaf("ssl root");
    let chain = vec![leaf.der.clone()];
    let tls12 = serve(
        chain.clone(),
        &leaf.key,
        ServerOptions {
            versions: vec![&rustls::version::TLS12],
            suites: None,
            kx_groups: None,
        },
    );
    let tls13 = serve(
        chain.clone(),
        &leaf.key,
        ServerOptions {
            versions: vec![&rustls::version::TLS13],
            suites: None,
            kx_groups: None,
        },
    );
    // A TLS 1.2 server with a single cipher suite matching its ECDSA key.
    let only: SupportedCipherSuite =
        rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
    let one_suite = serve(
        chain,
        &leaf.key,
        ServerOptions {
            versions: vec![&rustls::version::TLS12],
            suites: Some(vec![only]),
            kx_groups: None,
        },
    );
    Servers {
        verifier,
        tls12,
        tls13,
        one_suite,
        suite: u16::from(only.suite()),
    }
}

fn result(v: &CertVerifier, addr: std::net::SocketAddr) -> NetError {
    match connect(v, addr, "tls.test") {
        Ok(o) => o.result,
        Err(e) => e.error,
    }
}

#[test]
fn versions_are_honoured() {
    let s = servers();
    assert_eq!(result(&s.verifier, s.tls12), NetError::OK);
    assert_eq!(result(&s.verifier, s.tls13), NetError::OK);

    s.verifier
        .set_ssl_config(config(Some("tls1.3"), None, &[]))
        .unwrap();
    assert_eq!(
        result(&s.verifier, s.tls12),
        NetError::SSL_VERSION_OR_CIPHER_MISMATCH
    );
    assert_eq!(result(&s.verifier, s.tls13), NetError::OK);

    s.verifier
        .set_ssl_config(config(None, Some("tls1.2"), &[]))
        .unwrap();
    assert_eq!(
        result(&s.verifier, s.tls13),
        NetError::SSL_VERSION_OR_CIPHER_MISMATCH
    );
    assert_eq!(result(&s.verifier, s.tls12), NetError::OK);

    // tls1 and tls1.1 mean TLS 1.2, the oldest version spoken.
    s.verifier
        .set_ssl_config(config(Some("tls1"), Some("tls1.2"), &[]))
        .unwrap();
    assert_eq!(result(&s.verifier, s.tls12), NetError::OK);
    s.verifier
        .set_ssl_config(config(Some("tls1.1"), None, &[]))
        .unwrap();
    assert_eq!(result(&s.verifier, s.tls12), NetError::OK);
}

#[test]
fn a_disabled_suite_that_is_the_servers_only_one_fails_the_handshake() {
    let s = servers();
    assert_eq!(result(&s.verifier, s.one_suite), NetError::OK);
    s.verifier
        .set_ssl_config(config(None, None, &[s.suite]))
        .unwrap();
    assert_eq!(
        result(&s.verifier, s.one_suite),
        NetError::SSL_VERSION_OR_CIPHER_MISMATCH
    );
    // Other servers still work; TLS 1.3 suites cannot be disabled.
    s.verifier
        .set_ssl_config(config(None, None, &[s.suite, 0x1301, 0x1302, 0x1303]))
        .unwrap();
    assert_eq!(result(&s.verifier, s.tls13), NetError::OK);
}

#[test]
fn bad_configs_are_refused_and_change_nothing() {
    let s = servers();
    let generation = s.verifier.ssl_generation();
    let err = s
        .verifier
        .set_ssl_config(config(Some("ssl3"), None, &[]))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidSslVersion {
                field: "minVersion",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"ssl3\""), "{err}");
    let err = s
        .verifier
        .set_ssl_config(config(Some("tls1.3"), Some("tls1.2"), &[]))
        .unwrap_err();
    assert!(matches!(err, Error::NoSslVersions { .. }), "{err:?}");
    let all12: Vec<u16> = rustls::crypto::aws_lc_rs::default_provider()
        .cipher_suites
        .iter()
        .map(|s| u16::from(s.suite()))
        .collect();
    let err = s
        .verifier
        .set_ssl_config(config(None, Some("tls1.2"), &all12))
        .unwrap_err();
    assert_eq!(err, Error::NoCipherSuites);
    assert_eq!(s.verifier.ssl_generation(), generation);
    assert_eq!(s.verifier.ssl_config(), SslConfig::default());
    // Unknown but parsable suite numbers are ignored.
    let next = s
        .verifier
        .set_ssl_config(config(None, None, &[0x0004, 0xC002, 0xFFFF]))
        .unwrap();
    assert_eq!(next, generation + 1);
    assert_eq!(result(&s.verifier, s.tls12), NetError::OK);
}

#[test]
fn the_config_is_electrons_json() {
    let c: SslConfig = serde_json::from_str(
        r#"{"minVersion":"tls1.2","maxVersion":"tls1.3","disabledCipherSuites":[49199]}"#,
    )
    .unwrap();
    assert_eq!(c, config(Some("tls1.2"), Some("tls1.3"), &[0xC02F]));
}

/// Talks to `addr` and returns the group the handshake settled on, and
/// whether it took a HelloRetryRequest.
fn negotiated(verifier: &CertVerifier, addr: std::net::SocketAddr) -> (rustls::NamedGroup, bool) {
    use std::io::{Read, Write};

    let rt = crate::support::runtime();
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    let (conn, outcome) = verifier
        .connect_blocking(&rt, &mut tcp, "tls.test")
        .unwrap();
    assert!(outcome.result.is_ok());
    let group = conn.negotiated_key_exchange_group().unwrap().name();
    let retried = conn.handshake_kind() == Some(rustls::HandshakeKind::FullWithHelloRetryRequest);
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"hello").unwrap();
    let mut answer = [0u8; 5];
    tls.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"hello");
    (group, retried)
}

#[test]
fn x25519mlkem768_is_offered_first_with_x25519_beside_it() {
    use rustls::NamedGroup;
    use sesh_cert_verify::kx::X25519MLKEM768;

    let (leaf, verifier) = trusted_leaf("kx root");
    let ring = rustls::crypto::ring::kx_group::X25519;
    // A server that prefers the hybrid gets it.
    let hybrid = serve(
        vec![leaf.der.clone()],
        &leaf.key,
        ServerOptions {
            kx_groups: Some(vec![X25519MLKEM768, ring]),
            ..ServerOptions::default()
        },
    );
    assert_eq!(
        negotiated(&verifier, hybrid),
        (NamedGroup::X25519MLKEM768, false)
    );
    // A server without it takes the X25519 share sent beside it, with no
    // second round trip.
    let plain = serve(vec![leaf.der.clone()], &leaf.key, ServerOptions::default());
    assert_eq!(negotiated(&verifier, plain), (NamedGroup::X25519, false));
    // A server with P-256 only asks again, and gets it.
    let p256 = serve(
        vec![leaf.der.clone()],
        &leaf.key,
        ServerOptions {
            kx_groups: Some(vec![rustls::crypto::ring::kx_group::SECP256R1]),
            ..ServerOptions::default()
        },
    );
    assert_eq!(negotiated(&verifier, p256), (NamedGroup::secp256r1, true));
    // TLS 1.2 has no hybrid: plain ECDHE.
    let tls12 = serve(
        vec![leaf.der.clone()],
        &leaf.key,
        ServerOptions {
            versions: vec![&rustls::version::TLS12],
            kx_groups: Some(vec![X25519MLKEM768, ring]),
            ..ServerOptions::default()
        },
    );
    assert_eq!(negotiated(&verifier, tls12), (NamedGroup::X25519, false));
}

#[test]
fn chromiums_suite_order_puts_chacha_first_only_without_aes_hardware() {
    use sesh_cert_verify::chromium_cipher_suites;
    // Chromium's ClientHello (BoringSSL with Chromium's cipher string), less
    // the CBC and RSA-key-exchange suites rustls does not implement; without
    // AES instructions ChaCha20-Poly1305 leads in TLS 1.3 and in TLS 1.2.
    assert_eq!(
        chromium_cipher_suites(true),
        [
            0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8
        ]
    );
    assert_eq!(
        chromium_cipher_suites(false),
        [
            0x1303, 0x1301, 0x1302, 0xCCA9, 0xCCA8, 0xC02B, 0xC02F, 0xC02C, 0xC030
        ]
    );
}

/// The cipher suites of the ClientHello a verifier sends with `config`, as
/// a server reads them off the wire.
fn offered_suites(config: &SslConfig) -> Vec<u16> {
    let verifier = CertVerifier::without_system_roots();
    verifier.set_ssl_config(config.clone()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = std::thread::spawn(move || {
        let rt = crate::support::runtime();
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        // The server hangs up after reading the hello: the handshake fails.
        let _ = verifier.connect_blocking(&rt, &mut tcp, "tls.test");
    });
    let (mut socket, _) = listener.accept().unwrap();
    let mut acceptor = rustls::server::Acceptor::default();
    let accepted = loop {
        acceptor.read_tls(&mut socket).unwrap();
        if let Some(accepted) = acceptor.accept().unwrap() {
            break accepted;
        }
    };
    let suites = accepted
        .client_hello()
        .cipher_suites()
        .iter()
        .map(|&s| u16::from(s))
        // The renegotiation signal, not a suite.
        .filter(|&s| s != 0x00FF)
        .collect();
    drop(socket);
    client.join().unwrap();
    suites
}

#[test]
fn the_client_hello_lists_chromiums_suites_in_chromiums_order() {
    use sesh_cert_verify::{chromium_cipher_suites, has_aes_hardware};
    let order = chromium_cipher_suites(has_aes_hardware());
    assert_eq!(offered_suites(&SslConfig::default()), order);
    // Disabling a TLS 1.2 suite takes it out and keeps the order.
    let without: Vec<u16> = order.iter().copied().filter(|&s| s != 0xC02F).collect();
    assert_eq!(offered_suites(&config(None, None, &[0xC02F])), without);
    // TLS 1.3 only: its three suites, still in Chromium's order.
    assert_eq!(
        offered_suites(&config(Some("tls1.3"), None, &[])),
        order[..3].to_vec()
    );
}

#[test]
fn a_server_that_follows_the_client_picks_chromiums_first_suite() {
    use sesh_cert_verify::{chromium_cipher_suites, has_aes_hardware};
    let s = servers();
    let rt = crate::support::runtime();
    let mut tcp = std::net::TcpStream::connect(s.tls13).unwrap();
    let (conn, outcome) = s
        .verifier
        .connect_blocking(&rt, &mut tcp, "tls.test")
        .unwrap();
    assert!(outcome.result.is_ok());
    let suite = u16::from(conn.negotiated_cipher_suite().unwrap().suite());
    // rustls's own first choice would be AES-256-GCM (0x1302).
    assert_eq!(suite, chromium_cipher_suites(has_aes_hardware())[0]);
}

/// The groups of the key shares in a ClientHello record, read off the wire.
fn key_share_groups(record: &[u8]) -> Vec<u16> {
    let u16_at = |at: usize| u16::from_be_bytes([record[at], record[at + 1]]);
    // Record header (5), handshake header (4), version (2), random (32).
    let mut at = 5 + 4 + 2 + 32;
    at += 1 + usize::from(record[at]); // session id
    at += 2 + usize::from(u16_at(at)); // cipher suites
    at += 1 + usize::from(record[at]); // compression methods
    let end = at + 2 + usize::from(u16_at(at));
    at += 2;
    while at < end {
        let (kind, len) = (u16_at(at), usize::from(u16_at(at + 2)));
        if kind == 0x0033 {
            let mut groups = Vec::new();
            let mut share = at + 6;
            while share < at + 4 + len {
                groups.push(u16_at(share));
                share += 4 + usize::from(u16_at(share + 2));
            }
            return groups;
        }
        at += 4 + len;
    }
    Vec::new()
}

/// A relay to `server` that keeps the first record each client sends.
fn hello_recorder(
    server: std::net::SocketAddr,
) -> (std::net::SocketAddr, std::sync::mpsc::Receiver<Vec<u8>>) {
    use std::io::{Read, Write};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let mut upstream = std::net::TcpStream::connect(server).unwrap();
            let mut record = vec![0u8; 5];
            client.read_exact(&mut record).unwrap();
            let len = usize::from(u16::from_be_bytes([record[3], record[4]]));
            record.resize(5 + len, 0);
            client.read_exact(&mut record[5..]).unwrap();
            upstream.write_all(&record).unwrap();
            tx.send(record).unwrap();
            let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            std::thread::spawn(move || std::io::copy(&mut u2, &mut c2));
            std::thread::spawn(move || std::io::copy(&mut client, &mut upstream));
        }
    });
    (addr, rx)
}

#[test]
fn every_client_hello_carries_the_hybrid_share_as_chromiums_do() {
    use std::io::{Read, Write};

    let (leaf, verifier) = trusted_leaf("share root");
    // A server without ML-KEM: it settles on X25519 each time.
    let server = serve(vec![leaf.der.clone()], &leaf.key, ServerOptions::default());
    let (relay, hellos) = hello_recorder(server);
    let rt = crate::support::runtime();
    let mut kinds = Vec::new();
    for _ in 0..3 {
        let mut tcp = std::net::TcpStream::connect(relay).unwrap();
        let (conn, outcome) = verifier
            .connect_blocking(&rt, &mut tcp, "tls.test")
            .unwrap();
        assert!(outcome.result.is_ok());
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(b"hello").unwrap();
        let mut answer = [0u8; 5];
        tls.read_exact(&mut answer).unwrap();
        kinds.push(tls.conn.handshake_kind());
        let groups = key_share_groups(&hellos.recv().unwrap());
        // X25519MLKEM768, then X25519 — not only the group the server
        // chose last time, which is what rustls sends by itself.
        assert_eq!(groups, [0x11EC, 0x001D]);
    }
    // Sessions still resume.
    assert_eq!(kinds[0], Some(rustls::HandshakeKind::Full));
    assert_eq!(kinds[2], Some(rustls::HandshakeKind::Resumed));
}
