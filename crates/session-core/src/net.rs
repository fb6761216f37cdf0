//! The network service: `Session::fetch` over HTTP/1.1 and HTTP/2, direct
//! or through the session's proxies, on pooled connections (TLS verified by
//! the session's certificate verifier), with the session's user agent,
//! languages, cookies, HTTP cache and credentials, and browser redirect
//! rules.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{
    ACCEPT_ENCODING, ACCEPT_LANGUAGE, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST,
    HeaderMap, HeaderValue, LOCATION, SET_COOKIE, USER_AGENT,
};
use http::{Method, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use sesh_cert_verify::NetError;
use sesh_downloads::{
    Body as DownloadBody, BoxFuture, FetchRequest, FetchResponse, InterruptReason, Transport,
};
use sesh_proxy_rules::{DEFAULT_RETRY_DELAY, ProxyScheme, ProxyServer};
use sesh_storage::cookies::{CookieOptions, SiteContext};
use sesh_storage::http_cache::{CacheKey, CacheLookup};
use tokio::net::TcpStream;

/// A byte stream to a server or a proxy: TCP, or TLS over it.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

type BoxIo = Box<dyn Io>;
use url::Url;

use crate::Session;
use crate::coalesce::Coalesce;
pub use crate::dns::{
    AddressFamily, CacheUsage, HostResolver, HostResolverConfig, HostResolverSource, LookupError,
    QueryType, ResolveHostError, ResolveHostOptions, ResolvedEndpoint, ResolvedHost,
    SecureDnsPolicy,
};
pub use crate::netlog::{CaptureMode, NetLog, NetLogError, NetLogOptions};
use crate::netlog::{EventType, Phase, ReqLog, SocketLog, header_lines};
use crate::pool::{Checkout, Driver, Idle, Pool, PoolKey, ReqBody, Slot};
pub use crate::pool::{
    ConnectionLimits, IDLE_SWEEP_INTERVAL, Priority, UNUSED_IDLE_TIMEOUT, USED_IDLE_TIMEOUT,
};
use crate::web_request::{
    self, BeforeRedirectDetails, BeforeRequestAction, BeforeRequestDetails,
    BeforeSendHeadersAction, BeforeSendHeadersDetails, HeadersReceivedAction, ResourceType,
    ResponseDetails, ResponseEventDetails, SendHeadersDetails, Stage, Tracking, UploadData,
};

/// How many times a request is sent again after a pooled socket closed
/// under it.
const MAX_RESENDS: usize = 8;

/// The most redirects a request follows, as in Chromium.
pub const MAX_REDIRECTS: usize = 20;

/// What to do with a redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedirectMode {
    /// Follow it (up to [`MAX_REDIRECTS`]).
    #[default]
    Follow,
    /// Return the 3xx response as it is.
    Manual,
    /// Fail the request.
    Error,
}

/// Whether cookies go with the request and are stored from the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Credentials {
    /// Attach and store cookies.
    #[default]
    Include,
    /// Neither attach nor store.
    Omit,
}

/// A request for [`Session::fetch`].
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The URL (http or https).
    pub url: Url,
    /// Extra headers; the session's `User-Agent` and `Accept-Language` are
    /// added when absent.
    pub headers: HeaderMap,
    /// The body, when it is bytes (sent again as needed: a 307/308
    /// redirect, an authentication round).
    pub body: Bytes,
    /// A body read as it is sent (chunked when its length is unknown),
    /// set with [`Request::with_body_stream`]; it wins over `body`. It is
    /// read once: a request that would have to send it again (a 307/308
    /// redirect, an authentication round, a closed pooled socket) fails
    /// with `net::ERR_UPLOAD_STREAM_REWIND_NOT_SUPPORTED`, as in Chromium.
    pub body_stream: Option<BodyStream>,
    /// Redirect handling.
    pub redirect: RedirectMode,
    /// Cookie handling.
    pub credentials: Credentials,
    /// The site for cookies (the top frame's URL) deciding SameSite; `None`
    /// for a top-level request of the app itself (same-site).
    pub site_for_cookies: Option<Url>,
    /// Cancels the request, and the reading of its body, when aborted.
    pub abort: Option<AbortHandle>,
    /// How the session's HTTP cache takes part (fetch's `cache` option).
    pub cache: CacheMode,
    /// Connect directly, whatever the proxy configuration says (PAC
    /// scripts are fetched so).
    pub bypass_proxy: bool,
    /// Its turn when it has to wait for a socket.
    pub priority: Priority,
    /// How long the response's head may take to arrive (redirects and
    /// authentication included); then the request fails with
    /// `net::ERR_TIMED_OUT`. `None` (the default, as in Chromium): no
    /// limit. Reading the body is not limited; use an [`AbortHandle`].
    pub timeout: Option<std::time::Duration>,
    /// What the request is for, as webRequest hooks see it and filter on
    /// (`Other` by default).
    pub resource_type: ResourceType,
}

/// `ses.enableNetworkEmulation(options)`: Electron's options (JSON names
/// are Electron's).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkEmulation {
    /// New requests fail with `net::ERR_INTERNET_DISCONNECTED`.
    #[serde(default)]
    pub offline: bool,
    /// Round-trip time added to each request, in milliseconds.
    #[serde(default)]
    pub latency: f64,
    /// Bytes per second bodies are read at (0: unlimited).
    #[serde(default)]
    pub download_throughput: f64,
    /// Bytes per second request bodies are sent at (0: unlimited).
    #[serde(default)]
    pub upload_throughput: f64,
}

/// Paces body bytes at a rate: a token bucket with a small burst.
#[derive(Debug)]
struct Throttle {
    bytes_per_second: f64,
    start: tokio::time::Instant,
    sent: f64,
}

impl Throttle {
    fn new(bytes_per_second: f64) -> Option<Throttle> {
        (bytes_per_second.is_finite() && bytes_per_second > 0.0).then(|| Throttle {
            bytes_per_second,
            start: tokio::time::Instant::now(),
            sent: 0.0,
        })
    }

    /// Counts `len` bytes sent now; the timer says when the next may go.
    fn spend(&mut self, len: usize) -> std::pin::Pin<Box<tokio::time::Sleep>> {
        self.sent += len as f64;
        let due = std::time::Duration::from_secs_f64(self.sent / self.bytes_per_second);
        Box::pin(tokio::time::sleep_until(self.start + due))
    }

    /// Waits until `len` more bytes may pass.
    async fn pass(&mut self, len: usize) {
        self.spend(len).await;
    }
}

/// What a server asks credentials for: Electron's `authInfo` of the
/// `login` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthChallenge {
    /// Whether a proxy asks (always false today: proxy authentication is
    /// not supported yet).
    pub is_proxy: bool,
    /// The scheme, lower case (`basic`).
    pub scheme: String,
    /// The host asking.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The realm it names.
    pub realm: String,
    /// The URL being fetched.
    pub url: Url,
}

/// A session's `login` handler: credentials for a challenge, or `None` to
/// give up (the 401 response is returned as it is).
pub type LoginFn =
    Arc<dyn Fn(AuthChallenge) -> crate::BoxFuture<Option<(String, String)>> + Send + Sync>;

/// The credentials a session has been given, by origin and realm.
#[derive(Debug, Default)]
pub struct AuthCache {
    entries: std::sync::Mutex<std::collections::HashMap<(String, String), (String, String)>>,
}

impl AuthCache {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<(String, String), (String, String)>>
    {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, origin: &str, realm: &str) -> Option<(String, String)> {
        self.lock()
            .get(&(origin.to_owned(), realm.to_owned()))
            .cloned()
    }

    fn put(&self, origin: &str, realm: &str, credentials: (String, String)) {
        self.lock()
            .insert((origin.to_owned(), realm.to_owned()), credentials);
    }

    fn forget(&self, origin: &str, realm: &str) {
        self.lock().remove(&(origin.to_owned(), realm.to_owned()));
    }

    /// Forgets every credential.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Forgets the credentials of the origins `doomed` names.
    pub fn clear_where(&self, doomed: impl Fn(&str) -> bool) {
        self.lock().retain(|(origin, _), _| !doomed(origin));
    }

    /// How many credentials are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A server's challenge sesh can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Challenge {
    Basic {
        realm: String,
    },
    Digest {
        realm: String,
        nonce: String,
        opaque: Option<String>,
        /// `MD5` or `SHA-256`.
        algorithm: &'static str,
        /// Whether `qop=auth` is offered.
        qop_auth: bool,
    },
}

impl Challenge {
    fn realm(&self) -> &str {
        match self {
            Challenge::Basic { realm } | Challenge::Digest { realm, .. } => realm,
        }
    }

    fn scheme(&self) -> &'static str {
        match self {
            Challenge::Basic { .. } => "basic",
            Challenge::Digest { .. } => "digest",
        }
    }

    /// The `Authorization` value answering this challenge.
    fn authorization(&self, user: &str, password: &str, method: &str, uri: &str) -> String {
        match self {
            Challenge::Basic { .. } => {
                use base64::Engine as _;
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                format!("Basic {token}")
            }
            Challenge::Digest {
                realm,
                nonce,
                opaque,
                algorithm,
                qop_auth,
            } => {
                let hash = |text: &str| -> String {
                    let bytes: Vec<u8> = if *algorithm == "SHA-256" {
                        ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
                            .as_ref()
                            .to_vec()
                    } else {
                        use md5::Digest as _;
                        md5::Md5::digest(text.as_bytes()).to_vec()
                    };
                    bytes.iter().map(|b| format!("{b:02x}")).collect()
                };
                let ha1 = hash(&format!("{user}:{realm}:{password}"));
                let ha2 = hash(&format!("{method}:{uri}"));
                let mut cnonce_bytes = [0u8; 8];
                let _ = ring::rand::SecureRandom::fill(
                    &ring::rand::SystemRandom::new(),
                    &mut cnonce_bytes,
                );
                let cnonce: String = cnonce_bytes.iter().map(|b| format!("{b:02x}")).collect();
                let nc = "00000001";
                let mut value = format!(
                    "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm={algorithm}"
                );
                if *qop_auth {
                    let response = hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
                    value.push_str(&format!(
                        ", response=\"{response}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\""
                    ));
                } else {
                    let response = hash(&format!("{ha1}:{nonce}:{ha2}"));
                    value.push_str(&format!(", response=\"{response}\""));
                }
                if let Some(opaque) = opaque {
                    value.push_str(&format!(", opaque=\"{opaque}\""));
                }
                value
            }
        }
    }
}

/// The `name=value` parameters of a challenge, names lower-cased.
fn challenge_params(params: &str) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    let mut rest = params.trim();
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let name = name
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            },
            None => match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            },
        };
        out.insert(name, value.trim().to_owned());
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// The challenge to answer among a response's challenge header values:
/// Digest (MD5 or SHA-256) before Basic, as Chromium ranks them.
fn choose_challenge_in<'a>(values: impl Iterator<Item = &'a str>) -> Option<Challenge> {
    let mut basic = None;
    for value in values {
        let value = value.trim();
        let (scheme, params) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
        let params = challenge_params(params);
        let realm = params.get("realm").cloned().unwrap_or_default();
        if scheme.eq_ignore_ascii_case("digest") {
            let algorithm = match params.get("algorithm").map(|a| a.to_ascii_uppercase()) {
                None => "MD5",
                Some(a) if a == "MD5" => "MD5",
                Some(a) if a == "SHA-256" => "SHA-256",
                Some(_) => continue,
            };
            let Some(nonce) = params.get("nonce").cloned() else {
                continue;
            };
            let qop_auth = params
                .get("qop")
                .is_some_and(|q| q.split(',').any(|q| q.trim().eq_ignore_ascii_case("auth")));
            return Some(Challenge::Digest {
                realm,
                nonce,
                opaque: params.get("opaque").cloned(),
                algorithm,
                qop_auth,
            });
        }
        if scheme.eq_ignore_ascii_case("basic") && basic.is_none() {
            basic = Some(Challenge::Basic { realm });
        }
    }
    basic
}

/// fetch's `cache` option, the modes sesh has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// `default`: use a fresh stored answer, revalidate a stale one, store
    /// the new.
    #[default]
    Default,
    /// `no-store`: neither read nor write the cache (downloads use it);
    /// sends `Pragma: no-cache` and `Cache-Control: no-cache`.
    NoStore,
    /// `reload`: ask the server without looking at the cache, then store
    /// the answer; sends `Pragma: no-cache` and `Cache-Control: no-cache`.
    Reload,
    /// `no-cache`: revalidate any stored answer, fresh or not (a
    /// conditional request); sends `Cache-Control: max-age=0`.
    NoCache,
    /// `force-cache`: use any stored answer, however stale, without asking
    /// the server (except one marked `must-revalidate`); else fetch and
    /// store.
    ForceCache,
    /// `only-if-cached`: as `force-cache`, but without a stored answer the
    /// request fails with `net::ERR_CACHE_MISS` instead of going out.
    OnlyIfCached,
}

impl CacheMode {
    /// Chromium's load flags for the mode, as the net log shows them
    /// (`VALIDATE_CACHE` 1, `BYPASS_CACHE` 2, `SKIP_CACHE_VALIDATION` 4,
    /// `ONLY_FROM_CACHE` 8, `DISABLE_CACHE` 16).
    pub fn load_flags(self) -> u32 {
        match self {
            CacheMode::Default => 0,
            CacheMode::NoCache => 1,
            CacheMode::Reload => 2,
            CacheMode::ForceCache => 4,
            CacheMode::OnlyIfCached => 4 | 8,
            CacheMode::NoStore => 16,
        }
    }
}

/// Cancels a fetch: `AbortController` for [`Session::fetch`]. Clones share
/// the state.
#[derive(Debug, Clone, Default)]
pub struct AbortHandle {
    inner: Arc<AbortState>,
}

#[derive(Debug, Default)]
struct AbortState {
    aborted: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl AbortHandle {
    /// A handle not aborted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Aborts: the fetch, or the body being read, fails with
    /// `net::ERR_ABORTED`.
    pub fn abort(&self) {
        self.inner
            .aborted
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Whether [`AbortHandle::abort`] was called.
    pub fn is_aborted(&self) -> bool {
        self.inner.aborted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Completes once aborted.
    async fn aborted(&self) {
        loop {
            let notified = self.inner.notify.notified();
            if self.is_aborted() {
                return;
            }
            notified.await;
        }
    }
}

/// A request body read as it is sent: any [`hyper::body::Body`] of
/// [`Bytes`]. Clones share it; the first send takes it.
#[derive(Clone)]
pub struct BodyStream {
    body: Arc<std::sync::Mutex<Option<ReqBody>>>,
    /// Its length when known (sent as `Content-Length`).
    length: Option<u64>,
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyStream")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl BodyStream {
    /// Wraps `body`.
    pub fn new<B>(body: B) -> Self
    where
        B: hyper::body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let length = body.size_hint().exact();
        BodyStream {
            body: Arc::new(std::sync::Mutex::new(Some(
                body.map_err(Into::into).boxed(),
            ))),
            length,
        }
    }

    fn take(&self) -> Option<ReqBody> {
        self.body
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

impl Request {
    /// The same request with `body` streamed as its body.
    pub fn with_body_stream<B>(mut self, body: B) -> Self
    where
        B: hyper::body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.body_stream = Some(BodyStream::new(body));
        self
    }

    /// A `GET` of `url` with the defaults.
    pub fn get(url: Url) -> Self {
        Request {
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            body_stream: None,
            redirect: RedirectMode::Follow,
            credentials: Credentials::Include,
            site_for_cookies: None,
            abort: None,
            cache: CacheMode::Default,
            bypass_proxy: false,
            priority: Priority::default(),
            timeout: None,
            resource_type: ResourceType::Other,
        }
    }
}

/// Why a fetch failed: Chromium's net error and the URL it failed on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error} ({url}): {detail}")]
pub struct FetchError {
    /// The net error (`net::ERR_CONNECTION_REFUSED`…).
    pub error: NetError,
    /// The URL being fetched when it failed.
    pub url: Url,
    /// What happened, in words.
    pub detail: String,
}

/// A streaming decoder of a `Content-Encoding`.
enum Decoder {
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Deflate(flate2::write::ZlibDecoder<Vec<u8>>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Decoder<'static, Vec<u8>>),
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decoder::Gzip(_) => "gzip",
            Decoder::Deflate(_) => "deflate",
            Decoder::Brotli(_) => "br",
            Decoder::Zstd(_) => "zstd",
        })
    }
}

impl Decoder {
    /// The decoder for a `Content-Encoding` value, when sesh decodes it.
    fn for_encoding(encoding: &str) -> Option<Decoder> {
        Some(match encoding.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Decoder::Gzip(flate2::write::GzDecoder::new(Vec::new())),
            "deflate" => Decoder::Deflate(flate2::write::ZlibDecoder::new(Vec::new())),
            "br" => Decoder::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                Vec::new(),
                64 * 1024,
            ))),
            "zstd" => Decoder::Zstd(zstd::stream::write::Decoder::new(Vec::new()).ok()?),
            _ => return None,
        })
    }

    /// Feeds `input`; returns what it decodes to so far.
    fn feed(&mut self, input: &[u8]) -> std::io::Result<Vec<u8>> {
        use std::io::Write;
        match self {
            Decoder::Gzip(d) => {
                d.write_all(input)?;
                d.flush()?;
                Ok(std::mem::take(d.get_mut()))
            }
            Decoder::Deflate(d) => {
                d.write_all(input)?;
                d.flush()?;
                Ok(std::mem::take(d.get_mut()))
            }
            Decoder::Brotli(d) => {
                d.write_all(input)?;
                d.flush()?;
                Ok(std::mem::take(d.get_mut()))
            }
            Decoder::Zstd(d) => {
                d.write_all(input)?;
                d.flush()?;
                Ok(std::mem::take(d.get_mut()))
            }
        }
    }

    /// Ends the stream; returns the last bytes, or an error for a
    /// truncated or corrupt one.
    fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Decoder::Gzip(d) => d.finish(),
            Decoder::Deflate(d) => d.finish(),
            Decoder::Brotli(mut d) => {
                d.close()?;
                d.into_inner()
                    .map_err(|_| std::io::Error::other("truncated brotli stream"))
            }
            Decoder::Zstd(mut d) => {
                use std::io::Write;
                d.flush()?;
                Ok(std::mem::take(d.get_mut()))
            }
        }
    }
}

/// The `Accept-Encoding` the session sends on a request that did not set
/// one, as Chromium does: brotli and zstd only over secure connections
/// (`https`), gzip and deflate everywhere.
///
/// ```
/// assert_eq!(sesh_core::net::accept_encoding(true), "gzip, deflate, br, zstd");
/// assert_eq!(sesh_core::net::accept_encoding(false), "gzip, deflate");
/// ```
pub fn accept_encoding(secure: bool) -> &'static str {
    if secure {
        "gzip, deflate, br, zstd"
    } else {
        "gzip, deflate"
    }
}

/// A response whose body has not been read yet.
#[derive(Debug)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The status text (fetch's `statusText`): the reason phrase the server
    /// sent, or the standard one for its status.
    pub status_text: String,
    /// The HTTP version.
    pub version: Version,
    /// The headers.
    pub headers: HeaderMap,
    /// The final URL.
    pub url: Url,
    /// Every URL, from the request's to the final one.
    pub url_chain: Vec<Url>,
    /// The server's address (`None` for an answer from the cache).
    pub remote_addr: Option<SocketAddr>,
    /// Whether the answer came from the session's HTTP cache (fresh, or
    /// revalidated with a `304`).
    pub from_cache: bool,
    body: BodySource,
    decoder: Option<Box<Decoder>>,
    ended: bool,
    abort: Option<AbortHandle>,
    store: Option<Box<CacheStore>>,
    throttle: Option<Throttle>,
    /// The session and its count of `close_all_connections` when the
    /// response arrived: a body cut after a later one was aborted.
    closings: Option<(Session, u64)>,
    /// The HTTP/1.1 connection, back to the pool when the body ends.
    lease: Option<Box<Lease>>,
    /// The request in the session's net log, alive while the response is.
    log: Option<ReqLog>,
    /// What `onHeadersReceived` was shown, when the hook left the head
    /// as it was: the later events show it again rather than make it anew.
    shown: Option<Box<ResponseDetails>>,
}

/// A pooled HTTP/1.1 connection lent to a response until its body is read.
struct Lease {
    pub(crate) pool: Pool,
    slot: Slot,
    idle: Idle,
    /// Whether the connection may carry another request.
    reuse: bool,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("addr", &self.idle.addr)
            .finish_non_exhaustive()
    }
}

/// The reason phrase of a response as sent (hyper keeps it when it is not
/// the standard one), else the standard one; empty for HTTP/2, which has
/// none, as in fetch.
fn status_text(parts: &http::response::Parts) -> String {
    if let Some(reason) = parts.extensions.get::<hyper::ext::ReasonPhrase>() {
        return String::from_utf8_lossy(reason.as_bytes()).into_owned();
    }
    if parts.version == Version::HTTP_2 {
        return String::new();
    }
    parts
        .status
        .canonical_reason()
        .unwrap_or_default()
        .to_owned()
}

/// Whether the connection of a response stays open after it (HTTP/1.1
/// without `Connection: close`, or HTTP/1.0 with `keep-alive`).
fn keeps_alive(parts: &http::response::Parts) -> bool {
    let says = |word: &str| {
        parts
            .headers
            .get_all(http::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(word))
    };
    match parts.version {
        Version::HTTP_10 => says("keep-alive"),
        _ => !says("close"),
    }
}

/// Where a response's body comes from.
#[derive(Debug)]
enum BodySource {
    Net(Incoming),
    Cached(Option<Bytes>),
}

/// A response being copied into the cache as it is read.
struct CacheStore {
    session: Session,
    key: CacheKey,
    request: http::Request<()>,
    response: http::Response<()>,
    body: Vec<u8>,
}

impl std::fmt::Debug for CacheStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheStore")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The most bytes a response may have to be copied into the cache.
const MAX_CACHED_BODY: usize = 32 << 20;

/// A response's head without its body, for the cache.
fn head_of(parts: &http::response::Parts) -> http::Response<()> {
    let mut response = http::Response::new(());
    *response.status_mut() = parts.status;
    *response.version_mut() = parts.version;
    *response.headers_mut() = parts.headers.clone();
    response
}

impl Response {
    fn from_cache(
        parts: http::response::Parts,
        body: Vec<u8>,
        url: &Url,
        chain: Vec<Url>,
        remote_addr: Option<SocketAddr>,
    ) -> Response {
        Response {
            status: parts.status,
            status_text: status_text(&parts),
            version: parts.version,
            headers: parts.headers,
            url: url.clone(),
            url_chain: chain,
            remote_addr,
            from_cache: true,
            body: BodySource::Cached(Some(Bytes::from(body))),
            decoder: None,
            ended: false,
            abort: None,
            store: None,
            throttle: None,
            closings: None,
            lease: None,
            log: None,
            shown: None,
        }
    }

    /// Whether the body is known to be empty before anything is read.
    fn body_known_empty(&self) -> bool {
        match &self.body {
            BodySource::Net(incoming) => hyper::body::Body::is_end_stream(incoming),
            BodySource::Cached(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
        }
    }

    /// The head, for `onHeadersReceived`.
    fn head(&mut self) -> Head<'_> {
        Head {
            status: &mut self.status,
            status_text: &self.status_text,
            version: self.version,
            headers: &mut self.headers,
            from_cache: self.from_cache,
            ip: self.remote_addr,
        }
    }

    /// What webRequest's events tell of this response, for the last
    /// time: what `onHeadersReceived` was shown, when it still holds.
    fn take_details(&mut self) -> ResponseDetails {
        match self.shown.take() {
            Some(shown) => *shown,
            None => self.details(),
        }
    }

    /// What webRequest's events tell of this response.
    fn details(&self) -> ResponseDetails {
        ResponseDetails::of(
            self.version,
            self.status,
            &self.status_text,
            &self.headers,
            self.from_cache,
            self.remote_addr,
        )
    }

    /// The next chunk of the body (`None` at its end), as it arrives.
    ///
    /// # Errors
    ///
    /// `net::ERR_CONTENT_LENGTH_MISMATCH` (or `INCOMPLETE_CHUNKED_ENCODING`)
    /// for a body cut short, `ERR_ABORTED` after `close_all_connections`,
    /// `ERR_CONTENT_DECODING_FAILED` for a broken encoding.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, FetchError> {
        let chunk = self.abortable_chunk().await;
        if let Some(log) = &self.log {
            match &chunk {
                Err(e) => {
                    log.fail(e.error.code());
                    log.hooks.body_failed(e.error);
                }
                Ok(None) => log.complete(),
                Ok(Some(_)) => {}
            }
        }
        chunk
    }

    async fn abortable_chunk(&mut self) -> Result<Option<Bytes>, FetchError> {
        let Some(abort) = self.abort.clone() else {
            return self.next_chunk().await;
        };
        if abort.is_aborted() {
            return Err(fail(-3, &self.url, "aborted"));
        }
        let url = self.url.clone();
        tokio::select! {
            chunk = self.next_chunk() => chunk,
            () = abort.aborted() => Err(fail(-3, &url, "aborted")),
        }
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, FetchError> {
        let chunk = self.decoded_chunk().await;
        if let (Ok(Some(data)), Some(throttle)) = (&chunk, &mut self.throttle) {
            throttle.pass(data.len()).await;
        }
        match &chunk {
            Ok(Some(data)) => {
                if let Some(store) = &mut self.store {
                    store.body.extend_from_slice(data);
                    if store.body.len() > MAX_CACHED_BODY {
                        self.store = None;
                    }
                }
            }
            Ok(None) => {
                if let Some(store) = self.store.take() {
                    // A cache that cannot store is not the request's failure.
                    let _ = store.session.http_cache().store(
                        &store.key,
                        &store.request,
                        &store.response,
                        &store.body,
                    );
                }
            }
            Err(_) => self.store = None,
        }
        chunk
    }

    async fn decoded_chunk(&mut self) -> Result<Option<Bytes>, FetchError> {
        loop {
            if self.ended {
                return Ok(None);
            }
            let incoming = match &mut self.body {
                BodySource::Cached(body) => {
                    let chunk = body.take();
                    if chunk.is_none() {
                        self.ended = true;
                    }
                    return Ok(chunk);
                }
                BodySource::Net(incoming) => incoming,
            };
            // The connection is driven while its body is read (and once
            // more at the end, to be ready for the next request).
            let lease = &mut self.lease;
            let frame = std::future::poll_fn(|cx| {
                let Some(lease) = lease.as_mut() else {
                    return hyper::body::Body::poll_frame(std::pin::Pin::new(&mut *incoming), cx);
                };
                let polled = lease.idle.poll_with(cx, |cx| {
                    hyper::body::Body::poll_frame(std::pin::Pin::new(&mut *incoming), cx)
                });
                if let std::task::Poll::Ready(None) = &polled {
                    lease.idle.drive_once(cx);
                }
                polled
            })
            .await;
            let raw = match frame {
                None => {
                    if let Some(lease) = self.lease.take()
                        && lease.reuse
                    {
                        let Lease {
                            pool, slot, idle, ..
                        } = *lease;
                        pool.put_idle(slot, idle);
                    }
                    None
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => Some(data),
                    Err(_) => continue,
                },
                Some(Err(e)) => {
                    // A body cut short: Chromium's error says how it was
                    // framed.
                    let closed_by_session = self
                        .closings
                        .as_ref()
                        .is_some_and(|(session, n)| session.connections().closings() != *n);
                    let code = if closed_by_session {
                        -3
                    } else if !body_cut_short(&e) {
                        -100
                    } else if self.headers.contains_key(CONTENT_LENGTH) {
                        -354
                    } else {
                        -355
                    };
                    return Err(FetchError {
                        error: NetError::from_code(code),
                        url: self.url.clone(),
                        detail: e.to_string(),
                    });
                }
            };
            let Some(decoder) = &mut self.decoder else {
                if raw.is_none() {
                    self.ended = true;
                }
                return Ok(raw);
            };
            let decoded = match raw {
                Some(data) => decoder.feed(&data),
                None => {
                    self.ended = true;
                    match self.decoder.take() {
                        Some(decoder) => decoder.finish(),
                        None => Ok(Vec::new()),
                    }
                }
            }
            .map_err(|e| FetchError {
                error: NetError::from_code(-330),
                url: self.url.clone(),
                detail: e.to_string(),
            })?;
            if !decoded.is_empty() {
                return Ok(Some(Bytes::from(decoded)));
            }
        }
    }

    /// The whole body.
    ///
    /// # Errors
    ///
    /// As [`Response::chunk`].
    pub async fn bytes(mut self) -> Result<Vec<u8>, FetchError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

/// A request's failure. Cold: the compiler then lays the code that builds
/// an error (its message, a copy of the URL) out of the way of the code
/// every request runs, which stays compact in the instruction cache.
#[cold]
#[inline(never)]
fn fail(code: i32, url: &Url, detail: impl Into<String>) -> FetchError {
    FetchError {
        error: NetError::from_code(code),
        url: url.clone(),
        detail: detail.into(),
    }
}

impl Session {
    /// `net.fetch` for this session: sends `request` with the session's
    /// user agent, languages and cookies, follows redirects as browsers do
    /// (303 and a POST's 301/302 become GET without body; `Authorization`
    /// is dropped across origins), and stores the response's cookies.
    ///
    /// # Errors
    ///
    /// A [`FetchError`] with Chromium's net error: `ERR_NAME_NOT_RESOLVED`,
    /// `ERR_CONNECTION_REFUSED`, certificate errors from the session's
    /// verifier (nothing is sent to a rejected server),
    /// `ERR_TOO_MANY_REDIRECTS`, `ERR_UNSAFE_REDIRECT` for a redirect to a
    /// scheme other than http(s), `ERR_DISALLOWED_URL_SCHEME` for such a
    /// request, `ERR_INVALID_REDIRECT` in `Error` mode, `ERR_TIMED_OUT`
    /// past the request's timeout, `ERR_CACHE_MISS` for `only-if-cached`.
    pub async fn fetch(&self, request: Request) -> Result<Response, FetchError> {
        let referrer = request
            .headers
            .get(http::header::REFERER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let hooks = Tracking::new(
            self.web_request(),
            request.resource_type,
            referrer,
            &request.url,
            &request.method,
        );
        let log = ReqLog::begin(
            self.net_log(),
            &request.url,
            request.priority.chromium_name(),
            hooks,
        );
        let method = request.method.clone();
        // The request stays here, lent to the layers below rather than
        // moved (≈400 bytes copied) into each one's state.
        let mut request = request;
        match self.fetch_timed(&mut request, &log).await {
            Ok(mut response) => {
                response.log = Some(log);
                Ok(response)
            }
            Err(e) => {
                log.fail(e.error.code());
                log.hooks.failed(&e.url, &method, e.error);
                Err(e)
            }
        }
    }

    /// The fetch under the request's timeout and abort handle. The fetch's
    /// future is made once, whichever of them there are, and stays where
    /// it is made: a future this size is not copied from frame to frame.
    async fn fetch_timed(
        &self,
        request: &mut Request,
        log: &ReqLog,
    ) -> Result<Response, FetchError> {
        let (limit, abort) = (request.timeout, request.abort.clone());
        if let Some(abort) = &abort
            && abort.is_aborted()
        {
            return Err(fail(-3, &request.url, "aborted"));
        }
        let url = (limit.is_some() || abort.is_some()).then(|| request.url.clone());
        let mut fetch = std::pin::pin!(self.fetch_following(request, log));
        let Some(url) = url else {
            return fetch.await;
        };
        let deadline = async {
            match limit {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        let aborted = async {
            match &abort {
                Some(abort) => abort.aborted().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = aborted => Err(fail(-3, &url, "aborted")),
            response = &mut fetch => response.map(|mut r| {
                r.abort = abort.clone();
                r
            }),
            () = deadline => Err(fail(
                -7,
                &url,
                format!("no response within {} ms", limit.unwrap_or_default().as_millis()),
            )),
        }
    }

    async fn fetch_following(
        &self,
        request: &mut Request,
        log: &ReqLog,
    ) -> Result<Response, FetchError> {
        let mut chain = vec![request.url.clone()];
        let hooks = &log.hooks;
        loop {
            if hooks.web.has(Stage::BeforeRequest)
                && let Some(hook) = hooks.web.before_request(&request.url, hooks.kind)
            {
                let details = BeforeRequestDetails {
                    request: hooks.details(&request.url, &request.method),
                    upload_data: upload_data(request),
                };
                match hook(details).await {
                    BeforeRequestAction::Continue => {}
                    BeforeRequestAction::Cancel => {
                        return Err(fail(-20, &request.url, "cancelled by onBeforeRequest"));
                    }
                    BeforeRequestAction::Redirect(to) => {
                        let location = Url::parse(&to).map_err(|e| {
                            fail(
                                -300,
                                &request.url,
                                format!("onBeforeRequest redirected to {to:?}: {e}"),
                            )
                        })?;
                        if chain.len() > MAX_REDIRECTS {
                            return Err(fail(-310, &request.url, "more than 20 redirects"));
                        }
                        // Chromium's internal redirect: a 307 that keeps
                        // the method and body.
                        let mut headers = HeaderMap::new();
                        if let Ok(value) = HeaderValue::from_str(location.as_str()) {
                            headers.insert(LOCATION, value);
                        }
                        headers.insert(
                            "non-authoritative-reason",
                            HeaderValue::from_static("WebRequest API"),
                        );
                        self.before_redirect(log, request, &location, || ResponseDetails {
                            status_line: "HTTP/1.1 307 Internal Redirect".into(),
                            status_code: 307,
                            response_headers: web_request::Headers::response(&headers),
                            from_cache: false,
                            ip: None,
                        });
                        log.add(EventType::URL_REQUEST_REDIRECTED, Phase::None, |_| {
                            Some(serde_json::json!({"location": location.as_str()}))
                        });
                        request.url = location.clone();
                        chain.push(location);
                        continue;
                    }
                }
            }
            let mut response = self.fetch_authenticated(request, log).await?;
            if !response.status.is_redirection() || request.redirect == RedirectMode::Manual {
                response.url_chain = std::mem::take(&mut chain);
                self.response_started(log, request, &mut response);
                return Ok(response);
            }
            let Some(location) = response
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| request.url.join(l).ok())
            else {
                response.url_chain = std::mem::take(&mut chain);
                self.response_started(log, request, &mut response);
                return Ok(response);
            };
            if request.redirect == RedirectMode::Error {
                return Err(fail(-303, &request.url, "a redirect in error mode"));
            }
            if !matches!(location.scheme(), "http" | "https") {
                return Err(fail(-311, &location, "a redirect to another scheme"));
            }
            if chain.len() > MAX_REDIRECTS {
                return Err(fail(-310, &request.url, "more than 20 redirects"));
            }
            self.before_redirect(log, request, &location, || response.take_details());
            let status = response.status.as_u16();
            if status == 303 && request.method != Method::HEAD
                || (matches!(status, 301 | 302) && request.method == Method::POST)
            {
                request.method = Method::GET;
                request.body = Bytes::new();
                request.body_stream = None;
                request.headers.remove(CONTENT_TYPE);
                request.headers.remove(CONTENT_LENGTH);
            }
            if location.origin() != request.url.origin() {
                request.headers.remove(AUTHORIZATION);
            }
            log.add(EventType::URL_REQUEST_REDIRECTED, Phase::None, |_| {
                Some(serde_json::json!({"location": location.as_str()}))
            });
            request.url = location.clone();
            chain.push(location);
        }
    }

    /// webRequest's `onBeforeRedirect`, before a redirect is followed.
    fn before_redirect(
        &self,
        log: &ReqLog,
        request: &Request,
        location: &Url,
        response: impl FnOnce() -> ResponseDetails,
    ) {
        let hooks = &log.hooks;
        if hooks.web.has(Stage::BeforeRedirect)
            && let Some(listener) = hooks.web.before_redirect(&request.url, hooks.kind)
        {
            listener(&BeforeRedirectDetails {
                request: hooks.details(&request.url, &request.method),
                response: response(),
                redirect_url: location.to_string(),
            });
        }
    }

    /// webRequest's `onResponseStarted` for the final response; its end
    /// (`onCompleted`, `onErrorOccurred`) is reported by the response.
    fn response_started(&self, log: &ReqLog, request: &Request, response: &mut Response) {
        let hooks = &log.hooks;
        let mut details = None;
        if hooks.web.has(Stage::ResponseStarted)
            && let Some(listener) = hooks.web.response_started(&request.url, hooks.kind)
        {
            let event = ResponseEventDetails {
                request: hooks.details(&request.url, &request.method),
                response: response.take_details(),
            };
            listener(&event);
            details = Some(event.response);
        }
        hooks.started(&request.url, &request.method, || {
            details.unwrap_or_else(|| response.take_details())
        });
        response.shown = None;
        if response.body_known_empty() {
            // Nothing to read: the request is complete now.
            log.complete();
        }
    }

    /// What the session's `login` handler answers, `None` without one.
    async fn ask_login(&self, challenge: AuthChallenge) -> Option<(String, String)> {
        match self.login_handler() {
            Some(login) => login(challenge).await,
            None => None,
        }
    }

    /// `fetch_once`, answering a server's `401` (or an HTTP proxy's `407`)
    /// with the session's cached credentials or its `login` handler (three
    /// tries at most), as Chromium does for the `login` event.
    async fn fetch_authenticated(
        &self,
        request: &mut Request,
        log: &ReqLog,
    ) -> Result<Response, FetchError> {
        use http::header::{PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, WWW_AUTHENTICATE};

        let app_set_server = request.headers.contains_key(AUTHORIZATION);
        let app_set_proxy = request.headers.contains_key(PROXY_AUTHORIZATION);
        let mut tries = 0;
        // (cache key, realm, credentials) last sent.
        let mut used: Option<(String, String, (String, String))> = None;
        loop {
            let response = self.fetch_once(request, log).await?;
            let proxy_addr = response.remote_addr.filter(|_| {
                response.status == StatusCode::PROXY_AUTHENTICATION_REQUIRED && !app_set_proxy
            });
            let (key, ask, answer, host, port) = match proxy_addr {
                Some(addr) => (
                    format!("proxy://{addr}"),
                    PROXY_AUTHENTICATE,
                    PROXY_AUTHORIZATION,
                    addr.ip().to_string(),
                    addr.port(),
                ),
                None if response.status == StatusCode::UNAUTHORIZED && !app_set_server => (
                    request.url.origin().ascii_serialization(),
                    WWW_AUTHENTICATE,
                    AUTHORIZATION,
                    request.url.host_str().unwrap_or_default().to_owned(),
                    request.url.port_or_known_default().unwrap_or(0),
                ),
                None => {
                    if let Some((key, realm, credentials)) = used {
                        self.auth_cache().put(&key, &realm, credentials);
                    }
                    return Ok(response);
                }
            };
            let Some(challenge) = choose_challenge_in(
                response
                    .headers
                    .get_all(&ask)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            ) else {
                // Only schemes sesh cannot answer. An app that handles
                // `login` wants to get in: say why it cannot; without a
                // handler the 401 is the answer, as when Chromium's login
                // is cancelled.
                let integrated = response
                    .headers
                    .get_all(&ask)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(','))
                    .filter_map(|c| c.split_whitespace().next())
                    .find(|scheme| {
                        scheme.eq_ignore_ascii_case("ntlm")
                            || scheme.eq_ignore_ascii_case("negotiate")
                    })
                    .map(str::to_owned);
                if let Some(scheme) = integrated
                    && self.login_handler().is_some()
                {
                    return Err(fail(
                        -339,
                        &request.url,
                        format!(
                            "the server asks for {scheme} authentication, which sesh does not support (Basic and Digest are)"
                        ),
                    ));
                }
                return Ok(response);
            };
            let realm = challenge.realm().to_owned();
            let mut fresh = true;
            if let Some((old_key, old_realm, _)) = &used {
                if *old_key == key {
                    // Those credentials were refused.
                    self.auth_cache().forget(old_key, old_realm);
                    fresh = false;
                } else {
                    // The other side accepted them: keep them.
                    if let Some((k, r, c)) = used.take() {
                        self.auth_cache().put(&k, &r, c);
                    }
                }
            }
            tries += 1;
            let cached = if fresh {
                self.auth_cache().get(&key, &realm)
            } else {
                None
            };
            let credentials = match cached {
                Some(c) => Some(c),
                None if tries <= 3 => {
                    self.ask_login(AuthChallenge {
                        is_proxy: proxy_addr.is_some(),
                        scheme: challenge.scheme().to_owned(),
                        host,
                        port,
                        realm: realm.clone(),
                        url: request.url.clone(),
                    })
                    .await
                }
                None => None,
            };
            let Some((user, password)) = credentials else {
                return Ok(response);
            };
            let uri = if proxy_addr.is_some() {
                request.url.to_string()
            } else {
                let mut uri = request.url.path().to_owned();
                if let Some(q) = request.url.query() {
                    uri.push('?');
                    uri.push_str(q);
                }
                uri
            };
            let value = challenge.authorization(&user, &password, request.method.as_str(), &uri);
            request.headers.insert(
                answer,
                HeaderValue::from_str(&value).map_err(|e| fail(-4, &request.url, e.to_string()))?,
            );
            used = Some((key, realm, (user, password)));
        }
    }

    /// One request on the network (or answered by the cache), between the
    /// `URL_REQUEST_START_JOB` events.
    async fn fetch_once(&self, request: &Request, log: &ReqLog) -> Result<Response, FetchError> {
        log.add(EventType::URL_REQUEST_START_JOB, Phase::Begin, |_| {
            Some(serde_json::json!({
                "url": request.url.as_str(),
                "method": request.method.as_str(),
                "load_flags": request.cache.load_flags(),
                "site_for_cookies": request.site_for_cookies.as_ref().map(Url::as_str),
            }))
        });
        // Not boxed: a box would cost an allocation and a copy of the
        // job's state every request, more than the moves of a larger
        // future (measured).
        let result = self.fetch_job(request, log).await;
        log.log.end_with(
            log.source,
            EventType::URL_REQUEST_START_JOB,
            result.as_ref().err().map(|e| e.error.code()),
        );
        result
    }

    /// One request on the network or from the cache. The response's URL
    /// chain is left to the caller, which holds it.
    async fn fetch_job(&self, request: &Request, log: &ReqLog) -> Result<Response, FetchError> {
        let url = &request.url;
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(fail(-301, url, format!("{other}: is not fetched"))),
        };
        let host = url
            .host_str()
            .ok_or_else(|| fail(-300, url, "no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let mode = request.cache;
        let asked_encoding = !request.headers.contains_key(ACCEPT_ENCODING);

        // The headers as they will be sent (but Host and the cache's
        // validators), which the webRequest hooks may change.
        let mut headers = self.outgoing_headers(request, https, asked_encoding)?;
        let hooks = &log.hooks;
        // The headers are lent to the hooks, not copied: while they are
        // what will be sent, each hook is shown the same shared map, taken
        // back after (copied only if a hook kept its details).
        let mut shown = None;
        if hooks.web.has(Stage::BeforeSendHeaders)
            && let Some(hook) = hooks.web.before_send_headers(url, hooks.kind)
        {
            let request_headers = web_request::Headers::from(std::mem::take(&mut headers));
            shown = Some(request_headers.clone());
            let details = BeforeSendHeadersDetails {
                request: hooks.details(url, &request.method),
                request_headers,
                upload_data: upload_data(request),
            };
            match hook(details).await {
                BeforeSendHeadersAction::Continue => {}
                BeforeSendHeadersAction::Cancel => {
                    return Err(fail(-20, url, "cancelled by onBeforeSendHeaders"));
                }
                BeforeSendHeadersAction::Headers(replaced) => {
                    headers = replaced.into_map();
                    shown = None;
                }
            }
        }
        if hooks.web.has(Stage::SendHeaders)
            && let Some(listener) = hooks.web.send_headers(url, hooks.kind)
        {
            let details = SendHeadersDetails {
                request: hooks.details(url, &request.method),
                request_headers: shown
                    .take()
                    .unwrap_or_else(|| web_request::Headers::from(std::mem::take(&mut headers))),
            };
            listener(&details);
            shown = Some(details.request_headers);
        }
        if let Some(shown) = shown {
            headers = shown.into_map();
        }

        // The HTTP cache, for GETs: a fresh answer ends here; a stale one
        // is revalidated with the validators it has. What the cache is
        // asked with is made only when it is asked (it holds something) or
        // may keep the answer.
        let cacheable = request.method == Method::GET
            && mode != CacheMode::NoStore
            && !request.headers.contains_key(http::header::RANGE);
        let cache_entry = || {
            let key = CacheKey {
                url: url.to_string(),
                top_frame_site: request
                    .site_for_cookies
                    .as_ref()
                    .map(|site| site.origin().ascii_serialization()),
            };
            let mut cache_request = http::Request::new(());
            *cache_request.uri_mut() = url.as_str().parse().unwrap_or_default();
            *cache_request.headers_mut() = headers.clone();
            (key, cache_request)
        };
        let mut cache = None;
        let mut conditional = HeaderMap::new();
        if cacheable && mode != CacheMode::Reload {
            // The mode speaks through the request's own cache directives.
            let directive = match mode {
                CacheMode::ForceCache | CacheMode::OnlyIfCached => Some("max-stale"),
                CacheMode::NoCache => Some("no-cache"),
                _ => None,
            };
            let lookup = if self.http_cache().is_empty() {
                Ok(CacheLookup::Miss)
            } else {
                let (key, cache_request) = cache.insert(cache_entry());
                match directive {
                    Some(directive) => {
                        let mut asking = http::Request::new(());
                        *asking.uri_mut() = cache_request.uri().clone();
                        *asking.headers_mut() = cache_request.headers().clone();
                        asking.headers_mut().insert(
                            http::header::CACHE_CONTROL,
                            HeaderValue::from_static(directive),
                        );
                        self.http_cache().lookup(key, &asking)
                    }
                    None => self.http_cache().lookup(key, cache_request),
                }
            };
            log.add(EventType::HTTP_CACHE_READ_INFO, Phase::None, |_| {
                let entry = match &lookup {
                    Ok(CacheLookup::Fresh { .. }) => "fresh",
                    Ok(CacheLookup::Stale { .. }) => "stale",
                    _ => "none",
                };
                Some(serde_json::json!({"entry": entry}))
            });
            match lookup {
                Ok(CacheLookup::Fresh { response, body }) => {
                    let mut response = Response::from_cache(response, body, url, Vec::new(), None);
                    self.headers_received(request, log, response.head())
                        .await?
                        .apply(&mut response);
                    return Ok(response);
                }
                Ok(CacheLookup::Stale { request: stale }) if mode != CacheMode::OnlyIfCached => {
                    for name in [http::header::IF_NONE_MATCH, http::header::IF_MODIFIED_SINCE] {
                        if let Some(value) = stale.headers.get(&name) {
                            conditional.insert(name, value.clone());
                        }
                    }
                }
                _ if mode == CacheMode::OnlyIfCached => {
                    return Err(fail(
                        -400,
                        url,
                        "nothing usable in the cache (only-if-cached)",
                    ));
                }
                _ => {}
            }
        }
        if mode == CacheMode::OnlyIfCached && !cacheable {
            return Err(fail(-400, url, "only GETs can come from the cache"));
        }

        let emulation = self.network_emulation();
        if emulation.offline {
            crate::unlikely();
            return Err(fail(-106, url, "the session is emulating being offline"));
        }
        if emulation.latency.is_finite() && emulation.latency > 0.0 {
            crate::unlikely();
            tokio::time::sleep(std::time::Duration::from_secs_f64(
                emulation.latency / 1000.0,
            ))
            .await;
        }
        // A pooled socket the other side closed before answering gets the
        // request again, as Chromium does: on another pooled socket or a
        // new one (a new one's failure is final). Bounded, since other
        // requests keep returning sockets to the pool.
        let mut resends = 0;
        let (response, remote_addr, lease) = loop {
            let closings = self.connections().closings();
            // After a pooled socket closed under it, the request checks
            // the next ones before it goes on them.
            let conn = self
                .acquire(request, url, (&host, port, https), resends > 0, log)
                .await?;
            let absolute_form = matches!(&conn, Conn::H1 { idle, .. } if idle.absolute_form);
            let mut head = self.request_head(request, &headers)?;
            if !conditional.is_empty() {
                head.headers_mut().extend(conditional.clone());
            }
            if absolute_form {
                // Through an HTTP proxy, an http URL is requested whole.
                *head.uri_mut() = whole_uri(url)?;
            }
            let body = request_body(request, emulation.upload_throughput)?;
            match conn {
                Conn::H2 {
                    mut sender,
                    addr,
                    reused,
                } => {
                    // HTTP/2 names the target in the request's URI.
                    *head.uri_mut() = whole_uri(url)?;
                    head.headers_mut().remove(HOST);
                    let request = head.map(|()| body);
                    log_request_headers(log, &request, true);
                    let sent = match sender.ready().await {
                        Ok(()) => sender.send_request(request).await,
                        Err(e) => Err(e),
                    };
                    log_response_headers(log, &sent);
                    if sent.is_err() && self.connections().closings() != closings {
                        return Err(fail(-3, url, "the session closed its connections"));
                    }
                    match sent {
                        Ok(response) => break (response, addr, None),
                        Err(e) if reused && resends < MAX_RESENDS && !e.is_parse() => resends += 1,
                        Err(e) => return Err(fail(-337, url, e.to_string())),
                    }
                }
                Conn::H1 {
                    mut idle,
                    slot,
                    reused,
                } => {
                    let request = head.map(|()| body);
                    log_request_headers(log, &request, false);
                    let (sender, driver, wake) = idle.parts();
                    let sent = Idle::driving(driver, wake, async {
                        match sender.ready().await {
                            Ok(()) => sender.send_request(request).await,
                            Err(e) => Err(e),
                        }
                    })
                    .await;
                    log_response_headers(log, &sent);
                    if sent.is_err() && self.connections().closings() != closings {
                        return Err(fail(-3, url, "the session closed its connections"));
                    }
                    match sent {
                        Ok(response) => {
                            let addr = idle.addr;
                            break (response, addr, Some((slot, idle)));
                        }
                        Err(e)
                            if reused
                                && resends < MAX_RESENDS
                                && !e.is_parse()
                                && !e.is_parse_status() =>
                        {
                            resends += 1;
                        }
                        Err(e) => return Err(fail(response_error(&e), url, e.to_string())),
                    }
                }
            }
        };
        let (mut parts, incoming) = response.into_parts();
        // The socket goes back to the pool once the body is read: now, if
        // there is none; never, if the server closes it.
        // The connection stays with the response while its body is read
        // (it is what brings the body), then goes back to the pool unless
        // the server closes it.
        let reuse = keeps_alive(&parts);
        let lease = lease.and_then(|(slot, idle)| {
            let pool = self.connections().pool.clone();
            if hyper::body::Body::is_end_stream(&incoming) {
                if reuse {
                    pool.put_idle(slot, idle);
                }
                None
            } else {
                Some(Box::new(Lease {
                    pool,
                    slot,
                    idle,
                    reuse,
                }))
            }
        });
        let revalidating = parts.status == StatusCode::NOT_MODIFIED && !conditional.is_empty();
        let mut received = Received::default();
        if !revalidating && log.hooks.web.has(Stage::HeadersReceived) {
            let text = status_text(&parts);
            received = self
                .headers_received(
                    request,
                    log,
                    Head {
                        status: &mut parts.status,
                        status_text: &text,
                        version: parts.version,
                        headers: &mut parts.headers,
                        from_cache: false,
                        ip: Some(remote_addr),
                    },
                )
                .await?;
        }
        if request.credentials == Credentials::Include {
            for line in parts.headers.get_all(SET_COOKIE) {
                if let Ok(line) = line.to_str() {
                    // A refused cookie is not the request's failure.
                    let _ = self.cookies().set_from_header(url, line);
                }
            }
        }
        if let Some((key, cache_request)) = &cache
            && parts.status == StatusCode::NOT_MODIFIED
            && !conditional.is_empty()
        {
            let head_only = head_of(&parts);
            if let Ok(Some((response, body))) =
                self.http_cache()
                    .revalidated(key, cache_request, &head_only)
            {
                let mut response =
                    Response::from_cache(response, body, url, Vec::new(), Some(remote_addr));
                self.headers_received(request, log, response.head())
                    .await?
                    .apply(&mut response);
                return Ok(response);
            }
        }
        // Decoded only when this request asked for it (the app may send its
        // own Accept-Encoding, identity for downloads) and the response has
        // a body.
        let decoder = if asked_encoding
            && !matches!(parts.status.as_u16(), 204 | 304)
            && request.method != Method::HEAD
        {
            parts
                .headers
                .get(http::header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .and_then(Decoder::for_encoding)
                .map(Box::new)
        } else {
            None
        };
        let store = match cache {
            _ if !cacheable
                || parts.status != StatusCode::OK
                || !self.http_cache().may_store(&parts.headers) =>
            {
                None
            }
            cache => {
                let (key, request) = cache.unwrap_or_else(cache_entry);
                // The cache keeps the decoded body.
                let mut response = head_of(&parts);
                if decoder.is_some() {
                    response
                        .headers_mut()
                        .remove(http::header::CONTENT_ENCODING);
                    response.headers_mut().remove(CONTENT_LENGTH);
                }
                Some(Box::new(CacheStore {
                    session: self.clone(),
                    key,
                    request,
                    response,
                    body: Vec::new(),
                }))
            }
        };
        let Received {
            status_text: text,
            shown,
        } = received;
        let status_text = text.unwrap_or_else(|| status_text(&parts));
        Ok(Response {
            status: parts.status,
            status_text,
            version: parts.version,
            headers: parts.headers,
            url: url.clone(),
            url_chain: Vec::new(),
            remote_addr: Some(remote_addr),
            from_cache: false,
            body: BodySource::Net(incoming),
            decoder,
            ended: false,
            abort: None,
            store,
            throttle: Throttle::new(emulation.download_throughput),
            closings: Some((self.clone(), self.connections().closings())),
            lease,
            log: None,
            shown,
        })
    }

    /// The pool group of `url` through `server` under the TLS rules in
    /// force.
    fn pool_key(&self, server: &ProxyServer, https: bool, host: &str, port: u16) -> PoolKey {
        let verifier = self.cert_verifier();
        PoolKey {
            https,
            host: host.into(),
            port,
            route: if server.is_direct() {
                static DIRECT: std::sync::LazyLock<Arc<str>> =
                    std::sync::LazyLock::new(|| "DIRECT".into());
                DIRECT.clone()
            } else {
                server.to_string().into()
            },
            tls: (verifier.ssl_generation(), verifier.trust_generation()),
        }
    }

    /// A connection for `url`: a pooled one of its group, or a new one —
    /// direct, or through the first proxy of the session's answer for it
    /// that can be reached (a proxy that cannot is marked bad, as Chromium
    /// does, and the next one is tried). A pooled socket is checked for the
    /// other side's close first when the request is `careful` (it met one
    /// already), unsafe, or has a streamed body.
    async fn acquire(
        &self,
        request: &Request,
        url: &Url,
        (host, port, https): (&str, u16, bool),
        careful: bool,
        log: &ReqLog,
    ) -> Result<Conn, FetchError> {
        let servers = if request.bypass_proxy {
            sesh_proxy_rules::ProxyList::direct()
        } else {
            log.add(EventType::PROXY_RESOLUTION_SERVICE, Phase::Begin, |_| None);
            let resolution = self.resolve_proxy_for(url).await;
            match &resolution {
                Ok(resolution) => {
                    if let Some(error) = &resolution.error {
                        log.add(EventType::PAC_JAVASCRIPT_ERROR, Phase::None, |_| {
                            Some(serde_json::json!({"message": error.to_string()}))
                        });
                    }
                    log.add(
                        EventType::PROXY_RESOLUTION_SERVICE_RESOLVED_PROXY_LIST,
                        Phase::None,
                        |_| Some(serde_json::json!({"proxy_info": resolution.list.to_string()})),
                    );
                    log.log
                        .end_with(log.source, EventType::PROXY_RESOLUTION_SERVICE, None);
                }
                Err(_) => {
                    log.log
                        .end_with(log.source, EventType::PROXY_RESOLUTION_SERVICE, Some(-2))
                }
            }
            resolution.map_err(|e| fail(-2, url, e.to_string()))?.list
        };
        let pool = &self.connections().pool;
        let mut last = None;
        for server in servers.servers() {
            let key = self.pool_key(server, https, host, port);
            let checkout = loop {
                match pool.checkout(&key, request.priority).await {
                    // A socket that ended or heard from the other side
                    // while idle is closed, and the pool asked again.
                    // The socket is checked thoroughly only for a request
                    // a closing server must not see, or that could not be
                    // sent again.
                    Checkout::Idle(mut idle, slot) => {
                        let thorough =
                            careful || request.body_stream.is_some() || !is_safe(&request.method);
                        if idle.usable(thorough).await {
                            break Checkout::Idle(idle, slot);
                        }
                    }
                    checkout => break checkout,
                }
            };
            let slot = match checkout {
                Checkout::H2(sender, addr) => {
                    log.add(
                        EventType::HTTP2_SESSION_POOL_FOUND_EXISTING_SESSION,
                        Phase::None,
                        |_| Some(serde_json::json!({"remote_address": addr.to_string()})),
                    );
                    return Ok(Conn::H2 {
                        sender,
                        addr,
                        reused: true,
                    });
                }
                Checkout::Idle(idle, slot) => {
                    log.add(
                        EventType::SOCKET_POOL_REUSED_AN_EXISTING_SOCKET,
                        Phase::None,
                        |_| Some(serde_json::json!({"idle_ms": idle.idle_ms()})),
                    );
                    log.add(EventType::SOCKET_POOL_BOUND_TO_SOCKET, Phase::None, |_| {
                        Some(serde_json::json!({"source_dependency": idle.socket.dependency()}))
                    });
                    return Ok(Conn::H1 {
                        idle,
                        slot,
                        reused: true,
                    });
                }
                Checkout::New(slot) => slot,
            };
            let socket = log.socket();
            socket.add(EventType::SOCKET_ALIVE, Phase::Begin, |_| {
                Some(serde_json::json!({
                    "source_dependency": log.source.dependency(),
                    "proxy_server": server.to_string(),
                }))
            });
            let established = Box::pin(self.establish(slot, server, url, &socket)).await;
            match &established {
                Ok(_) => log.add(EventType::SOCKET_POOL_BOUND_TO_SOCKET, Phase::None, |_| {
                    Some(serde_json::json!({"source_dependency": socket.socket.dependency()}))
                }),
                Err(e) => socket.log.end_with(
                    socket.socket,
                    EventType::SOCKET_ALIVE,
                    Some(e.error.code()),
                ),
            }
            match established {
                Ok(conn) => return Ok(conn),
                Err(e) if !server.is_direct() && falls_over(e.error) => {
                    self.proxy_retry_list()
                        .mark_bad(server, DEFAULT_RETRY_DELAY, true);
                    log.add(EventType::BAD_PROXY_LIST_REPORTED, Phase::None, |_| {
                        Some(serde_json::json!({"bad_proxy_list": [server.to_string()]}))
                    });
                    last = Some(e);
                }
                // Chromium reports a SOCKS proxy's "host unreachable" as
                // the address being unreachable.
                Err(e) if e.error.code() == -121 => {
                    return Err(FetchError {
                        error: NetError::from_code(-109),
                        ..e
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| fail(-336, url, "the proxy list is empty")))
    }

    /// Opens the socket `slot` counts: TCP (through `server`), TLS for
    /// https with the certificate accepted by the session before anything
    /// is sent, and the HTTP handshake. An HTTP/2 connection is handed to
    /// the pool at once, for every request of its group. TLS's last
    /// handshake flight waits for the session's verdict on the certificate
    /// and then goes at once, as Chromium sends it: the server finishes its
    /// side of the handshake while the request is made (measured against
    /// holding it for the request's write, 21 paired rounds: 6 % more fresh
    /// connections a second one after another, 3 % fewer with 64 at a time
    /// on a saturated two-core machine; within noise across whole runs).
    async fn establish(
        &self,
        slot: Slot,
        server: &ProxyServer,
        url: &Url,
        log: &SocketLog,
    ) -> Result<Conn, FetchError> {
        let https = url.scheme() == "https";
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = url.port_or_known_default().unwrap_or(80);
        let (io, addr, absolute_form) = self
            .connect_via(server, url, host, port, https, log)
            .await?;
        let connections = self.connections();
        if !https {
            let (sender, driver, probe) =
                h1_handshake(connections, log.wrap(io, false), url, log).await?;
            return Ok(Conn::H1 {
                idle: Idle::fresh(sender, driver, addr, absolute_form, log.socket, probe),
                slot,
                reused: false,
            });
        }
        let (tls, verdict) = self
            .tls_connect(io, host, &[b"h2", b"http/1.1"], url, false, false, log)
            .await?;
        // Nothing is sent before the certificate is accepted.
        if !verdict.is_ok() {
            return Err(FetchError {
                error: verdict,
                url: url.clone(),
                detail: format!("the certificate of {host} was rejected"),
            });
        }
        if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
            let (sender, driver, probe) =
                h1_handshake(connections, log.wrap(tls, true), url, log).await?;
            return Ok(Conn::H1 {
                idle: Idle::fresh(sender, driver, addr, false, log.socket, probe),
                slot,
                reused: false,
            });
        }
        let (sender, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            TokioIo::new(log.wrap(tls, true)),
        )
        .await
        .map_err(|e| fail(-337, url, e.to_string()))?;
        // HTTP/2 watches its connection itself.
        drop(log.take_probe());
        let key = slot.key().clone();
        let epoch = Pool::epoch_of(&slot);
        let id = connections.pool.register_h2(slot, sender.clone(), addr);
        let pool = connections.pool.clone();
        let socket = log.clone();
        connections.track(tokio::spawn(async move {
            let _ = connection.await;
            pool.h2_closed(&key, id, epoch);
            socket.add(EventType::SOCKET_ALIVE, Phase::End, |_| None);
        }));
        Ok(Conn::H2 {
            sender,
            addr,
            reused: false,
        })
    }

    /// `ses.preconnect({url, numSockets})`: opens sockets to `url`'s origin
    /// ahead of time, through the proxy its requests would take, until its
    /// group holds `num_sockets` (one HTTP/2 connection is enough for any
    /// number), and emits the `preconnect` event. Returns how many were
    /// opened.
    ///
    /// # Errors
    ///
    /// `num_sockets` outside 1 to 6 (Electron's range), a URL that is not
    /// http(s), or the failure of the first socket that could not be
    /// opened.
    pub async fn preconnect(&self, url: &str, num_sockets: usize) -> crate::Result<usize> {
        if !(1..=6).contains(&num_sockets) {
            return Err(crate::Error::InvalidArgument(format!(
                "numSockets must be between 1 and 6, not {num_sockets}"
            )));
        }
        let parsed = Url::parse(url)
            .map_err(|e| crate::Error::InvalidArgument(format!("{url:?} is not a URL: {e}")))?;
        let https = match parsed.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(crate::Error::InvalidArgument(format!(
                    "preconnect needs an http(s) URL, not {other}:"
                )));
            }
        };
        let host = parsed
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = parsed.port_or_known_default().unwrap_or(80);
        self.notify_preconnect(url, true);
        let server = self
            .resolve_proxy_for(&parsed)
            .await?
            .list
            .servers()
            .first()
            .cloned()
            .unwrap_or(ProxyServer::Direct);
        let key = self.pool_key(&server, https, &host, port);
        let pool = &self.connections().pool;
        let mut opened = 0;
        while let Some(slot) = pool.room_for(&key, num_sockets) {
            let log = SocketLog::detached(self.net_log());
            log.add(EventType::SOCKET_ALIVE, Phase::Begin, |_| {
                Some(serde_json::json!({
                    "preconnect": parsed.as_str(),
                    "proxy_server": server.to_string(),
                }))
            });
            let established = self.establish(slot, &server, &parsed, &log).await;
            if let Err(e) = &established {
                log.log
                    .end_with(log.socket, EventType::SOCKET_ALIVE, Some(e.error.code()));
            }
            match established? {
                Conn::H1 { idle, slot, .. } => pool.put_fresh(slot, idle),
                Conn::H2 { .. } => return Ok(opened + 1),
            }
            opened += 1;
        }
        Ok(opened)
    }
    /// A stream to a proxy: TCP, or for an HTTPS proxy TLS over it, the
    /// proxy's certificate verified by the session like a server's (a
    /// rejected one is `ERR_PROXY_CERTIFICATE_INVALID`, and the next proxy
    /// is tried).
    async fn proxy_stream(
        &self,
        url: &Url,
        tls: bool,
        hold: bool,
        proxy_host: &str,
        proxy_port: u16,
        log: &SocketLog,
    ) -> Result<(BoxIo, SocketAddr), FetchError> {
        let (tcp, addr) =
            connect_tcp(self.host_resolver(), url, proxy_host, proxy_port, true, log).await?;
        if !tls {
            return Ok((Box::new(tcp), addr));
        }
        let (stream, verdict) = self
            .tls_connect(tcp, proxy_host, &[b"http/1.1"], url, true, hold, log)
            .await?;
        if !verdict.is_ok() {
            return Err(fail(
                -136,
                url,
                format!("the proxy's certificate: {verdict}"),
            ));
        }
        Ok((stream, addr))
    }

    /// TLS over `io` to `name` (a server or an HTTPS proxy) with the
    /// session's deferred verifier, and the session's verdict on the
    /// certificate (the verify proc included). An invalid name fails with
    /// `ERR_ADDRESS_INVALID` (`ERR_PROXY_CONNECTION_FAILED` for a proxy); a
    /// failed handshake with `SSL_PROTOCOL_ERROR`.
    #[allow(clippy::too_many_arguments)]
    async fn tls_connect<S>(
        &self,
        io: S,
        name: &str,
        alpn: &[&[u8]],
        url: &Url,
        to_proxy: bool,
        hold: bool,
        log: &SocketLog,
    ) -> Result<(Box<tokio_rustls::client::TlsStream<Coalesce<S>>>, NetError), FetchError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let (name_error, context) = if to_proxy {
            (-130, "TLS to the proxy: ")
        } else {
            (-108, "")
        };
        let verifier = self.cert_verifier();
        let (config, _generation) = verifier.deferred_client_config(alpn);
        // Parsed borrowed: an IP address is then owned without a copy of
        // the text.
        let server_name = rustls_pki_types::ServerName::try_from(name)
            .map(|n| n.to_owned())
            .map_err(|_| {
                fail(
                    name_error,
                    url,
                    format!("{name:?} is not a valid server name"),
                )
            })?;
        log.add(EventType::SSL_CONNECT, Phase::Begin, |_| {
            Some(serde_json::json!({"host": name}))
        });
        // Boxed at once: the stream (rustls's connection state, ≈1 KB)
        // then moves from layer to layer (the HTTP handshake, the
        // connection's driver) as a pointer, not a copy each time.
        let mut stream = match tokio_rustls::TlsConnector::from(config)
            .connect(server_name, Coalesce::new(io))
            .await
        {
            Ok(stream) => Box::new(stream),
            Err(e) => {
                log.log
                    .end_with(log.socket, EventType::SSL_CONNECT, Some(-107));
                return Err(fail(-107, url, format!("{context}{e}")));
            }
        };
        // The chain the connection holds, borrowed: a resumed session
        // presents the one it was made with, verified again (as Chromium
        // does) and, in the usual case, answered from the verdict cache.
        let chain = stream.get_ref().1.peer_certificates().unwrap_or_default();
        let verdict = verifier.verify(name, chain).await.result;
        // The client's Finished waits for the verdict, and then, when
        // held, for the first write to go with it; otherwise it goes now.
        if verdict.is_ok() {
            if hold {
                stream.get_mut().0.handshake_done();
            } else if let Err(e) = stream.get_mut().0.release().await {
                log.log
                    .end_with(log.socket, EventType::SSL_CONNECT, Some(-107));
                return Err(fail(-107, url, format!("{context}{e}")));
            }
        }
        log.add(EventType::SSL_CONNECT, Phase::End, |_| {
            let tls = stream.get_ref().1;
            Some(if verdict.is_ok() {
                serde_json::json!({
                    "version": tls.protocol_version().map(u16::from),
                    "cipher_suite": tls.negotiated_cipher_suite().map(|c| u16::from(c.suite())),
                    "key_exchange_group": tls.negotiated_key_exchange_group().map(|g| u16::from(g.name())),
                    "is_resumed": tls.handshake_kind() == Some(tokio_rustls::rustls::HandshakeKind::Resumed),
                    "next_proto": tls.alpn_protocol().map(String::from_utf8_lossy),
                })
            } else {
                serde_json::json!({"net_error": verdict.code()})
            })
        });
        Ok((stream, verdict))
    }

    /// One attempt: direct, or through `server`.
    async fn connect_via(
        &self,
        server: &ProxyServer,
        url: &Url,
        host: &str,
        port: u16,
        https: bool,
        log: &SocketLog,
    ) -> Result<(BoxIo, SocketAddr, bool), FetchError> {
        let ProxyServer::Proxy {
            scheme,
            port: proxy_port,
            ..
        } = server
        else {
            let (tcp, addr) =
                connect_tcp(self.host_resolver(), url, host, port, false, log).await?;
            return Ok((Box::new(tcp), addr, false));
        };
        let proxy_host = server.connect_host().unwrap_or_default();
        match scheme {
            ProxyScheme::Http | ProxyScheme::Https => {
                let authority = if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                let key = format!("proxy://{proxy_host}:{proxy_port}");
                let mut authorization: Option<String> = None;
                let mut used: Option<(String, (String, String))> = None;
                for attempt in 0.. {
                    // Boxed: a direct connection's future need not be as
                    // large as TLS to a proxy's.
                    let (mut tcp, addr) = Box::pin(self.proxy_stream(
                        url,
                        *scheme == ProxyScheme::Https,
                        // A CONNECT follows at once: the proxy's Finished
                        // goes with it.
                        https,
                        proxy_host,
                        *proxy_port,
                        log,
                    ))
                    .await?;
                    if !https {
                        return Ok((tcp, addr, true));
                    }
                    let challenge = match tunnel(
                        &mut tcp,
                        url,
                        host,
                        port,
                        &self.user_agent(),
                        authorization.as_deref(),
                    )
                    .await
                    {
                        Ok(()) => {
                            if let Some((realm, credentials)) = used {
                                self.auth_cache().put(&key, &realm, credentials);
                            }
                            return Ok((tcp, addr, false));
                        }
                        Err(TunnelFailure::Other(e)) => return Err(e),
                        Err(TunnelFailure::Auth(challenge)) => challenge,
                    };
                    let asks = || fail(-127, url, "the proxy asks for credentials");
                    let Some(challenge) = challenge else {
                        return Err(asks());
                    };
                    if let Some((realm, _)) = &used {
                        self.auth_cache().forget(&key, realm);
                    }
                    let realm = challenge.realm().to_owned();
                    let credentials = match (attempt, self.auth_cache().get(&key, &realm)) {
                        (0, Some(cached)) => Some(cached),
                        (0..=3, _) => {
                            self.ask_login(AuthChallenge {
                                is_proxy: true,
                                scheme: challenge.scheme().to_owned(),
                                host: proxy_host.to_owned(),
                                port: *proxy_port,
                                realm: realm.clone(),
                                url: url.clone(),
                            })
                            .await
                        }
                        _ => None,
                    };
                    let Some((user, password)) = credentials else {
                        return Err(asks());
                    };
                    authorization =
                        Some(challenge.authorization(&user, &password, "CONNECT", &authority));
                    used = Some((realm, (user, password)));
                }
                Err(fail(-127, url, "the proxy asks for credentials"))
            }
            ProxyScheme::Socks5 => {
                let (mut tcp, addr) = connect_tcp(
                    self.host_resolver(),
                    url,
                    proxy_host,
                    *proxy_port,
                    true,
                    log,
                )
                .await?;
                socks5(&mut tcp, url, host, port).await?;
                Ok((Box::new(tcp), addr, false))
            }
            ProxyScheme::Socks4 => {
                // SOCKS4 carries an IPv4 address: the name is resolved here,
                // as Chromium does. A name this side cannot turn into an
                // IPv4 address is handed to the proxy (SOCKS4a).
                let v4 = self
                    .host_resolver()
                    .lookup(host)
                    .await
                    .ok()
                    .and_then(|ips| {
                        ips.into_iter().find_map(|ip| match ip {
                            std::net::IpAddr::V4(ip) => Some(ip),
                            std::net::IpAddr::V6(_) => None,
                        })
                    });
                let target = match v4 {
                    Some(ip) => Socks4Target::Address(ip),
                    None if host.parse::<std::net::IpAddr>().is_ok() => {
                        return Err(fail(-105, url, format!("{host} has no IPv4 address")));
                    }
                    None if host.len() > 255 => {
                        return Err(fail(-105, url, "the name is too long for SOCKS4a"));
                    }
                    None => Socks4Target::Name(host),
                };
                let (mut tcp, addr) = connect_tcp(
                    self.host_resolver(),
                    url,
                    proxy_host,
                    *proxy_port,
                    true,
                    log,
                )
                .await?;
                socks4(&mut tcp, url, target, port).await?;
                Ok((Box::new(tcp), addr, false))
            }
            // Never fall back to a path the configuration did not ask for:
            // a proxy sesh cannot speak fails the request.
            _ => Err(fail(
                -336,
                url,
                format!("{server} is not supported by sesh yet"),
            )),
        }
    }

    /// The headers a request goes with, but `Host` and the cache's
    /// validators: the app's, the session's identity and cookies, Chromium's
    /// `Accept-Encoding`, and the fetch standard's headers for the cache
    /// mode. What webRequest's `onBeforeSendHeaders` sees.
    fn outgoing_headers(
        &self,
        request: &Request,
        https: bool,
        asked_encoding: bool,
    ) -> Result<HeaderMap, FetchError> {
        let url = &request.url;
        let mut headers = request.headers.clone();
        let value = |s: String| HeaderValue::try_from(s).map_err(|e| fail(-4, url, e.to_string()));
        let identity = self.identity_headers();
        let invalid = |what: &str| {
            fail(
                -4,
                url,
                format!("the session's {what} is not a header value"),
            )
        };
        if !headers.contains_key(USER_AGENT) {
            headers.insert(
                USER_AGENT,
                identity.user_agent.ok_or_else(|| invalid("user agent"))?,
            );
        }
        if !headers.contains_key(ACCEPT_LANGUAGE) {
            headers.insert(
                ACCEPT_LANGUAGE,
                identity
                    .accept_language
                    .ok_or_else(|| invalid("Accept-Language"))?,
            );
        }
        if request.credentials == Credentials::Include {
            let site = SiteContext::for_request(
                url,
                request.site_for_cookies.as_ref(),
                request.site_for_cookies.is_none(),
                request.method.as_str(),
            );
            let cookie = self.cookies().cookie_header(
                url,
                CookieOptions {
                    site,
                    include_http_only: true,
                },
            );
            if !cookie.is_empty() {
                headers.insert(COOKIE, value(cookie)?);
            }
        }
        if asked_encoding {
            headers.insert(
                ACCEPT_ENCODING,
                HeaderValue::from_static(accept_encoding(https)),
            );
        }
        // The fetch standard's headers for the cache mode.
        match request.cache {
            CacheMode::NoStore | CacheMode::Reload => {
                if !headers.contains_key(http::header::PRAGMA) {
                    headers.insert(http::header::PRAGMA, HeaderValue::from_static("no-cache"));
                }
                if !headers.contains_key(http::header::CACHE_CONTROL) {
                    headers.insert(
                        http::header::CACHE_CONTROL,
                        HeaderValue::from_static("no-cache"),
                    );
                }
            }
            CacheMode::NoCache if !headers.contains_key(http::header::CACHE_CONTROL) => {
                headers.insert(
                    http::header::CACHE_CONTROL,
                    HeaderValue::from_static("max-age=0"),
                );
            }
            _ => {}
        }
        Ok(headers)
    }

    /// The request line and `headers`, with `Host`.
    fn request_head(
        &self,
        request: &Request,
        headers: &HeaderMap,
    ) -> Result<http::Request<()>, FetchError> {
        let url = &request.url;
        // The path and query, and the host and port, as the URL already
        // spells them (an IPv6 host in brackets, a default port left out).
        let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let mut head = http::Request::new(());
        head.method_mut().clone_from(&request.method);
        *head.uri_mut() = http::Uri::try_from(path).map_err(|e| fail(-4, url, e.to_string()))?;
        // Host first, as Chromium sends it; the map made at its size once
        // (a clone, then an insert, would grow it again).
        let host = &url[url::Position::BeforeHost..url::Position::AfterPort];
        let sent = head.headers_mut();
        sent.reserve(headers.len() + 1);
        sent.insert(
            HOST,
            HeaderValue::from_str(host).map_err(|e| fail(-4, url, e.to_string()))?,
        );
        // The URL's host, whatever Host the app set (as before a request
        // goes out in Chromium).
        for (name, value) in headers.iter().filter(|(name, _)| *name != HOST) {
            sent.append(name, value.clone());
        }
        Ok(head)
    }

    /// webRequest's `onHeadersReceived` for a response's head: the hook
    /// may replace the headers (and the status line: the new status text
    /// is returned) or cancel the request.
    async fn headers_received(
        &self,
        request: &Request,
        log: &ReqLog,
        head: Head<'_>,
    ) -> Result<Received, FetchError> {
        let hooks = &log.hooks;
        let url = &request.url;
        let unchanged = Received::default();
        if !hooks.web.has(Stage::HeadersReceived) {
            return Ok(unchanged);
        }
        let Some(hook) = hooks.web.headers_received(url, hooks.kind) else {
            return Ok(unchanged);
        };
        let response = head.details();
        let details = ResponseEventDetails {
            request: hooks.details(url, &request.method),
            response: response.clone(),
        };
        match hook(details).await {
            HeadersReceivedAction::Continue => Ok(Received {
                status_text: None,
                shown: Some(Box::new(response)),
            }),
            HeadersReceivedAction::Cancel => Err(fail(-20, url, "cancelled by onHeadersReceived")),
            HeadersReceivedAction::Headers {
                headers,
                status_line,
            } => {
                *head.headers = headers.into_map();
                let Some(line) = status_line else {
                    return Ok(unchanged);
                };
                let mut parts = line.splitn(3, ' ');
                let _version = parts.next();
                let status = parts
                    .next()
                    .and_then(|code| StatusCode::from_bytes(code.as_bytes()).ok())
                    .ok_or_else(|| {
                        fail(
                            -4,
                            url,
                            format!("onHeadersReceived gave the status line {line:?}, which has no status code"),
                        )
                    })?;
                *head.status = status;
                Ok(Received {
                    status_text: Some(parts.next().unwrap_or_default().to_owned()),
                    shown: None,
                })
            }
        }
    }
}

/// What `onHeadersReceived` made of a response's head.
#[derive(Default)]
struct Received {
    /// The status text of the status line it gave.
    status_text: Option<String>,
    /// What it was shown, when it left the head as it was.
    shown: Option<Box<ResponseDetails>>,
}

impl Received {
    /// Applies it to a response made before the hook ran.
    fn apply(self, response: &mut Response) {
        if let Some(text) = self.status_text {
            response.status_text = text;
        }
        response.shown = self.shown;
    }
}

/// The connections a session has open: the tasks driving them and the
/// pool that lends them to requests.
#[derive(Debug, Default)]
pub struct Connections {
    /// The tasks driving HTTP/2 connections.
    tasks: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
    /// The HTTP/1.1 connections, driven by the requests that use them.
    live: std::sync::Mutex<Vec<std::sync::Weak<Live>>>,
    pub(crate) pool: Pool,
    /// How many times `close_all` ran.
    closings: std::sync::atomic::AtomicU64,
}

impl Connections {
    fn track(&self, task: tokio::task::JoinHandle<()>) {
        let mut tasks = self
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task.abort_handle());
    }

    fn register(&self, socket: SocketLog, probe: Option<Arc<std::net::TcpStream>>) -> Arc<Live> {
        let live = Arc::new(Live { socket, probe });
        let mut all = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.retain(|l| l.strong_count() > 0);
        all.push(Arc::downgrade(&live));
        live
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        let mut tasks = self
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tasks.retain(|t| !t.is_finished());
        let mut live = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        live.retain(|l| l.strong_count() > 0);
        tasks.len() + live.len()
    }

    fn closings(&self) -> u64 {
        self.closings.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many sockets wait idle in the pool.
    pub fn idle(&self) -> usize {
        self.pool.counts().0
    }

    /// The pool's limits.
    pub fn limits(&self) -> ConnectionLimits {
        self.pool.limits()
    }

    /// Sets the pool's limits (Chromium's are the default: 6 sockets per
    /// group, 256 in all); a crawler may want more. Requests waiting that
    /// now fit go at once.
    pub fn set_limits(&self, limits: ConnectionLimits) {
        self.pool.set_limits(limits);
    }

    /// How often idle sockets are looked over (Chromium's cleanup timer,
    /// [`IDLE_SWEEP_INTERVAL`] = 10 s by default): each sweep
    /// closes the idle sockets the other side closed, or that waited
    /// longer than [`UNUSED_IDLE_TIMEOUT`] (never used) or
    /// [`USED_IDLE_TIMEOUT`], so a server's close does not
    /// hold a socket and its count until the next request of its group.
    /// A task sweeps while any socket waits idle, and only then.
    pub fn set_idle_sweep_interval(&self, every: std::time::Duration) {
        self.pool.set_sweep_interval(every);
    }

    /// Closes the idle sockets (those in use finish their requests).
    pub fn close_idle(&self) {
        self.pool.close_idle();
    }

    /// Closes every connection; requests using them fail with
    /// `net::ERR_ABORTED`.
    pub fn close_all(&self) {
        self.closings
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.pool.clear();
        let tasks = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for task in tasks {
            task.abort();
        }
        // The HTTP/1.1 connections in use: their sockets are shut down,
        // which the requests reading them see at once (idle ones went with
        // the pool).
        let live: Vec<Arc<Live>> = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .collect();
        for live in live {
            if let Some(probe) = &live.probe {
                let _ = probe.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// A TCP connection to `host:port` (the target, or a proxy), the name
/// resolved by the session's resolver.
async fn connect_tcp(
    dns: &crate::dns::HostResolver,
    url: &Url,
    host: &str,
    port: u16,
    to_proxy: bool,
    log: &SocketLog,
) -> Result<(TcpStream, SocketAddr), FetchError> {
    let resolve_error = if to_proxy { -130 } else { -105 };
    log.add_request(
        EventType::HOST_RESOLVER_MANAGER_REQUEST,
        Phase::Begin,
        |_| Some(serde_json::json!({"host": format!("{host}:{port}")})),
    );
    let looked_up = dns.lookup(host).await;
    log.add_request(EventType::HOST_RESOLVER_MANAGER_REQUEST, Phase::End, |_| {
        Some(match &looked_up {
            Ok(ips) => serde_json::json!({
                "address_list": ips.iter().map(|ip| SocketAddr::new(*ip, port).to_string()).collect::<Vec<_>>(),
            }),
            Err(e) => serde_json::json!({"net_error": e.error.code()}),
        })
    });
    let addrs: Vec<SocketAddr> = looked_up
        .map_err(|e| {
            // A collision is named as such, to a proxy too (Chromium
            // completes the request with it).
            let code = match e.error.code() {
                -166 => -166,
                _ => resolve_error,
            };
            fail(code, url, e.to_string())
        })?
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    log.add(EventType::TCP_CONNECT, Phase::Begin, |_| {
        Some(serde_json::json!({
            "address_list": addrs.iter().map(SocketAddr::to_string).collect::<Vec<_>>(),
        }))
    });
    let mut last = fail(resolve_error, url, format!("{host}: no address"));
    for addr in &addrs {
        let addr = *addr;
        match TcpStream::connect(addr).await.and_then(with_probe(log)) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                log.add(EventType::TCP_CONNECT, Phase::End, |_| {
                    Some(serde_json::json!({
                        "remote_address": addr.to_string(),
                        "local_address": stream.local_addr().map(|a| a.to_string()).unwrap_or_default(),
                    }))
                });
                return Ok((stream, addr));
            }
            Err(e) => {
                let code = match (to_proxy, e.kind()) {
                    (true, _) => -130,
                    (false, std::io::ErrorKind::ConnectionRefused) => -102,
                    (false, std::io::ErrorKind::TimedOut) => -118,
                    (false, _) => -104,
                };
                last = fail(code, url, format!("{addr}: {e}"));
            }
        }
    }
    log.log
        .end_with(log.socket, EventType::TCP_CONNECT, Some(last.error.code()));
    Err(last)
}

/// Keeps a second handle on a new connection in `log`, for the pool's
/// check of an idle socket (Chromium's `IsConnectedAndIdle`) and for
/// `close_all_connections`: a duplicate of the socket's descriptor, made
/// without taking the socket out of the runtime (which would cost two more
/// system calls a connection).
fn with_probe(log: &SocketLog) -> impl FnOnce(TcpStream) -> std::io::Result<TcpStream> + '_ {
    move |stream| {
        if let Ok(probe) = duplicate(&stream) {
            log.set_probe(probe);
        }
        Ok(stream)
    }
}

/// A second handle on `stream`'s socket (it shares the socket's state,
/// non-blocking mode included).
#[cfg(unix)]
fn duplicate(stream: &TcpStream) -> std::io::Result<std::net::TcpStream> {
    use std::os::fd::AsFd;
    Ok(stream.as_fd().try_clone_to_owned()?.into())
}

/// A second handle on `stream`'s socket (it shares the socket's state,
/// non-blocking mode included).
#[cfg(windows)]
fn duplicate(stream: &TcpStream) -> std::io::Result<std::net::TcpStream> {
    use std::os::windows::io::AsSocket;
    Ok(stream.as_socket().try_clone_to_owned()?.into())
}

/// Whether a failure through a proxy moves on to the next entry of the
/// list, as Chromium decides.
fn falls_over(error: NetError) -> bool {
    matches!(
        error.code(),
        -130 | -105 | -106 | -109 | -100 | -118 | -101 | -102 | -103 | -7 | -120 | -136 | -107
    )
}

/// Where a SOCKS4 proxy is asked to connect.
enum Socks4Target<'a> {
    /// An address resolved here (SOCKS4).
    Address(std::net::Ipv4Addr),
    /// A name the proxy resolves (SOCKS4a).
    Name(&'a str),
}

/// SOCKS4 (a CONNECT to an IPv4 address) or SOCKS4a (to a name the proxy
/// resolves), with an empty user id.
async fn socks4(
    tcp: &mut TcpStream,
    url: &Url,
    target: Socks4Target<'_>,
    port: u16,
) -> Result<(), FetchError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let broken = |detail: String| fail(-120, url, detail);
    let mut request = vec![4, 1];
    request.extend_from_slice(&port.to_be_bytes());
    match target {
        Socks4Target::Address(ip) => {
            request.extend_from_slice(&ip.octets());
            request.push(0);
        }
        Socks4Target::Name(name) => {
            // 0.0.0.1: "the name follows the (empty) user id".
            request.extend_from_slice(&[0, 0, 0, 1, 0]);
            request.extend_from_slice(name.as_bytes());
            request.push(0);
        }
    }
    tcp.write_all(&request)
        .await
        .map_err(|e| broken(e.to_string()))?;
    let mut reply = [0u8; 8];
    tcp.read_exact(&mut reply)
        .await
        .map_err(|e| broken(e.to_string()))?;
    match reply[1] {
        0x5A => Ok(()),
        0x5C => Err(fail(-121, url, "the SOCKS4 proxy cannot reach the host")),
        code => Err(broken(format!(
            "the SOCKS4 proxy refused (reply {code:#x})"
        ))),
    }
}

/// SOCKS5 (RFC 1928) without authentication, the target's name resolved by
/// the proxy as Chromium has it.
async fn socks5(tcp: &mut TcpStream, url: &Url, host: &str, port: u16) -> Result<(), FetchError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let broken = |detail: &str| fail(-120, url, detail.to_owned());
    tcp.write_all(&[5, 1, 0])
        .await
        .map_err(|e| broken(&e.to_string()))?;
    let mut choice = [0u8; 2];
    tcp.read_exact(&mut choice)
        .await
        .map_err(|e| broken(&e.to_string()))?;
    if choice != [5, 0] {
        return Err(broken(
            "the SOCKS5 proxy wants an authentication sesh does not offer",
        ));
    }
    let mut request = vec![5, 1, 0];
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            request.push(1);
            request.extend_from_slice(&ip.octets());
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            request.push(4);
            request.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            let name = host.as_bytes();
            let len = u8::try_from(name.len()).map_err(|_| broken("the host name is too long"))?;
            request.push(3);
            request.push(len);
            request.extend_from_slice(name);
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    tcp.write_all(&request)
        .await
        .map_err(|e| broken(&e.to_string()))?;
    let mut reply = [0u8; 4];
    tcp.read_exact(&mut reply)
        .await
        .map_err(|e| broken(&e.to_string()))?;
    if reply[0] != 5 {
        return Err(broken("not a SOCKS5 reply"));
    }
    if reply[1] != 0 {
        return Err(fail(
            if reply[1] == 4 { -121 } else { -120 },
            url,
            format!("the SOCKS5 proxy could not connect (reply {})", reply[1]),
        ));
    }
    let rest = match reply[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut len = [0u8; 1];
            tcp.read_exact(&mut len)
                .await
                .map_err(|e| broken(&e.to_string()))?;
            usize::from(len[0]) + 2
        }
        _ => return Err(broken("a SOCKS5 reply with an unknown address type")),
    };
    let mut bound = vec![0u8; rest];
    tcp.read_exact(&mut bound)
        .await
        .map_err(|e| broken(&e.to_string()))?;
    Ok(())
}

/// Asks an HTTP proxy for a tunnel to `host:port` with `CONNECT`.
/// Why a CONNECT did not give a tunnel.
enum TunnelFailure {
    /// `407`: the proxy's challenge, if sesh can answer one.
    Auth(Option<Challenge>),
    Other(FetchError),
}

impl From<FetchError> for TunnelFailure {
    fn from(e: FetchError) -> Self {
        TunnelFailure::Other(e)
    }
}

async fn tunnel(
    tcp: &mut BoxIo,
    url: &Url,
    host: &str,
    port: u16,
    user_agent: &str,
    proxy_authorization: Option<&str>,
) -> Result<(), TunnelFailure> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Connection: keep-alive\r\nUser-Agent: {user_agent}\r\n"
    );
    if let Some(value) = proxy_authorization {
        request.push_str(&format!("Proxy-Authorization: {value}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| fail(-130, url, e.to_string()))?;
    // The answer's head, read byte by byte so that nothing of the tunnel
    // is consumed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return Err(fail(-111, url, "the proxy's answer to CONNECT is too long").into());
        }
        let mut byte = [0u8; 1];
        let n = tcp
            .read(&mut byte)
            .await
            .map_err(|e| fail(-111, url, e.to_string()))?;
        if n == 0 {
            return Err(fail(-111, url, "the proxy closed the connection").into());
        }
        head.push(byte[0]);
    }
    let status_line = String::from_utf8_lossy(&head);
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0);
    match status {
        200 => Ok(()),
        407 => Err(TunnelFailure::Auth(choose_challenge_in(
            status_line.lines().filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("proxy-authenticate")
                    .then_some(value.trim())
            }),
        ))),
        _ => Err(fail(
            -111,
            url,
            format!("the proxy answered CONNECT with {status}"),
        )
        .into()),
    }
}

/// The HTTP/1.1 handshake over `io`. The connection is driven by whoever
/// holds it (see [`Driver`]); it counts among the session's open
/// connections, and `close_all_connections` shuts its socket down, until
/// it ends or is dropped.
async fn h1_handshake<T>(
    connections: &Connections,
    io: T,
    url: &Url,
    log: &SocketLog,
) -> Result<H1Parts, FetchError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, mut connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| fail(-100, url, e.to_string()))?;
    let probe = log.take_probe().map(Arc::new);
    let live = connections.register(log.clone(), probe.clone());
    // Run to its end without hyper's shutdown of the stream, then closed
    // as it is: Chromium closes a socket it is done with without a TLS
    // close_notify or a TCP shutdown (`SSLClientSocketImpl::Disconnect`),
    // and so does sesh — a write and a system call fewer for every
    // connection that ends, and nothing more for the server to read.
    let driver: Driver = Box::pin(async move {
        let _ = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)).await;
        drop(connection);
        drop(live);
    });
    Ok((sender, driver, probe))
}

/// What [`h1_handshake`] makes: the sender, the connection's driver and a
/// handle on its TCP connection.
type H1Parts = (
    hyper::client::conn::http1::SendRequest<ReqBody>,
    Driver,
    Option<Arc<std::net::TcpStream>>,
);

/// An HTTP/1.1 connection's place among the session's open connections:
/// held by its driver, so that it goes when the connection does (and the
/// net log's socket ends then).
struct Live {
    socket: SocketLog,
    /// A handle on its TCP connection, for `close_all_connections`.
    probe: Option<Arc<std::net::TcpStream>>,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.socket
            .add(EventType::SOCKET_ALIVE, Phase::End, |_| None);
    }
}

/// A response's head as `onHeadersReceived` sees and changes it.
struct Head<'a> {
    status: &'a mut StatusCode,
    status_text: &'a str,
    version: Version,
    headers: &'a mut HeaderMap,
    from_cache: bool,
    ip: Option<SocketAddr>,
}

impl Head<'_> {
    fn details(&self) -> ResponseDetails {
        ResponseDetails::of(
            self.version,
            *self.status,
            self.status_text,
            self.headers,
            self.from_cache,
            self.ip,
        )
    }
}

/// A request's body as webRequest's `uploadData`: its bytes, when it has
/// some (a stream is not shown).
fn upload_data(request: &Request) -> Option<Vec<UploadData>> {
    (!request.body.is_empty() && request.body_stream.is_none()).then(|| {
        vec![UploadData {
            bytes: request.body.to_vec(),
        }]
    })
}

/// The request's headers as sent, in the net log (cookies and
/// credentials elided unless the log captures them).
fn log_request_headers(log: &ReqLog, request: &http::Request<ReqBody>, h2: bool) {
    log.add(
        EventType::HTTP_TRANSACTION_SEND_REQUEST,
        Phase::Begin,
        |_| None,
    );
    if h2 {
        log.add(
            EventType::HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS,
            Phase::None,
            |mode| {
                let uri = request.uri();
                let mut headers = vec![
                    serde_json::Value::String(format!(":method: {}", request.method())),
                    serde_json::Value::String(format!(
                        ":authority: {}",
                        uri.authority().map(|a| a.as_str()).unwrap_or_default()
                    )),
                    serde_json::Value::String(format!(
                        ":scheme: {}",
                        uri.scheme_str().unwrap_or("https")
                    )),
                    serde_json::Value::String(format!(
                        ":path: {}",
                        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
                    )),
                ];
                headers.extend(header_lines(mode, request.headers()));
                Some(serde_json::json!({"headers": headers}))
            },
        );
    } else {
        log.add(
            EventType::HTTP_TRANSACTION_SEND_REQUEST_HEADERS,
            Phase::None,
            |mode| {
                Some(serde_json::json!({
                    "line": format!("{} {} HTTP/1.1\r\n", request.method(), request.uri()),
                    "headers": header_lines(mode, request.headers()),
                }))
            },
        );
    }
    log.add(EventType::HTTP_TRANSACTION_SEND_REQUEST, Phase::End, |_| {
        None
    });
    log.add(
        EventType::HTTP_TRANSACTION_READ_HEADERS,
        Phase::Begin,
        |_| None,
    );
}

/// The response's headers as received (or the failure), in the net log.
fn log_response_headers(
    log: &ReqLog,
    received: &Result<http::Response<hyper::body::Incoming>, hyper::Error>,
) {
    match received {
        Ok(response) => {
            log.add(
                EventType::HTTP_TRANSACTION_READ_RESPONSE_HEADERS,
                Phase::None,
                |mode| {
                    let mut headers = vec![serde_json::Value::String(format!(
                        "{:?} {}",
                        response.version(),
                        response.status()
                    ))];
                    headers.extend(header_lines(mode, response.headers()));
                    Some(serde_json::json!({"headers": headers}))
                },
            );
            log.log
                .end_with(log.source, EventType::HTTP_TRANSACTION_READ_HEADERS, None);
        }
        Err(e) => log.log.end_with(
            log.source,
            EventType::HTTP_TRANSACTION_READ_HEADERS,
            Some(response_error(e)),
        ),
    }
}

/// A connection a request goes on.
enum Conn {
    /// A multiplexed HTTP/2 connection.
    H2 {
        sender: hyper::client::conn::http2::SendRequest<ReqBody>,
        addr: SocketAddr,
        reused: bool,
    },
    /// An HTTP/1.1 connection the request has to itself.
    H1 {
        idle: Idle,
        slot: Slot,
        reused: bool,
    },
}

/// A request's body for hyper, paced at `upload_rate` bytes per second
/// when the session emulates a slow uplink.
/// `url` whole, as a request's URI (through an HTTP proxy, and for
/// HTTP/2).
fn whole_uri(url: &Url) -> Result<http::Uri, FetchError> {
    http::Uri::try_from(url.as_str()).map_err(|e| fail(-4, url, e.to_string()))
}

/// Whether `method` is safe (RFC 9110 §9.2.1): sending it twice asks for
/// nothing more than sending it once.
fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn request_body(request: &Request, upload_rate: f64) -> Result<ReqBody, FetchError> {
    if let Some(stream) = &request.body_stream {
        let body = stream.take().ok_or_else(|| {
            fail(
                -25,
                &request.url,
                "the streamed body was sent already and cannot be sent again",
            )
        })?;
        return Ok(match Throttle::new(upload_rate) {
            Some(throttle) => PacedStream {
                inner: body,
                throttle,
                sleep: None,
            }
            .boxed(),
            None => body,
        });
    }
    Ok(match Throttle::new(upload_rate) {
        Some(throttle) if !request.body.is_empty() => PacedBody {
            data: request.body.clone(),
            throttle,
            sleep: None,
        }
        .boxed(),
        _ => Full::new(request.body.clone())
            .map_err(|never| match never {})
            .boxed(),
    })
}

/// A streamed body paced by a throttle: each frame waits until the bytes
/// before it have had their time.
struct PacedStream {
    inner: ReqBody,
    throttle: Throttle,
    sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for PacedStream {
    type Data = Bytes;
    type Error = crate::pool::BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;

        let this = self.get_mut();
        if paused(&mut this.sleep, cx) {
            return Poll::Pending;
        }
        let frame = std::pin::Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &frame
            && let Some(data) = frame.data_ref()
        {
            this.sleep = Some(this.throttle.spend(data.len()));
        }
        frame
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Whether a paced body still has to wait (its timer pending); a timer
/// that went off is cleared.
fn paused(
    sleep: &mut Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    cx: &mut std::task::Context<'_>,
) -> bool {
    use std::future::Future;

    if let Some(timer) = sleep {
        if timer.as_mut().poll(cx).is_pending() {
            return true;
        }
        *sleep = None;
    }
    false
}

/// How many bytes a paced body sends at once.
const PACED_CHUNK: usize = 16 * 1024;

/// A body sent no faster than its throttle allows: each chunk waits until
/// the bytes before it have had their time.
struct PacedBody {
    data: Bytes,
    throttle: Throttle,
    sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for PacedBody {
    type Data = Bytes;
    type Error = crate::pool::BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;

        let this = self.get_mut();
        if paused(&mut this.sleep, cx) {
            return Poll::Pending;
        }
        if this.data.is_empty() {
            return Poll::Ready(None);
        }
        let chunk = this.data.split_to(this.data.len().min(PACED_CHUNK));
        this.sleep = Some(this.throttle.spend(chunk.len()));
        Poll::Ready(Some(Ok(hyper::body::Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty() && self.sleep.is_none()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.data.len() as u64)
    }
}

/// Whether a body error means the connection ended before the body did.
fn body_cut_short(e: &hyper::Error) -> bool {
    if e.is_incomplete_message() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::UnexpectedEof;
        }
        source = inner.source();
    }
    false
}

/// Chromium's error for a response that could not be read: garbage is
/// `INVALID_HTTP_RESPONSE`, a connection closed before any answer
/// `EMPTY_RESPONSE`.
fn response_error(e: &hyper::Error) -> i32 {
    if e.is_parse() || e.is_parse_status() {
        -370
    } else if e.is_incomplete_message() {
        -324
    } else {
        -100
    }
}

/// The session's network service as the transport of its downloads: proxy,
/// TLS and cookie rules of the session apply to every download.
#[derive(Clone)]
pub struct SessionTransport {
    session: Session,
}

impl SessionTransport {
    /// The transport of `session`.
    pub fn new(session: Session) -> Self {
        SessionTransport { session }
    }
}

/// Chromium's mapping of a network error to a download interrupt reason.
pub fn interrupt_reason(error: NetError) -> InterruptReason {
    match error.code() {
        -7 => InterruptReason::NetworkTimeout,
        -21 | -106 => InterruptReason::NetworkDisconnected,
        -104 => InterruptReason::NetworkServerDown,
        -328 => InterruptReason::ServerNoRange,
        -354 => InterruptReason::ServerContentLengthMismatch,
        -300 | -301 | -303 | -310 | -311 => InterruptReason::NetworkInvalidRequest,
        code if (-299..=-200).contains(&code) => InterruptReason::ServerCertProblem,
        _ => InterruptReason::NetworkFailed,
    }
}

struct SessionBody(Response);

impl DownloadBody for SessionBody {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<bytes::Bytes>, InterruptReason>> {
        Box::pin(async move { self.0.chunk().await.map_err(|e| interrupt_reason(e.error)) })
    }
}

impl Transport for SessionTransport {
    fn fetch(
        &self,
        request: FetchRequest,
    ) -> BoxFuture<'static, Result<FetchResponse, InterruptReason>> {
        let session = self.session.clone();
        Box::pin(async move {
            let mut fetch = Request::get(request.url);
            fetch.headers = request.headers;
            fetch.cache = CacheMode::NoStore;
            // Downloads keep the bytes as sent: ranges count them.
            fetch
                .headers
                .insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
            let response = session
                .fetch(fetch)
                .await
                .map_err(|e| interrupt_reason(e.error))?;
            Ok(FetchResponse {
                status: response.status,
                version: response.version,
                headers: response.headers.clone(),
                url_chain: response.url_chain.clone(),
                body: Box::new(SessionBody(response)),
            })
        })
    }
}

/// The largest PAC script fetched, as in Chromium.
const MAX_PAC_BYTES: usize = 1 << 20;

/// Fetches PAC scripts for a session's proxy resolver: `file:` and `data:`
/// locally, `http(s):` through the session's network service, directly
/// (never through a proxy, 1 MiB and 30 s at most), on a thread of its own
/// so that it works from any context. It does not keep the session alive.
pub struct SessionPacFetcher {
    pub(crate) session: std::sync::Weak<crate::session::Inner>,
}

impl SessionPacFetcher {
    /// The fetcher of `session`, for a [`sesh_proxy_rules::ProxyResolver`]
    /// of the application's own.
    pub fn new(session: &Session) -> Self {
        SessionPacFetcher {
            session: session.downgrade(),
        }
    }
}

impl sesh_proxy_rules::PacFetcher for SessionPacFetcher {
    fn ready_for(&self, url: &Url) -> bool {
        !matches!(url.scheme(), "http" | "https") || self.session.strong_count() > 0
    }

    fn fetch(&self, url: &Url) -> Result<String, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return sesh_proxy_rules::LocalFetcher.fetch(url);
        }
        let Some(session) = Session::upgrade(&self.session) else {
            return Err("the session is not ready".to_owned());
        };
        let url = url.clone();
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    runtime.block_on(async move {
                        let mut request = Request::get(url);
                        request.bypass_proxy = true;
                        request.cache = CacheMode::NoStore;
                        let fetched =
                            tokio::time::timeout(std::time::Duration::from_secs(30), async {
                                let mut response =
                                    session.fetch(request).await.map_err(|e| e.to_string())?;
                                if response.status != StatusCode::OK {
                                    return Err(format!("the server answered {}", response.status));
                                }
                                let mut body = Vec::new();
                                while let Some(chunk) =
                                    response.chunk().await.map_err(|e| e.to_string())?
                                {
                                    body.extend_from_slice(&chunk);
                                    if body.len() > MAX_PAC_BYTES {
                                        return Err("the script is larger than 1 MiB".to_owned());
                                    }
                                }
                                Ok(String::from_utf8_lossy(&body).into_owned())
                            })
                            .await;
                        fetched.unwrap_or_else(|_| Err("no answer within 30 s".to_owned()))
                    })
                })
                .join()
                .unwrap_or_else(|_| Err("the fetch failed".to_owned()))
        })
    }
}
