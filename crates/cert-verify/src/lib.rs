//! TLS server certificate verification for sesh sessions.
//!
//! [`CertVerifier`] decides whether a server's certificate chain is trusted,
//! the way Chromium does it for Electron: default verification against the
//! system's roots (plus roots an app adds), failures as Chromium's net errors
//! ([`NetError`], e.g. `net::ERR_CERT_AUTHORITY_INVALID`, −202), and
//! Electron's `setCertificateVerifyProc` with its request
//! ([`VerifyRequest`], carrying the [`Certificate`] structure) and answer
//! codes, cached per host and chain. [`SslConfig`] is `setSSLConfig`'s
//! argument; the verifier turns it into rustls client configurations.
//!
//! ```
//! use sesh_cert_verify::{CertVerifier, NetError};
//! use rustls_pki_types::UnixTime;
//!
//! # fn main() -> Result<(), sesh_cert_verify::Error> {
//! let ca = rcgen::generate_simple_self_signed(vec!["intranet.corp".into()]).expect("rcgen");
//! let der = ca.cert.der().clone();
//!
//! let verifier = CertVerifier::without_system_roots();
//! let unknown = verifier.verify_default("intranet.corp", &[der.clone()], UnixTime::now());
//! assert_eq!(unknown.result, NetError::CERT_AUTHORITY_INVALID);
//! assert_eq!(unknown.result.to_string(), "net::ERR_CERT_AUTHORITY_INVALID");
//!
//! verifier.add_root_pem(&ca.cert.pem())?; // pin the private CA
//! let trusted = verifier.verify_default("intranet.corp", &[der.clone()], UnixTime::now());
//! assert_eq!(trusted.result, NetError::OK);
//! assert!(!trusted.is_issued_by_known_root); // a locally added root
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod certificate;
mod error;
pub mod kx;
mod net_error;
mod ssl;
mod verifier;

pub use certificate::{Certificate, CertificatePrincipal, der_from_pem, fingerprint, pem};
pub use error::{Error, Result};
pub use net_error::NetError;
pub use rustls_pki_types::{CertificateDer, UnixTime};
pub use ssl::{SslConfig, chromium_cipher_suites, has_aes_hardware};
pub use verifier::{
    BoxFuture, CertVerifier, ConnectError, DefaultVerification, SessionCache, VerifierStats,
    VerifyOutcome, VerifyRequest, load_system_roots, peer_chain,
};
