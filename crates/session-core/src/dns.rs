//! The session's host resolver: hickory-resolver with its cache, on a
//! thread of its own so that it serves the async network service and the
//! (blocking) PAC helpers alike.
//!
//! As Chromium's resolver does, IP literals and `localhost` (and any name
//! under `.localhost`) are answered without a query; `/etc/hosts` comes
//! next; then the DNS servers of the configuration, or of the system
//! (`/etc/resolv.conf`). Answers are kept in a host cache of the session's
//! own (Chromium's `HostCache`: 1,000 entries, each for its DNS TTL but a
//! minute at least, a minute for the system resolver's), which
//! `ses.resolveHost`'s options read, skip or take stale.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::Query;
use hickory_resolver::proto::rr::{Name, RecordType};
use sesh_cert_verify::NetError;

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

/// How long the system resolver's answers are kept (Chromium's
/// `kCacheEntryTTLSeconds`: it learns no TTL from `getaddrinfo`).
const SYSTEM_TTL: Duration = Duration::from_secs(60);

/// What DNS answers for a name that collides with a private one (ICANN's
/// name collision occurrence management).
const ICANN_NAME_COLLISION: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 53);

/// The least time a DNS answer is kept, whatever its TTL (Chromium's
/// `kMinimumTTLSeconds`, the same minute).
const MINIMUM_TTL: Duration = SYSTEM_TTL;

/// `ResolveHostOptions.queryType`: the one address family asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum QueryType {
    /// IPv4 addresses only (`'A'`).
    A,
    /// IPv6 addresses only (`'AAAA'`).
    #[serde(rename = "AAAA")]
    Aaaa,
}

/// `ResolveHostOptions.source`: where the answer may come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HostResolverSource {
    /// The resolver's choice: for sesh, its own DNS client (`'any'`).
    #[default]
    Any,
    /// The operating system's resolver, `getaddrinfo` (`'system'`).
    System,
    /// The session's DNS client (`'dns'`).
    Dns,
    /// Multicast DNS (`'mdns'`): not supported, answers
    /// `net::ERR_NOT_IMPLEMENTED`.
    Mdns,
    /// Without a query: IP literals, `localhost`, the hosts file and the
    /// cache only; otherwise `net::ERR_DNS_CACHE_MISS` (`'localOnly'`).
    LocalOnly,
}

/// `ResolveHostOptions.cacheUsage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CacheUsage {
    /// A fresh cached answer is used (`'allowed'`).
    #[default]
    Allowed,
    /// A cached answer is used even past its TTL (`'staleAllowed'`).
    StaleAllowed,
    /// The cache is not read; the answer still goes into it
    /// (`'disallowed'`).
    Disallowed,
}

/// `ResolveHostOptions.secureDnsPolicy`. sesh has no DNS-over-HTTPS, so
/// both resolve the same way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SecureDnsPolicy {
    /// Secure DNS where configured (`'allow'`).
    #[default]
    Allow,
    /// Never secure DNS (`'disable'`).
    Disable,
}

macro_rules! electron_names {
    ($ty:ty, $what:literal, $($name:literal => $value:expr),+) => {
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok($value),)+
                    other => Err(format!(
                        concat!("unknown ", $what, " {:?}: expected {}"),
                        other,
                        [$($name),+].join(", ")
                    )),
                }
            }
        }
    };
}
electron_names!(QueryType, "query type", "A" => QueryType::A, "AAAA" => QueryType::Aaaa);
electron_names!(HostResolverSource, "source",
    "any" => HostResolverSource::Any, "system" => HostResolverSource::System,
    "dns" => HostResolverSource::Dns, "mdns" => HostResolverSource::Mdns,
    "localOnly" => HostResolverSource::LocalOnly);
electron_names!(CacheUsage, "cache usage",
    "allowed" => CacheUsage::Allowed, "staleAllowed" => CacheUsage::StaleAllowed,
    "disallowed" => CacheUsage::Disallowed);
electron_names!(SecureDnsPolicy, "secure DNS policy",
    "allow" => SecureDnsPolicy::Allow, "disable" => SecureDnsPolicy::Disable);

/// Electron's `ResolveHostOptions` (every field optional there; the
/// defaults here are its defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResolveHostOptions {
    /// One address family only; `None`: both.
    pub query_type: Option<QueryType>,
    /// Where the answer may come from.
    pub source: HostResolverSource,
    /// How the host cache is used.
    pub cache_usage: CacheUsage,
    /// Secure DNS (the same either way in sesh).
    pub secure_dns_policy: SecureDnsPolicy,
}

/// An address's family, as `ResolvedEndpoint.family` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressFamily {
    /// `'ipv4'`.
    Ipv4,
    /// `'ipv6'`.
    Ipv6,
    /// `'unspec'` (never produced for an address sesh returns).
    Unspec,
}

/// Electron's `ResolvedEndpoint`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResolvedEndpoint {
    /// The address, as text (`"127.0.0.1"`, `"::1"`).
    pub address: String,
    /// Its family.
    pub family: AddressFamily,
}

/// Electron's `ResolvedHost`: what `ses.resolveHost` answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResolvedHost {
    /// The addresses, IPv4 first.
    pub endpoints: Vec<ResolvedEndpoint>,
}

impl ResolvedHost {
    fn of(ips: &[IpAddr]) -> ResolvedHost {
        ResolvedHost {
            endpoints: ips
                .iter()
                .map(|ip| ResolvedEndpoint {
                    address: ip.to_string(),
                    family: if ip.is_ipv4() {
                        AddressFamily::Ipv4
                    } else {
                        AddressFamily::Ipv6
                    },
                })
                .collect(),
        }
    }
}

/// Why `ses.resolveHost` failed: Chromium's net error
/// (`net::ERR_NAME_NOT_RESOLVED`, `net::ERR_DNS_CACHE_MISS` for a
/// `localOnly` miss, `net::ERR_NOT_IMPLEMENTED` for mDNS) and the name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error} ({host}): {detail}")]
pub struct ResolveHostError {
    /// The net error.
    pub error: NetError,
    /// The name asked about.
    pub host: String,
    /// What happened, in words.
    pub detail: String,
}

/// Which answer a cache entry is: the name (lower case, no final dot),
/// the family asked for (`None`: both) and whether the system resolver
/// gave it.
type CacheKey = (String, Option<QueryType>, bool);

/// A cached answer and when its TTL ends.
struct Cached {
    ips: Vec<IpAddr>,
    expires: Instant,
}

/// The session's host cache (Chromium's `HostCache`), on Tokio's clock.
#[derive(Default)]
struct HostCache(HashMap<CacheKey, Cached>);

impl HostCache {
    fn get(&self, key: &CacheKey, stale: bool) -> Option<Vec<IpAddr>> {
        let cached = self.0.get(key)?;
        (stale || cached.expires > Instant::now()).then(|| cached.ips.clone())
    }

    fn put(&mut self, key: CacheKey, ips: Vec<IpAddr>, expires: Instant) {
        if self.0.len() >= CACHE_SIZE as usize && !self.0.contains_key(&key) {
            // Full: expired answers go first, then the one ending soonest.
            let now = Instant::now();
            self.0.retain(|_, c| c.expires > now);
            if self.0.len() >= CACHE_SIZE as usize
                && let Some(soonest) = self
                    .0
                    .iter()
                    .min_by_key(|(_, c)| c.expires)
                    .map(|(k, _)| k.clone())
            {
                self.0.remove(&soonest);
            }
        }
        self.0.insert(key, Cached { ips, expires });
    }
}

/// Why a name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host}: {reason}")]
pub struct LookupError {
    /// The name.
    pub host: String,
    /// What the resolver said.
    pub reason: String,
    /// Chromium's net error for it: `net::ERR_NAME_NOT_RESOLVED`, or
    /// `net::ERR_ICANN_NAME_COLLISION` when DNS answered 127.0.53.53.
    pub error: NetError,
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
    cache: Arc<Mutex<HostCache>>,
    /// The hosts file, read on the first `localOnly` question.
    hosts: Arc<OnceLock<hickory_resolver::Hosts>>,
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
        self.clear_cache();
    }

    /// `ses.clearHostResolverCache()`: forgets every cached answer.
    pub fn clear_cache(&self) {
        self.cache_lock().0.clear();
    }

    fn cache_lock(&self) -> std::sync::MutexGuard<'_, HostCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
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
        // The session's own cache keeps the answers (hickory's would
        // answer before `cacheUsage` could say not to).
        options.cache_size = 0;
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

    /// The addresses of `host`, IPv4 first, through the cache.
    ///
    /// # Errors
    ///
    /// A [`LookupError`] when the name does not resolve (no such name, no
    /// address, no answer in time).
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, LookupError> {
        if let Some(ips) = without_query(host) {
            return Ok(ips);
        }
        self.resolve_ips(host, &ResolveHostOptions::default())
            .await
            .map_err(|e| LookupError {
                host: e.host,
                reason: e.detail,
                error: e.error,
            })
    }

    /// `ses.resolveHost(host, options)`: the addresses of `host` as
    /// Electron gives them, with its options for the address family, the
    /// source and the cache.
    ///
    /// # Errors
    ///
    /// A [`ResolveHostError`]: `net::ERR_NAME_NOT_RESOLVED` when the name
    /// has no address (of the family asked for), `net::ERR_DNS_CACHE_MISS`
    /// when `localOnly` finds nothing, `net::ERR_NOT_IMPLEMENTED` for mDNS,
    /// `net::ERR_ICANN_NAME_COLLISION` when DNS answered 127.0.53.53.
    pub async fn resolve_host(
        &self,
        host: &str,
        options: &ResolveHostOptions,
    ) -> Result<ResolvedHost, ResolveHostError> {
        self.resolve_ips(host, options)
            .await
            .map(|ips| ResolvedHost::of(&ips))
    }

    async fn resolve_ips(
        &self,
        host: &str,
        options: &ResolveHostOptions,
    ) -> Result<Vec<IpAddr>, ResolveHostError> {
        let fail = |code: i32, detail: String| ResolveHostError {
            error: NetError::from_code(code),
            host: host.to_owned(),
            detail,
        };
        let family = options.query_type;
        let of_family = |ips: Vec<IpAddr>| -> Result<Vec<IpAddr>, ResolveHostError> {
            let ips: Vec<IpAddr> = ips
                .into_iter()
                .filter(|ip| match family {
                    None => true,
                    Some(QueryType::A) => ip.is_ipv4(),
                    Some(QueryType::Aaaa) => ip.is_ipv6(),
                })
                .collect();
            if ips.is_empty() {
                Err(fail(-105, "no address of the family asked for".into()))
            } else {
                Ok(ips)
            }
        };
        if let Some(ips) = without_query(host) {
            return of_family(ips);
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() || name.contains(['/', ' ', '\0', ':']) {
            return Err(fail(-105, "not a host name".into()));
        }
        let system = options.source == HostResolverSource::System;
        let key: CacheKey = (name.clone(), family, system);
        match options.source {
            HostResolverSource::Mdns => {
                return Err(fail(-11, "multicast DNS is not supported".into()));
            }
            HostResolverSource::LocalOnly => {
                if let Some(ips) = self.hosts_file_answer(&name, family) {
                    return Ok(ips);
                }
                let stale = options.cache_usage == CacheUsage::StaleAllowed;
                // Any source's answer will do, and for one family an
                // answer for both (a fetch's) too.
                let keys = [(family, false), (family, true), (None, false), (None, true)];
                let cached = (options.cache_usage != CacheUsage::Disallowed)
                    .then(|| {
                        keys.into_iter().find_map(|(asked, system)| {
                            self.cache_lock()
                                .get(&(name.clone(), asked, system), stale)
                                .and_then(|ips| of_family(ips).ok())
                        })
                    })
                    .flatten();
                return cached.ok_or_else(|| fail(-804, "not in the host cache".into()));
            }
            HostResolverSource::Any | HostResolverSource::Dns | HostResolverSource::System => {}
        }
        if options.cache_usage != CacheUsage::Disallowed
            && let Some(ips) = self
                .cache_lock()
                .get(&key, options.cache_usage == CacheUsage::StaleAllowed)
        {
            return Ok(ips);
        }
        let (ips, expires) = if system {
            self.ask_system(&name).await
        } else {
            self.ask_dns(&name, family).await
        }
        .map_err(|detail| fail(-105, detail))?;
        // The address ICANN has names that collide with private ones
        // answer (Chromium's ContainsIcannNameCollisionIp, DNS answers
        // only): an error, not kept.
        if !system && ips.contains(&IpAddr::V4(ICANN_NAME_COLLISION)) {
            return Err(fail(
                -166,
                "DNS answered 127.0.53.53, ICANN's name collision address".into(),
            ));
        }
        let mut ips = of_family(ips)?;
        ips.sort_by_key(|ip| ip.is_ipv6());
        self.cache_lock().put(key, ips.clone(), expires);
        Ok(ips)
    }

    /// The hosts file's answer for `name`.
    fn hosts_file_answer(&self, name: &str, family: Option<QueryType>) -> Option<Vec<IpAddr>> {
        let hosts = self
            .hosts
            .get_or_init(|| hickory_resolver::Hosts::from_system().unwrap_or_default());
        let name = Name::from_str(name).ok()?;
        let types: &[RecordType] = match family {
            None => &[RecordType::A, RecordType::AAAA],
            Some(QueryType::A) => &[RecordType::A],
            Some(QueryType::Aaaa) => &[RecordType::AAAA],
        };
        let ips: Vec<IpAddr> = types
            .iter()
            .filter_map(|t| hosts.lookup_static_host(&Query::query(name.clone(), *t)))
            .flat_map(|found| {
                found
                    .answers()
                    .iter()
                    .filter_map(|r| r.data.ip_addr())
                    .collect::<Vec<_>>()
            })
            .collect();
        (!ips.is_empty()).then_some(ips)
    }

    /// The operating system's answer (`getaddrinfo`) and until when to
    /// keep it.
    async fn ask_system(&self, name: &str) -> Result<(Vec<IpAddr>, Instant), String> {
        let found = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((name, 0)))
            .await
            .map_err(|_| "no answer in time".to_owned())?
            .map_err(|e| e.to_string())?;
        let mut ips: Vec<IpAddr> = Vec::new();
        for addr in found {
            if !ips.contains(&addr.ip()) {
                ips.push(addr.ip());
            }
        }
        Ok((ips, Instant::now() + SYSTEM_TTL))
    }

    /// The DNS servers' answer (the hosts file first) and its TTL's end
    /// (a minute at least, as in Chromium).
    async fn ask_dns(
        &self,
        name: &str,
        family: Option<QueryType>,
    ) -> Result<(Vec<IpAddr>, Instant), String> {
        let running = self.running()?;
        let name = name.to_owned();
        let task = running.runtime.spawn({
            let running = running.clone();
            async move {
                let resolver = &running.resolver;
                let found = async {
                    match family {
                        None => resolver.lookup_ip(name.as_str()).await.map(|found| {
                            (
                                found.iter().collect::<Vec<IpAddr>>(),
                                Instant::from_std(found.valid_until()),
                            )
                        }),
                        Some(t) => {
                            let record = match t {
                                QueryType::A => RecordType::A,
                                QueryType::Aaaa => RecordType::AAAA,
                            };
                            resolver.lookup(name.as_str(), record).await.map(|found| {
                                let ips = found
                                    .answers()
                                    .iter()
                                    .filter_map(|r| r.data.ip_addr())
                                    .collect();
                                (ips, Instant::from_std(found.valid_until()))
                            })
                        }
                    }
                };
                tokio::time::timeout(LOOKUP_TIMEOUT, found)
                    .await
                    .map_err(|_| "no answer in time".to_owned())?
                    .map_err(|e| e.to_string())
            }
        });
        let (ips, expires) = task
            .await
            .map_err(|e| format!("the lookup stopped: {e}"))??;
        if ips.is_empty() {
            return Err("no address".into());
        }
        Ok((ips, expires.max(Instant::now() + MINIMUM_TTL)))
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
            error: NetError::from_code(-105),
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
                    error: NetError::from_code(-105),
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
