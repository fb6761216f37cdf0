/// Result of a proxy-rules operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a proxy configuration, rule or PAC script was refused or failed.
///
/// Every variant names the offending input, so that a user can find it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `mode` is not one of Electron's five modes. The message is Electron's.
    #[error(
        "Invalid mode, must be one of direct, auto_detect, pac_script, fixed_servers or system"
    )]
    InvalidMode {
        /// The mode given.
        mode: String,
    },
    /// One proxy entry (`[scheme://]host[:port]`, or a PAC entry such as
    /// `PROXY host:port`) is not valid.
    #[error("invalid proxy {token:?}: {reason}")]
    InvalidProxy {
        /// The entry as written.
        token: String,
        /// What is wrong with it.
        reason: String,
    },
    /// One `proxyRules` list entry names an unknown URL scheme
    /// (`crazy=foopy`); Chromium ignores it.
    #[error(
        "proxy rule {token:?} is for scheme {scheme:?}, which is not http, https, ftp or socks; it is ignored"
    )]
    UnknownRuleScheme {
        /// The whole `scheme=list` entry.
        token: String,
        /// The scheme before `=`.
        scheme: String,
    },
    /// A bare proxy list after a per-scheme one (`http=a;b`); Chromium
    /// ignores it.
    #[error("proxy rule {token:?} has no scheme but comes after per-scheme rules; it is ignored")]
    BareRuleAfterPerScheme {
        /// The ignored entry.
        token: String,
    },
    /// One `proxyBypassRules` entry is not valid.
    #[error("invalid bypass rule {rule:?}: {reason}")]
    InvalidBypassRule {
        /// The rule as written.
        rule: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL to resolve could not be parsed.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What the URL parser said.
        reason: String,
    },
    /// The PAC script could not be loaded: a syntax error, an exception at
    /// load time, or no `FindProxyForURL` function.
    #[error("net::ERR_PAC_SCRIPT_FAILED: the PAC script failed to load: {message}")]
    PacLoad {
        /// The engine's message (`Uncaught SyntaxError: …`).
        message: String,
    },
    /// `FindProxyForURL` failed for a URL: it threw, returned something
    /// other than a string, ran past its time limit or out of memory.
    #[error("net::ERR_PAC_SCRIPT_FAILED: FindProxyForURL failed for {url}: {message}")]
    PacResolve {
        /// The URL given to the script.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The PAC script could not be fetched.
    #[error("net::ERR_PAC_SCRIPT_FAILED: cannot fetch the PAC script {url}: {reason}")]
    PacFetch {
        /// The PAC URL.
        url: String,
        /// Why the fetch failed.
        reason: String,
    },
    /// This build has no PAC engine (the `pac` feature is off).
    #[error("this build of sesh has no PAC engine (the `pac` feature is off)")]
    PacUnavailable,
}
