//! The `Content-Disposition` header as Chromium reads it (RFC 6266 with the
//! leniencies browsers need): the file name it names, if any.

use base64::Engine as _;
use percent_encoding::percent_decode;
use unicode_normalization::UnicodeNormalization;

/// The file name a `Content-Disposition` header gives, decoded to Unicode,
/// or `None` when it gives none (no `filename`, a malformed header, a name
/// that does not decode).
///
/// `header` is the raw header value: bytes, since servers send Latin-1 and
/// UTF-8 alike. As in Chromium, a valid `filename*` (RFC 5987/8187) wins
/// over `filename`; `filename` is percent-decoded and RFC 2047-decoded word
/// by word, and one bad word drops it whole. A parameter without `=` ends
/// the parameter list. The name is not yet made safe for a file system:
/// [`generate_file_name`](crate::generate_file_name) does that.
///
/// ```
/// use sesh_downloads::content_disposition_filename;
///
/// let cd = b"attachment; filename=\"fallback.pdf\"; filename*=UTF-8''%E2%82%AC%20rates.pdf";
/// assert_eq!(content_disposition_filename(cd).as_deref(), Some("\u{20ac} rates.pdf"));
/// assert_eq!(content_disposition_filename(b"inline; attachment; filename=x"), None);
/// ```
pub fn content_disposition_filename(header: &[u8]) -> Option<String> {
    let params = skip_disposition_type(header);
    let mut filename = String::new();
    let mut ext_filename = String::new();
    for param in Params::new(params) {
        if filename.is_empty() && param.name.eq_ignore_ascii_case(b"filename") {
            filename = decode_filename_value(&param.value).unwrap_or_default();
        } else if ext_filename.is_empty() && param.name.eq_ignore_ascii_case(b"filename*") {
            ext_filename = decode_ext_value(param.raw).unwrap_or_default();
        }
    }
    if !ext_filename.is_empty() {
        Some(ext_filename)
    } else if !filename.is_empty() {
        Some(filename)
    } else {
        None
    }
}

fn is_lws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_lws(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s
        && is_lws(*first)
    {
        s = rest;
    }
    while let [rest @ .., last] = s
        && is_lws(*last)
    {
        s = rest;
    }
    s
}

/// RFC 7230's token.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b > 0x20 && b < 0x7f && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// The header after its disposition type; the whole header when it does
/// not start with a token (then its first bytes are read as a parameter).
fn skip_disposition_type(header: &[u8]) -> &[u8] {
    let end = header
        .iter()
        .position(|&b| b == b';')
        .unwrap_or(header.len());
    let head = &header[..end];
    let start = head.iter().position(|&b| !is_lws(b)).unwrap_or(head.len());
    let ty = trim_lws(head);
    if !is_token(ty) {
        return header;
    }
    &header[start + ty.len()..]
}

/// One `name=value` parameter.
struct Param<'a> {
    name: &'a [u8],
    /// The value as written (quotes included).
    raw: &'a [u8],
    /// The value with its quotes removed and quoted pairs unescaped.
    value: Vec<u8>,
}

/// Chromium's name-value iterator over `;`-separated parameters: quotes
/// protect `;`, empty items are skipped, and the first malformed item
/// (no name, no `=`, a quote before `=`, an empty value) ends it.
struct Params<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> Params<'a> {
    fn new(input: &'a [u8]) -> Self {
        Params {
            rest: input,
            done: false,
        }
    }

    /// The next non-empty `;`-separated item, quotes respected.
    fn next_item(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let mut in_quote = false;
            let mut escaped = false;
            let mut end = self.rest.len();
            for (i, &b) in self.rest.iter().enumerate() {
                if in_quote {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_quote = false;
                    }
                } else if b == b'"' {
                    in_quote = true;
                } else if b == b';' {
                    end = i;
                    break;
                }
            }
            let item = trim_lws(&self.rest[..end]);
            self.rest = self.rest.get(end + 1..).unwrap_or_default();
            if !item.is_empty() {
                return Some(item);
            }
        }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        if self.done {
            return None;
        }
        let item = self.next_item()?;
        let parsed = (|| {
            let eq = item.iter().position(|&b| b == b'=')?;
            if eq == 0 || item[..eq].contains(&b'"') {
                return None;
            }
            let name = trim_lws(&item[..eq]);
            let mut raw = trim_lws(&item[eq + 1..]);
            if raw.is_empty() {
                return None;
            }
            let value = if raw[0] == b'"' {
                if raw.len() == 1 || raw[raw.len() - 1] != b'"' {
                    // A quote that is never closed is dropped.
                    raw = &raw[1..];
                    raw.to_vec()
                } else {
                    unquote(raw)
                }
            } else {
                raw.to_vec()
            };
            Some(Param { name, raw, value })
        })();
        if parsed.is_none() {
            self.done = true;
        }
        parsed
    }
}

/// Strips the quotes of a quoted string and unescapes its quoted pairs.
fn unquote(quoted: &[u8]) -> Vec<u8> {
    let inner = &quoted[1..quoted.len() - 1];
    let mut out = Vec::with_capacity(inner.len());
    let mut escaped = false;
    for &b in inner {
        if b == b'\\' && !escaped {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(b);
    }
    out
}

/// A `filename` value: words separated by whitespace, each RFC 2047-encoded,
/// percent-encoded UTF-8, or raw UTF-8. `None` when a word does not decode.
fn decode_filename_value(input: &[u8]) -> Option<String> {
    let mut out = String::new();
    let mut previous_was_encoded_word = true;
    let mut word_start = None;
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    for i in 0..=input.len() {
        let at_space = i < input.len() && is_space(input[i]);
        if i == input.len() || at_space {
            if let Some(start) = word_start.take() {
                let (decoded, encoded) = decode_word(&input[start..i])?;
                out.push_str(&decoded);
                previous_was_encoded_word = encoded;
            }
            if at_space && !previous_was_encoded_word {
                // Whitespace between encoded words is dropped; elsewhere
                // each whitespace byte becomes a space.
                out.push(' ');
            }
        } else if word_start.is_none() {
            word_start = Some(i);
        }
    }
    Some(out)
}

/// One word of a `filename` value, and whether it was an RFC 2047 word.
fn decode_word(word: &[u8]) -> Option<(String, bool)> {
    if !word.is_ascii() {
        // Raw UTF-8 is kept. Other bytes would need the referrer's or the
        // system's charset, which a download does not have: the word is
        // empty, as Chromium's conversion gives in a UTF-8 locale.
        return Some((String::from_utf8(word.to_vec()).unwrap_or_default(), false));
    }
    match rfc2047(word) {
        Rfc2047::Decoded(text) => return Some((text, true)),
        Rfc2047::Malformed => return None,
        Rfc2047::NotEncoded => {}
    }
    let decoded: Vec<u8> = percent_decode(word).collect();
    String::from_utf8(decoded).ok().map(|s| (s, false))
}

/// What an ASCII word is, read as an RFC 2047 encoded word.
enum Rfc2047 {
    /// Not one: the word is percent-encoded text.
    NotEncoded,
    /// One that is broken: the whole name is dropped.
    Malformed,
    /// `=?charset?E?text?=`, decoded.
    Decoded(String),
}

/// Reads `=?charset?B|Q?text?=` the way Chromium tokenizes it: on `?`,
/// empty tokens skipped.
fn rfc2047(word: &[u8]) -> Rfc2047 {
    let mut charset: &[u8] = b"";
    let mut encoding = b'q';
    let mut decoded = String::new();
    let tokens = word.split(|&b| b == b'?').filter(|t| !t.is_empty());
    for (i, token) in tokens.enumerate() {
        match i {
            0 if token != b"=" => return Rfc2047::NotEncoded,
            0 => {}
            1 => charset = token,
            2 => {
                if token.len() > 1 || !b"bBqQ".contains(&token[0]) {
                    return Rfc2047::NotEncoded;
                }
                encoding = token[0].to_ascii_lowercase();
            }
            3 => {
                let bytes = if encoding == b'b' {
                    base64::engine::general_purpose::STANDARD.decode(token).ok()
                } else {
                    decode_q(token)
                };
                let Some(bytes) = bytes else {
                    return Rfc2047::Malformed;
                };
                if !bytes.is_empty() {
                    match decode_charset(&bytes, charset) {
                        Some(text) => decoded = text,
                        None => return Rfc2047::Malformed,
                    }
                }
            }
            4 if token == b"=" => {}
            _ => return Rfc2047::Malformed,
        }
    }
    if word.ends_with(b"=") {
        Rfc2047::Decoded(decoded)
    } else {
        Rfc2047::Malformed
    }
}

/// RFC 2047's "Q" encoding.
fn decode_q(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = text.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b if b > 0x20 && b < 0x7f && b != b'?' => out.push(b),
            _ => return None,
        }
        i += 1;
    }
    Some(out)
}

/// An RFC 5987 `filename*` value: `charset'lang'pct-encoded`, ASCII only,
/// NFC-normalised. `None` when malformed.
fn decode_ext_value(raw: &[u8]) -> Option<String> {
    if raw.contains(&b'"') {
        return None;
    }
    let mut delims = 0;
    let mut charset: &[u8] = b"";
    let mut value: &[u8] = b"";
    for (i, token) in raw.split(|&b| b == b'\'').enumerate() {
        if i > 0 {
            delims += 1;
        }
        if token.is_empty() {
            continue;
        }
        match delims {
            0 => charset = token,
            1 => {}
            2 => value = token,
            _ => return None,
        }
    }
    if delims != 2 || charset.is_empty() || value.is_empty() {
        return None;
    }
    if !value.is_ascii() {
        return Some(String::new());
    }
    let bytes: Vec<u8> = percent_decode(value).collect();
    Some(decode_charset(&bytes, charset)?.nfc().collect())
}

/// Decodes `bytes` in the charset labelled `label`; `None` for an unknown
/// charset or bytes that are not valid in it.
pub(crate) fn decode_charset(bytes: &[u8], label: &[u8]) -> Option<String> {
    let label = std::str::from_utf8(label).ok()?.trim();
    // ISO-8859-1 is Latin-1 here, as in ICU, not the web's windows-1252.
    let latin1 = [
        "iso-8859-1",
        "iso8859-1",
        "iso88591",
        "iso_8859-1",
        "iso_8859-1:1987",
        "latin1",
        "l1",
        "cp819",
        "ibm819",
        "csisolatin1",
    ];
    if latin1.iter().any(|l| l.eq_ignore_ascii_case(label)) {
        return Some(bytes.iter().map(|&b| char::from(b)).collect());
    }
    let encoding = encoding_rs::Encoding::for_label_no_replacement(label.as_bytes())?;
    encoding
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|s| s.into_owned())
}
