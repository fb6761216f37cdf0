//! Default verification: every failure is Chromium's net error.

use sesh_cert_verify::{CertVerifier, NetError, UnixTime};

use crate::support::{Ca, Leaf, ServerOptions, connect, serve};

struct Pki {
    root: Ca,
    intermediate: Ca,
}

fn pki() -> Pki {
    let root = Ca::root("sesh test root");
    let intermediate = root.intermediate("sesh test intermediate");
    Pki { root, intermediate }
}

fn trusting(root: &Ca) -> CertVerifier {
    let v = CertVerifier::without_system_roots();
    assert_eq!(v.add_root_pem(&root.pem).unwrap(), 1);
    v
}

fn result_of(
    verifier: &CertVerifier,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: &[u8],
    host: &str,
) -> NetError {
    let addr = serve(chain, key, ServerOptions::default());
    match connect(verifier, addr, host) {
        Ok(outcome) => outcome.result,
        Err(e) => e.error,
    }
}

#[test]
fn a_valid_chain_to_an_added_root_is_trusted_and_not_a_known_root() {
    let p = pki();
    let leaf = p.intermediate.leaf(&["app.test"]);
    let verifier = trusting(&p.root);
    let addr = serve(
        vec![leaf.der.clone(), p.intermediate.der.clone()],
        &leaf.key,
        ServerOptions::default(),
    );
    let outcome = connect(&verifier, addr, "app.test").unwrap();
    assert_eq!(outcome.result, NetError::OK);
    assert!(!outcome.is_issued_by_known_root);
    let default = verifier.verify_default(
        "app.test",
        &[leaf.der.clone(), p.intermediate.der.clone()],
        UnixTime::now(),
    );
    assert_eq!(
        default.validated_chain.len(),
        3,
        "leaf, intermediate and root"
    );
    assert_eq!(default.validated_chain[2], p.root.der);
}

#[test]
fn expired_and_not_yet_valid_certificates_are_date_errors() {
    let p = pki();
    let verifier = trusting(&p.root);
    for validity in [(2001, 2002), (2090, 2095)] {
        let leaf = p.intermediate.leaf_with(&["app.test"], validity, |_| {});
        let chain = vec![leaf.der.clone(), p.intermediate.der.clone()];
        assert_eq!(
            result_of(&verifier, chain, &leaf.key, "app.test"),
            NetError::CERT_DATE_INVALID,
            "{validity:?}"
        );
    }
}

#[test]
fn a_wrong_host_name_is_a_name_error() {
    let p = pki();
    let verifier = trusting(&p.root);
    let leaf = p.intermediate.leaf(&["app.test"]);
    let chain = vec![leaf.der.clone(), p.intermediate.der.clone()];
    let e = result_of(&verifier, chain, &leaf.key, "other.test");
    assert_eq!(e, NetError::CERT_COMMON_NAME_INVALID);
    assert_eq!(e.code(), -200);
    assert_eq!(e.to_string(), "net::ERR_CERT_COMMON_NAME_INVALID");
}

#[test]
fn untrusted_issuers_are_authority_errors() {
    let p = pki();
    // A self-signed leaf.
    let own = Leaf::self_signed(&["app.test"]);
    assert_eq!(
        result_of(
            &trusting(&p.root),
            vec![own.der.clone()],
            &own.key,
            "app.test"
        ),
        NetError::CERT_AUTHORITY_INVALID
    );
    // An issuer nobody trusts.
    let stranger = Ca::root("stranger");
    let leaf = stranger.leaf(&["app.test"]);
    assert_eq!(
        result_of(
            &trusting(&p.root),
            vec![leaf.der.clone()],
            &leaf.key,
            "app.test"
        ),
        NetError::CERT_AUTHORITY_INVALID
    );
    // A server that leaves out its intermediate.
    let leaf = p.intermediate.leaf(&["app.test"]);
    assert_eq!(
        result_of(
            &trusting(&p.root),
            vec![leaf.der.clone()],
            &leaf.key,
            "app.test"
        ),
        NetError::CERT_AUTHORITY_INVALID
    );
    // Without the root added, the full chain is not trusted either.
    let chain = vec![leaf.der.clone(), p.intermediate.der.clone()];
    assert_eq!(
        result_of(
            &CertVerifier::without_system_roots(),
            chain,
            &leaf.key,
            "app.test"
        ),
        NetError::CERT_AUTHORITY_INVALID
    );
}

#[test]
fn the_most_serious_error_is_reported_as_chromium_does() {
    let p = pki();
    let verifier = trusting(&p.root);
    // Expired and for another name: the name error wins.
    let leaf = p
        .intermediate
        .leaf_with(&["app.test"], (2001, 2002), |_| {});
    let chain = vec![leaf.der.clone(), p.intermediate.der.clone()];
    assert_eq!(
        verifier
            .verify_default("other.test", &chain, UnixTime::now())
            .result,
        NetError::CERT_COMMON_NAME_INVALID
    );
    // Expired and from an unknown issuer: the authority error wins.
    let stranger = Ca::root("stranger");
    let leaf = stranger.leaf_with(&["app.test"], (2001, 2002), |_| {});
    assert_eq!(
        verifier
            .verify_default("app.test", std::slice::from_ref(&leaf.der), UnixTime::now())
            .result,
        NetError::CERT_AUTHORITY_INVALID
    );
}

#[test]
fn ip_address_hosts_are_checked_against_ip_names() {
    let p = pki();
    let verifier = trusting(&p.root);
    let leaf = p.intermediate.leaf(&["127.0.0.1"]);
    let chain = vec![leaf.der.clone(), p.intermediate.der.clone()];
    assert_eq!(
        result_of(&verifier, chain.clone(), &leaf.key, "127.0.0.1"),
        NetError::OK
    );
    assert_eq!(
        verifier
            .verify_default("127.0.0.2", &chain, UnixTime::now())
            .result,
        NetError::CERT_COMMON_NAME_INVALID
    );
}

#[test]
fn garbage_is_an_invalid_certificate() {
    let verifier = CertVerifier::without_system_roots();
    let junk = rustls::pki_types::CertificateDer::from(vec![0x30, 0x03, 0x01, 0x01, 0xff]);
    assert_eq!(
        verifier
            .verify_default("a.test", &[junk], UnixTime::now())
            .result,
        NetError::CERT_INVALID
    );
    assert_eq!(
        verifier
            .verify_default("a.test", &[], UnixTime::now())
            .result,
        NetError::CERT_INVALID
    );
    assert!(verifier.add_root_pem("not a certificate").is_err());
}

#[test]
fn system_roots_do_not_trust_a_private_ca() {
    let p = pki();
    let leaf = p.intermediate.leaf(&["app.test"]);
    let chain = vec![leaf.der.clone(), p.intermediate.der.clone()];
    assert_eq!(
        result_of(&CertVerifier::new(), chain, &leaf.key, "app.test"),
        NetError::CERT_AUTHORITY_INVALID
    );
}

#[test]
fn the_system_roots_load_once_and_a_public_chain_needs_them() {
    // A verifier starts the load; the explicit call waits for it or does
    // it, once.
    let early = CertVerifier::new();
    let n = sesh_cert_verify::load_system_roots();
    assert!(n > 100, "only {n} system roots (Debian: ca-certificates)");
    assert_eq!(sesh_cert_verify::load_system_roots(), n);
    // Every root of Debian's bundle is among them.
    let path = "/etc/ssl/certs/ca-certificates.crt";
    let pem = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path} (Debian: ca-certificates): {e}"));
    let bundle = sesh_cert_verify::der_from_pem(&pem).unwrap().len();
    assert!(n >= bundle, "{n} system roots loaded, {bundle} in {path}");
    drop(early);
}

#[test]
fn known_roots_are_mozillas_public_roots() {
    // A public root as Debian ships it (ca-certificates), and a private one.
    let path = "/etc/ssl/certs/ISRG_Root_X1.pem";
    let pem = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path} (Debian: ca-certificates): {e}"));
    let public = sesh_cert_verify::der_from_pem(&pem).unwrap().remove(0);
    assert!(CertVerifier::is_known_root(&public));
    let private = Ca::root("private");
    assert!(!CertVerifier::is_known_root(&private.der));
    // A locally added root is trusted but not known.
    let p = pki();
    let leaf = p.intermediate.leaf(&["app.test"]);
    let chain = vec![leaf.der.clone(), p.intermediate.der.clone()];
    let v = trusting(&p.root);
    let d = v.verify_default("app.test", &chain, UnixTime::now());
    assert_eq!(d.result, NetError::OK);
    assert!(!d.is_issued_by_known_root);
}
