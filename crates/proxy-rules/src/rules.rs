//! `proxyRules`: Chromium's fixed-servers grammar.

use url::Url;

use crate::Error;
use crate::server::{ProxyList, ProxyScheme, ProxyServer, trim_lws};

/// Parsed `proxyRules`, as Chromium's `ProxyConfig::ProxyRules`.
///
/// ```text
/// proxyRules    = schemeProxies[";"<schemeProxies>]
/// schemeProxies = [<urlScheme>"="]<proxyURIList>
/// urlScheme     = "http" | "https" | "ftp" | "socks"
/// proxyURIList  = <proxyURL>[","<proxyURIList>]
/// proxyURL      = [<proxyScheme>"://"]<proxyHost>[":"<proxyPort>]
/// ```
///
/// The first `;`-separated entry decides the shape: without `=` it is one
/// list for every URL (and the rest is ignored); with `=` the rules are per
/// scheme (and later bare lists are ignored). `socks=` fills the list used
/// for every scheme without its own. Invalid proxies are dropped, as
/// Chromium drops them; [`ProxyRules::parse_with_errors`] says which.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProxyRules {
    /// No rules: everything goes direct.
    #[default]
    Empty,
    /// One list for every URL.
    Single(ProxyList),
    /// A list per URL scheme.
    PerScheme {
        /// For `http:` URLs.
        http: ProxyList,
        /// For `https:` URLs.
        https: ProxyList,
        /// For `ftp:` URLs.
        ftp: ProxyList,
        /// From `socks=`: for any scheme without a list of its own.
        fallback: ProxyList,
    },
}

impl ProxyRules {
    /// Parses `proxyRules` leniently, as Chromium does.
    pub fn parse(rules: &str) -> Self {
        Self::parse_with_errors(rules).0
    }

    /// Parses `proxyRules`, also returning what was dropped and why (each
    /// error names its token).
    pub fn parse_with_errors(rules: &str) -> (Self, Vec<Error>) {
        let mut errors = Vec::new();
        let mut result = ProxyRules::Empty;
        for entry in rules.split(';').filter(|e| !e.is_empty()) {
            let mut parts = entry.split('=').filter(|p| !p.is_empty());
            let Some(mut key) = parts.next() else {
                continue;
            };
            loop {
                let Some(list) = parts.next() else {
                    // No '=': a plain list of proxies for every scheme.
                    if matches!(result, ProxyRules::PerScheme { .. }) {
                        errors.push(Error::BareRuleAfterPerScheme {
                            token: entry.to_owned(),
                        });
                        break;
                    }
                    let list = parse_uri_list(key, ProxyScheme::Http, &mut errors);
                    return (ProxyRules::Single(list), errors);
                };
                let scheme = trim_lws(key).trim_matches(['\n', '\r', '\x0b', '\x0c']);
                if matches!(result, ProxyRules::Empty) {
                    result = ProxyRules::PerScheme {
                        http: ProxyList::default(),
                        https: ProxyList::default(),
                        ftp: ProxyList::default(),
                        fallback: ProxyList::default(),
                    };
                }
                let ProxyRules::PerScheme {
                    http,
                    https,
                    ftp,
                    fallback,
                } = &mut result
                else {
                    break;
                };
                let (target, default_scheme) = match scheme {
                    "http" => (Some(http), ProxyScheme::Http),
                    "https" => (Some(https), ProxyScheme::Http),
                    "ftp" => (Some(ftp), ProxyScheme::Http),
                    // `socks=` is not a URL scheme: it is the list for
                    // every other scheme, and its default is SOCKS4.
                    "socks" => (Some(fallback), ProxyScheme::Socks4),
                    _ => (None, ProxyScheme::Http),
                };
                match target {
                    Some(target) => {
                        let parsed = parse_uri_list(list, default_scheme, &mut errors);
                        let mut joined = target.servers().to_vec();
                        joined.extend_from_slice(parsed.servers());
                        *target = joined.into();
                    }
                    None => errors.push(Error::UnknownRuleScheme {
                        token: entry.to_owned(),
                        scheme: scheme.to_owned(),
                    }),
                }
                match parts.next() {
                    Some(next) => key = next,
                    None => break,
                }
            }
        }
        (result, errors)
    }

    /// The proxy list for `url`, before bypass rules: Chromium's
    /// `ProxyRules::Apply`. `ws`/`wss` use `socks=`, then `https=`, then
    /// `http=`; a scheme without a list goes to `socks=`, else direct.
    pub fn apply(&self, url: &Url) -> ProxyList {
        self.apply_scheme(url.scheme())
    }

    /// [`ProxyRules::apply`] for a URL of scheme `scheme`.
    pub fn apply_scheme(&self, scheme: &str) -> ProxyList {
        match self {
            ProxyRules::Empty => ProxyList::direct(),
            ProxyRules::Single(list) => list.clone(),
            ProxyRules::PerScheme {
                http,
                https,
                ftp,
                fallback,
            } => {
                let own = match scheme {
                    "http" => Some(http),
                    "https" => Some(https),
                    "ftp" => Some(ftp),
                    _ => None,
                };
                if let Some(list) = own.filter(|l| !l.is_empty()) {
                    return list.clone();
                }
                if matches!(scheme, "ws" | "wss") {
                    for list in [fallback, https, http] {
                        if !list.is_empty() {
                            return list.clone();
                        }
                    }
                    return ProxyList::direct();
                }
                if !fallback.is_empty() {
                    return fallback.clone();
                }
                ProxyList::direct()
            }
        }
    }
}

fn parse_uri_list(list: &str, default_scheme: ProxyScheme, errors: &mut Vec<Error>) -> ProxyList {
    let mut out = Vec::new();
    for token in list.split(',').filter(|t| !t.is_empty()) {
        match ProxyServer::parse_uri(token, default_scheme, false) {
            Ok(server) => out.push(server),
            Err(e) => errors.push(e),
        }
    }
    out.into()
}
