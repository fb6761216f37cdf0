//! `ProxyConfig`: what `ses.setProxy(config)` takes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::bypass::BypassRules;
use crate::rules::ProxyRules;
use crate::server::{ProxyList, ProxyScheme, ProxyServer};

/// Where a session's proxy settings come from (Electron's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String", into = "String")]
pub enum ProxyMode {
    /// No proxy.
    Direct,
    /// WPAD: the PAC script at `http://wpad/wpad.dat`.
    AutoDetect,
    /// The PAC script at `pacScript`.
    PacScript,
    /// `proxyRules` and `proxyBypassRules`.
    FixedServers,
    /// The system's settings (see [`system_config_from_env`]).
    System,
}

impl ProxyMode {
    /// Electron's name for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyMode::Direct => "direct",
            ProxyMode::AutoDetect => "auto_detect",
            ProxyMode::PacScript => "pac_script",
            ProxyMode::FixedServers => "fixed_servers",
            ProxyMode::System => "system",
        }
    }
}

impl fmt::Display for ProxyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProxyMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "direct" => ProxyMode::Direct,
            "auto_detect" => ProxyMode::AutoDetect,
            "pac_script" => ProxyMode::PacScript,
            "fixed_servers" => ProxyMode::FixedServers,
            "system" => ProxyMode::System,
            other => {
                return Err(Error::InvalidMode {
                    mode: other.to_owned(),
                });
            }
        })
    }
}

impl TryFrom<String> for ProxyMode {
    type Error = Error;

    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<ProxyMode> for String {
    fn from(m: ProxyMode) -> String {
        m.as_str().to_owned()
    }
}

/// The URL WPAD fetches in `auto_detect` mode.
pub const WPAD_URL: &str = "http://wpad/wpad.dat";

/// Electron's `ProxyConfig`: the argument of `ses.setProxy`. JSON field
/// names are Electron's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyConfig {
    /// The mode; when absent it is inferred (see [`ProxyConfig::effective_mode`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ProxyMode>,
    /// The URL of a PAC script (http, https, file or data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pac_script: Option<String>,
    /// Fixed proxies, in [`ProxyRules`]' grammar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_rules: Option<String>,
    /// Hosts that skip the fixed proxies, in [`BypassRules`]' grammar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_bypass_rules: Option<String>,
}

impl ProxyConfig {
    /// The mode in force, as Electron infers it: the one given, else
    /// `pac_script` when `pacScript` is set (it wins over `proxyRules`), else
    /// `fixed_servers` when `proxyRules` is set, else `direct`.
    pub fn effective_mode(&self) -> ProxyMode {
        if let Some(mode) = self.mode {
            return mode;
        }
        let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        if set(&self.pac_script) {
            ProxyMode::PacScript
        } else if set(&self.proxy_rules) {
            ProxyMode::FixedServers
        } else {
            ProxyMode::Direct
        }
    }
}

/// The fixed-servers part of a configuration: rules and bypass list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixedServers {
    /// Which proxies for which scheme.
    pub rules: ProxyRules,
    /// Which URLs skip them.
    pub bypass: BypassRules,
}

impl FixedServers {
    /// The list for `url`: direct when bypassed, else the rules' list.
    pub fn resolve(&self, url: &url::Url) -> ProxyList {
        self.resolve_target(&crate::bypass::Target::of(url))
    }

    pub(crate) fn resolve_target(&self, target: &crate::bypass::Target<'_>) -> ProxyList {
        if self.bypass.matches_target(target) {
            ProxyList::direct()
        } else {
            self.rules.apply_scheme(target.scheme)
        }
    }
}

/// What `system` mode reads on Linux, from the environment, as Chromium's
/// Linux proxy config service reads it when no desktop settings apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemConfig {
    /// Nothing is configured, or only `no_proxy`: direct.
    Direct,
    /// `auto_proxy` is set but empty: WPAD.
    AutoDetect,
    /// `auto_proxy` names a PAC URL.
    PacUrl(String),
    /// Proxies from `all_proxy`, `http_proxy`, `https_proxy`, `ftp_proxy`
    /// or `SOCKS_SERVER`, bypassed for `no_proxy`.
    Fixed(FixedServers),
}

/// Reads the proxy environment the way Chromium does on Linux:
///
/// 1. `auto_proxy`: set and empty means WPAD, set to a URL means that PAC.
/// 2. `all_proxy`: one proxy for everything; otherwise `http_proxy`,
///    `https_proxy` and `ftp_proxy` for their schemes (none applies to
///    another scheme).
/// 3. With none of these, `SOCKS_SERVER` (SOCKS5, or SOCKS4 when
///    `SOCKS_VERSION=4`).
/// 4. `no_proxy`: bypass rules where `example.com` also covers every name
///    ending in it.
///
/// Each variable is read in lower case first, then in upper case. A value
/// without a scheme is an HTTP proxy (SOCKS for `SOCKS_SERVER`); a trailing
/// `/` is ignored; credentials are not supported (the entry is ignored).
/// `get` reads one variable (`std::env::var` in production).
pub fn system_config_from_env(get: &dyn Fn(&str) -> Option<String>) -> SystemConfig {
    let var = |name: &str| get(name).or_else(|| get(&name.to_ascii_uppercase()));
    if let Some(auto) = var("auto_proxy") {
        return if auto.is_empty() {
            SystemConfig::AutoDetect
        } else {
            SystemConfig::PacUrl(auto)
        };
    }
    let proxy = |name: &str, scheme: ProxyScheme| -> Option<ProxyServer> {
        let value = var(name).filter(|v| !v.is_empty())?;
        let value = value.strip_suffix('/').unwrap_or(&value);
        ProxyServer::parse_uri(value, scheme, false).ok()
    };
    let mut rules = ProxyRules::Empty;
    if let Some(all) = proxy("all_proxy", ProxyScheme::Http) {
        rules = ProxyRules::Single(vec![all].into());
    } else {
        let one = |s: Option<ProxyServer>| ProxyList::new(s.into_iter().collect());
        let http = one(proxy("http_proxy", ProxyScheme::Http));
        let https = one(proxy("https_proxy", ProxyScheme::Http));
        let ftp = one(proxy("ftp_proxy", ProxyScheme::Http));
        if !(http.is_empty() && https.is_empty() && ftp.is_empty()) {
            rules = ProxyRules::PerScheme {
                http,
                https,
                ftp,
                fallback: ProxyList::default(),
            };
        }
    }
    if rules == ProxyRules::Empty {
        let scheme = match get("SOCKS_VERSION").as_deref() {
            Some("4") => ProxyScheme::Socks4,
            _ => ProxyScheme::Socks5,
        };
        if let Some(socks) = get("SOCKS_SERVER").filter(|v| !v.is_empty()).and_then(|v| {
            ProxyServer::parse_uri(v.strip_suffix('/').unwrap_or(&v), scheme, false).ok()
        }) {
            rules = ProxyRules::Single(vec![socks].into());
        }
    }
    if rules == ProxyRules::Empty {
        return SystemConfig::Direct;
    }
    let no_proxy = var("no_proxy").unwrap_or_default();
    SystemConfig::Fixed(FixedServers {
        rules,
        bypass: BypassRules::parse_suffix_matching(&no_proxy).0,
    })
}
