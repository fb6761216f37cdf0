//! The set of sessions of one user-data directory, and the global one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::partition::Partition;
use crate::session::{PartitionOptions, Session};
use crate::{Error, Result};

/// Environment variable naming the user-data directory.
pub const USER_DATA_DIR_ENV: &str = "SESH_USER_DATA_DIR";

/// The sessions of one application: a user-data directory and the sessions
/// made from it, one per partition.
///
/// This is what Electron's `session` module is for its app. Most programs use
/// the global one through [`crate::from_partition`] and
/// [`crate::default_session`]; tests and programs that manage several
/// profiles build their own with [`Sessions::builder`]. Cloning is cheap and
/// gives a handle to the same set.
#[derive(Clone, Debug)]
pub struct Sessions {
    inner: Arc<SessionsInner>,
}

#[derive(Debug)]
struct SessionsInner {
    user_data_dir: PathBuf,
    app_name: String,
    app_version: String,
    cache_max_bytes: u64,
    sessions: Mutex<HashMap<Key, Session>>,
}

/// What identifies a session among its siblings: persistent partitions by
/// their directory, so that two spellings of one directory (`persist:Work`,
/// `persist:work`) are one session rather than two sharing a database.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Default,
    Persistent(String),
    InMemory(String),
    /// `fromPath`'s directory (compared by its components: `/a/b/` and
    /// `/a/./b` are one).
    Path(PathBuf),
}

impl From<&Partition> for Key {
    fn from(p: &Partition) -> Self {
        match p {
            Partition::Default => Key::Default,
            Partition::Persistent { dir_name, .. } => Key::Persistent(dir_name.clone()),
            Partition::InMemory(name) => Key::InMemory(name.clone()),
            Partition::Path(path) => Key::Path(path.clone()),
        }
    }
}

/// Builds a [`Sessions`]: which user-data directory, which application.
#[derive(Debug, Clone)]
pub struct SessionsBuilder {
    user_data_dir: Option<PathBuf>,
    app_name: String,
    app_version: String,
    cache_max_bytes: u64,
}

impl Default for SessionsBuilder {
    fn default() -> Self {
        SessionsBuilder {
            user_data_dir: None,
            app_name: "sesh".to_owned(),
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
            cache_max_bytes: sesh_storage::http_cache::HttpCacheOptions::default().max_bytes,
        }
    }
}

impl SessionsBuilder {
    /// The application's name: it names the default user-data directory
    /// (`~/.config/<name>`) and appears in the default user agent.
    /// Default: `sesh`.
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = name.into();
        self
    }

    /// The application's version, for the default user agent.
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.app_version = version.into();
        self
    }

    /// The most bytes each session's HTTP cache keeps (default 256 MiB).
    pub fn cache_max_bytes(mut self, bytes: u64) -> Self {
        self.cache_max_bytes = bytes;
        self
    }

    /// The user-data directory. Without it: `$SESH_USER_DATA_DIR`, else
    /// `$XDG_CONFIG_HOME/<app name>`, else `~/.config/<app name>`, as
    /// Electron's `userData` on Linux. A relative path is taken from the
    /// current directory.
    pub fn user_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.user_data_dir = Some(dir.into());
        self
    }

    /// Resolves the user-data directory. Nothing is created on disk until a
    /// persistent session is opened.
    ///
    /// # Errors
    ///
    /// [`Error::NoUserDataDir`] when no directory was given and none can be
    /// derived from the environment.
    pub fn build(self) -> Result<Sessions> {
        let dir = match self.user_data_dir {
            Some(dir) => dir,
            None => default_user_data_dir(&self.app_name)?,
        };
        let dir = std::path::absolute(&dir).map_err(|source| Error::Io {
            action: "cannot resolve the user-data directory",
            path: dir.clone(),
            source,
        })?;
        Ok(Sessions {
            inner: Arc::new(SessionsInner {
                user_data_dir: dir,
                app_name: self.app_name,
                app_version: self.app_version,
                cache_max_bytes: self.cache_max_bytes,
                sessions: Mutex::new(HashMap::new()),
            }),
        })
    }
}

fn non_empty_env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn default_user_data_dir(app_name: &str) -> Result<PathBuf> {
    if let Some(dir) = non_empty_env(USER_DATA_DIR_ENV) {
        return Ok(dir);
    }
    // XDG says a relative XDG_CONFIG_HOME is invalid and must be ignored.
    let config = non_empty_env("XDG_CONFIG_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| dirs::home_dir().map(|h| h.join(".config")))
        .ok_or(Error::NoUserDataDir)?;
    Ok(config.join(app_name))
}

impl Sessions {
    /// A builder, to choose the user-data directory and the application.
    pub fn builder() -> SessionsBuilder {
        SessionsBuilder::default()
    }

    /// The user-data directory: the default session's storage, and the parent
    /// of `Partitions/`.
    pub fn user_data_dir(&self) -> &Path {
        &self.inner.user_data_dir
    }

    /// The application name.
    pub fn app_name(&self) -> &str {
        &self.inner.app_name
    }

    /// The session for `partition`, as Electron's
    /// `session.fromPartition(partition, options)`.
    ///
    /// `""` is the default session; `persist:NAME` is persistent and stored in
    /// `<user-data>/Partitions/<NAME, escaped>` (see
    /// [`crate::partition_dir_name`]); any other string is an in-memory
    /// session that never touches the disk. The same partition returns the
    /// same session, and `options` only count when the session is created.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPartition`] for a partition string that cannot name a
    /// session, [`Error::PartitionInUse`] when another process has the
    /// persistent partition open, [`Error::Io`] or [`Error::Storage`] when its
    /// directory or database cannot be opened.
    pub fn from_partition(&self, partition: &str, options: PartitionOptions) -> Result<Session> {
        self.session_of(partition, Partition::parse(partition)?, options)
    }

    /// The session of `kind`: the one already open, or a new one with
    /// `options`.
    fn session_of(
        &self,
        partition: &str,
        kind: Partition,
        options: PartitionOptions,
    ) -> Result<Session> {
        let key = Key::from(&kind);
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = sessions.get(&key) {
            return Ok(existing.clone());
        }
        let storage_path = match &kind {
            Partition::Default => Some(self.inner.user_data_dir.clone()),
            Partition::Persistent { dir_name, .. } => {
                Some(self.inner.user_data_dir.join("Partitions").join(dir_name))
            }
            Partition::InMemory(_) => None,
            Partition::Path(path) => Some(path.clone()),
        };
        let session = Session::open(
            partition,
            kind,
            storage_path,
            options,
            &self.inner.app_name,
            &self.inner.app_version,
            self.inner.cache_max_bytes,
        )?;
        sessions.insert(key, session.clone());
        Ok(session)
    }

    /// The session stored in `path`, as Electron's
    /// `session.fromPath(path, options)`: like [`Sessions::from_partition`]
    /// but keyed by a directory of the app's choosing (created if missing)
    /// instead of a partition name under the user-data directory. The same
    /// directory returns the same session, and `options` only count when it
    /// is created. Its [`Session::partition`] is empty and its
    /// [`Session::partition_kind`] is [`Partition::Path`].
    ///
    /// # Errors
    ///
    /// [`Error::RelativePath`] when `path` is empty or relative (Electron
    /// throws then too), [`Error::PartitionInUse`] when the directory is open
    /// already (by another process, or by another session of this one: the
    /// default session's or a partition's directory), [`Error::Io`] or
    /// [`Error::Storage`] when it cannot be opened.
    pub fn from_path(&self, path: impl AsRef<Path>, options: PartitionOptions) -> Result<Session> {
        let path = path.as_ref();
        if !path.is_absolute() {
            return Err(Error::RelativePath {
                what: "a session's path",
                path: path.to_owned(),
            });
        }
        self.session_of("", Partition::Path(path.components().collect()), options)
    }

    /// The default session, as Electron's `session.defaultSession`: the
    /// persistent session stored in the user-data directory.
    ///
    /// # Errors
    ///
    /// As [`Sessions::from_partition`].
    pub fn default_session(&self) -> Result<Session> {
        self.from_partition("", PartitionOptions::default())
    }
}

static GLOBAL: Mutex<Option<Sessions>> = Mutex::new(None);

/// Sets up the global sessions used by [`from_partition`] and
/// [`default_session`], from `builder`. Call it once, early, to choose the
/// application name or the user-data directory.
///
/// # Errors
///
/// [`Error::AlreadyInitialized`] when the global sessions were already set
/// up (by an earlier `init` or by a first use), or the errors of
/// [`SessionsBuilder::build`].
pub fn init(builder: SessionsBuilder) -> Result<Sessions> {
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(existing) = global.as_ref() {
        return Err(Error::AlreadyInitialized {
            user_data_dir: existing.user_data_dir().to_path_buf(),
        });
    }
    let sessions = builder.build()?;
    *global = Some(sessions.clone());
    Ok(sessions)
}

/// The global sessions, set up from the environment on first use unless
/// [`init`] came first.
///
/// # Errors
///
/// [`Error::NoUserDataDir`] when no user-data directory can be derived.
pub fn sessions() -> Result<Sessions> {
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(existing) = global.as_ref() {
        return Ok(existing.clone());
    }
    let sessions = SessionsBuilder::default().build()?;
    *global = Some(sessions.clone());
    Ok(sessions)
}

/// `session.fromPath(path, options)` on the global sessions; see
/// [`Sessions::from_path`].
///
/// # Errors
///
/// As [`Sessions::from_path`], and [`sessions`]'.
pub fn from_path(path: impl AsRef<Path>, options: PartitionOptions) -> Result<Session> {
    sessions()?.from_path(path, options)
}

/// `session.fromPartition(partition, options)` on the global sessions; see
/// [`Sessions::from_partition`].
///
/// # Errors
///
/// As [`sessions`] and [`Sessions::from_partition`].
pub fn from_partition(partition: &str, options: PartitionOptions) -> Result<Session> {
    sessions()?.from_partition(partition, options)
}

/// `session.defaultSession` of the global sessions; see
/// [`Sessions::default_session`].
///
/// # Errors
///
/// As [`sessions`] and [`Sessions::from_partition`].
pub fn default_session() -> Result<Session> {
    sessions()?.default_session()
}
