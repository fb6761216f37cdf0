//! The `Session` handle and its settings.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use sesh_cert_verify::{CertVerifier, SslConfig, VerifyRequest};
use sesh_downloads::{DownloadEvent, DownloadItem, DownloadState, SaveTo, WillDownload};
use sesh_proxy_rules::{ProxyConfig, ProxyMode, ProxyResolver, ProxyRetryList, Resolution, Url};
use sesh_storage::cookies::{CookieChange, CookieJar};
use sesh_storage::http_cache::{HttpCache, HttpCacheOptions};
use sesh_storage::origin::{OriginStorage, Quota, StorageArea, StorageKind};
use sesh_storage::{Backend, MemoryBackend, SledBackend};
use tokio::sync::broadcast;

use crate::events::SessionEvent;
use crate::partition::Partition;
use crate::user_agent::{
    accept_language_header, check_user_agent, default_accept_languages, default_user_agent,
    normalize_accept_languages,
};
use crate::{Error, Result};

/// Name of the lock file in a persistent session's directory.
pub const LOCK_FILE: &str = "LOCK";
/// Name of the database directory in a persistent session's directory.
pub const DATABASE_DIR: &str = "sesh.db";
/// Name of the HTTP cache's directory in a persistent session's directory,
/// as Electron's.
pub const CACHE_DIR: &str = "Cache";
/// Name of the default code cache directory in a persistent session's
/// directory, as Electron's.
pub const CODE_CACHE_DIR: &str = "Code Cache";

/// A session's `will-download` handler.
pub type WillDownloadFn = Arc<dyn Fn(&DownloadItem) -> WillDownload + Send + Sync>;

const PREFS_TREE: &str = "prefs";
/// Interrupted downloads, keyed by their path, as Electron's
/// `createInterruptedDownload` options in JSON.
const DOWNLOADS_TREE: &str = "downloads";
const PREF_DOWNLOAD_DIR: &[u8] = b"download.default_directory";
/// How many events a slow subscriber may fall behind before it misses some.
const EVENT_CAPACITY: usize = 256;

/// Options of [`crate::Sessions::from_partition`], used only when the session
/// is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionOptions {
    /// Whether the session has an HTTP cache. Default `true`.
    pub cache: bool,
}

impl Default for PartitionOptions {
    fn default() -> Self {
        PartitionOptions { cache: true }
    }
}

/// A browser session: what Electron's `Session` is.
///
/// A cheap handle (`Clone`); two handles to the same session compare equal.
/// Get one from [`crate::Sessions::from_partition`] or
/// [`crate::from_partition`]. Settings here apply to everything the session
/// does from then on.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    partition: String,
    kind: Partition,
    storage_path: Option<PathBuf>,
    options: PartitionOptions,
    backend: Arc<dyn Backend>,
    /// Held for the session's lifetime: another process opening the same
    /// partition fails instead of sharing the database.
    _lock: Option<File>,
    settings: RwLock<Settings>,
    events: broadcast::Sender<SessionEvent>,
    verifier: CertVerifier,
    cookies: CookieJar,
    origins: OriginStorage,
    participants: RwLock<Vec<Arc<dyn StorageParticipant>>>,
    http_cache: HttpCache,
    proxy: Arc<ProxyResolver>,
    proxy_retry: Arc<ProxyRetryList>,
    will_download: RwLock<Option<WillDownloadFn>>,
    connections: crate::net::Connections,
    emulation: RwLock<crate::net::NetworkEmulation>,
    login: RwLock<Option<crate::net::LoginFn>>,
    auth_cache: crate::net::AuthCache,
    ntlm_allowlist: RwLock<sesh_proxy_rules::BypassRules>,
    /// Save paths of the downloads running in this process: recorded for a
    /// crash, not listed as interrupted.
    active_downloads: std::sync::Mutex<std::collections::HashSet<PathBuf>>,
    dns: crate::dns::HostResolver,
    /// The system settings name a PAC script the session could not fetch
    /// while it was being made (its network service did not exist yet):
    /// the first resolution loads it.
    pac_deferred: std::sync::atomic::AtomicBool,
    net_log: crate::netlog::NetLog,
    web_request: crate::web_request::WebRequest,
}

/// The argument of `ses.clearStorageData(options)`; its JSON is Electron's.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClearStorageDataOptions {
    /// Only this origin (`scheme://host:port`); all origins when absent.
    pub origin: Option<String>,
    /// Which kinds (`cookies`, `filesystem`, `indexdb`, `localstorage`,
    /// `shadercache`, `websql`, `serviceworkers`, `cachestorage`); all when
    /// absent.
    pub storages: Option<Vec<String>>,
    /// Which quota types (`temporary`, `syncable`); all when absent.
    pub quotas: Option<Vec<String>>,
}

/// The argument of `ses.clearData(options)`; its JSON is Electron's.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClearDataOptions {
    /// Which data (`backgroundFetch`, `cache`, `cookies`, `downloads`,
    /// `fileSystems`, `indexedDB`, `localStorage`, `serviceWorkers`,
    /// `webSQL`); all when absent.
    pub data_types: Option<Vec<String>>,
    /// Only these origins (not with `exclude_origins`).
    pub origins: Option<Vec<String>>,
    /// Every origin but these (not with `origins`).
    pub exclude_origins: Option<Vec<String>>,
    /// Keep the HTTP authentication cache and the open connections when
    /// clearing cookies (Chromium otherwise clears the one and closes the
    /// other).
    pub avoid_closing_connections: bool,
    /// `third-parties-included` (the default) or `origin-in-all-contexts`.
    /// sesh keeps no storage partitioned by top-level site besides the
    /// HTTP cache, which is cleared by each entry's URL either way, so both
    /// clear the same.
    pub origin_matching_mode: Option<String>,
}

/// What one of `clearData`'s data types clears.
#[derive(Clone, Copy)]
enum ClearDataType {
    /// Nothing: sesh keeps no background fetches.
    BackgroundFetch,
    Cache,
    Cookies,
    Downloads,
    /// The origin areas of a kind.
    Area(StorageKind),
}

/// `clearData`'s data types by Electron's names.
const CLEAR_DATA_TYPES: [(&str, ClearDataType); 9] = [
    ("backgroundFetch", ClearDataType::BackgroundFetch),
    ("cache", ClearDataType::Cache),
    ("cookies", ClearDataType::Cookies),
    ("downloads", ClearDataType::Downloads),
    ("fileSystems", ClearDataType::Area(StorageKind::FileSystem)),
    ("indexedDB", ClearDataType::Area(StorageKind::IndexedDb)),
    (
        "localStorage",
        ClearDataType::Area(StorageKind::LocalStorage),
    ),
    (
        "serviceWorkers",
        ClearDataType::Area(StorageKind::ServiceWorkers),
    ),
    ("webSQL", ClearDataType::Area(StorageKind::WebSql)),
];

/// Which origins `clearData` clears: those listed, or all but those.
struct OriginFilter {
    listed: std::collections::BTreeSet<String>,
    delete_listed: bool,
}

impl OriginFilter {
    fn doomed(&self, origin: &str) -> bool {
        self.listed.contains(origin) == self.delete_listed
    }

    /// Whether it clears everything (no origin excluded).
    fn everything(&self) -> bool {
        !self.delete_listed && self.listed.is_empty()
    }
}

/// An embedder's own data that `clear_storage_data` must clear too (a web
/// view's data directory, say), called with the same filter.
pub trait StorageParticipant: Send + Sync {
    /// Clears what matches: `origin` (`None`: every origin), these kinds,
    /// these quota types. An error is reported by `clear_storage_data`.
    fn clear(
        &self,
        origin: Option<&str>,
        storages: &[StorageKind],
        quotas: &[Quota],
    ) -> std::result::Result<(), String>;
}

/// Where a preload script runs (`PreloadScriptRegistration.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PreloadScriptType {
    /// In every frame of the session's pages (`'frame'`).
    Frame,
    /// In every service worker of the session (`'service-worker'`).
    ServiceWorker,
}

/// Electron's `PreloadScriptRegistration`: what
/// [`Session::register_preload_script`] takes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreloadScriptRegistration {
    /// The context type (`type`).
    #[serde(rename = "type")]
    pub kind: PreloadScriptType,
    /// Its id; `None`: a random UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The script file, an absolute path.
    pub file_path: PathBuf,
}

/// Electron's `PreloadScript`: a registered preload script.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreloadScript {
    /// The context type (`type`).
    #[serde(rename = "type")]
    pub kind: PreloadScriptType,
    /// Its id.
    pub id: String,
    /// The script file.
    pub file_path: PathBuf,
}

struct Settings {
    user_agent: String,
    accept_languages: String,
    /// `User-Agent` and `Accept-Language` as header values, made once
    /// when they change rather than on every request.
    identity: IdentityHeaders,
    preloads: Vec<PreloadScript>,
    download_path: PathBuf,
    code_cache_path: Option<PathBuf>,
}

/// The session's identity as request headers (`None`: not a valid header
/// value, which a request then reports).
#[derive(Debug, Clone)]
pub(crate) struct IdentityHeaders {
    pub user_agent: Option<http::HeaderValue>,
    pub accept_language: Option<http::HeaderValue>,
}

impl IdentityHeaders {
    fn of(user_agent: &str, accept_languages: &str) -> Self {
        IdentityHeaders {
            user_agent: http::HeaderValue::from_str(user_agent).ok(),
            accept_language: http::HeaderValue::from_str(&accept_language_header(accept_languages))
                .ok(),
        }
    }
}

impl Session {
    pub(crate) fn open(
        partition: &str,
        kind: Partition,
        storage_path: Option<PathBuf>,
        options: PartitionOptions,
        app_name: &str,
        app_version: &str,
        cache_max_bytes: u64,
    ) -> Result<Session> {
        let (backend, lock): (Arc<dyn Backend>, _) = match &storage_path {
            Some(dir) => {
                fs::create_dir_all(dir).map_err(|source| Error::Io {
                    action: "cannot create the session directory",
                    path: dir.clone(),
                    source,
                })?;
                let lock = lock_partition(&kind.to_string(), &dir.join(LOCK_FILE))?;
                let db = SledBackend::open(dir.join(DATABASE_DIR))?;
                (Arc::new(db), Some(lock))
            }
            None => (Arc::new(MemoryBackend::new()), None),
        };
        let download_path = match backend.get(PREFS_TREE, PREF_DOWNLOAD_DIR)? {
            Some(bytes) => path_from_bytes(bytes),
            None => default_download_dir(),
        };
        let user_agent = default_user_agent(app_name, app_version);
        let accept_languages = default_accept_languages();
        let settings = Settings {
            identity: IdentityHeaders::of(&user_agent, &accept_languages),
            user_agent,
            accept_languages,
            preloads: Vec::new(),
            download_path,
            code_cache_path: storage_path.as_ref().map(|p| p.join(CODE_CACHE_DIR)),
        };
        let events = broadcast::channel(EVENT_CAPACITY).0;
        let origins = OriginStorage::new(backend.clone());
        let http_cache = HttpCache::open(
            backend.clone(),
            storage_path.as_ref().map(|p| p.join(CACHE_DIR)),
            HttpCacheOptions {
                enabled: options.cache,
                max_bytes: cache_max_bytes,
            },
        )?;
        let cookies = CookieJar::open(backend.clone())?;
        let tx = events.clone();
        cookies.set_change_listener(Some(move |c: &CookieChange| {
            let _ = tx.send(SessionEvent::CookieChanged {
                cookie: c.cookie.clone(),
                cause: c.cause,
                removed: c.removed,
            });
        }));
        tracing::debug!(partition, storage = ?storage_path, "session created");

        let dns = crate::dns::HostResolver::default();
        let net_log = crate::netlog::NetLog::default();
        let session = Session {
            inner: Arc::new_cyclic(|weak| Inner {
                partition: partition.to_owned(),
                kind,
                storage_path,
                options,
                backend,
                _lock: lock,
                settings: RwLock::new(settings),
                events,
                verifier: CertVerifier::new(),
                cookies,
                origins,
                participants: RwLock::new(Vec::new()),
                http_cache,
                proxy: Arc::new(system_proxy(weak.clone(), &dns, &net_log)),
                proxy_retry: Arc::new(ProxyRetryList::new()),
                will_download: RwLock::new(None),
                connections: crate::net::Connections::default(),
                emulation: RwLock::new(crate::net::NetworkEmulation::default()),
                login: RwLock::new(None),
                auth_cache: crate::net::AuthCache::default(),
                ntlm_allowlist: RwLock::new(sesh_proxy_rules::BypassRules::parse("<-loopback>")),
                active_downloads: std::sync::Mutex::new(std::collections::HashSet::new()),
                dns,
                pac_deferred: std::sync::atomic::AtomicBool::new(false),
                net_log,
                web_request: crate::web_request::WebRequest::default(),
            }),
        };
        let weak = Arc::downgrade(&session.inner);
        session.inner.net_log.set_polled(Box::new(move || {
            weak.upgrade()
                .map(|inner| Session { inner }.polled_data())
                .unwrap_or_default()
        }));
        // A PAC script of the system settings (auto_proxy, GNOME's
        // autoconfig URL) over http(s) needs the session's own network
        // service: load it on first use, as Chromium loads it in the
        // background, rather than answer DIRECT for good.
        if session.inner.proxy.pac_error().is_some() {
            session
                .inner
                .pac_deferred
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        housekeeping(&session.inner);
        Ok(session)
    }

    fn settings(&self) -> std::sync::RwLockReadGuard<'_, Settings> {
        self.inner
            .settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn settings_mut(&self) -> std::sync::RwLockWriteGuard<'_, Settings> {
        self.inner
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The partition string this session was created with (`""` for the
    /// default session).
    pub fn partition(&self) -> &str {
        &self.inner.partition
    }

    /// What the partition string means.
    pub fn partition_kind(&self) -> &Partition {
        &self.inner.kind
    }

    /// The options the session was created with.
    pub fn options(&self) -> &PartitionOptions {
        &self.inner.options
    }

    /// `ses.isPersistent()`: whether the session keeps its data on disk (the
    /// default session and `persist:` partitions).
    pub fn is_persistent(&self) -> bool {
        self.inner.storage_path.is_some()
    }

    /// `ses.getStoragePath()` / `ses.storagePath`: the directory where the
    /// session's data lives, `None` for an in-memory session.
    pub fn storage_path(&self) -> Option<&Path> {
        self.inner.storage_path.as_deref()
    }

    /// The session's key-value store: sled on disk for a persistent session,
    /// memory for an in-memory one.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    /// Makes everything the session has stored so far durable on disk
    /// (nothing to do for an in-memory session).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database cannot be flushed.
    pub fn flush_storage(&self) -> Result<()> {
        self.inner.cookies.flush_store()?;
        Ok(self.inner.backend.flush()?)
    }

    /// `ses.setUserAgent(userAgent[, acceptLanguages])`: the user agent, and
    /// optionally the ordered list of languages (`"en-US,fr,de"`), of every
    /// request the session makes from now on.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUserAgent`] for a user agent with control characters
    /// (it could not be sent as a header), [`Error::InvalidAcceptLanguage`]
    /// naming the first entry of `accept_languages` that is not a language
    /// code. Nothing is changed on error.
    pub fn set_user_agent(&self, user_agent: &str, accept_languages: Option<&str>) -> Result<()> {
        check_user_agent(user_agent)?;
        let languages = accept_languages
            .map(normalize_accept_languages)
            .transpose()?;
        let mut settings = self.settings_mut();
        settings.user_agent = user_agent.to_owned();
        if let Some(languages) = languages {
            settings.accept_languages = languages;
        }
        settings.identity = IdentityHeaders::of(&settings.user_agent, &settings.accept_languages);
        Ok(())
    }

    /// `ses.getUserAgent()`: the session's user agent.
    pub fn user_agent(&self) -> String {
        self.settings().user_agent.clone()
    }

    /// The session's language list, as given to [`Session::set_user_agent`]
    /// (default: from the locale, e.g. `en-US,en`).
    pub fn accept_languages(&self) -> String {
        self.settings().accept_languages.clone()
    }

    /// The `Accept-Language` header the session sends, with Chromium's
    /// q-values (`en-US,fr;q=0.9`).
    pub fn accept_language_header(&self) -> String {
        accept_language_header(&self.settings().accept_languages)
    }

    /// The user agent and Accept-Language as header values.
    pub(crate) fn identity_headers(&self) -> IdentityHeaders {
        self.settings().identity.clone()
    }

    /// `ses.setPreloads(preloads)` (deprecated in Electron for
    /// [`Session::register_preload_script`]): replaces the session's
    /// `frame` preload scripts with these, each under a new id, as
    /// Electron's does; `service-worker` ones stay.
    ///
    /// # Errors
    ///
    /// [`Error::RelativePath`] when a path is not absolute; nothing is
    /// changed then.
    pub fn set_preloads(
        &self,
        preloads: impl IntoIterator<Item = impl Into<PathBuf>>,
    ) -> Result<()> {
        let preloads: Vec<PathBuf> = preloads.into_iter().map(Into::into).collect();
        if let Some(bad) = preloads.iter().find(|p| !p.is_absolute()) {
            return Err(Error::RelativePath {
                what: "a preload script",
                path: bad.clone(),
            });
        }
        let mut settings = self.settings_mut();
        settings
            .preloads
            .retain(|s| s.kind != PreloadScriptType::Frame);
        settings
            .preloads
            .extend(preloads.into_iter().map(|file_path| PreloadScript {
                kind: PreloadScriptType::Frame,
                id: uuid::Uuid::new_v4().to_string(),
                file_path,
            }));
        Ok(())
    }

    /// `ses.getPreloads()` (deprecated in Electron for
    /// [`Session::preload_scripts`]): the paths of the `frame` preload
    /// scripts, in registration order.
    pub fn preloads(&self) -> Vec<PathBuf> {
        self.settings()
            .preloads
            .iter()
            .filter(|s| s.kind == PreloadScriptType::Frame)
            .map(|s| s.file_path.clone())
            .collect()
    }

    /// `ses.registerPreloadScript(script)`: a script the embedder runs in
    /// each context of its type (every frame of the session's pages before
    /// their own preloads, or every service worker). Returns its id: the
    /// one given, or a random UUID.
    ///
    /// ```
    /// # fn run(ses: &sesh_core::Session) -> sesh_core::Result<()> {
    /// use sesh_core::{PreloadScriptRegistration, PreloadScriptType};
    /// let id = ses.register_preload_script(PreloadScriptRegistration {
    ///     kind: PreloadScriptType::ServiceWorker,
    ///     id: Some("sw-bridge".into()),
    ///     file_path: "/opt/app/sw-preload.js".into(),
    /// })?;
    /// assert_eq!(id, "sw-bridge");
    /// assert_eq!(ses.preload_scripts()[0].id, "sw-bridge");
    /// ses.unregister_preload_script("sw-bridge")?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] with Electron's messages: `Cannot register
    /// preload script with existing ID 'ID'`, `Preload script must have
    /// absolute path: PATH`; nothing is registered then.
    pub fn register_preload_script(&self, script: PreloadScriptRegistration) -> Result<String> {
        let mut settings = self.settings_mut();
        let id = script
            .id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if settings.preloads.iter().any(|s| s.id == id) {
            return Err(Error::InvalidArgument(format!(
                "Cannot register preload script with existing ID '{id}'"
            )));
        }
        if !script.file_path.is_absolute() {
            return Err(Error::InvalidArgument(format!(
                "Preload script must have absolute path: {}",
                script.file_path.display()
            )));
        }
        settings.preloads.push(PreloadScript {
            kind: script.kind,
            id: id.clone(),
            file_path: script.file_path,
        });
        Ok(id)
    }

    /// `ses.unregisterPreloadScript(id)`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`]: `Cannot unregister preload script with
    /// non-existing ID 'ID'`.
    pub fn unregister_preload_script(&self, id: &str) -> Result<()> {
        let mut settings = self.settings_mut();
        match settings.preloads.iter().position(|s| s.id == id) {
            Some(at) => {
                settings.preloads.remove(at);
                Ok(())
            }
            None => Err(Error::InvalidArgument(format!(
                "Cannot unregister preload script with non-existing ID '{id}'"
            ))),
        }
    }

    /// `ses.getPreloadScripts()`: every registered preload script, in
    /// registration order.
    pub fn preload_scripts(&self) -> Vec<PreloadScript> {
        self.settings().preloads.clone()
    }

    /// `ses.setDownloadPath(path)`: the directory downloads are saved to
    /// unless a `will-download` handler says otherwise. Like Chromium's
    /// download-directory preference, it is remembered by a persistent
    /// session across restarts.
    ///
    /// # Errors
    ///
    /// [`Error::RelativePath`] for a relative path, [`Error::Storage`] when
    /// it cannot be remembered; the setting is unchanged then.
    pub fn set_download_path(&self, path: impl Into<PathBuf>) -> Result<()> {
        let path = path.into();
        if !path.is_absolute() {
            return Err(Error::RelativePath {
                what: "the download path",
                path,
            });
        }
        self.inner
            .backend
            .insert(PREFS_TREE, PREF_DOWNLOAD_DIR, &path_to_bytes(&path))?;
        self.settings_mut().download_path = path;
        Ok(())
    }

    /// `ses.enableNetworkEmulation(options)`: from now on requests are
    /// failed (offline), delayed (latency) or slowed (throughput) as asked.
    pub fn enable_network_emulation(&self, emulation: crate::net::NetworkEmulation) {
        *self
            .inner
            .emulation
            .write()
            .unwrap_or_else(PoisonError::into_inner) = emulation;
    }

    /// `ses.disableNetworkEmulation()`: the network as it is.
    pub fn disable_network_emulation(&self) {
        self.enable_network_emulation(crate::net::NetworkEmulation::default());
    }

    /// The emulation in force.
    pub fn network_emulation(&self) -> crate::net::NetworkEmulation {
        *self
            .inner
            .emulation
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The `login` handler: asked for credentials when a server answers
    /// `401` with a `Basic` challenge the auth cache cannot answer. `None`
    /// removes it (401 responses are then returned as they are).
    pub fn set_login_handler(&self, handler: Option<crate::net::LoginFn>) {
        *self
            .inner
            .login
            .write()
            .unwrap_or_else(PoisonError::into_inner) = handler;
    }

    pub(crate) fn login_handler(&self) -> Option<crate::net::LoginFn> {
        self.inner
            .login
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The credentials the session keeps, by origin and realm.
    pub fn auth_cache(&self) -> &crate::net::AuthCache {
        &self.inner.auth_cache
    }

    /// `ses.allowNTLMCredentialsForDomains(domains)`: the servers integrated
    /// authentication may send credentials to, a comma-separated list read
    /// as Chromium reads it (proxy-bypass patterns: `*example.com`, `*`,
    /// `example.com`; loopback gets no implicit pass). Entries that do not
    /// parse are ignored, as Chromium ignores them; they are returned so
    /// that the app can say so.
    pub fn allow_ntlm_credentials_for_domains(
        &self,
        domains: &str,
    ) -> Vec<sesh_proxy_rules::Error> {
        let (rules, errors) =
            sesh_proxy_rules::BypassRules::parse_with_errors(&format!("<-loopback>;{domains}"));
        *self
            .inner
            .ntlm_allowlist
            .write()
            .unwrap_or_else(PoisonError::into_inner) = rules;
        errors
    }

    /// Whether integrated authentication may answer a challenge from the
    /// server of `url` (proxies always may), by the list of
    /// [`Session::allow_ntlm_credentials_for_domains`]. NTLM and Negotiate
    /// themselves are not implemented; this is the allow-list check.
    pub fn ntlm_credentials_allowed(&self, url: &Url, proxy: bool) -> bool {
        proxy
            || self
                .inner
                .ntlm_allowlist
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .matches(url)
    }

    /// `ses.clearAuthCache()`: forgets every credential.
    pub async fn clear_auth_cache(&self) {
        self.inner.auth_cache.clear();
    }

    /// `ses.webRequest`: the application's hooks on every request of the
    /// session.
    pub fn web_request(&self) -> &crate::web_request::WebRequest {
        &self.inner.web_request
    }

    /// `ses.netLog`: records the session's network events to a file in
    /// Chromium's netlog format.
    pub fn net_log(&self) -> &crate::netlog::NetLog {
        &self.inner.net_log
    }

    /// What a net log appends when it stops (Chromium's `polledData`):
    /// proxy settings, the host resolver's configuration, the socket pool.
    fn polled_data(&self) -> serde_json::Value {
        let proxy = self.inner.proxy.config();
        let pac_error = self.inner.proxy.pac_error().map(|e| e.to_string());
        let pool = &self.inner.connections.pool;
        let (idle, all) = pool.counts();
        serde_json::json!({
            "proxySettings": {
                "effective": proxy,
                "pacError": pac_error,
            },
            "hostResolverInfo": {
                "dns_config": self.inner.dns.config(),
            },
            "socketPoolInfo": {
                "limits": {
                    "max_sockets_per_group": pool.limits().per_host,
                    "max_socket_count": pool.limits().total,
                    "max_sockets_per_proxy_chain": pool.limits().per_proxy,
                },
                "handed_out_socket_count": all - idle,
                "idle_socket_count": idle,
                "connecting_or_open_socket_count": all,
                "groups": pool.group_info(),
            },
        })
    }

    /// The session's host resolver (hickory-resolver with its cache; also
    /// what PAC scripts' `dnsResolve` asks).
    pub fn host_resolver(&self) -> &crate::dns::HostResolver {
        &self.inner.dns
    }

    /// Where the session resolves names from now on (DNS servers, or the
    /// system's); the cache starts empty.
    pub fn configure_host_resolver(&self, config: crate::dns::HostResolverConfig) {
        self.inner.dns.configure(config);
    }

    /// `ses.clearHostResolverCache()`: forgets every cached DNS answer.
    pub async fn clear_host_resolver_cache(&self) {
        self.inner.dns.clear_cache();
    }

    /// `ses.resolveHost(host[, options])`: the addresses of `host` through
    /// the session's resolver and host cache, as fetches resolve it (IP
    /// literals and `localhost` without a query, then the hosts file, then
    /// DNS), with Electron's options: one address family, the system's
    /// resolver or the cache alone, the cache skipped or taken stale.
    ///
    /// ```no_run
    /// # async fn run(ses: &sesh_core::Session) -> Result<(), sesh_core::ResolveHostError> {
    /// use sesh_core::{QueryType, ResolveHostOptions};
    /// let found = ses
    ///     .resolve_host("localhost", &ResolveHostOptions { query_type: Some(QueryType::A), ..Default::default() })
    ///     .await?;
    /// assert_eq!(found.endpoints[0].address, "127.0.0.1");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A [`crate::ResolveHostError`] with Chromium's net error:
    /// `net::ERR_NAME_NOT_RESOLVED`, `net::ERR_DNS_CACHE_MISS` (`localOnly`
    /// found nothing), `net::ERR_NOT_IMPLEMENTED` (mDNS).
    pub async fn resolve_host(
        &self,
        host: &str,
        options: &crate::dns::ResolveHostOptions,
    ) -> Result<crate::dns::ResolvedHost, crate::dns::ResolveHostError> {
        self.inner.dns.resolve_host(host, options).await
    }

    /// The session's open connections.
    pub fn connections(&self) -> &crate::net::Connections {
        &self.inner.connections
    }

    /// `ses.closeAllConnections()`: closes every connection of the session;
    /// requests still reading from one fail (`net::ERR_ABORTED`, as in
    /// Chromium).
    pub async fn close_all_connections(&self) {
        self.inner.connections.close_all();
    }

    /// The `will-download` handler: called for each download of the session
    /// once its name, type and size are known; it may set the item's save
    /// path or return [`WillDownload::Prevent`]. `None` removes it.
    pub fn set_will_download_handler(&self, handler: Option<WillDownloadFn>) {
        *self
            .inner
            .will_download
            .write()
            .unwrap_or_else(PoisonError::into_inner) = handler;
    }

    /// `ses.downloadURL(url)`: downloads `url` through the session's network
    /// service into [`Session::download_path`] (a free name there, as
    /// Chromium picks it), unless the `will-download` handler decides
    /// otherwise. Subscribe to the item before yielding to see every event.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn download_url(&self, url: Url) -> DownloadItem {
        self.download_url_with(url, sesh_downloads::DownloadOptions::default())
    }

    /// `ses.downloadURL(url, options)`: [`Session::download_url`] with
    /// Electron's options — `headers` sent with every request of the
    /// download (an `Authorization` for a protected file, say).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn download_url_with(
        &self,
        url: Url,
        options: sesh_downloads::DownloadOptions,
    ) -> DownloadItem {
        let handler = self
            .inner
            .will_download
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let item = DownloadItem::start_with_options(
            Arc::new(crate::net::SessionTransport::new(self.clone())),
            url,
            SaveTo::Directory(self.download_path()),
            options,
            Box::new(move |item: &DownloadItem| match &handler {
                Some(handler) => handler(item),
                None => WillDownload::Continue,
            }),
        );
        self.track_download(&item);
        item
    }

    /// `ses.createInterruptedDownload(options)`: an interrupted item that
    /// continues through the session's network service on `resume()`.
    ///
    /// # Errors
    ///
    /// The option that is wrong.
    pub fn create_interrupted_download(
        &self,
        options: sesh_downloads::InterruptedDownload,
    ) -> std::result::Result<DownloadItem, sesh_downloads::InterruptedDownloadError> {
        let item = DownloadItem::create_interrupted(
            Arc::new(crate::net::SessionTransport::new(self.clone())),
            options,
        )?;
        self.track_download(&item);
        Ok(item)
    }

    /// Keeps the session's record of `item` as Chromium's download history
    /// does: written once it has a save path and refreshed (at most once a
    /// second) as bytes arrive, so that a crash leaves it listed; written
    /// when it is interrupted; forgotten when it completes or is cancelled.
    /// While it runs in this process it is not listed as interrupted.
    fn track_download(&self, item: &DownloadItem) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut events = item.subscribe();
        // Weak: the record keeper must not keep an item the app dropped.
        let (session, item) = (self.clone(), item.downgrade());
        runtime.spawn(async move {
            const EVERY: std::time::Duration = std::time::Duration::from_secs(1);
            let mut last_write: Option<tokio::time::Instant> = None;
            // Progress not written yet (throttled): written when due even
            // if no other event comes, so a stalled download's record is
            // current.
            let mut pending = false;
            let mut path: Option<PathBuf> = None;
            loop {
                let due = last_write.map_or_else(tokio::time::Instant::now, |t| t + EVERY);
                let event = tokio::select! {
                    event = events.recv() => match event {
                        Some(event) => Some(event),
                        None => break,
                    },
                    () = tokio::time::sleep_until(due), if pending => None,
                };
                let (state, done) = match event {
                    Some(DownloadEvent::Updated(state)) => (state, false),
                    Some(DownloadEvent::Done(state)) => (state, true),
                    None => (DownloadState::Progressing, false),
                };
                let Some(item) = item.upgrade() else {
                    continue;
                };
                let running = state == DownloadState::Progressing && !done;
                let now = tokio::time::Instant::now();
                if running && last_write.is_some_and(|t| now < t + EVERY) {
                    // Throttled: written when due.
                    pending = true;
                    continue;
                }
                let Some(record) = item.to_interrupted() else {
                    continue;
                };
                // Listed as interrupted only while it is not running.
                session.active(&record.path, running);
                path = Some(record.path.clone());
                match state {
                    DownloadState::Completed | DownloadState::Cancelled => {
                        // A record that cannot be removed is listed again
                        // after a restart, as interrupted: not a failure.
                        let _ = session.forget_interrupted_download(&record.path);
                        break;
                    }
                    DownloadState::Interrupted => {
                        let _ = session.record_interrupted_download(&record);
                        (last_write, pending) = (None, false);
                        if done {
                            break;
                        }
                    }
                    DownloadState::Progressing => {
                        let _ = session.record_interrupted_download(&record);
                        (last_write, pending) = (Some(now), false);
                    }
                }
            }
            if let Some(path) = path {
                session.active(&path, false);
            }
        });
    }

    fn active(&self, path: &Path, running: bool) {
        let mut active = self
            .inner
            .active_downloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if running {
            active.insert(path.to_owned());
        } else {
            active.remove(path);
        }
    }

    /// Records an interrupted download so that the app, restarted, can list
    /// it ([`Session::interrupted_downloads`]) and continue it with
    /// `DownloadItem::create_interrupted`. One record per path: recording
    /// the same path again replaces it. A persistent session keeps it across
    /// restarts; an in-memory one until it ends.
    ///
    /// # Errors
    ///
    /// [`Error::RelativePath`] for a relative path; [`Error::Storage`].
    pub fn record_interrupted_download(
        &self,
        download: &sesh_downloads::InterruptedDownload,
    ) -> Result<()> {
        if !download.path.is_absolute() {
            return Err(Error::RelativePath {
                what: "an interrupted download's path",
                path: download.path.clone(),
            });
        }
        let json = serde_json::to_vec(download).map_err(|e| Error::Damaged {
            what: "interrupted download",
            reason: e.to_string(),
        })?;
        self.inner
            .backend
            .insert(DOWNLOADS_TREE, &path_to_bytes(&download.path), &json)?;
        Ok(())
    }

    /// The interrupted downloads recorded in this session, oldest first:
    /// those interrupted, and those that were running when a previous run
    /// of the app ended (not the ones running now).
    ///
    /// # Errors
    ///
    /// [`Error::Damaged`] naming the record that does not decode (the others
    /// are kept on disk untouched); [`Error::Storage`].
    pub fn interrupted_downloads(&self) -> Result<Vec<sesh_downloads::InterruptedDownload>> {
        let mut out = Vec::new();
        let active = self.running_downloads();
        for (key, value) in self.inner.backend.scan_prefix(DOWNLOADS_TREE, b"")? {
            let record: sesh_downloads::InterruptedDownload = serde_json::from_slice(&value)
                .map_err(|e| Error::Damaged {
                    what: "interrupted download",
                    reason: format!("{}: {e}", String::from_utf8_lossy(&key)),
                })?;
            if active.contains(&record.path) {
                continue;
            }
            // A record written while bytes were arriving may count bytes
            // that never reached the disk (the app was killed): the
            // partial file says how many did.
            let mut record = record;
            if let Ok(meta) = std::fs::metadata(sesh_downloads::partial_path(&record.path)) {
                record.offset = record.offset.min(meta.len());
            }
            out.push(record);
        }
        out.sort_by(|a, b| {
            a.start_time
                .unwrap_or_default()
                .total_cmp(&b.start_time.unwrap_or_default())
        });
        Ok(out)
    }

    /// Forgets the interrupted download recorded for `path` (it completed,
    /// or the user gave up); whether there was one.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`].
    pub fn forget_interrupted_download(&self, path: &Path) -> Result<bool> {
        Ok(self
            .inner
            .backend
            .remove(DOWNLOADS_TREE, &path_to_bytes(path))?
            .is_some())
    }

    /// The directory downloads are saved to: the one set with
    /// [`Session::set_download_path`], else the user's download directory
    /// (`XDG_DOWNLOAD_DIR`, else `~/Downloads`).
    pub fn download_path(&self) -> PathBuf {
        self.settings().download_path.clone()
    }

    /// `ses.setCodeCachePath(path)`: where code caches are stored, created
    /// when missing.
    ///
    /// # Errors
    ///
    /// [`Error::RelativePath`] for a relative path (Electron throws too), and
    /// [`Error::Io`] when the directory cannot be created — where Electron
    /// fails silently, the error is returned so the caller can tell; the
    /// setting is unchanged then.
    pub fn set_code_cache_path(&self, path: impl Into<PathBuf>) -> Result<()> {
        let path = path.into();
        if !path.is_absolute() {
            return Err(Error::RelativePath {
                what: "the code cache path",
                path,
            });
        }
        fs::create_dir_all(&path).map_err(|source| Error::Io {
            action: "cannot create the code cache directory",
            path: path.clone(),
            source,
        })?;
        self.settings_mut().code_cache_path = Some(path);
        Ok(())
    }

    /// The code cache directory: the one set with
    /// [`Session::set_code_cache_path`], else `Code Cache` in the storage
    /// path; `None` for an in-memory session, whose code cache stays in
    /// memory.
    pub fn code_cache_path(&self) -> Option<PathBuf> {
        self.settings().code_cache_path.clone()
    }

    /// `ses.cookies`: the session's cookie jar. Its changes are also sent
    /// to subscribers as [`SessionEvent::CookieChanged`].
    pub fn cookies(&self) -> &CookieJar {
        &self.inner.cookies
    }

    /// The session's proxy resolver (what `set_proxy` configures).
    pub fn proxy_resolver(&self) -> &Arc<ProxyResolver> {
        &self.inner.proxy
    }

    /// `ses.setProxy(config)`: applies `config` to the session. A PAC script
    /// is fetched and loaded now (file: and data: URLs until the network
    /// service fetches http(s) ones); when that fails, URLs go `DIRECT` and
    /// [`Session::resolve_proxy_detailed`] reports why, as in Chromium.
    ///
    /// # Errors
    ///
    /// [`Error::Blocking`] when the work could not run (the runtime is
    /// shutting down).
    pub async fn set_proxy(&self, config: ProxyConfig) -> Result<()> {
        self.inner
            .pac_deferred
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let proxy = self.inner.proxy.clone();
        tokio::task::spawn_blocking(move || proxy.set_proxy(config))
            .await
            .map_err(|e| Error::Blocking {
                reason: e.to_string(),
            })
    }

    /// The session's bad-proxy list: proxies that failed are marked here
    /// (for [`DEFAULT_RETRY_DELAY`](sesh_proxy_rules::DEFAULT_RETRY_DELAY),
    /// as in Chromium) and move behind the good ones in every answer until
    /// their time is up or [`Session::force_reload_proxy_config`].
    pub fn proxy_retry_list(&self) -> &Arc<ProxyRetryList> {
        &self.inner.proxy_retry
    }

    /// `ses.forceReloadProxyConfig()`: applies the configuration again,
    /// fetching the PAC script again, and forgets which proxies failed.
    ///
    /// # Errors
    ///
    /// As [`Session::set_proxy`].
    pub async fn force_reload_proxy_config(&self) -> Result<()> {
        self.inner.proxy_retry.clear();
        let proxy = self.inner.proxy.clone();
        tokio::task::spawn_blocking(move || proxy.reload())
            .await
            .map_err(|e| Error::Blocking {
                reason: e.to_string(),
            })
    }

    /// `ses.resolveProxy(url)`: Chromium's answer for `url`
    /// (`PROXY foopy:80;DIRECT`).
    ///
    /// # Errors
    ///
    /// [`Error::Proxy`] when `url` does not parse.
    pub async fn resolve_proxy(&self, url: &str) -> Result<String> {
        Ok(self.resolve_proxy_detailed(url).await?.to_string())
    }

    /// [`Session::resolve_proxy`] with the typed list and, when the answer is
    /// a fallback, the PAC error behind it.
    ///
    /// # Errors
    ///
    /// As [`Session::resolve_proxy`].
    pub async fn resolve_proxy_detailed(&self, url: &str) -> Result<Resolution> {
        if self
            .inner
            .pac_deferred
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            self.force_reload_proxy_config().await?;
        }
        let proxy = self.inner.proxy.clone();
        let retry = self.inner.proxy_retry.clone();
        if !proxy.runs_script() {
            // Rules only: matching is quick, no thread hop.
            let resolution = if retry.is_empty() {
                proxy.resolve(url)?
            } else {
                let parsed = Url::parse(url).map_err(|e| sesh_proxy_rules::Error::InvalidUrl {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })?;
                proxy.resolve_url(&parsed, Some(&*retry))
            };
            return Ok(resolution);
        }
        let url = url.to_owned();
        let resolution = tokio::task::spawn_blocking(move || {
            if retry.is_empty() {
                return proxy.resolve(&url);
            }
            let parsed = Url::parse(&url).map_err(|e| sesh_proxy_rules::Error::InvalidUrl {
                url: url.clone(),
                reason: e.to_string(),
            })?;
            Ok(proxy.resolve_url(&parsed, Some(&*retry)))
        })
        .await
        .map_err(|e| Error::Blocking {
            reason: e.to_string(),
        })??;
        if let Some(e) = &resolution.error {
            tracing::warn!(partition = %self.inner.partition, "{e}; going DIRECT");
        }
        Ok(resolution)
    }

    /// [`Session::resolve_proxy_detailed`] for a URL already parsed, as the
    /// network service has it: under rules only, nothing is parsed again.
    pub(crate) async fn resolve_proxy_for(&self, url: &Url) -> Result<Resolution> {
        let proxy = &self.inner.proxy;
        if proxy.runs_script()
            || self
                .inner
                .pac_deferred
                .load(std::sync::atomic::Ordering::SeqCst)
        {
            return self.resolve_proxy_detailed(url.as_str()).await;
        }
        let retry = &self.inner.proxy_retry;
        let bad: Option<&dyn sesh_proxy_rules::BadProxies> =
            (!retry.is_empty()).then_some(&**retry);
        Ok(proxy.resolve_url(url, bad))
    }

    /// The session's HTTP cache (disabled when the partition was created
    /// with `cache: false`).
    pub fn http_cache(&self) -> &HttpCache {
        &self.inner.http_cache
    }

    /// `ses.getCacheSize()`: the bytes the HTTP cache uses.
    pub fn cache_size(&self) -> u64 {
        self.inner.http_cache.size()
    }

    /// `ses.clearCache()`: empties the HTTP cache.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the cache's index cannot be cleared.
    pub fn clear_cache(&self) -> Result<()> {
        Ok(self.inner.http_cache.clear()?)
    }

    /// `localStorage` of `origin` (persistent in a persistent session; 10 MiB
    /// quota, as Chromium's).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when `origin` has no origin.
    pub fn local_storage(&self, origin: &str) -> Result<StorageArea> {
        Ok(self.inner.origins.local_storage(origin)?)
    }

    /// `sessionStorage` of `origin` (memory only).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when `origin` has no origin.
    pub fn session_storage(&self, origin: &str) -> Result<StorageArea> {
        Ok(self.inner.origins.session_storage(origin)?)
    }

    /// The per-origin areas of every kind, for embedders that keep data of
    /// other kinds (`indexdb`, `cachestorage`…).
    pub fn origin_storage(&self) -> &OriginStorage {
        &self.inner.origins
    }

    /// Adds a participant that [`Session::clear_storage_data`] also calls.
    pub fn register_storage_participant(&self, participant: Arc<dyn StorageParticipant>) {
        self.inner
            .participants
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(participant);
    }

    /// `ses.clearStorageData(options)`: clears the kinds of data named, of
    /// one origin or all. Cookies go by origin host (every cookie a request
    /// to it would carry); quota-managed kinds are cleared when `temporary`
    /// is among the quotas (sesh keeps nothing as `syncable`).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] naming an unknown storage or quota name (nothing is
    /// cleared then) or an origin that is not one, or a participant's failure.
    pub fn clear_storage_data(&self, options: &ClearStorageDataOptions) -> Result<()> {
        let storages: Vec<StorageKind> = match &options.storages {
            Some(names) => names
                .iter()
                .map(|n| n.parse())
                .collect::<std::result::Result<_, _>>()?,
            None => StorageKind::ALL.to_vec(),
        };
        let quotas: Vec<Quota> = match &options.quotas {
            Some(names) => names
                .iter()
                .map(|n| n.parse())
                .collect::<std::result::Result<_, _>>()?,
            None => vec![Quota::Temporary, Quota::Syncable],
        };
        let origin = options
            .origin
            .as_deref()
            .map(sesh_storage::origin::origin_of)
            .transpose()?;
        for kind in &storages {
            if kind.quota_managed() && !quotas.contains(&Quota::Temporary) {
                continue;
            }
            match kind {
                StorageKind::Cookies => {
                    match origin.as_deref().and_then(|o| url::Url::parse(o).ok()) {
                        Some(url) => {
                            let host = url.host_str().unwrap_or_default().to_owned();
                            self.inner.cookies.remove_for_host(&host);
                        }
                        None => {
                            self.inner.cookies.remove_all();
                        }
                    }
                }
                other => {
                    self.inner.origins.clear(origin.as_deref(), *other)?;
                }
            }
        }
        let participants = self
            .inner
            .participants
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for p in participants {
            p.clear(origin.as_deref(), &storages, &quotas)
                .map_err(|reason| sesh_storage::Error::Operation {
                    op: "clearStorageData",
                    path: None,
                    reason,
                })?;
        }
        Ok(())
    }

    /// `ses.clearData(options)`: clears the session's data by type, for some
    /// origins or all but some, as Chromium's BrowsingDataRemover does for
    /// Electron. Cookies go by registrable domain (clearing
    /// `https://a.example.com` clears every cookie of `example.com`), and
    /// with them, unless `avoid_closing_connections`, the HTTP
    /// authentication cache of those origins and every open connection
    /// (Chromium's ClearHttpAuthCache closes them all); `cache` removes the
    /// HTTP cache's entries by their URL's origin; `localStorage` clears
    /// localStorage and sessionStorage, `indexedDB`, `fileSystems`,
    /// `webSQL` and `serviceWorkers` the areas of those kinds; `downloads`
    /// forgets the session's records of downloads that are not running
    /// (by their URL's origin). `backgroundFetch` has no store in sesh.
    /// Storage participants are not asked (they follow
    /// [`Session::clear_storage_data`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] with Electron's messages: `Cannot provide
    /// both 'origins' and 'excludeOrigins'`, `Invalid origin: 'X'`, and for
    /// an unknown data type or origin matching mode; nothing is cleared
    /// then. A store's failure.
    pub fn clear_data(&self, options: &ClearDataOptions) -> Result<()> {
        if options.origins.is_some() && options.exclude_origins.is_some() {
            return Err(Error::InvalidArgument(
                "Cannot provide both 'origins' and 'excludeOrigins'".into(),
            ));
        }
        let types: Vec<ClearDataType> = match &options.data_types {
            Some(names) => names
                .iter()
                .map(|name| {
                    CLEAR_DATA_TYPES
                        .iter()
                        .find(|(known, _)| known == name)
                        .map(|(_, t)| *t)
                        .ok_or_else(|| {
                            let known: Vec<&str> =
                                CLEAR_DATA_TYPES.iter().map(|(n, _)| *n).collect();
                            Error::InvalidArgument(format!(
                                "unknown data type {name:?}: expected one of {}",
                                known.join(", ")
                            ))
                        })
                })
                .collect::<Result<_>>()?,
            None => CLEAR_DATA_TYPES.iter().map(|(_, t)| *t).collect(),
        };
        if let Some(mode) = &options.origin_matching_mode
            && mode != "third-parties-included"
            && mode != "origin-in-all-contexts"
        {
            return Err(Error::InvalidArgument(format!(
                "unknown origin matching mode {mode:?}: expected third-parties-included or origin-in-all-contexts"
            )));
        }
        let listed = options
            .origins
            .as_ref()
            .or(options.exclude_origins.as_ref())
            .map(|list| {
                list.iter()
                    .map(|o| {
                        sesh_storage::origin::origin_of(o)
                            .map_err(|_| Error::InvalidArgument(format!("Invalid origin: '{o}'")))
                    })
                    .collect::<Result<std::collections::BTreeSet<String>>>()
            })
            .transpose()?
            .unwrap_or_default();
        let filter = OriginFilter {
            listed,
            delete_listed: options.origins.is_some(),
        };
        let origin_of_url = |url: &str| sesh_storage::origin::origin_of(url).ok();
        for t in types {
            match t {
                ClearDataType::Cookies => {
                    let sites: std::collections::BTreeSet<String> = filter
                        .listed
                        .iter()
                        .filter_map(|o| url::Url::parse(o).ok())
                        // The jar keeps an IPv6 host in brackets, as the
                        // URL writes it.
                        .filter_map(|u| u.host_str().map(sesh_storage::cookies::registrable_domain))
                        .collect();
                    self.inner.cookies.remove_by_registrable_domain(|site| {
                        sites.contains(site) == filter.delete_listed
                    });
                    if !options.avoid_closing_connections {
                        self.inner.auth_cache.clear_where(|o| filter.doomed(o));
                        self.inner.connections.close_all();
                    }
                }
                ClearDataType::Cache => {
                    self.http_cache().remove_where(|key| {
                        origin_of_url(&key.url).is_some_and(|o| filter.doomed(&o))
                    })?;
                }
                ClearDataType::Downloads => self.forget_download_records(&filter)?,
                ClearDataType::BackgroundFetch => {}
                ClearDataType::Area(kind) => {
                    if filter.everything() {
                        self.inner.origins.clear(None, kind)?;
                    } else {
                        for origin in self.inner.origins.origins(kind)? {
                            if filter.doomed(&origin) {
                                self.inner.origins.clear(Some(&origin), kind)?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The paths of the downloads running now (their records are theirs).
    fn running_downloads(&self) -> std::collections::HashSet<PathBuf> {
        self.inner
            .active_downloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `clearData`'s `downloads`: the records of downloads not running whose
    /// first URL's origin the filter names.
    fn forget_download_records(&self, filter: &OriginFilter) -> Result<()> {
        let active = self.running_downloads();
        let mut batch = sesh_storage::Batch::default();
        for (key, value) in self.inner.backend.scan_prefix(DOWNLOADS_TREE, b"")? {
            let record = serde_json::from_slice::<sesh_downloads::InterruptedDownload>(&value).ok();
            let doomed = match &record {
                Some(r) if active.contains(&r.path) => false,
                Some(r) => r
                    .url_chain
                    .first()
                    .is_some_and(|u| filter.doomed(&u.origin().ascii_serialization())),
                // A damaged record goes only when everything does.
                None => filter.everything(),
            };
            if doomed {
                batch.remove(key);
            }
        }
        self.inner.backend.apply(DOWNLOADS_TREE, batch)?;
        Ok(())
    }

    /// `ses.flushStorageData()`: writes pending DOM storage (and cookies) to
    /// disk.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the store cannot be written.
    pub fn flush_storage_data(&self) -> Result<()> {
        self.flush_storage()
    }

    /// The session's certificate verifier: every TLS connection the session
    /// makes is verified by it.
    pub fn cert_verifier(&self) -> &CertVerifier {
        &self.inner.verifier
    }

    /// `ses.setCertificateVerifyProc(proc)`: `Some(proc)` has the last word
    /// on every server certificate, `None` restores default verification.
    /// The proc answers with a net error code: 0 accepts, −2 rejects, −3
    /// uses the default result, another code rejects with it. Verdicts are
    /// cached per host and chain, and the cache is dropped whenever the proc
    /// changes (see [`CertVerifier`]).
    pub fn set_certificate_verify_proc<F, Fut>(&self, proc: Option<F>)
    where
        F: Fn(VerifyRequest) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = i32> + Send + 'static,
    {
        self.inner.verifier.set_certificate_verify_proc(proc);
    }

    /// `ses.setSSLConfig(config)`: TLS versions and cipher suites of the
    /// connections made from now on.
    ///
    /// # Errors
    ///
    /// [`Error::Tls`] naming what was refused; nothing changes then.
    pub fn set_ssl_config(&self, config: SslConfig) -> Result<()> {
        self.inner.verifier.set_ssl_config(config)?;
        Ok(())
    }

    /// Subscribes to the session's notifications (see [`SessionEvent`]).
    ///
    /// Each receiver sees every event sent after it subscribed; one that
    /// falls more than 256 events behind gets
    /// [`broadcast::error::RecvError::Lagged`] and then the newest events.
    pub fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.inner.events.subscribe()
    }

    /// Sends `event` to every subscriber, returning how many there are.
    pub(crate) fn emit(&self, event: SessionEvent) -> usize {
        tracing::trace!(?event, partition = %self.inner.partition, "session event");
        self.inner.events.send(event).unwrap_or(0)
    }

    /// Reports that a page asked for a connection to `url` ahead of time (a
    /// preconnect resource hint): emits Electron's `preconnect` event.
    /// Returns how many subscribers were told.
    pub fn notify_preconnect(&self, url: &str, allow_credentials: bool) -> usize {
        self.emit(SessionEvent::Preconnect {
            preconnect_url: url.to_owned(),
            allow_credentials,
        })
    }
}

/// Sessions whose housekeeping (expired cookies, batched writes) runs on
/// one background thread, every 10 seconds, for as long as they live.
fn housekeeping(inner: &Arc<Inner>) {
    use std::sync::{Mutex, OnceLock, Weak};
    static SESSIONS: OnceLock<Mutex<Vec<Weak<Inner>>>> = OnceLock::new();
    let list = SESSIONS.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("sesh-housekeeping".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(10));
                    let Some(list) = SESSIONS.get() else { continue };
                    let live: Vec<Arc<Inner>> = {
                        let mut list = list.lock().unwrap_or_else(PoisonError::into_inner);
                        list.retain(|w| w.strong_count() > 0);
                        list.iter().filter_map(Weak::upgrade).collect()
                    };
                    for inner in live {
                        if let Err(e) = inner.cookies.tick() {
                            tracing::warn!(partition = %inner.partition, "cookie housekeeping: {e}");
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the housekeeping thread: {e}");
        }
        Mutex::new(Vec::new())
    });
    list.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Arc::downgrade(inner));
}

impl Session {
    pub(crate) fn upgrade(inner: &std::sync::Weak<Inner>) -> Option<Session> {
        inner.upgrade().map(|inner| Session { inner })
    }

    pub(crate) fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }
}

impl PartialEq for Session {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Session {}

impl Hash for Session {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.inner), state);
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("partition", &self.inner.partition)
            .field("storage_path", &self.inner.storage_path)
            .finish_non_exhaustive()
    }
}

fn lock_partition(partition: &str, lock_path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_path)
        .map_err(|source| Error::Io {
            action: "cannot open the lock file",
            path: lock_path.to_path_buf(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::PartitionInUse {
            partition: partition.to_owned(),
            lock_path: lock_path.to_path_buf(),
        }),
        Err(TryLockError::Error(source)) => Err(Error::Io {
            action: "cannot lock",
            path: lock_path.to_path_buf(),
            source,
        }),
    }
}

fn default_download_dir() -> PathBuf {
    dirs::download_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join("Downloads")))
        .unwrap_or_else(|| PathBuf::from("Downloads"))
}

#[cfg(unix)]
fn path_to_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(unix)]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn path_to_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

/// A new session follows the system's proxy settings until `set_proxy`, as
/// in Chromium: the desktop's on a GNOME-family desktop, else the
/// environment (`http_proxy`, `no_proxy`, `auto_proxy`…).
fn system_proxy(
    session: std::sync::Weak<Inner>,
    dns: &crate::dns::HostResolver,
    net_log: &crate::netlog::NetLog,
) -> ProxyResolver {
    let resolver = ProxyResolver::new(Arc::new(crate::net::SessionPacFetcher { session }));
    // PAC helpers ask the session's resolver; alert() goes to its log and
    // net log.
    #[cfg(feature = "pac")]
    let resolver = resolver.with_pac_options(sesh_proxy_rules::PacOptions {
        resolver: Arc::new(crate::dns::PacDns(dns.clone())),
        observer: Arc::new(crate::netlog::PacAlerts(net_log.clone())),
        ..Default::default()
    });
    #[cfg(not(feature = "pac"))]
    let _ = (dns, net_log);
    resolver.set_proxy(ProxyConfig {
        mode: Some(ProxyMode::System),
        ..ProxyConfig::default()
    });
    resolver
}
