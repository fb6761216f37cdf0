//! The bad-proxy list with its timers: Chromium's proxy retry info.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::server::{BadProxies, BadProxy, ProxyServer};

/// How long a proxy that failed stays marked bad in Chromium.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy)]
struct Entry {
    until: Instant,
    try_while_bad: bool,
}

/// The proxies that failed recently, each until its time is up. A
/// [`BadProxies`] for [`ProxyResolver::resolve_url`](crate::ProxyResolver::resolve_url):
/// while marked, a proxy moves behind the good ones of a list (or out of it).
/// Thread-safe; a session keeps one and empties it on
/// `force_reload_proxy_config`.
///
/// ```
/// use std::time::Duration;
/// use sesh_proxy_rules::{BadProxies, ProxyRetryList, ProxyServer, ProxyScheme};
///
/// let retry = ProxyRetryList::new();
/// let foopy = ProxyServer::parse_uri("foopy:80", ProxyScheme::Http, false).unwrap();
/// retry.mark_bad(&foopy, Duration::from_secs(300), true);
/// assert!(retry.status(&foopy).is_some());
/// retry.clear();
/// assert!(retry.status(&foopy).is_none());
/// ```
#[derive(Debug, Default)]
pub struct ProxyRetryList {
    entries: Mutex<HashMap<ProxyServer, Entry>>,
}

impl ProxyRetryList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ProxyServer, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks `server` bad for `delay` from now ([`DEFAULT_RETRY_DELAY`] is
    /// Chromium's); `try_while_bad` keeps it at the end of lists instead of
    /// dropping it. A later expiry already recorded is kept.
    pub fn mark_bad(&self, server: &ProxyServer, delay: Duration, try_while_bad: bool) {
        let until = Instant::now() + delay;
        let mut entries = self.lock();
        let entry = entries.entry(server.clone()).or_insert(Entry {
            until,
            try_while_bad,
        });
        if until >= entry.until {
            *entry = Entry {
                until,
                try_while_bad,
            };
        }
    }

    /// Forgets every mark.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Whether no proxy is marked now.
    pub fn is_empty(&self) -> bool {
        let now = Instant::now();
        let mut entries = self.lock();
        entries.retain(|_, e| e.until > now);
        entries.is_empty()
    }
}

impl BadProxies for ProxyRetryList {
    fn status(&self, server: &ProxyServer) -> Option<BadProxy> {
        let now = Instant::now();
        let mut entries = self.lock();
        match entries.get(server) {
            Some(e) if e.until > now => Some(BadProxy {
                try_while_bad: e.try_while_bad,
            }),
            Some(_) => {
                entries.remove(server);
                None
            }
            None => None,
        }
    }
}
