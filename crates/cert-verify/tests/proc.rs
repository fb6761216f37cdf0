//! `setCertificateVerifyProc`: answers, request, cache, replacement,
//! panics and silence.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use sesh_cert_verify::{CertVerifier, NetError, VerifyRequest};

use crate::support::{Ca, Leaf, ServerOptions, connect, runtime, serve};

struct Setup {
    verifier: CertVerifier,
    trusted: std::net::SocketAddr,
    untrusted: std::net::SocketAddr,
}

/// A server with a trusted chain for `good.test` and one with a self-signed
/// certificate for `bad.test`.
fn setup() -> Setup {
    let root = Ca::root("proc root");
    let leaf = root.leaf(&["good.test"]);
    let own = Leaf::self_signed(&["bad.test"]);
    let verifier = CertVerifier::without_system_roots();
    verifier.add_root_pem(&root.pem).unwrap();
    Setup {
        trusted: serve(vec![leaf.der.clone()], &leaf.key, ServerOptions::default()),
        untrusted: serve(vec![own.der.clone()], &own.key, ServerOptions::default()),
        verifier,
    }
}

fn result(v: &CertVerifier, addr: std::net::SocketAddr, host: &str) -> NetError {
    match connect(v, addr, host) {
        Ok(o) => o.result,
        Err(e) => e.error,
    }
}

#[test]
fn each_answer_of_the_proc() {
    let s = setup();
    let answer = Arc::new(AtomicUsize::new(0));
    let codes = [0, -2, -3, -200];
    let a = answer.clone();
    s.verifier
        .set_certificate_verify_proc(Some(move |_req: VerifyRequest| {
            let code = codes[a.load(Ordering::SeqCst)];
            async move { code }
        }));
    // 0 accepts, even an untrusted certificate, and says so.
    let accepted = connect(&s.verifier, s.untrusted, "bad.test").unwrap();
    assert_eq!(accepted.result, NetError::OK);
    assert!(accepted.proc_accepted);
    assert_eq!(accepted.default_result, NetError::CERT_AUTHORITY_INVALID);
    // −2 rejects, even a trusted one.
    answer.store(1, Ordering::SeqCst);
    s.verifier.clear_cache();
    assert_eq!(
        result(&s.verifier, s.trusted, "good.test"),
        NetError::FAILED
    );
    // −3 uses the default result.
    answer.store(2, Ordering::SeqCst);
    s.verifier.clear_cache();
    assert_eq!(result(&s.verifier, s.trusted, "good.test"), NetError::OK);
    assert_eq!(
        result(&s.verifier, s.untrusted, "bad.test"),
        NetError::CERT_AUTHORITY_INVALID
    );
    // Another code rejects with that code.
    answer.store(3, Ordering::SeqCst);
    s.verifier.clear_cache();
    assert_eq!(
        result(&s.verifier, s.trusted, "good.test"),
        NetError::CERT_COMMON_NAME_INVALID
    );
    // No proc: the default again.
    s.verifier
        .set_certificate_verify_proc(None::<fn(VerifyRequest) -> std::future::Ready<i32>>);
    assert_eq!(result(&s.verifier, s.trusted, "good.test"), NetError::OK);
}

#[test]
fn the_request_carries_what_electron_passes() {
    let s = setup();
    let seen: Arc<Mutex<Vec<VerifyRequest>>> = Arc::default();
    let log = seen.clone();
    s.verifier
        .set_certificate_verify_proc(Some(move |req: VerifyRequest| {
            log.lock().unwrap().push(req);
            async { -3 }
        }));
    let _ = connect(&s.verifier, s.untrusted, "bad.test");
    let _ = connect(&s.verifier, s.trusted, "good.test");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let bad = &seen[0];
    assert_eq!(bad.hostname, "bad.test");
    assert_eq!(bad.error_code, -202);
    assert_eq!(bad.verification_result, "net::ERR_CERT_AUTHORITY_INVALID");
    assert!(!bad.is_issued_by_known_root);
    assert!(
        bad.certificate
            .data
            .starts_with("-----BEGIN CERTIFICATE-----\n")
    );
    let good = &seen[1];
    assert_eq!(good.error_code, 0);
    assert_eq!(good.verification_result, "net::OK");
    assert_eq!(good.certificate.subject_name, "good.test");
    // The validated chain reaches the root; the presented one stops at the leaf.
    assert!(good.certificate.issuer_cert.is_none());
    let root = good
        .validated_certificate
        .issuer_cert
        .as_ref()
        .expect("the root");
    assert_eq!(root.subject_name, "proc root");
    // The JSON is Electron's.
    let json = serde_json::to_value(good).unwrap();
    for key in [
        "hostname",
        "certificate",
        "validatedCertificate",
        "isIssuedByKnownRoot",
        "verificationResult",
        "errorCode",
    ] {
        assert!(json.get(key).is_some(), "{key} missing in {json}");
    }
}

#[test]
fn verdicts_are_cached_per_host_and_chain_until_the_proc_changes() {
    let s = setup();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    s.verifier
        .set_certificate_verify_proc(Some(move |_r: VerifyRequest| {
            c.fetch_add(1, Ordering::SeqCst);
            async { 0 }
        }));
    for _ in 0..3 {
        assert_eq!(result(&s.verifier, s.untrusted, "bad.test"), NetError::OK);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(s.verifier.stats().cache_hits, 2);
    // Another host name with the same chain is asked about separately.
    let _ = result(&s.verifier, s.untrusted, "other.test");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // A new proc starts from an empty cache: verdicts of the old one are gone.
    let c2 = calls.clone();
    s.verifier
        .set_certificate_verify_proc(Some(move |_r: VerifyRequest| {
            c2.fetch_add(1, Ordering::SeqCst);
            async { -2 }
        }));
    assert_eq!(
        result(&s.verifier, s.untrusted, "bad.test"),
        NetError::FAILED
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // Verdicts made before any proc are dropped too (Electron keeps them).
    s.verifier
        .set_certificate_verify_proc(None::<fn(VerifyRequest) -> std::future::Ready<i32>>);
    assert_eq!(
        result(&s.verifier, s.untrusted, "bad.test"),
        NetError::CERT_AUTHORITY_INVALID
    );
    let c3 = calls.clone();
    s.verifier
        .set_certificate_verify_proc(Some(move |_r: VerifyRequest| {
            c3.fetch_add(1, Ordering::SeqCst);
            async { 0 }
        }));
    assert_eq!(result(&s.verifier, s.untrusted, "bad.test"), NetError::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[test]
fn a_panicking_proc_rejects_and_is_asked_again() {
    let s = setup();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    s.verifier
        .set_certificate_verify_proc(Some(move |_r: VerifyRequest| {
            c.fetch_add(1, Ordering::SeqCst);
            async {
                panic!("a bug in the app's proc");
            }
        }));
    assert_eq!(
        result(&s.verifier, s.trusted, "good.test"),
        NetError::FAILED
    );
    assert_eq!(
        result(&s.verifier, s.trusted, "good.test"),
        NetError::FAILED
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2, "a panic is not cached");
    // A proc that panics before returning its future is handled the same.
    s.verifier
        .set_certificate_verify_proc(Some(|_r: VerifyRequest| -> std::future::Ready<i32> {
            panic!("early");
        }));
    assert_eq!(
        result(&s.verifier, s.trusted, "good.test"),
        NetError::FAILED
    );
}

#[test]
fn a_silent_proc_times_out() {
    let s = setup();
    let verifier = s.verifier.with_proc_timeout(Duration::from_millis(200));
    verifier.set_certificate_verify_proc(Some(|_r: VerifyRequest| std::future::pending::<i32>()));
    let started = std::time::Instant::now();
    assert_eq!(
        result(&verifier, s.trusted, "good.test"),
        NetError::TIMED_OUT
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Not cached: a proc that answers next time is asked.
    verifier.set_certificate_verify_proc(Some(|_r: VerifyRequest| async { -3 }));
    assert_eq!(result(&verifier, s.trusted, "good.test"), NetError::OK);
}

#[test]
fn verify_works_without_a_connection() {
    let root = Ca::root("r");
    let leaf = root.leaf(&["x.test"]);
    let verifier = CertVerifier::without_system_roots();
    verifier.add_roots_der(vec![root.der.to_vec()]).unwrap();
    let chain: Vec<CertificateDer<'static>> = vec![leaf.der.clone()];
    let outcome = runtime().block_on(verifier.verify("x.test", &chain));
    assert_eq!(outcome.result, NetError::OK);
    assert!(!outcome.from_cache);
    let again = runtime().block_on(verifier.verify("X.TEST", &chain));
    assert!(again.from_cache, "host names are case-insensitive");
}
