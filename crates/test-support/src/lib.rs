//! Test helpers shared by sesh's crates (not published).
//!
//! - [`Ca`] and [`Leaf`]: a small PKI made with rcgen (roots, intermediates,
//!   leaves with chosen names and validity, self-signed leaves).
//! - [`serve_tls`]: a real TLS server on 127.0.0.1 presenting a chain, which
//!   answers `hello` to a `hello`.
//! - [`run_child_until`]: runs one test of the current test binary as a
//!   child process and kills it with SIGKILL once it prints a marker — how
//!   durability tests prove that a flush really reached the disk.
//!
//! Helpers panic on failure: they are for tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{
    ServerConfig, ServerConnection, StreamOwned, SupportedCipherSuite, SupportedProtocolVersion,
};

/// A certificate authority.
pub struct Ca {
    /// Its parameters (to sign with).
    pub params: CertificateParams,
    /// Its key.
    pub key: KeyPair,
    /// Its certificate, DER.
    pub der: CertificateDer<'static>,
    /// Its certificate, PEM.
    pub pem: String,
}

/// A server certificate and its key (PKCS#8 DER).
pub struct Leaf {
    /// The certificate, DER.
    pub der: CertificateDer<'static>,
    /// The private key, PKCS#8 DER.
    pub key: Vec<u8>,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "sesh tests");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

impl Ca {
    /// A self-signed root named `name`.
    pub fn root(name: &str) -> Ca {
        let params = ca_params(name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            der: cert.der().clone(),
            pem: cert.pem(),
            params,
            key,
        }
    }

    /// An intermediate CA named `name`, signed by this one.
    pub fn intermediate(&self, name: &str) -> Ca {
        let params = ca_params(name);
        let key = KeyPair::generate().unwrap();
        let cert = params
            .signed_by(&key, &Issuer::from_params(&self.params, &self.key))
            .unwrap();
        Ca {
            der: cert.der().clone(),
            pem: cert.pem(),
            params,
            key,
        }
    }

    /// A leaf for `names`, valid from January 1st of `validity.0` to January
    /// 1st of `validity.1`, after `tweak` has had its say on the parameters.
    pub fn leaf_with(
        &self,
        names: &[&str],
        validity: (i32, i32),
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
        params.not_before = rcgen::date_time_ymd(validity.0, 1, 1);
        params.not_after = rcgen::date_time_ymd(validity.1, 1, 1);
        tweak(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params
            .signed_by(&key, &Issuer::from_params(&self.params, &self.key))
            .unwrap();
        Leaf {
            der: cert.der().clone(),
            key: key.serialize_der(),
        }
    }

    /// A leaf for `names`, valid from 2020 to 2090.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with(names, (2020, 2090), |_| {})
    }

    /// A rustls server config (ring, default versions) presenting a new
    /// leaf for `names` and this CA, for loopback test servers.
    pub fn server_config(&self, names: &[&str]) -> ServerConfig {
        self.server_config_with(names, rustls::DEFAULT_VERSIONS)
    }

    /// [`server_config`](Self::server_config) speaking only `versions`.
    pub fn server_config_with(
        &self,
        names: &[&str],
        versions: &[&'static SupportedProtocolVersion],
    ) -> ServerConfig {
        let leaf = self.leaf(names);
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der, self.der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key)),
            )
            .unwrap()
    }
}

impl Leaf {
    /// A self-signed leaf for `names`.
    pub fn self_signed(names: &[&str]) -> Leaf {
        let params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Leaf {
            der: cert.der().clone(),
            key: key.serialize_der(),
        }
    }
}

/// What a test TLS server offers.
pub struct ServerOptions {
    /// The versions it speaks.
    pub versions: Vec<&'static SupportedProtocolVersion>,
    /// Its cipher suites (`None`: ring's defaults).
    pub suites: Option<Vec<SupportedCipherSuite>>,
    /// Its key exchange groups, in its order of preference (`None`:
    /// ring's).
    pub kx_groups: Option<Vec<&'static dyn rustls::crypto::SupportedKxGroup>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
            suites: None,
            kx_groups: None,
        }
    }
}

/// A TLS server on 127.0.0.1 that presents `chain` (leaf first) and answers
/// `hello` to a `hello`. It runs until the process ends.
pub fn serve_tls(
    chain: Vec<CertificateDer<'static>>,
    key: &[u8],
    options: ServerOptions,
) -> SocketAddr {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(suites) = options.suites {
        provider.cipher_suites = suites;
    }
    if let Some(groups) = options.kx_groups {
        provider.kx_groups = groups;
    }
    let config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&options.versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            chain,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec())),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(conn) = ServerConnection::new(config) else {
                    return;
                };
                let mut tls = StreamOwned::new(conn, stream);
                let mut buf = [0u8; 5];
                if tls.read_exact(&mut buf).is_ok() {
                    let _ = tls.write_all(b"hello");
                    let _ = tls.flush();
                }
            });
        }
    });
    addr
}

/// Runs the `#[ignore]`d test `test` of the current test binary as a child
/// process with `env` set, waits until it prints a line ending in `marker`,
/// then kills it with SIGKILL. Returns whether the marker was seen, and how
/// the child ended.
pub fn run_child_until(
    test: &str,
    env: (&str, &std::path::Path),
    marker: &str,
) -> (bool, ExitStatus) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            test,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(env.0, env.1)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // libtest prints "test NAME ... " before the child's own output.
    let seen = BufReader::new(stdout)
        .lines()
        .any(|l| l.unwrap().trim_end().ends_with(marker));
    // std's kill sends SIGKILL on Unix: no destructor, no exit handler runs.
    child.kill().unwrap();
    (seen, child.wait().unwrap())
}
