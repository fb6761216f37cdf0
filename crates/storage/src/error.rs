use std::path::PathBuf;

/// Result of a storage operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a storage operation failed.
///
/// Every variant names the database's path when there is one, so that a user
/// can find the files in question.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database could not be opened (missing permissions, a file where a
    /// directory should be, an unsupported format…).
    #[error("cannot open the database at {path}: {reason}")]
    Open {
        /// The database directory.
        path: PathBuf,
        /// What went wrong, in words.
        reason: String,
    },
    /// The database exists but its contents are damaged or were lost. It has
    /// been left as it is on disk.
    #[error("the database at {path} is corrupt: {detail}; it was left untouched")]
    Corrupt {
        /// The database directory.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A read or write failed after the database was opened.
    #[error("storage {op} failed{}: {reason}", path.as_ref().map(|p| format!(" on {}", p.display())).unwrap_or_default())]
    Operation {
        /// The operation that failed (`"insert"`, `"flush"`…).
        op: &'static str,
        /// The database directory, for on-disk databases.
        path: Option<PathBuf>,
        /// What went wrong, in words.
        reason: String,
    },
    /// A storage area would pass its quota; nothing was written.
    #[error(
        "QuotaExceededError: the storage of {origin} would use {used} bytes, over its quota of {quota}"
    )]
    QuotaExceeded {
        /// The origin.
        origin: String,
        /// The bytes the write would bring it to.
        used: usize,
        /// The quota.
        quota: usize,
    },
    /// A filesystem operation around the database failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`"cannot create"`, `"cannot read"`…).
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
