//! `ses.setSSLConfig(config)`: TLS versions and cipher suites.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Electron's SSL config: the argument of `ses.setSSLConfig`.
///
/// sesh speaks TLS 1.2 and 1.3 only: a `minVersion` of `tls1` or `tls1.1`
/// (Electron's default is `tls1`) means 1.2. Disabled cipher suites are IANA
/// numbers (`0xC02F`); numbers sesh does not know are ignored, as Electron
/// ignores them, and TLS 1.3 suites cannot be disabled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SslConfig {
    /// `tls1`, `tls1.1`, `tls1.2` or `tls1.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    /// `tls1.2` or `tls1.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
    /// IANA numbers of cipher suites not to use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_cipher_suites: Vec<u16>,
}

/// A TLS version by Electron's name: 0 is TLS 1.0 … 3 is TLS 1.3.
fn version_rank(field: &'static str, name: &str) -> Result<u8> {
    Ok(match name {
        "tls1" => 0,
        "tls1.1" => 1,
        "tls1.2" => 2,
        "tls1.3" => 3,
        other => {
            return Err(Error::InvalidSslVersion {
                field,
                name: other.to_owned(),
            });
        }
    })
}

/// What an [`SslConfig`] allows, checked.
#[derive(Debug, Clone)]
pub(crate) struct SslSettings {
    pub(crate) versions: Vec<&'static SupportedProtocolVersion>,
    pub(crate) provider: Arc<CryptoProvider>,
}

impl SslConfig {
    /// Checks the config and works out the versions and suites it allows.
    pub(crate) fn settings(&self) -> Result<SslSettings> {
        let min = version_rank("minVersion", self.min_version.as_deref().unwrap_or("tls1"))?;
        let max = version_rank(
            "maxVersion",
            self.max_version.as_deref().unwrap_or("tls1.3"),
        )?;
        let (min, max) = (min.max(2), max);
        if max < min {
            return Err(Error::NoSslVersions {
                min: self.min_version.clone().unwrap_or_else(|| "tls1".into()),
                max: self.max_version.clone().unwrap_or_else(|| "tls1.3".into()),
            });
        }
        let mut versions = Vec::new();
        if max >= 3 {
            versions.push(&rustls::version::TLS13);
        }
        if min <= 2 {
            versions.push(&rustls::version::TLS12);
        }
        let base = rustls::crypto::ring::default_provider();
        let suites: Vec<SupportedCipherSuite> = base
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| {
                let tls13 = matches!(s, SupportedCipherSuite::Tls13(_));
                tls13 || !self.disabled_cipher_suites.contains(&u16::from(s.suite()))
            })
            .filter(|s| match s {
                SupportedCipherSuite::Tls13(_) => max >= 3,
                SupportedCipherSuite::Tls12(_) => min <= 2,
            })
            .collect();
        if suites.is_empty() {
            return Err(Error::NoCipherSuites);
        }
        // Chromium's groups, in its order: the hybrid first, then X25519
        // (sent along with it), P-256, P-384.
        let mut kx_groups = vec![crate::kx::X25519MLKEM768];
        kx_groups.extend(base.kx_groups.iter().copied());
        Ok(SslSettings {
            versions,
            provider: Arc::new(CryptoProvider {
                cipher_suites: suites,
                kx_groups,
                ..base
            }),
        })
    }
}
