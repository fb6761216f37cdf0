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

/// The cipher suites Chromium offers that rustls implements, by IANA
/// number, in the order Chromium's ClientHello lists them.
///
/// TLS 1.3 first: AES-128-GCM, AES-256-GCM, then ChaCha20-Poly1305. Then
/// TLS 1.2's ECDHE AEAD suites: AES-128-GCM (ECDSA, RSA), AES-256-GCM
/// (ECDSA, RSA), then ChaCha20-Poly1305 (ECDSA, RSA). On a CPU without AES
/// instructions BoringSSL puts ChaCha20-Poly1305 first in both lists
/// (`ssl_write_client_cipher_list`, `ssl_create_cipher_list`), since AES in
/// software is slower and not constant-time. A server that follows the
/// client's preference (most do, rustls's by default) picks the first it
/// supports.
pub fn chromium_cipher_suites(aes_hardware: bool) -> [u16; 9] {
    if aes_hardware {
        [
            0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,
        ]
    } else {
        [
            0x1303, 0x1301, 0x1302, 0xCCA9, 0xCCA8, 0xC02B, 0xC02F, 0xC02C, 0xC030,
        ]
    }
}

/// Whether this CPU has the instructions for fast, constant-time AES-GCM
/// (BoringSSL's `EVP_has_aes_hardware`: AES-NI and PCLMULQDQ on x86, the
/// AES and PMULL extensions on ARMv8).
pub fn has_aes_hardware() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
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
        let base = rustls::crypto::aws_lc_rs::default_provider();
        let order = chromium_cipher_suites(has_aes_hardware());
        let rank = |s: &SupportedCipherSuite| {
            let n = u16::from(s.suite());
            order.iter().position(|&o| o == n).unwrap_or(order.len())
        };
        let mut suites: Vec<SupportedCipherSuite> = base
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
        // Chromium's order, not rustls's (which puts AES-256 first).
        suites.sort_by_key(rank);
        // Chromium's groups, in its order: the hybrid first, then X25519
        // (sent along with it), P-256, P-384.
        let kx_groups = vec![
            crate::kx::X25519MLKEM768,
            rustls::crypto::aws_lc_rs::kx_group::X25519,
            rustls::crypto::aws_lc_rs::kx_group::SECP256R1,
            rustls::crypto::aws_lc_rs::kx_group::SECP384R1,
        ];
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
