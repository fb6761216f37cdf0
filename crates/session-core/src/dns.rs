//! The session's host resolver: hickory-resolver with its cache, on a
//! thread of its own so that it serves the async network service and the
//! (blocking) PAC helpers alike.
//!
//! As Chromium's resolver does, IP literals and `localhost` (and any name
//! under `.localhost`) are answered without a query; `/etc/hosts` comes
//! next; then the DNS servers of the configuration, or of the system
//! (`/etc/resolv.conf`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

/// Where a session's names are resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostResolverConfig {
    /// DNS servers (`ip:port`), asked in order over UDP (TCP for long
    /// answers); empty: the system's (`/etc/resolv.conf`).
    #[serde(default)]
    pub nameservers: Vec<SocketAddr>,
}

/// How many answers the cache keeps (Chromium's host cache: 1000).
const CACHE_SIZE: u64 = 1000;

/// How long a lookup may take before it fails.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host}: {reason}")]
pub struct LookupError {
    /// The name.
    pub host: String,
    /// What the resolver said.
    pub reason: String,
}

struct Running {
    resolver: TokioResolver,
    runtime: tokio::runtime::Handle,
    /// Dropped with the resolver: its thread ends.
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A session's host resolver. Cloning shares it (and its cache).
#[derive(Clone, Default)]
pub struct HostResolver {
    state: Arc<Mutex<(HostResolverConfig, Option<Arc<Running>>)>>,
}

impl std::fmt::Debug for HostResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostResolver")
            .field("config", &self.config())
            .finish_non_exhaustive()
    }
}

/// Chromium's answer for names it never asks DNS about.
fn without_query(host: &str) -> Option<Vec<IpAddr>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(vec![ip]);
    }
    let lower = bare.trim_end_matches('.').to_ascii_lowercase();
    (lower == "localhost" || lower.ends_with(".localhost")).then(|| {
        vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]
    })
}

impl HostResolver {
    /// The configuration in force.
    pub fn config(&self) -> HostResolverConfig {
        self.lock().0.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HostResolverConfig, Option<Arc<Running>>)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Uses `config` from now on; the cache starts empty.
    pub fn configure(&self, config: HostResolverConfig) {
        *self.lock() = (config, None);
    }

    /// `ses.clearHostResolverCache()`: forgets every cached answer.
    pub fn clear_cache(&self) {
        if let Some(running) = &self.lock().1 {
            running.resolver.clear_cache();
        }
    }

    /// The resolver, started on first use.
    fn running(&self) -> Result<Arc<Running>, String> {
        let mut state = self.lock();
        if let Some(running) = &state.1 {
            return Ok(running.clone());
        }
        let (config, mut options) = if state.0.nameservers.is_empty() {
            match hickory_resolver::system_conf::read_system_conf() {
                Ok(system) => system,
                // No resolv.conf: the hosts file still answers.
                Err(_) => (
                    ResolverConfig::from_parts(None, vec![], vec![]),
                    ResolverOpts::default(),
                ),
            }
        } else {
            let servers = state
                .0
                .nameservers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            (
                ResolverConfig::from_parts(None, vec![], servers),
                ResolverOpts::default(),
            )
        };
        options.cache_size = CACHE_SIZE;
        options.use_hosts_file = ResolveHosts::Always;
        options.timeout = Duration::from_secs(3);
        options.attempts = 2;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the resolver's runtime: {e}"))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("sesh-dns".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| format!("cannot start the resolver's thread: {e}"))?;
        let resolver = {
            let _entered = handle.enter();
            hickory_resolver::Resolver::builder_with_config(config, TokioRuntimeProvider::default())
                .with_options(options)
                .build()
                .map_err(|e| format!("cannot build the resolver: {e}"))?
        };
        let running = Arc::new(Running {
            resolver,
            runtime: handle,
            _stop: stop,
        });
        state.1 = Some(running.clone());
        Ok(running)
    }

    /// The addresses of `host`, IPv4 first.
    ///
    /// # Errors
    ///
    /// A [`LookupError`] when the name does not resolve (no such name, no
    /// address, no answer in time).
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, LookupError> {
        if let Some(ips) = without_query(host) {
            return Ok(ips);
        }
        let fail = |reason: String| LookupError {
            host: host.to_owned(),
            reason,
        };
        let running = self.running().map_err(fail)?;
        let name = host.to_owned();
        let task = running.runtime.spawn({
            let running = running.clone();
            async move {
                tokio::time::timeout(LOOKUP_TIMEOUT, running.resolver.lookup_ip(name.as_str()))
                    .await
                    .map_err(|_| "no answer in time".to_owned())?
                    .map(|found| found.iter().collect::<Vec<IpAddr>>())
                    .map_err(|e| e.to_string())
            }
        });
        let mut ips = task
            .await
            .map_err(|e| fail(format!("the lookup stopped: {e}")))?
            .map_err(fail)?;
        if ips.is_empty() {
            return Err(fail("no address".into()));
        }
        ips.sort_by_key(|ip| ip.is_ipv6());
        Ok(ips)
    }

    /// [`HostResolver::lookup`] for a caller that may block (a PAC
    /// helper): waits for the resolver's thread.
    pub fn lookup_blocking(&self, host: &str) -> Result<Vec<IpAddr>, LookupError> {
        if let Some(ips) = without_query(host) {
            return Ok(ips);
        }
        let running = self.running().map_err(|reason| LookupError {
            host: host.to_owned(),
            reason,
        })?;
        let (tx, rx) = std::sync::mpsc::channel();
        let this = self.clone();
        let name = host.to_owned();
        running.runtime.spawn(async move {
            let _ = tx.send(this.lookup(&name).await);
        });
        rx.recv_timeout(LOOKUP_TIMEOUT + Duration::from_secs(1))
            .unwrap_or_else(|_| {
                Err(LookupError {
                    host: host.to_owned(),
                    reason: "no answer in time".into(),
                })
            })
    }
}

/// The session's resolver as the PAC helpers' (`dnsResolve`,
/// `isResolvable`, `isInNet`…); `myIpAddress` keeps the operating system's
/// answer (this machine's own name and interfaces).
#[cfg(feature = "pac")]
pub(crate) struct PacDns(pub(crate) HostResolver);

#[cfg(feature = "pac")]
impl sesh_proxy_rules::HostResolver for PacDns {
    fn resolve(&self, host: &str, op: sesh_proxy_rules::DnsOp) -> Option<Vec<IpAddr>> {
        use sesh_proxy_rules::DnsOp;
        match op {
            DnsOp::MyIpAddress | DnsOp::MyIpAddressEx => {
                sesh_proxy_rules::SystemResolver.resolve(host, op)
            }
            _ => self.0.lookup_blocking(host).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_localhost_need_no_query() {
        assert_eq!(
            without_query("[::1]"),
            Some(vec![IpAddr::V6(Ipv6Addr::LOCALHOST)])
        );
        assert_eq!(
            without_query("10.1.2.3"),
            Some(vec!["10.1.2.3".parse().unwrap()])
        );
        let loopback = Some(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]);
        assert_eq!(without_query("LocalHost"), loopback);
        assert_eq!(without_query("app.localhost."), loopback);
        assert_eq!(without_query("localhost.example"), None);
        assert_eq!(without_query("example.com"), None);
    }
}
