//! Fetching PAC scripts.

use url::Url;

/// Fetches a PAC script. sesh-core implements it with the session's
/// network service (without a proxy, as Chromium fetches PAC scripts);
/// [`LocalFetcher`] reads `file:` and `data:` URLs.
///
/// Called from a blocking context: implementations may block.
pub trait PacFetcher: Send + Sync {
    /// The script's text, or why it could not be had.
    fn fetch(&self, url: &Url) -> Result<String, String>;

    /// Whether `url` can be fetched now. A fetcher that is not ready yet
    /// (a session still being made) says no: the failure is expected and
    /// kept quietly, for a reload to retry, instead of being logged as a
    /// warning.
    fn ready_for(&self, url: &Url) -> bool {
        let _ = url;
        true
    }
}

/// Reads `file:` and `data:` URLs; refuses others (they need the network).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalFetcher;

impl PacFetcher for LocalFetcher {
    fn fetch(&self, url: &Url) -> Result<String, String> {
        match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| format!("{url} is not a local file path"))?;
                std::fs::read(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            }
            "data" => decode_data_url(url),
            other => Err(format!("fetching {other}: URLs needs a network fetcher")),
        }
    }
}

/// Decodes a `data:` URL's body (percent-encoded or base64).
fn decode_data_url(url: &Url) -> Result<String, String> {
    let rest = &url.as_str()["data:".len()..];
    let (meta, body) = rest
        .split_once(',')
        .ok_or_else(|| "a data: URL needs a ',' before its body".to_owned())?;
    let body = body.split('#').next().unwrap_or("");
    let bytes: Vec<u8> = percent_decode(body);
    let bytes = if meta.to_ascii_lowercase().ends_with(";base64") {
        base64_decode(&bytes).ok_or_else(|| "the data: URL's base64 body is invalid".to_owned())?
    } else {
        bytes
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b' ' | b'\t' | b'\n' | b'\r' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls() {
        let f = LocalFetcher;
        let plain = Url::parse("data:application/x-ns-proxy-autoconfig,function%20FindProxyForURL(u,h)%7Breturn%20%22DIRECT%22%7D").unwrap();
        assert_eq!(
            f.fetch(&plain).unwrap(),
            "function FindProxyForURL(u,h){return \"DIRECT\"}"
        );
        let b64 = Url::parse("data:text/plain;base64,aGVsbG8gd29ybGQ=").unwrap();
        assert_eq!(f.fetch(&b64).unwrap(), "hello world");
        assert!(
            f.fetch(&Url::parse("http://127.0.0.1/x.pac").unwrap())
                .is_err()
        );
    }
}
