//! A small PKI made with rcgen, and a real TLS server on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{
    ServerConfig, ServerConnection, StreamOwned, SupportedCipherSuite, SupportedProtocolVersion,
};
use sesh_cert_verify::{CertVerifier, ConnectError, VerifyOutcome};

/// A certificate authority.
pub struct Ca {
    pub params: CertificateParams,
    pub key: KeyPair,
    pub der: CertificateDer<'static>,
    pub pem: String,
}

impl Ca {
    pub fn root(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "sesh tests");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            der: cert.der().clone(),
            pem: cert.pem(),
            params,
            key,
        }
    }

    pub fn intermediate(&self, name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Ca {
            der: cert.der().clone(),
            pem: cert.pem(),
            params,
            key,
        }
    }

    /// A leaf for `names`, valid from `not_before` to `not_after` (years).
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
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Leaf {
            der: cert.der().clone(),
            key: key.serialize_der(),
        }
    }

    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with(names, (2020, 2090), |_| {})
    }
}

/// A server certificate and its key.
pub struct Leaf {
    pub der: CertificateDer<'static>,
    pub key: Vec<u8>,
}

impl Leaf {
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

/// What a test server offers.
pub struct ServerOptions {
    pub versions: Vec<&'static SupportedProtocolVersion>,
    pub suites: Option<Vec<SupportedCipherSuite>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
            suites: None,
        }
    }
}

/// A TLS server on 127.0.0.1 that presents `chain` (leaf first) and answers
/// every connection with "hello". It runs until the process ends.
pub fn serve(
    chain: Vec<CertificateDer<'static>>,
    key: &[u8],
    options: ServerOptions,
) -> SocketAddr {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(suites) = options.suites {
        provider.cipher_suites = suites;
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

/// A current-thread runtime for the verify proc.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// Connects to `addr` as `hostname`, verifies, and (when trusted) talks.
pub fn connect(
    verifier: &CertVerifier,
    addr: SocketAddr,
    hostname: &str,
) -> Result<VerifyOutcome, ConnectError> {
    let rt = runtime();
    let mut tcp = TcpStream::connect(addr).unwrap();
    let (conn, outcome) = verifier.connect_blocking(&rt, &mut tcp, hostname)?;
    let mut tls = StreamOwned::new(conn, tcp);
    tls.write_all(b"hello").unwrap();
    let mut answer = [0u8; 5];
    tls.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"hello");
    Ok(outcome)
}
