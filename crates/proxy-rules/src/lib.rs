//! Chromium's proxy configuration, for Rust: what `ses.setProxy(config)`
//! accepts and what `ses.resolveProxy(url)` answers, byte for byte.
//!
//! - [`ProxyConfig`] is Electron's `{mode, pacScript, proxyRules,
//!   proxyBypassRules}`, with the mode inferred as Electron infers it.
//! - [`ProxyRules`] parses `proxyRules` (`http=foopy:80;socks=bar`), and
//!   [`BypassRules`] parses `proxyBypassRules` (`*.corp, 10.0.0.0/8,
//!   <local>, <-loopback>`) with Chromium's implicit bypass of loopback and
//!   link-local addresses.
//! - [`PacScript`] runs a PAC script in a sandboxed QuickJS with every
//!   helper Chromium defines, a time limit per call and a memory limit.
//! - [`ProxyResolver`] puts them together: set a configuration, resolve URLs
//!   into a [`ProxyList`], whose `Display` is Chromium's PAC string
//!   (`PROXY foopy:80;DIRECT`) and whose entries ([`ProxyServer`]) are what
//!   a network stack connects through.
//!
//! Name resolution for PAC helpers ([`HostResolver`]) and fetching PAC
//! scripts ([`PacFetcher`]) are traits, which sesh-core implements with the
//! session's own network service.
//!
//! ```
//! use sesh_proxy_rules::{ProxyConfig, ProxyResolver};
//!
//! let resolver = ProxyResolver::default();
//! resolver.set_proxy(ProxyConfig {
//!     proxy_rules: Some("http=foopy:80;socks=socks5://bar".into()),
//!     proxy_bypass_rules: Some("*.internal, <local>".into()),
//!     ..Default::default()
//! });
//! let answer = |url: &str| resolver.resolve(url).unwrap().to_string();
//! assert_eq!(answer("http://example.com/"), "PROXY foopy:80");
//! assert_eq!(answer("ftp://example.com/"), "SOCKS5 bar:1080");
//! assert_eq!(answer("http://wiki.internal/"), "DIRECT");
//! assert_eq!(answer("http://127.0.0.1:8080/"), "DIRECT"); // implicit bypass
//!
//! # #[cfg(feature = "pac")] {
//! use sesh_proxy_rules::{PacOptions, PacScript};
//! let pac = PacScript::load(
//!     r#"function FindProxyForURL(url, host) {
//!          if (shExpMatch(host, "*.example.com")) return "PROXY p1:8080; DIRECT";
//!          return "DIRECT";
//!        }"#,
//!     PacOptions::default(),
//! ).unwrap();
//! let url = url::Url::parse("https://www.example.com/").unwrap();
//! assert_eq!(pac.find_proxy(&url).unwrap(), "PROXY p1:8080; DIRECT");
//! # }
//! ```
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod bypass;
mod config;
mod desktop;
mod error;
mod fast_url;
mod fetch;
#[cfg(feature = "pac")]
mod pac;
mod resolver;
mod retry;
mod rules;
mod server;
mod service;

pub use bypass::{BypassRules, matches_implicit_rules};
pub use config::{
    FixedServers, ProxyConfig, ProxyMode, SystemConfig, WPAD_URL, system_config_from_env,
};
pub use desktop::{GSettingsCommand, SettingsReader, desktop_uses_gsettings, gsettings_config};
pub use error::{Error, Result};
pub use fetch::{LocalFetcher, PacFetcher};
#[cfg(feature = "pac")]
pub use pac::{
    LogObserver, PacClock, PacObserver, PacOptions, PacScript, PacTime, SystemClock, script_url,
};
pub use resolver::{DnsOp, HostResolver, SystemResolver};
pub use retry::{DEFAULT_RETRY_DELAY, ProxyRetryList};
pub use rules::ProxyRules;
pub use server::{BadProxies, BadProxy, ProxyList, ProxyScheme, ProxyServer};
pub use service::{EnvReader, ProxyResolver, Resolution};
pub use url::Url;
