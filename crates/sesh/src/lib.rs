//! sesh: Electron's `session` module for Rust programs.
//!
//! A browser profile owns far more than its renderer: cookies, the HTTP
//! cache, per-origin storage, proxy settings, TLS verification hooks,
//! permission decisions, device grants, the spellchecker and downloads. sesh
//! gives these to desktop apps, crawlers and automation tools as a set of
//! crates; this one re-exports them under short names, with the [`Session`]
//! at the top.
//!
//! | Electron | sesh |
//! | --- | --- |
//! | `session.fromPartition(p, {cache})` | [`from_partition`]`(p, PartitionOptions { cache })` |
//! | `session.fromPath(path, {cache})` | [`from_path`]`(path, PartitionOptions { cache })` |
//! | `session.defaultSession` | [`default_session`]`()` |
//! | `ses.getStoragePath()` | [`Session::storage_path`] |
//! | `ses.setUserAgent(ua, langs)` | [`Session::set_user_agent`] |
//! | `ses.on('preconnect', …)` | [`Session::subscribe`] → [`SessionEvent::Preconnect`] |
//! | `ses.fetch(url)` | [`Session::fetch`]`(`[`net::Request`]`)` |
//! | `ses.webRequest.onBeforeRequest(filter, listener)` | [`Session::web_request`]`().on_before_request(filter, handler)` |
//! | `ses.netLog.startLogging(path, {captureMode})` | [`Session::net_log`]`().start_logging(path, `[`net::NetLogOptions`]`)` |
//!
//! The key-value storage every session keeps its data in is [`storage`];
//! proxy rules, bypass rules and PAC scripts are [`proxy`]; certificate
//! verification is [`tls`].
//!
//! ```
//! use sesh::{PartitionOptions, Sessions};
//!
//! # fn main() -> Result<(), sesh::Error> {
//! # let dir = tempfile::tempdir().expect("temporary directory");
//! // Most apps call sesh::init once, or just sesh::default_session();
//! // here the user-data directory is a temporary one.
//! let sessions = Sessions::builder().app_name("my-app").user_data_dir(dir.path()).build()?;
//! let ses = sessions.from_partition("persist:work", PartitionOptions::default())?;
//! println!("{} keeps its data in {:?}", ses.partition(), ses.storage_path());
//! println!("user agent: {}", ses.user_agent());
//!
//! let mut events = ses.subscribe();
//! ses.notify_preconnect("https://example.com/", true);
//! assert!(matches!(events.try_recv(), Ok(sesh::SessionEvent::Preconnect { .. })));
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! `pac`, `devices` and `spellcheck` (all on by default) select the optional
//! parts with C or a script engine inside: the PAC engine, HID/serial/USB
//! access, and hunspell.
#![deny(missing_docs)]

pub use sesh_core::{
    BoxFuture, ClearDataOptions, ClearStorageDataOptions, Error, HandlerSlot, Partition,
    PartitionOptions, PreloadScript, PreloadScriptRegistration, PreloadScriptType, Result, Session,
    SessionEvent, Sessions, SessionsBuilder, StorageParticipant, accept_language_header,
    default_session, default_user_agent, from_partition, from_path, init, partition_dir_name,
    sessions,
};

/// Proxy configuration: Electron's `ProxyConfig`, Chromium's rule grammars,
/// the PAC engine (feature `pac`) and `resolveProxy`'s answer.
pub mod proxy {
    pub use sesh_proxy_rules::*;
}

/// TLS: certificate verification, Chromium's net errors, the verify proc,
/// the SSL config and the `Certificate` structure.
pub mod tls {
    pub use sesh_cert_verify::*;
}

/// The network service: `Session::fetch`'s request, response and errors,
/// the connection pool's limits and priorities, the host resolver, the
/// net log.
pub mod net {
    pub use sesh_core::net::*;
}

/// webRequest: the application's hooks on every request of a session
/// (`Session::web_request`), their filters, details and answers.
pub mod web_request {
    pub use sesh_core::web_request::*;
}

/// Downloads: the name Chromium gives a download and a free path for it.
pub mod downloads {
    pub use sesh_downloads::*;
}

/// Session storage: the key-value [`storage::Backend`] on sled or memory.
pub mod storage {
    pub use sesh_storage::*;
}

/// The README's example, compiled as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExample;
