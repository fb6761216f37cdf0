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
}
