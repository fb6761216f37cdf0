//! The cookie jar: Set-Cookie and Cookie headers with Chromium's rules, and
//! Electron's `ses.cookies` API.

mod jar;
mod parse;

use serde::{Deserialize, Serialize};

pub use jar::{CookieJar, MAX_COOKIES, MAX_COOKIES_PER_KEY, registrable_domain};
pub use parse::{MAX_ATTRIBUTE_VALUE_BYTES, MAX_NAME_VALUE_BYTES};

/// Electron's `sameSite` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SameSite {
    /// No SameSite attribute: treated as Lax.
    Unspecified,
    /// `SameSite=None`: sent cross-site (requires Secure).
    NoRestriction,
    /// `SameSite=Lax`: sent cross-site on top-level navigations with a safe method.
    Lax,
    /// `SameSite=Strict`: sent same-site only.
    Strict,
}

/// Electron's `Cookie` structure; its JSON is Electron's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cookie {
    /// The name.
    pub name: String,
    /// The value.
    pub value: String,
    /// The domain: with a leading `.` for a domain cookie, the host for a
    /// host-only one.
    pub domain: String,
    /// Whether the cookie is sent to its host only.
    pub host_only: bool,
    /// The path.
    pub path: String,
    /// Whether it is sent over secure connections only.
    pub secure: bool,
    /// Whether scripts cannot see it.
    pub http_only: bool,
    /// Whether it ends with the session (has no expiry).
    pub session: bool,
    /// Expiry in seconds since the Unix epoch; persistent cookies only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<f64>,
    /// The SameSite mode.
    pub same_site: SameSite,
}

/// Why a cookie changed, as Electron's `changed` event says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeCause {
    /// Set or removed directly (API, Set-Cookie).
    Explicit,
    /// Replaced by a newer cookie of the same name, domain and path.
    Overwrite,
    /// Removed because it expired.
    Expired,
    /// Removed to keep the store within its limits.
    Evicted,
    /// Replaced by an already expired cookie.
    ExpiredOverwrite,
}

/// One `changed` event: the cookie, why, and whether it was removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CookieChange {
    /// The cookie concerned.
    pub cookie: Cookie,
    /// Why it changed.
    pub cause: ChangeCause,
    /// `false` only for a plain insertion.
    pub removed: bool,
}

/// Where a request comes from, for SameSite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SiteContext {
    /// The request's site is the site for cookies (a top-level navigation,
    /// or a subresource of a same-site page): every cookie may go.
    #[default]
    SameSite,
    /// A cross-site top-level navigation: Lax (and unspecified) cookies go
    /// only with a safe method (GET, HEAD); Strict ones never.
    CrossSiteTopLevel {
        /// Whether the method is safe (GET, HEAD, OPTIONS, TRACE).
        safe_method: bool,
    },
    /// A cross-site subresource: only SameSite=None cookies go.
    CrossSite,
}

impl SiteContext {
    /// The context of a request to `url`, as Chromium decides it: same-site
    /// when the site for cookies (the top-level page's URL; `None` for a
    /// request without a page, which counts as same-site) has the same
    /// scheme and registrable domain as `url`; otherwise a cross-site
    /// top-level navigation (with whether `method` is safe) or a cross-site
    /// subresource.
    pub fn for_request(
        url: &url::Url,
        site_for_cookies: Option<&url::Url>,
        top_level_navigation: bool,
        method: &str,
    ) -> SiteContext {
        let same = match site_for_cookies {
            None => true,
            Some(site) => schemeful_site(site) == schemeful_site(url),
        };
        if same {
            SiteContext::SameSite
        } else if top_level_navigation {
            SiteContext::CrossSiteTopLevel {
                safe_method: matches!(
                    method.to_ascii_uppercase().as_str(),
                    "GET" | "HEAD" | "OPTIONS" | "TRACE"
                ),
            }
        } else {
            SiteContext::CrossSite
        }
    }
}

/// Scheme (ws counted as http, wss as https) and registrable domain.
fn schemeful_site(url: &url::Url) -> Option<(String, String)> {
    let scheme = match url.scheme() {
        "ws" => "http",
        "wss" => "https",
        other => other,
    };
    let host = url.host_str()?.to_ascii_lowercase();
    let site = psl::domain_str(&host).map_or(host.clone(), str::to_owned);
    Some((scheme.to_owned(), site))
}

/// What a cookie read may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieOptions {
    /// The SameSite context.
    pub site: SiteContext,
    /// Whether HttpOnly cookies are included (true for HTTP requests,
    /// false for script reads).
    pub include_http_only: bool,
}

impl Default for CookieOptions {
    /// A top-level same-site navigation: everything that matches.
    fn default() -> Self {
        CookieOptions {
            site: SiteContext::SameSite,
            include_http_only: true,
        }
    }
}

/// Electron's filter of `cookies.get(filter)`: every field given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CookieFilter {
    /// Only cookies that would be sent to this URL.
    pub url: Option<String>,
    /// Exactly this name.
    pub name: Option<String>,
    /// This domain or a subdomain of it.
    pub domain: Option<String>,
    /// Exactly this path.
    pub path: Option<String>,
    /// This Secure flag.
    pub secure: Option<bool>,
    /// Session (true) or persistent (false) cookies.
    pub session: Option<bool>,
    /// This HttpOnly flag.
    pub http_only: Option<bool>,
}

/// Electron's details of `cookies.set(details)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CookieDetails {
    /// The URL the cookie is for (required).
    pub url: String,
    /// The name (default `""`).
    pub name: Option<String>,
    /// The value (default `""`).
    pub value: Option<String>,
    /// The domain; absent or empty for a host-only cookie.
    pub domain: Option<String>,
    /// The path; absent or empty for the URL's default path.
    pub path: Option<String>,
    /// Secure (default false, true with `sameSite: no_restriction`).
    pub secure: Option<bool>,
    /// HttpOnly (default false).
    pub http_only: Option<bool>,
    /// Expiry in seconds since the Unix epoch; absent for a session cookie.
    pub expiration_date: Option<f64>,
    /// SameSite (default `lax`).
    pub same_site: Option<SameSite>,
}

/// Why a cookie was not stored. The messages follow Electron's
/// `Failed to set cookie - …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// `url` was not given.
    #[error("Missing required option 'url'")]
    MissingUrl,
    /// The URL does not parse.
    #[error("Failed to set cookie - the URL {url:?} is invalid")]
    InvalidUrl {
        /// The URL.
        url: String,
    },
    /// The URL's scheme does not take cookies.
    #[error("Failed to set cookie - the scheme {scheme:?} cannot have cookies")]
    NonCookieableScheme {
        /// The scheme.
        scheme: String,
    },
    /// Malformed name or value.
    #[error("Failed to set cookie - failed to parse the cookie: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The domain does not match the URL, or is a public suffix.
    #[error("Failed to set cookie - the domain {domain:?} is invalid for {host}: {reason}")]
    InvalidDomain {
        /// The domain given.
        domain: String,
        /// The URL's host.
        host: String,
        /// Why.
        reason: &'static str,
    },
    /// The path does not start with `/`.
    #[error("Failed to set cookie - the path {path:?} must start with '/'")]
    InvalidPath {
        /// The path given.
        path: String,
    },
    /// A Secure cookie from an insecure URL.
    #[error("Failed to set cookie - a secure cookie cannot be set from an insecure URL")]
    SecureFromInsecureUrl,
    /// SameSite=None without Secure.
    #[error("Failed to set cookie - SameSite=None requires Secure")]
    SameSiteNoneWithoutSecure,
    /// `__Secure-` or `__Host-` rules broken.
    #[error("Failed to set cookie - the cookie violated prefix rules: {reason}")]
    InvalidPrefix {
        /// Which rule.
        reason: &'static str,
    },
    /// It would overwrite an HttpOnly cookie without HttpOnly access.
    #[error("Failed to set cookie - it would overwrite an HttpOnly cookie")]
    OverwriteHttpOnly,
    /// An insecure URL would overwrite or shadow a Secure cookie.
    #[error("Failed to set cookie - an insecure URL cannot overwrite a secure cookie")]
    OverwriteSecure,
    /// The store could not record it.
    #[error("Failed to set cookie - the store failed: {reason}")]
    Store {
        /// What the store said.
        reason: String,
    },
}
