//! Name resolution for the PAC helpers.

use std::net::{IpAddr, ToSocketAddrs};

/// Which PAC helper asks, as Chromium distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DnsOp {
    /// `dnsResolve` / `isResolvable` / `isInNet`: the first IPv4 address is used.
    DnsResolve,
    /// `dnsResolveEx` / `isResolvableEx`: every address, IPv4 and IPv6.
    DnsResolveEx,
    /// `myIpAddress`: this machine's address (the first IPv4 one is used).
    MyIpAddress,
    /// `myIpAddressEx`: all of this machine's addresses.
    MyIpAddressEx,
}

/// Resolves names for the PAC helpers. sesh-core plugs in the session's
/// DNS; tests plug in a fixed map.
///
/// Calls are made from inside the script and block it, so an
/// implementation should answer from a cache or within a bounded time.
pub trait HostResolver: Send + Sync {
    /// The addresses of `host` (punycode, never empty for the `DnsResolve*`
    /// operations; empty for the `MyIpAddress*` ones). `None` or an empty
    /// list means the lookup failed.
    fn resolve(&self, host: &str, op: DnsOp) -> Option<Vec<IpAddr>>;
}

/// Resolution through the operating system (`getaddrinfo`). `myIpAddress`
/// resolves this machine's host name and prefers an address that is not
/// loopback; when that fails the helpers answer as Chromium does
/// (`127.0.0.1` for `myIpAddress`, `""` for `myIpAddressEx`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl HostResolver for SystemResolver {
    fn resolve(&self, host: &str, op: DnsOp) -> Option<Vec<IpAddr>> {
        let name = match op {
            DnsOp::DnsResolve | DnsOp::DnsResolveEx => host.to_owned(),
            DnsOp::MyIpAddress | DnsOp::MyIpAddressEx => local_host_name()?,
        };
        let mut addrs: Vec<IpAddr> = (name.as_str(), 0)
            .to_socket_addrs()
            .ok()?
            .map(|a| a.ip())
            .collect();
        addrs.dedup();
        if matches!(op, DnsOp::MyIpAddress | DnsOp::MyIpAddressEx) {
            // Prefer addresses another machine could reach.
            addrs.sort_by_key(|a| a.is_loopback());
        }
        (!addrs.is_empty()).then_some(addrs)
    }
}

fn local_host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}
