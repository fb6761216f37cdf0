//! `system` mode on a GNOME-family desktop: the proxy settings in GSettings
//! (`org.gnome.system.proxy`), read as Chromium reads them.

use std::process::Command;

use url::Url;

use crate::bypass::BypassRules;
use crate::config::{FixedServers, SystemConfig};
use crate::rules::ProxyRules;
use crate::server::{ProxyList, ProxyScheme, ProxyServer};

/// Reads one desktop setting, as the text `gsettings get SCHEMA KEY`
/// prints (GVariant text: `'manual'`, `3128`, `['localhost', '::1']`).
pub trait SettingsReader: Send + Sync {
    /// The setting's value, or `None` when it cannot be read.
    fn get(&self, schema: &str, key: &str) -> Option<String>;
}

/// Reads settings with the `gsettings` command (Debian: `libglib2.0-bin`).
/// When the command or the schema is missing, nothing can be read and
/// `system` mode uses the environment, as Chromium does.
#[derive(Debug, Clone, Default)]
pub struct GSettingsCommand {
    env: Vec<(String, String)>,
}

impl GSettingsCommand {
    /// The command, run with these extra environment variables (for example
    /// `GSETTINGS_BACKEND`).
    pub fn with_env(env: Vec<(String, String)>) -> Self {
        GSettingsCommand { env }
    }
}

impl SettingsReader for GSettingsCommand {
    fn get(&self, schema: &str, key: &str) -> Option<String> {
        let out = Command::new("gsettings")
            .args(["get", schema, key])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8(out.stdout)
            .ok()
            .map(|s| s.trim_end().to_owned())
    }
}

/// Whether the desktop is one whose proxy settings Chromium reads from
/// GSettings, by `XDG_CURRENT_DESKTOP` (then `DESKTOP_SESSION` and
/// `GNOME_DESKTOP_SESSION_ID`).
pub fn desktop_uses_gsettings(env: &dyn Fn(&str) -> Option<String>) -> bool {
    const GSETTINGS_DESKTOPS: &[&str] = &[
        "gnome",
        "unity",
        "x-cinnamon",
        "cinnamon",
        "pantheon",
        "deepin",
        "ukui",
        "budgie",
        "xfce",
    ];
    if let Some(current) = env("XDG_CURRENT_DESKTOP").filter(|s| !s.is_empty()) {
        return current
            .split(':')
            .any(|d| GSETTINGS_DESKTOPS.contains(&d.to_ascii_lowercase().as_str()));
    }
    if let Some(session) = env("DESKTOP_SESSION") {
        let session = session.to_ascii_lowercase();
        if GSETTINGS_DESKTOPS.iter().any(|d| session.starts_with(d)) {
            return true;
        }
    }
    env("GNOME_DESKTOP_SESSION_ID").is_some()
}

/// The proxy configuration in GSettings, or `None` when there is none to
/// use (unreadable, an unknown mode, or manual mode without a proxy), in
/// which case the environment applies.
///
/// `mode` `none` is direct; `auto` is the PAC at `autoconfig-url` (a path
/// becomes a `file://` URL), or WPAD when it is empty; `manual` reads the
/// host and port of `http`, `https`, `ftp` and `socks` (SOCKS5), uses a lone
/// SOCKS proxy for everything, and `ignore-hosts` as bypass rules. Like
/// Chromium, it ignores `use-same-proxy` and `http.enabled`, which GNOME's
/// settings panel never changes.
pub fn gsettings_config(settings: &dyn SettingsReader) -> Option<SystemConfig> {
    const BASE: &str = "org.gnome.system.proxy";
    let mode = gvariant_string(&settings.get(BASE, "mode")?)?;
    match mode.as_str() {
        "none" => Some(SystemConfig::Direct),
        "auto" => {
            let url = settings
                .get(BASE, "autoconfig-url")
                .and_then(|v| gvariant_string(&v))
                .unwrap_or_default();
            if url.is_empty() {
                return Some(SystemConfig::AutoDetect);
            }
            let url = if url.starts_with('/') {
                format!("file://{url}")
            } else {
                url
            };
            Url::parse(&url).ok()?;
            Some(SystemConfig::PacUrl(url))
        }
        "manual" => {
            let proxy = |scheme_key: &str, default: ProxyScheme| -> Option<ProxyServer> {
                let schema = format!("{BASE}.{scheme_key}");
                let host = gvariant_string(&settings.get(&schema, "host")?)?;
                if host.is_empty() {
                    return None;
                }
                let port = settings
                    .get(&schema, "port")
                    .and_then(|v| gvariant_int(&v))
                    .unwrap_or(0);
                let spec = if port != 0 {
                    format!("{host}:{port}")
                } else {
                    host
                };
                let spec = spec.strip_suffix('/').unwrap_or(&spec).to_owned();
                ProxyServer::parse_uri(&spec, default, false).ok()
            };
            let http = proxy("http", ProxyScheme::Http);
            let https = proxy("https", ProxyScheme::Http);
            let ftp = proxy("ftp", ProxyScheme::Http);
            let socks = proxy("socks", ProxyScheme::Socks5);
            let count = [&http, &https, &ftp, &socks]
                .iter()
                .filter(|p| p.is_some())
                .count();
            let one = |p: Option<ProxyServer>| ProxyList::new(p.into_iter().collect());
            let rules = match (count, &socks) {
                (0, _) => return None,
                (1, Some(socks)) => ProxyRules::Single(vec![socks.clone()].into()),
                _ => ProxyRules::PerScheme {
                    http: one(http),
                    https: one(https),
                    ftp: one(ftp),
                    fallback: one(socks),
                },
            };
            let ignore = settings
                .get(BASE, "ignore-hosts")
                .and_then(|v| gvariant_strv(&v))
                .unwrap_or_default();
            Some(SystemConfig::Fixed(FixedServers {
                rules,
                bypass: BypassRules::parse(&ignore.join(",")),
            }))
        }
        _ => None,
    }
}

/// A GVariant text string: `'it\'s'` → `it's`.
pub(crate) fn gvariant_string(text: &str) -> Option<String> {
    let (s, rest) = take_string(text.trim())?;
    rest.trim().is_empty().then_some(s)
}

/// A GVariant text integer: `3128`, `int32 3128`, `uint32 0`.
pub(crate) fn gvariant_int(text: &str) -> Option<i64> {
    text.split_whitespace().last()?.parse().ok()
}

/// A GVariant text string array: `['a', 'b']`, `@as []`.
pub(crate) fn gvariant_strv(text: &str) -> Option<Vec<String>> {
    let text = text.trim();
    let text = text.strip_prefix("@as").map(str::trim).unwrap_or(text);
    let mut rest = text.strip_prefix('[')?.trim_start();
    let mut out = Vec::new();
    loop {
        if let Some(after) = rest.strip_prefix(']') {
            return after.trim().is_empty().then_some(out);
        }
        let (s, after) = take_string(rest)?;
        out.push(s);
        rest = after.trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
        }
    }
}

/// One quoted string at the start of `text` (single or double quotes,
/// backslash escapes), and what follows it.
fn take_string(text: &str) -> Option<(String, &str)> {
    let mut chars = text.char_indices();
    let (_, quote) = chars.next().filter(|(_, c)| *c == '\'' || *c == '"')?;
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, escaped) = chars.next()?;
                out.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => other,
                });
            }
            c if c == quote => return Some((out, &text[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gvariant_text() {
        assert_eq!(gvariant_string("'manual'").as_deref(), Some("manual"));
        assert_eq!(gvariant_string(r"'it\'s'").as_deref(), Some("it's"));
        assert_eq!(gvariant_string("''").as_deref(), Some(""));
        assert_eq!(gvariant_string("manual"), None);
        assert_eq!(gvariant_int("3128"), Some(3128));
        assert_eq!(gvariant_int("uint32 0"), Some(0));
        assert_eq!(
            gvariant_strv("['localhost', '127.0.0.0/8', '::1']").unwrap(),
            ["localhost", "127.0.0.0/8", "::1"]
        );
        assert_eq!(gvariant_strv("@as []").unwrap(), Vec::<String>::new());
        assert_eq!(gvariant_strv("['a', \"b'c\"]").unwrap(), ["a", "b'c"]);
        assert_eq!(gvariant_strv("['unterminated"), None);
    }

    #[test]
    fn desktops() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(desktop_uses_gsettings(&env(&[(
            "XDG_CURRENT_DESKTOP",
            "ubuntu:GNOME"
        )])));
        assert!(desktop_uses_gsettings(&env(&[(
            "XDG_CURRENT_DESKTOP",
            "X-Cinnamon"
        )])));
        assert!(!desktop_uses_gsettings(&env(&[(
            "XDG_CURRENT_DESKTOP",
            "KDE"
        )])));
        assert!(desktop_uses_gsettings(&env(&[(
            "DESKTOP_SESSION",
            "gnome-xorg"
        )])));
        assert!(!desktop_uses_gsettings(&env(&[])));
    }
}
