//! The session's certificate verifier: default verification, the verify
//! proc, the result cache, and the TLS client configuration.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use serde::Serialize;

use crate::certificate::{Certificate, der_from_pem};
use crate::ssl::{SslConfig, SslSettings};
use crate::{Error, NetError, Result};

/// A boxed future, as verify procs return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

type Proc = Arc<dyn Fn(VerifyRequest) -> BoxFuture<i32> + Send + Sync>;

/// What a verify proc is asked: Electron's request of
/// `ses.setCertificateVerifyProc`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    /// The host name being connected to.
    pub hostname: String,
    /// The chain the server presented (leaf first, `issuerCert` linked).
    pub certificate: Certificate,
    /// The chain that was validated (up to the trusted root) when default
    /// verification succeeded; the presented chain otherwise.
    pub validated_certificate: Certificate,
    /// Whether the chain ends in a publicly known root (Mozilla's set); false
    /// for locally added or enterprise roots.
    pub is_issued_by_known_root: bool,
    /// The default result as a string: `net::OK` or the error's name.
    pub verification_result: String,
    /// The default result's code: 0 or a negative net error.
    pub error_code: i32,
}

/// The result of default verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultVerification {
    /// `net::OK` or the certificate error.
    pub result: NetError,
    /// The validated chain (leaf, intermediates, root) on success; the
    /// presented chain otherwise.
    pub validated_chain: Vec<CertificateDer<'static>>,
    /// Whether the chain ends in a publicly known root.
    pub is_issued_by_known_root: bool,
}

/// The verdict on a server's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOutcome {
    /// What the connection does: `net::OK` goes on, anything else fails the
    /// connection with that error.
    pub result: NetError,
    /// What default verification said.
    pub default_result: NetError,
    /// Whether the chain ends in a publicly known root.
    pub is_issued_by_known_root: bool,
    /// Whether a verify proc answered 0, which also skips Certificate
    /// Transparency checks.
    pub proc_accepted: bool,
    /// Whether the verdict came from the cache.
    pub from_cache: bool,
}

/// Counters, for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifierStats {
    /// Default verifications run.
    pub default_verifications: u64,
    /// Calls of the verify proc.
    pub proc_calls: u64,
    /// Verdicts answered from the cache.
    pub cache_hits: u64,
}

#[derive(Default)]
struct Counters {
    default_verifications: AtomicU64,
    proc_calls: AtomicU64,
    cache_hits: AtomicU64,
}

/// Trust anchors and, for the ones we hold whole, their certificates.
#[derive(Default)]
struct Anchors {
    anchors: Vec<TrustAnchor<'static>>,
    roots: HashMap<Vec<u8>, CertificateDer<'static>>,
}

impl Anchors {
    fn add(&mut self, der: CertificateDer<'static>) -> Result<()> {
        let anchor = webpki::anchor_from_trusted_cert(&der)
            .map_err(|e| Error::InvalidCertificate {
                reason: format!("not usable as a trust anchor: {e}"),
            })?
            .to_owned();
        self.roots
            .insert(anchor.subject_public_key_info.to_vec(), der);
        self.anchors.push(anchor);
        Ok(())
    }
}

/// The operating system's trust anchors, loaded once per process.
static NATIVE: OnceLock<Anchors> = OnceLock::new();

/// The operating system's trust anchors, loaded on first use (a caller
/// arriving while [`warm_native_anchors`]' thread loads them waits for it).
fn native_anchors() -> &'static Anchors {
    NATIVE.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for e in &loaded.errors {
            tracing::warn!(target: "sesh::tls", "while loading the system's root certificates: {e}");
        }
        let mut anchors = Anchors::default();
        for der in loaded.certs {
            if let Err(e) = anchors.add(der) {
                tracing::debug!(target: "sesh::tls", "skipping a system root: {e}");
            }
        }
        tracing::debug!(target: "sesh::tls", count = anchors.anchors.len(), "system roots loaded");
        anchors
    })
}

/// Loads the operating system's trust anchors now, if they are not loaded
/// yet, and returns how many are usable.
///
/// Every verifier that trusts the system's roots shares one copy, loaded
/// once per process. A verifier starts loading them on a thread of its own
/// when it is made, and a verification that needs them before they are in
/// waits for that; calling this at startup (an app's, or a benchmark's
/// before its clock starts) makes sure no connection ever waits.
///
/// ```
/// let n = sesh_cert_verify::load_system_roots();
/// assert_eq!(n, sesh_cert_verify::load_system_roots());
/// ```
pub fn load_system_roots() -> usize {
    native_anchors().anchors.len()
}

/// Starts loading the system's roots on a thread of their own, once per
/// process, so that the first HTTPS connection does not wait the few
/// milliseconds that reading and parsing ca-certificates take (Chromium,
/// too, has its roots in hand before the first request).
fn warm_native_anchors() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        if NATIVE.get().is_some() {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("sesh-roots".into())
            .spawn(|| {
                native_anchors();
            });
        if let Err(e) = spawned {
            // Not fatal: the first verification loads them itself.
            tracing::debug!(target: "sesh::tls", "could not load the system roots ahead: {e}");
        }
    });
}

/// The public keys of the publicly known roots (Mozilla's set, as shipped
/// by webpki-roots): the definition of `isIssuedByKnownRoot`.
fn known_roots() -> &'static HashSet<&'static [u8]> {
    static KNOWN: OnceLock<HashSet<&'static [u8]>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        webpki_roots::TLS_SERVER_ROOTS
            .iter()
            .map(|a| a.subject_public_key_info.as_ref())
            .collect()
    })
}

/// The verdict cache: entries are found by a cheap hash of the host name
/// and the tail of each certificate (its signature), then matched on the
/// exact host name and chain, so a lookup neither allocates nor hashes the
/// whole chain, and a collision can never hand out another chain's verdict.
/// The hash is foldhash, seeded at random once per process: every HTTPS
/// connection looks its chain up (a resumed one too), and SipHash cost
/// ≈1,000 instructions of it.
#[derive(Default)]
struct Cache {
    buckets: HashMap<u64, Vec<CacheEntry>, foldhash::fast::RandomState>,
}

struct CacheEntry {
    hostname: String,
    chain: Vec<Vec<u8>>,
    outcome: VerifyOutcome,
}

/// The most entries kept; the cache is emptied when it would grow past it.
const CACHE_CAPACITY: usize = 4096;

fn cache_hash(hostname: &str, chain: &[CertificateDer<'_>]) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    static SEED: OnceLock<foldhash::fast::RandomState> = OnceLock::new();
    let mut h = SEED.get_or_init(Default::default).build_hasher();
    // Host names from URLs are lower case already: one write for them.
    if hostname.bytes().any(|b| b.is_ascii_uppercase()) {
        h.write(hostname.to_ascii_lowercase().as_bytes());
    } else {
        h.write(hostname.as_bytes());
    }
    chain.len().hash(&mut h);
    for der in chain {
        der.len().hash(&mut h);
        der[der.len().saturating_sub(32)..].hash(&mut h);
    }
    h.finish()
}

impl Cache {
    fn get(
        &self,
        hash: u64,
        hostname: &str,
        chain: &[CertificateDer<'_>],
    ) -> Option<&VerifyOutcome> {
        self.buckets.get(&hash)?.iter().find_map(|e| {
            (e.hostname.eq_ignore_ascii_case(hostname)
                && e.chain.len() == chain.len()
                && e.chain
                    .iter()
                    .zip(chain)
                    .all(|(a, b)| a.as_slice() == b.as_ref()))
            .then_some(&e.outcome)
        })
    }

    fn insert(
        &mut self,
        hash: u64,
        hostname: &str,
        chain: &[CertificateDer<'_>],
        outcome: VerifyOutcome,
    ) {
        let len: usize = self.buckets.values().map(Vec::len).sum();
        if len >= CACHE_CAPACITY {
            self.buckets.clear();
        }
        let bucket = self.buckets.entry(hash).or_default();
        bucket.retain(|e| {
            !(e.hostname.eq_ignore_ascii_case(hostname)
                && e.chain.len() == chain.len()
                && e.chain
                    .iter()
                    .zip(chain)
                    .all(|(a, b)| a.as_slice() == b.as_ref()))
        });
        bucket.push(CacheEntry {
            hostname: hostname.to_ascii_lowercase(),
            chain: chain.iter().map(|c| c.to_vec()).collect(),
            outcome,
        });
    }

    fn clear(&mut self) {
        self.buckets.clear();
    }
}

struct Inner {
    use_native_roots: bool,
    extra: RwLock<Anchors>,
    proc: RwLock<Option<Proc>>,
    proc_generation: AtomicU64,
    proc_timeout: Duration,
    cache: Mutex<Cache>,
    counters: Counters,
    ssl: RwLock<(SslConfig, SslSettings, u64)>,
    /// Client configs made under the SSL config in force, by ALPN list:
    /// reused so that their session caches give resumption.
    configs: Mutex<Vec<CachedConfig>>,
}

/// A client config, with the ALPN list and SSL generation it was made for.
type CachedConfig = (Vec<Vec<u8>>, u64, Arc<ClientConfig>);

/// A session's certificate verifier.
///
/// Default verification builds a path to a trusted root (the system's roots
/// plus the anchors added with [`CertVerifier::add_root_pem`]) with webpki
/// and maps failures to Chromium's errors, reporting the most serious one as
/// Chromium does (authority, then name, then date). A verify proc set with
/// [`CertVerifier::set_certificate_verify_proc`] then has the last word.
/// Verdicts are cached by host name and exact chain; the cache is dropped
/// when the proc or the trusted roots change.
///
/// A proc that panics rejects the certificate (`net::ERR_FAILED`); one that
/// does not answer within the proc timeout (30 s by default) fails the
/// connection with `net::ERR_TIMED_OUT`. Neither verdict is cached. Procs
/// run on the Tokio runtime that [`CertVerifier::verify`] is awaited on.
///
/// Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct CertVerifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CertVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertVerifier")
            .field("use_native_roots", &self.inner.use_native_roots)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Default for CertVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl CertVerifier {
    /// A verifier trusting the operating system's roots.
    pub fn new() -> Self {
        Self::build(true, Duration::from_secs(30))
    }

    /// A verifier trusting only the roots added to it (for tests and for
    /// apps that pin a private CA).
    pub fn without_system_roots() -> Self {
        Self::build(false, Duration::from_secs(30))
    }

    /// The same verifier with another proc timeout.
    pub fn with_proc_timeout(self, timeout: Duration) -> Self {
        let inner = &self.inner;
        let ssl = inner
            .ssl
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let extra = inner.extra.read().unwrap_or_else(PoisonError::into_inner);
        let copy = Inner {
            use_native_roots: inner.use_native_roots,
            extra: RwLock::new(Anchors {
                anchors: extra.anchors.clone(),
                roots: extra.roots.clone(),
            }),
            proc: RwLock::new(
                inner
                    .proc
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            ),
            proc_generation: AtomicU64::new(0),
            proc_timeout: timeout,
            cache: Mutex::new(Cache::default()),
            counters: Counters::default(),
            ssl: RwLock::new(ssl),
            configs: Mutex::new(Vec::new()),
        };
        drop(extra);
        CertVerifier {
            inner: Arc::new(copy),
        }
    }

    fn build(use_native_roots: bool, proc_timeout: Duration) -> Self {
        if use_native_roots {
            warm_native_anchors();
        }
        let config = SslConfig::default();
        let settings = match config.settings() {
            Ok(s) => s,
            Err(_) => SslSettings {
                versions: rustls::DEFAULT_VERSIONS.to_vec(),
                provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
            },
        };
        CertVerifier {
            inner: Arc::new(Inner {
                use_native_roots,
                extra: RwLock::new(Anchors::default()),
                proc: RwLock::new(None),
                proc_generation: AtomicU64::new(0),
                proc_timeout,
                cache: Mutex::new(Cache::default()),
                counters: Counters::default(),
                ssl: RwLock::new((config, settings, 0)),
                configs: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Trusts the certificates of a PEM text as roots, from now on.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCertificate`] when the text holds no usable
    /// certificate; nothing is added then.
    pub fn add_root_pem(&self, pem: &str) -> Result<usize> {
        let ders = der_from_pem(pem)?;
        self.add_roots_der(ders)
    }

    /// Trusts these DER certificates as roots, from now on.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCertificate`] when one is not usable as a trust
    /// anchor; nothing is added then.
    pub fn add_roots_der(&self, ders: Vec<Vec<u8>>) -> Result<usize> {
        let mut staged = Anchors::default();
        for der in ders {
            staged.add(CertificateDer::from(der))?;
        }
        let n = staged.anchors.len();
        let mut extra = self
            .inner
            .extra
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        extra.anchors.extend(staged.anchors);
        extra.roots.extend(staged.roots);
        drop(extra);
        self.inner.proc_generation.fetch_add(1, Ordering::SeqCst);
        self.clear_cache();
        Ok(n)
    }

    /// `ses.setCertificateVerifyProc(proc)`: `Some(proc)` installs it, `None`
    /// restores default verification. The proc answers with a net error code:
    /// 0 accepts (and skips Certificate Transparency), −2 rejects, −3 uses the
    /// default result, any other code rejects with that code. The verdict
    /// cache is dropped, so the new proc is asked about every chain again.
    pub fn set_certificate_verify_proc<F, Fut>(&self, proc: Option<F>)
    where
        F: Fn(VerifyRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = i32> + Send + 'static,
    {
        let proc: Option<Proc> = proc
            .map(|f| Arc::new(move |r: VerifyRequest| Box::pin(f(r)) as BoxFuture<i32>) as Proc);
        let mut slot = self
            .inner
            .proc
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *slot = proc;
        self.inner.proc_generation.fetch_add(1, Ordering::SeqCst);
        drop(slot);
        self.clear_cache();
    }

    /// Whether `der` is one of the publicly known roots (Mozilla's set):
    /// the test behind `isIssuedByKnownRoot`.
    pub fn is_known_root(der: &[u8]) -> bool {
        let der = CertificateDer::from(der);
        webpki::anchor_from_trusted_cert(&der)
            .is_ok_and(|a| known_roots().contains(a.subject_public_key_info.as_ref()))
    }

    /// Forgets every cached verdict.
    pub fn clear_cache(&self) {
        self.inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The counters so far.
    pub fn stats(&self) -> VerifierStats {
        let c = &self.inner.counters;
        VerifierStats {
            default_verifications: c.default_verifications.load(Ordering::Relaxed),
            proc_calls: c.proc_calls.load(Ordering::Relaxed),
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
        }
    }

    /// Default verification of `chain` (leaf first) for `hostname` at `now`.
    pub fn verify_default(
        &self,
        hostname: &str,
        chain: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> DefaultVerification {
        self.inner
            .counters
            .default_verifications
            .fetch_add(1, Ordering::Relaxed);
        let presented = || {
            chain
                .iter()
                .map(|c| c.clone().into_owned())
                .collect::<Vec<_>>()
        };
        let fail = |result: NetError| DefaultVerification {
            result,
            validated_chain: presented(),
            is_issued_by_known_root: false,
        };
        let Some(leaf) = chain.first() else {
            return fail(NetError::CERT_INVALID);
        };
        let Ok(ee) = webpki::EndEntityCert::try_from(leaf) else {
            return fail(NetError::CERT_INVALID);
        };
        let server_name =
            match ServerName::try_from(hostname.trim_start_matches('[').trim_end_matches(']')) {
                Ok(n) => n.to_owned(),
                Err(_) => return fail(NetError::CERT_COMMON_NAME_INVALID),
            };
        let extra = self
            .inner
            .extra
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let native = self.inner.use_native_roots.then(native_anchors);
        let mut anchors: Vec<TrustAnchor<'_>> = extra.anchors.clone();
        if let Some(native) = native {
            anchors.extend(native.anchors.iter().cloned());
        }
        let intermediates = &chain[1..];
        let build = |at: UnixTime| {
            ee.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &anchors,
                intermediates,
                at,
                webpki::KeyUsage::server_auth(),
                None,
                None,
            )
        };
        let name_ok = || ee.verify_is_valid_for_subject_name(&server_name).is_ok();
        match build(now) {
            Ok(path) => {
                let spki = path.anchor().subject_public_key_info.as_ref();
                let known = known_roots().contains(spki);
                let mut validated: Vec<CertificateDer<'static>> = vec![leaf.clone().into_owned()];
                validated.extend(
                    path.intermediate_certificates()
                        .map(|c| c.der().into_owned()),
                );
                let root = extra
                    .roots
                    .get(spki)
                    .or_else(|| native.and_then(|n| n.roots.get(spki)));
                if let Some(root) = root {
                    validated.push(root.clone());
                }
                DefaultVerification {
                    result: if name_ok() {
                        NetError::OK
                    } else {
                        NetError::CERT_COMMON_NAME_INVALID
                    },
                    validated_chain: validated,
                    is_issued_by_known_root: known,
                }
            }
            Err(e) if is_date_error(&e) => {
                // Chromium reports the most serious error: look at the chain
                // again at a time the leaf is valid, to see whether the
                // authority or the name is wrong too.
                let within = leaf_validity_midpoint(leaf).unwrap_or(now);
                let result = match build(within) {
                    Ok(_) if !name_ok() => NetError::CERT_COMMON_NAME_INVALID,
                    Ok(_) => NetError::CERT_DATE_INVALID,
                    Err(e) if is_date_error(&e) => NetError::CERT_DATE_INVALID,
                    Err(e) => map_webpki_error(&e),
                };
                fail(result)
            }
            Err(e) => fail(map_webpki_error(&e)),
        }
    }

    /// The verdict on `chain` for `hostname`: the cache, else default
    /// verification and the verify proc, if any.
    pub async fn verify(&self, hostname: &str, chain: &[CertificateDer<'_>]) -> VerifyOutcome {
        let hash = cache_hash(hostname, chain);
        if let Some(hit) = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(hash, hostname, chain)
        {
            self.inner
                .counters
                .cache_hits
                .fetch_add(1, Ordering::Relaxed);
            return VerifyOutcome {
                from_cache: true,
                ..hit.clone()
            };
        }
        let generation = self.inner.proc_generation.load(Ordering::SeqCst);
        let default = self.verify_default(hostname, chain, UnixTime::now());
        let proc = self
            .inner
            .proc
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut cacheable = true;
        let (result, proc_accepted) = match proc {
            None => (default.result, false),
            Some(proc) => {
                self.inner
                    .counters
                    .proc_calls
                    .fetch_add(1, Ordering::Relaxed);
                match self.ask_proc(&proc, hostname, chain, &default).await {
                    ProcAnswer::Code(0) => (NetError::OK, true),
                    ProcAnswer::Code(-3) => (default.result, false),
                    ProcAnswer::Code(code) if code < 0 => (NetError::from_code(code), false),
                    ProcAnswer::Code(code) => {
                        tracing::warn!(target: "sesh::tls", "the verify proc answered {code}, not a net error; rejecting");
                        (NetError::FAILED, false)
                    }
                    ProcAnswer::Panicked => {
                        cacheable = false;
                        tracing::error!(target: "sesh::tls", host = hostname, "the verify proc panicked; rejecting the certificate");
                        (NetError::FAILED, false)
                    }
                    ProcAnswer::TimedOut => {
                        cacheable = false;
                        tracing::error!(target: "sesh::tls", host = hostname, "the verify proc did not answer in {:?}", self.inner.proc_timeout);
                        (NetError::TIMED_OUT, false)
                    }
                }
            }
        };
        let outcome = VerifyOutcome {
            result,
            default_result: default.result,
            is_issued_by_known_root: default.is_issued_by_known_root,
            proc_accepted,
            from_cache: false,
        };
        // A proc replaced while this one was answering must not leave its
        // verdict behind.
        if cacheable && self.inner.proc_generation.load(Ordering::SeqCst) == generation {
            self.inner
                .cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(hash, hostname, chain, outcome.clone());
        }
        outcome
    }

    async fn ask_proc(
        &self,
        proc: &Proc,
        hostname: &str,
        chain: &[CertificateDer<'_>],
        default: &DefaultVerification,
    ) -> ProcAnswer {
        let certificate = match Certificate::from_chain(chain) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(target: "sesh::tls", "cannot describe the chain to the verify proc: {e}");
                return ProcAnswer::Code(default.result.code());
            }
        };
        let validated_certificate = Certificate::from_chain(&default.validated_chain)
            .unwrap_or_else(|_| certificate.clone());
        let request = VerifyRequest {
            hostname: hostname.to_owned(),
            certificate,
            validated_certificate,
            is_issued_by_known_root: default.is_issued_by_known_root,
            verification_result: default.result.to_string(),
            error_code: default.result.code(),
        };
        let future = match catch_unwind(AssertUnwindSafe(|| proc(request))) {
            Ok(f) => f,
            Err(_) => return ProcAnswer::Panicked,
        };
        let task = tokio::spawn(future);
        let abort = task.abort_handle();
        match tokio::time::timeout(self.inner.proc_timeout, task).await {
            Ok(Ok(code)) => ProcAnswer::Code(code),
            Ok(Err(_)) => ProcAnswer::Panicked,
            Err(_) => {
                abort.abort();
                ProcAnswer::TimedOut
            }
        }
    }

    /// `ses.setSSLConfig(config)`: applies to connections made from now on;
    /// returns the new config generation (see [`CertVerifier::ssl_generation`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSslVersion`] for an unknown version name,
    /// [`Error::NoSslVersions`] or [`Error::NoCipherSuites`] when nothing
    /// would be left; the config in force is unchanged then.
    pub fn set_ssl_config(&self, config: SslConfig) -> Result<u64> {
        let settings = config.settings()?;
        let mut ssl = self
            .inner
            .ssl
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let generation = ssl.2 + 1;
        *ssl = (config, settings, generation);
        Ok(generation)
    }

    /// The SSL config in force.
    pub fn ssl_config(&self) -> SslConfig {
        self.inner
            .ssl
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .clone()
    }

    /// A number that grows whenever what decides trust changes (a verify
    /// proc set or removed, roots added): a connection pool does not reuse
    /// a socket whose certificate was judged under older rules.
    pub fn trust_generation(&self) -> u64 {
        self.inner.proc_generation.load(Ordering::SeqCst)
    }

    /// A number that grows with every [`CertVerifier::set_ssl_config`]: a
    /// connection pool never reuses a socket made under an older one.
    pub fn ssl_generation(&self) -> u64 {
        self.inner
            .ssl
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .2
    }

    /// A rustls client configuration under the SSL config in force, with
    /// `alpn` protocols, and its generation.
    ///
    /// Its handshake checks only that the server holds the key of the
    /// certificate it presents: **the certificate itself is not verified
    /// during the handshake**. Call [`CertVerifier::verify`] with the
    /// connection's peer certificates once the handshake is done, and send
    /// nothing before it says `net::OK` ([`CertVerifier::connect_blocking`]
    /// and sesh's network service do exactly that). This is what lets the
    /// verify proc answer asynchronously.
    ///
    /// The same `Arc` comes back for the same `alpn` until the SSL config
    /// changes, so TLS sessions are resumed across connections.
    pub fn deferred_client_config(&self, alpn: &[&[u8]]) -> (Arc<ClientConfig>, u64) {
        let generation = self.ssl_generation();
        {
            let configs = self
                .inner
                .configs
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((_, g, config)) = configs.iter().find(|(a, g, _)| {
                *g == generation && a.iter().map(Vec::as_slice).eq(alpn.iter().copied())
            }) {
                return (config.clone(), *g);
            }
        }
        let (config, generation) = self.new_deferred_client_config(alpn);
        let mut configs = self
            .inner
            .configs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        configs.retain(|(_, g, _)| *g == generation);
        configs.push((config.alpn_protocols.clone(), generation, config.clone()));
        (config, generation)
    }

    fn new_deferred_client_config(&self, alpn: &[&[u8]]) -> (Arc<ClientConfig>, u64) {
        let ssl = self
            .inner
            .ssl
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let provider = ssl.1.provider.clone();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&ssl.1.versions);
        let builder = match builder {
            Ok(b) => b,
            // The versions were checked against this provider when the
            // config was set; fall back to the defaults rather than panic.
            Err(_) => match ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
            {
                Ok(b) => b,
                Err(_) => ClientConfig::builder(),
            },
        };
        let mut config = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(HandshakeOnlyVerifier { provider }))
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config.resumption = rustls::client::Resumption::store(Arc::new(SessionCache::default()));
        (Arc::new(config), ssl.2)
    }

    /// The TLS handshake over `stream` with `hostname`, blocking, under
    /// the SSL config in force: the certificate is **not** verified yet
    /// (see [`CertVerifier::deferred_client_config`]); call
    /// [`CertVerifier::verify`] with the peer certificates before using the
    /// connection, as [`CertVerifier::connect_blocking`] does.
    ///
    /// # Errors
    ///
    /// The handshake's net error (`net::ERR_SSL_VERSION_OR_CIPHER_MISMATCH`,
    /// `net::ERR_SSL_PROTOCOL_ERROR`, a connection error…).
    pub fn handshake_blocking<S: Read + Write>(
        &self,
        stream: &mut S,
        hostname: &str,
    ) -> std::result::Result<ClientConnection, ConnectError> {
        let (config, _) = self.deferred_client_config(&[]);
        let name = ServerName::try_from(hostname.to_owned()).map_err(|_| ConnectError {
            error: NetError::from_code(-108),
            detail: format!("{hostname:?} is not a valid server name"),
            outcome: None,
        })?;
        let mut conn = ClientConnection::new(config, name).map_err(|e| ConnectError::tls(&e))?;
        while conn.is_handshaking() {
            conn.complete_io(stream).map_err(|e| {
                match e.get_ref().and_then(|r| r.downcast_ref::<rustls::Error>()) {
                    Some(tls) => ConnectError::tls(tls),
                    None => ConnectError {
                        error: NetError::from_code(-101),
                        detail: e.to_string(),
                        outcome: None,
                    },
                }
            })?;
        }
        Ok(conn)
    }

    /// Connects TLS over `stream` to `hostname` and verifies the server,
    /// blocking: the handshake, then [`CertVerifier::verify`] (on `runtime`).
    /// Used by the CLI and tests; the network service does the same
    /// asynchronously.
    ///
    /// # Errors
    ///
    /// The net error the connection failed with: a handshake error or the
    /// verification's (with its [`VerifyOutcome`]).
    pub fn connect_blocking<S: Read + Write>(
        &self,
        runtime: &tokio::runtime::Runtime,
        stream: &mut S,
        hostname: &str,
    ) -> std::result::Result<(ClientConnection, VerifyOutcome), ConnectError> {
        let conn = self.handshake_blocking(stream, hostname)?;
        let chain = peer_chain(&conn);
        let outcome = runtime.block_on(self.verify(hostname, &chain));
        if outcome.result.is_ok() {
            Ok((conn, outcome))
        } else {
            Err(ConnectError {
                error: outcome.result,
                detail: format!("the certificate of {hostname} was rejected"),
                outcome: Some(outcome),
            })
        }
    }
}

/// The certificates a connection's server presented, leaf first.
pub fn peer_chain(conn: &ClientConnection) -> Vec<CertificateDer<'static>> {
    conn.peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|c| c.clone().into_owned())
        .collect()
}

/// Why [`CertVerifier::connect_blocking`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {detail}")]
pub struct ConnectError {
    /// The net error.
    pub error: NetError,
    /// What happened, in words.
    pub detail: String,
    /// The verification's verdict, when the handshake got that far.
    pub outcome: Option<VerifyOutcome>,
}

impl ConnectError {
    fn tls(e: &rustls::Error) -> Self {
        use rustls::{AlertDescription as A, Error as E, PeerIncompatible as P};
        let error = match e {
            E::AlertReceived(
                A::ProtocolVersion | A::HandshakeFailure | A::InsufficientSecurity,
            )
            | E::PeerIncompatible(
                P::ServerDoesNotSupportTls12Or13
                | P::NoCipherSuitesInCommon
                | P::Tls12NotOffered
                | P::Tls12NotOfferedOrEnabled
                | P::Tls13RequiredForQuic
                | P::SupportedVersionsExtensionRequired,
            ) => NetError::SSL_VERSION_OR_CIPHER_MISMATCH,
            E::PeerIncompatible(_) => NetError::SSL_VERSION_OR_CIPHER_MISMATCH,
            _ => NetError::SSL_PROTOCOL_ERROR,
        };
        ConnectError {
            error,
            detail: e.to_string(),
            outcome: None,
        }
    }
}

enum ProcAnswer {
    Code(i32),
    Panicked,
    TimedOut,
}

fn is_date_error(e: &webpki::Error) -> bool {
    matches!(
        e,
        webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }
    )
}

fn map_webpki_error(e: &webpki::Error) -> NetError {
    use webpki::Error as W;
    match e {
        W::CertExpired { .. } | W::CertNotValidYet { .. } | W::InvalidCertValidity => {
            NetError::CERT_DATE_INVALID
        }
        W::UnknownIssuer
        | W::EndEntityUsedAsCa
        | W::MaximumPathBuildCallsExceeded
        | W::MaximumPathDepthExceeded
        | W::MaximumSignatureChecksExceeded
        | W::PathLenConstraintViolated => NetError::CERT_AUTHORITY_INVALID,
        W::CertNotValidForName(_) => NetError::CERT_COMMON_NAME_INVALID,
        W::CertRevoked => NetError::CERT_REVOKED,
        W::NameConstraintViolation => NetError::CERT_NAME_CONSTRAINT_VIOLATION,
        W::UnsupportedSignatureAlgorithmContext(_)
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            NetError::CERT_WEAK_SIGNATURE_ALGORITHM
        }
        _ => NetError::CERT_INVALID,
    }
}

/// A time within the leaf's validity period.
fn leaf_validity_midpoint(leaf: &CertificateDer<'_>) -> Option<UnixTime> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(leaf).ok()?;
    let v = cert.validity();
    let (a, b) = (v.not_before.timestamp(), v.not_after.timestamp());
    let mid = a.checked_add(b.checked_sub(a)? / 2)?;
    Some(UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(mid).ok()?,
    )))
}

/// Checks handshake signatures only; see [`CertVerifier::deferred_client_config`].
#[derive(Debug)]
struct HandshakeOnlyVerifier {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for HandshakeOnlyVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // Deferred to CertVerifier::verify, which runs before the connection
        // carries any data.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Servers whose TLS sessions a client configuration remembers: Chromium's
/// `SSLClientSessionCache` holds 1,024.
const SESSION_CACHE_ENTRIES: usize = 1024;

/// The TLS session cache of sesh's client configurations, for a rustls
/// `ClientConfig` of one's own (`config.resumption =
/// Resumption::store(Arc::new(SessionCache::default()))`): rustls's
/// in-memory cache, less its key-exchange hint. rustls remembers the group
/// each server chose and sends only that group's key share to it next
/// time; Chromium sends its X25519MLKEM768 share (with the X25519 share
/// beside it) in every ClientHello, so a server that gains ML-KEM gets the
/// hybrid at once, rather than settling for the classical share it was
/// sent. Tickets and TLS 1.2 sessions are kept as rustls keeps them; the
/// default holds 1,024 servers, as Chromium's `SSLClientSessionCache`.
///
/// ```
/// use rustls::client::ClientSessionStore;
/// use rustls::pki_types::ServerName;
///
/// let cache = sesh_cert_verify::SessionCache::default();
/// let name = ServerName::try_from("example.test").expect("a DNS name");
/// cache.set_kx_hint(name.clone(), rustls::NamedGroup::X25519);
/// // rustls's own cache would answer X25519 here, and the next
/// // ClientHello would carry the X25519 share alone.
/// assert_eq!(cache.kx_hint(&name), None);
/// ```
#[derive(Debug)]
pub struct SessionCache(rustls::client::ClientSessionMemoryCache);

impl SessionCache {
    /// A cache remembering the sessions of up to `entries` servers.
    pub fn new(entries: usize) -> Self {
        SessionCache(rustls::client::ClientSessionMemoryCache::new(entries))
    }
}

impl Default for SessionCache {
    /// Chromium's size: 1,024 servers.
    fn default() -> Self {
        SessionCache::new(SESSION_CACHE_ENTRIES)
    }
}

impl rustls::client::ClientSessionStore for SessionCache {
    fn set_kx_hint(&self, _: ServerName<'static>, _: rustls::NamedGroup) {}

    fn kx_hint(&self, _: &ServerName<'_>) -> Option<rustls::NamedGroup> {
        None
    }

    fn set_tls12_session(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.0.set_tls12_session(server_name, value);
    }

    fn tls12_session(
        &self,
        server_name: &ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.0.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.0.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        self.0.insert_tls13_ticket(server_name, value);
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.0.take_tls13_ticket(server_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(result: NetError) -> VerifyOutcome {
        VerifyOutcome {
            result,
            default_result: result,
            is_issued_by_known_root: false,
            proc_accepted: false,
            from_cache: false,
        }
    }

    #[test]
    fn the_cache_matches_exact_chains_only() {
        let mut cache = Cache::default();
        let tail = vec![7u8; 40];
        let a = [CertificateDer::from(
            [vec![1u8; 100], tail.clone()].concat(),
        )];
        let b = [CertificateDer::from([vec![2u8; 100], tail].concat())];
        let (ha, hb) = (cache_hash("h.test", &a), cache_hash("h.test", &b));
        assert_eq!(ha, hb, "same length and tail: same bucket");
        cache.insert(ha, "H.test", &a, outcome(NetError::OK));
        assert_eq!(
            cache.get(ha, "h.TEST", &a).map(|o| o.result),
            Some(NetError::OK)
        );
        assert!(
            cache.get(hb, "h.test", &b).is_none(),
            "another chain must not get this verdict"
        );
        assert!(cache.get(cache_hash("x.test", &a), "x.test", &a).is_none());
        cache.insert(ha, "h.test", &a, outcome(NetError::FAILED));
        assert_eq!(
            cache.get(ha, "h.test", &a).map(|o| o.result),
            Some(NetError::FAILED)
        );
        assert_eq!(cache.buckets[&ha].len(), 1, "replaced, not duplicated");
    }
}
