use std::path::PathBuf;

/// Result of a session operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The partition string cannot name a session.
    #[error("invalid partition {partition:?}: {reason}")]
    InvalidPartition {
        /// The partition string as given.
        partition: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Another process has this persistent partition open.
    #[error(
        "partition {partition:?} is in use by another process (it holds the lock {}); \
         close that process or use another user-data directory",
        lock_path.display()
    )]
    PartitionInUse {
        /// The partition string as given.
        partition: String,
        /// The lock file held by the other process.
        lock_path: PathBuf,
    },
    /// No user-data directory was given and none could be derived from the
    /// environment (`SESH_USER_DATA_DIR`, `XDG_CONFIG_HOME`, `HOME`).
    #[error(
        "no user-data directory: set one with Sessions::builder().user_data_dir(..), \
         or set SESH_USER_DATA_DIR, XDG_CONFIG_HOME or HOME"
    )]
    NoUserDataDir,
    /// [`crate::init`] was called after the global sessions were set up.
    #[error(
        "sesh is already initialised (user-data directory {}); call init before any other sesh function",
        user_data_dir.display()
    )]
    AlreadyInitialized {
        /// The user-data directory already in use.
        user_data_dir: PathBuf,
    },
    /// A path that must be absolute was not.
    #[error("{what} must be an absolute path, got {}", path.display())]
    RelativePath {
        /// Which setting the path was for.
        what: &'static str,
        /// The path given.
        path: PathBuf,
    },
    /// A user agent that cannot be sent as an HTTP header value.
    #[error("invalid user agent: {reason}")]
    InvalidUserAgent {
        /// What is wrong with it.
        reason: String,
    },
    /// An entry of an accept-languages list that is not a language code.
    #[error("invalid language code {token:?} in accept languages {list:?}")]
    InvalidAcceptLanguage {
        /// The offending entry.
        token: String,
        /// The whole list as given.
        list: String,
    },
    /// A filesystem operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A TLS setting was refused (`set_ssl_config`).
    #[error(transparent)]
    Tls(#[from] sesh_cert_verify::Error),
    /// A proxy configuration or URL was refused.
    #[error(transparent)]
    Proxy(#[from] sesh_proxy_rules::Error),
    /// A record read back from the session's storage does not decode.
    #[error("the stored {what} is damaged: {reason}")]
    Damaged {
        /// What was being read.
        what: &'static str,
        /// What was wrong with it.
        reason: String,
    },

    /// Blocking work (a PAC script, a file) could not be run.
    #[error("background work failed: {reason}")]
    Blocking {
        /// What the runtime said.
        reason: String,
    },
    /// The session's storage failed.
    #[error(transparent)]
    Storage(#[from] sesh_storage::Error),
    /// An argument outside what the method accepts.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A network operation failed (with Chromium's net error).
    #[error(transparent)]
    Network(#[from] crate::net::FetchError),
}
