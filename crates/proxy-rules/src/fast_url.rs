//! A shortcut past full URL parsing for the common case of fixed rules.
//!
//! Resolving fixed rules needs a URL's scheme, host and port only. For the
//! URLs whose authority is already in canonical form (a lower-case ASCII
//! host name or a dotted-decimal IPv4 address, an optional port) those
//! pieces can be read off the string directly; everything else goes
//! through the WHATWG parser. Tests check that both agree.

use std::net::{IpAddr, Ipv4Addr};

use crate::bypass::Target;

/// The scheme, host and effective port of `url`, when they can be read off
/// without parsing; `None` means: use the full parser.
pub(crate) fn fast_target(url: &str) -> Option<Target<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        "ftp" => 21,
        _ => return None,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => {
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (host, u16::try_from(port.parse::<u32>().ok()?).ok()?)
        }
        None => (authority, default_port),
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        || host.starts_with('.')
        || host.contains("..")
        || host.contains("xn--")
    {
        return None;
    }
    // A host whose last label looks numeric is an IPv4 address to a URL
    // parser (`127.1`, `0x7f.1`): only plain dotted quads are read here.
    let last = host
        .strip_suffix('.')
        .unwrap_or(host)
        .rsplit('.')
        .next()
        .unwrap_or("");
    let ip = if !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x"))
    {
        Some(IpAddr::V4(dotted_quad(host)?))
    } else {
        None
    };
    Some(Target {
        scheme,
        host,
        ip,
        port: Some(port),
    })
}

/// What a PAC script is given for `url` (the URL as Chromium hands it to
/// `FindProxyForURL`, and the host) and the target, when `url` is already
/// in canonical form so that the URL parser would give it back unchanged;
/// `None` means: use the full parser.
#[cfg(feature = "pac")]
pub(crate) fn fast_pac_url(url: &str) -> Option<(Target<'_>, std::borrow::Cow<'_, str>)> {
    use std::borrow::Cow;

    let target = fast_target(url)?;
    let rest = &url[target.scheme.len() + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let default_port = match target.scheme {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        _ => 21,
    };
    // An explicit default port is dropped by the parser.
    if authority.contains(':') && target.port == Some(default_port) {
        return None;
    }
    if matches!(target.scheme, "https" | "wss") {
        // Scheme, host and port only.
        let prefix_len = target.scheme.len() + 3 + authority.len();
        return Some(if url.len() == prefix_len + 1 && url.ends_with('/') {
            (target, Cow::Borrowed(url))
        } else {
            (target, Cow::Owned(format!("{}/", &url[..prefix_len])))
        });
    }
    let tail = &rest[authority_end..];
    // The fragment is not given to the script.
    let tail = tail.split_once('#').map_or(tail, |(before, _)| before);
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    if !path.starts_with('/') || !canonical_path(path) || !query.is_none_or(canonical_query) {
        return None;
    }
    let end = url.len() - (rest.len() - authority_end - tail.len());
    let end = url.len().min(end);
    let script = &url[..end];
    Some((target, Cow::Borrowed(script)))
}

/// A path the URL parser leaves as it is: no dot segments, nothing it
/// would percent-encode or unescape, `%` only before two hex digits.
#[cfg(feature = "pac")]
fn canonical_path(path: &str) -> bool {
    kept_as_is(path, b"-._~!$&'()*+,;=:@/%")
        && !path.split('/').any(|segment| {
            segment == "." || segment == ".." || segment.to_ascii_lowercase().contains("%2e")
        })
}

/// A query the URL parser leaves as it is (`'` is escaped in queries of
/// special schemes).
#[cfg(feature = "pac")]
fn canonical_query(query: &str) -> bool {
    kept_as_is(query, b"-._~!$&()*+,;=:@/?%")
}

/// Whether `text` holds only ASCII letters, digits and `also`, with `%`
/// only before two hex digits.
#[cfg(feature = "pac")]
fn kept_as_is(text: &str, also: &[u8]) -> bool {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || also.contains(b))
        && escapes_are_hex(bytes)
}

#[cfg(feature = "pac")]
fn escapes_are_hex(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

fn dotted_quad(host: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = host.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part.starts_with('0')) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;

    #[test]
    fn agrees_with_the_url_parser() {
        let urls = [
            "http://example.com/",
            "http://example.com",
            "https://a.b.example:8443/x?y#z",
            "http://example.com:80/",
            "https://example.com:443",
            "ws://chat.example/s",
            "wss://chat.example:444/s",
            "ftp://files.example/pub",
            "http://192.168.1.1/",
            "http://192.168.1.1:8080/",
            "http://localhost/",
            "http://foo.localhost./",
            "http://x-y.example.org./p",
            "http://a/",
            "http://1.2.3.4.5/",
            "http://999.1.1.1/",
            "http://127.1/",
            "http://0x7f.1/",
            "http://010.1.1.1/",
            "http://EXAMPLE.com/",
            "http://[::1]/",
            "http://user@example.com/",
            "http://ex%41mple.com/",
            "http://xn--bcher-kva.ch/",
            "http://example.com:/",
            "http://example.com:99999/",
            "http:/example.com/",
            "HTTP://example.com/",
            "http://a..b/",
            "http://.a/",
            "gopher://example.com/",
            "http://example.com\\\\x/",
            "http://1.2.3/",
            "http://1.2.3.04/",
        ];
        for u in urls {
            let fast = fast_target(u);
            let Some(fast) = fast else { continue };
            let parsed = Url::parse(u)
                .unwrap_or_else(|e| panic!("{u}: fast path took an invalid URL ({e})"));
            assert_eq!(fast, Target::of(&parsed), "{u}");
        }
        assert!(fast_target("http://example.com/").is_some());
        assert!(fast_target("http://192.168.1.1:8080/").is_some());
        assert!(fast_target("http://127.1/").is_none());
    }

    /// URLs whose canonical form differs from how they are written, and
    /// ordinary ones.
    #[cfg(feature = "pac")]
    const PAC_URLS: &[&str] = &[
        "http://example.com/",
        "http://example.com",
        "http://example.com/a/b?c=d&e=f#frag",
        "http://example.com/a/./b",
        "http://example.com/a/../b",
        "http://example.com/a/%2e%2E/b",
        "http://example.com/a/.%2e/b",
        "http://example.com/%41%zz",
        "http://example.com/%41",
        "http://example.com/a b",
        "http://example.com/a\\b",
        "http://example.com/a'b?c'd",
        "http://example.com/a\"b",
        "http://example.com/?",
        "http://example.com/#",
        "http://example.com/a?b?c/d",
        "http://example.com:80/x",
        "http://example.com:8080/x",
        "https://example.com/secret/path?q#f",
        "https://example.com:443/x",
        "https://example.com:8443/x",
        "https://example.com",
        "https://example.com/",
        "wss://example.com:9000/chat",
        "ws://example.com/chat?room=1",
        "ftp://files.example/pub/a.tar.gz",
        "ftp://files.example:21/pub",
        "http://user:pass@example.com/",
        "http://EXAMPLE.com/",
        "http://192.168.0.1/x",
        "http://127.0.0.1:3000/x",
        "http://example.com./x",
        "http://example.com/~user/a(1)*+,;=:@$!",
        "http://example.com/a%2fb",
        "http://example.com/a..b/c.",
        "http://example.com/.hidden/..x",
    ];

    #[cfg(feature = "pac")]
    fn assert_pac_agrees(u: &str) {
        let Some((target, script)) = fast_pac_url(u) else {
            return;
        };
        let parsed =
            Url::parse(u).unwrap_or_else(|e| panic!("{u}: fast path took an invalid URL ({e})"));
        assert_eq!(script, crate::pac::script_url(&parsed), "{u}");
        assert_eq!(target, Target::of(&parsed), "{u}");
    }

    #[cfg(feature = "pac")]
    #[test]
    fn pac_urls_agree_with_the_url_parser() {
        for u in PAC_URLS {
            assert_pac_agrees(u);
        }
        for u in [
            "http://example.com/a/b?c=d",
            "https://example.com:8443/x",
            "ws://example.com/chat?room=1",
        ] {
            assert!(fast_pac_url(u).is_some(), "{u} should take the fast path");
        }
        for u in [
            "http://example.com/a/../b",
            "http://example.com/a b",
            "http://example.com:80/x",
        ] {
            assert!(fast_pac_url(u).is_none(), "{u} should be parsed");
        }
        // The benchmark's 10,000 URLs, as a broad sample.
        let urls = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/bench/proxy/urls.txt");
        let urls = std::fs::read_to_string(urls).expect("the benchmark's URLs");
        let mut fast = 0;
        for u in urls.lines() {
            assert_pac_agrees(u);
            fast += usize::from(fast_pac_url(u).is_some());
        }
        assert!(fast > 5_000, "only {fast} of the URLs took the fast path");
    }
}
