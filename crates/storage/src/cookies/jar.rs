//! The jar: canonical cookies, matching, limits, persistence, events.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use url::Url;

use super::parse::{ParsedCookie, SameSiteAttr, parse_cookie_date, parse_cookie_line};
use super::{
    ChangeCause, Cookie, CookieChange, CookieDetails, CookieError, CookieFilter, CookieOptions,
    SameSite, SiteContext,
};
use crate::{Backend, BackendKind, Batch};

/// Cookies kept per registrable domain before eviction (then down to 150).
pub const MAX_COOKIES_PER_KEY: usize = 180;
const PURGE_PER_KEY_TO: usize = 150;
/// Cookies kept in all before eviction (then down to 3000).
pub const MAX_COOKIES: usize = 3300;
const PURGE_TO: usize = 3000;
/// The longest a cookie may live: 400 days.
const MAX_AGE_SECONDS: i64 = 400 * 24 * 3600;
/// Pending writes are committed after this many…
const FLUSH_EVERY_OPS: usize = 512;
/// …or this long after the first one.
const FLUSH_EVERY: Duration = Duration::from_secs(30);
const TREE: &str = "cookies";

type Listener = Arc<dyn Fn(&CookieChange) + Send + Sync>;
type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// One cookie as the jar keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    name: String,
    value: String,
    /// With a leading `.` for domain cookies.
    domain: String,
    path: String,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    created_us: i64,
    accessed_us: i64,
    /// `None` for a session cookie.
    expires_us: Option<i64>,
}

impl Stored {
    fn host_only(&self) -> bool {
        !self.domain.starts_with('.')
    }

    fn bare_domain(&self) -> &str {
        self.domain.trim_start_matches('.')
    }

    fn is_expired(&self, now_us: i64) -> bool {
        self.expires_us.is_some_and(|e| e <= now_us)
    }

    fn same_identity(&self, other: &Stored) -> bool {
        self.name == other.name && self.domain == other.domain && self.path == other.path
    }

    fn db_key(&self) -> Vec<u8> {
        format!("{}\0{}\0{}", self.domain, self.path, self.name).into_bytes()
    }

    fn to_cookie(&self) -> Cookie {
        Cookie {
            name: self.name.clone(),
            value: self.value.clone(),
            domain: self.domain.clone(),
            host_only: self.host_only(),
            path: self.path.clone(),
            secure: self.secure,
            http_only: self.http_only,
            session: self.expires_us.is_none(),
            expiration_date: self.expires_us.map(|us| us as f64 / 1e6),
            same_site: self.same_site,
        }
    }

    fn domain_matches(&self, host: &str) -> bool {
        if self.host_only() {
            return host.eq_ignore_ascii_case(&self.domain);
        }
        let d = self.bare_domain();
        host.eq_ignore_ascii_case(d)
            || (host.len() > d.len()
                && host.as_bytes()[host.len() - d.len() - 1] == b'.'
                && host[host.len() - d.len()..].eq_ignore_ascii_case(d))
    }

    fn path_matches(&self, request_path: &str) -> bool {
        path_matches(&self.path, request_path)
    }
}

/// RFC 6265 section 5.1.4.
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// RFC 6265 section 5.1.4's default path of a URL.
fn default_path(url: &Url) -> String {
    let path = url.path();
    if !path.starts_with('/') {
        return "/".into();
    }
    match path.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => path[..i].to_owned(),
    }
}

fn micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// Schemes whose URLs take cookies.
fn cookieable(scheme: &str) -> bool {
    matches!(scheme, "http" | "https" | "ws" | "wss")
}

/// Whether a URL counts as secure for cookies: https/wss, or a localhost or
/// loopback host (potentially trustworthy, as Chromium allows).
fn is_secure_url(url: &Url) -> bool {
    if matches!(url.scheme(), "https" | "wss") {
        return true;
    }
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.strip_suffix('.').unwrap_or(d);
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The jar's key for a domain: its registrable domain (eTLD+1), else the
/// domain itself (IP addresses, `localhost`, public suffixes).
/// The jar's key for a domain: its registrable domain (a slice of it,
/// unless it has upper case to fold).
fn key_of(domain: &str) -> Cow<'_, str> {
    let d = domain.trim_start_matches('.');
    if d.bytes().any(|b| b.is_ascii_uppercase()) {
        let lower = d.to_ascii_lowercase();
        return Cow::Owned(match psl::domain_str(&lower) {
            Some(reg) => reg.to_owned(),
            None => lower,
        });
    }
    Cow::Borrowed(psl::domain_str(d).unwrap_or(d))
}

/// The registrable domain of a host or cookie domain (eTLD+1, lower case,
/// without a leading dot), else the host itself (IP addresses, `localhost`,
/// public suffixes): the scope at which `clearData` clears cookies.
pub fn registrable_domain(host: &str) -> String {
    key_of(host).into_owned()
}

fn host_of(url: &Url) -> Option<Cow<'_, str>> {
    match url.host()? {
        // The URL parser has lower-cased it already.
        url::Host::Domain(d) => Some(Cow::Borrowed(d)),
        // The URL's own serialisation of it is the dotted quad.
        url::Host::Ipv4(_) => url.host_str().map(Cow::Borrowed),
        url::Host::Ipv6(ip) => Some(Cow::Owned(format!("[{ip}]"))),
    }
}

/// The cookie's domain for a Domain attribute (or API domain) on `url`.
fn cookie_domain(url: &Url, host: &str, attr: Option<&str>) -> Result<String, CookieError> {
    let Some(attr) = attr.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(host.to_owned());
    };
    let invalid = |reason| CookieError::InvalidDomain {
        domain: attr.to_owned(),
        host: host.to_owned(),
        reason,
    };
    let bare = attr.strip_prefix('.').unwrap_or(attr).to_ascii_lowercase();
    if bare.is_empty() {
        return Err(invalid("it is empty"));
    }
    let plain = bare
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'.' || b.is_ascii_digit())
        && !bare.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let canonical = if plain {
        // Already what the URL parser would make of it.
        bare
    } else {
        match url::Host::parse(&bare) {
            Ok(url::Host::Domain(d)) => d,
            Ok(url::Host::Ipv4(ip)) => ip.to_string(),
            Ok(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            Err(_) => return Err(invalid("it is not a host name")),
        }
    };
    if matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)))
        || canonical.parse::<IpAddr>().is_ok()
    {
        // An IP address only takes a Domain equal to itself, as a host cookie.
        return if canonical == host {
            Ok(host.to_owned())
        } else {
            Err(invalid("an IP address host takes no other domain"))
        };
    }
    let matches = host == canonical
        || (host.len() > canonical.len()
            && host.ends_with(canonical.as_str())
            && host.as_bytes()[host.len() - canonical.len() - 1] == b'.');
    if !matches {
        return Err(invalid("it does not domain-match the URL's host"));
    }
    if psl::domain_str(&canonical).is_none() {
        // A public suffix (or a name without a registrable part): allowed
        // only as the host itself, then as a host-only cookie.
        return if canonical == host {
            Ok(host.to_owned())
        } else {
            Err(invalid("it is a public suffix"))
        };
    }
    Ok(format!(".{canonical}"))
}

struct State {
    /// Registrable domain → its cookies.
    by_key: HashMap<String, Vec<Stored>>,
    count: usize,
    pending: Batch,
    /// When the oldest pending write was made (the jar's clock, µs).
    pending_since: Option<i64>,
}

/// A session's cookies, with Chromium's rules.
///
/// Stores from Set-Cookie lines ([`CookieJar::set_from_header`]) and
/// Electron's API ([`CookieJar::set`]), answers Cookie headers
/// ([`CookieJar::cookie_header`]) and `get(filter)`, keeps within 180
/// cookies per registrable domain and 3300 in all (least recently used
/// first, non-secure before secure), removes expired cookies when it meets
/// them (and in [`CookieJar::purge_expired`]), and reports every change to a
/// listener as Electron's `changed` event. With an on-disk backend,
/// persistent cookies are written in batches (every 512 changes or 30
/// seconds) and durably by [`CookieJar::flush_store`]; session cookies never
/// reach the disk.
pub struct CookieJar {
    state: Mutex<State>,
    backend: Arc<dyn Backend>,
    persistent: bool,
    listener: RwLock<Option<Listener>>,
    clock: RwLock<Clock>,
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieJar")
            .field("cookies", &self.len())
            .field("persistent", &self.persistent)
            .finish_non_exhaustive()
    }
}

impl CookieJar {
    /// The jar of a backend: persistent cookies are loaded from it (and
    /// written to it) when it is on disk. Expired ones are dropped on load.
    ///
    /// # Errors
    ///
    /// [`crate::Error`] when the stored cookies cannot be read; a stored
    /// cookie that cannot be decoded is reported, not skipped silently.
    pub fn open(backend: Arc<dyn Backend>) -> crate::Result<Self> {
        let persistent = backend.kind() == BackendKind::Sled;
        let now = micros(SystemTime::now());
        let mut by_key: HashMap<String, Vec<Stored>> = HashMap::new();
        let mut count = 0;
        let mut stale = Batch::default();
        if persistent {
            for (k, v) in backend.scan_prefix(TREE, b"")? {
                let stored: Stored =
                    serde_json::from_slice(&v).map_err(|e| crate::Error::Corrupt {
                        path: backend.path().map(Into::into).unwrap_or_default(),
                        detail: format!("a stored cookie cannot be read: {e}"),
                    })?;
                if stored.is_expired(now) {
                    stale.remove(k);
                    continue;
                }
                by_key
                    .entry(key_of(&stored.domain).into_owned())
                    .or_default()
                    .push(stored);
                count += 1;
            }
            if !stale.is_empty() {
                backend.apply(TREE, stale)?;
            }
        }
        Ok(CookieJar {
            state: Mutex::new(State {
                by_key,
                count,
                pending: Batch::default(),
                pending_since: None,
            }),
            backend,
            persistent,
            listener: RwLock::new(None),
            clock: RwLock::new(Arc::new(SystemTime::now)),
        })
    }

    /// Uses `clock` instead of the system clock (tests of expiry).
    pub fn set_clock(&self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) {
        *self.clock.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(clock);
    }

    /// Calls `listener` for every change (Electron's `changed` event);
    /// `None` stops it.
    pub fn set_change_listener(
        &self,
        listener: Option<impl Fn(&CookieChange) + Send + Sync + 'static>,
    ) {
        *self
            .listener
            .write()
            .unwrap_or_else(PoisonError::into_inner) = listener.map(|l| Arc::new(l) as Listener);
    }

    fn now_us(&self) -> i64 {
        micros((self.clock.read().unwrap_or_else(PoisonError::into_inner))())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify(&self, changes: Vec<CookieChange>) {
        if changes.is_empty() {
            return;
        }
        let listener = self
            .listener
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(l) = listener {
            for c in &changes {
                l(c);
            }
        }
    }

    /// Number of cookies held (expired ones not yet removed included).
    pub fn len(&self) -> usize {
        self.lock().count
    }

    /// Whether the jar holds no cookie.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores a cookie exactly as if `line` had arrived in a Set-Cookie
    /// response header from `url`.
    ///
    /// # Errors
    ///
    /// [`CookieError`] naming why Chromium would refuse the cookie.
    pub fn set_from_header(&self, url: &Url, line: &str) -> Result<(), CookieError> {
        let now = self.now_us();
        let parsed =
            parse_cookie_line(line).map_err(|r| CookieError::Malformed { reason: r.into() })?;
        let cookie = self.canonical_from_header(url, &parsed, now)?;
        self.store(url, cookie, true, now)
    }

    fn canonical_from_header(
        &self,
        url: &Url,
        p: &ParsedCookie<'_>,
        now: i64,
    ) -> Result<Stored, CookieError> {
        if !cookieable(url.scheme()) {
            return Err(CookieError::NonCookieableScheme {
                scheme: url.scheme().to_owned(),
            });
        }
        let host = host_of(url).ok_or(CookieError::InvalidUrl {
            url: url.to_string(),
        })?;
        let domain = cookie_domain(url, &host, p.domain)?;
        let path = match p.path {
            Some(path) if path.starts_with('/') => path.to_owned(),
            _ => default_path(url),
        };
        // Max-Age wins over Expires; both are capped at 400 days.
        let expires_us = match (p.max_age, p.expires) {
            (Some(m), _) if parse_max_age(m).is_some() => parse_max_age(m).map(|secs| {
                now.saturating_add(secs.min(MAX_AGE_SECONDS).saturating_mul(1_000_000))
            }),
            (_, Some(e)) => parse_cookie_date(e).map(|secs| {
                secs.saturating_mul(1_000_000)
                    .min(now.saturating_add(MAX_AGE_SECONDS * 1_000_000))
            }),
            _ => None,
        };
        let same_site = match p.same_site {
            SameSiteAttr::Strict => SameSite::Strict,
            SameSiteAttr::Lax => SameSite::Lax,
            SameSiteAttr::None => SameSite::NoRestriction,
            SameSiteAttr::Unspecified => SameSite::Unspecified,
        };
        let cookie = Stored {
            name: p.name.to_owned(),
            value: p.value.to_owned(),
            domain,
            path,
            secure: p.secure,
            http_only: p.http_only,
            same_site,
            created_us: now,
            accessed_us: now,
            expires_us,
        };
        check_rules(url, &cookie, p.domain.is_some_and(|d| !d.trim().is_empty()))?;
        Ok(cookie)
    }

    /// Electron's `cookies.set(details)`.
    ///
    /// # Errors
    ///
    /// [`CookieError`] with Electron's reasons.
    pub fn set(&self, details: &CookieDetails) -> Result<(), CookieError> {
        if details.url.is_empty() {
            return Err(CookieError::MissingUrl);
        }
        let url = Url::parse(&details.url).map_err(|_| CookieError::InvalidUrl {
            url: details.url.clone(),
        })?;
        if !cookieable(url.scheme()) {
            return Err(CookieError::NonCookieableScheme {
                scheme: url.scheme().to_owned(),
            });
        }
        let host = host_of(&url).ok_or(CookieError::InvalidUrl {
            url: details.url.clone(),
        })?;
        let name = details.name.clone().unwrap_or_default();
        let value = details.value.clone().unwrap_or_default();
        let ctl =
            |s: &str| s.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) || s.contains(';');
        if ctl(&name) || ctl(&value) || name.contains('=') {
            return Err(CookieError::Malformed {
                reason: "the name or value has a control character, ';' or (in the name) '='"
                    .into(),
            });
        }
        if name.is_empty() && value.is_empty() {
            return Err(CookieError::Malformed {
                reason: "a cookie needs a name or a value".into(),
            });
        }
        if name.len() + value.len() > super::MAX_NAME_VALUE_BYTES {
            return Err(CookieError::Malformed {
                reason: "the name and value are longer than 4096 bytes".into(),
            });
        }
        let domain = cookie_domain(&url, &host, details.domain.as_deref())?;
        let path = match details.path.as_deref().filter(|p| !p.is_empty()) {
            Some(p) if p.starts_with('/') => p.to_owned(),
            Some(p) => return Err(CookieError::InvalidPath { path: p.to_owned() }),
            None => default_path(&url),
        };
        let same_site = details.same_site.unwrap_or(SameSite::Lax);
        let secure = details
            .secure
            .unwrap_or(same_site == SameSite::NoRestriction);
        let now = self.now_us();
        let expires_us = details.expiration_date.map(|secs| {
            let us = (secs * 1e6) as i64;
            us.min(now.saturating_add(MAX_AGE_SECONDS * 1_000_000))
        });
        let cookie = Stored {
            name,
            value,
            domain,
            path,
            secure,
            http_only: details.http_only.unwrap_or(false),
            same_site,
            created_us: now,
            accessed_us: now,
            expires_us,
        };
        check_rules(
            &url,
            &cookie,
            details
                .domain
                .as_deref()
                .is_some_and(|d| !d.trim().is_empty()),
        )?;
        self.store(&url, cookie, details.http_only.unwrap_or(false), now)
    }

    /// Inserts a canonical cookie: replaces the one of the same name,
    /// domain and path, refuses what Chromium refuses, enforces limits.
    fn store(
        &self,
        url: &Url,
        cookie: Stored,
        http_only_access: bool,
        now: i64,
    ) -> Result<(), CookieError> {
        let secure_source = is_secure_url(url);
        let wants_events = self
            .listener
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        let key = key_of(&cookie.domain).into_owned();
        let mut changes = Vec::new();
        let mut state = self.lock();
        let list = state.by_key.entry(key.clone()).or_default();
        // An insecure URL may not overwrite, nor shadow, a Secure cookie.
        if !cookie.secure && !secure_source {
            let shadows = list.iter().any(|c| {
                c.secure
                    && c.name == cookie.name
                    && (c.domain_matches(cookie.bare_domain())
                        || cookie.domain_matches(c.bare_domain()))
                    && path_matches(&cookie.path, &c.path)
            });
            if shadows {
                return Err(CookieError::OverwriteSecure);
            }
        }
        if let Some(i) = list.iter().position(|c| c.same_identity(&cookie)) {
            if list[i].http_only && !http_only_access {
                return Err(CookieError::OverwriteHttpOnly);
            }
            let old = list.remove(i);
            let cause = if cookie.is_expired(now) {
                ChangeCause::ExpiredOverwrite
            } else {
                ChangeCause::Overwrite
            };
            if wants_events {
                changes.push(CookieChange {
                    cookie: old.to_cookie(),
                    cause,
                    removed: true,
                });
            }
            let persisted = old.expires_us.is_some();
            state.count -= 1;
            if persisted {
                self.pending_remove(&mut state, old.db_key());
            }
        }
        if !cookie.is_expired(now) {
            let persisted = cookie.expires_us.is_some();
            if persisted && self.persistent {
                let bytes = serde_json::to_vec(&cookie).map_err(|e| CookieError::Store {
                    reason: e.to_string(),
                })?;
                self.pending_insert(&mut state, cookie.db_key(), bytes);
            }
            if wants_events {
                changes.push(CookieChange {
                    cookie: cookie.to_cookie(),
                    cause: ChangeCause::Explicit,
                    removed: false,
                });
            }
            state.by_key.entry(key.clone()).or_default().push(cookie);
            state.count += 1;
            self.enforce_limits(&mut state, &key, now, &mut changes);
        }
        let result = self.maybe_commit(&mut state);
        drop(state);
        self.notify(changes);
        result.map_err(|e| CookieError::Store {
            reason: e.to_string(),
        })
    }

    fn pending_insert(&self, state: &mut State, key: Vec<u8>, value: Vec<u8>) {
        if self.persistent {
            state.pending.insert(key, value);
            let now = self.now_us();
            state.pending_since.get_or_insert(now);
        }
    }

    fn pending_remove(&self, state: &mut State, key: Vec<u8>) {
        if self.persistent {
            state.pending.remove(key);
            let now = self.now_us();
            state.pending_since.get_or_insert(now);
        }
    }

    fn maybe_commit(&self, state: &mut State) -> crate::Result<()> {
        let due = state.pending.len() >= FLUSH_EVERY_OPS || self.waited_long_enough(state);
        if due { self.commit(state) } else { Ok(()) }
    }

    fn waited_long_enough(&self, state: &State) -> bool {
        let limit = i64::try_from(FLUSH_EVERY.as_micros()).unwrap_or(i64::MAX);
        state
            .pending_since
            .is_some_and(|since| self.now_us().saturating_sub(since) >= limit)
    }

    fn commit(&self, state: &mut State) -> crate::Result<()> {
        if state.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut state.pending);
        state.pending_since = None;
        self.backend.apply(TREE, batch)
    }

    /// Electron's `cookies.flushStore()`: every change so far is on disk
    /// when this returns (nothing to do for an in-memory jar).
    ///
    /// # Errors
    ///
    /// [`crate::Error`] when the store cannot be written.
    pub fn flush_store(&self) -> crate::Result<()> {
        let mut state = self.lock();
        self.commit(&mut state)?;
        drop(state);
        if self.persistent {
            self.backend.flush()?;
        }
        Ok(())
    }

    fn remove_at(
        &self,
        state: &mut State,
        key: &str,
        index: usize,
        cause: ChangeCause,
        changes: &mut Vec<CookieChange>,
    ) {
        let Some(list) = state.by_key.get_mut(key) else {
            return;
        };
        let old = list.remove(index);
        if list.is_empty() {
            state.by_key.remove(key);
        }
        state.count -= 1;
        if old.expires_us.is_some() {
            self.pending_remove(state, old.db_key());
        }
        changes.push(CookieChange {
            cookie: old.to_cookie(),
            cause,
            removed: true,
        });
    }

    fn enforce_limits(
        &self,
        state: &mut State,
        key: &str,
        now: i64,
        changes: &mut Vec<CookieChange>,
    ) {
        let per_key = state.by_key.get(key).map_or(0, Vec::len);
        if per_key > MAX_COOKIES_PER_KEY {
            self.purge(state, Some(key), PURGE_PER_KEY_TO, now, changes);
        }
        if state.count > MAX_COOKIES {
            self.purge(state, None, PURGE_TO, now, changes);
        }
    }

    /// Brings `key`'s cookies (or all) down to `target`: expired first, then
    /// the least recently used non-secure ones, then secure ones.
    fn purge(
        &self,
        state: &mut State,
        key: Option<&str>,
        target: usize,
        now: i64,
        changes: &mut Vec<CookieChange>,
    ) {
        let keys: Vec<String> = match key {
            Some(k) => vec![k.to_owned()],
            None => state.by_key.keys().cloned().collect(),
        };
        let count = |state: &State| match key {
            Some(k) => state.by_key.get(k).map_or(0, Vec::len),
            None => state.count,
        };
        // Expired ones.
        for k in &keys {
            while let Some(i) = state
                .by_key
                .get(k)
                .and_then(|l| l.iter().position(|c| c.is_expired(now)))
            {
                self.remove_at(state, k, i, ChangeCause::Expired, changes);
            }
        }
        if count(state) <= target {
            return;
        }
        // Candidates in eviction order.
        let mut order: Vec<(bool, i64, String, String, String, String)> = Vec::new();
        for k in &keys {
            for c in state.by_key.get(k).into_iter().flatten() {
                order.push((
                    c.secure,
                    c.accessed_us,
                    k.clone(),
                    c.name.clone(),
                    c.domain.clone(),
                    c.path.clone(),
                ));
            }
        }
        order.sort();
        let mut excess = count(state) - target;
        for (_, _, k, name, domain, path) in order {
            if excess == 0 {
                break;
            }
            if let Some(i) = state.by_key.get(&k).and_then(|l| {
                l.iter()
                    .position(|c| c.name == name && c.domain == domain && c.path == path)
            }) {
                self.remove_at(state, &k, i, ChangeCause::Evicted, changes);
                excess -= 1;
            }
        }
    }

    /// Removes every cookie; returns how many.
    pub fn remove_all(&self) -> usize {
        let mut changes = Vec::new();
        let mut state = self.lock();
        let keys: Vec<String> = state.by_key.keys().cloned().collect();
        for k in &keys {
            while state.by_key.get(k).is_some_and(|l| !l.is_empty()) {
                self.remove_at(&mut state, k, 0, ChangeCause::Explicit, &mut changes);
            }
        }
        let _ = self.maybe_commit(&mut state);
        drop(state);
        let n = changes.len();
        self.notify(changes);
        n
    }

    /// Housekeeping a session runs on a timer: removes expired cookies and
    /// writes changes that have waited 30 seconds.
    ///
    /// # Errors
    ///
    /// When pending changes cannot be written (they are kept for the next
    /// try).
    pub fn tick(&self) -> crate::Result<()> {
        self.purge_expired();
        let mut state = self.lock();
        if self.waited_long_enough(&state) {
            self.commit(&mut state)?;
        }
        Ok(())
    }

    /// Removes every expired cookie now (a session runs this on a timer).
    pub fn purge_expired(&self) {
        let now = self.now_us();
        let mut changes = Vec::new();
        let mut state = self.lock();
        let keys: Vec<String> = state.by_key.keys().cloned().collect();
        for k in &keys {
            while let Some(i) = state
                .by_key
                .get(k)
                .and_then(|l| l.iter().position(|c| c.is_expired(now)))
            {
                self.remove_at(&mut state, k, i, ChangeCause::Expired, &mut changes);
            }
        }
        let _ = self.maybe_commit(&mut state);
        drop(state);
        self.notify(changes);
    }

    /// The cookies `url` gets with `options`, in header order (longest path
    /// first, then oldest), updating their access time when `touch`.
    fn matching(&self, url: &Url, options: CookieOptions, touch: bool) -> Vec<Cookie> {
        let mut state = self.lock();
        // An empty jar (many a session's) answers without any work.
        if state.by_key.is_empty() {
            return Vec::new();
        }
        let Some(host) = host_of(url) else {
            return Vec::new();
        };
        if !cookieable(url.scheme()) {
            return Vec::new();
        }
        let secure = is_secure_url(url);
        let now = self.now_us();
        let key = key_of(&host);
        let key: &str = &key;
        let mut changes = Vec::new();
        while let Some(i) = state
            .by_key
            .get(key)
            .and_then(|l| l.iter().position(|c| c.is_expired(now)))
        {
            self.remove_at(&mut state, key, i, ChangeCause::Expired, &mut changes);
        }
        let mut found: Vec<&mut Stored> = state
            .by_key
            .get_mut(key)
            .into_iter()
            .flatten()
            .filter(|c| {
                c.domain_matches(&host)
                    && c.path_matches(url.path())
                    && (!c.secure || secure)
                    && (!c.http_only || options.include_http_only)
                    && same_site_allows(c.same_site, options.site)
            })
            .collect();
        found.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.created_us.cmp(&b.created_us))
        });
        let out = found
            .iter_mut()
            .map(|c| {
                if touch {
                    c.accessed_us = now;
                }
                c.to_cookie()
            })
            .collect();
        drop(state);
        self.notify(changes);
        out
    }

    /// The Cookie header value a request to `url` sends with `options`
    /// (empty when none): `name=value` pairs joined by `; `, longest path
    /// first, then oldest.
    pub fn cookie_header(&self, url: &Url, options: CookieOptions) -> String {
        let cookies = self.matching(url, options, true);
        let mut header = String::new();
        for c in cookies {
            if !header.is_empty() {
                header.push_str("; ");
            }
            if c.name.is_empty() {
                header.push_str(&c.value);
            } else {
                header.push_str(&c.name);
                header.push('=');
                header.push_str(&c.value);
            }
        }
        header
    }

    /// Electron's `cookies.get(filter)`.
    pub fn get(&self, filter: &CookieFilter) -> Vec<Cookie> {
        let base: Vec<Cookie> = match filter.url.as_deref().filter(|u| !u.is_empty()) {
            Some(u) => match Url::parse(u) {
                Ok(url) => self.matching(
                    &url,
                    CookieOptions {
                        site: SiteContext::SameSite,
                        include_http_only: true,
                    },
                    false,
                ),
                Err(_) => Vec::new(),
            },
            None => {
                let now = self.now_us();
                let state = self.lock();
                let mut all: Vec<&Stored> = state
                    .by_key
                    .values()
                    .flatten()
                    .filter(|c| !c.is_expired(now))
                    .collect();
                all.sort_by(|a, b| {
                    a.bare_domain()
                        .cmp(b.bare_domain())
                        .then(b.path.len().cmp(&a.path.len()))
                        .then(a.created_us.cmp(&b.created_us))
                });
                all.iter().map(|c| c.to_cookie()).collect()
            }
        };
        base.into_iter()
            .filter(|c| filter.name.as_ref().is_none_or(|n| &c.name == n))
            .filter(|c| filter.path.as_ref().is_none_or(|p| &c.path == p))
            .filter(|c| filter.secure.is_none_or(|s| c.secure == s))
            .filter(|c| filter.session.is_none_or(|s| c.session == s))
            .filter(|c| filter.http_only.is_none_or(|h| c.http_only == h))
            .filter(|c| {
                filter
                    .domain
                    .as_deref()
                    .is_none_or(|d| domain_filter_matches(d, &c.domain))
            })
            .collect()
    }

    /// Electron's `cookies.remove(url, name)`: removes every cookie of that
    /// name that `url` would get; returns how many.
    pub fn remove(&self, url: &Url, name: &str) -> usize {
        let targets = self.matching(url, CookieOptions::default(), false);
        let mut changes = Vec::new();
        let mut state = self.lock();
        for t in targets.iter().filter(|c| c.name == name) {
            let key = key_of(&t.domain);
            let key: &str = &key;
            if let Some(i) = state.by_key.get(key).and_then(|l| {
                l.iter()
                    .position(|c| c.name == t.name && c.domain == t.domain && c.path == t.path)
            }) {
                self.remove_at(&mut state, key, i, ChangeCause::Explicit, &mut changes);
            }
        }
        let _ = self.maybe_commit(&mut state);
        drop(state);
        let n = changes.len();
        self.notify(changes);
        n
    }

    /// Removes every cookie whose registrable domain (see
    /// [`registrable_domain`]) `doomed` names; returns how many. What
    /// `clearData` does for cookies, which it clears by registrable domain.
    pub fn remove_by_registrable_domain(&self, doomed: impl Fn(&str) -> bool) -> usize {
        let mut changes = Vec::new();
        let mut state = self.lock();
        let keys: Vec<String> = state.by_key.keys().filter(|k| doomed(k)).cloned().collect();
        for k in &keys {
            while state.by_key.get(k).is_some_and(|l| !l.is_empty()) {
                self.remove_at(&mut state, k, 0, ChangeCause::Explicit, &mut changes);
            }
        }
        let _ = self.maybe_commit(&mut state);
        drop(state);
        let n = changes.len();
        self.notify(changes);
        n
    }

    /// Removes every cookie a request to `host` would carry, whatever its
    /// path, Secure or SameSite (`clear_storage_data` for an origin);
    /// returns how many.
    pub fn remove_for_host(&self, host: &str) -> usize {
        let mut changes = Vec::new();
        let mut state = self.lock();
        let key = key_of(host);
        let key: &str = &key;
        while let Some(i) = state
            .by_key
            .get(key)
            .and_then(|l| l.iter().position(|c| c.domain_matches(host)))
        {
            self.remove_at(&mut state, key, i, ChangeCause::Explicit, &mut changes);
        }
        let _ = self.maybe_commit(&mut state);
        drop(state);
        let n = changes.len();
        self.notify(changes);
        n
    }
}

/// Max-Age: an optional `-` and digits; anything else is ignored.
fn parse_max_age(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Huge values saturate.
    Some(
        s.parse::<i64>()
            .unwrap_or(if s.starts_with('-') {
                i64::MIN / 2
            } else {
                i64::MAX / 2
            })
            .max(-1),
    )
}

/// Secure, SameSite=None and prefix rules.
fn check_rules(url: &Url, c: &Stored, had_domain: bool) -> Result<(), CookieError> {
    let secure_source = is_secure_url(url);
    if c.secure && !secure_source {
        return Err(CookieError::SecureFromInsecureUrl);
    }
    if c.same_site == SameSite::NoRestriction && !c.secure {
        return Err(CookieError::SameSiteNoneWithoutSecure);
    }
    let lower = c.name.to_ascii_lowercase();
    if lower.starts_with("__secure-") && !(c.secure && secure_source) {
        return Err(CookieError::InvalidPrefix {
            reason: "__Secure- cookies must be Secure, from a secure URL",
        });
    }
    if lower.starts_with("__host-") {
        if !(c.secure && secure_source) {
            return Err(CookieError::InvalidPrefix {
                reason: "__Host- cookies must be Secure, from a secure URL",
            });
        }
        if had_domain && !c.host_only() {
            return Err(CookieError::InvalidPrefix {
                reason: "__Host- cookies must not have a Domain",
            });
        }
        if c.path != "/" {
            return Err(CookieError::InvalidPrefix {
                reason: "__Host- cookies must have Path=/",
            });
        }
    }
    Ok(())
}

fn same_site_allows(mode: SameSite, site: SiteContext) -> bool {
    match site {
        SiteContext::SameSite => true,
        SiteContext::CrossSiteTopLevel { safe_method } => match mode {
            SameSite::Strict => false,
            SameSite::Lax | SameSite::Unspecified => safe_method,
            SameSite::NoRestriction => true,
        },
        SiteContext::CrossSite => mode == SameSite::NoRestriction,
    }
}

/// Electron's domain filter: the cookie's domain is the filter's or under it.
fn domain_filter_matches(filter: &str, cookie_domain: &str) -> bool {
    let filter = format!(".{}", filter.trim_start_matches('.').to_ascii_lowercase());
    let mut candidate = format!(
        ".{}",
        cookie_domain.trim_start_matches('.').to_ascii_lowercase()
    );
    loop {
        if candidate == filter {
            return true;
        }
        match candidate[1..].find('.') {
            Some(i) if candidate.len() - (i + 1) >= filter.len() => {
                candidate = candidate[i + 1..].to_owned()
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(path_matches("/", "/anything"));
        assert!(path_matches("/app", "/app"));
        assert!(path_matches("/app", "/app/x"));
        assert!(!path_matches("/app", "/apple"));
        assert!(path_matches("/app/", "/app/x"));
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(default_path(&u("http://a/b/c/d")), "/b/c");
        assert_eq!(default_path(&u("http://a/b")), "/");
        assert_eq!(default_path(&u("http://a/")), "/");
    }

    #[test]
    fn domain_filter() {
        assert!(domain_filter_matches("github.com", "github.com"));
        assert!(domain_filter_matches("github.com", ".github.com"));
        assert!(domain_filter_matches("github.com", "www.github.com"));
        assert!(domain_filter_matches("github.com", ".a.b.github.com"));
        assert!(!domain_filter_matches("www.github.com", "github.com"));
        assert!(!domain_filter_matches("hub.com", "github.com"));
    }

    #[test]
    fn max_age() {
        assert_eq!(parse_max_age("10"), Some(10));
        assert_eq!(parse_max_age("-5"), Some(-1));
        assert_eq!(parse_max_age("abc"), None);
        assert_eq!(parse_max_age("99999999999999999999999"), Some(i64::MAX / 2));
    }
}
