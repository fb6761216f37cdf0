//! The HTTP cache: RFC 9111 freshness and validation (through the
//! `http-cache-semantics` crate, as a private browser cache), bodies in files
//! under the partition's `Cache/` directory (in memory for in-memory
//! partitions), a size cap with least-recently-used eviction, and
//! Chromium's split cache keyed by top-frame site.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use http_cache_semantics::{AfterResponse, BeforeRequest, CacheOptions, CachePolicy};
use serde::{Deserialize, Serialize};

use crate::{Backend, Error, Result};

const TREE: &str = "http-cache";

/// What identifies a cached response: the URL and, with the split cache, the
/// site of the top-level page that asked (`None` for top-level navigations
/// and requests without a page).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The request URL.
    pub url: String,
    /// The top-frame site (`https://example.com`), when the request has one.
    pub top_frame_site: Option<String>,
}

impl CacheKey {
    /// A key for `url` without a top-frame site.
    pub fn new(url: impl Into<String>) -> Self {
        CacheKey {
            url: url.into(),
            top_frame_site: None,
        }
    }

    fn encode(&self) -> String {
        format!(
            "{}\u{1f}{}",
            self.top_frame_site.as_deref().unwrap_or("_"),
            self.url
        )
    }
}

/// Options of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpCacheOptions {
    /// Whether the cache stores anything (`fromPartition(p, { cache })`).
    pub enabled: bool,
    /// The most bytes the cache keeps (bodies and headers); least recently
    /// used entries go first. Default 256 MiB.
    pub max_bytes: u64,
}

impl Default for HttpCacheOptions {
    fn default() -> Self {
        HttpCacheOptions {
            enabled: true,
            max_bytes: 256 << 20,
        }
    }
}

/// The answer of [`HttpCache::lookup`].
#[derive(Debug)]
pub enum CacheLookup {
    /// Usable as it is: these headers (with `Age`) and this body.
    Fresh {
        /// The response to hand out.
        response: http::response::Parts,
        /// Its body.
        body: Vec<u8>,
    },
    /// Stored but stale: send this request (with `If-None-Match` /
    /// `If-Modified-Since` when the response allows) and give the answer to
    /// [`HttpCache::revalidated`].
    Stale {
        /// The request to send.
        request: http::request::Parts,
    },
    /// Nothing usable is stored (or `Vary` does not match).
    Miss,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    policy: CachePolicy,
    file: String,
    body_len: u64,
    size: u64,
    last_used_us: i64,
}

enum Bodies {
    Dir(PathBuf),
    Memory(Mutex<HashMap<String, Vec<u8>>>),
}

struct State {
    entries: HashMap<String, Entry>,
    used: u64,
}

/// A session's HTTP cache.
pub struct HttpCache {
    backend: Arc<dyn Backend>,
    bodies: Bodies,
    options: HttpCacheOptions,
    state: Mutex<State>,
    next_file: AtomicU64,
}

impl std::fmt::Debug for HttpCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCache")
            .field("options", &self.options)
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

fn now_us(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn header_bytes(parts: &CachePolicy) -> u64 {
    // The serialised policy holds the request and response headers.
    serde_json::to_vec(parts)
        .map(|v| v.len() as u64)
        .unwrap_or(0)
}

impl HttpCache {
    /// The cache: its index in `backend`, bodies in `dir` (memory with
    /// `None`). Entries whose body file is gone are dropped, and files no
    /// entry names are removed.
    ///
    /// # Errors
    ///
    /// When the directory or the index cannot be read.
    pub fn open(
        backend: Arc<dyn Backend>,
        dir: Option<PathBuf>,
        options: HttpCacheOptions,
    ) -> Result<Self> {
        let mut entries = HashMap::new();
        let mut used = 0;
        let mut stale = crate::Batch::default();
        for (k, v) in backend.scan_prefix(TREE, b"")? {
            let (Ok(key), Ok(entry)) = (
                String::from_utf8(k.clone()),
                serde_json::from_slice::<Entry>(&v),
            ) else {
                stale.remove(k);
                continue;
            };
            if let Some(dir) = &dir
                && !dir.join(&entry.file).is_file()
            {
                stale.remove(k);
                continue;
            }
            used += entry.size;
            entries.insert(key, entry);
        }
        if !stale.is_empty() {
            backend.apply(TREE, stale)?;
        }
        let bodies = match dir {
            Some(dir) => {
                fs::create_dir_all(&dir).map_err(|source| Error::Io {
                    action: "cannot create the cache directory",
                    path: dir.clone(),
                    source,
                })?;
                let named: std::collections::HashSet<&str> =
                    entries.values().map(|e| e.file.as_str()).collect();
                if let Ok(listing) = fs::read_dir(&dir) {
                    for f in listing.flatten() {
                        let name = f.file_name();
                        if !named.contains(name.to_string_lossy().as_ref()) {
                            let _ = fs::remove_file(f.path());
                        }
                    }
                }
                Bodies::Dir(dir)
            }
            None => Bodies::Memory(Mutex::new(HashMap::new())),
        };
        Ok(HttpCache {
            backend,
            bodies,
            options,
            state: Mutex::new(State { entries, used }),
            next_file: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_body(&self, file: &str, body: &[u8]) -> Result<()> {
        match &self.bodies {
            Bodies::Dir(dir) => {
                let path = dir.join(file);
                let tmp = dir.join(format!("{file}.tmp"));
                let io = |source| Error::Io {
                    action: "cannot write the cache entry",
                    path: path.clone(),
                    source,
                };
                let mut f = fs::File::create(&tmp).map_err(io)?;
                f.write_all(body).map_err(io)?;
                drop(f);
                fs::rename(&tmp, &path).map_err(io)
            }
            Bodies::Memory(m) => {
                m.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(file.to_owned(), body.to_vec());
                Ok(())
            }
        }
    }

    fn read_body(&self, file: &str) -> Option<Vec<u8>> {
        match &self.bodies {
            Bodies::Dir(dir) => fs::read(dir.join(file)).ok(),
            Bodies::Memory(m) => m
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(file)
                .cloned(),
        }
    }

    fn delete_body(&self, file: &str) {
        match &self.bodies {
            Bodies::Dir(dir) => {
                let _ = fs::remove_file(dir.join(file));
            }
            Bodies::Memory(m) => {
                m.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(file);
            }
        }
    }

    fn policy(req: &http::Request<()>, res: &http::Response<()>, now: SystemTime) -> CachePolicy {
        CachePolicy::new_options(
            req,
            res,
            now,
            CacheOptions {
                shared: false,
                ..CacheOptions::default()
            },
        )
    }

    /// Stores a response to a GET when HTTP allows (a browser's private
    /// cache: `no-store` is not stored, `private` is) and it could be used
    /// again (fresh for a while, or with an `ETag` or `Last-Modified` to
    /// revalidate it by). Returns whether it was stored.
    ///
    /// # Errors
    ///
    /// When the body or the index cannot be written.
    pub fn store(
        &self,
        key: &CacheKey,
        req: &http::Request<()>,
        res: &http::Response<()>,
        body: &[u8],
    ) -> Result<bool> {
        self.store_at(key, req, res, body, SystemTime::now())
    }

    /// Whether a response with these headers could be worth storing, known
    /// before its body is read or any policy worked out: the cache is on,
    /// and the answer has Cache-Control, Expires or a validator. One
    /// without them would be stale from the start with nothing to
    /// revalidate it by (freshness could only be guessed from
    /// Last-Modified, a validator), so could never be used: writing it
    /// would only cost.
    pub fn may_store(&self, headers: &http::HeaderMap) -> bool {
        self.options.enabled
            && (headers.contains_key(http::header::ETAG)
                || headers.contains_key(http::header::LAST_MODIFIED)
                || headers.contains_key(http::header::CACHE_CONTROL)
                || headers.contains_key(http::header::EXPIRES))
    }

    /// [`HttpCache::store`] at a given time.
    ///
    /// # Errors
    ///
    /// As [`HttpCache::store`].
    pub fn store_at(
        &self,
        key: &CacheKey,
        req: &http::Request<()>,
        res: &http::Response<()>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<bool> {
        // Like Chromium, only GET responses are reused.
        if !self.options.enabled || req.method() != http::Method::GET {
            return Ok(false);
        }
        if !self.may_store(res.headers()) {
            return Ok(false);
        }
        let headers = res.headers();
        let validators = headers.contains_key(http::header::ETAG)
            || headers.contains_key(http::header::LAST_MODIFIED);
        let policy = Self::policy(req, res, now);
        if !policy.is_storable() {
            return Ok(false);
        }
        if !validators && policy.time_to_live(now).is_zero() {
            return Ok(false);
        }
        let size = body.len() as u64 + header_bytes(&policy);
        if size > self.options.max_bytes {
            return Ok(false);
        }
        self.put(key.encode(), policy, body, size, now)
    }

    fn put(
        &self,
        key: String,
        policy: CachePolicy,
        body: &[u8],
        size: u64,
        now: SystemTime,
    ) -> Result<bool> {
        let file = format!(
            "{:x}-{:x}",
            now_us(SystemTime::now()),
            self.next_file.fetch_add(1, Ordering::Relaxed)
        );
        self.write_body(&file, body)?;
        let entry = Entry {
            policy,
            file,
            body_len: body.len() as u64,
            size,
            last_used_us: now_us(now),
        };
        let bytes = serde_json::to_vec(&entry).map_err(|e| Error::Operation {
            op: "http cache store",
            path: None,
            reason: e.to_string(),
        })?;
        let mut state = self.lock();
        if let Some(old) = state.entries.remove(&key) {
            state.used -= old.size;
            self.delete_body(&old.file);
        }
        self.backend.insert(TREE, key.as_bytes(), &bytes)?;
        state.used += entry.size;
        state.entries.insert(key, entry);
        self.evict(&mut state)?;
        Ok(true)
    }

    fn evict(&self, state: &mut State) -> Result<()> {
        if state.used <= self.options.max_bytes {
            return Ok(());
        }
        let mut order: Vec<(i64, String)> = state
            .entries
            .iter()
            .map(|(k, e)| (e.last_used_us, k.clone()))
            .collect();
        order.sort();
        let mut batch = crate::Batch::default();
        for (_, k) in order {
            if state.used <= self.options.max_bytes {
                break;
            }
            if let Some(e) = state.entries.remove(&k) {
                state.used -= e.size;
                self.delete_body(&e.file);
                batch.remove(k.into_bytes());
            }
        }
        self.backend.apply(TREE, batch)
    }

    /// What the cache has for `req` under `key`.
    ///
    /// # Errors
    ///
    /// When the index cannot be updated.
    pub fn lookup(&self, key: &CacheKey, req: &http::Request<()>) -> Result<CacheLookup> {
        self.lookup_at(key, req, SystemTime::now())
    }

    /// [`HttpCache::lookup`] at a given time.
    ///
    /// # Errors
    ///
    /// As [`HttpCache::lookup`].
    pub fn lookup_at(
        &self,
        key: &CacheKey,
        req: &http::Request<()>,
        now: SystemTime,
    ) -> Result<CacheLookup> {
        if req.method() != http::Method::GET {
            return Ok(CacheLookup::Miss);
        }
        let k = key.encode();
        let mut state = self.lock();
        let Some(entry) = state.entries.get_mut(&k) else {
            return Ok(CacheLookup::Miss);
        };
        match entry.policy.before_request(req, now) {
            BeforeRequest::Fresh(response) => {
                let Some(body) = self.read_body(&entry.file) else {
                    let gone = state.entries.remove(&k);
                    if let Some(e) = gone {
                        state.used -= e.size;
                    }
                    self.backend.remove(TREE, k.as_bytes())?;
                    return Ok(CacheLookup::Miss);
                };
                entry.last_used_us = now_us(now);
                Ok(CacheLookup::Fresh { response, body })
            }
            BeforeRequest::Stale { request, matches } => {
                if matches {
                    Ok(CacheLookup::Stale { request })
                } else {
                    Ok(CacheLookup::Miss)
                }
            }
        }
    }

    /// The server's answer to a revalidation request: on `304 Not Modified`
    /// the stored body with the updated headers (and the entry refreshed);
    /// otherwise `None` (store the new response with [`HttpCache::store`]).
    ///
    /// # Errors
    ///
    /// When the index cannot be updated.
    pub fn revalidated(
        &self,
        key: &CacheKey,
        req: &http::Request<()>,
        res: &http::Response<()>,
    ) -> Result<Option<(http::response::Parts, Vec<u8>)>> {
        self.revalidated_at(key, req, res, SystemTime::now())
    }

    /// [`HttpCache::revalidated`] at a given time.
    ///
    /// # Errors
    ///
    /// As [`HttpCache::revalidated`].
    pub fn revalidated_at(
        &self,
        key: &CacheKey,
        req: &http::Request<()>,
        res: &http::Response<()>,
        now: SystemTime,
    ) -> Result<Option<(http::response::Parts, Vec<u8>)>> {
        let k = key.encode();
        let mut state = self.lock();
        let Some(entry) = state.entries.get(&k).cloned() else {
            return Ok(None);
        };
        match entry.policy.after_response(req, res, now) {
            AfterResponse::NotModified(policy, parts) => {
                let Some(body) = self.read_body(&entry.file) else {
                    return Ok(None);
                };
                let updated = Entry {
                    policy,
                    last_used_us: now_us(now),
                    ..entry
                };
                let bytes = serde_json::to_vec(&updated).map_err(|e| Error::Operation {
                    op: "http cache revalidate",
                    path: None,
                    reason: e.to_string(),
                })?;
                self.backend.insert(TREE, k.as_bytes(), &bytes)?;
                state.entries.insert(k, updated);
                Ok(Some((parts, body)))
            }
            AfterResponse::Modified(..) => Ok(None),
        }
    }

    /// `ses.getCacheSize()`: the bytes the cache uses (bodies and headers).
    pub fn size(&self) -> u64 {
        self.lock().used
    }

    /// Number of cached responses.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `ses.clearCache()`: forgets everything.
    ///
    /// # Errors
    ///
    /// When the index cannot be cleared.
    pub fn clear(&self) -> Result<()> {
        let mut state = self.lock();
        for e in state.entries.values() {
            self.delete_body(&e.file);
        }
        state.entries.clear();
        state.used = 0;
        self.backend.clear(TREE)
    }

    /// Forgets the entries whose key `doomed` names (what `clearData` does
    /// for an origin filter); returns how many.
    ///
    /// # Errors
    ///
    /// When the index cannot be updated.
    pub fn remove_where(&self, doomed: impl Fn(&CacheKey) -> bool) -> Result<usize> {
        let mut state = self.lock();
        let keys: Vec<String> = state
            .entries
            .keys()
            .filter(|k| {
                let (top, url) = k.split_once('\u{1f}').unwrap_or(("_", k));
                doomed(&CacheKey {
                    url: url.to_owned(),
                    top_frame_site: (top != "_").then(|| top.to_owned()),
                })
            })
            .cloned()
            .collect();
        let mut batch = crate::Batch::default();
        for k in &keys {
            if let Some(e) = state.entries.remove(k) {
                state.used -= e.size;
                self.delete_body(&e.file);
                batch.remove(k.clone().into_bytes());
            }
        }
        self.backend.apply(TREE, batch)?;
        Ok(keys.len())
    }

    /// Makes the index durable (bodies are written before their entries).
    ///
    /// # Errors
    ///
    /// When the store cannot be flushed.
    pub fn flush(&self) -> Result<()> {
        self.backend.flush()
    }
}
