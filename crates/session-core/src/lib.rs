//! The sesh `Session`: Electron's `session` module for Rust programs.
//!
//! [`Sessions`] is the set of sessions of one application: a user-data
//! directory and one [`Session`] per partition string, by Electron's rules
//! (`""` is the default session, `persist:NAME` is stored on disk under
//! `Partitions/`, anything else lives in memory). [`from_partition`] and
//! [`default_session`] use a global [`Sessions`], which [`init`] can set up.
//! A [`Session`] is a cheap handle carrying the session's settings (user
//! agent, preloads, download and code cache paths), its storage
//! ([`sesh_storage::Backend`]) and its notifications ([`Session::subscribe`]);
//! decisions the application makes (Electron's `setXxxHandler` methods and
//! events with a callback) go through a [`HandlerSlot`]. Its network service
//! ([`net`], [`Session::fetch`]) carries every request of the session —
//! fetches, downloads, PAC scripts — through one connection pool, its
//! proxies, TLS verifier, host resolver, cookies and HTTP cache.
//!
//! ```
//! use sesh_core::{PartitionOptions, Sessions};
//!
//! # fn main() -> Result<(), sesh_core::Error> {
//! let dir = tempfile::tempdir().expect("temporary directory");
//! let sessions = Sessions::builder().app_name("demo").user_data_dir(dir.path()).build()?;
//!
//! let work = sessions.from_partition("persist:work", PartitionOptions::default())?;
//! assert!(work.is_persistent());
//! assert_eq!(work.storage_path(), Some(dir.path().join("Partitions").join("work").as_path()));
//! assert_eq!(work, sessions.from_partition("persist:work", PartitionOptions::default())?);
//!
//! let scratch = sessions.from_partition("scratch", PartitionOptions { cache: false })?;
//! assert_eq!(scratch.storage_path(), None);
//!
//! scratch.set_user_agent("MyBot/1.0", Some("fr-FR,fr,en"))?;
//! assert_eq!(scratch.accept_language_header(), "fr-FR,fr;q=0.9,en;q=0.8");
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod coalesce;
mod dns;
mod error;
mod events;
mod handler;
pub mod net;
mod netlog;
mod partition;
mod pool;
mod session;
mod sessions;
mod user_agent;
pub mod web_request;

pub use dns::{
    AddressFamily, CacheUsage, HostResolver, HostResolverConfig, HostResolverSource, LookupError,
    QueryType, ResolveHostError, ResolveHostOptions, ResolvedEndpoint, ResolvedHost,
    SecureDnsPolicy,
};
pub use error::{Error, Result};
pub use events::SessionEvent;
pub use handler::{BoxFuture, HandlerSlot};
pub use netlog::{CaptureMode, NetLog, NetLogError, NetLogOptions};
pub use partition::{PERSIST_PREFIX, Partition, partition_dir_name};
pub use session::{
    CACHE_DIR, CODE_CACHE_DIR, ClearDataOptions, ClearStorageDataOptions, DATABASE_DIR, LOCK_FILE,
    PartitionOptions, PreloadScript, PreloadScriptRegistration, PreloadScriptType, Session,
    StorageParticipant, WillDownloadFn,
};
pub use sessions::{
    Sessions, SessionsBuilder, USER_DATA_DIR_ENV, default_session, from_partition, from_path, init,
    sessions,
};
pub use user_agent::{CHROME_VERSION, accept_language_header, default_user_agent};

pub use sesh_cert_verify as tls;
pub use sesh_downloads as downloads;
pub use sesh_proxy_rules as proxy;
pub use sesh_storage as storage;

/// Marks the branch it is called in as rarely taken: the compiler lays that
/// branch's code out of the way of the usual path (what
/// `std::hint::cold_path` does on toolchains newer than the workspace's
/// minimum).
#[cold]
#[inline(never)]
pub(crate) fn unlikely() {}
