//! Proxy servers, their URI and PAC spellings, and proxy lists.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How sesh talks to a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyScheme {
    /// An HTTP proxy (`PROXY` in PAC form): absolute-form requests for http
    /// URLs, `CONNECT` tunnels for the rest.
    Http,
    /// An HTTP proxy reached over TLS (`HTTPS`).
    Https,
    /// SOCKS version 4 (`SOCKS`; `socks4://` in URI form).
    Socks4,
    /// SOCKS version 5 (`SOCKS5`).
    Socks5,
    /// QUIC (`QUIC`): accepted in PAC results, refused in proxy rules as
    /// Chromium refuses it by default.
    Quic,
}

impl ProxyScheme {
    /// The port used when none is written: 80 for HTTP, 443 for HTTPS and
    /// QUIC, 1080 for SOCKS.
    pub fn default_port(self) -> u16 {
        match self {
            ProxyScheme::Http => 80,
            ProxyScheme::Https | ProxyScheme::Quic => 443,
            ProxyScheme::Socks4 | ProxyScheme::Socks5 => 1080,
        }
    }

    /// The keyword of the PAC form (`PROXY`, `HTTPS`, `SOCKS`, `SOCKS5`,
    /// `QUIC`).
    pub fn pac_keyword(self) -> &'static str {
        match self {
            ProxyScheme::Http => "PROXY",
            ProxyScheme::Https => "HTTPS",
            ProxyScheme::Socks4 => "SOCKS",
            ProxyScheme::Socks5 => "SOCKS5",
            ProxyScheme::Quic => "QUIC",
        }
    }

    /// The scheme of the URI form (`http`, `https`, `socks4`, `socks5`,
    /// `quic`).
    pub fn uri_scheme(self) -> &'static str {
        match self {
            ProxyScheme::Http => "http",
            ProxyScheme::Https => "https",
            ProxyScheme::Socks4 => "socks4",
            ProxyScheme::Socks5 => "socks5",
            ProxyScheme::Quic => "quic",
        }
    }

    /// The scheme of a URI-form prefix, case-insensitive, as Chromium reads
    /// it (`socks` is SOCKS4). `direct` is not a proxy scheme: `None`.
    fn from_uri_scheme(s: &str) -> Option<ProxyScheme> {
        Some(match s.to_ascii_lowercase().as_str() {
            "http" => ProxyScheme::Http,
            "https" => ProxyScheme::Https,
            "socks" | "socks4" => ProxyScheme::Socks4,
            "socks5" => ProxyScheme::Socks5,
            "quic" => ProxyScheme::Quic,
            _ => return None,
        })
    }

    /// The scheme of a PAC keyword, case-insensitive.
    fn from_pac_keyword(s: &str) -> Option<ProxyScheme> {
        Some(match s.to_ascii_lowercase().as_str() {
            "proxy" => ProxyScheme::Http,
            "https" => ProxyScheme::Https,
            "socks" | "socks4" => ProxyScheme::Socks4,
            "socks5" => ProxyScheme::Socks5,
            "quic" => ProxyScheme::Quic,
            _ => return None,
        })
    }
}

/// One entry of a proxy list: go direct, or through one proxy.
///
/// Its `Display` is the PAC form (`PROXY foopy:80`, `DIRECT`); its JSON is
/// `{"scheme": "direct"}` or `{"scheme": "http", "host": "foopy", "port": 80}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProxyServer {
    /// No proxy.
    Direct,
    /// Through a proxy.
    Proxy {
        /// How to talk to it.
        scheme: ProxyScheme,
        /// Its canonical host: lower case, IDN in punycode, IPv4 in dotted
        /// form, IPv6 in brackets (`[::1]`).
        host: String,
        /// Its port (the scheme's default when none was written).
        port: u16,
    },
}

impl ProxyServer {
    /// Whether this is `DIRECT`.
    pub fn is_direct(&self) -> bool {
        matches!(self, ProxyServer::Direct)
    }

    /// The host to connect to, without the brackets of an IPv6 literal.
    pub fn connect_host(&self) -> Option<&str> {
        match self {
            ProxyServer::Direct => None,
            ProxyServer::Proxy { host, .. } => {
                Some(host.trim_start_matches('[').trim_end_matches(']'))
            }
        }
    }

    /// The URI form Chromium prints: `foopy:80` for HTTP, `socks5://foopy:1080`,
    /// `https://foopy:443`, `direct://`.
    pub fn to_uri(&self) -> String {
        match self {
            ProxyServer::Direct => "direct://".to_owned(),
            ProxyServer::Proxy {
                scheme: ProxyScheme::Http,
                host,
                port,
            } => format!("{host}:{port}"),
            ProxyServer::Proxy { scheme, host, port } => {
                format!("{}://{host}:{port}", scheme.uri_scheme())
            }
        }
    }

    /// Parses one proxy URI, `[scheme://]host[:port]`, as an entry of a
    /// proxy list: `direct://` is [`ProxyServer::Direct`]; a URI without a
    /// scheme uses `default_scheme`; surrounding spaces and tabs are ignored;
    /// QUIC is refused unless `allow_quic`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidProxy`] naming the entry and what is wrong with it.
    pub fn parse_uri(token: &str, default_scheme: ProxyScheme, allow_quic: bool) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidProxy {
            token: token.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = trim_lws(token);
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        let (scheme, rest) = match trimmed.find("://") {
            Some(i) => {
                let name = &trimmed[..i];
                let rest = &trimmed[i + 3..];
                if name.eq_ignore_ascii_case("direct") {
                    return if rest.is_empty() {
                        Ok(ProxyServer::Direct)
                    } else {
                        Err(invalid("direct:// takes no host"))
                    };
                }
                let scheme = ProxyScheme::from_uri_scheme(name).ok_or_else(|| {
                    invalid("its scheme is not http, https, socks, socks4, socks5 or direct")
                })?;
                (scheme, rest)
            }
            None => (default_scheme, trimmed),
        };
        if scheme == ProxyScheme::Quic && !allow_quic {
            return Err(invalid("QUIC proxies are not allowed in proxy rules"));
        }
        let (host, port) = parse_host_port(rest, scheme.default_port()).map_err(|r| invalid(&r))?;
        Ok(ProxyServer::Proxy { scheme, host, port })
    }

    /// Parses one entry of a PAC result (`PROXY host:port`, `DIRECT`,
    /// `SOCKS5 host`…), keyword case-insensitive.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidProxy`] naming the entry.
    pub fn parse_pac_element(element: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidProxy {
            token: element.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = trim_lws(element);
        let (keyword, rest) = match trimmed.find([' ', '\t']) {
            Some(i) => (&trimmed[..i], trim_lws(&trimmed[i..])),
            None => (trimmed, ""),
        };
        if keyword.eq_ignore_ascii_case("direct") {
            return Ok(ProxyServer::Direct);
        }
        let scheme = ProxyScheme::from_pac_keyword(keyword).ok_or_else(|| {
            invalid("the keyword is not DIRECT, PROXY, HTTPS, SOCKS, SOCKS4, SOCKS5 or QUIC")
        })?;
        if rest.is_empty() {
            return Err(invalid("no host is given"));
        }
        let (host, port) = parse_host_port(rest, scheme.default_port()).map_err(|r| invalid(&r))?;
        Ok(ProxyServer::Proxy { scheme, host, port })
    }
}

impl Serialize for ProxyServer {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            ProxyServer::Direct => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("scheme", "direct")?;
                map.end()
            }
            ProxyServer::Proxy { scheme, host, port } => {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("scheme", scheme)?;
                map.serialize_entry("host", host)?;
                map.serialize_entry("port", port)?;
                map.end()
            }
        }
    }
}

impl fmt::Display for ProxyServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyServer::Direct => f.write_str("DIRECT"),
            ProxyServer::Proxy { scheme, host, port } => {
                write!(f, "{} {host}:{port}", scheme.pac_keyword())
            }
        }
    }
}

/// Spaces and tabs, what Chromium trims around proxy URIs (HTTP LWS).
pub(crate) fn trim_lws(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// `host[:port]` or `[v6]:port`, with the host made canonical.
fn parse_host_port(s: &str, default_port: u16) -> std::result::Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| "an IPv6 address lacks its closing ']'".to_owned())?;
        let after = &rest[end + 1..];
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected {p:?} after the IPv6 address"))?,
            ),
        };
        (&s[..end + 2], port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => {
                if p.contains(':') {
                    return Err("an IPv6 address must be in brackets".into());
                }
                (h, Some(p))
            }
            None => (s, None),
        }
    };
    let port = match port {
        None => default_port,
        Some(p) => parse_port(p)?,
    };
    if host.is_empty() {
        return Err("no host is given".into());
    }
    Ok((canonical_host(host)?, port))
}

fn parse_port(p: &str) -> std::result::Result<u16, String> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the port {p:?} is not a number"));
    }
    p.parse::<u16>()
        .map_err(|_| format!("the port {p} is out of range (0-65535)"))
}

/// The canonical spelling of a host, as a URL parser would write it.
pub(crate) fn canonical_host(host: &str) -> std::result::Result<String, String> {
    if host.contains(['@', '/', '?', '#', '\\']) {
        return Err(format!(
            "{host:?} is not a host name (credentials and paths are not allowed)"
        ));
    }
    match url::Host::parse(host) {
        Ok(url::Host::Domain(d)) => Ok(d),
        Ok(url::Host::Ipv4(ip)) => Ok(ip.to_string()),
        Ok(url::Host::Ipv6(ip)) => Ok(format!("[{ip}]")),
        Err(e) => Err(format!("{host:?} is not a valid host: {e}")),
    }
}

/// An ordered list of ways to reach a URL: the first that works is used.
///
/// Its `Display` is Chromium's PAC string, entries joined by `;` with no
/// space: what `ses.resolveProxy(url)` returns.
///
/// Cloning is cheap (the entries are shared).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyList(Arc<[ProxyServer]>);

impl Serialize for ProxyList {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

impl Default for ProxyList {
    fn default() -> Self {
        ProxyList(Arc::from(Vec::new()))
    }
}

impl From<Vec<ProxyServer>> for ProxyList {
    fn from(servers: Vec<ProxyServer>) -> Self {
        ProxyList(servers.into())
    }
}

impl ProxyList {
    /// A list of these entries, in this order.
    pub fn new(servers: Vec<ProxyServer>) -> Self {
        servers.into()
    }

    /// The list with only `DIRECT` (one list shared by every caller: most
    /// requests of most sessions go direct).
    pub fn direct() -> Self {
        static DIRECT: std::sync::LazyLock<ProxyList> =
            std::sync::LazyLock::new(|| vec![ProxyServer::Direct].into());
        DIRECT.clone()
    }

    /// The entries, in order.
    pub fn servers(&self) -> &[ProxyServer] {
        &self.0
    }

    /// Whether the list has no entry (every entry of the rules was invalid);
    /// its PAC string is then empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses a PAC result the way Chromium does: entries separated by `;`,
    /// empty ones skipped, invalid ones dropped, and `DIRECT` when nothing at
    /// all is left.
    pub fn from_pac_string(pac: &str) -> Self {
        Self::from_pac_string_with_errors(pac).0
    }

    /// As [`ProxyList::from_pac_string`], also returning the dropped entries.
    pub fn from_pac_string_with_errors(pac: &str) -> (Self, Vec<Error>) {
        let mut list = Vec::new();
        let mut errors = Vec::new();
        for element in pac.split(';') {
            if trim_lws(element).is_empty() {
                continue;
            }
            match ProxyServer::parse_pac_element(element) {
                Ok(server) => list.push(server),
                Err(e) => errors.push(e),
            }
        }
        if list.is_empty() {
            list.push(ProxyServer::Direct);
        }
        (list.into(), errors)
    }

    /// The list with the proxies `bad` says are failing moved to the end, in
    /// their order, as Chromium's `ProxyList::DeprioritizeBadProxyChains`
    /// does; a bad proxy that must not be tried while bad is removed. When
    /// every entry is bad, the list is returned as it is.
    pub fn deprioritize(&self, bad: &dyn BadProxies) -> ProxyList {
        let mut good = Vec::new();
        let mut bad_ones = Vec::new();
        for server in self.0.iter() {
            match bad.status(server) {
                None => good.push(server.clone()),
                Some(BadProxy {
                    try_while_bad: true,
                }) => bad_ones.push(server.clone()),
                Some(BadProxy {
                    try_while_bad: false,
                }) => {}
            }
        }
        if good.is_empty() {
            return self.clone();
        }
        good.extend(bad_ones);
        good.into()
    }
}

impl fmt::Display for ProxyList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, server) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{server}")?;
        }
        Ok(())
    }
}

impl FromStr for ProxyList {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(ProxyList::from_pac_string(s))
    }
}

/// What the bad-proxy list knows of one proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadProxy {
    /// Whether to try it anyway, after the good ones, while it is marked bad.
    pub try_while_bad: bool,
}

/// The bad-proxy list: proxies that failed recently and are tried last (or
/// not at all) for a while. The network service keeps one per session
/// (Chromium: 5 minutes per failure).
pub trait BadProxies {
    /// Whether `server` is currently marked bad.
    fn status(&self, server: &ProxyServer) -> Option<BadProxy>;
}

impl BadProxies for std::collections::HashMap<ProxyServer, BadProxy> {
    fn status(&self, server: &ProxyServer) -> Option<BadProxy> {
        self.get(server).copied()
    }
}

/// Parses an IP literal the way a URL host would be read: IPv4 in dotted
/// form (or the other forms URL parsers accept), IPv6 with or without
/// brackets.
pub(crate) fn parse_ip_literal(host: &str) -> Option<IpAddr> {
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    inner.parse::<IpAddr>().ok()
}
