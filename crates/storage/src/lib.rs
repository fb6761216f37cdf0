//! Storage for sesh sessions.
//!
//! Everything a session keeps (cookies, the HTTP cache index, origin storage,
//! device grants, custom dictionary words, preferences) goes through one small
//! key-value interface, [`Backend`]. It has two implementations:
//!
//! - [`SledBackend`]: a sled database in a directory, used by persistent
//!   partitions (the default session and `persist:NAME`). [`Backend::flush`]
//!   returns only once the data is on disk. A database that cannot be opened,
//!   or whose contents were lost or damaged, is reported as an [`Error`] naming
//!   its path; it is never replaced by an empty one.
//! - [`MemoryBackend`]: ordered maps in memory, used by in-memory partitions;
//!   it never touches the disk.
//!
//! The [`cookies`] module is a session's cookie jar on top of it, with
//! Chromium's rules and Electron's `ses.cookies` API.
//!
//! Data is grouped in named trees (one per feature: `"cookies"`, `"prefs"`…);
//! keys within a tree are ordered bytewise, so [`Backend::scan_prefix`] returns
//! them in order. [`Batch`] applies several writes to one tree atomically.
//!
//! ```
//! use sesh_storage::{Backend, Batch, MemoryBackend, SledBackend};
//!
//! # fn main() -> Result<(), sesh_storage::Error> {
//! let dir = tempfile::tempdir().expect("temporary directory");
//! let db = SledBackend::open(dir.path().join("db"))?;
//! db.insert("prefs", b"download.default_directory", b"/home/me/Downloads")?;
//!
//! let mut batch = Batch::default();
//! batch.insert(b"a".to_vec(), b"1".to_vec());
//! batch.insert(b"b".to_vec(), b"2".to_vec());
//! db.apply("cookies", batch)?;
//! db.flush()?; // durable from here on
//!
//! assert_eq!(db.scan_prefix("cookies", b"")?.len(), 2);
//!
//! let mem = MemoryBackend::new();
//! assert!(mem.path().is_none());
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod backend;
pub mod cookies;
mod error;
pub mod http_cache;
mod memory;
pub mod origin;
mod sled_backend;

pub use backend::{Backend, BackendKind, Batch, BatchOp};
pub use error::{Error, Result};
pub use memory::MemoryBackend;
pub use sled_backend::SledBackend;
