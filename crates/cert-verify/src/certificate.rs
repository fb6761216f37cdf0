//! Electron's `Certificate` structure, read from DER.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use crate::{Error, Result};

/// One side of a certificate (issuer or subject), as Electron's
/// `CertificatePrincipal`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificatePrincipal {
    /// The common name (CN), or `""`.
    pub common_name: String,
    /// The organizations (O).
    pub organizations: Vec<String>,
    /// The organizational units (OU).
    pub organization_units: Vec<String>,
    /// The locality (L), or `""`.
    pub locality: String,
    /// The state or province (ST), or `""`.
    pub state: String,
    /// The country (C), or `""`.
    pub country: String,
}

impl CertificatePrincipal {
    fn of(name: &X509Name<'_>) -> Self {
        let all = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
            it.filter_map(|a| a.as_str().ok().map(str::to_owned))
                .collect::<Vec<_>>()
        };
        let first = |v: Vec<String>| v.into_iter().next().unwrap_or_default();
        CertificatePrincipal {
            common_name: first(all(&mut name.iter_common_name())),
            organizations: all(&mut name.iter_organization()),
            organization_units: all(&mut name.iter_organizational_unit()),
            locality: first(all(&mut name.iter_locality())),
            state: first(all(&mut name.iter_state_or_province())),
            country: first(all(&mut name.iter_country())),
        }
    }

    /// Chromium's display name: the common name, else the first
    /// organization, else the first organizational unit.
    pub fn display_name(&self) -> String {
        if !self.common_name.is_empty() {
            return self.common_name.clone();
        }
        self.organizations
            .first()
            .or(self.organization_units.first())
            .cloned()
            .unwrap_or_default()
    }
}

/// Electron's `Certificate`: what a verify proc, `select-client-certificate`
/// and `sesh cert` show of a certificate. Its JSON is Electron's.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    /// The whole certificate, PEM encoded.
    pub data: String,
    /// The issuer.
    pub issuer: CertificatePrincipal,
    /// The issuer's display name.
    pub issuer_name: String,
    /// The next certificate up the chain, when the chain has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_cert: Option<Box<Certificate>>,
    /// The subject.
    pub subject: CertificatePrincipal,
    /// The subject's display name.
    pub subject_name: String,
    /// The serial number, upper-case hex.
    pub serial_number: String,
    /// notBefore, in seconds since the Unix epoch.
    pub valid_start: f64,
    /// notAfter, in seconds since the Unix epoch.
    pub valid_expiry: f64,
    /// `sha256/` and the base64 SHA-256 digest of the DER certificate.
    pub fingerprint: String,
}

impl Certificate {
    /// One certificate, from DER, without an issuer.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCertificate`] when `der` is not an X.509 certificate.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| Error::InvalidCertificate {
            reason: e.to_string(),
        })?;
        let issuer = CertificatePrincipal::of(cert.issuer());
        let subject = CertificatePrincipal::of(cert.subject());
        let serial: String = cert
            .tbs_certificate
            .raw_serial()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let validity = cert.validity();
        Ok(Certificate {
            data: pem(der),
            issuer_name: issuer.display_name(),
            issuer,
            issuer_cert: None,
            subject_name: subject.display_name(),
            subject,
            serial_number: serial,
            valid_start: validity.not_before.timestamp() as f64,
            valid_expiry: validity.not_after.timestamp() as f64,
            fingerprint: fingerprint(der),
        })
    }

    /// The first certificate of `chain` (leaf first), each carrying the next
    /// as its `issuer_cert`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCertificate`] for an empty chain or a certificate that
    /// cannot be read.
    pub fn from_chain<C: AsRef<[u8]>>(chain: &[C]) -> Result<Self> {
        let mut next: Option<Box<Certificate>> = None;
        for der in chain.iter().rev() {
            let mut cert = Certificate::from_der(der.as_ref())?;
            cert.issuer_cert = next;
            next = Some(Box::new(cert));
        }
        next.map(|b| *b).ok_or(Error::InvalidCertificate {
            reason: "the chain is empty".into(),
        })
    }

    /// The chain as a list, leaf first.
    pub fn chain(&self) -> Vec<&Certificate> {
        let mut out = vec![self];
        let mut cur = self;
        while let Some(next) = &cur.issuer_cert {
            out.push(next);
            cur = next;
        }
        out
    }
}

/// The PEM form of a DER certificate.
pub fn pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Chromium's fingerprint string: `sha256/` + base64 of SHA-256(DER).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    format!("sha256/{}", STANDARD.encode(digest.as_ref()))
}

/// The DER certificates of a PEM text (any number of `CERTIFICATE` blocks).
///
/// # Errors
///
/// [`Error::InvalidCertificate`] when a block is not valid base64 or the
/// text holds no certificate.
pub fn der_from_pem(text: &str) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            let b64 = body.take().ok_or(Error::InvalidCertificate {
                reason: "END CERTIFICATE without BEGIN".into(),
            })?;
            out.push(
                STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|e| Error::InvalidCertificate {
                        reason: format!("bad base64 in PEM: {e}"),
                    })?,
            );
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    if out.is_empty() {
        return Err(Error::InvalidCertificate {
            reason: "no CERTIFICATE block in the PEM text".into(),
        });
    }
    Ok(out)
}
