//! `proxyBypassRules`: which URLs skip the proxy.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

use crate::Error;
use crate::server::parse_ip_literal;

/// One bypass rule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    /// `<local>`: host names without a dot (and not IP literals).
    Local,
    /// `<-loopback>`: URLs the implicit rules would bypass are proxied.
    SubtractImplicit,
    /// An IP literal, with an optional scheme and port.
    IpHost {
        scheme: Option<String>,
        ip: IpAddr,
        port: Option<u16>,
    },
    /// A CIDR block (`192.168.0.0/16`, `fe80::/10`).
    IpBlock {
        raw: String,
        scheme: Option<String>,
        prefix: IpAddr,
        len: u8,
    },
    /// A host-name pattern: `*` matches any run of characters (dots
    /// included), `?` zero or one character; `.suffix` means `*.suffix`.
    Pattern {
        scheme: Option<String>,
        pattern: String,
        matcher: HostMatcher,
        port: Option<u16>,
    },
}

/// A host pattern compiled to the cheapest test that decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatcher {
    /// `*`.
    Any,
    /// No wildcard.
    Exact(String),
    /// `*` then a literal.
    Suffix(String),
    /// A literal then `*`.
    Prefix(String),
    /// Anything else.
    Glob(String),
}

impl HostMatcher {
    fn new(pattern: &str) -> Self {
        let wild = |s: &str| s.contains(['*', '?']);
        if pattern.bytes().all(|b| b == b'*') && !pattern.is_empty() {
            HostMatcher::Any
        } else if !wild(pattern) {
            HostMatcher::Exact(pattern.to_owned())
        } else if let Some(rest) = pattern.strip_prefix('*')
            && !wild(rest)
        {
            HostMatcher::Suffix(rest.to_owned())
        } else if let Some(rest) = pattern.strip_suffix('*')
            && !wild(rest)
        {
            HostMatcher::Prefix(rest.to_owned())
        } else {
            HostMatcher::Glob(pattern.to_owned())
        }
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            HostMatcher::Any => true,
            HostMatcher::Exact(p) => host == p,
            HostMatcher::Suffix(p) => host.ends_with(p.as_str()),
            HostMatcher::Prefix(p) => host.starts_with(p.as_str()),
            HostMatcher::Glob(p) => match_pattern(host, p),
        }
    }
}

/// What the rules look at in a URL: its scheme, canonical host (IPv6 in
/// brackets), IP address when the host is one, and effective port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    pub(crate) scheme: &'a str,
    pub(crate) host: &'a str,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) port: Option<u16>,
}

impl<'a> Target<'a> {
    pub(crate) fn of(url: &'a Url) -> Self {
        Target {
            scheme: url.scheme(),
            host: url.host_str().unwrap_or(""),
            ip: url_ip(url),
            port: url.port_or_known_default(),
        }
    }

    /// Chromium's implicit bypass: localhost names, loopback and
    /// link-local addresses (IPv4-mapped ones included).
    pub(crate) fn is_implicitly_bypassed(&self) -> bool {
        match self.ip {
            Some(IpAddr::V4(ip)) => is_loopback_or_link_local_v4(ip),
            Some(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
                Some(v4) => is_loopback_or_link_local_v4(v4),
                None => is_loopback_or_link_local_v6(ip),
            },
            None if self.host.is_empty() => false,
            None => {
                let d = self.host.strip_suffix('.').unwrap_or(self.host);
                let ends =
                    |s: &str| d.len() >= s.len() && d[d.len() - s.len()..].eq_ignore_ascii_case(s);
                d.eq_ignore_ascii_case("localhost") || ends(".localhost")
            }
        }
    }
}

enum Verdict {
    Bypass,
    Proxy,
    NoMatch,
}

/// Parsed `proxyBypassRules`, as Chromium's `ProxyBypassRules`.
///
/// Rules are separated by `,` or `;`. The last rule that matches a URL
/// decides; when none does, Chromium's implicit rules bypass `localhost`,
/// `*.localhost`, loopback (`127.0.0.0/8`, `[::1]`, IPv4-mapped loopback)
/// and link-local (`169.254.0.0/16`, `[fe80::]/10`) addresses. `<-loopback>`
/// turns the implicit rules around: the URLs they cover are proxied unless
/// a later rule bypasses them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BypassRules {
    rules: Vec<Rule>,
}

impl BypassRules {
    /// Parses a rule list leniently, as Chromium does: invalid rules are
    /// skipped.
    pub fn parse(rules: &str) -> Self {
        Self::parse_with_errors(rules).0
    }

    /// Parses a rule list, also returning the skipped rules and why.
    pub fn parse_with_errors(rules: &str) -> (Self, Vec<Error>) {
        Self::parse_inner(rules, false)
    }

    /// Parses a `no_proxy`-style list, where a host name means that name and
    /// every name ending with it (`google.com` is `*google.com`), as
    /// Chromium reads the environment.
    pub fn parse_suffix_matching(rules: &str) -> (Self, Vec<Error>) {
        Self::parse_inner(rules, true)
    }

    fn parse_inner(rules: &str, suffix: bool) -> (Self, Vec<Error>) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for raw in rules.split([',', ';']) {
            let trimmed = raw.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            match parse_rule(trimmed, suffix) {
                Ok(rule) => out.push(rule),
                Err(reason) => errors.push(Error::InvalidBypassRule {
                    rule: trimmed.to_owned(),
                    reason,
                }),
            }
        }
        (BypassRules { rules: out }, errors)
    }

    /// Parses one rule.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidBypassRule`] naming the rule and what is wrong.
    pub fn parse_rule(rule: &str) -> Result<String, Error> {
        let trimmed = rule.trim_ascii();
        parse_rule(trimmed, false)
            .map(|r| rule_to_string(&r))
            .map_err(|reason| Error::InvalidBypassRule {
                rule: rule.to_owned(),
                reason,
            })
    }

    /// The rules in canonical form, in order.
    pub fn rules(&self) -> Vec<String> {
        self.rules.iter().map(rule_to_string).collect()
    }

    /// Whether there is no rule (the implicit rules still apply).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether `url` goes direct (bypasses the proxy).
    pub fn matches(&self, url: &Url) -> bool {
        self.matches_target(&Target::of(url))
    }

    pub(crate) fn matches_target(&self, target: &Target<'_>) -> bool {
        for rule in self.rules.iter().rev() {
            match evaluate(rule, target) {
                Verdict::Bypass => return true,
                Verdict::Proxy => return false,
                Verdict::NoMatch => {}
            }
        }
        target.is_implicitly_bypassed()
    }
}

impl fmt::Display for BypassRules {
    /// The rules in canonical form, joined by `;`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rules().join(";"))
    }
}

fn parse_rule(raw: &str, suffix: bool) -> Result<Rule, String> {
    if raw.eq_ignore_ascii_case("<local>") {
        return Ok(Rule::Local);
    }
    if raw.eq_ignore_ascii_case("<-loopback>") {
        return Ok(Rule::SubtractImplicit);
    }
    let (scheme, rest) = match raw.find("://") {
        Some(i) => {
            let scheme = &raw[..i];
            if scheme.is_empty() {
                return Err("the scheme before :// is empty".into());
            }
            (Some(scheme.to_ascii_lowercase()), &raw[i + 3..])
        }
        None => (None, raw),
    };
    if rest.is_empty() {
        return Err("no host is given".into());
    }
    if rest.contains('/') {
        return parse_cidr(rest)
            .map(|(prefix, len)| Rule::IpBlock {
                raw: rest.to_owned(),
                scheme,
                prefix,
                len,
            })
            .ok_or_else(|| format!("{rest:?} is not an IP block such as 10.0.0.0/8"));
    }
    if let Some((host, port)) = split_host_port(rest)
        && let Some(ip) = parse_ip_literal(host)
        && (host.starts_with('[') || !host.contains(':'))
    {
        return Ok(Rule::IpHost { scheme, ip, port });
    }
    let (pattern, port) = match rest.rfind(':') {
        Some(i) => {
            let port = &rest[i + 1..];
            let port: i64 = port
                .parse()
                .map_err(|_| format!("the port {port:?} is not a number"))?;
            let port =
                u16::try_from(port).map_err(|_| format!("the port {port} is out of range"))?;
            (&rest[..i], Some(port))
        }
        None => (rest, None),
    };
    let mut pattern = pattern.to_ascii_lowercase();
    if pattern.starts_with('.') || (suffix && !pattern.starts_with('*')) {
        pattern.insert(0, '*');
    }
    Ok(Rule::Pattern {
        scheme,
        matcher: HostMatcher::new(&pattern),
        pattern,
        port,
    })
}

/// `host[:port]` / `[v6][:port]` for IP rules; `None` when malformed.
fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if s.starts_with('[') {
        let end = s.find(']')?;
        let host = &s[..=end];
        return match &s[end + 1..] {
            "" => Some((host, None)),
            p => Some((host, Some(p.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h, Some(p.parse().ok()?))),
        Some(_) => None,
        None => Some((s, None)),
    }
}

pub(crate) fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 3 {
        return None;
    }
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

fn rule_to_string(rule: &Rule) -> String {
    let scheme = |s: &Option<String>| s.as_ref().map(|s| format!("{s}://")).unwrap_or_default();
    let port = |p: &Option<u16>| p.map(|p| format!(":{p}")).unwrap_or_default();
    match rule {
        Rule::Local => "<local>".into(),
        Rule::SubtractImplicit => "<-loopback>".into(),
        Rule::IpHost {
            scheme: s,
            ip,
            port: p,
        } => match ip {
            IpAddr::V4(ip) => format!("{}{ip}{}", scheme(s), port(p)),
            IpAddr::V6(ip) => format!("{}[{ip}]{}", scheme(s), port(p)),
        },
        Rule::IpBlock { raw, scheme: s, .. } => format!("{}{raw}", scheme(s)),
        Rule::Pattern {
            scheme: s,
            pattern,
            port: p,
            ..
        } => format!("{}{pattern}{}", scheme(s), port(p)),
    }
}

fn url_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

fn evaluate(rule: &Rule, t: &Target<'_>) -> Verdict {
    let verdict = |m: bool| if m { Verdict::Bypass } else { Verdict::NoMatch };
    let scheme_ok = |s: &Option<String>| s.as_deref().is_none_or(|s| s == t.scheme);
    let port_ok = |p: &Option<u16>| p.is_none_or(|p| t.port == Some(p));
    match rule {
        Rule::Local => verdict(t.ip.is_none() && !t.host.contains('.')),
        Rule::SubtractImplicit => {
            if t.is_implicitly_bypassed() {
                Verdict::Proxy
            } else {
                Verdict::NoMatch
            }
        }
        Rule::IpHost { scheme, ip, port } => {
            verdict(t.ip == Some(*ip) && scheme_ok(scheme) && port_ok(port))
        }
        Rule::IpBlock {
            scheme,
            prefix,
            len,
            ..
        } => {
            let Some(mut ip) = t.ip else {
                return Verdict::NoMatch;
            };
            if prefix.is_ipv4()
                && let IpAddr::V6(v6) = ip
                && let Some(v4) = v6.to_ipv4_mapped()
            {
                ip = IpAddr::V4(v4);
            }
            verdict(scheme_ok(scheme) && ip_matches_prefix(ip, *prefix, *len))
        }
        Rule::Pattern {
            scheme,
            matcher,
            port,
            ..
        } => verdict(matcher.matches(t.host) && scheme_ok(scheme) && port_ok(port)),
    }
}

/// Chromium's `IPAddressMatchesPrefix`: an IPv4/IPv6 mismatch is resolved
/// by writing the IPv4 side as an IPv4-mapped IPv6 address.
pub(crate) fn ip_matches_prefix(ip: IpAddr, prefix: IpAddr, len: u8) -> bool {
    match (ip, prefix) {
        (IpAddr::V4(a), IpAddr::V4(p)) => prefix_eq(&a.octets(), &p.octets(), len),
        (IpAddr::V6(a), IpAddr::V6(p)) => prefix_eq(&a.octets(), &p.octets(), len),
        (IpAddr::V4(a), IpAddr::V6(_)) => {
            ip_matches_prefix(IpAddr::V6(a.to_ipv6_mapped()), prefix, len)
        }
        (IpAddr::V6(_), IpAddr::V4(p)) => {
            ip_matches_prefix(ip, IpAddr::V6(p.to_ipv6_mapped()), len.saturating_add(96))
        }
    }
}

fn prefix_eq(a: &[u8], p: &[u8], len: u8) -> bool {
    let len = usize::from(len).min(a.len() * 8);
    let full = len / 8;
    if a[..full] != p[..full] {
        return false;
    }
    let rest = len % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (p[full] & mask)
}

/// Chromium's `MatchPattern`: `*` matches any run of characters, `?` zero
/// or one character. Matched as a set of reachable positions, so a pattern
/// with many `*` cannot make it slow (O(text × pattern)).
pub(crate) fn match_pattern(text: &str, pattern: &str) -> bool {
    let t = text.as_bytes();
    let mut reach = vec![false; t.len() + 1];
    reach[0] = true;
    let mut next = vec![false; t.len() + 1];
    for &c in pattern.as_bytes() {
        next.iter_mut().for_each(|x| *x = false);
        match c {
            b'*' => {
                let mut seen = false;
                for i in 0..=t.len() {
                    seen |= reach[i];
                    next[i] = seen;
                }
            }
            b'?' => {
                for i in 0..=t.len() {
                    if reach[i] {
                        next[i] = true;
                        if i < t.len() {
                            next[i + 1] = true;
                        }
                    }
                }
            }
            c => {
                for i in 0..t.len() {
                    if reach[i] && t[i] == c {
                        next[i + 1] = true;
                    }
                }
            }
        }
        std::mem::swap(&mut reach, &mut next);
    }
    reach[t.len()]
}

/// Chromium's implicit bypass: localhost names, loopback and link-local
/// addresses (IPv4-mapped ones included).
pub fn matches_implicit_rules(url: &Url) -> bool {
    Target::of(url).is_implicitly_bypassed()
}

fn is_loopback_or_link_local_v4(ip: Ipv4Addr) -> bool {
    ip.is_loopback() || ip.is_link_local()
}

fn is_loopback_or_link_local_v6(ip: Ipv6Addr) -> bool {
    ip.is_loopback() || (ip.segments()[0] & 0xffc0) == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(match_pattern("www.google.com", "*.google.com"));
        assert!(match_pattern("www.google.com", "*google.com"));
        assert!(!match_pattern("google.com", "*.google.com"));
        assert!(match_pattern("a", "a?"));
        assert!(match_pattern("ab", "a?"));
        assert!(!match_pattern("abc", "a?"));
        assert!(match_pattern("anything", "*"));
        assert!(match_pattern("", "**"));
        assert!(match_pattern("abc", "a*?c"));
        assert!(!match_pattern("abd", "a*c"));
        // Many stars against a long name stays fast.
        let host = "a".repeat(250);
        let pattern = format!("{}b", "*a".repeat(40));
        assert!(!match_pattern(&host, &pattern));
    }

    #[test]
    fn prefixes() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(ip_matches_prefix(ip("192.168.4.4"), ip("192.168.1.1"), 16));
        assert!(!ip_matches_prefix(ip("192.169.1.1"), ip("192.168.1.1"), 16));
        assert!(ip_matches_prefix(
            ip("::ffff:192.168.1.3"),
            ip("::ffff:192.168.1.1"),
            112
        ));
        assert!(ip_matches_prefix(ip("10.0.0.1"), ip("0.0.0.0"), 0));
    }
}
