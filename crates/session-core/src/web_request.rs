//! `ses.webRequest`: the application's hooks on every request of a
//! session, at each stage of its life, as Electron has them.
//!
//! Three blocking hooks decide — `on_before_request` (cancel, redirect),
//! `on_before_send_headers` (replace the request headers) and
//! `on_headers_received` (replace the response headers and status line) —
//! and five listeners observe: `on_send_headers`, `on_response_started`,
//! `on_before_redirect`, `on_completed`, `on_error_occurred`. Each event
//! has one hook at a time with its [`WebRequestFilter`]; setting one
//! replaces the previous one, as in Electron. With no hook set, a request
//! pays one atomic load per stage.

use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;
use url::Url;

use crate::handler::BoxFuture;

/// What a request is for (Electron's `resourceType`, and a filter's
/// `types`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ResourceType {
    /// A top-level document.
    MainFrame,
    /// A frame's document.
    SubFrame,
    /// A style sheet.
    Stylesheet,
    /// A script.
    Script,
    /// An image.
    Image,
    /// A font.
    Font,
    /// A plugin's resource.
    Object,
    /// `fetch()` or `XMLHttpRequest`.
    Xhr,
    /// A ping.
    Ping,
    /// A CSP report.
    CspReport,
    /// Audio or video.
    Media,
    /// A WebSocket.
    WebSocket,
    /// Anything else: the default for [`Session::fetch`](crate::Session::fetch),
    /// downloads and PAC scripts.
    #[default]
    Other,
}

/// Why a filter could not be made; the messages are Electron's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebRequestError {
    /// A URL pattern that does not parse, with Chromium's reason
    /// (`Empty path.`, `Invalid port.`…).
    #[error("Invalid url pattern {pattern}: {reason}")]
    InvalidPattern {
        /// The pattern.
        pattern: String,
        /// Chromium's reason.
        reason: &'static str,
    },
    /// A header a hook tried to set that HTTP does not allow.
    #[error("invalid header {header:?}: {reason}")]
    InvalidHeader {
        /// The header, `name: value`.
        header: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A match pattern of Chromium's extensions (`*://*.example.com/*`,
/// `<all_urls>`), with every scheme allowed, as Electron's filters use
/// them.
///
/// `*` as the scheme matches http and https only; `*.example.com` matches
/// the domain and its subdomains (never an IP address); no port means any
/// port, and a port is only accepted for schemes that have one; the path,
/// matched against the URL's path and query, is a glob where only `*` is
/// special.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPattern {
    spec: String,
    all_urls: bool,
    scheme: String,
    /// Canonical host without the `*.` (empty: any host).
    host: String,
    subdomains: bool,
    /// `None`: any port.
    port: Option<u16>,
    path: String,
}

/// Schemes with `://` (Chromium's standard schemes), and their default
/// ports.
fn standard_scheme(scheme: &str) -> Option<Option<u16>> {
    match scheme {
        "http" | "ws" => Some(Some(80)),
        "https" | "wss" => Some(Some(443)),
        "ftp" => Some(Some(21)),
        "file" | "*" => Some(None),
        _ => None,
    }
}

impl std::str::FromStr for UrlPattern {
    type Err = WebRequestError;

    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        UrlPattern::parse(pattern)
    }
}

impl std::fmt::Display for UrlPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.spec)
    }
}

impl UrlPattern {
    /// Parses a pattern as Chromium's `URLPattern` does.
    ///
    /// # Errors
    ///
    /// [`WebRequestError::InvalidPattern`] with Chromium's reason.
    pub fn parse(pattern: &str) -> Result<UrlPattern, WebRequestError> {
        let error = |reason: &'static str| WebRequestError::InvalidPattern {
            pattern: pattern.to_owned(),
            reason,
        };
        if pattern == "<all_urls>" {
            return Ok(UrlPattern {
                spec: pattern.to_owned(),
                all_urls: true,
                scheme: "*".into(),
                host: String::new(),
                subdomains: true,
                port: None,
                path: "/*".into(),
            });
        }
        let (scheme_end, standard_separator) = match pattern.find("://") {
            Some(at) => (at, true),
            None => (
                pattern
                    .find(':')
                    .ok_or_else(|| error("Missing scheme separator."))?,
                false,
            ),
        };
        let scheme = &pattern[..scheme_end];
        let standard = standard_scheme(scheme);
        if standard.is_some() != standard_separator {
            return Err(error("Wrong scheme type."));
        }
        let rest_start = scheme_end + if standard_separator { 3 } else { 1 };
        if rest_start >= pattern.len() {
            return Err(error("Host can not be empty."));
        }
        let rest = &pattern[rest_start..];
        let mut host = String::new();
        let mut subdomains = false;
        let mut port = None;
        let path;
        match standard {
            None => path = rest,
            Some(_) if scheme == "file" => {
                // The host is ignored: file://foo/bar is file:///bar, and
                // file://* is file:///*.
                path = match rest.find('/') {
                    Some(at) => &rest[at..],
                    None => &pattern[rest_start - 1..],
                };
            }
            Some(default_port) => {
                let host_end = rest.find('/');
                if host_end == Some(0) {
                    return Err(error("Host can not be empty."));
                }
                let host_end = host_end.ok_or_else(|| error("Empty path."))?;
                let host_and_port = &rest[..host_end];
                let port_at = if host_and_port.starts_with('[') {
                    let close = host_and_port
                        .find(']')
                        .ok_or_else(|| error("Invalid host."))?;
                    if close == 1 {
                        return Err(error("Host can not be empty."));
                    }
                    if close < host_and_port.len() - 1 {
                        if host_and_port.as_bytes()[close + 1] != b':' {
                            return Err(error("Invalid host."));
                        }
                        Some(close + 1)
                    } else {
                        None
                    }
                } else {
                    host_and_port.find(':')
                };
                let mut host_piece = host_and_port;
                if let Some(at) = port_at {
                    let text = &host_and_port[at + 1..];
                    if text != "*" {
                        // Only schemes with a port take a number.
                        if default_port.is_none()
                            || text.is_empty()
                            || !text.bytes().all(|b| b.is_ascii_digit())
                        {
                            return Err(error("Invalid port."));
                        }
                        port = Some(text.parse::<u16>().map_err(|_| error("Invalid port."))?);
                    }
                    host_piece = &host_and_port[..at];
                }
                if host_piece.is_empty() {
                    return Err(error("Host can not be empty."));
                }
                if host_piece == "*" {
                    subdomains = true;
                } else if let Some(domain) = host_piece.strip_prefix("*.") {
                    if domain.is_empty() {
                        return Err(error("Host can not be empty."));
                    }
                    subdomains = true;
                    host = domain.to_owned();
                } else {
                    host = host_piece.to_owned();
                }
                path = &rest[host_end..];
            }
        }
        if host.contains('*') {
            return Err(error("Invalid host wildcard."));
        }
        if !host.is_empty() {
            host = match url::Host::parse(&host) {
                Ok(canonical) => canonical.to_string(),
                Err(_) => return Err(error("Invalid host.")),
            };
        }
        Ok(UrlPattern {
            spec: pattern.to_owned(),
            all_urls: false,
            scheme: scheme.to_owned(),
            host,
            subdomains,
            port,
            path: path.to_owned(),
        })
    }

    /// Whether `url` matches.
    pub fn matches(&self, url: &Url) -> bool {
        let scheme = url.scheme();
        if self.scheme == "*" && !self.all_urls && !matches!(scheme, "http" | "https") {
            return false;
        }
        if self.all_urls {
            return true;
        }
        if self.scheme != "*" && self.scheme != scheme {
            return false;
        }
        if self.scheme != "file" && standard_scheme(&self.scheme).is_some() {
            if !self.matches_host(url) {
                return false;
            }
            if let Some(port) = self.port
                && url.port_or_known_default() != Some(port)
            {
                return false;
            }
        }
        let mut path = url.path().to_owned();
        if let Some(query) = url.query() {
            path.push('?');
            path.push_str(query);
        }
        // "/foo/*" also matches "/foo".
        if self.path.len() == path.len() + 2
            && self.path.starts_with(&path)
            && self.path.ends_with("/*")
        {
            return true;
        }
        glob(self.path.as_bytes(), path.as_bytes())
    }

    fn matches_host(&self, url: &Url) -> bool {
        let Some(host) = url.host() else {
            return self.subdomains && self.host.is_empty();
        };
        let text = host.to_string();
        let test = text.strip_suffix('.').unwrap_or(&text);
        let pattern = self.host.strip_suffix('.').unwrap_or(&self.host);
        if test == pattern {
            return true;
        }
        if !self.subdomains {
            return false;
        }
        if pattern.is_empty() {
            return true;
        }
        if !matches!(host, url::Host::Domain(_)) {
            return false;
        }
        test.len() > pattern.len() + 1
            && test.ends_with(pattern)
            && test.as_bytes()[test.len() - pattern.len() - 1] == b'.'
    }
}

/// Whole-string glob where `*` matches any run of bytes.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Which requests a hook sees (Electron's `WebRequestFilter`): those
/// matching any of `urls` (every URL when empty), of one of `types` (any
/// when empty), and matching none of `exclude_urls`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebRequestFilter {
    /// Patterns a request's URL must match one of.
    pub urls: Vec<UrlPattern>,
    /// Resource types a request must be one of.
    pub types: Vec<ResourceType>,
    /// Patterns that exclude a request.
    pub exclude_urls: Vec<UrlPattern>,
}

impl WebRequestFilter {
    /// A filter on these URL patterns.
    ///
    /// # Errors
    ///
    /// The first pattern that does not parse
    /// (`Invalid url pattern <pattern>: <reason>`).
    pub fn new<I, S>(urls: I) -> Result<Self, WebRequestError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(WebRequestFilter {
            urls: parse_all(urls)?,
            ..Default::default()
        })
    }

    /// This filter, keeping only requests of these types.
    #[must_use]
    pub fn with_types(mut self, types: impl IntoIterator<Item = ResourceType>) -> Self {
        self.types = types.into_iter().collect();
        self
    }

    /// This filter, leaving out requests matching these patterns.
    ///
    /// # Errors
    ///
    /// The first pattern that does not parse.
    pub fn excluding<I, S>(mut self, urls: I) -> Result<Self, WebRequestError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.exclude_urls = parse_all(urls)?;
        Ok(self)
    }

    /// Whether a request for `url` of type `kind` passes.
    pub fn matches(&self, url: &Url, kind: ResourceType) -> bool {
        (self.urls.is_empty() || self.urls.iter().any(|p| p.matches(url)))
            && (self.types.is_empty() || self.types.contains(&kind))
            && !self.exclude_urls.iter().any(|p| p.matches(url))
    }
}

fn parse_all<I, S>(urls: I) -> Result<Vec<UrlPattern>, WebRequestError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    urls.into_iter()
        .map(|u| UrlPattern::parse(u.as_ref()))
        .collect()
}

/// A hook's headers: names case-insensitive as in HTTP (`get("user-agent")`
/// finds `User-Agent`), values in order, cheap to clone (the values are
/// shared). Serialises to Electron's JSON: names in `Title-Case`; for
/// request headers a string a name (repeated headers joined with `, `), for
/// response headers an array a name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// Shared until changed: the events of one request show the same
    /// headers without copying them.
    map: Arc<http::HeaderMap>,
    /// Response headers serialise each name to an array.
    arrays: bool,
}

impl Headers {
    /// Response headers as `details.responseHeaders`.
    pub(crate) fn response(map: &http::HeaderMap) -> Self {
        Headers {
            map: Arc::new(map.clone()),
            arrays: true,
        }
    }

    /// An empty set, as request headers (replacing every header with
    /// nothing, as Electron's `callback({requestHeaders: {}})`).
    pub fn new() -> Self {
        Self::default()
    }

    /// The first value of `name`, when it has one that is text.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of `name`, in order (values that are not text left out).
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.map
            .get_all(name)
            .into_iter()
            .filter_map(|v| v.to_str().ok())
    }

    /// Whether `name` is there.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Sets `name` to `value`, replacing its values.
    ///
    /// # Errors
    ///
    /// A name or value HTTP does not allow.
    pub fn insert(&mut self, name: &str, value: &str) -> Result<(), WebRequestError> {
        let (name, value) = header(name, value)?;
        Arc::make_mut(&mut self.map).insert(name, value);
        Ok(())
    }

    /// Adds a value to `name`.
    ///
    /// # Errors
    ///
    /// A name or value HTTP does not allow.
    pub fn append(&mut self, name: &str, value: &str) -> Result<(), WebRequestError> {
        let (name, value) = header(name, value)?;
        Arc::make_mut(&mut self.map).append(name, value);
        Ok(())
    }

    /// Removes `name`; whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        self.map.contains_key(name) && Arc::make_mut(&mut self.map).remove(name).is_some()
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Each name (lower case) and value, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
    }

    /// The headers as an `http` map.
    pub fn as_map(&self) -> &http::HeaderMap {
        &self.map
    }

    /// The `http` map (copied only if another `Headers` shares it).
    pub fn into_map(self) -> http::HeaderMap {
        Arc::unwrap_or_clone(self.map)
    }
}

impl From<http::HeaderMap> for Headers {
    fn from(map: http::HeaderMap) -> Self {
        Headers {
            map: Arc::new(map),
            arrays: false,
        }
    }
}

fn header(
    name: &str,
    value: &str,
) -> Result<(http::HeaderName, http::HeaderValue), WebRequestError> {
    let invalid = |what: &str| WebRequestError::InvalidHeader {
        header: format!("{name}: {value}"),
        reason: what.to_owned(),
    };
    Ok((
        http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid("not a header name"))?,
        http::HeaderValue::from_str(value).map_err(|_| invalid("not a header value"))?,
    ))
}

impl Serialize for Headers {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;

        let mut map = serializer.serialize_map(Some(self.map.keys_len()))?;
        for name in self.map.keys() {
            let values = self
                .map
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let key = title_case(name.as_str());
            if self.arrays {
                map.serialize_entry(&key, &values.collect::<Vec<_>>())?;
            } else {
                map.serialize_entry(&key, &values.collect::<Vec<_>>().join(", "))?;
            }
        }
        map.end()
    }
}

/// What every event tells about its request (Electron's common `details`
/// fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestDetails {
    /// The request's id, the same at every stage and across redirects;
    /// unique in the session.
    pub id: u64,
    /// The URL at this stage.
    pub url: String,
    /// The method at this stage.
    pub method: String,
    /// What the request is for.
    pub resource_type: ResourceType,
    /// The `Referer` it carries, or empty.
    pub referrer: String,
    /// When the event happened, in milliseconds since the Unix epoch.
    pub timestamp: f64,
}

/// One element of a request's body (Electron's `UploadData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadData {
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// What the response said, on the events after its headers arrived.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseDetails {
    /// `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// `200`.
    pub status_code: u16,
    /// The headers.
    pub response_headers: Headers,
    /// Whether the answer came from the session's HTTP cache.
    pub from_cache: bool,
    /// The server's (or proxy's) IP address, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

impl ResponseDetails {
    /// The details of a response's head.
    pub(crate) fn of(
        version: http::Version,
        status: http::StatusCode,
        status_text: &str,
        headers: &http::HeaderMap,
        from_cache: bool,
        ip: Option<std::net::SocketAddr>,
    ) -> Self {
        ResponseDetails {
            status_line: status_line(version, status, status_text),
            status_code: status.as_u16(),
            response_headers: Headers::response(headers),
            from_cache,
            ip: ip.map(|a| ip_text(a.ip())),
        }
    }
}

/// An IP address as text: IPv4 written directly (the formatting
/// machinery costs more than the rest of an event's details), IPv6 as
/// the standard library writes it.
fn ip_text(ip: std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut text = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

/// `HTTP/1.1 200 OK`.
fn status_line(version: http::Version, status: http::StatusCode, text: &str) -> String {
    let version = match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    };
    let mut line = String::with_capacity(version.len() + 5 + text.len());
    line.push_str(version);
    line.push(' ');
    line.push_str(status.as_str());
    line.push(' ');
    line.push_str(text);
    line
}

/// `onBeforeRequest`'s details.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeforeRequestDetails {
    /// The request.
    #[serde(flatten)]
    pub request: RequestDetails,
    /// Its body, when it has one in bytes (not for a stream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_data: Option<Vec<UploadData>>,
}

/// `onBeforeSendHeaders`' details.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeforeSendHeadersDetails {
    /// The request.
    #[serde(flatten)]
    pub request: RequestDetails,
    /// The headers about to be sent (`Host` and the connection's own
    /// headers are added later, as in Chromium).
    pub request_headers: Headers,
    /// Its body, when it has one in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_data: Option<Vec<UploadData>>,
}

/// `onSendHeaders`' details.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendHeadersDetails {
    /// The request.
    #[serde(flatten)]
    pub request: RequestDetails,
    /// The headers as they go, after `onBeforeSendHeaders`.
    pub request_headers: Headers,
}

/// `onHeadersReceived`' and `onResponseStarted`'s details.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseEventDetails {
    /// The request.
    #[serde(flatten)]
    pub request: RequestDetails,
    /// The response.
    #[serde(flatten)]
    pub response: ResponseDetails,
}

/// `onBeforeRedirect`'s details.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeforeRedirectDetails {
    /// The request.
    #[serde(flatten)]
    pub request: RequestDetails,
    /// The redirect's response (`307 Internal Redirect` for one asked by
    /// `onBeforeRequest`).
    #[serde(flatten)]
    pub response: ResponseDetails,
    /// Where it goes.
    #[serde(rename = "redirectURL")]
    pub redirect_url: String,
}

/// `onCompleted`'s details.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompletedDetails {
    /// The request.
    #[serde(flatten)]
    pub request: RequestDetails,
    /// The response.
    #[serde(flatten)]
    pub response: ResponseDetails,
    /// `net::OK`.
    pub error: String,
}

/// `onErrorOccurred`'s details.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorOccurredDetails {
    /// The request.
    #[serde(flatten)]
    pub request: RequestDetails,
    /// Whether the response (if any) came from the cache.
    pub from_cache: bool,
    /// Chromium's error (`net::ERR_BLOCKED_BY_CLIENT`).
    pub error: String,
}

/// `onBeforeRequest`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BeforeRequestAction {
    /// Go on unchanged.
    #[default]
    Continue,
    /// Fail the request with `net::ERR_BLOCKED_BY_CLIENT`.
    Cancel,
    /// Go to this URL instead (an internal `307` redirect, which
    /// `onBeforeRedirect` reports).
    Redirect(String),
}

/// `onBeforeSendHeaders`' answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BeforeSendHeadersAction {
    /// Send the headers unchanged.
    #[default]
    Continue,
    /// Fail the request with `net::ERR_BLOCKED_BY_CLIENT`.
    Cancel,
    /// Send exactly these headers instead (Electron's `requestHeaders`: the
    /// set is replaced, so pass the details' headers back with your
    /// changes).
    Headers(Headers),
}

/// `onHeadersReceived`' answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HeadersReceivedAction {
    /// Keep the response as it is.
    #[default]
    Continue,
    /// Fail the request with `net::ERR_BLOCKED_BY_CLIENT`.
    Cancel,
    /// Replace the response's headers, and its status line when given
    /// (`HTTP/1.1 302 Found`; the status code is read from it). The new
    /// headers decide what follows: cookies stored, a redirect followed.
    Headers {
        /// The new headers.
        headers: Headers,
        /// The new status line.
        status_line: Option<String>,
    },
}

type Blocking<D, A> = Arc<dyn Fn(D) -> BoxFuture<A> + Send + Sync>;
type Listener<D> = Arc<dyn Fn(&D) + Send + Sync>;

struct Hook<H> {
    filter: Option<WebRequestFilter>,
    handler: H,
}

impl<H: Clone> Hook<H> {
    fn handler_for(&self, url: &Url, kind: ResourceType) -> Option<H> {
        self.filter
            .as_ref()
            .is_none_or(|f| f.matches(url, kind))
            .then(|| self.handler.clone())
    }
}

type Slot<H> = RwLock<Option<Hook<H>>>;

/// Which events have a hook, one bit each.
#[derive(Clone, Copy)]
#[repr(u8)]
pub(crate) enum Stage {
    BeforeRequest = 1,
    BeforeSendHeaders = 2,
    SendHeaders = 4,
    HeadersReceived = 8,
    ResponseStarted = 16,
    BeforeRedirect = 32,
    Completed = 64,
    ErrorOccurred = 128,
}

#[derive(Default)]
struct Inner {
    set: AtomicU8,
    next_id: AtomicU64,
    before_request: Slot<Blocking<BeforeRequestDetails, BeforeRequestAction>>,
    before_send_headers: Slot<Blocking<BeforeSendHeadersDetails, BeforeSendHeadersAction>>,
    send_headers: Slot<Listener<SendHeadersDetails>>,
    headers_received: Slot<Blocking<ResponseEventDetails, HeadersReceivedAction>>,
    response_started: Slot<Listener<ResponseEventDetails>>,
    before_redirect: Slot<Listener<BeforeRedirectDetails>>,
    completed: Slot<Listener<CompletedDetails>>,
    error_occurred: Slot<Listener<ErrorOccurredDetails>>,
}

/// A session's webRequest hooks (`ses.webRequest`). A cheap handle;
/// clones share the hooks.
///
/// ```
/// use sesh_core::web_request::{BeforeRequestAction, WebRequestFilter};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let sessions = sesh_core::Sessions::builder().user_data_dir(dir.path()).build()?;
/// # let ses = sessions.from_partition("doc", Default::default())?;
/// // Block every request to ads.example.com and its subdomains.
/// let filter = WebRequestFilter::new(["*://*.ads.example.com/*"])?;
/// ses.web_request().on_before_request(Some(filter), |_details| async {
///     BeforeRequestAction::Cancel
/// });
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct WebRequest {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WebRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRequest")
            .field("hooks", &self.inner.set.load(Ordering::Relaxed))
            .finish()
    }
}

fn write<H>(slot: &Slot<H>) -> std::sync::RwLockWriteGuard<'_, Option<Hook<H>>> {
    slot.write().unwrap_or_else(PoisonError::into_inner)
}

macro_rules! blocking {
    ($(#[$doc:meta])* $on:ident, $clear:ident, $slot:ident, $stage:ident, $details:ty, $action:ty) => {
        $(#[$doc])*
        pub fn $on<F, Fut>(&self, filter: Option<WebRequestFilter>, handler: F)
        where
            F: Fn($details) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = $action> + Send + 'static,
        {
            let handler: Blocking<$details, $action> =
                Arc::new(move |details| Box::pin(handler(details)));
            *write(&self.inner.$slot) = Some(Hook { filter, handler });
            self.inner.set.fetch_or(Stage::$stage as u8, Ordering::SeqCst);
        }

        #[doc = concat!("Removes the `", stringify!($on), "` hook (Electron's `null` listener).")]
        pub fn $clear(&self) {
            *write(&self.inner.$slot) = None;
            self.inner.set.fetch_and(!(Stage::$stage as u8), Ordering::SeqCst);
        }

        /// The hook, when one is set and its filter takes the request.
        pub(crate) fn $slot(&self, url: &Url, kind: ResourceType) -> Option<Blocking<$details, $action>> {
            read(&self.inner.$slot, url, kind)
        }
    };
}

macro_rules! listener {
    ($(#[$doc:meta])* $on:ident, $clear:ident, $slot:ident, $stage:ident, $details:ty) => {
        $(#[$doc])*
        pub fn $on<F>(&self, filter: Option<WebRequestFilter>, listener: F)
        where
            F: Fn(&$details) + Send + Sync + 'static,
        {
            let handler: Listener<$details> = Arc::new(listener);
            *write(&self.inner.$slot) = Some(Hook { filter, handler });
            self.inner.set.fetch_or(Stage::$stage as u8, Ordering::SeqCst);
        }

        #[doc = concat!("Removes the `", stringify!($on), "` listener (Electron's `null` listener).")]
        pub fn $clear(&self) {
            *write(&self.inner.$slot) = None;
            self.inner.set.fetch_and(!(Stage::$stage as u8), Ordering::SeqCst);
        }

        /// The listener, when one is set and its filter takes the request.
        pub(crate) fn $slot(&self, url: &Url, kind: ResourceType) -> Option<Listener<$details>> {
            read(&self.inner.$slot, url, kind)
        }
    };
}

impl WebRequest {
    blocking!(
        /// `webRequest.onBeforeRequest([filter, ]listener)`: asked before a
        /// request (and each redirect hop) starts; it may cancel it or
        /// redirect it. The request waits for the answer.
        on_before_request, clear_before_request, before_request, BeforeRequest,
        BeforeRequestDetails, BeforeRequestAction
    );
    blocking!(
        /// `webRequest.onBeforeSendHeaders([filter, ]listener)`: asked with
        /// the request headers once they are known (cookies included); it
        /// may replace them or cancel.
        on_before_send_headers, clear_before_send_headers, before_send_headers,
        BeforeSendHeaders, BeforeSendHeadersDetails, BeforeSendHeadersAction
    );
    blocking!(
        /// `webRequest.onHeadersReceived([filter, ]listener)`: asked when a
        /// response's headers arrive (each hop, cached answers included),
        /// before cookies are stored and redirects followed; it may replace
        /// the headers and status line, or cancel.
        on_headers_received, clear_headers_received, headers_received, HeadersReceived,
        ResponseEventDetails, HeadersReceivedAction
    );
    listener!(
        /// `webRequest.onSendHeaders([filter, ]listener)`: the headers as
        /// they will be sent.
        on_send_headers, clear_send_headers, send_headers, SendHeaders, SendHeadersDetails
    );
    listener!(
        /// `webRequest.onResponseStarted([filter, ]listener)`: the final
        /// response's headers are in; its body follows.
        on_response_started, clear_response_started, response_started, ResponseStarted,
        ResponseEventDetails
    );
    listener!(
        /// `webRequest.onBeforeRedirect([filter, ]listener)`: a redirect is
        /// about to be followed.
        on_before_redirect, clear_before_redirect, before_redirect, BeforeRedirect,
        BeforeRedirectDetails
    );
    listener!(
        /// `webRequest.onCompleted([filter, ]listener)`: the response's body
        /// has been read to its end.
        on_completed, clear_completed, completed, Completed, CompletedDetails
    );
    listener!(
        /// `webRequest.onErrorOccurred([filter, ]listener)`: the request
        /// failed (or was cancelled by a hook, or its response dropped
        /// before the end of its body: `net::ERR_ABORTED`).
        on_error_occurred, clear_error_occurred, error_occurred, ErrorOccurred,
        ErrorOccurredDetails
    );

    /// Whether a hook is set for `stage`: one atomic load.
    #[inline]
    pub(crate) fn has(&self, stage: Stage) -> bool {
        if self.inner.set.load(Ordering::Relaxed) & stage as u8 != 0 {
            // Hooks are the exception: what a request does for them is
            // laid out away from its usual path.
            crate::unlikely();
            true
        } else {
            false
        }
    }

    /// A new request id.
    pub(crate) fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}

fn read<H: Clone>(slot: &Slot<H>, url: &Url, kind: ResourceType) -> Option<H> {
    slot.read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|hook| hook.handler_for(url, kind))
}

/// One request's part in the hooks: its id, type and referrer, and once
/// its final response has started, what `onCompleted` or
/// `onErrorOccurred` will report.
pub(crate) struct Tracking {
    pub web: WebRequest,
    pub id: u64,
    pub kind: ResourceType,
    pub referrer: String,
    finish: std::sync::Mutex<Option<Box<Finish>>>,
    /// The request as it began, kept while `onErrorOccurred` listens: a
    /// fetch dropped before any response is reported as aborted.
    pending: std::sync::Mutex<Option<Box<(Url, http::Method)>>>,
}

/// What the end of a request reports.
struct Finish {
    url: Url,
    method: String,
    response: ResponseDetails,
}

impl Tracking {
    pub fn new(
        web: &WebRequest,
        kind: ResourceType,
        referrer: String,
        url: &Url,
        method: &http::Method,
    ) -> Tracking {
        let pending = web
            .has(Stage::ErrorOccurred)
            .then(|| Box::new((url.clone(), method.clone())));
        Tracking {
            web: web.clone(),
            id: web.next_id(),
            kind,
            referrer,
            finish: std::sync::Mutex::new(None),
            pending: std::sync::Mutex::new(pending),
        }
    }

    /// The request has reached an end that was reported (or will be by
    /// its response): nothing to report when it is dropped.
    fn settled(&self) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// The common details at this stage.
    pub fn details(&self, url: &Url, method: &http::Method) -> RequestDetails {
        RequestDetails {
            id: self.id,
            url: url.as_str().to_owned(),
            method: method.as_str().to_owned(),
            resource_type: self.kind,
            referrer: self.referrer.clone(),
            timestamp: now_ms(),
        }
    }

    /// The final response started: what its end will report is kept
    /// (when someone listens for it).
    pub fn started(
        &self,
        url: &Url,
        method: &http::Method,
        response: impl FnOnce() -> ResponseDetails,
    ) {
        self.settled();
        if self.web.has(Stage::Completed) || self.web.has(Stage::ErrorOccurred) {
            *self.finish.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(Finish {
                url: url.clone(),
                method: method.as_str().to_owned(),
                response: response(),
            }));
        }
    }

    /// What the end of the request reports, once.
    fn take_finish(&self) -> Option<Box<Finish>> {
        self.finish
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The common details of the request's end.
    fn finish_details(&self, finish: &mut Finish) -> RequestDetails {
        RequestDetails {
            id: self.id,
            url: finish.url.as_str().to_owned(),
            method: std::mem::take(&mut finish.method),
            resource_type: self.kind,
            referrer: self.referrer.clone(),
            timestamp: now_ms(),
        }
    }

    /// The body was read to its end: `onCompleted`.
    pub fn completed(&self) {
        let Some(mut finish) = self.take_finish() else {
            return;
        };
        if let Some(listener) = self.web.completed(&finish.url, self.kind) {
            listener(&CompletedDetails {
                request: self.finish_details(&mut finish),
                response: finish.response,
                error: "net::OK".into(),
            });
        }
    }

    /// The request failed with `error` at `url`: `onErrorOccurred`.
    pub fn failed(&self, url: &Url, method: &http::Method, error: sesh_cert_verify::NetError) {
        self.settled();
        let from_cache = self.take_finish().is_some_and(|f| f.response.from_cache);
        if let Some(listener) = self.web.error_occurred(url, self.kind) {
            listener(&ErrorOccurredDetails {
                request: self.details(url, method),
                from_cache,
                error: error.to_string(),
            });
        }
    }

    /// The response's body failed or was dropped before its end.
    pub fn body_failed(&self, error: sesh_cert_verify::NetError) {
        let Some(mut finish) = self.take_finish() else {
            return;
        };
        if let Some(listener) = self.web.error_occurred(&finish.url, self.kind) {
            listener(&ErrorOccurredDetails {
                request: self.finish_details(&mut finish),
                from_cache: finish.response.from_cache,
                error: error.to_string(),
            });
        }
    }
}

impl Drop for Tracking {
    /// A response dropped before the end of its body was aborted, and so
    /// was a fetch dropped before its response.
    fn drop(&mut self) {
        let aborted = sesh_cert_verify::NetError::from_code(-3);
        self.body_failed(aborted);
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(pending) = pending {
            let (url, method) = *pending;
            self.failed(&url, &method, aborted);
        }
    }
}

/// `Title-Case` for a header name (`user-agent` → `User-Agent`).
pub(crate) fn title_case(name: &str) -> String {
    let mut bytes = name.as_bytes().to_vec();
    let mut upper = true;
    for b in &mut bytes {
        if upper {
            b.make_ascii_uppercase();
        }
        upper = *b == b'-';
    }
    // Only ASCII letters changed case: still UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn reason(pattern: &str) -> &'static str {
        match UrlPattern::parse(pattern) {
            Err(WebRequestError::InvalidPattern { reason, .. }) => reason,
            Err(e) => panic!("{pattern}: {e}"),
            Ok(p) => panic!("{pattern} parsed as {p:?}"),
        }
    }

    #[test]
    fn the_docs_examples_parse() {
        for pattern in [
            "http://foo:1234/",
            "http://foo.com/",
            "http://foo:1234/bar",
            "*://*/*",
            "*://example.com/*",
            "*://example.com/foo/*",
            "http://*.foo:1234/",
            "file://foo:1234/bar",
            "http://foo:*/",
            "*://www.foo.com/",
            "<all_urls>",
            "data:*",
            "custom:anything",
            "http://[::1]:8080/*",
        ] {
            assert!(UrlPattern::parse(pattern).is_ok(), "{pattern}");
        }
    }

    #[test]
    fn bad_patterns_get_chromiums_reasons() {
        assert_eq!(reason("example.com"), "Missing scheme separator.");
        assert_eq!(reason("http:example.com/"), "Wrong scheme type.");
        assert_eq!(reason("custom://foo/"), "Wrong scheme type.");
        assert_eq!(reason("http://"), "Host can not be empty.");
        assert_eq!(reason("http:///path"), "Host can not be empty.");
        assert_eq!(reason("http://*./"), "Host can not be empty.");
        assert_eq!(reason("http://:80/"), "Host can not be empty.");
        assert_eq!(reason("*://example.com"), "Empty path.");
        assert_eq!(reason("http://foo:bar/"), "Invalid port.");
        assert_eq!(reason("http://foo:65536/"), "Invalid port.");
        assert_eq!(reason("http://foo:/"), "Invalid port.");
        assert_eq!(reason("*://foo:80/"), "Invalid port.");
        assert_eq!(reason("http://foo*.com/"), "Invalid host wildcard.");
        assert_eq!(reason("http://a.*.com/"), "Invalid host wildcard.");
        assert_eq!(reason("http://[::1/"), "Invalid host.");
        assert_eq!(reason("http://[::1]x/"), "Invalid host.");
        assert_eq!(reason("http://[]/"), "Host can not be empty.");
        assert_eq!(reason("http://exa mple.com/"), "Invalid host.");
        let err = UrlPattern::parse("*://example.com").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid url pattern *://example.com: Empty path."
        );
    }

    #[test]
    fn schemes_hosts_ports_and_paths_match_as_in_chromium() {
        let p = |s: &str| UrlPattern::parse(s).unwrap();
        // `*` is http and https only.
        assert!(p("*://*/*").matches(&url("https://a.com/x")));
        assert!(!p("*://*/*").matches(&url("ws://a.com/x")));
        assert!(!p("*://*/*").matches(&url("file:///x")));
        assert!(p("<all_urls>").matches(&url("ws://a.com/")));
        assert!(p("<all_urls>").matches(&url("custom:thing")));
        assert!(p("ws://*/*").matches(&url("ws://a.com/")));
        // Subdomains, the domain itself, never IPs.
        let sub = p("*://*.example.com/*");
        assert!(sub.matches(&url("http://example.com/")));
        assert!(sub.matches(&url("http://a.b.example.com/x")));
        assert!(!sub.matches(&url("http://badexample.com/")));
        assert!(!p("http://*.0.0.1/*").matches(&url("http://127.0.0.1/")));
        assert!(p("http://127.0.0.1/*").matches(&url("http://127.0.0.1/")));
        // Hosts are canonical; trailing dots ignored.
        assert!(p("http://EXAMPLE.com/*").matches(&url("http://example.com./a")));
        assert!(p("http://bücher.de/*").matches(&url("http://xn--bcher-kva.de/")));
        assert!(p("http://[::1]/*").matches(&url("http://[::1]:99/")));
        // Ports: none means any; a number is the effective port.
        assert!(p("http://a.com/*").matches(&url("http://a.com:8080/")));
        assert!(p("http://a.com:80/*").matches(&url("http://a.com/")));
        assert!(!p("http://a.com:81/*").matches(&url("http://a.com/")));
        assert!(p("https://a.com:443/*").matches(&url("https://a.com/")));
        // Paths: whole-string glob over path and query, `?` literal.
        assert!(p("http://a.com/foo*").matches(&url("http://a.com/foobar?x=1")));
        assert!(!p("http://a.com/foo").matches(&url("http://a.com/foo?x=1")));
        assert!(p("http://a.com/foo?x=*").matches(&url("http://a.com/foo?x=1")));
        assert!(!p("http://a.com/fo?").matches(&url("http://a.com/foo")));
        assert!(p("http://a.com/*/c").matches(&url("http://a.com/a/b/c")));
        assert!(p("http://a.com/foo/*").matches(&url("http://a.com/foo")));
        assert!(!p("http://a.com/").matches(&url("http://a.com/x")));
        assert!(p("http://a.com/x").matches(&url("http://a.com/x#fragment")));
        // file: ignores the host.
        assert!(p("file://foo/bar").matches(&url("file:///bar")));
        assert!(p("file://*").matches(&url("file:///etc/hosts")));
        // Non-standard schemes: everything after `:` is the path.
        assert!(p("data:*").matches(&url("data:text/plain,hi")));
        assert!(!p("data:image/*").matches(&url("data:text/plain,hi")));
    }

    #[test]
    fn filters_combine_urls_types_and_exclusions() {
        let all = WebRequestFilter::default();
        assert!(all.matches(&url("https://x.com/"), ResourceType::Other));
        let f = WebRequestFilter::new(["*://*.x.com/*", "http://y.com/*"])
            .unwrap()
            .with_types([ResourceType::Xhr, ResourceType::Other])
            .excluding(["*://secret.x.com/*"])
            .unwrap();
        assert!(f.matches(&url("https://a.x.com/"), ResourceType::Xhr));
        assert!(f.matches(&url("http://y.com/z"), ResourceType::Other));
        assert!(!f.matches(&url("https://y.com/z"), ResourceType::Other));
        assert!(!f.matches(&url("https://a.x.com/"), ResourceType::Image));
        assert!(!f.matches(&url("https://secret.x.com/"), ResourceType::Xhr));
        let err = WebRequestFilter::new(["*://ok.com/*", "nope"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid url pattern nope: Missing scheme separator."
        );
    }

    #[test]
    fn ip_addresses_read_as_the_standard_library_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "192.168.100.255",
            "255.255.255.255",
            "1.99.100.9",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:1.2.3.4",
        ] {
            let parsed: std::net::IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text(parsed), parsed.to_string(), "{ip}");
            assert_eq!(ip_text(parsed), ip);
        }
    }

    #[test]
    fn headers_are_case_insensitive_and_serialise_as_electron_does() {
        let mut map = http::HeaderMap::new();
        map.append("user-agent", "ua".parse().unwrap());
        map.append("x-a", "1".parse().unwrap());
        map.append("x-a", "2".parse().unwrap());
        let mut req = Headers::from(map.clone());
        assert_eq!(req.get("User-Agent"), Some("ua"));
        assert_eq!(req.get_all("X-A").collect::<Vec<_>>(), ["1", "2"]);
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json["User-Agent"], "ua");
        assert_eq!(json["X-A"], "1, 2");
        let resp = Headers::response(&map);
        assert_eq!(
            serde_json::to_value(&resp).unwrap()["X-A"],
            serde_json::json!(["1", "2"])
        );
        req.insert("X-Hook", "yes").unwrap();
        assert!(req.remove("user-agent"));
        assert!(!req.contains("User-Agent"));
        let err = req.insert("Bad Name", "v").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid header \"Bad Name: v\": not a header name"
        );
        assert!(req.insert("X-Ok", "line\nbreak").is_err());
        assert_eq!(req.len(), 3);
    }
}
