//! The default user agent, and the checks on user agents and language lists.

use crate::{Error, Result};

/// The Chrome version sesh's default user agent claims, in Chrome's reduced
/// form (`MAJOR.0.0.0`), so that sites serve it what they serve Chrome.
pub const CHROME_VERSION: &str = "142.0.0.0";

/// The platform part of Chrome's reduced user agent.
fn platform() -> &'static str {
    if cfg!(target_os = "macos") {
        "Macintosh; Intel Mac OS X 10_15_7"
    } else if cfg!(target_os = "windows") {
        "Windows NT 10.0; Win64; x64"
    } else if cfg!(target_os = "android") {
        "Linux; Android 10; K"
    } else {
        "X11; Linux x86_64"
    }
}

/// The default user agent of a session: Chrome's, with the application and
/// sesh named the way Electron names the app and itself.
///
/// `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)
/// myapp/1.2.0 Chrome/142.0.0.0 sesh/0.1.0 Safari/537.36`
pub fn default_user_agent(app_name: &str, app_version: &str) -> String {
    let app: String = app_name.chars().filter(|c| !c.is_whitespace()).collect();
    let sesh = concat!("sesh/", env!("CARGO_PKG_VERSION"));
    let app_part = if app.is_empty() || app.eq_ignore_ascii_case("sesh") {
        String::new()
    } else if app_version.is_empty() {
        format!("{app} ")
    } else {
        format!("{app}/{app_version} ")
    };
    format!(
        "Mozilla/5.0 ({}) AppleWebKit/537.36 (KHTML, like Gecko) {app_part}Chrome/{CHROME_VERSION} {sesh} Safari/537.36",
        platform()
    )
}

/// Checks that `ua` can be sent as an HTTP header value: no CR, LF, NUL or
/// other control character (tab is allowed).
pub(crate) fn check_user_agent(ua: &str) -> Result<()> {
    if let Some((i, c)) = ua
        .char_indices()
        .find(|&(_, c)| c.is_control() && c != '\t')
    {
        return Err(Error::InvalidUserAgent {
            reason: format!(
                "control character U+{:04X} at byte {i}; a user agent is sent as an HTTP header",
                u32::from(c)
            ),
        });
    }
    Ok(())
}

/// Checks an accept-languages list (`"en-US,fr,de"`) and returns it with the
/// spaces around entries removed.
pub(crate) fn normalize_accept_languages(list: &str) -> Result<String> {
    let mut out = Vec::new();
    for token in list.split(',') {
        let token = token.trim();
        if token.is_empty() && list.trim().is_empty() {
            continue;
        }
        if !is_language_code(token) {
            return Err(Error::InvalidAcceptLanguage {
                token: token.to_owned(),
                list: list.to_owned(),
            });
        }
        out.push(token);
    }
    Ok(out.join(","))
}

/// `en`, `en-US`, `zh-Hant-TW`, `es-419`, or `*`.
fn is_language_code(token: &str) -> bool {
    if token == "*" {
        return true;
    }
    let mut parts = token.split(['-', '_']);
    let Some(primary) = parts.next() else {
        return false;
    };
    (1..=8).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The `Accept-Language` header Chromium sends for a language list:
/// the first entry without a q-value, then q-values falling by 0.1 down to
/// 0.1 (`"en-US,fr,de"` → `"en-US,fr;q=0.9,de;q=0.8"`).
pub fn accept_language_header(languages: &str) -> String {
    // Tenths, as integers, as Chromium's HttpUtil::GenerateAcceptLanguageHeader
    // does to avoid comparing floats.
    let mut q10 = 10u32;
    let mut header = String::new();
    for lang in languages
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if q10 == 10 {
            header.push_str(lang);
        } else {
            header.push_str(&format!(",{lang};q=0.{q10}"));
        }
        if q10 > 1 {
            q10 -= 1;
        }
    }
    header
}

/// The default accept-languages list, from the locale in the environment
/// (`LC_ALL`, `LC_MESSAGES`, `LANG`), like Chromium's default for the
/// application locale: `fr_FR.UTF-8` gives `fr-FR,fr`; no locale, `C` or
/// `POSIX` give `en-US,en`.
pub(crate) fn default_accept_languages() -> String {
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty());
    locale
        .as_deref()
        .and_then(languages_for_locale)
        .unwrap_or_else(|| "en-US,en".to_owned())
}

fn languages_for_locale(locale: &str) -> Option<String> {
    let base = locale.split(['.', '@']).next()?;
    if base == "C" || base == "POSIX" || base.is_empty() {
        return None;
    }
    let tag = base.replace('_', "-");
    if !is_language_code(&tag) {
        return None;
    }
    match tag.split_once('-') {
        Some((primary, _)) => Some(format!("{tag},{primary}")),
        None => Some(tag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_q_values_fall_to_a_floor_of_0_1() {
        assert_eq!(accept_language_header("en-US"), "en-US");
        assert_eq!(
            accept_language_header("en-US, fr,de"),
            "en-US,fr;q=0.9,de;q=0.8"
        );
        let many = "a,b,c,d,e,f,g,h,i,j,k,l";
        let header = accept_language_header(many);
        assert!(
            header.ends_with("i;q=0.2,j;q=0.1,k;q=0.1,l;q=0.1"),
            "{header}"
        );
    }

    #[test]
    fn locale_to_languages() {
        assert_eq!(
            languages_for_locale("fr_FR.UTF-8").as_deref(),
            Some("fr-FR,fr")
        );
        assert_eq!(languages_for_locale("de").as_deref(), Some("de"));
        assert_eq!(languages_for_locale("C.UTF-8"), None);
        assert_eq!(languages_for_locale("POSIX"), None);
    }

    #[test]
    fn language_lists() {
        assert_eq!(
            normalize_accept_languages(" en-US , fr").unwrap(),
            "en-US,fr"
        );
        assert!(matches!(
            normalize_accept_languages("en-US,fr;q=0.5"),
            Err(Error::InvalidAcceptLanguage { token, .. }) if token == "fr;q=0.5"
        ));
        assert!(normalize_accept_languages("en,,fr").is_err());
    }

    #[test]
    fn user_agent_checks() {
        assert!(check_user_agent("Mozilla/5.0\tx").is_ok());
        assert!(check_user_agent("evil\r\nX-Injected: 1").is_err());
        assert!(check_user_agent("nul\0").is_err());
    }

    #[test]
    fn default_ua_names_app_and_sesh() {
        let ua = default_user_agent("My App", "2.1.0");
        assert!(ua.starts_with("Mozilla/5.0 ("), "{ua}");
        assert!(ua.contains(" MyApp/2.1.0 Chrome/"), "{ua}");
        assert!(
            ua.contains(concat!(
                " sesh/",
                env!("CARGO_PKG_VERSION"),
                " Safari/537.36"
            )),
            "{ua}"
        );
        let own = default_user_agent("sesh", "0.1.0");
        assert_eq!(own.matches("sesh/").count(), 1, "{own}");
    }
}
