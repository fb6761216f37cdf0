//! Per-origin storage areas (localStorage, sessionStorage and the other
//! kinds embedders keep), with Chromium's localStorage quota.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use url::Url;

use crate::{Backend, Batch, MemoryBackend, Result};

/// The storage kinds of Electron's `clearStorageData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StorageKind {
    /// `cookies`: the cookie jar (not an area here).
    Cookies,
    /// `filesystem`.
    FileSystem,
    /// `indexdb`.
    IndexedDb,
    /// `localstorage`.
    LocalStorage,
    /// `shadercache`.
    ShaderCache,
    /// `websql`.
    WebSql,
    /// `serviceworkers`.
    ServiceWorkers,
    /// `cachestorage`.
    CacheStorage,
    /// `appcache` (older Electron).
    AppCache,
}

impl StorageKind {
    /// Every kind, in Electron's documentation order.
    pub const ALL: [StorageKind; 9] = [
        StorageKind::Cookies,
        StorageKind::FileSystem,
        StorageKind::IndexedDb,
        StorageKind::LocalStorage,
        StorageKind::ShaderCache,
        StorageKind::WebSql,
        StorageKind::ServiceWorkers,
        StorageKind::CacheStorage,
        StorageKind::AppCache,
    ];

    /// Electron's name.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageKind::Cookies => "cookies",
            StorageKind::FileSystem => "filesystem",
            StorageKind::IndexedDb => "indexdb",
            StorageKind::LocalStorage => "localstorage",
            StorageKind::ShaderCache => "shadercache",
            StorageKind::WebSql => "websql",
            StorageKind::ServiceWorkers => "serviceworkers",
            StorageKind::CacheStorage => "cachestorage",
            StorageKind::AppCache => "appcache",
        }
    }

    /// Whether the quota filter (`temporary`, `syncable`) applies to it: the
    /// quota-managed kinds. Cookies and localStorage are always cleared.
    pub fn quota_managed(self) -> bool {
        !matches!(
            self,
            StorageKind::Cookies | StorageKind::LocalStorage | StorageKind::ShaderCache
        )
    }

    fn tree(self) -> String {
        format!("origin:{}", self.as_str())
    }
}

impl fmt::Display for StorageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StorageKind {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self> {
        StorageKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| crate::Error::Operation {
                op: "clearStorageData",
                path: None,
                reason: format!(
                    "unknown storage {s:?}: expected one of {}",
                    StorageKind::ALL.map(|k| k.as_str()).join(", ")
                ),
            })
    }
}

/// The quota types of Electron's `clearStorageData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quota {
    /// `temporary`: best-effort storage, where sesh keeps everything.
    Temporary,
    /// `syncable` (and the older `persistent`): nothing is kept there.
    Syncable,
}

impl FromStr for Quota {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "temporary" => Ok(Quota::Temporary),
            "syncable" | "persistent" => Ok(Quota::Syncable),
            other => Err(crate::Error::Operation {
                op: "clearStorageData",
                path: None,
                reason: format!("unknown quota {other:?}: expected temporary or syncable"),
            }),
        }
    }
}

/// The most a localStorage area may hold: 10 MiB, counted as Chromium does
/// (keys and values in UTF-16, two bytes a unit).
pub const LOCAL_STORAGE_QUOTA: usize = 10 * 1024 * 1024;

fn utf16_bytes(s: &str) -> usize {
    s.encode_utf16().count() * 2
}

/// The bytes each origin's quota-counted area uses: worked out from the
/// store on the area's first write, then kept by every write, so that a
/// write costs the same however full the area is (rather than a scan of
/// the whole area, up to 10 MiB, each time). Its lock makes a write's
/// quota check and the write one step.
#[derive(Debug, Default)]
struct Usage(Mutex<HashMap<String, usize>>);

impl Usage {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The canonical origin of a URL (`https://example.com:8443`).
///
/// # Errors
///
/// An error naming the URL when it does not parse or has an opaque origin.
pub fn origin_of(url: &str) -> Result<String> {
    let bad = |reason: String| crate::Error::Operation {
        op: "origin",
        path: None,
        reason,
    };
    let parsed = Url::parse(url).map_err(|e| bad(format!("invalid origin URL {url:?}: {e}")))?;
    let origin = parsed.origin();
    if !origin.is_tuple() {
        return Err(bad(format!("{url:?} has no origin (an opaque origin)")));
    }
    Ok(origin.ascii_serialization())
}

/// The per-origin areas of a session: on its backend for the persistent
/// kinds, in memory for sessionStorage.
#[derive(Debug)]
pub struct OriginStorage {
    backend: Arc<dyn Backend>,
    session: Arc<MemoryBackend>,
    /// What localStorage and sessionStorage areas use, per origin.
    local_usage: Arc<Usage>,
    session_usage: Arc<Usage>,
}

impl OriginStorage {
    /// Areas on `backend` (sessionStorage always in memory).
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        OriginStorage {
            backend,
            session: Arc::new(MemoryBackend::new()),
            local_usage: Arc::default(),
            session_usage: Arc::default(),
        }
    }

    /// `localStorage` of `origin`: persistent (in a persistent session),
    /// 10 MiB quota.
    ///
    /// # Errors
    ///
    /// When `origin` is not a URL with an origin.
    pub fn local_storage(&self, origin: &str) -> Result<StorageArea> {
        self.area(
            origin,
            StorageKind::LocalStorage,
            self.backend.clone(),
            Some((LOCAL_STORAGE_QUOTA, self.local_usage.clone())),
        )
    }

    /// `sessionStorage` of `origin`: memory only, 10 MiB quota.
    ///
    /// # Errors
    ///
    /// When `origin` is not a URL with an origin.
    pub fn session_storage(&self, origin: &str) -> Result<StorageArea> {
        let backend: Arc<dyn Backend> = self.session.clone();
        self.area(
            origin,
            StorageKind::LocalStorage,
            backend,
            Some((LOCAL_STORAGE_QUOTA, self.session_usage.clone())),
        )
    }

    /// An embedder's area of another kind (`indexdb`, `filesystem`…) for
    /// `origin`, without a quota.
    ///
    /// # Errors
    ///
    /// When `origin` is not a URL with an origin.
    pub fn area_of(&self, origin: &str, kind: StorageKind) -> Result<StorageArea> {
        self.area(origin, kind, self.backend.clone(), None)
    }

    fn area(
        &self,
        origin: &str,
        kind: StorageKind,
        backend: Arc<dyn Backend>,
        quota: Option<(usize, Arc<Usage>)>,
    ) -> Result<StorageArea> {
        Ok(StorageArea {
            origin: origin_of(origin)?,
            tree: kind.tree(),
            backend,
            quota,
        })
    }

    /// Removes the data of `kind` for `origin` (all origins with `None`),
    /// sessionStorage included for `localstorage`. Returns the entries removed.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub fn clear(&self, origin: Option<&str>, kind: StorageKind) -> Result<usize> {
        let mut n = 0;
        let backends: Vec<(Arc<dyn Backend>, Option<&Usage>)> = if kind == StorageKind::LocalStorage
        {
            vec![
                (self.backend.clone(), Some(&self.local_usage)),
                (self.session.clone(), Some(&self.session_usage)),
            ]
        } else {
            vec![(self.backend.clone(), None)]
        };
        for (backend, usage) in backends {
            // Held while the entries go, so that no write meanwhile counts
            // them; what is known of the cleared areas is forgotten (the
            // next write works it out again, also after a failure here).
            let mut usage = usage.map(Usage::lock);
            if let Some(usage) = usage.as_mut() {
                match origin {
                    None => usage.clear(),
                    Some(o) => {
                        usage.remove(o);
                    }
                }
            }
            n += match origin {
                None => {
                    let n = backend.len(&kind.tree())?;
                    backend.clear(&kind.tree())?;
                    n
                }
                Some(o) => {
                    let prefix = format!("{o}\0").into_bytes();
                    let mut batch = Batch::default();
                    for (k, _) in backend.scan_prefix(&kind.tree(), &prefix)? {
                        batch.remove(k);
                    }
                    let n = batch.len();
                    backend.apply(&kind.tree(), batch)?;
                    n
                }
            };
        }
        Ok(n)
    }

    /// The origins that have data of `kind` (for `localstorage`, in
    /// sessionStorage too), sorted.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub fn origins(&self, kind: StorageKind) -> Result<Vec<String>> {
        let mut entries = self.backend.scan_prefix(&kind.tree(), b"")?;
        if kind == StorageKind::LocalStorage {
            entries.extend(self.session.scan_prefix(&kind.tree(), b"")?);
        }
        let mut out: Vec<String> = entries
            .into_iter()
            .filter_map(|(k, _)| {
                let k = String::from_utf8(k).ok()?;
                Some(k.split('\0').next()?.to_owned())
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// One origin's area of one kind: string keys and values.
#[derive(Debug, Clone)]
pub struct StorageArea {
    origin: String,
    tree: String,
    backend: Arc<dyn Backend>,
    /// The quota and what the kind's areas use, for quota-counted kinds.
    quota: Option<(usize, Arc<Usage>)>,
}

impl StorageArea {
    fn key(&self, key: &str) -> Vec<u8> {
        format!("{}\0{key}", self.origin).into_bytes()
    }

    /// The origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `getItem(key)`.
    ///
    /// # Errors
    ///
    /// When the store fails or holds something that is not text.
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        match self.backend.get(&self.tree, &self.key(key))? {
            None => Ok(None),
            Some(v) => String::from_utf8(v)
                .map(Some)
                .map_err(|_| crate::Error::Corrupt {
                    path: self.backend.path().map(Into::into).unwrap_or_default(),
                    detail: format!("a {} value of {} is not text", self.tree, self.origin),
                }),
        }
    }

    /// Every key and value, sorted by key.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub fn entries(&self) -> Result<BTreeMap<String, String>> {
        let prefix = format!("{}\0", self.origin);
        Ok(self
            .backend
            .scan_prefix(&self.tree, prefix.as_bytes())?
            .into_iter()
            .filter_map(|(k, v)| {
                let k = String::from_utf8(k).ok()?;
                Some((k[prefix.len()..].to_owned(), String::from_utf8(v).ok()?))
            })
            .collect())
    }

    /// The bytes the area uses, as its quota counts them (keys and values
    /// in UTF-16).
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub fn used_bytes(&self) -> Result<usize> {
        match &self.quota {
            Some((_, usage)) => {
                let mut usage = usage.lock();
                self.known_use(&mut usage)
            }
            None => self.scan_use(),
        }
    }

    /// What the area uses, from the store.
    fn scan_use(&self) -> Result<usize> {
        let prefix = format!("{}\0", self.origin);
        Ok(self
            .backend
            .scan_prefix(&self.tree, prefix.as_bytes())?
            .iter()
            .filter_map(|(k, v)| {
                let key = std::str::from_utf8(k.get(prefix.len()..)?).ok()?;
                Some(utf16_bytes(key) + utf16_bytes(std::str::from_utf8(v).ok()?))
            })
            .sum())
    }

    /// What the area uses, from `usage` or else from the store (and then
    /// kept in `usage`).
    fn known_use(&self, usage: &mut HashMap<String, usize>) -> Result<usize> {
        if let Some(used) = usage.get(&self.origin) {
            return Ok(*used);
        }
        let used = self.scan_use()?;
        usage.insert(self.origin.clone(), used);
        Ok(used)
    }

    /// `setItem(key, value)`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::QuotaExceeded`] when the area would pass its quota
    /// (nothing is written then), or a store error.
    pub fn set(&self, key: &str, value: &str) -> Result<()> {
        let Some((quota, usage)) = &self.quota else {
            self.backend
                .insert(&self.tree, &self.key(key), value.as_bytes())?;
            return Ok(());
        };
        let mut usage = usage.lock();
        let before = self.known_use(&mut usage)?;
        let old = self
            .get(key)?
            .map_or(0, |v| utf16_bytes(key) + utf16_bytes(&v));
        let used = before.saturating_sub(old) + utf16_bytes(key) + utf16_bytes(value);
        if used > *quota {
            return Err(crate::Error::QuotaExceeded {
                origin: self.origin.clone(),
                used,
                quota: *quota,
            });
        }
        match self
            .backend
            .insert(&self.tree, &self.key(key), value.as_bytes())
        {
            Ok(_) => {
                usage.insert(self.origin.clone(), used);
                Ok(())
            }
            Err(e) => {
                // Whether it was written is not known: worked out again
                // on the next write.
                usage.remove(&self.origin);
                Err(e)
            }
        }
    }

    /// `removeItem(key)`; whether it was there.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub fn remove(&self, key: &str) -> Result<bool> {
        let Some((_, usage)) = &self.quota else {
            return Ok(self.backend.remove(&self.tree, &self.key(key))?.is_some());
        };
        let mut usage = usage.lock();
        match self.backend.remove(&self.tree, &self.key(key)) {
            Ok(Some(old)) => {
                if let Some(used) = usage.get_mut(&self.origin) {
                    let freed =
                        std::str::from_utf8(&old).map_or(0, |v| utf16_bytes(key) + utf16_bytes(v));
                    *used = used.saturating_sub(freed);
                }
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => {
                usage.remove(&self.origin);
                Err(e)
            }
        }
    }
}
