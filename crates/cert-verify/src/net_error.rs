//! Chromium's network error codes, as Electron shows them.

use std::fmt;

use serde::{Serialize, Serializer};

/// A Chromium net error: a negative code and its name (`-202`,
/// `net::ERR_CERT_AUTHORITY_INVALID`), or [`NetError::OK`] (0, `net::OK`).
///
/// `Display` gives Electron's string form (`net::ERR_CERT_DATE_INVALID`);
/// JSON is the integer code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetError(i32);

/// Codes and names of the net errors sesh reports.
const NAMES: &[(i32, &str)] = &[
    (0, "OK"),
    (-1, "IO_PENDING"),
    (-2, "FAILED"),
    (-3, "ABORTED"),
    (-4, "INVALID_ARGUMENT"),
    (-6, "FILE_NOT_FOUND"),
    (-7, "TIMED_OUT"),
    (-9, "UNEXPECTED"),
    (-10, "ACCESS_DENIED"),
    (-11, "NOT_IMPLEMENTED"),
    (-20, "BLOCKED_BY_CLIENT"),
    (-21, "NETWORK_CHANGED"),
    (-25, "UPLOAD_STREAM_REWIND_NOT_SUPPORTED"),
    (-100, "CONNECTION_CLOSED"),
    (-101, "CONNECTION_RESET"),
    (-102, "CONNECTION_REFUSED"),
    (-103, "CONNECTION_ABORTED"),
    (-104, "CONNECTION_FAILED"),
    (-105, "NAME_NOT_RESOLVED"),
    (-106, "INTERNET_DISCONNECTED"),
    (-107, "SSL_PROTOCOL_ERROR"),
    (-108, "ADDRESS_INVALID"),
    (-109, "ADDRESS_UNREACHABLE"),
    (-110, "SSL_CLIENT_AUTH_CERT_NEEDED"),
    (-111, "TUNNEL_CONNECTION_FAILED"),
    (-112, "NO_SSL_VERSIONS_ENABLED"),
    (-113, "SSL_VERSION_OR_CIPHER_MISMATCH"),
    (-118, "CONNECTION_TIMED_OUT"),
    (-120, "SOCKS_CONNECTION_FAILED"),
    (-121, "SOCKS_CONNECTION_HOST_UNREACHABLE"),
    (-122, "ALPN_NEGOTIATION_FAILED"),
    (-127, "PROXY_AUTH_REQUESTED"),
    (-130, "PROXY_CONNECTION_FAILED"),
    (-136, "PROXY_CERTIFICATE_INVALID"),
    (-137, "NAME_RESOLUTION_FAILED"),
    (-150, "SSL_PINNED_KEY_NOT_IN_CERT_CHAIN"),
    (-166, "ICANN_NAME_COLLISION"),
    (-180, "TLS13_DOWNGRADE_DETECTED"),
    (-200, "CERT_COMMON_NAME_INVALID"),
    (-201, "CERT_DATE_INVALID"),
    (-202, "CERT_AUTHORITY_INVALID"),
    (-203, "CERT_CONTAINS_ERRORS"),
    (-204, "CERT_NO_REVOCATION_MECHANISM"),
    (-205, "CERT_UNABLE_TO_CHECK_REVOCATION"),
    (-206, "CERT_REVOKED"),
    (-207, "CERT_INVALID"),
    (-208, "CERT_WEAK_SIGNATURE_ALGORITHM"),
    (-210, "CERT_NON_UNIQUE_NAME"),
    (-211, "CERT_WEAK_KEY"),
    (-212, "CERT_NAME_CONSTRAINT_VIOLATION"),
    (-213, "CERT_VALIDITY_TOO_LONG"),
    (-214, "CERTIFICATE_TRANSPARENCY_REQUIRED"),
    (-215, "CERT_SYMANTEC_LEGACY"),
    (-217, "CERT_KNOWN_INTERCEPTION_BLOCKED"),
    (-218, "SSL_OBSOLETE_VERSION_OR_CIPHER"),
    (-300, "INVALID_URL"),
    (-301, "DISALLOWED_URL_SCHEME"),
    (-303, "INVALID_REDIRECT"),
    (-310, "TOO_MANY_REDIRECTS"),
    (-311, "UNSAFE_REDIRECT"),
    (-324, "EMPTY_RESPONSE"),
    (-330, "CONTENT_DECODING_FAILED"),
    (-336, "NO_SUPPORTED_PROXIES"),
    (-337, "HTTP2_PROTOCOL_ERROR"),
    (-339, "UNSUPPORTED_AUTH_SCHEME"),
    (-354, "CONTENT_LENGTH_MISMATCH"),
    (-355, "INCOMPLETE_CHUNKED_ENCODING"),
    (-370, "INVALID_HTTP_RESPONSE"),
    (-400, "CACHE_MISS"),
    (-804, "DNS_CACHE_MISS"),
];

impl NetError {
    /// Success: `net::OK`, 0.
    pub const OK: NetError = NetError(0);
    /// `net::ERR_FAILED` (−2): the verify proc's "reject".
    pub const FAILED: NetError = NetError(-2);
    /// `net::ERR_ABORTED` (−3): the verify proc's "use the default result".
    pub const ABORTED: NetError = NetError(-3);
    /// `net::ERR_TIMED_OUT` (−7).
    pub const TIMED_OUT: NetError = NetError(-7);
    /// `net::ERR_SSL_PROTOCOL_ERROR` (−107).
    pub const SSL_PROTOCOL_ERROR: NetError = NetError(-107);
    /// `net::ERR_SSL_VERSION_OR_CIPHER_MISMATCH` (−113).
    pub const SSL_VERSION_OR_CIPHER_MISMATCH: NetError = NetError(-113);
    /// `net::ERR_CERT_COMMON_NAME_INVALID` (−200): the name does not match.
    pub const CERT_COMMON_NAME_INVALID: NetError = NetError(-200);
    /// `net::ERR_CERT_DATE_INVALID` (−201): expired or not yet valid.
    pub const CERT_DATE_INVALID: NetError = NetError(-201);
    /// `net::ERR_CERT_AUTHORITY_INVALID` (−202): not issued by a trusted root.
    pub const CERT_AUTHORITY_INVALID: NetError = NetError(-202);
    /// `net::ERR_CERT_REVOKED` (−206).
    pub const CERT_REVOKED: NetError = NetError(-206);
    /// `net::ERR_CERT_INVALID` (−207): malformed or unusable.
    pub const CERT_INVALID: NetError = NetError(-207);
    /// `net::ERR_CERT_WEAK_SIGNATURE_ALGORITHM` (−208).
    pub const CERT_WEAK_SIGNATURE_ALGORITHM: NetError = NetError(-208);
    /// `net::ERR_CERT_NAME_CONSTRAINT_VIOLATION` (−212).
    pub const CERT_NAME_CONSTRAINT_VIOLATION: NetError = NetError(-212);

    /// The error of a code (any integer; unknown codes are kept as they
    /// are and named `net::ERR_<code>`).
    pub const fn from_code(code: i32) -> NetError {
        NetError(code)
    }

    /// The code: 0 for OK, negative for errors.
    pub const fn code(self) -> i32 {
        self.0
    }

    /// Whether this is `net::OK`.
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// Whether the code is a certificate error (−218 … −200).
    pub const fn is_certificate_error(self) -> bool {
        self.0 <= -200 && self.0 > -219
    }

    /// Every error sesh knows by name, `OK` first (the netlog's `netError`
    /// constants list them).
    pub fn known() -> impl Iterator<Item = NetError> {
        NAMES.iter().map(|(code, _)| NetError(*code))
    }

    /// Chromium's name without prefix (`CERT_DATE_INVALID`, `OK`), if known.
    pub fn short_name(self) -> Option<&'static str> {
        NAMES.iter().find(|(c, _)| *c == self.0).map(|(_, n)| *n)
    }
}

impl fmt::Display for NetError {
    /// `net::OK`, `net::ERR_CERT_DATE_INVALID`, or `net::ERR_<code>` for a
    /// code sesh does not know by name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.short_name() {
            Some("OK") => f.write_str("net::OK"),
            Some(name) => write!(f, "net::ERR_{name}"),
            None => write!(f, "net::ERR_{}", self.0),
        }
    }
}

impl fmt::Debug for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} ({})", self.0)
    }
}

impl Serialize for NetError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.0)
    }
}
