//! The `Certificate` structure, field for field.

use rcgen::{CertificateParams, DnType, KeyPair, SerialNumber};
use sesh_cert_verify::{Certificate, der_from_pem, pem};

use crate::support::Ca;

#[test]
fn fields_follow_electron() {
    let mut params = CertificateParams::new(vec!["www.example.test".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "www.example.test");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Example Org");
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, "Web");
    params
        .distinguished_name
        .push(DnType::LocalityName, "Paris");
    params
        .distinguished_name
        .push(DnType::StateOrProvinceName, "IDF");
    params.distinguished_name.push(DnType::CountryName, "FR");
    params.serial_number = Some(SerialNumber::from_slice(&[0x0a, 0xbc, 0xde]));
    params.not_before = rcgen::date_time_ymd(2024, 1, 2);
    params.not_after = rcgen::date_time_ymd(2034, 1, 2);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();

    let c = Certificate::from_der(cert.der()).unwrap();
    assert_eq!(c.subject.common_name, "www.example.test");
    assert_eq!(c.subject.organizations, ["Example Org"]);
    assert_eq!(c.subject.organization_units, ["Web"]);
    assert_eq!(c.subject.locality, "Paris");
    assert_eq!(c.subject.state, "IDF");
    assert_eq!(c.subject.country, "FR");
    assert_eq!(c.subject_name, "www.example.test");
    assert_eq!(c.issuer, c.subject, "self-signed");
    assert_eq!(c.serial_number, "0ABCDE");
    assert_eq!(c.valid_start, 1_704_153_600.0);
    assert_eq!(c.valid_expiry, 2_019_772_800.0);
    assert!(c.issuer_cert.is_none());
    // The PEM is the certificate itself.
    assert_eq!(der_from_pem(&c.data).unwrap(), [cert.der().to_vec()]);
    assert_eq!(c.data, pem(cert.der()));
    // Chromium's fingerprint: sha256/ + base64 of the DER's digest.
    assert!(c.fingerprint.starts_with("sha256/"), "{}", c.fingerprint);
    assert_eq!(c.fingerprint.len(), "sha256/".len() + 44);
    // The JSON keys are Electron's.
    let json = serde_json::to_value(&c).unwrap();
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
            "data",
            "fingerprint",
            "issuer",
            "issuerName",
            "serialNumber",
            "subject",
            "subjectName",
            "validExpiry",
            "validStart"
        ]
    );
    assert_eq!(json["subject"]["organizationUnits"][0], "Web");
}

#[test]
fn the_fingerprint_matches_openssl() {
    let ca = Ca::root("fingerprint");
    let c = Certificate::from_der(&ca.der).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("openssl x509 -outform DER | openssl dgst -sha256 -binary | openssl base64")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(ca.pem.as_bytes())?;
            child.wait_with_output()
        })
        .expect("openssl (Debian: openssl) must be installed");
    let expected = String::from_utf8(out.stdout).unwrap();
    assert_eq!(c.fingerprint, format!("sha256/{}", expected.trim()));
}

#[test]
fn display_names_fall_back_to_the_organization() {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Only An Org");
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let c = Certificate::from_der(cert.der()).unwrap();
    assert_eq!(c.subject.common_name, "");
    assert_eq!(c.subject_name, "Only An Org");
}

#[test]
fn chains_link_issuer_certs() {
    let root = Ca::root("chain root");
    let mid = root.intermediate("chain intermediate");
    let leaf = mid.leaf(&["leaf.test"]);
    let c =
        Certificate::from_chain(&[leaf.der.to_vec(), mid.der.to_vec(), root.der.to_vec()]).unwrap();
    let names: Vec<&str> = c.chain().iter().map(|c| c.subject_name.as_str()).collect();
    assert_eq!(names, ["leaf.test", "chain intermediate", "chain root"]);
    assert_eq!(c.issuer_name, "chain intermediate");
    assert!(Certificate::from_chain::<Vec<u8>>(&[]).is_err());
    assert!(Certificate::from_der(b"junk").is_err());
}
